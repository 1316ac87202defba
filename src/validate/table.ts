/**
 * The effective mapping table (`validate --list`): every pattern the server would match, with
 * its username, groups, backend and where it is defined. Entries the server drops (invalid) or
 * ignores (later duplicates, entries an earlier backend already maps) are left out, as the
 * server leaves them out; accounts auto-mapped by `mapAccounts` are rows of their own.
 *
 * @module
 */

import { canonicalBackendMode, type RoleMapping, ssoArnLike } from "../config/mod.ts";
import { arnKey, MappingStore } from "../map/mod.ts";
import {
  accountsOf,
  allSources,
  type MappingSource,
  type MappingSources,
  roleEntries,
  userEntries,
} from "./sources.ts";

/** One row of the table. */
export interface MappingRow {
  /** The backend. */
  backend: string;
  /** What matches: `role`, `user`, `sso` (a permission set pattern) or `account`. */
  kind: "role" | "user" | "sso" | "account";
  /** The ARN as written, the SSO pattern, or the account ID. */
  pattern: string;
  /** The username template (for accounts: the caller's ARN). */
  username: string;
  /** The group templates. */
  groups: readonly string[];
  /** Where the entry is defined. */
  location: string;
}

function effective(source: MappingSource, strict: boolean): Set<string> {
  // The entries the server keeps: everything not rejected nor reported as a duplicate.
  const built = MappingStore.build(
    roleEntries(source),
    userEntries(source),
    accountsOf(source),
    { userIdStrict: strict },
  );
  const dropped = new Set([...built.problems, ...built.warnings].map((p) => p.location));
  const kept = new Set<string>();
  for (const e of [...roleEntries(source), ...userEntries(source)]) {
    if (!dropped.has(e.location)) kept.add(e.location);
  }
  return kept;
}

/** The rows, backends in `server.backendMode` order when a server config is given. */
export function mappingTable(sources: MappingSources): MappingRow[] {
  const rows: MappingRow[] = [];
  const order = (sources.backendModeFile?.modes ?? sources.config?.config.backendMode ?? [])
    .map((m) => canonicalBackendMode(m) ?? m);
  const list = allSources(sources).sort((a, b) => {
    const ia = order.indexOf(a.backend);
    const ib = order.indexOf(b.backend);
    return (ia < 0 ? order.length : ia) - (ib < 0 ? order.length : ib);
  });
  const claimed = new Set<string>();
  const strictDynamic = sources.config?.config.dynamicFileUserIdStrict ?? false;
  for (const source of list) {
    const kept = effective(source, source.backend === "DynamicFile" && strictDynamic);
    const later: string[] = [];
    const push = (row: MappingRow, key: string | undefined) => {
      if (key !== undefined && claimed.has(key)) return;
      if (key !== undefined) later.push(key);
      rows.push(row);
    };
    for (const e of roleEntries(source)) {
      if (!kept.has(e.location)) continue;
      const v: RoleMapping = e.value;
      const sso = v.sso !== undefined ? ssoArnLike(v.sso) : undefined;
      push({
        backend: source.backend,
        kind: sso !== undefined ? "sso" : "role",
        pattern: sso ?? v.roleArn,
        username: v.username,
        groups: v.groups,
        location: e.location,
      }, sso ?? keyOrUndefined(v.roleArn));
    }
    for (const e of userEntries(source)) {
      if (!kept.has(e.location)) continue;
      push({
        backend: source.backend,
        kind: "user",
        pattern: e.value.userArn,
        username: e.value.username,
        groups: e.value.groups,
        location: e.location,
      }, keyOrUndefined(e.value.userArn));
    }
    for (const a of new Set(accountsOf(source))) {
      rows.push({
        backend: source.backend,
        kind: "account",
        pattern: a,
        username: "(the caller's ARN)",
        groups: [],
        location: `${source.file} mapAccounts`,
      });
    }
    for (const k of later) claimed.add(k);
  }
  return rows;
}

function keyOrUndefined(arn: string): string | undefined {
  if (arn === "") return undefined;
  try {
    return arnKey(arn);
  } catch {
    return undefined;
  }
}
