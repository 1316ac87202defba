/**
 * One coarse timer for all the deadlines of in-flight reviews (the STS call, the request body).
 *
 * A timer per deadline cost the server ~25 µs of CPU per review under load (`deno task
 * bench:server` with the timers removed: 261-275 instead of 291-305 µs): each review armed and
 * cleared two runtime timers whose objects outlived a young-generation GC. Here a deadline is a
 * small object in a set, checked by one interval that runs only while deadlines are pending, so
 * deadlines fire up to one resolution late: 100 ms by default against 10 s timeouts. The interval
 * is stopped by the first sweep that finds nothing pending, not when the last deadline is
 * cancelled: under load the set empties and refills between reviews, and stopping and re-arming
 * the interval each time cost ~3 % of the CPU of a cached review (CPU profile of
 * `deno task bench:server`).
 *
 * @module
 */

import type { SetDeadline } from "../verify/mod.ts";

/** Options of a {@link DeadlineSweeper}. */
export interface DeadlineSweeperOptions {
  /** How often pending deadlines are checked, in ms; a deadline fires at most this late. */
  resolutionMs?: number;
  /** A monotonic clock in ms. */
  now?: () => number;
}

interface Pending {
  at: number;
  onExpire: () => void;
}

/** Deadlines checked together by one interval timer. */
export class DeadlineSweeper {
  readonly #pending = new Set<Pending>();
  readonly #resolutionMs: number;
  readonly #now: () => number;
  #interval: ReturnType<typeof setInterval> | undefined;

  /** A sweeper with no pending deadlines (and so no timer). */
  constructor(options: DeadlineSweeperOptions = {}) {
    this.#resolutionMs = Math.max(1, options.resolutionMs ?? 100);
    this.#now = options.now ?? (() => performance.now());
  }

  /** Number of deadlines pending. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Whether the interval timer is armed (until a sweep finds nothing pending). */
  get armed(): boolean {
    return this.#interval !== undefined;
  }

  /**
   * Calls `onExpire` once `ms` have passed (up to one resolution later), unless the returned
   * function is called first. Shaped as the verifier's `setDeadline`.
   */
  readonly set: SetDeadline = (ms, onExpire) => {
    const entry: Pending = { at: this.#now() + ms, onExpire };
    this.#pending.add(entry);
    this.#interval ??= setInterval(() => this.#sweep(), this.#resolutionMs);
    return () => {
      this.#pending.delete(entry);
    };
  };

  #sweep(): void {
    const now = this.#now();
    for (const entry of this.#pending) {
      if (entry.at > now) continue;
      this.#pending.delete(entry);
      try {
        entry.onExpire();
      } catch {
        // An expiry callback only aborts or rejects; one that throws must not stop the others.
      }
    }
    if (this.#pending.size === 0) this.#stop();
  }

  /**
   * Stops the timer now (a server that has shut down). Pending deadlines stay pending; the next
   * {@link set} arms the timer again.
   */
  stop(): void {
    this.#stop();
  }

  #stop(): void {
    clearInterval(this.#interval);
    this.#interval = undefined;
  }
}
