/**
 * Role, user and account mappings: the shapes every mapping source (config file, DynamicFile,
 * aws-auth ConfigMap, IAMIdentityMapping objects) decodes into, the mapstructure-like decoder
 * (field names matched case-insensitively), and the Go tool's validation rules
 * (https://github.com/kubernetes-sigs/aws-iam-authenticator/blob/v0.7.18/pkg/config/mapper.go).
 *
 * @module
 */

import { arnLike, isPartitionId } from "../aws/mod.ts";

/** An AWS IAM Identity Center (SSO) permission set that stands for its generated roles. */
export interface SsoMapping {
  /** The permission set name, e.g. `ViewOnlyAccess`. */
  permissionSetName: string;
  /** The 12-digit account the permission set is provisioned into. */
  accountId: string;
  /** The partition; empty means `aws`. */
  partition: string;
}

/** One `mapRoles` entry: a role ARN (or an SSO permission set) and what it becomes. */
export interface RoleMapping {
  /** The role ARN as written (may be empty when `sso` is set). */
  roleArn: string;
  /** The SSO permission set, when the entry uses `sso:` instead of `rolearn:`. */
  sso?: SsoMapping;
  /** The Kubernetes username template. */
  username: string;
  /** The Kubernetes group templates. */
  groups: string[];
  /** The AWS unique ID of the role (DynamicFile strict mode only). */
  userId: string;
}

/** One `mapUsers` entry: an IAM user ARN and what it becomes. */
export interface UserMapping {
  /** The user ARN as written. */
  userArn: string;
  /** The Kubernetes username template. */
  username: string;
  /** The Kubernetes group templates. */
  groups: string[];
  /** The AWS unique ID of the user (DynamicFile strict mode only). */
  userId: string;
}

/** A decoding problem in one entry; `path` says where (e.g. `[2].groups`). */
export class MappingDecodeError extends Error {
  /** @param path where in the list the problem is; @param reason what is wrong */
  constructor(readonly path: string, reason: string) {
    super(path ? `${path}: ${reason}` : reason);
    this.name = "MappingDecodeError";
  }
}

/** Options of the decoder. */
export interface DecodeOptions {
  /**
   * Viper's mapstructure decoder is weakly typed (numbers become strings, a single string
   * becomes a one-element list); Go's `json.Unmarshal` (ConfigMap, DynamicFile) is not.
   */
  weak: boolean;
  /** Called for unknown field names and numbers coerced into strings. */
  warn?: (message: string) => void;
}

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "list";
  return typeof v;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Map);
}

/** Plain objects and the `Map`s some YAML loaders produce, as one record. */
function asRecord(v: unknown): Record<string, unknown> | undefined {
  if (v instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, val] of v) out[String(k)] = val;
    return out;
  }
  return isRecord(v) ? v : undefined;
}

/** `path` + `field` is only joined when there is something to report (reloads decode 20k entries). */
function decodeString(v: unknown, path: string, field: string, opts: DecodeOptions): string {
  if (typeof v === "string") return v;
  if (v === undefined || v === null) return "";
  path += field;
  if (opts.weak && (typeof v === "number" || typeof v === "bigint")) {
    const s = String(v);
    opts.warn?.(
      `${path}: the number ${s} was read as a string; quote it (an account ID loses its leading zeros when unquoted)`,
    );
    return s;
  }
  if (opts.weak && typeof v === "boolean") return v ? "1" : "0";
  throw new MappingDecodeError(path, `expected a string, got ${typeName(v)}`);
}

function decodeStringList(v: unknown, path: string, field: string, opts: DecodeOptions): string[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v) && v.every((item) => typeof item === "string")) return v as string[];
  path += field;
  if (!Array.isArray(v)) {
    if (opts.weak && typeof v === "string") return [v];
    throw new MappingDecodeError(path, `expected a list of strings, got ${typeName(v)}`);
  }
  return v.map((item, i) => decodeString(item, path, `[${i}]`, opts));
}

/** Lower-cased field name → value, so `rolearn`, `roleARN` and `RoleArn` are one field. */
function foldFields(
  rec: Record<string, unknown>,
  known: readonly string[],
  path: string,
  opts: DecodeOptions,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k in rec) {
    if (!Object.hasOwn(rec, k)) continue;
    const lower = k.toLowerCase();
    if (!known.includes(lower)) {
      opts.warn?.(`${path}: unknown field "${k}" is ignored`);
      continue;
    }
    // Go's decoders let the last spelling win when a field appears twice in different cases.
    out[lower] = rec[k];
  }
  return out;
}

const ROLE_FIELDS = ["rolearn", "sso", "username", "groups", "userid"] as const;
const USER_FIELDS = ["userarn", "username", "groups", "userid"] as const;
const SSO_FIELDS = ["permissionsetname", "accountid", "partition"] as const;

/** Decode one role mapping entry. */
export function decodeRoleMapping(v: unknown, path: string, opts: DecodeOptions): RoleMapping {
  const rec = asRecord(v);
  if (!rec) throw new MappingDecodeError(path, `expected a mapping, got ${typeName(v)}`);
  const f = foldFields(rec, ROLE_FIELDS, path, opts);
  const out: RoleMapping = {
    roleArn: decodeString(f.rolearn, path, ".rolearn", opts),
    username: decodeString(f.username, path, ".username", opts),
    groups: decodeStringList(f.groups, path, ".groups", opts),
    userId: decodeString(f.userid, path, ".userid", opts),
  };
  const sso = f.sso;
  if (sso !== undefined && sso !== null) {
    const srec = asRecord(sso);
    if (!srec) {
      throw new MappingDecodeError(`${path}.sso`, `expected a mapping, got ${typeName(sso)}`);
    }
    const sf = foldFields(srec, SSO_FIELDS, `${path}.sso`, opts);
    out.sso = {
      permissionSetName: decodeString(sf.permissionsetname, path, ".sso.permissionSetName", opts),
      accountId: decodeString(sf.accountid, path, ".sso.accountID", opts),
      partition: decodeString(sf.partition, path, ".sso.partition", opts),
    };
  }
  return out;
}

/** Decode one user mapping entry. */
export function decodeUserMapping(v: unknown, path: string, opts: DecodeOptions): UserMapping {
  const rec = asRecord(v);
  if (!rec) throw new MappingDecodeError(path, `expected a mapping, got ${typeName(v)}`);
  const f = foldFields(rec, USER_FIELDS, path, opts);
  return {
    userArn: decodeString(f.userarn, path, ".userarn", opts),
    username: decodeString(f.username, path, ".username", opts),
    groups: decodeStringList(f.groups, path, ".groups", opts),
    userId: decodeString(f.userid, path, ".userid", opts),
  };
}

/**
 * Decode a list of mappings. `null`/absent is the empty list; anything that is not a list
 * throws. Entries that fail to decode are reported through `onEntryError` and left out, so a
 * caller can keep the good ones (ConfigMap) or give up (config file).
 */
export function decodeList<T>(
  v: unknown,
  decodeEntry: (v: unknown, path: string, opts: DecodeOptions) => T,
  opts: DecodeOptions,
  onEntryError: (index: number, err: MappingDecodeError) => void,
): { index: number; value: T }[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    throw new MappingDecodeError("", `expected a list, got ${typeName(v)}`);
  }
  const out: { index: number; value: T }[] = [];
  v.forEach((item, index) => {
    try {
      out.push({ index, value: decodeEntry(item, `[${index}]`, opts) });
    } catch (e) {
      if (!(e instanceof MappingDecodeError)) throw e;
      onEntryError(index, e);
    }
  });
  return out;
}

/** Decode `mapAccounts`: a list of account IDs (numbers are coerced, with a warning). */
export function decodeAccounts(v: unknown, opts: DecodeOptions): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    if (opts.weak && typeof v === "string") return v.split(/\s+/).filter((s) => s !== "");
    throw new MappingDecodeError("", `expected a list of account IDs, got ${typeName(v)}`);
  }
  // Account IDs are matched as text, so numbers are always accepted here (with a warning),
  // as both of the Go tool's decoders do.
  return v.map((item, i) => decodeString(item, "", `[${i}]`, { ...opts, weak: true }));
}

const ACCOUNT_ID = /^[0-9]{12}$/;
const PERMISSION_SET_NAME = /^[\w+=,.@-]{1,32}$/;

/**
 * The lower-cased `ArnLike` pattern an SSO mapping stands for:
 * `arn:<partition>:iam::<account>:role/awsreservedsso_<permissionset>_*`. Unlike the Go tool,
 * an explicit partition is honoured (port decision 5); an empty one means `aws`.
 */
export function ssoArnLike(sso: SsoMapping): string {
  const partition = sso.partition === "" ? "aws" : sso.partition;
  return `arn:${partition}:iam::${sso.accountId}:role/AWSReservedSSO_${sso.permissionSetName}_*`
    .toLowerCase();
}

/** The Go tool's `RoleMapping.Validate` (pkg/config/mapper.go), with its messages. */
export function validateRoleMapping(m: RoleMapping): void {
  if (m.roleArn === "" && m.sso === undefined) {
    throw new Error("one of rolearn or SSO must be supplied");
  }
  if (m.roleArn !== "" && m.sso !== undefined) {
    throw new Error("only one of rolearn or SSO can be supplied");
  }
  if (m.sso !== undefined) {
    const { accountId, permissionSetName, partition } = m.sso;
    if (!ACCOUNT_ID.test(accountId)) {
      throw new Error(`AccountID '${accountId}' is not a valid AWS Account ID`);
    }
    if (!PERMISSION_SET_NAME.test(permissionSetName)) {
      throw new Error(
        `PermissionSetName '${permissionSetName}' is not a valid AWS SSO PermissionSet Name`,
      );
    }
    if (partition !== "" && !isPartitionId(partition)) {
      throw new Error(`partition '${partition}' is not a valid AWS partition`);
    }
    const pattern = ssoArnLike(m.sso);
    let ok: boolean;
    try {
      ok = arnLike(pattern, "arn:*:iam:*:*:role/*");
    } catch (e) {
      throw new Error(`SSOArnLike '${pattern}' is not valid: ${(e as Error).message}`);
    }
    if (!ok) {
      throw new Error(`SSOArnLike '${pattern}' did not match an ARN for a canonicalized IAM Role`);
    }
  }
}

/** The Go tool's `UserMapping.Validate` (pkg/config/mapper.go), with its message. */
export function validateUserMapping(m: UserMapping): void {
  if (m.userArn === "") throw new Error("value for userarn must be supplied");
}
