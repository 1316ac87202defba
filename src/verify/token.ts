/**
 * Every local check of a token (docs/verification.md, port decisions 1, 3, 4), before any
 * network traffic.
 *
 * The token is validated as a raw string against a strict grammar, never through the WHATWG
 * `URL` parser alone: `URL` silently turns `\` into `/`, adds a missing path, re-encodes and
 * IDNA-maps hosts, so a string checked after `URL` parsing is not the request that goes out
 * (docs/security.md case 52). Everything a real signer emits fits the grammar: `https://`, a
 * lower-case host, the path `/`, and a query of RFC 3986 unreserved characters, `%XX`, `&` and
 * `=`. Finally the raw string must equal its WHATWG serialization, so `fetch` sends exactly the
 * bytes that were checked.
 *
 * @module
 */

import { FormatError } from "./errors.ts";

/** A token that passed every local check, with what the STS call and the identity need. */
export interface CheckedToken {
  /** Exactly the URL that will be fetched (and that was validated), byte for byte. */
  url: string;
  /** `host[:port]` of the URL, reported as the identity's `STSEndpoint`. */
  host: string;
  /** STS region label of the host, for metrics and error texts. */
  stsRegion: string;
  /** The text before the first `/` of `X-Amz-Credential` (not confirmed by STS). */
  accessKeyId: string;
  /** `X-Amz-Date`. */
  signedAt: Date;
  /** `signedAt` + 15 minutes, when STS stops accepting the URL. */
  expiresAt: Date;
}

/** What the local checks need from the verifier. */
export interface TokenCheckOptions {
  /** The current time. */
  now: Date;
  /**
   * Host allowlist: returns the STS region label of an accepted `host[:port]`, or throws a
   * {@link FormatError}.
   */
  checkHost: (host: string) => string;
  /** When set, an `scheme://host[:port]` equal to this origin is accepted as is. */
  overrideOrigin?: string;
  /** Region label for URLs on the override origin. */
  overrideRegion?: string;
}

/** The prefix every token starts with. */
export const TOKEN_PREFIX = "k8s-aws-v1.";
/** Longest token accepted, in bytes (4096 itself is allowed). */
export const MAX_TOKEN_BYTES = 4096;
/** How long STS accepts a presigned GetCallerIdentity URL after `X-Amz-Date`. */
export const PRESIGNED_URL_VALIDITY_MS = 15 * 60 * 1000;
/** How far in the future `X-Amz-Date` may be (port decision 3). */
export const MAX_FUTURE_SKEW_MS = 5 * 60 * 1000;

/** Query keys a token may carry, with their exact case (see `checkQuery`). */
const ALLOWED_KEYS = new Set([
  "Action",
  "Version",
  "X-Amz-Algorithm",
  "X-Amz-Credential",
  "X-Amz-Date",
  "X-Amz-Expires",
  "X-Amz-Security-Token",
  "X-Amz-Signature",
  "X-Amz-SignedHeaders",
]);

const BASE64URL_RE = /^[A-Za-z0-9_-]*$/;
/** Printable ASCII without space: anything else never appears in a presigned URL. */
const PRINTABLE_RE = /^[\x21-\x7e]*$/;
/** scheme://authority path ?query #fragment, on the already-printable string. */
const URL_RE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?(#.*)?$/;
const QUERY_CHARS_RE = /^(?:[A-Za-z0-9\-._~&=]|%[0-9A-Fa-f]{2})*$/;
const EXPIRES_RE = /^[0-9]{1,3}$/;
const AMZ_DATE_RE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

function decodeBase64Url(s: string): string {
  if (!BASE64URL_RE.test(s)) {
    let i = 0;
    while (i < s.length && /[A-Za-z0-9_-]/.test(s[i]!)) i++;
    throw new FormatError("token.encoding", `illegal base64 data at input byte ${i}`);
  }
  // A single leftover character cannot encode a byte; Go reports its offset.
  if (s.length % 4 === 1) {
    throw new FormatError("token.encoding", `illegal base64 data at input byte ${s.length - 1}`);
  }
  const std = s.replaceAll("-", "+").replaceAll("_", "/");
  return atob(std + "==".slice(0, (4 - (s.length % 4)) % 4));
}

/** Go's `2006-01-02 15:04:05 +0000 UTC` rendering of a UTC instant. */
function goUtc(d: Date): string {
  return d.toISOString().replace("T", " ").replace(/\.\d{3}Z$/, " +0000 UTC");
}

function parseAmzDate(v: string): Date | undefined {
  const m = AMZ_DATE_RE.exec(v);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return undefined;
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  // Day 31 of a 30-day month rolls over; Go's time.Parse rejects it ("day out of range").
  if (date.getUTCDate() !== d || date.getUTCFullYear() !== y) return undefined;
  return date;
}

/** Go `strconv.Atoi` result for the error text: the number if it parses, else 0. */
function atoiForMessage(v: string | undefined): number {
  return v !== undefined && /^[+-]?[0-9]+$/.test(v) ? Number(v) : 0;
}

function decodeComponent(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    // Invalid UTF-8 after percent-decoding.
    throw new FormatError("token.query", "malformed query parameter");
  }
}

/**
 * Parses and checks the query (docs/verification.md#query-keys): Go's order, but keys must be
 * spelled exactly as AWS spells them. STS matches parameter names case-sensitively, so accepting
 * `action` or `%41ction` would let the verifier read a value STS ignores (the root of
 * CVE-2022-2385).
 */
function checkQuery(raw: string): Map<string, string> {
  // Also refuses `;`, which Go's ParseQuery rejects and URLSearchParams would keep in a value.
  if (!QUERY_CHARS_RE.test(raw)) throw new FormatError("token.query", "malformed query parameter");
  const byKey = new Map<string, { raw: string; values: string[] }>();
  for (const part of raw.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const rawKey = eq < 0 ? part : part.slice(0, eq);
    const key = rawKey.includes("%") ? decodeComponent(rawKey) : rawKey;
    const rawValue = eq < 0 ? "" : part.slice(eq + 1);
    const value = rawValue.includes("%") ? decodeComponent(rawValue) : rawValue;
    const entry = byKey.get(key);
    if (entry) entry.values.push(value);
    else byKey.set(key, { raw: rawKey, values: [value] });
  }
  const lowered = new Map<string, string>();
  for (const key of byKey.keys()) {
    const lower = key.toLowerCase();
    if (lowered.has(lower)) {
      throw new FormatError("token.query", `duplicate query parameter found: "${key}"`);
    }
    lowered.set(lower, key);
  }
  const params = new Map<string, string>();
  for (const [key, { raw: rawKey, values }] of byKey) {
    if (!ALLOWED_KEYS.has(key) || rawKey !== key) {
      throw new FormatError("token.query", `non-whitelisted query parameter "${rawKey}"`);
    }
    if (values.length !== 1) {
      throw new FormatError("token.query", "query parameter with multiple values not supported");
    }
    params.set(key, values[0]!);
  }
  return params;
}

/**
 * Runs every local check on a token, in the Go tool's order, and returns what the STS call
 * needs. Never touches the network.
 *
 * @throws {FormatError} naming the first check that failed, never echoing the token or URL.
 */
export function checkToken(token: string, o: TokenCheckOptions): CheckedToken {
  if (token.length > MAX_TOKEN_BYTES) {
    throw new FormatError("token.too_large", "token is too large");
  }
  let url: string;
  try {
    if (!token.startsWith(TOKEN_PREFIX)) {
      throw new FormatError("token.prefix", `token is missing expected "${TOKEN_PREFIX}" prefix`);
    }
    url = decodeBase64Url(token.slice(TOKEN_PREFIX.length));
  } catch (e) {
    // Only a token with non-ASCII characters can be short in UTF-16 units but long in bytes,
    // and such a token always fails one of the two checks above: measure it only then, so the
    // size check still comes first as in the Go tool.
    if (new TextEncoder().encode(token).length > MAX_TOKEN_BYTES) {
      throw new FormatError("token.too_large", "token is too large");
    }
    throw e;
  }

  if (!PRINTABLE_RE.test(url)) {
    let i = 0;
    while (i < url.length && /[\x21-\x7e]/.test(url[i]!)) i++;
    throw new FormatError(
      "token.encoding",
      `pre-signed URL has a byte that is not printable ASCII at offset ${i}`,
    );
  }
  const m = URL_RE.exec(url);
  if (!m) {
    throw new FormatError("token.url", "could not parse pre-signed URL: missing protocol scheme");
  }
  const scheme = m[1]!;
  const host = m[2]!;
  const path = m[3]!;
  const rawQuery = m[4] ?? "";

  let stsRegion: string;
  if (o.overrideOrigin !== undefined && `${scheme}://${host}` === o.overrideOrigin) {
    stsRegion = o.overrideRegion ?? "custom";
  } else {
    // Lower-case only: real signers write `https`, and a scheme the WHATWG URL would rewrite
    // would break the byte-for-byte guarantee.
    if (scheme !== "https") {
      throw new FormatError("token.url", `unexpected scheme "${scheme}" in pre-signed URL`);
    }
    if (host.includes("@")) {
      throw new FormatError("token.url", "unexpected user information in pre-signed URL");
    }
    stsRegion = o.checkHost(host);
  }
  if (path !== "/") throw new FormatError("token.url", "unexpected path in pre-signed URL");
  if (m[5] !== undefined) {
    throw new FormatError("token.url", "unexpected fragment in pre-signed URL");
  }

  const params = checkQuery(rawQuery);
  if (params.get("Action") !== "GetCallerIdentity") {
    throw new FormatError("token.action", "unexpected action parameter in pre-signed URL");
  }
  if (params.get("Version") !== "2011-06-15") {
    throw new FormatError("token.action", "unexpected version parameter in pre-signed URL");
  }
  if (params.get("X-Amz-Algorithm") !== "AWS4-HMAC-SHA256") {
    throw new FormatError("token.query", "unexpected X-Amz-Algorithm parameter in pre-signed URL");
  }
  const signedHeaders = (params.get("X-Amz-SignedHeaders") ?? "").split(";");
  if (!signedHeaders.some((h) => h.toLowerCase() === "x-k8s-aws-id")) {
    throw new FormatError(
      "token.cluster_unsigned",
      "client did not sign the x-k8s-aws-id header in the pre-signed URL",
    );
  }
  const expires = params.get("X-Amz-Expires");
  if (expires === undefined || !EXPIRES_RE.test(expires) || Number(expires) > 900) {
    throw new FormatError(
      "token.query",
      `invalid X-Amz-Expires parameter in pre-signed URL: ${atoiForMessage(expires)}`,
    );
  }
  const date = params.get("X-Amz-Date") ?? "";
  if (date === "") {
    throw new FormatError("token.query", "X-Amz-Date parameter must be present in pre-signed URL");
  }
  const credential = params.get("X-Amz-Credential") ?? "";
  if (credential === "") {
    throw new FormatError(
      "token.query",
      "X-Amz-Credential parameter must be present in pre-signed URL",
    );
  }
  if ((params.get("X-Amz-Signature") ?? "") === "") {
    throw new FormatError(
      "token.query",
      "X-Amz-Signature parameter must be present in pre-signed URL",
    );
  }
  const slash = credential.indexOf("/");
  const accessKeyId = slash < 0 ? credential : credential.slice(0, slash);
  const signedAt = parseAmzDate(date);
  if (!signedAt) {
    throw new FormatError(
      "token.query",
      `error parsing X-Amz-Date parameter ${date} into format 20060102T150405Z: not a valid UTC time of the form YYYYMMDDTHHMMSSZ`,
    );
  }
  const expiresAt = new Date(signedAt.getTime() + PRESIGNED_URL_VALIDITY_MS);
  const now = o.now.getTime();
  if (now > expiresAt.getTime()) {
    throw new FormatError(
      "token.expired",
      `X-Amz-Date parameter is expired (15 minute expiration) ${goUtc(signedAt)}`,
    );
  }
  if (signedAt.getTime() > now + MAX_FUTURE_SKEW_MS) {
    throw new FormatError(
      "token.future",
      `X-Amz-Date parameter is in the future (more than 5 minutes ahead of this server's clock) ${
        goUtc(signedAt)
      }`,
    );
  }
  // Belt and braces for case 52: the grammar above admits only strings the WHATWG URL
  // serializes unchanged; if that ever stops holding, refuse rather than fetch something else.
  let serialized: string;
  try {
    serialized = new URL(url).href;
  } catch {
    serialized = "";
  }
  if (serialized !== url) {
    throw new FormatError("token.url", "pre-signed URL is not in canonical form");
  }
  return { url, host, stsRegion, accessKeyId, signedAt, expiresAt };
}
