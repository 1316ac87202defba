// deno-lint-ignore-file no-console -- a command-line benchmark reports on stdout
/**
 * Identity-cache benchmark (port decision 18): what the webhook's `ReviewCache` costs.
 *
 * Measures
 * - heap per cached token, when the tokens come from few principals (500, as `bench:server`
 *   and as `aws eks get-token` users produce: a new token per kubectl call) and when every token
 *   has an identity of its own. Tokens are minted for real and verified by the real `Verifier`,
 *   whose `fetch` answers like STS in memory, so the cached strings are the ones a server holds;
 * - the time to verify a new token once the cache is full (every verify then evicts the oldest
 *   token): median per batch of 1,000 and the slowest single verify.
 *
 * Run: `deno task bench:cache` (needs `--v8-flags=--expose-gc`, which the task passes).
 *
 * @module
 */

import { generateToken } from "../src/sign/mod.ts";
import {
  DEFAULT_MAX_CACHED_TOKENS,
  ReviewCache,
  type TwoStepVerifier,
} from "../src/serve/review_cache.ts";
import { type Identity, Verifier } from "../src/verify/mod.ts";

const TOKENS = 20_000;
const CAP = DEFAULT_MAX_CACHED_TOKENS;
const ENDPOINT = "http://127.0.0.1:9";
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.log("run with --v8-flags=--expose-gc (deno task bench:cache)");
  Deno.exit(2);
}

function heapUsed(): number {
  gc!();
  gc!();
  return Deno.memoryUsage().heapUsed;
}

/** Bytes of heap per cached token, for tokens minted by `principals` principals. */
async function bytesPerToken(principals: number): Promise<number> {
  const people = Array.from({ length: principals }, (_, i) => ({
    accessKeyId: `AKIACACHE${String(i).padStart(11, "0")}`,
    secretAccessKey: `secret-${i}`,
    arn: `arn:aws:iam::111122223333:user/cache${i}`,
    userId: `AIDACACHE${String(i).padStart(12, "0")}`,
  }));
  const byKey = new Map(people.map((p) => [p.accessKeyId, p]));
  const now = Date.now();
  const tokens: string[] = [];
  for (let s = 0; tokens.length < TOKENS; s++) {
    for (const p of people) {
      if (tokens.length === TOKENS) break;
      tokens.push(
        (await generateToken({
          clusterId: "bench",
          credentials: p,
          endpoint: ENDPOINT,
          signingRegion: "us-east-1",
          now: new Date(now - s * 1000),
        })).token,
      );
    }
  }
  const fakeFetch = ((url: string) => {
    const key = /X-Amz-Credential=([A-Z0-9]+)/.exec(url)![1]!;
    const p = byKey.get(key)!;
    return Promise.resolve(
      new Response(
        JSON.stringify({
          GetCallerIdentityResponse: {
            GetCallerIdentityResult: { Arn: p.arn, UserId: p.userId, Account: "111122223333" },
            ResponseMetadata: { RequestId: crypto.randomUUID() },
          },
        }),
        { headers: { "content-type": "application/json" } },
      ),
    );
  }) as typeof fetch;
  const verifier = new Verifier({
    clusterId: "bench",
    partition: "aws",
    instanceRegion: "us-east-1",
    stsEndpointOverride: ENDPOINT,
    fetch: fakeFetch,
  });
  // Compile the whole verify path first (its code and feedback live on the heap too), in a
  // cache that is then dropped, so only the cached tokens are counted.
  const warm = new ReviewCache(verifier, { maxEntries: CAP });
  for (const token of tokens.slice(0, 2_000)) await warm.verify(token);
  const cache = new ReviewCache(verifier, { maxEntries: CAP });
  const before = heapUsed();
  for (const token of tokens) await cache.verify(token);
  const after = heapUsed();
  if (cache.size !== TOKENS) throw new Error(`expected ${TOKENS} cached tokens, got ${cache.size}`);
  return (after - before) / TOKENS;
}

/** Median µs per verify of a new token (per batch of 1,000) and the slowest one, at the cap. */
async function verifyAtCap(): Promise<{ medianUs: number; worstMs: number }> {
  const identities: Identity[] = Array.from({ length: 500 }, (_, i) => ({
    arn: `arn:aws:iam::111122223333:user/u${i}`,
    canonicalArn: `arn:aws:iam::111122223333:user/u${i}`,
    accountId: "111122223333",
    userId: `AIDA${i}`,
    sessionName: "",
    accessKeyId: `AKIA${i}`,
    stsEndpoint: "sts.amazonaws.com",
  }));
  let calls = 0;
  const expiresAt = new Date(Date.now() + 600_000);
  const verifier: TwoStepVerifier<{ expiresAt: Date }> = {
    checkToken: () => ({ expiresAt }),
    callSts: () => Promise.resolve({ ...identities[calls++ % identities.length]! }),
  };
  const cache = new ReviewCache(verifier, { maxEntries: CAP });
  // Token-sized strings (presigned URLs are 1-2 KB), each distinct.
  const token = (i: number) => `k8s-aws-v1.${i.toString(36).padStart(1200, "x")}`;
  let i = 0;
  for (; i < CAP; i++) await cache.verify(token(i));
  const batches: number[] = [];
  let worst = 0;
  for (let b = 0; b < 200; b++) {
    const t0 = performance.now();
    for (let k = 0; k < 1000; k++, i++) {
      const s = performance.now();
      await cache.verify(token(i));
      worst = Math.max(worst, performance.now() - s);
    }
    batches.push((performance.now() - t0) * 1000 / 1000);
  }
  batches.sort((a, b) => a - b);
  return { medianUs: batches[batches.length >> 1]!, worstMs: worst };
}

const shared = await bytesPerToken(500);
const own = await bytesPerToken(TOKENS);
console.log(`heap per cached token, ${TOKENS} tokens from 500 principals: ${shared.toFixed(0)} B`);
console.log(`heap per cached token, each with an identity of its own: ${own.toFixed(0)} B`);
const cap = await verifyAtCap();
console.log(
  `verify of a new token with the cache full (${CAP} tokens): median ${
    cap.medianUs.toFixed(2)
  } µs per batch of 1,000, slowest single verify ${cap.worstMs.toFixed(1)} ms`,
);
