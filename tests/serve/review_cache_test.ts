import assert from "node:assert/strict";
import { ReviewCache, type TwoStepVerifier } from "../../src/serve/review_cache.ts";
import { FormatError, STSError } from "../../src/verify/errors.ts";
import type { Identity } from "../../src/verify/identity.ts";

interface Checked {
  token: string;
  expiresAt: Date;
}

function identityFor(token: string): Identity {
  return {
    arn: `arn:aws:iam::123456789012:user/${token}`,
    canonicalArn: `arn:aws:iam::123456789012:user/${token}`,
    accountId: "123456789012",
    userId: "AIDA" + token,
    sessionName: "",
    accessKeyId: "AKIA",
    stsEndpoint: "sts.amazonaws.com",
  };
}

/** A verifier whose STS calls resolve when the test says so. */
function controllable(expiresAtMs: number) {
  const calls: string[] = [];
  const pending: { resolve: () => void; reject: (e: Error) => void }[] = [];
  const verifier: TwoStepVerifier<Checked> = {
    checkToken(token) {
      if (!token.startsWith("k8s-aws-v1.")) throw new FormatError("bad prefix");
      return { token, expiresAt: new Date(expiresAtMs) };
    },
    callSts(checked) {
      calls.push(checked.token);
      return new Promise<Identity>((resolve, reject) => {
        pending.push({ resolve: () => resolve(identityFor(checked.token)), reject });
      });
    },
  };
  return { verifier, calls, pending };
}

Deno.test("concurrent reviews of one token share one STS call", async () => {
  let now = 1_000;
  const { verifier, calls, pending } = controllable(10_000);
  const cache = new ReviewCache(verifier, { now: () => now });
  const all = Promise.all(Array.from({ length: 20 }, () => cache.verify("k8s-aws-v1.a")));
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(calls.length, 1);
  pending[0]!.resolve();
  const results = await all;
  assert.equal(results.filter((r) => r.cache === "miss").length, 1);
  assert.equal(results.filter((r) => r.cache === "shared").length, 19);
  assert.ok(results.every((r) => r.identity.arn.endsWith("/k8s-aws-v1.a")));

  // Later reviews hit the cache until the token's expiry, then call STS again.
  now = 9_999;
  assert.equal((await cache.verify("k8s-aws-v1.a")).cache, "hit");
  now = 10_000;
  assert.equal((await cache.verify("k8s-aws-v1.a")).cache, "hit");
  now = 10_001;
  const after = cache.verify("k8s-aws-v1.a");
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(calls.length, 2);
  pending[1]!.resolve();
  // Already expired by the (fixed) expiry, so it is not stored again.
  assert.equal((await after).cache, "miss");
  assert.equal(cache.size, 0);
});

Deno.test("different tokens are separate; failures are shared but never cached", async () => {
  const { verifier, calls, pending } = controllable(Date.now() + 60_000);
  const cache = new ReviewCache(verifier);
  const a = cache.verify("k8s-aws-v1.a");
  const b1 = cache.verify("k8s-aws-v1.b");
  const b2 = cache.verify("k8s-aws-v1.b");
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(calls, ["k8s-aws-v1.a", "k8s-aws-v1.b"]);
  pending[0]!.resolve();
  pending[1]!.reject(new STSError("boom"));
  assert.equal((await a).cache, "miss");
  await assert.rejects(b1, STSError);
  await assert.rejects(b2, STSError);
  const b3 = cache.verify("k8s-aws-v1.b");
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(calls.length, 3);
  pending[2]!.resolve();
  assert.equal((await b3).cache, "miss");
  assert.equal((await cache.verify("k8s-aws-v1.b")).cache, "hit");
});

Deno.test("format errors reach only their caller and are not cached", async () => {
  const { verifier, calls } = controllable(Date.now() + 60_000);
  const cache = new ReviewCache(verifier);
  await assert.rejects(cache.verify("nope"), FormatError);
  await assert.rejects(cache.verify("nope"), FormatError);
  assert.equal(calls.length, 0);
});

Deno.test("the cache is bounded: oldest entries go first", async () => {
  const verifier: TwoStepVerifier<Checked> = {
    checkToken: (token) => ({ token, expiresAt: new Date(Date.now() + 60_000) }),
    callSts: (checked) => Promise.resolve(identityFor(checked.token)),
  };
  const cache = new ReviewCache(verifier, { maxEntries: 3 });
  for (const t of ["a", "b", "c", "d"]) await cache.verify(`k8s-aws-v1.${t}`);
  assert.equal(cache.size, 3);
  assert.equal((await cache.verify("k8s-aws-v1.d")).cache, "hit");
  assert.equal((await cache.verify("k8s-aws-v1.a")).cache, "miss");
});
