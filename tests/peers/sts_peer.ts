/**
 * A fake AWS STS that checks SigV4 signatures for real.
 *
 * moto does not verify presigned requests at all, so it cannot tell a valid token from a
 * forged one. This peer recomputes every signature with the secret of the key named in the
 * credential, so a token that verifies here would verify at AWS (modulo IAM policy), and a
 * tampered one fails the way AWS fails it. The SigV4 code is deliberately hand-written on
 * `node:crypto`'s HMAC and SHA-256 and independent of `aws4fetch`, which signs our own tokens: a
 * bug shared by signer and checker would otherwise go unnoticed.
 *
 * Supported: query-presigned GET `GetCallerIdentity` (what tokens are), header-signed
 * `GetCallerIdentity` and `AssumeRole` (form POST, as botocore and the JS SDK send them).
 * Answers JSON when the request says `Accept: application/json`, XML otherwise, with STS error
 * codes and statuses. Plain HTTP/1.1 by default; with the `tls` option HTTPS, HTTP/2 or HTTP/1.1
 * as the client's ALPN asks (over HTTP/2 the signed `host` is the `:authority`), or HTTP/1.1 alone
 * with `tls.http1Only`, as most AWS API endpoints offer. It counts the client connections that
 * sent requests, so a benchmark can tell how often a client opened a new one.
 *
 * Library use: `const peer = await startStsPeer({ principals: [...] })`.
 * CLI use: `deno run -A tests/peers/sts_peer.ts --port 0 --principals file.json` prints the URL
 * as the first line of stdout and serves until SIGINT/SIGTERM.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash, createHmac } from "node:crypto";
import { type Http1Exchange, serveHttp1 } from "./http1_server.ts";

/** A caller the peer knows: long-term (`AKIA…`) or temporary (`ASIA…` with a session token). */
export interface PeerPrincipal {
  /** The access key ID named in `X-Amz-Credential`. */
  accessKeyId: string;
  /** The secret the signature is recomputed with. */
  secretAccessKey: string;
  /** Required on every request signed with this key when set (temporary credentials). */
  sessionToken?: string;
  /** What GetCallerIdentity answers as `Arn`. */
  arn: string;
  /** What GetCallerIdentity answers as `UserId` (`AIDA…`, or `AROA…:session` for roles). */
  userId: string;
  /** What GetCallerIdentity answers as `Account`. */
  account: string;
  /** After this instant requests with the key fail with `ExpiredToken`; unset = never. */
  expiresAt?: Date;
}

/** A role that principals can assume with AssumeRole. */
export interface PeerRole {
  /** `arn:aws:iam::ACCT:role/path/Name`; the path is dropped from assumed-role ARNs, as STS does. */
  arn: string;
  /** The role's unique ID, `AROA…`; session user IDs are `roleId:sessionName`. */
  roleId: string;
  /** Trust policy; default trusts every known principal. */
  trust?: (caller: PeerPrincipal) => boolean;
  /** When set, AssumeRole must carry exactly this `ExternalId`. */
  externalId?: string;
}

/** How to start the peer. */
export interface StsPeerOptions {
  /** Known callers. */
  principals?: PeerPrincipal[];
  /** Assumable roles. */
  roles?: PeerRole[];
  /**
   * Every answer leaves this many milliseconds after its request arrived (the peer's own work
   * included, as STS's is in its round trip).
   */
  latencyMs?: number;
  /** Listen address; default `127.0.0.1`. */
  hostname?: string;
  /**
   * Serve HTTPS with this PEM certificate chain and key (HTTP/2 and HTTP/1.1, chosen by ALPN);
   * unset: plain HTTP/1.1. With `http1Only` the TLS handshake offers only `http/1.1` in ALPN,
   * so every client speaks HTTP/1.1 and needs a connection per concurrent request (served by
   * `node:https`: `Deno.serve` always offers `h2`).
   */
  tls?: { cert: string; key: string; http1Only?: boolean };
  /** Listen port; default 0 (ephemeral). */
  port?: number;
  /** Clock used for signature validity and temporary-credential expiry. */
  now?: () => Date;
  /**
   * When set, the credential scope region must be exactly this (STS answers
   * `SignatureDoesNotMatch: Credential should be scoped to a valid region` otherwise).
   * Unset: any syntactically valid region is accepted, since a peer on 127.0.0.1 has no
   * region of its own.
   */
  region?: string;
  /**
   * `"deno"` (default): `Deno.serve`. `"tcp"`: the small HTTP/1.1 server of
   * `http1_server.ts` on a raw listener, which can also reset a connection before answering
   * or leave it hanging (the `reset` and `hang` faults need it).
   */
  transport?: "deno" | "tcp";
  /** Called once per request when its answer has left (or its connection was dropped). */
  onAnswer?: (record: StsAnswerRecord) => void;
}

/** What the peer did with one request, for an oracle that must know every STS answer. */
export interface StsAnswerRecord {
  /** HTTP method. */
  method: string;
  /** The raw query of the request target, exactly as received. */
  query: string;
  /** The fault injected instead of (or, for `spike`, before) the real answer, if any. */
  fault?: StsFaultKind;
  /** Status of the answer sent; unset when the connection was reset or left hanging. */
  status?: number;
  /** STS error code of the answer, when it was an STS error (injected or real). */
  code?: string;
  /** The error message's first 120 characters (tells an expired signature from a wrong one). */
  message?: string;
  /** The caller's ARN of a successful `GetCallerIdentity` or `AssumeRole`. */
  arn?: string;
  /** `performance.now()` when the request arrived. */
  arrivedAt: number;
  /** `performance.now()` when the answer left, or the connection was reset. */
  answeredAt: number;
}

/**
 * Injected fault kinds: `throttle` (400 `Throttling`), `status` (an error status, 5xx for the
 * random ones), `garbage` (200 with a body that is not an STS answer), `reset` (the connection
 * is closed before any answer), `hang` (no answer until the hang is released, then a reset),
 * `spike` (the real answer, held past the server's STS timeout).
 */
export type StsFaultKind = "throttle" | "status" | "garbage" | "reset" | "hang" | "spike";

/**
 * Faults drawn per request: one uniform draw against the cumulative probabilities, in the order
 * of the fields (their sum must not exceed 1). The answer is decided on arrival.
 */
export interface StsRandomFaults {
  /** Probability of a throttling answer. */
  throttle?: number;
  /** Probability of a 500 or 503 `InternalFailure`. */
  status5xx?: number;
  /** Probability of a connection reset before any answer (`transport: "tcp"`). */
  reset?: number;
  /** Probability of a hang (`transport: "tcp"`). */
  hang?: number;
  /** Probability of a 200 answer whose body is garbage. */
  garbage?: number;
  /** Probability of a latency spike. */
  spike?: number;
  /** How long a spike holds the answer; default 11,000 ms, past the server's 10 s timeout. */
  spikeMs?: number;
  /** How long a hang holds the connection before resetting it; default 15,000 ms. */
  hangMs?: number;
  /** The draw in [0, 1); default `Math.random` (pass a seeded generator to reproduce a run). */
  random?: () => number;
}

/** Faults injected into every answer until changed; `setFaults({})` clears them. */
export interface StsPeerFaults {
  /** Answer 400 `Throttling` / `Rate exceeded`. */
  throttle?: boolean;
  /** Answer with this HTTP status (and `body`, or an STS `InternalFailure` error body). */
  status?: number;
  /** Replaces `latencyMs` for requests arriving from now on. */
  latencyMs?: number;
  /** Answer this raw body (with `status`, default 200) instead of the real answer. */
  body?: string;
  /** Close the connection before answering (`transport: "tcp"`). */
  reset?: boolean;
  /** Hold every request without answering until `releaseHangs()` (`transport: "tcp"`). */
  hang?: boolean;
  /** Faults drawn per request when none of the fixed ones above is set. */
  random?: StsRandomFaults;
}

/** A request as the peer received it (for assertions on what a client sent). */
export interface RecordedRequest {
  /** HTTP method. */
  method: string;
  /** The request URL as the server saw it. */
  url: string;
  /** All request headers, lower-cased names. */
  headers: Record<string, string>;
}

/** A running peer. */
export interface StsPeer {
  /** `http://127.0.0.1:PORT` (`https://` with `tls`), usable as `AWS_ENDPOINT_URL_STS`. */
  url: string;
  /** Registers another caller. */
  addPrincipal(p: PeerPrincipal): void;
  /** Registers another role. */
  addRole(r: PeerRole): void;
  /** Replaces the current faults. */
  setFaults(f: StsPeerFaults): void;
  /** Resets the connection of every request held by a `hang` now; returns how many. */
  releaseHangs(): number;
  /** Requests received so far (every method, every path). */
  readonly requestCount: number;
  /** The most recent request, if any. */
  readonly lastRequest: RecordedRequest | undefined;
  /**
   * Client connections that have sent at least one request so far, told apart by the client's
   * address and port.
   */
  readonly connectionCount: number;
  /** Stops the server and waits for in-flight requests. */
  close(): Promise<void>;
}

const STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/";
/** Bodies of the `garbage` fault: what a proxy, a captive portal or a cut answer looks like. */
const GARBAGE_BODIES = [
  "<html><body>Service Unavailable</body></html>",
  '{"GetCallerIdentityResponse":{"GetCallerIdentityResult":{"Arn":',
  "\u0000\u0001\u0002 not json",
  '{"GetCallerIdentityResponse":{"GetCallerIdentityResult":{}}}',
];

/** What `answer` found out, for the answer record. */
interface AnswerNote {
  arn?: string;
  code?: string;
  message?: string;
}
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const PRESIGN_VALIDITY_MS = 15 * 60 * 1000;
/** Header-signed requests: AWS allows 5 minutes of clock skew either way. */
const HEADER_SKEW_MS = 5 * 60 * 1000;
const REGION_RE = /^[a-z]{2,4}(-[a-z0-9]+)+-\d+$/;
const SESSION_NAME_RE = /^[\w+=,.@-]{2,64}$/;

class StsFault extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const enc = new TextEncoder();

function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

// Synchronous node:crypto on purpose: each WebCrypto call is a round trip through the thread
// pool, and a presigned GET needs seven of them; the peer shares the machine with the server
// it is benchmarked against (`deno task bench:server`).
function hmac(key: Uint8Array | string, data: string): Buffer {
  return createHmac("sha256", key).update(data).digest();
}

/**
 * The SigV4 signing key of a (secret, date, region, service) scope. The derivation is four
 * HMACs that depend only on the scope, so it is remembered (boundedly) as AWS does.
 */
const signingKeys = new Map<string, Buffer>();
const SIGNING_KEY_CACHE_SIZE = 4096;

function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  const cacheKey = `${secret}\n${date}\n${region}\n${service}`;
  let key = signingKeys.get(cacheKey);
  if (key === undefined) {
    key = hmac(hmac(hmac(hmac("AWS4" + secret, date), region), service), "aws4_request");
    if (signingKeys.size >= SIGNING_KEY_CACHE_SIZE) signingKeys.clear();
    signingKeys.set(cacheKey, key);
  }
  return key;
}

const UNRESERVED_RE = /^[A-Za-z0-9\-_.~]*$/;

/** SigV4 URI encoding: everything but `A-Za-z0-9-_.~` as `%XX` (upper-case) of the UTF-8 bytes. */
function uriEncode(s: string, keepSlash = false): string {
  if (UNRESERVED_RE.test(s)) return s;
  let out = "";
  for (const b of enc.encode(s)) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c) || (keepSlash && c === "/")) out += c;
    else out += "%" + b.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

/** Percent-decodes a query component the way AWS's front end does (`+` is a space). */
function queryDecode(s: string): string {
  try {
    return decodeURIComponent(s.replaceAll("+", " "));
  } catch {
    throw new StsFault(400, "MalformedQueryString", "The query string is malformed.");
  }
}

/** Parses a raw `a=b&c=d` string into ordered pairs (keys may repeat). */
function parsePairs(raw: string): [string, string][] {
  if (raw === "") return [];
  return raw.split("&").filter((p) => p !== "").map((p) => {
    const i = p.indexOf("=");
    return i < 0 ? [queryDecode(p), ""] : [queryDecode(p.slice(0, i)), queryDecode(p.slice(i + 1))];
  });
}

function canonicalQuery(pairs: [string, string][]): string {
  return pairs
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
}

/** Canonical URI for non-S3 services: each segment of the (still encoded) path encoded again. */
function canonicalUri(rawPath: string): string {
  if (rawPath === "") return "/";
  return rawPath.split("/").map((seg) => uriEncode(seg)).join("/");
}

function parseAmzDate(v: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(v);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
  const t = Date.UTC(y!, mo! - 1, d!, h!, mi!, s!);
  const date = new Date(t);
  // Reject rollover dates such as 20260230.
  if (date.getUTCDate() !== d || date.getUTCMonth() !== mo! - 1) return undefined;
  return date;
}

function amzDate(d: Date): string {
  return d.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

function xmlEscape(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll(
    '"',
    "&quot;",
  );
}

function randomString(alphabet: string, n: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(n));
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
}

const UPPER_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

interface AuthInfo {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  terminator: string;
  signedHeaders: string[];
  signature: string;
  amzDate: string;
  /** Session token as sent (query or header), if any. */
  sessionToken: string | undefined;
  /** Candidate payload hashes: the signer may have used either. */
  payloadHashes: string[];
  /** Query pairs that go into the canonical query (signature excluded for presigned). */
  queryPairs: [string, string][];
  presigned: boolean;
}

/** Splits `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`. */
function parseAuthorization(h: string): Record<string, string> {
  const prefix = "AWS4-HMAC-SHA256 ";
  if (!h.startsWith(prefix)) {
    throw new StsFault(
      400,
      "IncompleteSignature",
      "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
    );
  }
  const out: Record<string, string> = {};
  for (const part of h.slice(prefix.length).split(",")) {
    const p = part.trim();
    const i = p.indexOf("=");
    if (i > 0) out[p.slice(0, i)] = p.slice(i + 1);
  }
  return out;
}

function splitCredential(
  cred: string,
): Omit<
  AuthInfo,
  | "signedHeaders"
  | "signature"
  | "amzDate"
  | "sessionToken"
  | "payloadHashes"
  | "queryPairs"
  | "presigned"
> {
  const parts = cred.split("/");
  if (parts.length !== 5) {
    throw new StsFault(
      400,
      "IncompleteSignature",
      `Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '${cred}'`,
    );
  }
  const [accessKeyId, date, region, service, terminator] = parts as [
    string,
    string,
    string,
    string,
    string,
  ];
  return { accessKeyId, date, region, service, terminator };
}

function lowerHeaders(req: Request): Record<string, string> {
  const out: Record<string, string> = {};
  req.headers.forEach((v, k) => {
    out[k.toLowerCase()] = v;
  });
  // HTTP/2 carries the host as the `:authority` pseudo-header, which Deno.serve puts into the
  // URL but not into the headers; SigV4 signs it as `host` either way, and so does AWS.
  if (out["host"] === undefined) out["host"] = new URL(req.url).host;
  return out;
}

/** Starts the peer on 127.0.0.1 (ephemeral port unless told otherwise). */
export function startStsPeer(o: StsPeerOptions = {}): Promise<StsPeer> {
  const now = o.now ?? (() => new Date());
  const principals = new Map<string, PeerPrincipal>();
  const roles = new Map<string, PeerRole>();
  for (const p of o.principals ?? []) principals.set(p.accessKeyId, p);
  for (const r of o.roles ?? []) roles.set(r.arn, r);
  let faults: StsPeerFaults = {};
  let requestCount = 0;
  let lastRequest: RecordedRequest | undefined;
  const clients = new Set<unknown>();

  function rawTarget(req: Request): { path: string; query: string } {
    // The WHATWG URL keeps the path and query bytes as the client sent them (already
    // percent-encoded), which is what the signer canonicalized.
    const u = req.url;
    const afterScheme = u.indexOf("//") + 2;
    const pathStart = u.indexOf("/", afterScheme);
    const target = pathStart < 0 ? "/" : u.slice(pathStart);
    const q = target.indexOf("?");
    return q < 0
      ? { path: target, query: "" }
      : { path: target.slice(0, q), query: target.slice(q + 1) };
  }

  function authenticate(
    req: Request,
    headers: Record<string, string>,
    path: string,
    rawQuery: string,
    body: Uint8Array<ArrayBuffer>,
  ): PeerPrincipal {
    const queryPairs = parsePairs(rawQuery);
    const q = (name: string) => queryPairs.find(([k]) => k === name)?.[1];
    let info: AuthInfo;
    if (headers["authorization"] !== undefined) {
      const a = parseAuthorization(headers["authorization"]);
      if (!a["Credential"] || !a["SignedHeaders"] || !a["Signature"]) {
        throw new StsFault(
          400,
          "IncompleteSignature",
          "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.",
        );
      }
      const date = headers["x-amz-date"];
      if (!date) {
        throw new StsFault(
          400,
          "IncompleteSignature",
          "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        );
      }
      const bodyHash = sha256Hex(body);
      const claimed = headers["x-amz-content-sha256"];
      if (claimed !== undefined && claimed !== bodyHash && claimed !== "UNSIGNED-PAYLOAD") {
        throw new StsFault(
          400,
          "XAmzContentSHA256Mismatch",
          "The provided 'x-amz-content-sha256' header does not match what was computed.",
        );
      }
      info = {
        ...splitCredential(a["Credential"]),
        signedHeaders: a["SignedHeaders"].split(";"),
        signature: a["Signature"],
        amzDate: date,
        sessionToken: headers["x-amz-security-token"],
        payloadHashes: [claimed ?? bodyHash],
        queryPairs,
        presigned: false,
      };
    } else if (q("X-Amz-Signature") !== undefined || q("X-Amz-Credential") !== undefined) {
      const cred = q("X-Amz-Credential");
      const sig = q("X-Amz-Signature");
      const sh = q("X-Amz-SignedHeaders");
      const date = q("X-Amz-Date");
      if (cred === undefined || sig === undefined || sh === undefined || date === undefined) {
        throw new StsFault(
          400,
          "AuthorizationQueryParametersError",
          "X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date and X-Amz-SignedHeaders are required query parameters.",
        );
      }
      if (q("X-Amz-Algorithm") !== "AWS4-HMAC-SHA256") {
        throw new StsFault(
          400,
          "AuthorizationQueryParametersError",
          'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256".',
        );
      }
      // A presigned GET has no body; signers differ on the payload hash they sign (botocore:
      // UNSIGNED-PAYLOAD, Go SDK and aws4fetch: the empty-string hash). AWS accepts both.
      info = {
        ...splitCredential(cred),
        signedHeaders: sh.split(";"),
        signature: sig,
        amzDate: date,
        sessionToken: q("X-Amz-Security-Token"),
        payloadHashes: [EMPTY_SHA256, "UNSIGNED-PAYLOAD"],
        queryPairs: queryPairs.filter(([k]) => k !== "X-Amz-Signature"),
        presigned: true,
      };
    } else {
      throw new StsFault(
        403,
        "MissingAuthenticationToken",
        "Request is missing Authentication Token",
      );
    }

    const signedAt = parseAmzDate(info.amzDate);
    if (!signedAt) {
      throw new StsFault(
        400,
        "IncompleteSignature",
        `Date must be in ISO-8601 'basic format'. Got '${info.amzDate}'. See http://en.wikipedia.org/wiki/ISO_8601`,
      );
    }
    const t = now().getTime();
    if (info.presigned) {
      if (t > signedAt.getTime() + PRESIGN_VALIDITY_MS) {
        throw new StsFault(
          403,
          "SignatureDoesNotMatch",
          `Signature expired: ${info.amzDate} is now earlier than ${
            amzDate(new Date(t - PRESIGN_VALIDITY_MS))
          } (${amzDate(new Date(t))} - 15 min.)`,
        );
      }
      if (signedAt.getTime() > t + PRESIGN_VALIDITY_MS) {
        throw new StsFault(
          403,
          "SignatureDoesNotMatch",
          `Signature not yet current: ${info.amzDate} is still later than ${
            amzDate(new Date(t + PRESIGN_VALIDITY_MS))
          } (${amzDate(new Date(t))} + 15 min.)`,
        );
      }
    } else if (Math.abs(t - signedAt.getTime()) > HEADER_SKEW_MS) {
      throw new StsFault(
        403,
        "SignatureDoesNotMatch",
        `Signature expired: ${info.amzDate} is now earlier than ${
          amzDate(new Date(t - HEADER_SKEW_MS))
        } (${amzDate(new Date(t))} - 5 min.)`,
      );
    }

    if (info.service !== "sts" || info.terminator !== "aws4_request") {
      throw new StsFault(
        403,
        "SignatureDoesNotMatch",
        `Credential should be scoped to correct service: 'sts'.`,
      );
    }
    if (info.date !== info.amzDate.slice(0, 8)) {
      throw new StsFault(
        403,
        "SignatureDoesNotMatch",
        `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${info.date}' != '${
          info.amzDate.slice(0, 8)
        }', from '${info.amzDate}'.`,
      );
    }
    if (o.region !== undefined ? info.region !== o.region : !REGION_RE.test(info.region)) {
      throw new StsFault(
        403,
        "SignatureDoesNotMatch",
        `Credential should be scoped to a valid region. `,
      );
    }

    const principal = principals.get(info.accessKeyId);
    if (!principal) {
      throw new StsFault(
        403,
        "InvalidClientTokenId",
        "The security token included in the request is invalid.",
      );
    }
    if (principal.sessionToken !== info.sessionToken) {
      throw new StsFault(
        403,
        "InvalidClientTokenId",
        "The security token included in the request is invalid.",
      );
    }
    if (principal.expiresAt && t > principal.expiresAt.getTime()) {
      throw new StsFault(
        400,
        "ExpiredToken",
        "The security token included in the request is expired",
      );
    }

    const signed = info.signedHeaders;
    if (!signed.includes("host") || signed.some((h) => h !== h.toLowerCase() || h === "")) {
      throw new StsFault(
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
      );
    }
    let canonHeaders = "";
    for (const name of signed) {
      const v = headers[name];
      if (v === undefined) {
        throw new StsFault(
          403,
          "SignatureDoesNotMatch",
          `The request signature we calculated does not match the signature you provided. Signed header '${name}' is missing from the request.`,
        );
      }
      canonHeaders += `${name}:${v.trim().replace(/\s+/g, " ")}\n`;
    }
    const scope = `${info.date}/${info.region}/${info.service}/${info.terminator}`;
    const key = signingKey(principal.secretAccessKey, info.date, info.region, info.service);
    for (const payloadHash of info.payloadHashes) {
      const creq = [
        req.method,
        canonicalUri(path),
        canonicalQuery(info.queryPairs),
        canonHeaders,
        signed.join(";"),
        payloadHash,
      ].join("\n");
      const sts = ["AWS4-HMAC-SHA256", info.amzDate, scope, sha256Hex(creq)].join("\n");
      const expected = hmac(key, sts).toString("hex");
      if (timingSafeEqual(expected, info.signature)) return principal;
    }
    throw new StsFault(
      403,
      "SignatureDoesNotMatch",
      "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
    );
  }

  function assumeRole(caller: PeerPrincipal, params: Map<string, string>): {
    principal: PeerPrincipal;
    role: PeerRole;
    sessionName: string;
    expiresAt: Date;
  } {
    const roleArn = params.get("RoleArn");
    const sessionName = params.get("RoleSessionName");
    if (!roleArn || !sessionName) {
      throw new StsFault(
        400,
        "ValidationError",
        `1 validation error detected: Value null at '${
          roleArn ? "roleSessionName" : "roleArn"
        }' failed to satisfy constraint: Member must not be null`,
      );
    }
    if (!SESSION_NAME_RE.test(sessionName)) {
      throw new StsFault(
        400,
        "ValidationError",
        `1 validation error detected: Value '${sessionName}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*`,
      );
    }
    const durationRaw = params.get("DurationSeconds");
    const duration = durationRaw === undefined ? 3600 : Number(durationRaw);
    if (!Number.isInteger(duration) || duration < 900 || duration > 43200) {
      throw new StsFault(
        400,
        "ValidationError",
        `1 validation error detected: Value '${durationRaw}' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200`,
      );
    }
    const role = roles.get(roleArn);
    const denied = new StsFault(
      403,
      "AccessDenied",
      `User: ${caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`,
    );
    if (!role) throw denied;
    if (role.trust && !role.trust(caller)) throw denied;
    if (role.externalId !== undefined && params.get("ExternalId") !== role.externalId) throw denied;
    // Role chaining is capped at one hour, as in STS.
    if (caller.arn.includes(":assumed-role/") && duration > 3600) {
      throw new StsFault(
        400,
        "ValidationError",
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
      );
    }
    const m = /^arn:([^:]+):iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(role.arn);
    if (!m) throw new StsFault(400, "ValidationError", `${role.arn} is invalid`);
    const [, partition, account, name] = m as unknown as [string, string, string, string];
    const expiresAt = new Date(now().getTime() + duration * 1000);
    const principal: PeerPrincipal = {
      accessKeyId: "ASIA" + randomString(UPPER_ALNUM, 16),
      secretAccessKey: randomString(SECRET_ALPHABET, 40),
      sessionToken: "FwoGZXIvYXdzE" + randomString(SECRET_ALPHABET, 200),
      arn: `arn:${partition}:sts::${account}:assumed-role/${name}/${sessionName}`,
      userId: `${role.roleId}:${sessionName}`,
      account,
      expiresAt,
    };
    principals.set(principal.accessKeyId, principal);
    return { principal, role, sessionName, expiresAt };
  }

  function respond(
    wantsJson: boolean,
    status: number,
    action: string,
    result: Record<string, unknown>,
    xmlResult: string,
  ): Response {
    const requestId = crypto.randomUUID();
    if (wantsJson) {
      return Response.json({
        [`${action}Response`]: {
          [`${action}Result`]: result,
          ResponseMetadata: { RequestId: requestId },
        },
      }, { status });
    }
    const xml =
      `<${action}Response xmlns="${STS_NS}">\n  <${action}Result>\n${xmlResult}  </${action}Result>\n` +
      `  <ResponseMetadata>\n    <RequestId>${requestId}</RequestId>\n  </ResponseMetadata>\n</${action}Response>\n`;
    return new Response(xml, { status, headers: { "content-type": "text/xml" } });
  }

  function errorResponse(wantsJson: boolean, f: StsFault): Response {
    const requestId = crypto.randomUUID();
    const type = f.status >= 500 ? "Receiver" : "Sender";
    if (wantsJson) {
      return Response.json({
        Error: { Code: f.code, Message: f.message, Type: type },
        RequestId: requestId,
      }, { status: f.status });
    }
    const xml = `<ErrorResponse xmlns="${STS_NS}">\n  <Error>\n    <Type>${type}</Type>\n` +
      `    <Code>${xmlEscape(f.code)}</Code>\n    <Message>${xmlEscape(f.message)}</Message>\n` +
      `  </Error>\n  <RequestId>${requestId}</RequestId>\n</ErrorResponse>\n`;
    return new Response(xml, { status: f.status, headers: { "content-type": "text/xml" } });
  }

  // Added latency: one timer per waiting request, kept in a map so that `close()` can release
  // them all at once and shutting down never waits out a long delay. Not `req.signal` (Deno
  // implements it with an op per request). An earlier single shared timer, re-armed for the
  // next deadline, looked cheaper but fired about every 2 ms under load (timer granularity
  // plus re-arming): at 64 connections and 20 ms it held the peer alone to 2,400 calls/s at
  // p50 26 ms, where one timer per request answers 2,680/s at p50 23 ms.
  const sleeping = new Map<ReturnType<typeof setTimeout>, () => void>();

  function wakeAll(): void {
    for (const [timer, wake] of sleeping) {
      clearTimeout(timer);
      wake();
    }
    sleeping.clear();
  }

  function sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((wake) => {
      const timer = setTimeout(() => {
        sleeping.delete(timer);
        wake();
      }, ms);
      sleeping.set(timer, wake);
    });
  }

  // Requests held by a `hang` fault, with the function that drops each one's connection.
  const hanging = new Map<ReturnType<typeof setTimeout>, () => void>();

  function hold(ms: number, exchange: Http1Exchange): Promise<void> {
    return new Promise((done) => {
      const timer = setTimeout(() => {
        hanging.delete(timer);
        exchange.reset();
        done();
      }, ms);
      hanging.set(timer, () => {
        clearTimeout(timer);
        exchange.reset();
        done();
      });
    });
  }

  function releaseHangs(): number {
    const n = hanging.size;
    const all = [...hanging.values()];
    hanging.clear();
    for (const release of all) release();
    return n;
  }

  /** The fault of a request arriving now: a fixed one, else a random draw, else none. */
  function pickFault(): { kind: StsFaultKind; f: StsPeerFaults } | undefined {
    if (faults.reset) return { kind: "reset", f: faults };
    if (faults.hang) return { kind: "hang", f: faults };
    if (faults.throttle) return { kind: "throttle", f: faults };
    if (faults.body !== undefined) return { kind: "garbage", f: faults };
    if (faults.status !== undefined) return { kind: "status", f: faults };
    const r = faults.random;
    if (r === undefined) return undefined;
    const draw = (r.random ?? Math.random)();
    let acc = 0;
    const hit = (p: number | undefined) => draw < (acc += p ?? 0);
    if (hit(r.throttle)) return { kind: "throttle", f: { throttle: true } };
    if (hit(r.status5xx)) return { kind: "status", f: { status: draw * 1e6 % 2 < 1 ? 500 : 503 } };
    if (hit(r.reset)) return { kind: "reset", f: {} };
    if (hit(r.hang)) return { kind: "hang", f: {} };
    if (hit(r.garbage)) {
      return { kind: "garbage", f: { body: GARBAGE_BODIES[Math.floor(draw * 1e6) % 4]! } };
    }
    if (hit(r.spike)) return { kind: "spike", f: {} };
    return undefined;
  }

  // The answer is worked out first and then held until `delay` after arrival, so the peer's
  // own work is part of the added latency, as STS's is part of its round trip. Checking the
  // signature after the wait put it on every call's critical path: timers that fire together
  // queued behind each other's SigV4 checks, which added about 2 ms at 64 connections (peer
  // alone: p50 23.5 ms for the nominal 20 ms).
  async function handle(
    req: Request,
    client: unknown,
    exchange?: Http1Exchange,
  ): Promise<Response | undefined> {
    const arrived = performance.now();
    requestCount++;
    clients.add(client);
    const headers = lowerHeaders(req);
    lastRequest = { method: req.method, url: req.url, headers };
    const fault = pickFault();
    const record = (r: Partial<StsAnswerRecord>) =>
      o.onAnswer?.({
        method: req.method,
        query: rawTarget(req).query,
        fault: fault?.kind,
        arrivedAt: arrived,
        answeredAt: performance.now(),
        ...r,
      });
    if (fault?.kind === "reset" || fault?.kind === "hang") {
      if (exchange === undefined) throw new Error("reset and hang faults need transport: tcp");
      // A fixed hang lasts until released; a random one until the server has long given up.
      const holdMs = fault.f === faults && faults.hang ? 600_000 : faults.random?.hangMs ?? 15_000;
      if (fault.kind === "hang") await hold(holdMs, exchange);
      else exchange.reset();
      record({});
      return undefined;
    }
    let delay = faults.latencyMs ?? o.latencyMs ?? 0;
    if (fault?.kind === "spike") delay = faults.random?.spikeMs ?? 11_000;
    const body = new Uint8Array(await req.arrayBuffer());
    const note: AnswerNote = {};
    const res = answer(req, headers, body, fault?.f ?? faults, note);
    // STS's own clock, as a real answer carries it (`explain` measures clock skew with it).
    res.headers.set("date", now().toUTCString());
    if (delay > 0) await sleep(delay - (performance.now() - arrived));
    record({ status: res.status, ...note });
    return res;
  }

  function answer(
    req: Request,
    headers: Record<string, string>,
    body: Uint8Array<ArrayBuffer>,
    f: StsPeerFaults = faults,
    note: AnswerNote = {},
  ): Response {
    const wantsJson = (headers["accept"] ?? "").includes("application/json");
    if (f.throttle) {
      note.code = "Throttling";
      return errorResponse(wantsJson, new StsFault(400, "Throttling", "Rate exceeded"));
    }
    if (f.body !== undefined) {
      return new Response(f.body, { status: f.status ?? 200 });
    }
    if (f.status !== undefined) {
      note.code = "InternalFailure";
      return errorResponse(
        wantsJson,
        new StsFault(
          f.status,
          "InternalFailure",
          "The request processing has failed because of an unknown error, exception or failure.",
        ),
      );
    }
    try {
      if (req.method !== "GET" && req.method !== "POST") {
        throw new StsFault(405, "MethodNotAllowed", `${req.method} is not supported.`);
      }
      const { path, query } = rawTarget(req);
      const params = new Map<string, string>();
      const pairs = parsePairs(query);
      const ct = headers["content-type"] ?? "";
      if (req.method === "POST" && ct.startsWith("application/x-www-form-urlencoded")) {
        pairs.push(...parsePairs(new TextDecoder().decode(body)));
      }
      for (const [k, v] of pairs) {
        if (params.has(k)) {
          throw new StsFault(
            400,
            "InvalidParameterValue",
            `Parameter ${k} was given more than once.`,
          );
        }
        params.set(k, v);
      }
      const action = params.get("Action");
      if (!action) throw new StsFault(400, "MissingAction", "Missing Action");
      if (params.get("Version") !== "2011-06-15") {
        throw new StsFault(
          400,
          "InvalidAction",
          `Could not find operation ${action} for version ${
            params.get("Version") ?? "NO_VERSION_SPECIFIED"
          }`,
        );
      }
      const caller = authenticate(req, headers, path, query, body);
      if (action === "GetCallerIdentity") {
        note.arn = caller.arn;
        return respond(
          wantsJson,
          200,
          action,
          {
            Account: caller.account,
            Arn: caller.arn,
            UserId: caller.userId,
          },
          `    <Arn>${xmlEscape(caller.arn)}</Arn>\n    <UserId>${
            xmlEscape(caller.userId)
          }</UserId>\n` +
            `    <Account>${caller.account}</Account>\n`,
        );
      }
      if (action === "AssumeRole") {
        const r = assumeRole(caller, params);
        const p = r.principal;
        note.arn = p.arn;
        const expiration = r.expiresAt.toISOString().replace(/\.\d{3}Z$/, "Z");
        return respond(
          wantsJson,
          200,
          action,
          {
            AssumedRoleUser: { Arn: p.arn, AssumedRoleId: p.userId },
            Credentials: {
              AccessKeyId: p.accessKeyId,
              SecretAccessKey: p.secretAccessKey,
              SessionToken: p.sessionToken,
              Expiration: r.expiresAt.getTime() / 1000,
            },
            PackedPolicySize: null,
            SourceIdentity: null,
          },
          `    <AssumedRoleUser>\n      <AssumedRoleId>${xmlEscape(p.userId)}</AssumedRoleId>\n` +
            `      <Arn>${xmlEscape(p.arn)}</Arn>\n    </AssumedRoleUser>\n    <Credentials>\n` +
            `      <AccessKeyId>${p.accessKeyId}</AccessKeyId>\n` +
            `      <SecretAccessKey>${xmlEscape(p.secretAccessKey)}</SecretAccessKey>\n` +
            `      <SessionToken>${xmlEscape(p.sessionToken ?? "")}</SessionToken>\n` +
            `      <Expiration>${expiration}</Expiration>\n    </Credentials>\n`,
        );
      }
      throw new StsFault(
        400,
        "InvalidAction",
        `Could not find operation ${action} for version 2011-06-15`,
      );
    } catch (e) {
      if (e instanceof StsFault) {
        note.code = e.code;
        note.message = e.message.slice(0, 120);
        return errorResponse(wantsJson, e);
      }
      note.code = "InternalFailure";
      return errorResponse(
        wantsJson,
        new StsFault(500, "InternalFailure", `peer failure: ${(e as Error).message}`),
      );
    }
  }

  const api = (url: string, close: () => Promise<void>): StsPeer => ({
    url,
    addPrincipal: (p) => void principals.set(p.accessKeyId, p),
    addRole: (r) => void roles.set(r.arn, r),
    setFaults: (f) => {
      if ((f.reset || f.hang || f.random?.reset || f.random?.hang) && o.transport !== "tcp") {
        throw new Error("the reset and hang faults need startStsPeer({ transport: 'tcp' })");
      }
      faults = { ...f };
    },
    releaseHangs,
    get requestCount() {
      return requestCount;
    },
    get lastRequest() {
      return lastRequest;
    },
    get connectionCount() {
      return clients.size;
    },
    close: () => {
      releaseHangs();
      const done = close();
      wakeAll();
      return done;
    },
  });
  const hostname = o.hostname ?? "127.0.0.1";
  const urlHost = (h: string) => h.includes(":") ? `[${h}]` : h;
  if (o.tls?.http1Only) {
    if (o.transport === "tcp") {
      throw new Error("the tcp transport serves plain HTTP/1.1 only; drop tls or transport");
    }
    return startHttp1Tls(o.tls, hostname, o.port ?? 0, handle, urlHost, api);
  }

  return new Promise((resolve, reject) => {
    try {
      const listen = { hostname, port: o.port ?? 0 };
      if (o.transport === "tcp" && o.tls !== undefined) {
        throw new Error("the tcp transport serves plain HTTP/1.1 only; drop tls or transport");
      }
      // The client's connection: its address and port, or (tcp) the connection's own reset.
      const server: { addr: Deno.NetAddr; shutdown(): Promise<void> } = o.transport === "tcp"
        ? serveHttp1(listen, (req, exchange) => handle(req, exchange.reset, exchange))
        : Deno.serve(
          { ...listen, onListen: () => {}, ...(o.tls ? { cert: o.tls.cert, key: o.tls.key } : {}) },
          async (req, info) =>
            (await handle(req, `${info.remoteAddr.hostname}:${info.remoteAddr.port}`)) ??
              new Response(null, { status: 500 }),
        );
      const addr = server.addr;
      resolve(
        api(
          `${o.tls ? "https" : "http"}://${urlHost(addr.hostname)}:${addr.port}`,
          () => server.shutdown(),
        ),
      );
    } catch (e) {
      reject(e);
    }
  });
}

/**
 * HTTPS that offers only `http/1.1` in ALPN, through `node:https` (whose server takes an ALPN
 * list), adapted to the peer's `Request` -> `Response` handler.
 */
async function startHttp1Tls(
  tls: { cert: string; key: string },
  hostname: string,
  port: number,
  handle: (req: Request, client: string) => Promise<Response | undefined>,
  urlHost: (h: string) => string,
  api: (url: string, close: () => Promise<void>) => StsPeer,
): Promise<StsPeer> {
  const https = await import("node:https");
  const server = https.createServer(
    { cert: tls.cert, key: tls.key, ALPNProtocols: ["http/1.1"] },
    (req, res) => {
      // A client that goes away mid-request rejects the body read ("aborted"): drop that
      // exchange rather than let the rejection end the peer.
      answer(req, res).catch(() => res.destroy());
    },
  );
  async function answer(
    req: import("node:http").IncomingMessage,
    res: import("node:http").ServerResponse,
  ): Promise<void> {
    const chunks: Uint8Array[] = [];
    for await (const chunk of req) chunks.push(chunk as Uint8Array);
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) {
      if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(", ") : v);
    }
    const body = chunks.length === 0 ? undefined : new Blob(chunks as BlobPart[]);
    const request = new Request(`https://${req.headers.host ?? hostname}${req.url}`, {
      method: req.method,
      headers,
      body,
    });
    const response = await handle(
      request,
      `${req.socket.remoteAddress}:${req.socket.remotePort}`,
    ) ?? new Response(null, { status: 500 });
    const out = new Uint8Array(await response.arrayBuffer());
    // With a declared length, as STS answers (node:http would otherwise send it chunked).
    res.writeHead(response.status, {
      ...Object.fromEntries(response.headers),
      "content-length": String(out.byteLength),
    });
    res.end(out);
  }
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, hostname, () => resolve());
  });
  const addr = server.address() as { address: string; port: number };
  return api(`https://${urlHost(addr.address)}:${addr.port}`, () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }));
}

function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** The principals file of the CLI mode: a list of principals, or principals plus roles. */
interface PeerFile {
  principals?: PeerPrincipal[];
  roles?: (Omit<PeerRole, "trust"> & { trustedPrincipalArns?: string[] })[];
}

async function cliMain(args: string[]): Promise<number> {
  const { parseArgs } = await import("node:util");
  const { values } = parseArgs({
    args,
    options: {
      port: { type: "string", default: "0" },
      hostname: { type: "string", default: "127.0.0.1" },
      principals: { type: "string" },
      "latency-ms": { type: "string" },
      region: { type: "string" },
    },
  });
  let file: PeerFile = {};
  if (values.principals) {
    const parsed = JSON.parse(await Deno.readTextFile(values.principals)) as
      | PeerPrincipal[]
      | PeerFile;
    file = Array.isArray(parsed) ? { principals: parsed } : parsed;
  }
  const peer = await startStsPeer({
    port: Number(values.port),
    hostname: values.hostname,
    latencyMs: values["latency-ms"] ? Number(values["latency-ms"]) : undefined,
    region: values.region,
    principals: file.principals,
    roles: (file.roles ?? []).map((r) => ({
      arn: r.arn,
      roleId: r.roleId,
      externalId: r.externalId,
      trust: r.trustedPrincipalArns
        ? (c: PeerPrincipal) => r.trustedPrincipalArns!.includes(c.arn)
        : undefined,
    })),
  });
  await Deno.stdout.write(enc.encode(peer.url + "\n"));
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
  });
  await peer.close();
  return 0;
}

if (import.meta.main) {
  Deno.exit(await cliMain(Deno.args));
}
