import { strict as assert } from "node:assert";
import { serveHttp1 } from "./http1_server.ts";

async function rawExchange(port: number, request: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(request));
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(4096);
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    return new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])));
  } finally {
    try {
      conn.close();
    } catch {
      // closed by the server
    }
  }
}

Deno.test("serveHttp1: keep-alive, bodies, headers and URL as a Request", async () => {
  const seen: string[] = [];
  const server = serveHttp1({}, async (req) => {
    seen.push(`${req.method} ${req.url} ${req.headers.get("x-a")} ${await req.text()}`);
    return new Response(`hi ${seen.length}`, { status: 201, headers: { "x-b": "2" } });
  });
  try {
    assert.equal(server.addr.hostname, "127.0.0.1");
    const base = `http://127.0.0.1:${server.addr.port}`;
    const client = Deno.createHttpClient({});
    const a = await fetch(`${base}/p?q=%2f`, { client, headers: { "x-a": "1" } });
    assert.equal(a.status, 201);
    assert.equal(a.headers.get("x-b"), "2");
    assert.equal(await a.text(), "hi 1");
    const b = await fetch(`${base}/post`, { client, method: "POST", body: "payload" });
    assert.equal(await b.text(), "hi 2");
    client.close();
    assert.deepEqual(seen, [
      `GET ${base}/p?q=%2f 1 `,
      `POST ${base}/post null payload`,
    ]);
    // Two pipelined requests on one connection, the second asking to close.
    const raw = await rawExchange(
      server.addr.port,
      "GET /x HTTP/1.1\r\nhost: h\r\n\r\nGET /y HTTP/1.1\r\nhost: h\r\nconnection: close\r\n\r\n",
    );
    assert.equal(raw.match(/HTTP\/1\.1 201/g)?.length, 2);
    assert.match(raw, /connection: close/);
    assert.deepEqual(seen.slice(2).map((s) => s.split(" ")[1]), ["http://h/x", "http://h/y"]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveHttp1: reset drops the connection without an answer; refusals", async () => {
  const server = serveHttp1({}, (_req, exchange) => {
    exchange.reset();
    return undefined;
  });
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    await assert.rejects(fetch(base));
    assert.equal(await rawExchange(server.addr.port, "GET / HTTP/1.1\r\nhost: h\r\n\r\n"), "");
    const chunked = await rawExchange(
      server.addr.port,
      "POST / HTTP/1.1\r\nhost: h\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
    );
    assert.match(chunked, /^HTTP\/1\.1 501/);
    const huge = await rawExchange(
      server.addr.port,
      `GET / HTTP/1.1\r\nhost: h\r\nx-big: ${"a".repeat(70_000)}\r\n\r\n`,
    );
    assert.match(huge, /^HTTP\/1\.1 431/);
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveHttp1: shutdown closes idle connections and waits for handlers", async () => {
  let release = () => {};
  const held = new Promise<void>((r) => release = r);
  const server = serveHttp1({}, async () => {
    await held;
    return new Response("late");
  });
  const pending = fetch(`http://127.0.0.1:${server.addr.port}/`).then(
    (r) => r.text(),
    () => "dropped",
  );
  await new Promise((r) => setTimeout(r, 100));
  let done = false;
  const stopping = server.shutdown().then(() => done = true);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(done, false, "shutdown waits for the handler");
  release();
  await stopping;
  assert.equal(await pending, "dropped");
});
