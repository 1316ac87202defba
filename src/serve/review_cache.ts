/**
 * Protects STS from the API server (port decision 18): identical concurrent reviews of one
 * token share one STS call, and a verified identity is remembered by the SHA-256 of its token
 * until the token itself expires. Only the identity is cached; mapping runs on every review, so
 * a mapping change applies at once. Failures are never cached.
 *
 * @module
 */

import { hash } from "node:crypto";
import type { Identity } from "../verify/mod.ts";

/** The part of `Verifier` the cache drives: a local check, then the STS call. */
export interface TwoStepVerifier<C extends { expiresAt: Date }> {
  /** Local checks only; throws `FormatError` on a bad token. */
  checkToken(token: string): C;
  /** The outbound GetCallerIdentity for a token that passed the local checks. */
  callSts(checked: C): Promise<Identity>;
}

/** How a review's identity was obtained, for the review log line. */
export type CacheOutcome = "hit" | "shared" | "miss";

/** An identity plus where it came from. */
export interface CachedVerification {
  /** The verified identity. */
  identity: Identity;
  /** `hit`: cached; `shared`: joined an STS call already in flight; `miss`: made the call. */
  cache: CacheOutcome;
}

/** Options of {@link ReviewCache}. */
export interface ReviewCacheOptions {
  /** Most identities kept at once; the oldest go first beyond it. Default 50,000. */
  maxEntries?: number;
  /** The clock, in milliseconds since the epoch. */
  now?: () => number;
}

interface Entry {
  identity: Identity;
  expiresAtMs: number;
}

// Synchronous on purpose: WebCrypto's digest is async and, on the cache-hit path, its round
// trip through the thread pool costs more than the whole rest of a review.
function tokenKey(token: string): string {
  return hash("sha256", token, "base64");
}

/** A verifier front that deduplicates and caches successful verifications. */
export class ReviewCache<C extends { expiresAt: Date }> {
  readonly #verifier: TwoStepVerifier<C>;
  readonly #maxEntries: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  readonly #inFlight = new Map<string, Promise<Identity>>();

  /** Wraps a verifier; the cache lives as long as this object. */
  constructor(verifier: TwoStepVerifier<C>, options: ReviewCacheOptions = {}) {
    this.#verifier = verifier;
    this.#maxEntries = Math.max(1, options.maxEntries ?? 50_000);
    this.#now = options.now ?? Date.now;
  }

  /** Number of identities currently cached (expired ones may linger until the next sweep). */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Verifies a token: a cached identity if the same token was verified before and has not
   * expired, else the STS call already in flight for it, else a new STS call. Throws what the
   * verifier throws.
   */
  async verify(token: string): Promise<CachedVerification> {
    const key = tokenKey(token);
    const cached = this.#entries.get(key);
    if (cached !== undefined) {
      if (this.#now() <= cached.expiresAtMs) return { identity: cached.identity, cache: "hit" };
      this.#entries.delete(key);
    }
    const pending = this.#inFlight.get(key);
    if (pending !== undefined) return { identity: await pending, cache: "shared" };

    // The local checks run on every miss (they are what rejects an expired token), outside the
    // shared promise so a synchronous FormatError reaches only its own caller.
    const checked = this.#verifier.checkToken(token);
    const call = this.#verifier.callSts(checked);
    this.#inFlight.set(key, call);
    try {
      const identity = await call;
      this.#remember(key, identity, checked.expiresAt.getTime());
      return { identity, cache: "miss" };
    } finally {
      this.#inFlight.delete(key);
    }
  }

  #remember(key: string, identity: Identity, expiresAtMs: number): void {
    if (!(expiresAtMs > this.#now())) return;
    this.#sweep();
    while (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) break;
      this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { identity, expiresAtMs });
  }

  // Tokens arrive roughly in expiry order, so expired entries collect at the front of the map.
  #sweep(): void {
    const now = this.#now();
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAtMs >= now) break;
      this.#entries.delete(key);
    }
  }
}
