/**
 * Many valid tokens, fast: the benchmark and soak drivers sign them with the project's own
 * signer (`src/sign`), as `aws-iam-authenticator token` would.
 *
 * @module
 */

import { type Credentials, generateToken } from "../../src/sign/mod.ts";

/** What every minted token is signed for. */
export interface MintOptions {
  /** The cluster ID signed into the token (`x-k8s-aws-id`). */
  clusterId: string;
  /** The STS endpoint the presigned URL points at (the STS peer's URL). */
  endpoint: string;
  /** Credential-scope region; default `us-east-1`. */
  region?: string;
}

/** One token for a principal at a signing time. */
export async function mintToken(
  credentials: Credentials,
  at: Date,
  o: MintOptions,
): Promise<string> {
  const t = await generateToken({
    clusterId: o.clusterId,
    credentials,
    endpoint: o.endpoint,
    signingRegion: o.region ?? "us-east-1",
    now: at,
  });
  return t.token;
}

/**
 * One token per principal per signing time (distinct as long as the times are whole seconds
 * apart), in order of `times`, each time's batch signed concurrently.
 */
export async function mintTokens(
  principals: readonly Credentials[],
  times: readonly Date[],
  o: MintOptions,
): Promise<string[]> {
  const tokens: string[] = [];
  for (const at of times) {
    tokens.push(...await Promise.all(principals.map((p) => mintToken(p, at, o))));
  }
  return tokens;
}
