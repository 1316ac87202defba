/**
 * The mapping step of `explain`: the server's own decision ({@link mapIdentity}) over the
 * backends in `backendMode` order, traced; and when nothing matches, the closest entries.
 *
 * @module
 */

import type { BackendMode } from "../config/mod.ts";
import {
  type Identity,
  mapIdentity,
  type MappingBackend,
  type MappingStore,
  type MapTraceEvent,
} from "../map/mod.ts";
import { reasonInfo, reasonOf } from "../reasons/mod.ts";
import { nearMisses } from "./near_miss.ts";
import { failed, type StepReport } from "./report.ts";

/** One backend as `explain` evaluates it: a store built by the server's parsers. */
export interface ExplainBackend {
  /** The backend mode. */
  name: BackendMode;
  /** Where its mappings came from (a file, `ConfigMap kube-system/aws-auth`, ...). */
  origin: string;
  /** The mappings, built by the server's own code; absent when they could not be read. */
  store?: MappingStore;
  /** Why the mappings could not be read (what to pass to read them). */
  unavailable?: string;
  /** `server.reservedPrefixConfig` for this backend. */
  reserved: readonly string[];
}

/** A finding of `validate` about a mapping source, shown when it concerns the identity. */
export interface RelevantFinding {
  /** `file:line:column` or the object it is about. */
  location: string;
  /** The rule ID. */
  rule: string;
  /** What is wrong. */
  message: string;
}

/** Options of {@link explainMapping}. */
export interface ExplainMappingOptions {
  /** Resolves `{{EC2PrivateDNSName}}` (absent offline: such templates then fail). */
  privateDnsName?: (instanceId: string) => Promise<string>;
  /** Problems of the sources that concern this identity (from the server's parsers and lint). */
  findings?: () => readonly RelevantFinding[];
}

function list(groups: readonly string[]): string {
  return `[${groups.join(", ")}]`;
}

function traceLine(e: MapTraceEvent, origins: Map<string, string>): string {
  const from = `${e.backend} (${origins.get(e.backend) ?? "?"})`;
  switch (e.event) {
    case "no_match":
      return `${from}: no entry matches`;
    case "error":
      return `${from}: could not decide: ${e.error}`;
    case "match":
      return `${from}: matched ${e.location ?? "an entry"}: username ${
        JSON.stringify(e.username)
      }, groups ${list(e.groups)}`;
    case "rendered":
      return `rendered: username ${JSON.stringify(e.username)}, groups ${list(e.groups)}`;
    case "reserved":
      return e.refused
        ? `reserved prefixes of ${e.backend} ${list(e.prefixes)}: the username begins with one`
        : `reserved prefixes of ${e.backend} ${list(e.prefixes)}: none applies`;
    case "account":
      return e.allowed
        ? `${from}: account ${e.accountId} is auto-mapped (mapAccounts): username is the canonical ARN, no groups`
        : `${from}: account ${e.accountId} is not auto-mapped`;
  }
}

/** Runs the server's mapping decision for `id` over `backends` and reports every step of it. */
export async function explainMapping(
  backends: readonly ExplainBackend[],
  id: Identity,
  o: ExplainMappingOptions = {},
): Promise<{ step: StepReport; user?: { username: string; groups: string[] } }> {
  const origins = new Map(backends.map((b) => [b.name as string, b.origin]));
  const trace: MapTraceEvent[] = [];
  // The decision runs over the backends before the first one that could not be read: what
  // that one holds would come first, so only an explicit match before it is certain.
  const missing = backends.findIndex((b) => b.store === undefined);
  const readable = (missing < 0 ? backends : backends.slice(0, missing)) as (
    & ExplainBackend
    & { store: MappingStore }
  )[];
  const mappers: MappingBackend[] = readable.map((b) => ({
    name: b.name,
    usernamePrefixReserveList: b.reserved,
    map: (i) => b.store.lookupAsync(i),
    isAccountAllowed: (a) => b.store.isAccountAllowed(a),
  }));
  const facts: Record<string, unknown> = {
    backends: backends.map((b) => ({
      name: b.name,
      origin: b.origin,
      entries: b.store?.size ?? null,
      unavailable: b.unavailable ?? null,
    })),
    trace,
  };
  const details = () => trace.map((e) => traceLine(e, origins));
  const unread = backends.filter((b) => b.store === undefined)
    .map((b) => `${b.name} (${b.unavailable ?? "not read"})`);
  try {
    const user = await mapIdentity(mappers, id, {
      privateDnsName: o.privateDnsName,
      trace: (e) => trace.push(e),
    });
    facts.username = user.username;
    facts.groups = user.groups;
    const byAccount = trace.some((e) => e.event === "account" && e.allowed);
    if (missing >= 0 && byAccount) {
      return {
        step: {
          step: "mapping",
          status: "skipped",
          summary:
            `not decided: account auto-mapping would apply, but an explicit mapping in a backend that was not read wins over it: ${
              unread.join(", ")
            }`,
          details: details(),
          facts,
        },
      };
    }
    return {
      step: {
        step: "mapping",
        status: "ok",
        summary: `authenticated as ${JSON.stringify(user.username)}, groups ${list(user.groups)}`,
        details: details(),
        facts,
      },
      user: { username: user.username, groups: user.groups },
    };
  } catch (e) {
    const reason = reasonOf(e) ?? "map.backend_error";
    const lines = details();
    if (reason === "map.not_mapped" && missing >= 0) {
      return {
        step: {
          step: "mapping",
          status: "skipped",
          summary:
            `not decided: nothing matches in the backends that were read, and these were not: ${
              unread.join(", ")
            }`,
          details: lines,
          facts,
        },
      };
    }
    let summary = (e as Error).message;
    if (reason === "map.not_mapped") {
      summary = `no backend maps ${id.canonicalArn} and its account is not auto-mapped`;
      const near = nearMisses(
        id.canonicalArn,
        readable.map((b) => ({ name: b.name, entries: b.store.entries() })),
      );
      facts.nearMisses = near.map(({ score: _s, ...n }) => n);
      if (near.length > 0) {
        lines.push("closest entries, and why each does not match:");
        for (const n of near) lines.push(`  ${n.location}: ${n.arn}: ${n.why}`);
      } else {
        lines.push("no configured entry is close to this ARN");
      }
    }
    const findings = o.findings?.() ?? [];
    facts.findings = findings;
    if (findings.length > 0) {
      lines.push("problems in the mappings that concern this identity:");
      for (const f of findings) lines.push(`  ${f.location}: ${f.rule}: ${f.message}`);
    }
    return { step: failed("mapping", reason, summary, facts, lines, reasonInfo(reason).fix) };
  }
}
