/**
 * `add user` / `add role`: appends an IAM user or role (or, unlike the Go tool, an SSO
 * permission set: port decision 6) to the EKS-style `kube-system/aws-auth` ConfigMap
 * (docs/commands.md#init-and-add), through `@kubernetes/client-node`.
 *
 * @module
 */

import {
  type CliDeps,
  type CommandContext,
  type CommandDef,
  defaultDeps,
  type FlagDef,
  helpText,
  runCommand,
} from "./cli_flags.ts";
import {
  type RoleMapping,
  ssoArnLike,
  type SsoMapping,
  type UserMapping,
  validateRoleMapping,
  validateUserMapping,
} from "../config/mod.ts";

const ADD_FLAGS: FlagDef[] = [
  { name: "prompt", type: "bool", default: true, usage: "ask for confirmation" },
  { name: "master-url", type: "string", usage: "kube-apiserver URL" },
  {
    name: "kubeconfig",
    type: "string",
    usage: "kubeconfig path (if empty, it loads the default config)",
  },
  { name: "kubeconfig-context", type: "string", usage: "kubeconfig context" },
];

const ADD_COMMAND: CommandDef = {
  name: "add",
  short: "add IAM entity to an existing aws-auth configmap",
  flags: ADD_FLAGS,
  subcommands: [
    { name: "role", short: "add a role entity to an existing aws-auth configmap" },
    {
      name: "user",
      short: "add a user entity to an existing aws-auth configmap, not for CRD/file backends",
    },
  ],
};

/** The `add user` command description. */
export const ADD_USER_COMMAND: CommandDef = {
  name: "add user",
  short: "add a user entity to an existing aws-auth configmap, not for CRD/file backends",
  flags: [
    { name: "userarn", type: "string", usage: "user ARN" },
    { name: "username", type: "string", usage: "user name" },
    { name: "groups", type: "stringSlice", usage: "groups" },
    ...ADD_FLAGS,
  ],
};

/** The `add role` command description. */
export const ADD_ROLE_COMMAND: CommandDef = {
  name: "add role",
  short: "add a role entity to an existing aws-auth configmap",
  flags: [
    { name: "rolearn", type: "string", usage: "role ARN" },
    {
      name: "sso",
      type: "stringToString",
      usage: "SSO permission set: permissionSetName=NAME,accountID=123456789012[,partition=aws]",
    },
    { name: "username", type: "string", usage: "user name" },
    { name: "groups", type: "stringSlice", usage: "groups" },
    ...ADD_FLAGS,
  ],
};

// ---------------------------------------------------------------------------------------------
// aws-auth encoding (the Go tool's EncodeMap in pkg/mapper/configmap/configmap.go, yaml.v2)

/** Values YAML 1.1 (what yaml.v2 resolves with) would read as something other than a string. */
function resolvesToNonString(s: string): boolean {
  if (s === "" || s === "~" || /^(null|Null|NULL)$/.test(s)) return true;
  if (
    /^(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/.test(s)
  ) {
    return true;
  }
  if (/^[-+]?(0b[01_]+|0[0-7_]+|0x[0-9a-fA-F_]+|(0|[1-9][0-9_]*))$/.test(s)) return true;
  // yaml.v2 falls back to ParseFloat, so any run of digits (even 012345678912) is a number.
  if (/^[-+]?[0-9]+$/.test(s)) return true;
  if (/^[-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+]?[0-9]+)?$/.test(s) && /[0-9]/.test(s)) return true;
  if (/^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$/.test(s)) return true;
  if (/^[-+]?\.(inf|Inf|INF)$/.test(s) || /^\.(nan|NaN|NAN)$/.test(s)) return true;
  // Sexagesimal numbers (`1:20`), which yaml.v2 quotes as well.
  if (/^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?$/.test(s)) return true;
  // Timestamps.
  if (/^\d{4}-\d{1,2}-\d{1,2}([Tt ]|$)/.test(s)) return true;
  return false;
}

/** Whether the yaml.v2 emitter can write `s` as a plain scalar in block context. */
function plainAllowed(s: string): boolean {
  if (s === "" || /^\s|\s$/.test(s)) return false;
  if (/^[-?:,\[\]{}#&*!|>'"%@`]/.test(s) && !/^[-?:][^\s]/.test(s)) return false;
  if (/^[,\[\]{}#&*!|>'"%@`]/.test(s)) return false;
  if (/: |:$| #|[\n\r\t]/.test(s)) return false;
  if (/^(---|\.\.\.)/.test(s)) return false;
  // Non-printable or non-ASCII characters are written quoted.
  return /^[\x20-\x7e]*$/.test(s);
}

/** A string scalar as yaml.v2 writes it: plain, else "double" if it looks typed, else 'single'. */
export function yamlV2String(s: string): string {
  if (resolvesToNonString(s)) return JSON.stringify(s);
  if (plainAllowed(s)) return s;
  if (/^[\x20-\x7e]*$/.test(s)) return `'${s.replaceAll("'", "''")}'`;
  return JSON.stringify(s);
}

function listLines(key: string, items: readonly string[], indent: string): string[] {
  if (items.length === 0) return [`${indent}${key}: []`];
  return [`${indent}${key}:`, ...items.map((g) => `${indent}- ${yamlV2String(g)}`)];
}

function entryText(fields: string[]): string {
  return fields.map((line, i) => (i === 0 ? `- ${line}` : `  ${line}`)).join("\n") + "\n";
}

function encodeRole(r: RoleMapping): string {
  const lines: string[] = [];
  if (r.roleArn !== "") lines.push(`rolearn: ${yamlV2String(r.roleArn)}`);
  if (r.sso !== undefined) {
    lines.push("sso:");
    lines.push(`  permissionSetName: ${yamlV2String(r.sso.permissionSetName)}`);
    lines.push(`  accountID: ${yamlV2String(r.sso.accountId)}`);
    if (r.sso.partition !== "") lines.push(`  partition: ${yamlV2String(r.sso.partition)}`);
  }
  lines.push(`username: ${yamlV2String(r.username)}`);
  lines.push(...listLines("groups", r.groups, ""));
  if (r.userId !== "") lines.push(`userid: ${yamlV2String(r.userId)}`);
  return entryText(lines);
}

function encodeUser(u: UserMapping): string {
  const lines = [`userarn: ${yamlV2String(u.userArn)}`, `username: ${yamlV2String(u.username)}`];
  lines.push(...listLines("groups", u.groups, ""));
  if (u.userId !== "") lines.push(`userid: ${yamlV2String(u.userId)}`);
  return entryText(lines);
}

/**
 * The Go tool's `EncodeMap`
 * (https://github.com/kubernetes-sigs/aws-iam-authenticator/blob/v0.7.18/pkg/mapper/configmap/configmap.go):
 * the `data` of an aws-auth ConfigMap for the given entries, laid out as the Go tool's yaml.v2
 * writes it. Empty lists leave their key out.
 */
export function encodeAwsAuth(
  roles: readonly RoleMapping[],
  users: readonly UserMapping[],
  accounts: readonly string[],
): Record<string, string> {
  const data: Record<string, string> = {};
  if (roles.length > 0) data.mapRoles = roles.map(encodeRole).join("");
  if (users.length > 0) data.mapUsers = users.map(encodeUser).join("");
  if (accounts.length > 0) {
    data.mapAccounts = accounts.map((a) => `- ${yamlV2String(a)}\n`).join("");
  }
  return data;
}

// ---------------------------------------------------------------------------------------------
// The commands

/** What `add` needs beyond the common CLI effects: a line from stdin for the prompt. */
export interface AddDeps extends CliDeps {
  /** Reads one line from stdin; null at end of input. */
  readLine: () => Promise<string | null>;
}

async function readStdinLine(): Promise<string | null> {
  const buf = new Uint8Array(1);
  const bytes: number[] = [];
  while (true) {
    const n = await Deno.stdin.read(buf);
    if (n === null) {
      return bytes.length > 0 ? new TextDecoder().decode(new Uint8Array(bytes)) : null;
    }
    if (buf[0] === 0x0a) return new TextDecoder().decode(new Uint8Array(bytes));
    bytes.push(buf[0]!);
  }
}

/** The real process, with stdin for the prompt. */
export function defaultAddDeps(): AddDeps {
  return { ...defaultDeps(), readLine: readStdinLine };
}

class AddError extends Error {}

type NewEntry =
  | { kind: "user"; user: UserMapping; action: string }
  | { kind: "role"; role: RoleMapping; action: string };

function goQuotedList(items: readonly string[]): string {
  return `[${items.map((g) => JSON.stringify(g)).join(" ")}]`;
}

function userEntry(ctx: CommandContext): NewEntry {
  const userArn = ctx.flags.values.get("userarn") as string;
  const username = ctx.flags.values.get("username") as string;
  const groups = ctx.flags.values.get("groups") as string[];
  if (userArn === "" || username === "" || groups.length === 0) {
    throw new AddError(
      `invalid empty value in userARN ${JSON.stringify(userArn)}, username ${
        JSON.stringify(username)
      }, groups ${goQuotedList(groups)}`,
    );
  }
  return {
    kind: "user",
    user: { userArn, username, groups: [...groups], userId: "" },
    action: `add userarn ${userArn}, username ${username}, groups [${groups.join(" ")}]`,
  };
}

function roleEntry(ctx: CommandContext): NewEntry {
  const roleArn = ctx.flags.values.get("rolearn") as string;
  const ssoFlag = ctx.flags.values.get("sso") as Record<string, string>;
  const username = ctx.flags.values.get("username") as string;
  const groups = ctx.flags.values.get("groups") as string[];
  const hasSso = Object.keys(ssoFlag).length > 0;
  if (roleArn !== "" && hasSso) {
    throw new AddError("only one of --rolearn or --sso can be supplied");
  }
  if ((roleArn === "" && !hasSso) || username === "" || groups.length === 0) {
    throw new AddError(
      `invalid empty value in rolearn ${JSON.stringify(roleArn)}, username ${
        JSON.stringify(username)
      }, groups ${goQuotedList(groups)}`,
    );
  }
  let sso: SsoMapping | undefined;
  if (hasSso) {
    for (const key of ["permissionSetName", "accountID"]) {
      if (!(key in ssoFlag)) throw new AddError(`required key '${key}' missing from --sso flag`);
    }
    const unknown = Object.keys(ssoFlag).filter((k) =>
      !["permissionSetName", "accountID", "partition"].includes(k)
    );
    if (unknown.length > 0) {
      throw new AddError(
        `error validating --sso: unknown key '${
          unknown[0]
        }'; valid keys are permissionSetName, accountID, partition`,
      );
    }
    // An omitted partition stays omitted: Go servers only match SSO entries without one.
    sso = {
      permissionSetName: ssoFlag.permissionSetName!,
      accountId: ssoFlag.accountID!,
      partition: ssoFlag.partition ?? "",
    };
  }
  const role: RoleMapping = { roleArn, sso, username, groups: [...groups], userId: "" };
  if (sso !== undefined) {
    try {
      // Validated here so the message names the flag, as the Go tool's does.
      validateRoleMapping(role);
    } catch (err) {
      throw new AddError(`error validating --sso: ${(err as Error).message}`);
    }
  }
  const what = sso === undefined
    ? `rolearn ${roleArn}`
    : `sso permissionSetName=${sso.permissionSetName},accountID=${sso.accountId}${
      sso.partition ? `,partition=${sso.partition}` : ""
    }`;
  return {
    kind: "role",
    role,
    action: `add ${what}, username ${username}, groups [${groups.join(" ")}]`,
  };
}

async function kubeClient(ctx: CommandContext) {
  const k8s = await import("@kubernetes/client-node");
  const kc = new k8s.KubeConfig();
  const path = ctx.flags.values.get("kubeconfig") as string;
  try {
    if (path !== "") kc.loadFromFile(path);
    else kc.loadFromDefault();
  } catch (err) {
    throw new AddError(
      `could not load kubeconfig ${path || "(default)"}: ${(err as Error).message}`,
    );
  }
  const context = ctx.flags.values.get("kubeconfig-context") as string;
  if (context !== "") {
    if (kc.getContextObject(context) === null) {
      throw new AddError(`context "${context}" does not exist in the kubeconfig`);
    }
    kc.setCurrentContext(context);
  }
  const master = ctx.flags.values.get("master-url") as string;
  if (master !== "") {
    const current = kc.getCurrentCluster();
    kc.loadFromOptions({
      clusters: current === null
        ? [...kc.clusters, { name: "master", server: master, skipTLSVerify: false }]
        : kc.clusters.map((c) => (c.name === current.name ? { ...c, server: master } : c)),
      users: kc.users,
      contexts: kc.contexts,
      currentContext: kc.currentContext,
    });
  }
  if (kc.getCurrentCluster() === null) {
    throw new AddError("the kubeconfig names no cluster; pass --kubeconfig or --master-url");
  }
  return { api: kc.makeApiClient(k8s.CoreV1Api), k8s };
}

function sortKeysDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeysDeep);
  if (v instanceof Date) return v.toISOString().replace(/\.\d{3}Z$/, "Z");
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const value = (v as Record<string, unknown>)[k];
      if (value !== undefined) out[k] = sortKeysDeep(value);
    }
    return out;
  }
  return v;
}

async function addEntry(ctx: CommandContext, deps: AddDeps, entry: NewEntry): Promise<number> {
  const { api } = await kubeClient(ctx);
  if (ctx.flags.values.get("prompt") === true) {
    deps.stderr(`Ready to ${JSON.stringify(entry.action)}, should we continue? [y/N]: `);
    const answer = ((await deps.readLine()) ?? "").trim().toLowerCase();
    if (answer !== "y" && answer !== "yes") {
      ctx.stdout(`cancelled ${JSON.stringify(entry.action)}\n`);
      return 0;
    }
  }
  const { parseAwsAuth } = await import("../map/mod.ts");
  if (entry.kind === "user") {
    try {
      validateUserMapping(entry.user);
    } catch (err) {
      throw new AddError(`user is invalid: ${(err as Error).message}`);
    }
  } else {
    try {
      validateRoleMapping(entry.role);
    } catch (err) {
      throw new AddError(`role is invalid: ${(err as Error).message}`);
    }
  }
  const roleKey = (r: RoleMapping) =>
    r.sso !== undefined && r.roleArn === "" ? ssoArnLike(r.sso) : r.roleArn.toLowerCase();

  for (let attempt = 1;; attempt++) {
    let cm;
    try {
      cm = await api.readNamespacedConfigMap({ name: "aws-auth", namespace: "kube-system" });
    } catch (err) {
      throw new AddError(`failed to get configmap kube-system/aws-auth: ${apiMessage(err)}`);
    }
    const parsed = parseAwsAuth(cm.data ?? {});
    if (parsed.problems.length > 0) {
      throw new AddError(
        `failed to parse configmap kube-system/aws-auth: [${
          parsed.problems.map((p) => `${p.location}: ${p.message}`).join(", ")
        }]`,
      );
    }
    const roles = (parsed.roles ?? []).map((l) => l.value);
    const users = (parsed.users ?? []).map((l) => l.value);
    const accounts = parsed.accounts ?? [];
    if (entry.kind === "role") {
      const key = roleKey(entry.role);
      if (roles.some((r) => roleKey(r) === key)) {
        throw new AddError(`cannot add duplicate role ARN ${JSON.stringify(key)}`);
      }
      roles.push(entry.role);
    } else {
      const key = entry.user.userArn;
      if (users.some((u) => u.userArn === key)) {
        throw new AddError(`cannot add duplicate user ARN ${JSON.stringify(key)}`);
      }
      users.push(entry.user);
    }
    cm.data = encodeAwsAuth(roles, users, accounts);
    try {
      const updated = await api.replaceNamespacedConfigMap({
        name: "aws-auth",
        namespace: "kube-system",
        body: cm,
      });
      const { stringify } = await import("yaml");
      ctx.stdout(`updated configmap:\n\n${stringify(sortKeysDeep(updated))}\n`);
      return 0;
    } catch (err) {
      // Someone else changed the ConfigMap between our read and write: read again (client-go's
      // default retry: 5 tries, 10 ms apart).
      if (apiCode(err) === 409 && attempt < 5) {
        await new Promise((r) => setTimeout(r, 10));
        continue;
      }
      throw new AddError(`failed to update configmap kube-system/aws-auth: ${apiMessage(err)}`);
    }
  }
}

function apiCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown })?.code;
  return typeof code === "number" ? code : undefined;
}

function apiMessage(err: unknown): string {
  const body = (err as { body?: unknown })?.body;
  if (typeof body === "string") {
    try {
      const status = JSON.parse(body);
      if (typeof status?.message === "string") return status.message;
    } catch {
      // not a Status object
    }
  }
  return (err as Error)?.message ?? String(err);
}

async function runEntry(
  def: CommandDef,
  argv: string[],
  deps: AddDeps,
  build: (ctx: CommandContext) => NewEntry,
): Promise<number> {
  return await runCommand(def, argv, async (ctx) => {
    try {
      return await addEntry(ctx, deps, build(ctx));
    } catch (err) {
      if (err instanceof AddError) {
        // The Go command prints these with fmt.Printf, i.e. on stdout.
        ctx.stdout(`${err.message}\n`);
        return 1;
      }
      throw err;
    }
  }, deps);
}

/** Runs `add ...` with injected process effects (tests use this). */
export async function runAdd(argv: string[], deps: AddDeps): Promise<number> {
  const sub = argv.findIndex((a) => !a.startsWith("-"));
  const word = sub >= 0 ? argv[sub] : undefined;
  const rest = sub >= 0 ? [...argv.slice(0, sub), ...argv.slice(sub + 1)] : argv;
  if (word === "user") return await runEntry(ADD_USER_COMMAND, rest, deps, userEntry);
  if (word === "role") return await runEntry(ADD_ROLE_COMMAND, rest, deps, roleEntry);
  if (word !== undefined && word !== "help") {
    deps.stderr(
      `Error: unknown command "${word}" for "aws-iam-authenticator add"\nRun 'aws-iam-authenticator add --help' for usage.\n`,
    );
    return 1;
  }
  deps.stdout(helpText(ADD_COMMAND));
  return 0;
}

/** Runs `add` with the given arguments and returns the exit code. */
export function main(argv: string[]): Promise<number> {
  return runAdd(argv, defaultAddDeps());
}
