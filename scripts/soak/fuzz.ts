/**
 * Fuzzing the webhook's input for a bounded time, next to the load: bytes that are not HTTP,
 * bodies that are not TokenReviews (random bytes, truncated JSON, JSON nested hundreds of
 * thousands deep), huge headers, an oversize body, a client that sends its body a byte at a time,
 * one that never finishes its headers, wrong methods and paths. (Tokens mutated one byte at a
 * time from valid ones go through the load, as token kind `mutated`.)
 *
 * Each case has the answers it may get; none may authenticate, none may be a 5xx, and the
 * server must keep answering everything else meanwhile.
 *
 * @module
 */

import { now } from "./churn.ts";
import type { Rng } from "./random.ts";

/** The fuzz cases. */
export type FuzzCase =
  | "random-bytes"
  | "random-body"
  | "truncated-json"
  | "nested-json"
  | "huge-header"
  | "oversize-body"
  | "slow-body"
  | "slow-headers"
  | "bad-method"
  | "bad-path";

/** What a case may get: HTTP statuses, and whether closing without an answer is fine. */
export const FUZZ_EXPECTATIONS: Readonly<
  Record<FuzzCase, { statuses: readonly number[]; closeOk: boolean }>
> = {
  // Not HTTP at all: a 400 or a closed connection.
  "random-bytes": { statuses: [400], closeOk: true },
  "random-body": { statuses: [400], closeOk: false },
  "truncated-json": { statuses: [400], closeOk: false },
  "nested-json": { statuses: [400], closeOk: false },
  // A header the runtime accepts brings the review of token "x" to the handler: a denial (200).
  "huge-header": { statuses: [200, 400, 431], closeOk: true },
  "oversize-body": { statuses: [413], closeOk: false },
  // The body timeout (10 s) answers 408.
  "slow-body": { statuses: [408], closeOk: false },
  // Reported only: the runtime has no header timeout (docs/soak.md#findings).
  "slow-headers": { statuses: [400, 408], closeOk: true },
  "bad-method": { statuses: [405], closeOk: false },
  "bad-path": { statuses: [404], closeOk: false },
};

/** One fuzz request and what came back (times in epoch ms). */
export interface FuzzRecord {
  /** The case. */
  case: FuzzCase;
  /** Sent. */
  t0: number;
  /** Answered, closed, or given up. */
  t1: number;
  /** HTTP status of the answer. */
  status?: number;
  /** The connection closed without an answer. */
  closed: boolean;
  /** The client stopped waiting (only `slow-headers` waits on purpose). */
  gaveUp: boolean;
  /** The answer body mentions `"authenticated":true`. */
  authenticated: boolean;
}

/** The verdict on a fuzz record: a description of what is wrong, or `undefined`. */
export function judgeFuzz(r: FuzzRecord, boundMs: number): string | undefined {
  const e = FUZZ_EXPECTATIONS[r.case];
  if (r.authenticated) return "authenticated";
  if (r.case === "slow-headers") return undefined;
  if (r.status !== undefined) {
    if (r.status >= 500) return `HTTP ${r.status}`;
    if (!e.statuses.includes(r.status)) return `HTTP ${r.status}, expected ${e.statuses.join("/")}`;
    return r.t1 - r.t0 > boundMs ? `answered after ${Math.round(r.t1 - r.t0)} ms` : undefined;
  }
  if (r.closed && e.closeOk) return undefined;
  return r.gaveUp ? "no answer in time" : "closed without an answer";
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const REVIEW_PREFIX =
  '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":';

function post(body: Uint8Array | string, extraHeaders = "", path = "/authenticate"): Uint8Array {
  const b = typeof body === "string" ? enc.encode(body) : body;
  const head = `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n` +
    `content-length: ${b.length}\r\n${extraHeaders}\r\n`;
  const out = new Uint8Array(head.length + b.length);
  out.set(enc.encode(head), 0);
  out.set(b, head.length);
  return out;
}

/** Runs fuzz cases against the webhook's TLS port. */
export class Fuzzer {
  /** Every case run. */
  readonly records: FuzzRecord[] = [];

  /**
   * @param port the webhook port on 127.0.0.1
   * @param caPem the CA its certificate chains to
   * @param rng choices
   */
  constructor(
    private readonly port: number,
    private readonly caPem: string,
    private readonly rng: Rng,
  ) {}

  /**
   * Sends `write`'s bytes over a fresh TLS connection and reads the status line. Resolves when
   * an answer's head arrived, the connection closed, or `waitMs` passed.
   */
  async #exchange(
    which: FuzzCase,
    write: (conn: Deno.TlsConn) => Promise<void>,
    waitMs: number,
  ): Promise<FuzzRecord> {
    const r: FuzzRecord = {
      case: which,
      t0: now(),
      t1: 0,
      closed: false,
      gaveUp: false,
      authenticated: false,
    };
    let conn: Deno.TlsConn;
    try {
      conn = await Deno.connectTls({
        hostname: "127.0.0.1",
        port: this.port,
        caCerts: [this.caPem],
        alpnProtocols: ["http/1.1"],
      });
    } catch {
      r.t1 = now();
      r.closed = true;
      this.records.push(r);
      return r;
    }
    let text = "";
    const reading = (async () => {
      const buf = new Uint8Array(16 * 1024);
      for (;;) {
        const n = await conn.read(buf).catch(() => null);
        if (n === null) return "closed";
        text += dec.decode(buf.subarray(0, n));
        const head = text.indexOf("\r\n\r\n");
        if (head >= 0) {
          const length = Number(/content-length: *(\d+)/i.exec(text.slice(0, head))?.[1] ?? 0);
          if (text.length >= head + 4 + Math.min(length, 4096)) return "answered";
        }
      }
    })();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((res) =>
      timer = setTimeout(() => res("timeout"), waitMs)
    );
    // Writes can fail once the server has answered and closed; the answer is what matters.
    const writing = write(conn).catch(() => {});
    const how = await Promise.race([reading, timeout]);
    clearTimeout(timer);
    r.t1 = now();
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1];
    if (status !== undefined) r.status = Number(status);
    r.closed = how === "closed" && status === undefined;
    r.gaveUp = how === "timeout" && status === undefined;
    r.authenticated = /"authenticated":\s*true/.test(text);
    try {
      conn.close();
    } catch {
      // already closed
    }
    await writing;
    await reading.catch(() => {});
    this.records.push(r);
    return r;
  }

  #send(bytes: Uint8Array): (conn: Deno.TlsConn) => Promise<void> {
    return async (conn) => {
      let off = 0;
      while (off < bytes.length) off += await conn.write(bytes.subarray(off));
    };
  }

  #randomBytes(n: number): Uint8Array {
    return Uint8Array.from({ length: n }, () => this.rng.int(256));
  }

  /** Runs one case. */
  run(which: FuzzCase): Promise<FuzzRecord> {
    const rng = this.rng;
    switch (which) {
      case "random-bytes":
        return this.#exchange(which, this.#send(this.#randomBytes(1 + rng.int(4096))), 10_000);
      case "random-body":
        return this.#exchange(
          which,
          this.#send(post(this.#randomBytes(1 + rng.int(8192)))),
          10_000,
        );
      case "truncated-json": {
        const full = `${REVIEW_PREFIX}"k8s-aws-v1.${"A".repeat(rng.int(600))}"}}`;
        return this.#exchange(which, this.#send(post(full.slice(0, rng.int(full.length)))), 10_000);
      }
      case "nested-json": {
        const depth = 1000 + rng.int(400_000);
        const inner = "[".repeat(depth) + (rng.chance(0.5) ? "]".repeat(depth) : "");
        const body = rng.chance(0.5) ? `${REVIEW_PREFIX}${inner}}}` : inner;
        return this.#exchange(which, this.#send(post(body)), 15_000);
      }
      case "huge-header": {
        const size = rng.chance(0.5) ? 16 * 1024 + rng.int(64 * 1024) : 1024 * 1024;
        const bytes = post(`${REVIEW_PREFIX}"x"}}`, `x-fuzz: ${"a".repeat(size)}\r\n`);
        return this.#exchange(which, this.#send(bytes), 10_000);
      }
      case "oversize-body": {
        const head = "POST /authenticate HTTP/1.1\r\nhost: 127.0.0.1\r\n" +
          `content-type: application/json\r\ncontent-length: ${2 * 1024 * 1024}\r\n\r\n`;
        return this.#exchange(which, this.#send(enc.encode(head + REVIEW_PREFIX)), 10_000);
      }
      case "slow-body": {
        const body = `${REVIEW_PREFIX}"k8s-aws-v1.${"A".repeat(100)}"}}`;
        const head = "POST /authenticate HTTP/1.1\r\nhost: 127.0.0.1\r\n" +
          `content-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`;
        return this.#exchange(which, async (conn) => {
          await conn.write(enc.encode(head));
          // One byte every 700 ms: the body would take longer than the 10 s body timeout.
          for (const c of body) {
            await new Promise((res) => setTimeout(res, 700));
            await conn.write(enc.encode(c));
          }
        }, 20_000);
      }
      case "slow-headers":
        return this.#exchange(which, async (conn) => {
          await conn.write(enc.encode("POST /authenticate HTTP/1.1\r\nhost: 127.0.0.1\r\n"));
        }, 12_000);
      case "bad-method": {
        const m = rng.pick(["GET", "PUT", "DELETE", "PATCH"]);
        return this.#exchange(
          which,
          this.#send(
            enc.encode(
              `${m} /authenticate HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 0\r\n\r\n`,
            ),
          ),
          10_000,
        );
      }
      case "bad-path":
        return this.#exchange(
          which,
          this.#send(
            post(
              `${REVIEW_PREFIX}"x"}}`,
              "",
              rng.pick(["/", "/authenticate/", "/Authenticate", "/authenticatex"]),
            ),
          ),
          10_000,
        );
    }
  }

  /**
   * Runs cases for `durationMs` on `parallel` connections at a time; the slow cases once each.
   */
  async runFor(durationMs: number, parallel = 3): Promise<void> {
    const end = Date.now() + durationMs;
    const quick: FuzzCase[] = [
      "random-bytes",
      "random-body",
      "truncated-json",
      "nested-json",
      "huge-header",
      "oversize-body",
      "bad-method",
      "bad-path",
    ];
    const slow = Promise.all([this.run("slow-body"), this.run("slow-headers")]);
    await Promise.all(Array.from({ length: parallel }, async () => {
      while (Date.now() < end) await this.run(this.rng.pick(quick));
    }));
    await slow;
  }
}
