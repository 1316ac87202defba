/**
 * The one outbound request of verification: the presigned GetCallerIdentity GET
 * (docs/verification.md#the-sts-call and docs/verification.md#sts-answer; docs/security.md
 * cases 29-35).
 *
 * The request is built here, not taken from the client: only `GET`, only the two headers the
 * verifier chooses (its own cluster ID and `accept: application/json`), no redirects, a
 * deadline and a cap on the answer. The answer must be the exact JSON shape STS sends, with
 * every field present; anything else (XML, HTML from a proxy, a reflected error page) is a
 * failure, never a partial identity.
 *
 * @module
 */

import { canonicalizeArn, parseArn } from "../aws/mod.ts";
import type { ReasonId } from "../reasons/mod.ts";
import { STSError, STSThrottling } from "./errors.ts";
import type { Identity } from "./identity.ts";
import type { CheckedToken } from "./token.ts";

/** Metric hooks for the STS call, labelled like the Go tool's metrics. */
export interface StsObserver {
  /** Every HTTP response (`sts_responses_total{ResponseCode,StsRegion}`). */
  response(code: number, stsRegion: string): void;
  /** No response at all (`sts_connection_failures_total{StsRegion}`). */
  connectionFailure(stsRegion: string): void;
  /** A throttling answer (`sts_throttling_total{StsRegion}`). */
  throttled(stsRegion: string): void;
}

/**
 * Arms a deadline: `onExpire` runs once `ms` have passed, unless the returned function is called
 * first. The server passes one coarse timer shared by all reviews; the default is `setTimeout`.
 */
export type SetDeadline = (ms: number, onExpire: () => void) => () => void;

/** A {@link SetDeadline} on `setTimeout`: one runtime timer per deadline, exact. */
export function timeoutDeadline(ms: number, onExpire: () => void): () => void {
  const timer = setTimeout(onExpire, ms);
  return () => clearTimeout(timer);
}

/** How the STS call is made. */
export interface StsCallOptions {
  /** Sent as `x-k8s-aws-id`: the server's own cluster ID, never the client's. */
  clusterId: string;
  /** Injected `fetch`. */
  fetch: typeof fetch;
  /** Deadline for the whole exchange, body included. */
  timeoutMs: number;
  /** How the deadline is armed; default {@link timeoutDeadline}. */
  setDeadline?: SetDeadline;
  /** Largest answer read; a longer one is a failure. */
  maxResponseBytes: number;
  /** Metric hooks. */
  observer?: StsObserver;
  /**
   * Sees the status and headers of every STS answer (`explain` reads the `Date` header to
   * measure clock skew); never the body.
   */
  onAnswer?: (status: number, headers: Headers) => void;
}

/** Reads at most `max` bytes of a body; `undefined` when it is longer. */
async function readCapped(res: Response, max: number): Promise<Uint8Array | undefined> {
  const declared = res.headers.get("content-length");
  // An unencoded body with a declared length arrives as exactly that many bytes, so it is read
  // natively in one go (half the CPU of a stream reader on the per-review path). Not with a
  // Content-Encoding: fetch decompresses, and the declared length bounds only the compressed
  // bytes.
  if (declared !== null && /^[0-9]{1,15}$/.test(declared) && !res.headers.has("content-encoding")) {
    if (Number(declared) > max) {
      await res.body?.cancel();
      return undefined;
    }
    const bytes = await res.bytes();
    // Only a Response built in memory can carry more than it declares; refuse it all the same.
    return bytes.byteLength > max ? undefined : bytes;
  }
  if (!res.body) return new Uint8Array();
  let byob: ReadableStreamBYOBReader;
  try {
    byob = res.body.getReader({ mode: "byob" });
  } catch {
    // Not a byte stream (a Response built in memory from a plain ReadableStream).
    return await readChunks(res.body, max);
  }
  return await readInto(byob, max);
}

/**
 * Reads a byte stream into one buffer of our own, grown as needed up to `max + 1` bytes. A
 * fetch body without a declared length (chunked, as some proxies answer) read with a default
 * reader gets a new 64 KiB buffer from the runtime for every read: at 2,000 reviews/s that
 * kept 13-20 MB of buffers alive and took the server's CPU per review from about 250 to 473 µs
 * (`deno task bench:server --sts tls-http1` against a peer answering chunked;
 * docs/benchmarks.md#sts-over-http11).
 */
async function readInto(
  reader: ReadableStreamBYOBReader,
  max: number,
): Promise<Uint8Array | undefined> {
  let buffer = new Uint8Array(Math.min(16 * 1024, max + 1));
  let total = 0;
  try {
    while (true) {
      if (total === buffer.byteLength) {
        if (total > max) {
          await reader.cancel();
          return undefined;
        }
        const grown = new Uint8Array(Math.min(buffer.byteLength * 2, max + 1));
        grown.set(buffer);
        buffer = grown;
      }
      // The read transfers the buffer; the view it returns is the same memory, now ours again.
      const { value, done } = await reader.read(buffer.subarray(total));
      if (value === undefined) throw new Error("the response body was cancelled");
      buffer = new Uint8Array(value.buffer, 0, value.buffer.byteLength);
      if (done) break;
      total += value.byteLength;
    }
  } finally {
    reader.releaseLock();
  }
  if (total > max) return undefined;
  return buffer.subarray(0, total);
}

async function readChunks(
  body: ReadableStream<Uint8Array>,
  max: number,
): Promise<Uint8Array | undefined> {
  const reader = body.getReader();
  try {
    const out = await readAllCapped(reader, max);
    if (out === undefined) await reader.cancel();
    return out;
  } finally {
    reader.releaseLock();
  }
}

/**
 * Reads a stream to its end into one buffer; `undefined` as soon as more than `max` bytes have
 * arrived (the reader is left to the caller, to cancel or release). Shared by the STS client
 * and the webhook's request body.
 */
export async function readAllCapped(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  max: number,
): Promise<Uint8Array | undefined> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) return undefined;
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

/** An error text with every trace of the presigned URL removed (docs/security.md case 44). */
function scrub(message: string, url: string): string {
  return message.replaceAll(url, "<presigned URL>").replace(
    /\(https?:\/\/[^)]*\)/g,
    "(<presigned URL>)",
  )
    .replace(/https?:\/\/\S*/g, "<presigned URL>");
}

/** The STS error code of an error body, if it has a plausible one; never the message. */
function errorCode(body: string): string | undefined {
  try {
    const j = JSON.parse(body) as { Error?: { Code?: unknown } };
    const c = j?.Error?.Code;
    if (typeof c === "string" && /^[A-Za-z.]{1,64}$/.test(c)) return c;
  } catch {
    // XML or something else.
  }
  const m = /<Code>([A-Za-z.]{1,64})<\/Code>/.exec(body);
  return m?.[1];
}

/**
 * The catalogue reason of an STS error answer. The message is read only for the two phrases that
 * tell a clock problem from a bad signature; it is never echoed.
 */
export function stsErrorReason(status: number, code: string | undefined, body: string): ReasonId {
  switch (code) {
    case "SignatureDoesNotMatch":
      if (/Signature expired/i.test(body)) return "token.expired";
      if (/Signature not yet current/i.test(body)) return "token.future";
      return "token.cluster_mismatch";
    case "InvalidClientTokenId":
      return "sts.invalid_credentials";
    case "ExpiredToken":
    case "ExpiredTokenException":
      return "sts.expired_credentials";
    case "AccessDenied":
    case "AccessDeniedException":
      return "sts.access_denied";
    case "RegionDisabledException":
      return "sts.region_disabled";
  }
  return status >= 500 ? "sts.unavailable" : "sts.error";
}

function requiredString(obj: unknown, key: string, where: string): string {
  const v = (obj as Record<string, unknown>)[key];
  if (typeof v !== "string" || v === "") {
    throw new STSError("sts.bad_response", `the STS response has no ${where}.${key} string`);
  }
  return v;
}

function requiredObject(obj: unknown, key: string, where: string): unknown {
  const v = (obj as Record<string, unknown>)[key];
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new STSError(
      "sts.bad_response",
      `the STS response has no ${where}${where ? "." : ""}${key} object`,
    );
  }
  return v;
}

/**
 * Parses a GetCallerIdentity JSON answer and builds the identity (docs/verification.md#sts-answer).
 */
export function identityFromResponse(body: string, t: CheckedToken): Identity {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    throw new STSError("sts.bad_response", "the STS response is not JSON");
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new STSError("sts.bad_response", "the STS response is not a JSON object");
  }
  const resp = requiredObject(doc, "GetCallerIdentityResponse", "");
  const result = requiredObject(resp, "GetCallerIdentityResult", "GetCallerIdentityResponse");
  const meta = requiredObject(resp, "ResponseMetadata", "GetCallerIdentityResponse");
  requiredString(meta, "RequestId", "ResponseMetadata");
  const where = "GetCallerIdentityResult";
  const arn = requiredString(result, "Arn", where);
  const account = requiredString(result, "Account", where);
  const userIdRaw = requiredString(result, "UserId", where);
  if (!/^\d{12}$/.test(account)) {
    throw new STSError("sts.bad_response", "the STS response has a malformed Account");
  }
  let canonical: { type: string; canonical: string };
  try {
    canonical = canonicalizeArn(arn);
  } catch (e) {
    throw new STSError("sts.bad_response", (e as Error).message);
  }
  if (parseArn(arn).accountId !== account) {
    throw new STSError(
      "sts.bad_response",
      "the STS response's Account differs from the account of its Arn",
    );
  }
  let userId = userIdRaw;
  let sessionName = "";
  if (
    canonical.type !== "FEDERATED_USER" && canonical.type !== "USER" && canonical.type !== "ROOT"
  ) {
    const parts = userIdRaw.split(":");
    if (parts.length !== 2 || parts[0] === "" || parts[1] === "") {
      throw new STSError("sts.bad_response", `malformed UserID "${userIdRaw}"`);
    }
    userId = parts[0]!;
    sessionName = parts[1]!;
  }
  return {
    arn,
    canonicalArn: canonical.canonical,
    accountId: account,
    userId,
    sessionName,
    accessKeyId: t.accessKeyId,
    stsEndpoint: t.host,
  };
}

/**
 * Sends the checked token's URL to STS and returns the identity STS vouches for.
 *
 * @throws {STSThrottling} when STS throttles (the webhook answers 429).
 * @throws {STSError} for every other failure; the message never contains the URL or the
 * STS error message (which can quote the signed request), only status and error code.
 */
export async function callSts(t: CheckedToken, o: StsCallOptions): Promise<Identity> {
  const controller = new AbortController();
  const cancelDeadline = (o.setDeadline ?? timeoutDeadline)(o.timeoutMs, () => controller.abort());
  try {
    let res: Response;
    try {
      res = await o.fetch(t.url, {
        method: "GET",
        headers: { "x-k8s-aws-id": o.clusterId, "accept": "application/json" },
        redirect: "manual",
        signal: controller.signal,
      });
    } catch (e) {
      o.observer?.connectionFailure(t.stsRegion);
      const inner = controller.signal.aborted
        ? `request timed out after ${o.timeoutMs} ms`
        : scrub((e as Error).message ?? String(e), t.url);
      throw new STSError(
        "sts.unreachable",
        `error during GET: ${inner} on ${t.stsRegion} endpoint`,
      );
    }
    o.observer?.response(res.status, t.stsRegion);
    o.onAnswer?.(res.status, res.headers);
    let bytes: Uint8Array | undefined;
    try {
      bytes = await readCapped(res, o.maxResponseBytes);
    } catch (e) {
      const inner = controller.signal.aborted
        ? `timed out after ${o.timeoutMs} ms`
        : scrub((e as Error).message ?? String(e), t.url);
      throw new STSError(
        controller.signal.aborted ? "sts.unreachable" : "sts.bad_response",
        `error reading HTTP result: ${inner}`,
      );
    }
    if (bytes === undefined) {
      throw new STSError(
        "sts.bad_response",
        `error reading HTTP result: the response is larger than ${o.maxResponseBytes} bytes`,
      );
    }
    const body = new TextDecoder().decode(bytes);
    if (res.status !== 200) {
      const code = errorCode(body);
      const suffix = code ? `. Code: ${code}` : "";
      if (body.includes("Throttling")) {
        o.observer?.throttled(t.stsRegion);
        throw new STSThrottling(
          `error from AWS (expected 200, got ${res.status}) on ${t.stsRegion} endpoint${suffix}`,
        );
      }
      throw new STSError(
        stsErrorReason(res.status, code, body),
        `error from AWS (expected 200, got ${res.status}) on ${t.stsRegion} endpoint${suffix}`,
      );
    }
    return identityFromResponse(body, t);
  } finally {
    cancelDeadline();
  }
}
