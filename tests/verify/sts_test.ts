import { strict as assert } from "node:assert";
import {
  type CheckedToken,
  identityFromResponse,
  STSError,
  STSThrottling,
  Verifier,
} from "../../src/verify/mod.ts";
import { freePort } from "../peers/ports.ts";
import { type PeerPrincipal, startStsPeer, type StsPeer } from "../peers/sts_peer.ts";
import { presignToken, urlOf } from "./fixtures.ts";

const ALICE: PeerPrincipal = {
  accessKeyId: "AKIAIOSFODNN7EXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  arn: "arn:aws:iam::123456789012:user/alice",
  userId: "AIDAEXAMPLEALICE0000",
  account: "123456789012",
};

const CHECKED: CheckedToken = {
  url: "https://sts.amazonaws.com/",
  host: "sts.amazonaws.com",
  stsRegion: "global",
  accessKeyId: "AKIAIOSFODNN7EXAMPLE",
  signedAt: new Date(0),
  expiresAt: new Date(900_000),
};

function body(result: Record<string, unknown>, meta: unknown = { RequestId: "r-1" }): string {
  return JSON.stringify({
    GetCallerIdentityResponse: { GetCallerIdentityResult: result, ResponseMetadata: meta },
  });
}

const GOOD = { Account: "123456789012", Arn: ALICE.arn, UserId: "AIDAEXAMPLEALICE0000" };

Deno.test("identity for each principal type (docs/verification.md#sts-answer)", () => {
  assert.deepEqual(identityFromResponse(body(GOOD), CHECKED), {
    arn: ALICE.arn,
    canonicalArn: ALICE.arn,
    accountId: "123456789012",
    userId: "AIDAEXAMPLEALICE0000",
    sessionName: "",
    accessKeyId: "AKIAIOSFODNN7EXAMPLE",
    stsEndpoint: "sts.amazonaws.com",
  });
  const role = identityFromResponse(
    body({
      Account: "123456789012",
      Arn: "arn:aws:sts::123456789012:assumed-role/Admin/alice@corp",
      UserId: "AROAEXAMPLEADMIN0000:alice@corp",
    }),
    CHECKED,
  );
  assert.equal(role.canonicalArn, "arn:aws:iam::123456789012:role/Admin");
  assert.equal(role.userId, "AROAEXAMPLEADMIN0000");
  assert.equal(role.sessionName, "alice@corp");
  const fed = identityFromResponse(
    body({
      Account: "123456789012",
      Arn: "arn:aws:sts::123456789012:federated-user/Alice",
      UserId: "123456789012:Alice",
    }),
    CHECKED,
  );
  assert.equal(fed.userId, "123456789012:Alice");
  assert.equal(fed.sessionName, "");
  const root = identityFromResponse(
    body({
      Account: "123456789012",
      Arn: "arn:aws:iam::123456789012:root",
      UserId: "123456789012",
    }),
    CHECKED,
  );
  assert.equal(root.userId, "123456789012");
  // Unknown extra fields (AWS may add some) are ignored.
  assert.equal(identityFromResponse(body({ ...GOOD, Extra: 1 }), CHECKED).arn, ALICE.arn);
});

const badBodies: [string, string, RegExp][] = [
  [
    "XML",
    `<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>${ALICE.arn}</Arn></GetCallerIdentityResult></GetCallerIdentityResponse>`,
    /is not JSON/,
  ],
  ["HTML", "<html>proxy</html>", /is not JSON/],
  ["empty", "", /is not JSON/],
  ["array", "[]", /not a JSON object/],
  ["null", "null", /not a JSON object/],
  ["{}", "{}", /no GetCallerIdentityResponse object/],
  [
    "lower-case keys",
    JSON.stringify({ getcalleridentityresponse: {} }),
    /no GetCallerIdentityResponse object/,
  ],
  [
    "result missing",
    JSON.stringify({ GetCallerIdentityResponse: { ResponseMetadata: { RequestId: "x" } } }),
    /no GetCallerIdentityResponse.GetCallerIdentityResult object/,
  ],
  [
    "metadata missing",
    JSON.stringify({ GetCallerIdentityResponse: { GetCallerIdentityResult: GOOD } }),
    /ResponseMetadata object/,
  ],
  ["RequestId missing", body(GOOD, {}), /RequestId string/],
  [
    "Arn missing",
    body({ Account: GOOD.Account, UserId: GOOD.UserId }),
    /no GetCallerIdentityResult.Arn string/,
  ],
  ["Arn empty", body({ ...GOOD, Arn: "" }), /Arn string/],
  ["Arn not a string", body({ ...GOOD, Arn: 7 }), /Arn string/],
  ["Account missing", body({ Arn: GOOD.Arn, UserId: GOOD.UserId }), /Account string/],
  ["UserId missing", body({ Arn: GOOD.Arn, Account: GOOD.Account }), /UserId string/],
  ["UserId empty", body({ ...GOOD, UserId: "" }), /UserId string/],
  ["Account malformed", body({ ...GOOD, Account: "1234" }), /malformed Account/],
  [
    "Account differs from the ARN's (case 33)",
    body({ ...GOOD, Account: "999999999999" }),
    /differs from the account of its Arn/,
  ],
  [
    "unparsable ARN",
    body({ ...GOOD, Arn: "arn:aws:iam" }),
    /^sts getCallerIdentity failed: arn 'arn:aws:iam' is invalid: 'arn: not enough sections'$/,
  ],
  [
    "non-identity ARN",
    body({ ...GOOD, Arn: "arn:aws:s3:::bucket" }),
    /service s3 in arn arn:aws:s3:::bucket is not a valid service for identities/,
  ],
  [
    "role UserId without ':'",
    body({ ...GOOD, Arn: "arn:aws:sts::123456789012:assumed-role/A/s", UserId: "AROAX" }),
    /^sts getCallerIdentity failed: malformed UserID "AROAX"$/,
  ],
  [
    "role UserId with two ':'",
    body({ ...GOOD, Arn: "arn:aws:sts::123456789012:assumed-role/A/s", UserId: "AROAX:s:t" }),
    /malformed UserID "AROAX:s:t"/,
  ],
  [
    "role UserId with empty session",
    body({ ...GOOD, Arn: "arn:aws:sts::123456789012:assumed-role/A/s", UserId: "AROAX:" }),
    /malformed UserID/,
  ],
  [
    "forged identity hidden in a string",
    JSON.stringify({ Message: body(GOOD) }),
    /no GetCallerIdentityResponse object/,
  ],
];

for (const [name, text, msg] of badBodies) {
  Deno.test(`strict response parsing rejects: ${name}`, () => {
    assert.throws(() => identityFromResponse(text, CHECKED), (e: unknown) => {
      assert.ok(e instanceof STSError, `expected STSError, got ${e}`);
      assert.match(e.message, msg);
      return true;
    });
  });
}

interface Recorded {
  responses: [number, string][];
  failures: string[];
  throttled: string[];
}

async function withPeer(
  fn: (peer: StsPeer, v: Verifier, rec: Recorded, token: string) => Promise<void>,
  o: { timeoutMs?: number; maxResponseBytes?: number } = {},
) {
  const peer = await startStsPeer({ principals: [ALICE] });
  const rec: Recorded = { responses: [], failures: [], throttled: [] };
  try {
    const v = new Verifier({
      clusterId: "c1",
      partition: "aws",
      stsEndpointOverride: peer.url,
      ...o,
      observer: {
        response: (c, r) => rec.responses.push([c, r]),
        connectionFailure: (r) => rec.failures.push(r),
        throttled: (r) => rec.throttled.push(r),
      },
    });
    const token = await presignToken(ALICE, peer.url, "c1");
    await fn(peer, v, rec, token);
  } finally {
    await peer.close();
  }
}

function assertNoSecrets(message: string, token: string) {
  const url = urlOf(token);
  const sig = /X-Amz-Signature=([0-9a-f]+)/.exec(url)![1]!;
  assert.ok(!message.includes(sig), "message contains the signature");
  assert.ok(!message.includes(url), "message contains the URL");
  assert.ok(!message.includes("X-Amz-Credential"), "message contains the query");
}

Deno.test("30 the outbound request: GET, only our headers, our cluster ID", async () => {
  await withPeer(async (peer, v, rec, token) => {
    const id = await v.verify(token);
    assert.equal(id.arn, ALICE.arn);
    assert.equal(id.stsEndpoint, new URL(peer.url).host);
    const req = peer.lastRequest!;
    assert.equal(req.method, "GET");
    assert.equal(req.url, urlOf(token));
    assert.equal(req.headers["x-k8s-aws-id"], "c1");
    assert.equal(req.headers["accept"], "application/json");
    const allowed = new Set([
      "host",
      "x-k8s-aws-id",
      "accept",
      // Added by Deno's fetch itself; none carries anything from the client.
      "accept-encoding",
      "accept-language",
      "user-agent",
    ]);
    for (const h of Object.keys(req.headers)) assert.ok(allowed.has(h), `unexpected header ${h}`);
    assert.deepEqual(rec.responses, [[200, "custom"]]);
  });
});

Deno.test("29 a token for another cluster is refused by STS's signature check", async () => {
  await withPeer(async (peer, _v, rec, token) => {
    const other = new Verifier({
      clusterId: "c2",
      partition: "aws",
      stsEndpointOverride: peer.url,
      observer: {
        response: (c) => rec.responses.push([c, ""]),
        connectionFailure() {},
        throttled() {},
      },
    });
    const e = await other.verify(token).catch((e) => e);
    assert.ok(e instanceof STSError);
    assert.equal(
      e.message,
      "sts getCallerIdentity failed: error from AWS (expected 200, got 403) on custom endpoint. Code: SignatureDoesNotMatch",
    );
    assertNoSecrets(e.message, token);
    assert.deepEqual(rec.responses, [[403, ""]]);
  });
});

Deno.test("34 throttling → STSThrottling and the metric hook; 5xx → STSError without the body", async () => {
  await withPeer(async (peer, v, rec, token) => {
    peer.setFaults({ throttle: true });
    const t = await v.verify(token).catch((e) => e);
    assert.ok(t instanceof STSThrottling, String(t));
    assert.match(t.message, /^sts getCallerIdentity was throttled: .*got 400.*Code: Throttling$/);
    assert.deepEqual(rec.throttled, ["custom"]);
    peer.setFaults({ status: 503 });
    const s = await v.verify(token).catch((e) => e);
    assert.ok(s instanceof STSError);
    assert.equal(
      s.message,
      "sts getCallerIdentity failed: error from AWS (expected 200, got 503) on custom endpoint. Code: InternalFailure",
    );
    assert.ok(!s.message.includes("unknown error"), "the STS message is echoed");
    peer.setFaults({ status: 500, body: `oops ${urlOf(token)}` });
    const b = await v.verify(token).catch((e) => e);
    assert.ok(b instanceof STSError);
    assertNoSecrets(b.message, token);
    peer.setFaults({ body: "<GetCallerIdentityResponse/>" });
    const x = await v.verify(token).catch((e) => e);
    assert.ok(x instanceof STSError);
    assert.match(x.message, /is not JSON/);
    assert.deepEqual(rec.responses.map(([c]) => c), [400, 503, 500, 200]);
  });
});

Deno.test("31 redirects are not followed", async () => {
  await withPeer(async (peer, _v, rec, token) => {
    const target = urlOf(token);
    const redirector = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () => new Response(null, { status: 302, headers: { location: target } }),
    );
    try {
      const origin = `http://127.0.0.1:${redirector.addr.port}`;
      const v = new Verifier({
        clusterId: "c1",
        partition: "aws",
        stsEndpointOverride: origin,
        observer: {
          response: (c) => rec.responses.push([c, ""]),
          connectionFailure() {},
          throttled() {},
        },
      });
      const before = peer.requestCount;
      const e = await v.verify(await presignToken(ALICE, origin, "c1")).catch((e) => e);
      assert.ok(e instanceof STSError);
      assert.match(e.message, /got 302/);
      assert.equal(peer.requestCount, before, "the redirect was followed");
    } finally {
      await redirector.shutdown();
    }
  });
});

Deno.test("32 timeout and body cap", async () => {
  await withPeer(async (peer, v, _rec, token) => {
    peer.setFaults({ latencyMs: 2000 });
    const start = performance.now();
    const e = await v.verify(token).catch((e) => e);
    assert.ok(e instanceof STSError);
    assert.equal(
      e.message,
      "sts getCallerIdentity failed: error during GET: request timed out after 100 ms on custom endpoint",
    );
    assert.ok(performance.now() - start < 1500, "the timeout did not apply");
    peer.setFaults({ body: " ".repeat(1000) + "x" });
    const big = await v.verify(token).catch((e) => e);
    assert.ok(big instanceof STSError);
    assert.equal(
      big.message,
      "sts getCallerIdentity failed: error reading HTTP result: the response is larger than 1000 bytes",
    );
    peer.setFaults({});
    assert.equal((await v.verify(token)).arn, ALICE.arn);
  }, { timeoutMs: 100, maxResponseBytes: 1000 });
});

Deno.test("32 the STS deadline is armed through the injected setDeadline", async () => {
  const peer = await startStsPeer({ principals: [ALICE], latencyMs: 2000 });
  try {
    const armed: number[] = [];
    let cancelled = 0;
    const v = new Verifier({
      clusterId: "c1",
      partition: "aws",
      stsEndpointOverride: peer.url,
      timeoutMs: 1234,
      // Expires at once: the call must be aborted by this deadline, not by a timer of its own.
      setDeadline: (ms, onExpire) => {
        armed.push(ms);
        queueMicrotask(onExpire);
        return () => cancelled++;
      },
    });
    const start = performance.now();
    const e = await v.verify(await presignToken(ALICE, peer.url, "c1")).catch((e) => e);
    assert.ok(e instanceof STSError);
    assert.equal(
      e.message,
      "sts getCallerIdentity failed: error during GET: request timed out after 1234 ms on custom endpoint",
    );
    assert.ok(performance.now() - start < 1000, "the injected deadline did not abort the call");
    assert.deepEqual(armed, [1234]);
    assert.equal(cancelled, 1, "the deadline is released when the call ends");
  } finally {
    await peer.close();
  }
});

for (const framing of ["content-length", "chunked"] as const) {
  Deno.test(`32 a body that stops arriving times out (${framing})`, async () => {
    // Headers arrive at once, then the body stalls: the deadline covers the body too, whether
    // it is read in one go (declared length) or as a stream.
    const server = rawServer(async (conn) => {
      await conn.write(new TextEncoder().encode(
        framing === "content-length"
          ? 'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{"a":'
          : 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\n{"a":\r\n',
      ));
    });
    const origin = server.origin;
    try {
      const v = new Verifier({
        clusterId: "c1",
        partition: "aws",
        stsEndpointOverride: origin,
        timeoutMs: 200,
      });
      const token = await presignToken(ALICE, origin, "c1");
      const start = performance.now();
      const e = await v.verify(token).catch((e) => e);
      assert.ok(e instanceof STSError);
      assert.equal(
        e.message,
        "sts getCallerIdentity failed: error reading HTTP result: timed out after 200 ms",
      );
      assert.ok(performance.now() - start < 1500, "the timeout did not apply to the body");
    } finally {
      await server.close();
    }
  });
}

/**
 * A raw TCP server on loopback: reads each request's first bytes, then hands the connection to
 * `answer`, which writes what it likes (possibly a partial answer, left open).
 */
function rawServer(answer: (conn: Deno.Conn) => Promise<void>) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      await conn.read(new Uint8Array(16384));
      await answer(conn);
    }
  })().catch(() => {});
  return {
    origin: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    async close() {
      listener.close();
      for (const c of conns) c.close();
      await serving;
    },
  };
}

/** A raw HTTP/1.1 server answering every request with `text` in chunks of `size` bytes. */
function chunkedServer(text: string, size: number) {
  const bytes = new TextEncoder().encode(text);
  return rawServer(async (conn) => {
    let out = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n" +
      "transfer-encoding: chunked\r\nconnection: close\r\n\r\n";
    for (let i = 0; i < bytes.length; i += size) {
      const chunk = bytes.subarray(i, i + size);
      out += `${chunk.length.toString(16)}\r\n${new TextDecoder().decode(chunk)}\r\n`;
    }
    await conn.write(new TextEncoder().encode(out + "0\r\n\r\n"));
  });
}

Deno.test("32 an answer without a declared length (chunked) is read whole, or refused over the cap", async () => {
  // Longer than the first read buffer (16 KiB), so the buffer has to grow.
  const padded = body(GOOD).replace("{", "{" + " ".repeat(30_000));
  for (
    const [text, max, expected] of [
      [padded, 40_000, ALICE.arn],
      [padded, padded.length, ALICE.arn],
      [padded, padded.length - 1, "error reading HTTP result: the response is larger than"],
      [body(GOOD), 1000, ALICE.arn],
    ] as const
  ) {
    const server = chunkedServer(text, 4000);
    try {
      const v = new Verifier({
        clusterId: "c1",
        partition: "aws",
        stsEndpointOverride: server.origin,
        maxResponseBytes: max,
      });
      const r = await v.verify(await presignToken(ALICE, server.origin, "c1")).catch((e) => e);
      if (expected.startsWith("arn:")) assert.equal(r.arn, expected, String(r));
      else {
        assert.ok(r instanceof STSError);
        assert.equal(r.message, `sts getCallerIdentity failed: ${expected} ${max} bytes`);
      }
    } finally {
      await server.close();
    }
  }
});

Deno.test("32 a body that is not a byte stream (an injected fetch) is read and capped too", async () => {
  const streamed = (text: string) => () => {
    const bytes = new TextEncoder().encode(text);
    return Promise.resolve(
      new Response(
        new ReadableStream<Uint8Array>({
          start(c) {
            for (let i = 0; i < bytes.length; i += 100) c.enqueue(bytes.slice(i, i + 100));
            c.close();
          },
        }),
      ),
    );
  };
  const origin = "http://127.0.0.1:9";
  const token = await presignToken(ALICE, origin, "c1");
  const verifier = (text: string) =>
    new Verifier({
      clusterId: "c1",
      partition: "aws",
      stsEndpointOverride: origin,
      maxResponseBytes: 1000,
      fetch: streamed(text) as typeof fetch,
    });
  assert.equal((await verifier(body(GOOD)).verify(token)).arn, ALICE.arn);
  const e = await verifier(" ".repeat(1001)).verify(token).catch((e) => e);
  assert.ok(e instanceof STSError);
  assert.equal(
    e.message,
    "sts getCallerIdentity failed: error reading HTTP result: the response is larger than 1000 bytes",
  );
});

Deno.test("32 a declared length over the cap is refused without reading the body", async () => {
  await withPeer(async (peer, v, _rec, token) => {
    peer.setFaults({ body: "x".repeat(5000) });
    const e = await v.verify(token).catch((e) => e);
    assert.ok(e instanceof STSError);
    assert.equal(
      e.message,
      "sts getCallerIdentity failed: error reading HTTP result: the response is larger than 1000 bytes",
    );
  }, { maxResponseBytes: 1000 });
});

Deno.test("connection failure → STSError without the URL, and the metric hook", async () => {
  const port = freePort();
  const failures: string[] = [];
  const origin = `http://127.0.0.1:${port}`;
  const v = new Verifier({
    clusterId: "c1",
    partition: "aws",
    stsEndpointOverride: origin,
    observer: { response() {}, connectionFailure: (r) => failures.push(r), throttled() {} },
  });
  const token = await presignToken(ALICE, origin, "c1");
  const e = await v.verify(token).catch((e) => e);
  assert.ok(e instanceof STSError);
  assert.match(
    e.message,
    /^sts getCallerIdentity failed: error during GET: .* on custom endpoint$/,
  );
  assertNoSecrets(e.message, token);
  assert.deepEqual(failures, ["custom"]);
});
