/**
 * Token builders shared by the verifier tests. Signed tokens are presigned with `aws4fetch`
 * (what this project's `token` command uses) and checked by the STS peer's own SigV4 code.
 *
 * @module
 */

import { AwsV4Signer } from "aws4fetch";

/** A fixed signing instant used by the local-check tests. */
export const SIGNED_AT = new Date("2026-01-01T00:00:00Z");
/** `X-Amz-Date` of {@link SIGNED_AT}. */
export const AMZ_DATE = "20260101T000000Z";

/** The base URL of docs/security.md's cases, without a valid signature: for local checks only. */
export const BASE_URL = "https://sts.us-west-2.amazonaws.com/?Action=GetCallerIdentity" +
  "&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256" +
  "&X-Amz-Credential=ASIAEXAMPLEEXAMPLE00%2F20260101%2Fus-west-2%2Fsts%2Faws4_request" +
  `&X-Amz-Date=${AMZ_DATE}&X-Amz-Expires=60&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id` +
  "&X-Amz-Security-Token=FwoGZXIvYXdzEXAMPLE%2Ftoken%2B%3D" +
  "&X-Amz-Signature=4f5a2c0d8e5b1a7f6c3e9d2b8a0f1e4d7c6b5a39281706f5e4d3c2b1a0f9e8d7";

/** base64url without padding, as the Go tool encodes tokens. */
export function b64url(s: string): string {
  return btoa(s).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** `k8s-aws-v1.` + base64url(url). */
export function tokenOf(url: string): string {
  return "k8s-aws-v1." + b64url(url);
}

/** Decodes a token back to its URL. */
export function urlOf(token: string): string {
  const s = token.slice("k8s-aws-v1.".length).replaceAll("-", "+").replaceAll("_", "/");
  return atob(s + "==".slice(0, (4 - (s.length % 4)) % 4));
}

/** Credentials to presign with. */
export interface Creds {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/**
 * Presigns GetCallerIdentity for `host` (an `https://…` or `http://…` origin) with aws4fetch,
 * binding `clusterId` in the signed `x-k8s-aws-id` header.
 */
export async function presignToken(
  creds: Creds,
  origin: string,
  clusterId: string,
  opts: { region?: string; date?: Date } = {},
): Promise<string> {
  const datetime = (opts.date ?? new Date()).toISOString().replace(/[:-]|\.\d{3}/g, "");
  const signer = new AwsV4Signer({
    url: `${origin}/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Expires=60`,
    method: "GET",
    headers: { "x-k8s-aws-id": clusterId },
    accessKeyId: creds.accessKeyId,
    secretAccessKey: creds.secretAccessKey,
    sessionToken: creds.sessionToken,
    service: "sts",
    region: opts.region ?? "us-west-2",
    signQuery: true,
    datetime,
  });
  const signed = await signer.sign();
  return tokenOf(signed.url.toString());
}

/** A fetch that records calls and fails the test if the verifier reaches the network. */
export function spyFetch(): { fetch: typeof fetch; calls: number } {
  const spy = {
    calls: 0,
    fetch: ((..._args: unknown[]) => {
      spy.calls++;
      return Promise.reject(new Error("unexpected network call"));
    }) as typeof fetch,
  };
  return spy;
}
