/**
 * A seeded pseudo-random generator (mulberry32): `--seed` makes a soak's choices (token mix,
 * faults, mapping edits, fuzz inputs) the same from run to run. Interleavings still depend on
 * timing, so two runs with one seed make the same kinds of choices, not byte-identical traffic.
 *
 * @module
 */

/** Draws from one seeded stream. */
export interface Rng {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** A float in [a, b). */
  between(a: number, b: number): number;
  /** True with probability `p`. */
  chance(p: number): boolean;
  /** One element of a non-empty list. */
  pick<T>(xs: readonly T[]): T;
  /** A key of `weights` drawn in proportion to its weight. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K;
  /** An independent stream derived from this one (for a worker of its own). */
  fork(): Rng;
}

/** A generator whose stream is fixed by `seed` (any 32-bit integer). */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const rng: Rng = {
    next,
    int: (n) => Math.floor(next() * n),
    between: (x, y) => x + next() * (y - x),
    chance: (p) => next() < p,
    pick: (xs) => {
      if (xs.length === 0) throw new Error("pick from an empty list");
      return xs[Math.floor(next() * xs.length)]!;
    },
    weighted: (weights) => {
      const entries = Object.entries(weights) as [keyof typeof weights, number][];
      const total = entries.reduce((s, [, w]) => s + w, 0);
      let r = next() * total;
      for (const [k, w] of entries) {
        if ((r -= w) < 0) return k;
      }
      return entries.at(-1)![0];
    },
    fork: () => seededRng(Math.floor(next() * 4294967296)),
  };
  return rng;
}
