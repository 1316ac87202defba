/**
 * The soak's oracle: for every review, the set of answers the server may give, worked out from
 * what the soak knows for certain (the token it sent, every answer the STS peer gave for that
 * token's URL, the mapping versions possible at the time), and the verdict on the answer it got.
 *
 * Invariants (docs/soak.md#invariants):
 *
 * 1. No review is authenticated that the STS answers or the mapping in force deny: a token
 *    that must not pass (another cluster's, expired, an unknown key, a harmful mutation) never
 *    authenticates; an authenticated review has a successful STS answer for exactly its URL
 *    (from the current server process, not after the review ended) naming the identity in the
 *    response, and some mapping version possible at the time maps that identity.
 * 2. An authenticated review carries exactly the username and groups of a mapping possible at
 *    the time.
 * 3. Every review gets an HTTP answer within the bound; throttling is 429 `sts.throttled`; any
 *    other denial names a reason that one of its causes explains (an injected fault, the STS
 *    peer's own refusal, the token, or the mapping).
 *
 * (4, memory and event-loop delay, is judged on the monitor's samples in `run_soak.ts`.)
 *
 * @module
 */

import type { StsAnswerRecord } from "../../tests/peers/sts_peer.ts";
import type { MappingOracle } from "./mapping_model.ts";
import { PRINCIPALS, type SoakPrincipal } from "./world.ts";

/** What the load sent. */
export type TokenKind =
  | "hot" // a repeated valid token (identity cache)
  | "fresh" // a newly minted valid token (an STS call)
  | "expiring" // valid when minted, expires during the run
  | "probe" // a probe principal's repeated token
  | "foreign" // signed for another cluster ID
  | "expired" // signed more than 15 minutes ago
  | "unknown" // signed with a key STS does not know
  | "mutated"; // one byte changed from a fresh valid token

/** One review as the load generator saw it (times in epoch milliseconds). */
export interface ReviewRecord {
  /** Sequence number. */
  id: number;
  /** What was sent. */
  kind: TokenKind;
  /** The principal whose credentials signed the token. */
  principal: string;
  /** For a mutated token: set when the mutation is harmless (see tokens.ts). */
  harmless?: string;
  /** The key of the token's URL query (the STS peer's answers are filed under it). */
  queryKey?: string;
  /** When the token (or, mutated, its original) expires: X-Amz-Date + 15 minutes. */
  expiresAt: number;
  /** Sent. */
  t0: number;
  /** Answer received (or the request failed). */
  t1: number;
  /** The server process (0-based) the review went to. */
  lifetime: number;
  /** HTTP status. */
  status?: number;
  /** `status.authenticated`. */
  authenticated?: boolean;
  /** `status.user.username`. */
  username?: string;
  /** `status.user.groups`. */
  groups?: string[];
  /** `status.user.uid`. */
  uid?: string;
  /** `status.user.extra.arn[0]`. */
  arn?: string;
  /** The reason ID at the start of `status.error`. */
  reason?: string;
  /** The request failed without an HTTP answer. */
  transportError?: string;
}

/**
 * One answer of the STS peer as the oracle files it: the peer's own record (status, error code,
 * ARN, injected fault), keyed by its query, with times in epoch milliseconds instead of the peer's
 * `performance.now()`.
 */
export type AnswerRecord = Omit<StsAnswerRecord, "method" | "query"> & {
  /** Key of the raw query. */
  queryKey: string;
};

/** One run of the server process. */
export interface Lifetime {
  /** Started (epoch ms). */
  start: number;
  /** Exited (epoch ms; Infinity while running). */
  end: number;
}

/** The invariants a review can break. */
export type Invariant =
  | "1 false accept"
  | "2 wrong user or groups"
  | "3 no answer"
  | "3 too slow"
  | "3 throttling not 429"
  | "3 denial reason without a cause";

/** A broken invariant, with what was allowed and what came. */
export interface Violation {
  /** Which one. */
  invariant: Invariant;
  /** The review. */
  review: ReviewRecord;
  /** The outcomes that were allowed. */
  allowed: string[];
  /** The outcome that came. */
  observed: string;
}

/** What the judge needs besides the review. */
export interface OracleContext {
  /** The STS peer's answers by query key, in arrival order. */
  answers: ReadonlyMap<string, readonly AnswerRecord[]>;
  /** Server lifetimes. */
  lifetimes: readonly Lifetime[];
  /** Mapping outcomes. */
  mapping: MappingOracle;
  /** The server's STS timeout (answers slower than this count as unreachable). */
  stsTimeoutMs: number;
  /** The longest a review may take. */
  latencyBoundMs: number;
  /** Tolerance for token expiry at the boundary (clock granularity, one-second X-Amz-Date). */
  expirySlackMs?: number;
  /**
   * How long after the STS peer sent an answer the server may still hand it to a review that
   * joined the call (the answer is in flight, or waits for the server's event loop); default 2 s.
   */
  answerGraceMs?: number;
}

const BY_ARN = new Map(PRINCIPALS.map((p) => [p.arn, p]));
const BY_NAME = new Map(PRINCIPALS.map((p) => [p.name, p]));

/** The reason an STS answer leads to (docs/why-denied.md), independently of the server's code. */
export function answerOutcomes(a: AnswerRecord, stsTimeoutMs: number): string[] {
  const out: string[] = [];
  switch (a.fault) {
    case "throttle":
      return ["429:sts.throttled"];
    case "status":
      return [(a.status ?? 500) >= 500 ? "deny:sts.unavailable" : "deny:sts.error"];
    case "garbage":
      return ["deny:sts.bad_response"];
    case "reset":
    case "hang":
    case "spike":
      return ["deny:sts.unreachable"];
  }
  // The peer's own answer arrived too late for the server's deadline.
  if (a.answeredAt - a.arrivedAt >= stsTimeoutMs - 1000) out.push("deny:sts.unreachable");
  if (a.status === 200 && a.arn !== undefined) {
    out.push(`sts-ok:${a.arn}`);
    return out;
  }
  switch (a.code) {
    case "Throttling":
      out.push("429:sts.throttled");
      break;
    case "SignatureDoesNotMatch":
      if (/Signature expired/.test(a.message ?? "")) out.push("deny:token.expired");
      else if (/not yet current/.test(a.message ?? "")) out.push("deny:token.future");
      else out.push("deny:token.cluster_mismatch");
      break;
    case "InvalidClientTokenId":
      out.push("deny:sts.invalid_credentials");
      break;
    case "ExpiredToken":
      out.push("deny:sts.expired_credentials");
      break;
    case "AccessDenied":
      out.push("deny:sts.access_denied");
      break;
    default:
      out.push((a.status ?? 0) >= 500 ? "deny:sts.unavailable" : "deny:sts.error");
  }
  return out;
}

/**
 * The outcome a review got, in the notation of the allowed sets. A denial is HTTP 200 with
 * `authenticated` unset and the reason first in `status.error` (port decision 22); a throttled
 * STS call is 429; any other status, or a denial without a reason, is none of the outcomes the
 * oracle allows.
 */
export function observedOutcome(r: ReviewRecord): string {
  if (r.transportError !== undefined) return "none";
  if (r.status === 200 && r.authenticated === true) {
    return `ok:${r.username}|${(r.groups ?? []).join(",")}`;
  }
  if (r.status === 429) return `429:${r.reason}`;
  if (r.status === 200 && r.reason !== undefined) return `deny:${r.reason}`;
  return `http:${r.status}`;
}

/** Tokens that must never authenticate, whatever STS or the mapping say. */
function mustNotPass(r: ReviewRecord): boolean {
  return r.kind === "foreign" || r.kind === "expired" || r.kind === "unknown" ||
    (r.kind === "mutated" && r.harmless === undefined);
}

/** Every outcome the review may have (see the module doc). */
export function allowedOutcomes(r: ReviewRecord, ctx: OracleContext): Set<string> {
  const allowed = new Set<string>();
  const slack = ctx.expirySlackMs ?? 1500;
  // A cached identity is only used while the token is valid, and the local checks refuse an
  // expired token before any STS call.
  if (r.expiresAt < r.t1 + slack) allowed.add("deny:token.expired");
  const stillValid = r.expiresAt >= r.t0 - slack;
  if (r.kind === "mutated" && r.harmless === undefined) allowed.add("deny:token.*");
  if (!stillValid || r.queryKey === undefined) return allowed;

  const life = ctx.lifetimes[r.lifetime];
  const answers = (ctx.answers.get(r.queryKey) ?? []).filter((a) =>
    a.arrivedAt >= (life?.start ?? 0) && a.arrivedAt <= r.t1
  );
  const identities = new Set<string>();
  for (const a of answers) {
    // Failures are never cached: only an STS call in flight during the review can explain one
    // (the review may join a call the peer has answered but the server has not read yet).
    // Successes are remembered until the token expires.
    const concurrent = a.answeredAt + (ctx.answerGraceMs ?? 2000) >= r.t0;
    for (const o of answerOutcomes(a, ctx.stsTimeoutMs)) {
      if (o.startsWith("sts-ok:")) identities.add(o.slice("sts-ok:".length));
      else if (concurrent) allowed.add(o);
    }
  }
  for (const arn of identities) {
    const p = BY_ARN.get(arn);
    if (p === undefined) continue;
    const facts = {
      canonicalArn: p.canonicalArn,
      accountId: p.account,
      sessionName: p.sessionName,
    };
    for (const o of ctx.mapping.outcomes(facts, r.t0, r.t1)) {
      if (o.startsWith("ok:") && mustNotPass(r)) continue;
      allowed.add(o);
    }
  }
  return allowed;
}

function matches(observed: string, allowed: ReadonlySet<string>): boolean {
  if (allowed.has(observed)) return true;
  return observed.startsWith("deny:token.") && allowed.has("deny:token.*");
}

/** The uid the server must report for a principal (docs/commands.md, TokenReview answer). */
export function expectedUid(p: SoakPrincipal): string {
  return `aws-iam-authenticator:${p.account}:${p.userId.split(":")[0]}`;
}

/** The verdict on one review: `undefined` when it is fine. */
export function judge(r: ReviewRecord, ctx: OracleContext): Violation | undefined {
  const observed = observedOutcome(r);
  const fail = (invariant: Invariant, allowed: Iterable<string>): Violation => ({
    invariant,
    review: r,
    allowed: [...allowed].sort(),
    observed,
  });
  if (observed === "none") return fail("3 no answer", ["an HTTP answer"]);
  if (r.t1 - r.t0 > ctx.latencyBoundMs) {
    return fail("3 too slow", [`within ${ctx.latencyBoundMs} ms`]);
  }
  const allowed = allowedOutcomes(r, ctx);
  if (observed.startsWith("ok:")) {
    const okAllowed = [...allowed].filter((o) => o.startsWith("ok:"));
    if (okAllowed.length === 0) return fail("1 false accept", allowed);
    // The identity in the answer must be one STS vouched for, for this very token.
    const who = r.arn === undefined ? undefined : BY_ARN.get(r.arn);
    const answered = (ctx.answers.get(r.queryKey ?? "") ?? []).some((a) =>
      a.fault === undefined && a.status === 200 && a.arn === r.arn && a.arrivedAt <= r.t1
    );
    if (who === undefined || !answered || r.uid !== expectedUid(who)) {
      return fail("1 false accept", [`an identity STS named for this token (${r.arn})`]);
    }
    const signer = BY_NAME.get(r.principal);
    if (signer !== undefined && signer.arn !== who.arn) {
      return fail("1 false accept", [`the signer's identity ${signer.arn}`]);
    }
    if (!allowed.has(observed)) return fail("2 wrong user or groups", okAllowed);
    return undefined;
  }
  if (matches(observed, allowed)) return undefined;
  if (observed === "deny:sts.throttled" || observed.startsWith("429:")) {
    return fail("3 throttling not 429", allowed);
  }
  return fail("3 denial reason without a cause", allowed);
}
