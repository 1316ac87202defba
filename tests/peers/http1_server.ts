/**
 * A small HTTP/1.1 server on a raw TCP listener, for test peers that must misbehave at the
 * connection level.
 *
 * `Deno.serve` always answers: a handler that throws gets a 500, and there is no way to drop a
 * connection before the status line. A real STS (or a proxy in front of it) can reset the
 * connection or leave it hanging, and the verifier's handling of exactly that
 * (`sts.unreachable`) is what the soak checks. Here every request is handed to the handler with
 * an {@link Http1Exchange}; the handler returns a response, or `undefined` after calling
 * `reset()` to close the connection without a byte of answer.
 *
 * Supported: keep-alive, requests with `content-length` bodies (no chunked request bodies: the
 * connection is closed with 501), one request at a time per connection (pipelined requests are
 * read and answered in order). Enough for Deno's `fetch` and curl; not a general server.
 *
 * @module
 */

/** Control over the connection a request arrived on. */
export interface Http1Exchange {
  /** Closes the connection now; nothing more is written to it. */
  reset(): void;
}

/** Answers one request; `undefined` means the handler reset the connection. */
export type Http1Handler = (
  req: Request,
  exchange: Http1Exchange,
) => Response | undefined | Promise<Response | undefined>;

/** Where to listen. */
export interface Http1ServerOptions {
  /** Listen address; default `127.0.0.1`. */
  hostname?: string;
  /** Listen port; default 0 (ephemeral). */
  port?: number;
}

/** A running server. */
export interface Http1Server {
  /** The bound address. */
  readonly addr: Deno.NetAddr;
  /** Closes the listener and every open connection; resolves when all have ended. */
  shutdown(): Promise<void>;
}

/** Longest request head accepted (request line plus headers). */
const MAX_HEAD_BYTES = 64 * 1024;
/** Longest request body accepted. */
const MAX_BODY_BYTES = 1024 * 1024;

const enc = new TextEncoder();
const dec = new TextDecoder();

function indexOfHeadEnd(buf: Uint8Array, from: number): number {
  for (let i = Math.max(0, from - 3); i + 3 < buf.length; i++) {
    if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) return i;
  }
  return -1;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Serves `handler` on a raw TCP listener (see the module doc). */
export function serveHttp1(options: Http1ServerOptions, handler: Http1Handler): Http1Server {
  const listener = Deno.listen({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 0,
  });
  const conns = new Set<Deno.Conn>();
  const running = new Set<Promise<void>>();
  let closed = false;

  async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) off += await conn.write(bytes.subarray(off));
  }

  async function serveConn(conn: Deno.Conn): Promise<void> {
    let buf: Uint8Array = new Uint8Array(0);
    let gone = false;
    const close = () => {
      if (gone) return;
      gone = true;
      conns.delete(conn);
      try {
        conn.close();
      } catch {
        // already closed
      }
    };
    const chunk = new Uint8Array(16 * 1024);
    // One more read into the buffer; false at end of stream.
    const fill = async (): Promise<boolean> => {
      const n = await conn.read(chunk).catch(() => null);
      if (n === null) return false;
      buf = concat(buf, chunk.subarray(0, n));
      return true;
    };
    try {
      while (!gone && !closed) {
        let headEnd = indexOfHeadEnd(buf, 0);
        while (headEnd < 0 && buf.length <= MAX_HEAD_BYTES) {
          const scanned = buf.length;
          if (!(await fill())) return;
          headEnd = indexOfHeadEnd(buf, scanned);
        }
        if (headEnd < 0 || headEnd > MAX_HEAD_BYTES) {
          await writeAll(
            conn,
            enc.encode(
              "HTTP/1.1 431 Request Header Fields Too Large\r\n" +
                "content-length: 0\r\nconnection: close\r\n\r\n",
            ),
          ).catch(() => {});
          return;
        }
        const head = dec.decode(buf.subarray(0, headEnd));
        buf = buf.slice(headEnd + 4);
        const [requestLine, ...headerLines] = head.split("\r\n");
        const [method, target, version] = (requestLine ?? "").split(" ");
        if (!method || !target || !version?.startsWith("HTTP/1.")) return;
        const headers = new Headers();
        for (const line of headerLines) {
          const colon = line.indexOf(":");
          if (colon <= 0) return;
          headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
        }
        if (headers.has("transfer-encoding")) {
          await writeAll(
            conn,
            enc.encode(
              "HTTP/1.1 501 Not Implemented\r\n" +
                "content-length: 0\r\nconnection: close\r\n\r\n",
            ),
          ).catch(() => {});
          return;
        }
        const length = Number(headers.get("content-length") ?? "0");
        if (!Number.isInteger(length) || length < 0 || length > MAX_BODY_BYTES) return;
        while (buf.length < length) if (!(await fill())) return;
        const body = buf.slice(0, length);
        buf = buf.slice(length);
        const host = headers.get("host") ?? `${listener.addr.hostname}:${listener.addr.port}`;
        const req = new Request(`http://${host}${target}`, {
          method,
          headers,
          body: method === "GET" || method === "HEAD" ? undefined : body,
        });
        const keepAlive = version === "HTTP/1.1" &&
          (headers.get("connection") ?? "").toLowerCase() !== "close";
        let res: Response | undefined;
        try {
          res = await handler(req, { reset: close });
        } catch (e) {
          res = new Response(`peer failure: ${(e as Error).message}`, { status: 500 });
        }
        if (res === undefined || gone) {
          close();
          return;
        }
        const payload = new Uint8Array(await res.arrayBuffer());
        let out = `HTTP/1.1 ${res.status} ${res.statusText || "Status"}\r\n`;
        res.headers.forEach((v, k) => {
          if (k !== "content-length" && k !== "transfer-encoding" && k !== "connection") {
            out += `${k}: ${v}\r\n`;
          }
        });
        out += `content-length: ${payload.length}\r\n`;
        out += keepAlive ? "\r\n" : "connection: close\r\n\r\n";
        await writeAll(conn, concat(enc.encode(out), payload));
        if (!keepAlive) return;
      }
    } catch {
      // The client went away mid-exchange: nothing to answer.
    } finally {
      close();
    }
  }

  const accepting = (async () => {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        return;
      }
      if (closed) {
        conn.close();
        return;
      }
      conns.add(conn);
      const p = serveConn(conn);
      running.add(p);
      void p.finally(() => running.delete(p));
    }
  })();

  return {
    addr: listener.addr as Deno.NetAddr,
    async shutdown() {
      if (closed) return;
      closed = true;
      try {
        listener.close();
      } catch {
        // already closed
      }
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // already closed
        }
      }
      conns.clear();
      await accepting;
      await Promise.allSettled([...running]);
    },
  };
}
