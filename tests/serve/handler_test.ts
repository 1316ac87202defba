import assert from "node:assert/strict";
import {
  createHandler,
  denyBody,
  type HandlerDeps,
  type MappedIdentity,
} from "../../src/serve/handler.ts";
import { createServerMetrics, type ReviewOutcome } from "../../src/serve/metrics.ts";
import { FormatError, STSError, STSThrottling } from "../../src/verify/errors.ts";
import type { Identity } from "../../src/verify/identity.ts";
import { MappingError, NotMappedError } from "../../src/map/mapper.ts";

const IDENTITY: Identity = {
  arn: "arn:aws:sts::123456789012:assumed-role/Admin/alice",
  canonicalArn: "arn:aws:iam::123456789012:role/Admin",
  accountId: "123456789012",
  userId: "AROAEXAMPLE",
  sessionName: "alice",
  accessKeyId: "ASIAEXAMPLE",
  stsEndpoint: "sts.us-west-2.amazonaws.com",
};

const GOOD_TOKEN = "k8s-aws-v1.good";

interface LogLine {
  level: string;
  msg: string;
  props: Record<string, unknown>;
}

function setup(overrides: Partial<HandlerDeps> = {}, mapped?: MappedIdentity) {
  const logs: LogLine[] = [];
  const outcomes: ReviewOutcome[] = [];
  const reasons: (string | undefined)[] = [];
  const rec = (level: string) => (msg: string, props: Record<string, unknown> = {}) =>
    logs.push({ level, msg, props });
  const deps: HandlerDeps = {
    verify: (token) => {
      if (token === GOOD_TOKEN) return Promise.resolve({ identity: IDENTITY, cache: "miss" });
      if (token === "k8s-aws-v1.throttled") {
        return Promise.reject(new STSThrottling("Rate exceeded"));
      }
      if (token === "k8s-aws-v1.stserror") {
        return Promise.reject(new STSError("sts.error", "error from AWS (expected 200, got 403)"));
      }
      return Promise.reject(
        new FormatError("token.prefix", 'token is missing expected "k8s-aws-v1." prefix'),
      );
    },
    map: () => mapped ?? { username: "admin:alice", groups: ["system:masters"] },
    logger: { debug: rec("debug"), info: rec("info"), warn: rec("warn"), error: rec("error") },
    observeReview: (outcome, _seconds, reason) => {
      outcomes.push(outcome);
      reasons.push(reason);
    },
    ...overrides,
  };
  return { handler: createHandler(deps), logs, outcomes, reasons };
}

function review(token: string, apiVersion = "authentication.k8s.io/v1"): string {
  return JSON.stringify({ apiVersion, kind: "TokenReview", spec: { token } });
}

function post(body: BodyInit | null, headers: HeadersInit = {}): Request {
  return new Request("https://127.0.0.1:21362/authenticate", { method: "POST", body, headers });
}

Deno.test("success: v1 review echoes apiVersion and fills user exactly as the Go tool", async () => {
  const { handler, outcomes, logs } = setup();
  const res = await handler(post(review(GOOD_TOKEN)));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/json; charset=UTF-8");
  const text = await res.text();
  assert.equal(
    text,
    '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","metadata":{},"spec":{},' +
      '"status":{"authenticated":true,"user":{"username":"admin:alice",' +
      '"uid":"aws-iam-authenticator:123456789012:AROAEXAMPLE","groups":["system:masters"],' +
      '"extra":{"accessKeyId":["ASIAEXAMPLE"],' +
      '"arn":["arn:aws:sts::123456789012:assumed-role/Admin/alice"],' +
      '"canonicalArn":["arn:aws:iam::123456789012:role/Admin"],"principalId":["AROAEXAMPLE"],' +
      '"sessionName":["alice"],"sigs.k8s.io/aws-iam-authenticator/principalId":["AROAEXAMPLE"]}}}}\n',
  );
  assert.deepEqual(outcomes, ["success"]);
  const line = logs.find((l) => l.msg === "access granted");
  assert.ok(line);
  assert.equal(line.props.username, "admin:alice");
  assert.equal(line.props.arn, "arn:aws:iam::123456789012:role/Admin");
  assert.equal(typeof line.props.latencyMs, "number");
});

Deno.test("success: v1beta1 is echoed; empty groups are omitted", async () => {
  const { handler } = setup({}, { username: "arn:aws:iam::123456789012:role/Admin", groups: [] });
  const res = await handler(post(review(GOOD_TOKEN, "authentication.k8s.io/v1beta1")));
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.apiVersion, "authentication.k8s.io/v1beta1");
  assert.equal(body.kind, "TokenReview");
  assert.equal("groups" in body.status.user, false);
});

Deno.test("scrubbed accounts: administrative uid and no extra, ARN kept out of the log", async () => {
  const { handler, logs } = setup({ scrubbedAccounts: ["123456789012"] });
  const res = await handler(post(review(GOOD_TOKEN)));
  const body = await res.json();
  assert.equal(body.status.user.uid, "aws-iam-authenticator:administrative:admin:alice");
  assert.equal("extra" in body.status.user, false);
  assert.equal(JSON.stringify(logs).includes("123456789012"), false);
});

Deno.test("verification failures: 429 throttling, denied STS error and invalid token (200), each with its reason", async () => {
  const cases: [string, number, ReviewOutcome, string][] = [
    [
      "k8s-aws-v1.throttled",
      429,
      "sts_throttling",
      "sts.throttled: sts getCallerIdentity was throttled: Rate exceeded. Retry; if it persists, " +
      "reduce the rate of new tokens (or raise the STS quota).",
    ],
    [
      "k8s-aws-v1.stserror",
      200,
      "sts_error",
      "sts.error: sts getCallerIdentity failed: error from AWS (expected 200, got 403). Look up " +
      "the STS error code in the server's log line for this review.",
    ],
    [
      "garbage",
      200,
      "invalid_token",
      'token.prefix: input token was not properly formatted: token is missing expected "k8s-aws-' +
      'v1." prefix. Configure kubectl to get its token from `aws-iam-authenticator token` or ' +
      "`aws eks get-token` for this cluster.",
    ],
  ];
  for (const [token, status, outcome, error] of cases) {
    const reasons: (string | undefined)[] = [];
    const { handler, outcomes, logs } = setup({
      observeReview: (o, _s, reason) => {
        outcomes.push(o);
        reasons.push(reason);
      },
    });
    const res = await handler(post(review(token, "authentication.k8s.io/v1beta1")));
    assert.equal(res.status, status, token);
    assert.equal(res.headers.get("content-type"), "application/json; charset=UTF-8");
    assert.equal(await res.text(), denyBody("authentication.k8s.io/v1beta1", error));
    assert.deepEqual(outcomes, [outcome]);
    const reason = error.slice(0, error.indexOf(":"));
    assert.deepEqual(reasons, [reason]);
    assert.equal(logs.at(-1)?.msg, "access denied");
    assert.equal(logs.at(-1)?.props.reason, reason);
  }
  assert.equal(
    denyBody("authentication.k8s.io/v1"),
    '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","metadata":{},"spec":{},' +
      '"status":{"user":{}}}',
  );
  assert.equal(
    denyBody("authentication.k8s.io/v1", "token.expired: x"),
    '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","metadata":{},"spec":{},' +
      '"status":{"user":{},"error":"token.expired: x"}}',
  );
});

Deno.test("mapping failures deny with unknown_user and the mapper's reason", async () => {
  const cases: [() => MappedIdentity | Promise<MappedIdentity>, string, string[]][] = [
    [
      () => {
        throw new NotMappedError();
      },
      "map.not_mapped",
      ["identity arn:aws:iam::123456789012:role/Admin is not mapped"],
    ],
    [
      () => Promise.reject(new MappingError("map.reserved_prefix", "invalid username 'eks:x'")),
      "map.reserved_prefix",
      ["invalid username 'eks:x'"],
    ],
    // An error that is not the mapper's own still denies, as a backend error.
    [
      () => Promise.reject(new Error("informer exploded")),
      "map.backend_error",
      ["informer exploded"],
    ],
    [
      () => ({ username: "", groups: ["system:masters"] }),
      "map.empty_username",
      ["mapping produced an empty username"],
    ],
  ];
  for (const [map, reason, details] of cases) {
    const reasons: (string | undefined)[] = [];
    const { handler, outcomes, logs } = setup({
      map,
      observeReview: (o, _s, r) => {
        outcomes.push(o);
        reasons.push(r);
      },
    });
    const res = await handler(post(review(GOOD_TOKEN)));
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.status.authenticated, undefined);
    assert.ok(body.status.error.startsWith(`${reason}: `), body.status.error);
    for (const d of details) assert.ok(body.status.error.includes(d), body.status.error);
    assert.deepEqual(outcomes, ["unknown_user"]);
    assert.deepEqual(reasons, [reason]);
    assert.equal(logs.at(-1)?.props.reason, reason);
  }
});

Deno.test("scrubbed accounts: a not-mapped denial does not name the ARN", async () => {
  const { handler } = setup({
    scrubbedAccounts: ["123456789012"],
    map: () => Promise.reject(new NotMappedError()),
  });
  const res = await handler(post(review(GOOD_TOKEN)));
  const body = await res.json();
  assert.ok(body.status.error.startsWith("map.not_mapped: identity is not mapped."));
  assert.equal(JSON.stringify(body).includes("123456789012"), false);
});

Deno.test("malformed requests: 400 for empty, non-JSON, wrong kind/apiVersion, empty token", async () => {
  const bodies: [string | null, string][] = [
    [null, "expected a request body\n"],
    ["", "expected a request body\n"],
    ["{not json", "expected a request body to be a TokenReview\n"],
    ["[]", "expected a request body to be a TokenReview\n"],
    [
      JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "SubjectAccessReview" }),
      "expected a request body to be a TokenReview (kind TokenReview)\n",
    ],
    [
      JSON.stringify({ apiVersion: "v1", kind: "TokenReview", spec: { token: GOOD_TOKEN } }),
      "expected a request body to be a TokenReview of apiVersion authentication.k8s.io/v1 " +
      "or authentication.k8s.io/v1beta1\n",
    ],
    [
      JSON.stringify({ kind: "TokenReview", spec: { token: GOOD_TOKEN } }),
      "expected a request body to be a TokenReview of apiVersion authentication.k8s.io/v1 " +
      "or authentication.k8s.io/v1beta1\n",
    ],
    [review(""), "expected a request body to be a TokenReview with a non-empty spec.token\n"],
    [
      JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: {} }),
      "expected a request body to be a TokenReview with a non-empty spec.token\n",
    ],
  ];
  for (const [body, expected] of bodies) {
    let verified = 0;
    const { handler, outcomes, reasons } = setup({
      verify: () => {
        verified++;
        return Promise.resolve({ identity: IDENTITY });
      },
    });
    const res = await handler(post(body));
    assert.equal(res.status, 400, String(body));
    assert.equal(res.headers.get("content-type"), "text/plain; charset=utf-8");
    assert.equal(await res.text(), expected);
    assert.deepEqual(outcomes, ["malformed_request"]);
    assert.deepEqual(reasons, ["request.body"]);
    assert.equal(verified, 0);
  }
});

Deno.test("non-POST gets 405 expected POST", async () => {
  for (const method of ["GET", "PUT", "DELETE", "PATCH"]) {
    const { handler, outcomes, logs, reasons } = setup();
    const res = await handler(
      new Request("https://x/authenticate", {
        method,
        body: method === "GET" ? undefined : review(GOOD_TOKEN),
      }),
    );
    assert.equal(res.status, 405);
    assert.equal(await res.text(), "expected POST\n");
    assert.deepEqual(outcomes, ["malformed_request"]);
    assert.deepEqual(reasons, ["request.method"]);
    assert.equal(logs.at(-1)?.props.error, "unexpected request method");
    assert.equal(logs.at(-1)?.props.reason, "request.method");
  }
});

Deno.test("over 1 MiB: 413 by content-length and by streaming without a length", async () => {
  const { handler, outcomes, reasons } = setup();
  const big = "x".repeat(1024 * 1024 + 1);
  const res = await handler(post(big));
  assert.equal(res.status, 413);
  await res.body?.cancel();

  // A stream with no declared length is cut off as soon as the limit is crossed.
  let pulled = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++;
      if (pulled > 10_000) controller.close();
      else controller.enqueue(new Uint8Array(64 * 1024));
    },
  });
  const res2 = await handler(post(stream));
  assert.equal(res2.status, 413);
  assert.equal(await res2.text(), "expected a request body of at most 1048576 bytes\n");
  assert.ok(pulled < 40, `read ${pulled} chunks before giving up`);
  assert.deepEqual(outcomes, ["malformed_request", "malformed_request"]);
  assert.deepEqual(reasons, ["request.too_large", "request.too_large"]);

  // Exactly the limit is accepted (and then fails as not JSON, not as too large).
  const { handler: small } = setup({ maxBodyBytes: 10 });
  const res3 = await small(post("0123456789"));
  assert.equal(res3.status, 400);
  await res3.body?.cancel();
});

Deno.test("slow body: 408 after the body timeout", async () => {
  const { handler, outcomes, reasons } = setup({ bodyTimeoutMs: 50 });
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('{"apiVersion":'));
    },
    cancel() {
      cancelled = true;
    },
  });
  const res = await handler(post(stream));
  assert.equal(res.status, 408);
  await res.body?.cancel();
  assert.ok(cancelled);
  assert.deepEqual(outcomes, ["malformed_request"]);
  assert.deepEqual(reasons, ["request.timeout"]);
});

Deno.test("slow body with a declared length: 408 after the body timeout", async () => {
  const { handler, outcomes, reasons } = setup({ bodyTimeoutMs: 50 });
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('{"apiVersion":'));
    },
  });
  const res = await handler(post(stream, { "content-length": "100" }));
  assert.equal(res.status, 408);
  await res.body?.cancel();
  assert.deepEqual(outcomes, ["malformed_request"]);
  assert.deepEqual(reasons, ["request.timeout"]);
});

Deno.test("a body with a declared length is read in one go, its stream never opened", async () => {
  // Opening `req.body` turns the runtime's native one-shot read into a JS stream: more CPU and
  // garbage on every review (`deno task bench:server --alloc-profile repeated`).
  let opened = 0;
  class Watched extends Request {
    override get body(): ReadableStream<Uint8Array<ArrayBuffer>> | null {
      opened++;
      return super.body;
    }
  }
  const { handler, outcomes } = setup();
  const text = review(GOOD_TOKEN);
  const req = new Watched("https://x/authenticate", {
    method: "POST",
    body: text,
    headers: { "content-length": String(new TextEncoder().encode(text).byteLength) },
  });
  const res = await handler(req);
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.deepEqual(outcomes, ["success"]);
  assert.equal(opened, 0);
  // Without a length the stream is the only way to read it.
  const chunked = new Watched("https://x/authenticate", { method: "POST", body: text });
  assert.equal((await handler(chunked)).status, 200);
  assert.ok(opened > 0);
});

Deno.test("healthz, metrics and 404", async () => {
  const metrics = createServerMetrics({ processMetrics: false });
  const { handler } = setup({ metrics });
  const health = await handler(new Request("https://x/healthz"));
  assert.equal(health.status, 200);
  assert.equal(await health.text(), "ok");
  const m = await handler(new Request("https://x/metrics"));
  assert.equal(m.status, 200);
  assert.match(m.headers.get("content-type") ?? "", /^text\/plain/);
  assert.match(await m.text(), /aws_iam_authenticator_authenticate_latency_seconds/);
  const nf = await handler(new Request("https://x/authenticate/extra", { method: "POST" }));
  assert.equal(nf.status, 404);
  assert.equal(await nf.text(), "404 page not found\n");
});

Deno.test("the review path: query ignored, dot segments resolved, other spellings 404", async () => {
  const { handler, outcomes } = setup();
  const at = (url: string) =>
    handler(new Request(url, { method: "POST", body: review(GOOD_TOKEN) }));
  const cases: [string, number][] = [
    ["https://127.0.0.1:21362/authenticate?timeout=30s", 200],
    ["https://127.0.0.1:21362/authenticate#frag", 200],
    ["https://127.0.0.1:21362/x/../authenticate", 200],
    ["https://127.0.0.1:21362/authenticate/", 404],
    ["https://127.0.0.1:21362/Authenticate", 404],
    ["https://127.0.0.1:21362/authenticatex", 404],
    ["https://127.0.0.1:21362/", 404],
  ];
  for (const [url, status] of cases) {
    const res = await at(url);
    assert.equal(res.status, status, url);
    await res.body?.cancel();
  }
  assert.deepEqual(outcomes, ["success", "success", "success"]);
});

Deno.test("logs never contain the token or a presigned URL, even when errors quote them", async () => {
  const url = "https://sts.amazonaws.com/?Action=GetCallerIdentity&X-Amz-Signature=deadbeef";
  const token = "k8s-aws-v1." + btoa(url).replace(/=+$/, "");
  const { handler, logs } = setup({
    verify: () =>
      Promise.reject(new FormatError("token.url", `parse "${url}": bad; token ${token}`)),
  });
  const res = await handler(post(review(token)));
  assert.equal(res.status, 200);
  await res.body?.cancel();
  const all = JSON.stringify(logs);
  assert.equal(all.includes(token), false);
  assert.equal(all.includes("deadbeef"), false);
  assert.equal(all.includes("X-Amz-Signature=deadbeef"), false);
  assert.match(all, /input token was not properly formatted/);
  const { handler: h2 } = setup({
    verify: () =>
      Promise.reject(new FormatError("token.url", `parse "${url}": bad; token ${token}`)),
  });
  const body = await (await h2(post(review(token)))).text();
  assert.equal(body.includes(token), false);
  assert.equal(body.includes("deadbeef"), false);
  assert.match(
    body,
    /"error":"token\.url: input token was not properly formatted: parse \\"<url>\\"/,
  );
});
