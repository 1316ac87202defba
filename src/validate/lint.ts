/**
 * The checks of `validate` over the mapping sources: first what the server itself decides
 * (`MappingStore.build`: invalid entries, duplicates), then what only a linter checks (ARNs in
 * the wrong section, assumed-role ARNs, templates, reserved and `system:` names, shadowed
 * entries, grants of `system:masters`), and with `compat: "go"` where the Go tool (v0.7.18)
 * would decide differently. ARNs are read with the server's own `canonicalizeArn` and `arnKey`.
 *
 * @module
 */

import { canonicalizeArn } from "../aws/mod.ts";
import {
  type BackendMode,
  canonicalBackendMode,
  closestKey,
  type RoleMapping,
  type RuleId,
  ssoArnLike,
  type UserMapping,
} from "../config/mod.ts";
import {
  arnKey,
  crdRoleEntries,
  type Located,
  MappingStore,
  type Problem,
  ssoPrefix,
  ssoSuffixMatches,
} from "../map/mod.ts";
import { type Finding, finding } from "./finding.ts";
import type { FilePos } from "./positions.ts";
import { where } from "./report.ts";
import {
  accountsOf,
  allSources,
  indexOf,
  type MappingSource,
  type MappingSources,
  roleEntries,
  userEntries,
} from "./sources.ts";

/** Options of {@link lint}. */
export interface LintOptions {
  /** `"go"`: also report entries the Go tool (v0.7.18) would treat differently. */
  compat?: "go";
}

/** The placeholders the server renders (case-sensitive), as src/map/template.ts knows them. */
const PLACEHOLDERS = [
  "EC2PrivateDNSName",
  "AccountID",
  "SessionNameRaw",
  "SessionName",
  "AccessKeyID",
] as const;
const SESSION_PLACEHOLDERS = new Set(["EC2PrivateDNSName", "SessionNameRaw", "SessionName"]);
const USUAL_SYSTEM_GROUPS = new Set(["system:masters", "system:nodes", "system:bootstrappers"]);
const ACCOUNT_ID = /^[0-9]{12}$/;

/** One role or user entry with its positions. */
interface Item {
  source: MappingSource;
  backend: BackendMode;
  kind: "role" | "user";
  arn: string;
  value: RoleMapping | UserMapping;
  /** Where the entry is (looked up when read). */
  readonly at: FilePos;
  /** Where one of its keys is (`rolearn`, `username`, `groups`, …). */
  field(key: string): FilePos;
}

/** The lookup key of an ARN, or undefined when it does not parse. */
function keyOf(arn: string): string | undefined {
  try {
    return arnKey(arn);
  } catch {
    return undefined;
  }
}

function typeOf(arn: string): ReturnType<typeof canonicalizeArn>["type"] | undefined {
  try {
    return canonicalizeArn(arn).type;
  } catch {
    return undefined;
  }
}

/** The file position of a problem the server's parsers or store reported. */
function problemPos(source: MappingSource, p: Problem): FilePos {
  if (p.line === undefined || p.line === 0) return { file: p.location, line: 0, column: 0 };
  return { file: source.file, line: p.line, column: p.column ?? 0 };
}

/** The entries of a source with positions, in source order. */
function items(source: MappingSource): Item[] {
  const out: Item[] = [];
  if (source.backend === "CRD") {
    for (const o of source.objects) {
      const role = crdRoleEntries([o.object]).roles[0];
      if (role === undefined) continue;
      const spec: Record<string, string> = { rolearn: "spec.arn" };
      out.push({
        source,
        backend: "CRD",
        kind: "role",
        arn: role.value.roleArn,
        value: role.value,
        at: o.at,
        field: (key) => o.field(spec[key] ?? `spec.${key}`),
      });
    }
    return out;
  }
  // Positions are looked up only for entries that get a finding (10,000 entries, few findings).
  const add = (
    kind: "role" | "user",
    section: "mapRoles" | "mapUsers",
    arn: string,
    value: RoleMapping | UserMapping,
    index: number,
  ) =>
    out.push({
      source,
      backend: source.backend,
      kind,
      arn,
      value,
      get at() {
        return source.at(section, index);
      },
      field: (key) => source.at(section, index, key),
    });
  roleEntries(source).forEach((e, i) =>
    add("role", "mapRoles", e.value.roleArn, e.value, indexOf(e, i))
  );
  userEntries(source).forEach((e, i) =>
    add("user", "mapUsers", e.value.userArn, e.value, indexOf(e, i))
  );
  return out;
}

/** Whether DynamicFile entries are keyed by user ID (from the server config among the inputs). */
function strictFor(sources: MappingSources, source: MappingSource): boolean {
  return source.backend === "DynamicFile" &&
    (sources.config?.config.dynamicFileUserIdStrict ?? false);
}

/** What the server's store does with the source: rejected entries and duplicates. */
function storeFindings(sources: MappingSources, source: MappingSource): Finding[] {
  const built = MappingStore.build(
    roleEntries(source),
    userEntries(source),
    accountsOf(source),
    { userIdStrict: strictFor(sources, source) },
  );
  return [...built.problems, ...built.warnings].map((p) =>
    finding(problemPos(source, p), p.rule, p.message, { backend: source.backend })
  );
}

/**
 * Lint the sources: every finding about the mappings themselves (the reader's findings about
 * syntax and keys are separate).
 */
export function lint(sources: MappingSources, opts: LintOptions = {}): Finding[] {
  const out: Finding[] = [];
  const compat = opts.compat === "go";
  const reserved = sources.config?.config.reservedPrefixConfig ?? {};
  for (const source of allSources(sources)) {
    out.push(...storeFindings(sources, source));
    const strict = strictFor(sources, source);
    const list = items(source);
    for (const item of list) out.push(...entryFindings(item, reserved, compat, strict));
    out.push(...accountFindings(source));
    out.push(...ssoShadowFindings(source));
    if (compat) out.push(...duplicateOrderFindings(source));
  }
  out.push(...backendFindings(sources, compat));
  // Every grant of system:masters, with the count, so a reviewer sees the whole list.
  const masters = out.filter((f) => f.rule === "group.masters");
  masters.forEach((f, i) => {
    f.message = `${f.message} (grant ${i + 1} of ${masters.length} in these inputs)`;
  });
  return out;
}

function templateFindings(
  text: string,
  at: FilePos,
  item: Item,
  what: string,
): Finding[] {
  const out: Finding[] = [];
  const extra = { subject: item.arn || undefined, backend: item.backend };
  for (const m of text.matchAll(/\{\{([^{}]*)\}\}/g)) {
    const name = m[1]!;
    if (!(PLACEHOLDERS as readonly string[]).includes(name)) {
      const near = closestKey(name, PLACEHOLDERS);
      out.push(finding(
        at,
        "template.unknown",
        `${what} ${
          JSON.stringify(text)
        }: {{${name}}} is not a placeholder the server renders; it stays literal${
          near ? `; did you mean {{${near}}}?` : ""
        }`,
        extra,
      ));
    } else if (item.kind === "user" && SESSION_PLACEHOLDERS.has(name)) {
      out.push(finding(
        at,
        "template.no_session",
        `${what} ${JSON.stringify(text)}: an IAM user has no session, so {{${name}}} ${
          name === "EC2PrivateDNSName" ? "makes every login fail" : "renders empty"
        }`,
        extra,
      ));
    }
  }
  return out;
}

function arnFindings(item: Item, compat: boolean, strict: boolean): Finding[] {
  const out: Finding[] = [];
  const arn = item.arn;
  if (arn === "") return out;
  const at = item.field(item.kind === "role" ? "rolearn" : "userarn");
  const extra = { subject: arn, backend: item.backend };
  const add = (rule: RuleId, message: string) => out.push(finding(at, rule, message, extra));
  if (arn.includes("{{")) {
    add("template.not_rendered", `${arn}: templates are not rendered in ARNs`);
    return out;
  }
  if (/[*?]/.test(arn)) {
    add("arn.wildcard", `${arn}: wildcards are not expanded; this entry matches no one`);
  }
  const type = typeOf(arn);
  if (type === undefined) return out;
  const account = arn.split(":")[4] ?? "";
  if (!ACCOUNT_ID.test(account)) {
    add("account.malformed", `${arn}: the account ${JSON.stringify(account)} is not 12 digits`);
  }
  if (item.kind === "role" && type === "USER") {
    add("arn.user_in_roles", `${arn} is an IAM user but is listed under mapRoles`);
  }
  if (item.kind === "user" && (type === "ROLE" || type === "ASSUMED_ROLE")) {
    add("arn.role_in_users", `${arn} is a role but is listed under mapUsers`);
  }
  if (type === "ASSUMED_ROLE") {
    const role = canonicalizeArn(arn).canonical;
    add(
      "arn.assumed_role",
      `${arn} is an STS session ARN; the server maps it as ${role}, so every session of that role gets this mapping`,
    );
    if (compat && item.backend !== "MountedFile") {
      add(
        "compat.assumed_role",
        `${arn}: the Go tool canonicalizes assumed-role ARNs only in MountedFile; in ${item.backend} it never matches`,
      );
    }
  }
  if (compat && type === "ROLE" && !strict) {
    const resource = arn.split(":").slice(5).join(":");
    if (resource.split("/").length > 2) {
      add(
        "compat.role_path",
        `${arn} has a role path; this server strips it and matches the role, the Go tool never matches it`,
      );
    }
  }
  return out;
}

function entryFindings(
  item: Item,
  reserved: Readonly<Record<string, readonly string[]>>,
  compat: boolean,
  strict: boolean,
): Finding[] {
  const out = arnFindings(item, compat, strict);
  const { username, groups, userId } = item.value;
  const extra = { subject: item.arn || undefined, backend: item.backend };
  if (userId.includes("{{")) {
    out.push(finding(
      item.field("userid"),
      "template.not_rendered",
      `userid ${JSON.stringify(userId)}: templates are not rendered in user IDs`,
      extra,
    ));
  }
  const sso = (item.value as RoleMapping).sso;
  if (compat && sso !== undefined) {
    const why = ["the Go tool matches SSO entries only with --feature-gates=SSORoleMatch=true"];
    if (sso.partition !== "") {
      why.push(`with partition ${JSON.stringify(sso.partition)} it never matches`);
    }
    why.push(
      `its pattern also matches permission sets named ${sso.permissionSetName}_… (this server does not)`,
    );
    out.push(finding(
      item.field("sso"),
      "compat.sso",
      `SSO permission set ${sso.permissionSetName} in ${sso.accountId}: ${why.join("; ")}`,
      { subject: ssoArnLike(sso), backend: item.backend },
    ));
  }
  const userAt = item.field("username");
  out.push(...templateFindings(username, userAt, item, "username"));
  for (const prefix of (reserved[item.backend] ?? []).filter((p) => p !== "")) {
    if (username.startsWith(prefix)) {
      out.push(finding(
        userAt,
        "username.reserved",
        `username ${
          JSON.stringify(username)
        } starts with ${prefix}, reserved for ${item.backend} in server.reservedPrefixConfig; every login with this entry is denied`,
        { subject: username, backend: item.backend },
      ));
      break;
    }
  }
  if (username.startsWith("system:") && !username.startsWith("system:node:")) {
    const sa = username.startsWith("system:serviceaccount:")
      ? " (it impersonates a service account)"
      : "";
    out.push(finding(
      userAt,
      "username.system",
      `username ${JSON.stringify(username)} is a Kubernetes system name${sa}`,
      { subject: username, backend: item.backend },
    ));
  }
  const groupsAt = item.field("groups");
  for (const g of groups) {
    out.push(...templateFindings(g, groupsAt, item, "group"));
    if (g === "system:masters") {
      out.push(finding(
        groupsAt,
        "group.masters",
        `${item.arn || "this entry"} is granted system:masters`,
        extra,
      ));
    } else if (g.startsWith("system:") && !USUAL_SYSTEM_GROUPS.has(g)) {
      out.push(finding(
        groupsAt,
        "group.system",
        `group ${JSON.stringify(g)} is a Kubernetes system group`,
        extra,
      ));
    }
  }
  return out;
}

function accountFindings(source: MappingSource): Finding[] {
  if (source.backend === "CRD") return [];
  const out: Finding[] = [];
  const unquoted = "unquotedAccounts" in source ? source.unquotedAccounts : new Set<number>();
  accountsOf(source).forEach((account, i) => {
    const at = source.at("mapAccounts", i);
    const extra = { subject: account, backend: source.backend };
    if (!ACCOUNT_ID.test(account)) {
      const zeros = /^[0-9]{1,11}$/.test(account)
        ? `; if it was written unquoted it may have lost leading zeros (${
          account.padStart(12, "0")
        }?)`
        : "";
      out.push(finding(
        at,
        "account.malformed",
        `account ${JSON.stringify(account)} is not 12 digits${zeros}`,
        extra,
      ));
    }
    if (unquoted.has(i)) {
      out.push(finding(at, "account.unquoted", `account ${account} is written unquoted`, extra));
    }
  });
  return out;
}

/** An SSO entry before an explicit role entry whose role it matches: the explicit one never applies. */
function ssoShadowFindings(source: MappingSource): Finding[] {
  if (source.backend === "CRD") return [];
  const out: Finding[] = [];
  const ssos: { prefix: string; entry: Located<RoleMapping> }[] = [];
  roleEntries(source).forEach((e, i) => {
    const v = e.value;
    if (v.sso !== undefined && v.roleArn === "") {
      ssos.push({ prefix: ssoPrefix(ssoArnLike(v.sso)), entry: e });
      return;
    }
    if (ssos.length === 0 || v.roleArn === "" || v.sso !== undefined) return;
    const key = keyOf(v.roleArn);
    if (key === undefined) return;
    const hit = ssos.find((s) =>
      key.startsWith(s.prefix) && ssoSuffixMatches(key.slice(s.prefix.length))
    );
    if (hit === undefined) return;
    out.push(finding(
      source.at("mapRoles", indexOf(e, i), "rolearn"),
      "entry.shadowed_by_sso",
      `${v.roleArn} is matched first by the SSO entry at ${hit.entry.location}; this entry never applies`,
      { subject: v.roleArn, backend: source.backend },
    ));
  });
  return out;
}

function sameMapping(a: RoleMapping | UserMapping, b: RoleMapping | UserMapping): boolean {
  return a.username === b.username && a.groups.join("\n") === b.groups.join("\n");
}

/** Duplicates that differ: this server keeps the first, the Go tool the last. */
function duplicateOrderFindings(source: MappingSource): Finding[] {
  const out: Finding[] = [];
  const groups = new Map<
    string,
    { e: Located<RoleMapping | UserMapping>; i: number; sec: "mapRoles" | "mapUsers" }[]
  >();
  const add = (e: Located<RoleMapping | UserMapping>, i: number, sec: "mapRoles" | "mapUsers") => {
    const v = e.value as RoleMapping & UserMapping;
    const key = v.sso !== undefined ? ssoArnLike(v.sso) : keyOf(v.roleArn ?? v.userArn);
    if (key === undefined) return;
    const k = `${sec}\0${key}`;
    const list = groups.get(k) ?? [];
    list.push({ e, i, sec });
    groups.set(k, list);
  };
  roleEntries(source).forEach((e, i) => add(e, indexOf(e, i), "mapRoles"));
  userEntries(source).forEach((e, i) => add(e, indexOf(e, i), "mapUsers"));
  for (const list of groups.values()) {
    if (list.length < 2) continue;
    const first = list[0]!;
    const last = list[list.length - 1]!;
    if (sameMapping(first.e.value, last.e.value)) continue;
    const v = first.e.value as RoleMapping & UserMapping;
    const subject = v.roleArn || v.userArn || undefined;
    const at = source.backend === "CRD"
      ? { file: first.e.location, line: 0, column: 0 }
      : source.at(first.sec, first.i);
    out.push(finding(
      at,
      "compat.duplicate_order",
      `this entry wins here; the Go tool uses the last duplicate (${last.e.location}) instead`,
      { subject, backend: source.backend },
    ));
  }
  return out;
}

/** The backends in the order the server consults them, when a server config is among the inputs. */
function backendOrder(sources: MappingSources): BackendMode[] {
  const modes = sources.backendModeFile?.modes ?? sources.config?.config.backendMode ?? [];
  return modes.map((m) => canonicalBackendMode(m)).filter((m): m is BackendMode => m !== undefined);
}

/** Entries hidden by an earlier backend, and (Go) explicit entries an earlier backend's account mapping beats. */
function backendFindings(sources: MappingSources, compat: boolean): Finding[] {
  const out: Finding[] = [];
  if (sources.config === undefined) return out;
  const seen = new Map<string, { backend: BackendMode; item: Item }>();
  const accounts = new Map<string, BackendMode>();
  for (const backend of backendOrder(sources)) {
    const source = sources.backends[backend][0];
    if (source === undefined) continue;
    const here: [string, Item][] = [];
    for (const item of items(source)) {
      const key = item.arn === "" ? undefined : keyOf(item.arn);
      if (key === undefined) continue;
      const prior = seen.get(key);
      const extra = { subject: item.arn, backend };
      if (prior !== undefined) {
        out.push(finding(
          item.field(item.kind === "role" ? "rolearn" : "userarn"),
          "entry.shadowed_by_backend",
          `${item.arn} is mapped first by ${prior.backend} (${
            where(prior.item.at)
          }); this ${backend} entry never applies`,
          extra,
        ));
      } else {
        here.push([key, item]);
      }
      const account = item.arn.split(":")[4] ?? "";
      const earlier = accounts.get(account);
      if (compat && earlier !== undefined) {
        out.push(finding(
          item.field(item.kind === "role" ? "rolearn" : "userarn"),
          "compat.account_order",
          `account ${account} is auto-mapped by ${earlier}, which comes first: the Go tool maps ${item.arn} to its ARN with no groups; this server uses this entry`,
          extra,
        ));
      }
    }
    for (const [key, item] of here) seen.set(key, { backend, item });
    for (const a of accountsOf(source)) if (!accounts.has(a)) accounts.set(a, backend);
  }
  return out;
}
