/**
 * Role, user and account mappings: the shapes every mapping source (config file, DynamicFile,
 * aws-auth ConfigMap, IAMIdentityMapping objects) decodes into, the mapstructure-like decoder
 * (field names matched case-insensitively), and the Go tool's validation rules
 * (https://github.com/kubernetes-sigs/aws-iam-authenticator/blob/v0.7.18/pkg/config/mapper.go).
 *
 * @module
 */

import { arnLike, isPartitionId } from "../aws/mod.ts";
import { closestKey, RuleError, type RuleId } from "./rules.ts";

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
  /**
   * @param path where in the list the problem is
   * @param reason what is wrong
   * @param rule the rule it breaks (a value of the wrong type, unless said otherwise)
   */
  constructor(readonly path: string, reason: string, readonly rule: RuleId = "entry.type") {
    super(path ? `${path}: ${reason}` : reason);
    this.name = "MappingDecodeError";
  }
}

/** Where a decoder warning is: the path in the list (`[2].sso`) and the key as written. */
export interface DecodeAt {
  /** `[index]` then `.field` parts, as in the messages. */
  path: string;
  /** The key the warning is about, as written (unknown fields). */
  key?: string;
  /** The key's value when it is an ARN written under the other section's key (`rolearn` in a user entry). */
  value?: string;
}

/** Options of the decoder. */
export interface DecodeOptions {
  /**
   * Viper's mapstructure decoder is weakly typed (numbers become strings, a single string
   * becomes a one-element list); Go's `json.Unmarshal` (ConfigMap, DynamicFile) is not.
   */
  weak: boolean;
  /** Called for unknown field names and numbers coerced into strings, with the rule and where. */
  warn?: (message: string, rule: RuleId, at: DecodeAt) => void;
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
  // decodeAccounts passes an empty path; an SSO block names its accountID field.
  const account = path === "" || /accountid$/i.test(field);
  path += field;
  if (opts.weak && (typeof v === "number" || typeof v === "bigint")) {
    const s = String(v);
    opts.warn?.(
      `${path}: the number ${s} was read as a string; quote it (an account ID loses its leading zeros when unquoted)`,
      account ? "account.unquoted" : "entry.type",
      { path },
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

/** Keys that belong to the other section: `rolearn` in a user entry, `userarn` in a role entry. */
const OTHER_SECTION: Readonly<Record<string, string>> = {
  rolearn: "mapRoles",
  userarn: "mapUsers",
};

/** Lower-cased field name -> value, so `rolearn`, `roleARN` and `RoleArn` are one field. */
function foldFields(
  rec: Record<string, unknown>,
  known: readonly string[],
  path: string,
  opts: DecodeOptions,
  names: readonly string[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k in rec) {
    if (!Object.hasOwn(rec, k)) continue;
    const lower = k.toLowerCase();
    if (!known.includes(lower)) {
      const section = OTHER_SECTION[lower];
      if (section !== undefined && opts.warn !== undefined) {
        opts.warn(
          `${path}: key "${k}" belongs in ${section} entries and is ignored here`,
          "key.wrong_section",
          { path, key: k, value: typeof rec[k] === "string" ? rec[k] as string : undefined },
        );
      } else if (opts.warn !== undefined) {
        const near = closestKey(k, names);
        opts.warn(
          `${path}: unknown field "${k}" is ignored${near ? `; did you mean "${near}"?` : ""}`,
          "key.unknown",
          { path, key: k },
        );
      }
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
/** The fields as documented, for suggestions. */
const ROLE_NAMES = ["rolearn", "sso", "username", "groups", "userid"] as const;
const USER_NAMES = ["userarn", "username", "groups", "userid"] as const;
const SSO_NAMES = ["permissionSetName", "accountID", "partition"] as const;

/** Decode one role mapping entry. */
export function decodeRoleMapping(v: unknown, path: string, opts: DecodeOptions): RoleMapping {
  const rec = asRecord(v);
  if (!rec) throw new MappingDecodeError(path, `expected a mapping, got ${typeName(v)}`);
  const f = foldFields(rec, ROLE_FIELDS, path, opts, ROLE_NAMES);
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
    const sf = foldFields(srec, SSO_FIELDS, `${path}.sso`, opts, SSO_NAMES);
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
  const f = foldFields(rec, USER_FIELDS, path, opts, USER_NAMES);
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

/**
 * The Go tool's `RoleMapping.Validate` (pkg/config/mapper.go), with the Go tool's messages.
 *
 * @throws {RuleError} naming the rule the entry breaks.
 */
export function validateRoleMapping(m: RoleMapping): void {
  if (m.roleArn === "" && m.sso === undefined) {
    throw new RuleError("entry.missing_arn", "one of rolearn or SSO must be supplied");
  }
  if (m.roleArn !== "" && m.sso !== undefined) {
    throw new RuleError("entry.arn_and_sso", "only one of rolearn or SSO can be supplied");
  }
  if (m.sso !== undefined) {
    const { accountId, permissionSetName, partition } = m.sso;
    if (!ACCOUNT_ID.test(accountId)) {
      throw new RuleError(
        "account.malformed",
        `AccountID '${accountId}' is not a valid AWS Account ID`,
      );
    }
    if (!PERMISSION_SET_NAME.test(permissionSetName)) {
      throw new RuleError(
        "entry.sso_invalid",
        `PermissionSetName '${permissionSetName}' is not a valid AWS SSO PermissionSet Name`,
      );
    }
    if (partition !== "" && !isPartitionId(partition)) {
      throw new RuleError(
        "entry.sso_invalid",
        `partition '${partition}' is not a valid AWS partition`,
      );
    }
    const pattern = ssoArnLike(m.sso);
    let ok: boolean;
    try {
      ok = arnLike(pattern, "arn:*:iam:*:*:role/*");
    } catch (e) {
      throw new RuleError(
        "entry.sso_invalid",
        `SSOArnLike '${pattern}' is not valid: ${(e as Error).message}`,
      );
    }
    if (!ok) {
      throw new RuleError(
        "entry.sso_invalid",
        `SSOArnLike '${pattern}' did not match an ARN for a canonicalized IAM Role`,
      );
    }
  }
}

/**
 * The Go tool's `UserMapping.Validate` (pkg/config/mapper.go), with the Go tool's message.
 *
 * @throws {RuleError} when the user ARN is missing.
 */
export function validateUserMapping(m: UserMapping): void {
  if (m.userArn === "") {
    throw new RuleError("entry.missing_arn", "value for userarn must be supplied");
  }
}
