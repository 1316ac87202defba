/**
 * The webhook's HTTP surface as a pure `Request -> Response` function: `POST /authenticate`
 * (TokenReview, docs/commands.md#endpoints-and-status-codes), `/healthz`, `/metrics` and 404 for
 * everything else. Everything it needs comes in through {@link HandlerDeps}, so it is tested in
 * memory without a socket.
 *
 * @module
 */

import {
  type Identity,
  readAllCapped,
  type SetDeadline,
  STSError,
  STSThrottling,
  timeoutDeadline,
} from "../verify/mod.ts";
import { type ReasonId, reasonInfo, reasonOf } from "../reasons/mod.ts";
import { redactSecrets, type ServerLogger } from "./logging.ts";
import type { ReviewOutcome } from "./metrics.ts";
import type { CacheOutcome } from "./review_cache.ts";

/** What a mapper chain returns for a mapped identity. */
export interface MappedIdentity {
  /** The Kubernetes username. */
  username: string;
  /** The Kubernetes groups (may be empty). */
  groups: readonly string[];
  /** The (lower-cased canonical) ARN the mapping matched. */
  identityArn?: string;
}

/** Verifies a token; throws `FormatError`, `STSError` or `STSThrottling`. */
export type VerifyFn = (
  token: string,
) => Promise<{ identity: Identity; cache?: CacheOutcome }>;

/** Maps a verified identity; throws when the identity is not mapped or mapping failed. */
export type MapFn = (identity: Identity) => MappedIdentity | Promise<MappedIdentity>;

/** Everything the handler depends on. */
export interface HandlerDeps {
  /** Token verification (usually a `ReviewCache` in front of the `Verifier`). */
  verify: VerifyFn;
  /** The mapper chain. */
  map: MapFn;
  /** Accounts whose identity details stay out of the response and the logs. */
  scrubbedAccounts?: readonly string[];
  /** Where the one-line-per-review log goes. */
  logger: ServerLogger;
  /**
   * Called once per request to `/authenticate` with its outcome, latency in seconds and, for a
   * denial, its reason.
   */
  observeReview?: (outcome: ReviewOutcome, seconds: number, reason?: ReasonId) => void;
  /** Renders `/metrics`; without it `/metrics` is 404. */
  metrics?: { render(): Promise<string>; contentType: string };
  /** Largest accepted request body; default 1 MiB (port decision 17). */
  maxBodyBytes?: number;
  /** How long a client may take to send its body; default 10 s. */
  bodyTimeoutMs?: number;
  /** How the body deadline is armed; default one `setTimeout` per request. */
  setDeadline?: SetDeadline;
  /** A monotonic clock in milliseconds (for latency). */
  monotonicNow?: () => number;
}

/** Connection details `Deno.serve` passes along; only the remote address is used (for logs). */
export interface RequestInfo {
  /** The client address. */
  remoteAddr?: { hostname?: string; port?: number } | Deno.Addr;
}

/** The `apiVersion`s a TokenReview may use. */
export const TOKEN_REVIEW_API_VERSIONS: readonly string[] = [
  "authentication.k8s.io/v1",
  "authentication.k8s.io/v1beta1",
];

/** Default time a client gets to send its request body. */
export const DEFAULT_BODY_TIMEOUT_MS = 10_000;

/** Default body limit: 1 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

const JSON_TYPE = "application/json; charset=UTF-8";

/**
 * The HTTP status of a denial (port decision 22). kube-apiserver reads a TokenReview only from a
 * 2xx answer: the Go tool's 403 reaches its log as "Failed to make webhook authenticator request:
 * unknown", while a 200 with `authenticated` unset and `status.error` reaches it as "Unable to
 * authenticate the request" with our reason. Either way the request is denied, and because
 * `status.error` makes kube-apiserver treat the denial as an error, it is not cached (its token
 * cache keeps failures without an error for the cache TTL, 2 minutes by default).
 */
const DENIED = 200;
const TEXT_TYPE = "text/plain; charset=utf-8";

class BodyTooLarge extends Error {}
class BodyTimeout extends Error {}

/** Bodies up to this size are sent as one chunk (see {@link respond}). */
const SINGLE_CHUNK_MAX = 16 * 1024;

const encoder = new TextEncoder();

/**
 * A response whose small body is a one-chunk stream rather than a fixed-length body. Over TLS,
 * `Deno.serve` leaves Nagle's algorithm on and writes a fixed-length HTTP/1.1 body (of more than
 * ~300 bytes) apart from its headers, so every review on a kept-alive HTTP/1.1 connection waited
 * for the client's delayed ACK: a steady 40 ms per review (measured with wrk and with
 * `curl --http1.1`). A chunked body leaves in the same write as the headers. HTTP/2 clients
 * (kube-apiserver's default) see only different framing. Building the stream here, once, costs
 * less than re-reading a finished response to re-wrap it.
 */
function respond(status: number, body: string, headers: Record<string, string>): Response {
  const bytes = encoder.encode(body);
  if (bytes.byteLength === 0 || bytes.byteLength > SINGLE_CHUNK_MAX) {
    return new Response(bytes, { status, headers });
  }
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
  return new Response(stream, { status, headers });
}

function text(status: number, body: string): Response {
  return respond(status, body, {
    "content-type": TEXT_TYPE,
    "x-content-type-options": "nosniff",
  });
}

function json(status: number, body: string): Response {
  return respond(status, body, { "content-type": JSON_TYPE });
}

/**
 * `read`, or a {@link BodyTimeout} once `timeoutMs` have passed: one deadline for the whole body,
 * however many reads it takes. One promise settled by whichever comes first leaves less garbage
 * on the review path than racing `read` against a deadline promise of its own.
 */
function within<T>(read: Promise<T>, timeoutMs: number, setDeadline: SetDeadline): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const cancel = setDeadline(timeoutMs, () => reject(new BodyTimeout()));
    read.then((value) => {
      cancel();
      resolve(value);
    }, (err) => {
      cancel();
      reject(err);
    });
  });
}

/**
 * Reads at most `limit` bytes of a body, failing as soon as more arrive or the deadline passes,
 * so a huge or slow body never sits in memory or holds a request open indefinitely.
 */
async function readCapped(
  req: Request,
  limit: number,
  timeoutMs: number,
  setDeadline: SetDeadline,
): Promise<Uint8Array> {
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw new BodyTooLarge();
  // With a declared length within the limit, the runtime reads the body natively in one go;
  // the server rejects a body longer than its Content-Length, so this cannot overrun the cap.
  // `req.body` is not touched then: that would turn the one-shot read into a JS stream.
  const native = declared !== null && /^[0-9]+$/.test(declared);
  const body = native ? undefined : req.body;
  if (body === null) return new Uint8Array();
  const reader = body?.getReader();
  try {
    const bytes = await within(
      reader === undefined ? req.bytes() : readAllCapped(reader, limit),
      timeoutMs,
      setDeadline,
    );
    // A stream past the cap reads as undefined. Only a Request built in memory can carry more
    // than it declares; refuse it all the same.
    if (bytes === undefined || bytes.byteLength > limit) throw new BodyTooLarge();
    return bytes;
  } catch (err) {
    // Also ends a read still waiting for a client that stopped sending.
    await (reader ?? req.body)?.cancel().catch(() => {});
    throw err;
  }
}

interface ParsedReview {
  apiVersion: string;
  token: string;
}

// decode() without `stream` starts afresh on every call, so one decoder serves every request.
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Why a body is not an acceptable TokenReview; each message starts like the Go tool's. */
function parseReview(body: Uint8Array): ParsedReview | string {
  if (body.byteLength === 0) return "expected a request body";
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(body));
  } catch {
    return "expected a request body to be a TokenReview";
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return "expected a request body to be a TokenReview";
  }
  const review = value as Record<string, unknown>;
  if (review.kind !== "TokenReview") {
    return "expected a request body to be a TokenReview (kind TokenReview)";
  }
  const apiVersion = review.apiVersion;
  if (typeof apiVersion !== "string" || !TOKEN_REVIEW_API_VERSIONS.includes(apiVersion)) {
    return `expected a request body to be a TokenReview of apiVersion ${
      TOKEN_REVIEW_API_VERSIONS.join(" or ")
    }`;
  }
  const spec = review.spec;
  const token = typeof spec === "object" && spec !== null
    ? (spec as Record<string, unknown>).token
    : undefined;
  if (typeof token !== "string" || token.length === 0) {
    return "expected a request body to be a TokenReview with a non-empty spec.token";
  }
  return { apiVersion, token };
}

/**
 * The deny body: the Go tool's bytes plus the echoed `apiVersion` and `kind` (decision 12) and,
 * when given, `status.error` (decision 22): kube-apiserver writes it to its own log, so the
 * reason reaches whoever reads that log.
 */
export function denyBody(apiVersion: string, error?: string): string {
  return JSON.stringify({
    apiVersion,
    kind: "TokenReview",
    metadata: {},
    spec: {},
    status: error === undefined ? { user: {} } : { user: {}, error },
  });
}

/**
 * A denial's `status.error`: the reason ID first (what scripts match on), then what happened and
 * what to do. `detail` has already been through {@link redactSecrets}.
 */
export function denialText(reason: ReasonId, detail: string): string {
  return `${reason}: ${detail}. ${reasonInfo(reason).fix}`;
}

/** The success body, field for field as the Go tool fills it (plus `apiVersion`/`kind`). */
export function successBody(
  apiVersion: string,
  identity: Identity,
  mapped: MappedIdentity,
  scrubbed: boolean,
): string {
  const user: Record<string, unknown> = {
    username: mapped.username,
    uid: scrubbed
      ? `aws-iam-authenticator:administrative:${mapped.username}`
      : `aws-iam-authenticator:${identity.accountId}:${identity.userId}`,
  };
  if (mapped.groups.length > 0) user.groups = [...mapped.groups];
  if (!scrubbed) {
    // Keys in sorted order, as Go's encoder writes a map.
    user.extra = {
      accessKeyId: [identity.accessKeyId],
      arn: [identity.arn],
      canonicalArn: [identity.canonicalArn],
      principalId: [identity.userId],
      sessionName: [identity.sessionName],
      "sigs.k8s.io/aws-iam-authenticator/principalId": [identity.userId],
    };
  }
  return JSON.stringify({
    apiVersion,
    kind: "TokenReview",
    metadata: {},
    spec: {},
    status: { authenticated: true, user },
  }) + "\n";
}

function remoteOf(info: RequestInfo | undefined): string {
  const addr = info?.remoteAddr as { hostname?: string; port?: number } | undefined;
  if (addr?.hostname === undefined) return "";
  return addr.hostname.includes(":")
    ? `[${addr.hostname}]:${addr.port ?? ""}`
    : `${addr.hostname}:${addr.port ?? ""}`;
}

/** The path of an absolute URL as written (no normalization), or `""`. */
function rawPath(url: string): string {
  const scheme = url.indexOf("://");
  const start = scheme < 0 ? -1 : url.indexOf("/", scheme + 3);
  if (start < 0) return "";
  const query = url.indexOf("?", start);
  const fragment = url.indexOf("#", start);
  let end = url.length;
  if (query >= 0) end = query;
  if (fragment >= 0 && fragment < end) end = fragment;
  return url.slice(start, end);
}

/** What a review's outcome adds to its log line. */
interface AccessExtra {
  /** Why it was denied (every denial has one). */
  reason?: ReasonId;
  /** What went wrong, already redacted. */
  error?: string;
  /** The mapped username (success). */
  username?: string;
  /** The mapped groups (success). */
  groups?: readonly string[];
}

/** Builds the server's request handler. */
export function createHandler(
  deps: HandlerDeps,
): (req: Request, info?: RequestInfo) => Promise<Response> {
  const maxBody = deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const bodyTimeout = deps.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
  const setDeadline = deps.setDeadline ?? timeoutDeadline;
  const clock = deps.monotonicNow ?? (() => performance.now());
  const scrubbed = new Set(deps.scrubbedAccounts ?? []);
  const log = deps.logger;

  async function authenticate(req: Request, info: RequestInfo | undefined): Promise<Response> {
    const started = clock();
    const client = remoteOf(info);
    // Filled in as the review learns them; scrubbed accounts leave the identity fields unset.
    let cache: CacheOutcome | undefined;
    let arn: string | undefined;
    let accountid: string | undefined;
    let stsendpoint: string | undefined;
    const finish = (
      outcome: ReviewOutcome,
      response: Response,
      extra: AccessExtra,
    ): Response => {
      const seconds = (clock() - started) / 1000;
      deps.observeReview?.(outcome, seconds, extra.reason);
      // One line per review, its keys already in logrus order (sorted) so the formatter need
      // not sort them; unset fields are left out of the line.
      const line = {
        accountid,
        arn,
        cache,
        client,
        error: extra.error,
        groups: extra.groups,
        latencyMs: Math.round(seconds * 1e6) / 1e3,
        method: req.method,
        outcome,
        path: "/authenticate",
        reason: extra.reason,
        status: response.status,
        stsendpoint,
        username: extra.username,
      };
      if (outcome === "success") log.info("access granted", line);
      else if (outcome === "malformed_request") log.error("malformed request", line);
      else log.warn("access denied", line);
      return response;
    };

    if (req.method !== "POST") {
      return finish(
        "malformed_request",
        text(405, "expected POST\n"),
        { error: "unexpected request method", reason: "request.method" },
      );
    }
    let body: Uint8Array;
    try {
      body = await readCapped(req, maxBody, bodyTimeout, setDeadline);
    } catch (err) {
      if (err instanceof BodyTooLarge) {
        return finish(
          "malformed_request",
          text(413, `expected a request body of at most ${maxBody} bytes\n`),
          { error: "request body too large", reason: "request.too_large" },
        );
      }
      if (err instanceof BodyTimeout) {
        return finish(
          "malformed_request",
          text(408, `expected a request body within ${bodyTimeout} ms\n`),
          { error: "request body read timed out", reason: "request.timeout" },
        );
      }
      return finish("malformed_request", text(400, "expected a request body\n"), {
        error: "could not read request body",
        reason: "request.body",
      });
    }
    const parsed = parseReview(body);
    if (typeof parsed === "string") {
      return finish("malformed_request", text(400, parsed + "\n"), {
        error: body.byteLength === 0 ? "empty request body" : "could not parse request body",
        reason: "request.body",
      });
    }
    const { apiVersion, token } = parsed;

    let identity: Identity;
    try {
      const verified = await deps.verify(token);
      identity = verified.identity;
      cache = verified.cache;
    } catch (err) {
      const message = redactSecrets(err instanceof Error ? err.message : String(err), token);
      const outcome: ReviewOutcome = err instanceof STSThrottling
        ? "sts_throttling"
        : err instanceof STSError
        ? "sts_error"
        : "invalid_token";
      // An error without a reason is not one of the verifier's; it still denies.
      const reason = reasonOf(err) ?? (outcome === "invalid_token" ? "token.url" : "sts.error");
      const body = denyBody(apiVersion, denialText(reason, message));
      return finish(outcome, json(outcome === "sts_throttling" ? 429 : DENIED, body), {
        error: message,
        reason,
      });
    }

    const isScrubbed = scrubbed.has(identity.accountId);
    if (!isScrubbed) {
      arn = identity.canonicalArn;
      accountid = identity.accountId;
      stsendpoint = identity.stsEndpoint;
    }
    let mapped: MappedIdentity;
    try {
      mapped = await deps.map(identity);
    } catch (err) {
      const message = redactSecrets(err instanceof Error ? err.message : String(err), token);
      const reason = reasonOf(err) ?? "map.backend_error";
      // The canonical ARN is what an administrator maps; scrubbed accounts keep it private.
      const detail = reason === "map.not_mapped" && !isScrubbed
        ? `identity ${identity.canonicalArn} is not mapped`
        : message;
      const body = denyBody(apiVersion, denialText(reason, detail));
      return finish("unknown_user", json(DENIED, body), { error: message, reason });
    }
    if (typeof mapped.username !== "string" || mapped.username === "") {
      // A mapping that yields no username cannot name anyone; deny rather than pass "" on.
      const error = "mapping produced an empty username";
      const body = denyBody(apiVersion, denialText("map.empty_username", error));
      return finish("unknown_user", json(DENIED, body), { error, reason: "map.empty_username" });
    }
    return finish("success", json(200, successBody(apiVersion, identity, mapped, isScrubbed)), {
      username: mapped.username,
      groups: mapped.groups,
    });
  }

  return async (req: Request, info?: RequestInfo): Promise<Response> => {
    // The review path is checked on the raw text first: a URL parse per review is measurable,
    // and only an exact `/authenticate` takes the shortcut, so the outcome is the same.
    const path = rawPath(req.url) === "/authenticate" ? "/authenticate" : new URL(req.url).pathname;
    if (path === "/authenticate") return await authenticate(req, info);
    if (path === "/healthz") return respond(200, "ok", { "content-type": TEXT_TYPE });
    if (path === "/metrics" && deps.metrics !== undefined) {
      return respond(200, await deps.metrics.render(), {
        "content-type": deps.metrics.contentType,
      });
    }
    return text(404, "404 page not found\n");
  };
}
