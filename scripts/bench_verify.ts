/**
 * Local checks of one token (`Verifier.checkToken`: decode, grammar, host allowlist, query,
 * dates; no network). Target: under 30 µs per token (median).
 *
 * Run: `deno bench -A scripts/bench_verify.ts`
 *
 * @module
 */

import { Verifier } from "../src/verify/mod.ts";

const now = new Date("2026-01-01T00:01:00Z");
const verifier = new Verifier({ clusterId: "prod", partition: "aws", now: () => now });

function tokenOf(url: string): string {
  return "k8s-aws-v1." + btoa(url).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

const query = (credential: string, sessionToken?: string) =>
  "Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256" +
  `&X-Amz-Credential=${credential}%2F20260101%2Fus-west-2%2Fsts%2Faws4_request` +
  "&X-Amz-Date=20260101T000000Z&X-Amz-Expires=60" +
  (sessionToken ? `&X-Amz-Security-Token=${encodeURIComponent(sessionToken)}` : "") +
  "&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id" +
  "&X-Amz-Signature=4f5a2c0d8e5b1a7f6c3e9d2b8a0f1e4d7c6b5a39281706f5e4d3c2b1a0f9e8d7";

// A realistic session token is ~800-1000 characters of base64.
const SESSION = "IQoJb3JpZ2luX2VjE" + "Ab1+Cd2/Ef3=Gh4".repeat(60);
const userToken = tokenOf(`https://sts.us-west-2.amazonaws.com/?${query("AKIAIOSFODNN7EXAMPLE")}`);
const roleToken = tokenOf(
  `https://sts.us-west-2.amazonaws.com/?${query("ASIAIOSFODNN7EXAMPLE", SESSION)}`,
);
const duplicateToken = tokenOf(
  `https://sts.us-west-2.amazonaws.com/?${query("AKIAIOSFODNN7EXAMPLE")}&x-amz-credential=AKIAV`,
);

// Fail fast if a fixture stopped being valid: a benchmark of the error path would mislead.
verifier.checkToken(userToken);
verifier.checkToken(roleToken);

Deno.bench("checkToken: IAM user token (~430 B)", { baseline: true }, () => {
  verifier.checkToken(userToken);
});

Deno.bench(`checkToken: assumed-role token with session token (~${roleToken.length} B)`, () => {
  verifier.checkToken(roleToken);
});

Deno.bench("checkToken: rejection (CVE-2022-2385 duplicate key)", () => {
  try {
    verifier.checkToken(duplicateToken);
  } catch {
    // expected
  }
});
