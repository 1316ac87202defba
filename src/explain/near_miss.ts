/**
 * When nothing maps an identity: the configured entries that come closest, and why each one does
 * not match. This is diagnosis only; whether an entry matches is decided by the store's own
 * lookup (src/map/store.ts), and these rules only describe the ways a near entry differs.
 *
 * @module
 */

import { canonicalizeArn, parseArn } from "../aws/mod.ts";
import type { StoreEntry } from "../map/mod.ts";

/** A configured entry close to the identity, and what differs. */
export interface NearMiss {
  /** The backend that holds it. */
  backend: string;
  /** Where it is defined. */
  location: string;
  /** The ARN (or SSO pattern) as written. */
  arn: string;
  /** Why it does not match, as one sentence. */
  why: string;
  /** Lower is closer. */
  score: number;
}

interface Principal {
  partition: string;
  account: string;
  /** `role`, `user`, `root`, `federated-user`. */
  type: string;
  /** For users: the path between `user/` and the name (`devs/`), else `""`. */
  path: string;
  /** The last path segment, lower-cased. */
  name: string;
}

function principal(arn: string): Principal | undefined {
  try {
    const { canonical } = canonicalizeArn(arn);
    const p = parseArn(canonical);
    const parts = p.resource.split("/");
    const type = parts[0] ?? "";
    const name = (parts.at(-1) ?? "").toLowerCase();
    const path = type === "user" ? parts.slice(1, -1).join("/") : "";
    return { partition: p.partition, account: p.accountId, type, path, name };
  } catch {
    return undefined;
  }
}

/** Levenshtein distance, capped: anything above `max` is reported as `max + 1`. */
function distance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const v = Math.min(
        prev[j]! + 1,
        cur[j - 1]! + 1,
        prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      cur.push(v);
      best = Math.min(best, v);
    }
    if (best > max) return max + 1;
    prev = cur;
  }
  return prev[b.length]!;
}

/** Identity Center's role names: `AWSReservedSSO_<permission set>_<16 hex>`. */
const SSO_ROLE = /^awsreservedsso_(.+)_[0-9a-f]{16}$/;

/** The permission set of an `sso` entry's pattern (`...:role/awsreservedsso_<ps>_*`). */
function ssoPermissionSet(pattern: string): { account: string; ps: string } | undefined {
  const m = /^arn:[^:]+:iam::(\d{12}):role\/awsreservedsso_(.+)_\*$/.exec(pattern);
  return m ? { account: m[1]!, ps: m[2]! } : undefined;
}

function describe(id: Principal, e: StoreEntry): { why: string; score: number } | undefined {
  if (e.kind === "sso") {
    const sso = ssoPermissionSet(e.arn.toLowerCase());
    const mine = id.type === "role" ? SSO_ROLE.exec(id.name) : null;
    if (sso === undefined || mine === null) return undefined;
    if (sso.account !== id.account) {
      return sso.ps === mine[1]
        ? {
          why: `an SSO mapping of your permission set in another account (${sso.account})`,
          score: 1,
        }
        : undefined;
    }
    return {
      why: `an SSO mapping for permission set "${sso.ps}"; your session uses permission set "${
        mine[1]
      }"`,
      score: 1,
    };
  }
  const p = principal(e.arn);
  if (p === undefined) return undefined;
  const sameName = p.name === id.name;
  if (sameName && p.type === id.type) {
    if (p.partition !== id.partition) {
      return { why: `another partition (${p.partition}; you are in ${id.partition})`, score: 1 };
    }
    if (p.account !== id.account) {
      return { why: `another account (${p.account}; you are in ${id.account})`, score: 1 };
    }
    if (p.path !== id.path) {
      return {
        why: `the user path differs: user ARNs keep their path, and yours is "${
          id.path === "" ? "/" : `/${id.path}/`
        }"`,
        score: 0,
      };
    }
    return undefined;
  }
  if (sameName && p.account === id.account) {
    return {
      why: `names an IAM ${p.type} with your name, but you authenticate as an IAM ${id.type}`,
      score: 1,
    };
  }
  if (p.account === id.account && p.type === id.type && id.name.length > 3) {
    const d = distance(p.name, id.name, 2);
    if (d <= 2) return { why: `a similar name ("${p.name}" vs "${id.name}")`, score: 1 + d };
  }
  return undefined;
}

/**
 * The entries of the given backends that come closest to the canonical ARN, best first, at most
 * `limit` of them.
 */
export function nearMisses(
  canonicalArn: string,
  backends: readonly { name: string; entries: readonly StoreEntry[] }[],
  limit = 5,
): NearMiss[] {
  const id = principal(canonicalArn);
  if (id === undefined) return [];
  const out: NearMiss[] = [];
  for (const b of backends) {
    for (const e of b.entries) {
      const d = describe(id, e);
      if (d) out.push({ backend: b.name, location: e.location, arn: e.arn, ...d });
    }
  }
  return out.sort((a, b) => a.score - b.score).slice(0, limit);
}
