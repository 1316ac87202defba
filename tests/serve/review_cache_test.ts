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
      if (!token.startsWith("k8s-aws-v1.")) throw new FormatError("token.prefix", "bad prefix");
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
  pending[1]!.reject(new STSError("sts.error", "boom"));
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

Deno.test("tokens that prove the same identity share one frozen object, released with the last token", async () => {
  let now = 1_000;
  const expiry = new Map([["k8s-aws-v1.a", 5_000], ["k8s-aws-v1.b", 9_000], [
    "k8s-aws-v1.c",
    9_000,
  ]]);
  const alice = identityFor("alice");
  const verifier: TwoStepVerifier<Checked> = {
    checkToken: (token) => ({ token, expiresAt: new Date(expiry.get(token)!) }),
    // Each STS answer is a new object, as it is when parsed from a response.
    callSts: (checked) =>
      Promise.resolve(checked.token === "k8s-aws-v1.c" ? identityFor("carol") : { ...alice }),
  };
  const cache = new ReviewCache(verifier, { now: () => now });
  const a = await cache.verify("k8s-aws-v1.a");
  const b = await cache.verify("k8s-aws-v1.b");
  const c = await cache.verify("k8s-aws-v1.c");
  assert.equal(cache.size, 3);
  assert.equal(cache.identityCount, 2);
  assert.strictEqual(a.identity, b.identity);
  assert.notStrictEqual(a.identity, c.identity);
  assert.deepEqual(a.identity, alice);
  assert.ok(Object.isFrozen(a.identity));
  assert.strictEqual((await cache.verify("k8s-aws-v1.b")).identity, a.identity);

  // Token a expires; alice stays shared by b until b expires too.
  now = 6_000;
  assert.equal((await cache.verify("k8s-aws-v1.c")).cache, "hit");
  assert.equal((await cache.verify("k8s-aws-v1.a")).cache, "miss"); // expired: re-verified,
  assert.equal(cache.size, 2); // and not stored again (its fixed expiry has passed).
  assert.equal(cache.identityCount, 2);
  now = 10_000;
  assert.equal((await cache.verify("k8s-aws-v1.b")).cache, "miss");
  assert.equal((await cache.verify("k8s-aws-v1.c")).cache, "miss");
  assert.equal(cache.size, 0);
  assert.equal(cache.identityCount, 0);
});

Deno.test("identities differing in any field are never shared", async () => {
  const base = identityFor("Dave");
  const variants: Identity[] = [
    base,
    { ...base, sessionName: "other" },
    { ...base, accessKeyId: "AKIB" },
    { ...base, stsEndpoint: "sts.us-west-2.amazonaws.com" },
    { ...base, canonicalArn: base.canonicalArn.toLowerCase() },
    { ...base, userId: "AIDAX" },
    { ...base, accountId: "210987654321" },
    { ...base, arn: base.arn + "x" },
  ];
  let i = 0;
  const verifier: TwoStepVerifier<Checked> = {
    checkToken: (token) => ({ token, expiresAt: new Date(Date.now() + 60_000) }),
    callSts: () => Promise.resolve({ ...variants[i++]! }),
  };
  const cache = new ReviewCache(verifier);
  const seen: Identity[] = [];
  for (let n = 0; n < variants.length; n++) {
    seen.push((await cache.verify(`k8s-aws-v1.${n}`)).identity);
  }
  assert.equal(cache.identityCount, variants.length);
  seen.forEach((identity, n) => assert.deepEqual(identity, variants[n]));
});

Deno.test("evicting the oldest token releases its identity", async () => {
  const verifier: TwoStepVerifier<Checked> = {
    checkToken: (token) => ({ token, expiresAt: new Date(Date.now() + 60_000) }),
    callSts: (checked) => Promise.resolve(identityFor(checked.token)),
  };
  const cache = new ReviewCache(verifier, { maxEntries: 2 });
  for (const t of ["a", "b", "c", "d", "e"]) await cache.verify(`k8s-aws-v1.${t}`);
  assert.equal(cache.size, 2);
  assert.equal(cache.identityCount, 2);
});

Deno.test("identities with one ARN are kept apart and released in any order", async () => {
  let now = 1_000;
  const base = identityFor("erin");
  // Same ARN, one access key per token: a, b and c are three sessions of one principal.
  const expiry: Record<string, number> = { a: 9_000, b: 5_000, c: 9_000, d: 9_000 };
  const verifier: TwoStepVerifier<Checked> = {
    checkToken: (token) => ({ token, expiresAt: new Date(expiry[token.slice(-1)]!) }),
    callSts: (checked) => Promise.resolve({ ...base, accessKeyId: `AKIA${checked.token.at(-1)}` }),
  };
  const cache = new ReviewCache(verifier, { now: () => now });
  const a = (await cache.verify("k8s-aws-v1.a")).identity;
  const b = (await cache.verify("k8s-aws-v1.b")).identity;
  const c = (await cache.verify("k8s-aws-v1.c")).identity;
  assert.equal(cache.identityCount, 3);

  // b sits in the middle of the chain for this ARN; its expiry must not disturb a or c.
  now = 6_000;
  assert.equal((await cache.verify("k8s-aws-v1.b")).cache, "miss");
  assert.equal(cache.identityCount, 2);
  assert.strictEqual((await cache.verify("k8s-aws-v1.a")).identity, a);
  assert.strictEqual((await cache.verify("k8s-aws-v1.c")).identity, c);
  assert.equal((await cache.verify("k8s-aws-v1.a")).identity.accessKeyId, "AKIAa");
  assert.equal((await cache.verify("k8s-aws-v1.c")).identity.accessKeyId, "AKIAc");

  // A new token for a's session joins a's object; one for b's session gets a new object, as
  // b's was released.
  verifier.callSts = () => Promise.resolve({ ...base, accessKeyId: "AKIAa" });
  assert.strictEqual((await cache.verify("k8s-aws-v1.d")).identity, a);
  assert.equal(cache.identityCount, 2);
  expiry.e = 9_000;
  verifier.callSts = () => Promise.resolve({ ...base, accessKeyId: "AKIAb" });
  const again = (await cache.verify("k8s-aws-v1.e")).identity;
  assert.deepEqual(again, b);
  assert.notStrictEqual(again, b);
  assert.equal(cache.identityCount, 3);

  // The newest identity heads the chain; releasing it must keep the others reachable.
  expiry.g = 8_500;
  verifier.callSts = () => Promise.resolve({ ...base, accessKeyId: "AKIAg" });
  const g = (await cache.verify("k8s-aws-v1.g")).identity;
  now = 8_600;
  assert.equal((await cache.verify("k8s-aws-v1.g")).cache, "miss");
  assert.equal(cache.identityCount, 3);
  assert.strictEqual((await cache.verify("k8s-aws-v1.a")).identity, a);
  expiry.h = 9_000;
  const newG = (await cache.verify("k8s-aws-v1.h")).identity;
  assert.deepEqual(newG, g);
  assert.notStrictEqual(newG, g);
});

Deno.test("reviews that join an STS call get the same shared object as the one that made it", async () => {
  const { verifier, pending } = controllable(Date.now() + 60_000);
  const cache = new ReviewCache(verifier);
  const first = cache.verify("k8s-aws-v1.f");
  const joined = cache.verify("k8s-aws-v1.f");
  await new Promise((r) => setTimeout(r, 0));
  pending[0]!.resolve();
  const [x, y] = await Promise.all([first, joined]);
  assert.equal(x.cache, "miss");
  assert.equal(y.cache, "shared");
  assert.strictEqual(x.identity, y.identity);
  assert.ok(Object.isFrozen(y.identity));
});

Deno.test("a full cache keeps exactly the newest tokens through thousands of evictions", async () => {
  const verifier: TwoStepVerifier<Checked> = {
    checkToken: (token) => ({ token, expiresAt: new Date(Date.now() + 60_000) }),
    callSts: (checked) => Promise.resolve(identityFor(`u${Number(checked.token.slice(11)) % 7}`)),
  };
  const cache = new ReviewCache(verifier, { maxEntries: 100 });
  // Enough inserts that the eviction queue is compacted many times over.
  for (let i = 0; i < 5_000; i++) await cache.verify(`k8s-aws-v1.${i}`);
  assert.equal(cache.size, 100);
  assert.equal(cache.identityCount, 7);
  assert.equal((await cache.verify("k8s-aws-v1.4900")).cache, "hit");
  assert.equal((await cache.verify("k8s-aws-v1.4999")).cache, "hit");
  assert.equal((await cache.verify("k8s-aws-v1.4899")).cache, "miss");
  // That miss evicted the oldest (4900), not a newer token.
  assert.equal((await cache.verify("k8s-aws-v1.4901")).cache, "hit");
  assert.equal((await cache.verify("k8s-aws-v1.4900")).cache, "miss");
});

Deno.test("a token that expires before older ones is dropped on access and skipped later", async () => {
  let now = 1_000;
  // b arrives after a but expires first (it was signed earlier).
  const expiry: Record<string, number> = { a: 9_000, b: 3_000, c: 9_000, d: 9_000 };
  const verifier: TwoStepVerifier<Checked> = {
    checkToken: (token) => ({ token, expiresAt: new Date(expiry[token.slice(-1)]!) }),
    callSts: (checked) => Promise.resolve(identityFor(checked.token.slice(-1))),
  };
  const cache = new ReviewCache(verifier, { now: () => now, maxEntries: 2 });
  await cache.verify("k8s-aws-v1.a");
  await cache.verify("k8s-aws-v1.b");
  now = 4_000;
  assert.equal((await cache.verify("k8s-aws-v1.b")).cache, "miss"); // expired: dropped.
  assert.equal(cache.size, 1);
  // With b gone there is room for c without evicting a; d then evicts a, the oldest live one.
  await cache.verify("k8s-aws-v1.c");
  assert.equal((await cache.verify("k8s-aws-v1.a")).cache, "hit");
  await cache.verify("k8s-aws-v1.d");
  assert.equal(cache.size, 2);
  assert.equal(cache.identityCount, 2);
  assert.equal((await cache.verify("k8s-aws-v1.c")).cache, "hit");
  assert.equal((await cache.verify("k8s-aws-v1.d")).cache, "hit");
});

Deno.test("an expiry between whole seconds is kept rounded down: early, never late", async () => {
  let now = 1_000;
  const { verifier, calls, pending } = controllable(10_500);
  const cache = new ReviewCache(verifier, { now: () => now });
  const first = cache.verify("k8s-aws-v1.a");
  pending[0]!.resolve();
  assert.equal((await first).cache, "miss");
  now = 10_000;
  assert.equal((await cache.verify("k8s-aws-v1.a")).cache, "hit");
  // Within the token's last half second: verified again rather than answered from the cache.
  now = 10_499;
  const again = cache.verify("k8s-aws-v1.a");
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(calls.length, 2);
  pending[1]!.resolve();
  assert.equal((await again).cache, "miss");
});
