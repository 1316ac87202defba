import assert from "node:assert/strict";
import { createStsFetch } from "../../src/verify/mod.ts";
import { writeCaAndLeaf } from "../peers/test_ca.ts";

/**
 * A TLS listener that offers `h2` first, records the protocol each client agreed to in ALPN,
 * answers one HTTP/1.1 request per connection and closes it (an HTTP/2 client gets its
 * connection closed after the handshake: the test only needs the ALPN it chose).
 */
function alpnRecorder(cert: string, key: string) {
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert,
    key,
    alpnProtocols: ["h2", "http/1.1"],
  });
  const chosen: (string | null)[] = [];
  const done = (async () => {
    for await (const conn of listener) {
      try {
        const { alpnProtocol } = await conn.handshake();
        chosen.push(alpnProtocol);
        if (alpnProtocol === "http/1.1") {
          let head = "";
          const buf = new Uint8Array(4096);
          while (!head.includes("\r\n\r\n")) {
            const n = await conn.read(buf);
            if (n === null) break;
            head += new TextDecoder().decode(buf.subarray(0, n));
          }
          await conn.write(
            new TextEncoder().encode(
              "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
            ),
          );
        }
      } catch {
        // A client that gave up mid-handshake: nothing to record.
      } finally {
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
    }
  })();
  return {
    url: `https://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/`,
    chosen,
    async close() {
      listener.close();
      await done;
    },
  };
}

/** Runs `use` against a fresh {@link alpnRecorder} with a throwaway CA, and cleans up. */
async function withRecorder(
  use: (server: ReturnType<typeof alpnRecorder>, ca: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    const { ca, cert, key } = await writeCaAndLeaf(dir);
    const server = alpnRecorder(cert, key);
    try {
      await use(server, ca);
    } finally {
      await server.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the STS fetch speaks HTTP/1.1 to a server that offers HTTP/2 first; a default client picks h2 there", async () => {
  await withRecorder(async (server, ca) => {
    using control = Deno.createHttpClient({ caCerts: [ca] });
    const sts = createStsFetch({ caCerts: [ca] });
    try {
      const res = await sts.fetch(server.url);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), "ok");
      assert.deepEqual(server.chosen, ["http/1.1"]);

      // The control: the runtime's default client settings choose h2 on the same listener, so
      // the HTTP/1.1 above is the STS fetch's doing (the listener closes that connection).
      await assert.rejects(fetch(server.url, { client: control }));
      assert.deepEqual(server.chosen, ["http/1.1", "h2"]);
    } finally {
      sts.close();
    }
  });
});

Deno.test("the STS fetch passes the caller's options through and trusts only the roots it was given", async () => {
  await withRecorder(async (server, ca) => {
    const untrusting = createStsFetch();
    const sts = createStsFetch({ caCerts: [ca] });
    try {
      // Without the throwaway CA the certificate is refused before any request is sent.
      await assert.rejects(untrusting.fetch(server.url), (e: Error) => {
        assert.match(String((e.cause as Error | undefined)?.message), /certificate|UnknownIssuer/i);
        return true;
      });
      // An aborted signal in the caller's init still reaches fetch.
      await assert.rejects(sts.fetch(server.url, { signal: AbortSignal.abort() }), {
        name: "AbortError",
      });
      assert.deepEqual(server.chosen, []);
    } finally {
      untrusting.close();
      sts.close();
    }
  });
});

Deno.test("the STS fetch goes through the proxy HTTPS_PROXY names, as the global fetch does", async () => {
  // A proxy that records the first line it is sent and hangs up.
  const proxy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const lines: string[] = [];
  const served = (async () => {
    for await (const conn of proxy) {
      const buf = new Uint8Array(1024);
      const n = await conn.read(buf);
      lines.push(new TextDecoder().decode(buf.subarray(0, n ?? 0)).split("\r\n")[0]!);
      conn.close();
    }
  })();
  const before = Deno.env.get("HTTPS_PROXY");
  Deno.env.set("HTTPS_PROXY", `http://127.0.0.1:${(proxy.addr as Deno.NetAddr).port}`);
  const sts = createStsFetch();
  try {
    await assert.rejects(
      sts.fetch("https://sts.us-east-1.amazonaws.com/?Action=GetCallerIdentity"),
    );
    assert.deepEqual(lines, ["CONNECT sts.us-east-1.amazonaws.com:443 HTTP/1.1"]);
  } finally {
    sts.close();
    if (before === undefined) Deno.env.delete("HTTPS_PROXY");
    else Deno.env.set("HTTPS_PROXY", before);
    proxy.close();
    await served;
  }
});
