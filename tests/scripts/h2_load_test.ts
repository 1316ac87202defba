import { strict as assert } from "node:assert";
import { h2LoadPath, runH2Load } from "../../scripts/lib/h2_load.ts";
import { writeCaAndLeaf } from "../peers/test_ca.ts";

/** Built by `deno task test`'s set-up (scripts/kube/build.sh), like kube-apiserver. */
const H2_LOAD = h2LoadPath((name) => Deno.env.get(name));

Deno.test("h2_load sends each token's review over one HTTP/2 connection and counts what came back", async () => {
  const dir = await Deno.makeTempDir();
  const { cert, key } = await writeCaAndLeaf(dir);
  await Deno.writeTextFile(`${dir}/tokens.txt`, "tok-a\ntok-b\ntok-deny\n");
  const seen = new Map<string, number>();
  let withHost = 0;
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert,
    key,
    onListen: () => {},
  }, async (req) => {
    // Deno.serve shows HTTP/1.1 requests with a Host header, HTTP/2 ones without.
    if (req.headers.has("host")) withHost++;
    const review = await req.json() as { kind: string; spec: { token: string } };
    assert.equal(review.kind, "TokenReview");
    seen.set(review.spec.token, (seen.get(review.spec.token) ?? 0) + 1);
    return review.spec.token === "tok-deny"
      ? new Response("{}", { status: 403 })
      : Response.json({ status: { authenticated: true } });
  });
  try {
    const { result } = await runH2Load(H2_LOAD, {
      url: `https://127.0.0.1:${server.addr.port}/authenticate`,
      caFile: `${dir}/ca.crt`,
      tokenFile: `${dir}/tokens.txt`,
      concurrency: 3,
      seconds: 1,
    });
    assert.equal(result.protocol, "HTTP/2.0");
    assert.equal(result.connections, 1);
    assert.equal(withHost, 0);
    assert.equal(result.errors, 0);
    const total = [...seen.values()].reduce((a, b) => a + b, 0);
    assert.equal(result.requests, total);
    assert.ok(total > 10, `only ${total} reviews in a second`);
    // Three workers over three tokens: each worker keeps to its own token.
    assert.deepEqual([...seen.keys()].sort(), ["tok-a", "tok-b", "tok-deny"]);
    assert.equal(result.non2xx, seen.get("tok-deny"));
    assert.ok(result.p50 > 0 && result.p99 >= result.p50);
    assert.ok(result.cpuMicros > 0);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("h2_load refuses to run without its required options", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      runH2Load(H2_LOAD, {
        url: "",
        caFile: `${dir}/none.pem`,
        tokenFile: `${dir}/none.txt`,
        concurrency: 1,
        seconds: 1,
      }),
      /h2_load failed:\nh2_load: -url, -ca and -tokens are required/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
