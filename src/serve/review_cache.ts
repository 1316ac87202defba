/**
 * Protects STS from the API server (port decision 18): identical concurrent reviews of one
 * token share one STS call, and a verified identity is remembered by the SHA-256 of its token
 * until the token itself expires. Only the identity is cached; mapping runs on every review, so
 * a mapping change applies at once. Failures are never cached.
 *
 * Many tokens prove the same identity: `aws eks get-token` and most scripts mint a new token for
 * every kubectl call, and a kubelet's token changes every 15 minutes but its identity does not.
 * Entries therefore share one frozen identity object per distinct identity, counted by
 * reference, so a full cache costs a key and an expiry per token rather than a copy of seven
 * strings (measured with `deno task bench:server`, see docs/benchmarks.md).
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
  /**
   * Most tokens remembered at once; the oldest go first beyond it. Default
   * {@link DEFAULT_MAX_CACHED_TOKENS}.
   */
  maxEntries?: number;
  /** The clock, in milliseconds since the epoch. */
  now?: () => number;
}

/** One distinct identity and how many cached tokens prove it. */
interface Shared {
  identity: Identity;
  refs: number;
  /** The next distinct identity with the same ARN (another session, key or endpoint). */
  next: Shared | undefined;
}

interface Entry {
  key: string;
  shared: Shared;
  /** Whole seconds after the cache's epoch: a small integer, kept in the entry unboxed. */
  expiresAtS: number;
  /** False once the entry has left the map (expired, evicted); its queue slot is then skipped. */
  live: boolean;
}

// Every field takes part: two tokens share an identity only when their reviews would be identical.
function sameIdentity(a: Identity, b: Identity): boolean {
  return a.arn === b.arn && a.canonicalArn === b.canonicalArn && a.accountId === b.accountId &&
    a.userId === b.userId && a.sessionName === b.sessionName &&
    a.accessKeyId === b.accessKeyId && a.stsEndpoint === b.stsEndpoint;
}

/** Default number of tokens a {@link ReviewCache} remembers. */
export const DEFAULT_MAX_CACHED_TOKENS = 50_000;

// Synchronous on purpose: WebCrypto's digest is async and, on the cache-hit path, its round
// trip through the thread pool costs more than the whole rest of a review.
function tokenKey(token: string): string {
  return hash("sha256", token, "binary");
}

/** A verifier front that deduplicates and caches successful verifications. */
export class ReviewCache<C extends { expiresAt: Date }> {
  readonly #verifier: TwoStepVerifier<C>;
  readonly #maxEntries: number;
  readonly #now: () => number;
  /** Expiries are kept as seconds after this instant (seconds since the Unix epoch). */
  readonly #epochS: number;
  readonly #entries = new Map<string, Entry>();
  /**
   * Entries in insertion order, for expiry and eviction. Not the map's own order: V8 leaves a
   * hole where a map entry was deleted until the table is rebuilt, and walking from the front
   * past tens of thousands of holes cost ~50 µs per review once the cache was full (measured).
   */
  #queue: (Entry | undefined)[] = [];
  #head = 0;
  /** Distinct identities by ARN; keyed by a string the identity holds anyway. */
  readonly #identities = new Map<string, Shared>();
  #identityCount = 0;
  readonly #inFlight = new Map<string, Promise<Identity>>();

  /** Wraps a verifier; the cache lives as long as this object. */
  constructor(verifier: TwoStepVerifier<C>, options: ReviewCacheOptions = {}) {
    this.#verifier = verifier;
    this.#maxEntries = Math.max(1, options.maxEntries ?? DEFAULT_MAX_CACHED_TOKENS);
    this.#now = options.now ?? Date.now;
    this.#epochS = Math.floor(this.#now() / 1000);
  }

  /**
   * An expiry in whole seconds after the epoch, rounded down: an entry may expire up to a
   * second early (its token is then verified again), never late. Token expiries are whole
   * seconds anyway (X-Amz-Date has no fraction).
   */
  #seconds(ms: number): number {
    return Math.floor(ms / 1000) - this.#epochS;
  }

  #ms(seconds: number): number {
    return (seconds + this.#epochS) * 1000;
  }

  /** Number of tokens currently cached (expired ones may linger until the next sweep). */
  get size(): number {
    return this.#entries.size;
  }

  /** Number of distinct identities the cached tokens prove. */
  get identityCount(): number {
    return this.#identityCount;
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
      if (this.#now() <= this.#ms(cached.expiresAtS)) {
        return { identity: cached.shared.identity, cache: "hit" };
      }
      this.#forget(cached);
    }
    const pending = this.#inFlight.get(key);
    if (pending !== undefined) return { identity: await pending, cache: "shared" };

    // The local checks run on every miss (they are what rejects an expired token), outside the
    // shared promise so a synchronous FormatError reaches only its own caller.
    const checked = this.#verifier.checkToken(token);
    // Reviews that join the call get the shared identity too.
    const call = this.#verifier.callSts(checked).then((identity) =>
      this.#remember(key, identity, checked.expiresAt.getTime())
    );
    this.#inFlight.set(key, call);
    try {
      return { identity: await call, cache: "miss" };
    } finally {
      this.#inFlight.delete(key);
    }
  }

  /** Stores a verified identity and returns the shared copy every cached token now uses. */
  #remember(key: string, identity: Identity, expiresAtMs: number): Identity {
    if (!(expiresAtMs > this.#now())) return identity;
    this.#sweep();
    while (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#oldest();
      if (oldest === undefined) break;
      this.#forget(oldest);
    }
    const first = this.#identities.get(identity.arn);
    let shared = first;
    while (shared !== undefined && !sameIdentity(shared.identity, identity)) shared = shared.next;
    if (shared === undefined) {
      // The verifier's answer is a fresh object nobody else holds, so it becomes the shared one.
      shared = { identity: Object.freeze(identity), refs: 0, next: first };
      this.#identities.set(identity.arn, shared);
      this.#identityCount++;
    }
    shared.refs++;
    const entry: Entry = { key, shared, expiresAtS: this.#seconds(expiresAtMs), live: true };
    this.#entries.set(key, entry);
    this.#queue.push(entry);
    this.#compact();
    return shared.identity;
  }

  /** The oldest live entry; dead slots in front of it (forgotten entries) are dropped. */
  #oldest(): Entry | undefined {
    const queue = this.#queue;
    while (this.#head < queue.length) {
      const entry = queue[this.#head];
      if (entry?.live) return entry;
      queue[this.#head++] = undefined;
    }
    return undefined;
  }

  // Drops the consumed front of the queue once it is most of the array: amortized O(1).
  #compact(): void {
    if (this.#head >= 1024 && this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  #forget(entry: Entry): void {
    if (!entry.live) return;
    entry.live = false;
    this.#entries.delete(entry.key);
    const gone = entry.shared;
    if (--gone.refs > 0) return;
    this.#identityCount--;
    const arn = gone.identity.arn;
    const first = this.#identities.get(arn);
    if (first === gone) {
      if (gone.next === undefined) this.#identities.delete(arn);
      else this.#identities.set(arn, gone.next);
      return;
    }
    for (let at = first; at !== undefined; at = at.next) {
      if (at.next === gone) {
        at.next = gone.next;
        return;
      }
    }
  }

  // Tokens arrive roughly in expiry order, so expired entries collect at the front of the queue.
  #sweep(): void {
    const now = this.#now();
    for (let entry = this.#oldest(); entry !== undefined; entry = this.#oldest()) {
      if (this.#ms(entry.expiresAtS) >= now) break;
      this.#forget(entry);
    }
  }
}
