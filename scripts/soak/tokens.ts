/**
 * Token handling on the oracle's side: decoding a token to the presigned URL the server would
 * send to STS (to find the STS peer's answers for it), and one-byte mutations of valid tokens
 * with the oracle's own judgement of which mutations are harmless.
 *
 * Harmless mutations (docs/verification.md#harmless-mutations) leave the signed request
 * unchanged, so STS accepts the mutated token as the original one:
 *
 * - `same-url`: a change to the unused low bits of the last base64url character (base64url of a
 *   length that is not a multiple of 3 leaves 2 or 4 bits unused, which decoders ignore);
 * - `hex-lowercase`: a percent-escape written with lower-case hex digits (`%2f` for `%2F`); SigV4
 *   decodes and re-encodes the query before signing, so STS sees the same canonical request.
 *
 * Every other one-byte mutation must be denied.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { Rng } from "./random.ts";

/** The token prefix. */
export const PREFIX = "k8s-aws-v1.";
const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** The presigned URL inside a token, or `undefined` when it is not base64url of ASCII. */
export function tokenUrl(token: string): string | undefined {
  if (!token.startsWith(PREFIX)) return undefined;
  const b64 = token.slice(PREFIX.length);
  if (!/^[A-Za-z0-9_-]*$/.test(b64) || b64.length % 4 === 1) return undefined;
  const bin = atob(b64.replaceAll("-", "+").replaceAll("_", "/"));
  // deno-lint-ignore no-control-regex
  return /^[\x00-\x7f]*$/.test(bin) ? bin : undefined;
}

function encodeUrl(url: string): string {
  return PREFIX + btoa(url).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** The key under which the STS peer's answers for a raw query are filed. */
export function queryKey(rawQuery: string): string {
  return createHash("sha256").update(rawQuery).digest("hex").slice(0, 24);
}

/** The key of a token's query, or `undefined` when the token does not decode to a URL. */
export function tokenQueryKey(token: string): string | undefined {
  const url = tokenUrl(token);
  if (url === undefined) return undefined;
  const q = url.indexOf("?");
  return queryKey(q < 0 ? "" : url.slice(q + 1));
}

/** Why a mutation is harmless, if it is. */
export type Harmless = "same-url" | "hex-lowercase";

/** Judges a mutated token against the original (see the module doc). */
export function harmlessness(original: string, mutated: string): Harmless | undefined {
  if (mutated === original) return "same-url";
  const a = tokenUrl(original);
  const b = tokenUrl(mutated);
  if (a === undefined || b === undefined) return undefined;
  if (a === b) return "same-url";
  const upper = (u: string) => u.replace(/%[0-9a-fA-F]{2}/g, (m) => m.toUpperCase());
  return upper(a) === upper(b) ? "hex-lowercase" : undefined;
}

/** A token changed in one place, and whether that change is harmless. */
export interface Mutation {
  /** The mutated token. */
  token: string;
  /** What was changed, for the report. */
  where: "token" | "url";
  /** Set when the mutation leaves the signed request unchanged. */
  harmless?: Harmless;
}

/**
 * Changes one character of the token (half the time) or one byte of the URL inside it,
 * re-encoded (the other half). Never returns the original token.
 */
export function mutate(token: string, rng: Rng): Mutation {
  for (;;) {
    let out: string;
    let where: Mutation["where"];
    const url = tokenUrl(token);
    if (rng.chance(0.5) || url === undefined) {
      where = "token";
      const i = rng.int(token.length);
      const c = rng.chance(0.9) ? rng.pick([...B64URL]) : String.fromCharCode(32 + rng.int(95));
      out = token.slice(0, i) + c + token.slice(i + 1);
    } else {
      where = "url";
      // Bias towards the query, where the signature and the escapes are.
      const q = url.indexOf("?");
      const i = rng.chance(0.8) && q > 0
        ? q + 1 + rng.int(url.length - q - 1)
        : rng.int(url.length);
      const c = rng.chance(0.3) && /[0-9A-F]/.test(url[i]!)
        ? url[i]!.toLowerCase()
        : String.fromCharCode(33 + rng.int(94));
      out = encodeUrl(url.slice(0, i) + c + url.slice(i + 1));
    }
    if (out === token) continue;
    return { token: out, where, harmless: harmlessness(token, out) };
  }
}
