/**
 * How an error carries its reason: a `reason` property holding a catalogue ID. The verifier's
 * and the mapper's error classes implement {@link Denial}; everything else has no reason, and
 * the caller decides (the server denies whatever the error).
 *
 * @module
 */

import { isReasonId, type ReasonId } from "./catalogue.ts";

/** An error that says why a review is denied. */
export interface Denial {
  /** The catalogue ID of the reason. */
  readonly reason: ReasonId;
}

/** The reason an error carries, or `undefined` when it carries none (or an unknown one). */
export function reasonOf(err: unknown): ReasonId | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const reason = (err as { reason?: unknown }).reason;
  return typeof reason === "string" && isReasonId(reason) ? reason : undefined;
}
