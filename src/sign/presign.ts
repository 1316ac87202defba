/**
 * The token itself: a SigV4 query-presigned `GET` of STS `GetCallerIdentity` that signs
 * `host;x-k8s-aws-id`, wrapped as `k8s-aws-v1.<base64url>`. Byte-identical to what the Go tool
 * and botocore produce for the same credentials, region, host and clock.
 *
 * @module
 */

import type { Credentials } from "./credentials.ts";

type Aws4Fetch = typeof import("aws4fetch");

/** Prefix of every token (the verifier's version marker). */
export const TOKEN_PREFIX = "k8s-aws-v1.";

/** Header that binds a token to one cluster; signed, but never carried in the token. */
export const CLUSTER_ID_HEADER = "x-k8s-aws-id";

/** How long the token is used: 15 minutes of STS validity minus one minute of cushion. */
export const TOKEN_LIFETIME_MS = 14 * 60 * 1000;

/** What to presign. */
export interface PresignInput {
  /** Cluster ID, signed as the `x-k8s-aws-id` header. */
  clusterId: string;
  /** Credentials to sign with. */
  credentials: Credentials;
  /** The STS endpoint as a URL (`https://sts.us-west-2.amazonaws.com`, or an override). */
  endpoint: string;
  /** Region of the credential scope (`us-east-1` for the global endpoint). */
  signingRegion: string;
  /** Signing time. */
  now: Date;
}

/** A token and when the client should stop using it. */
export interface Token {
  /** `k8s-aws-v1.` + base64url (no padding) of the presigned URL. */
  token: string;
  /** Signing time + 14 minutes. */
  expiration: Date;
}

/** `YYYYMMDDTHHMMSSZ` of a date, in UTC. */
export function amzDate(d: Date): string {
  return d.toISOString().replace(/[:-]|\.\d{3}/g, "");
}

/**
 * Presigns `GetCallerIdentity`. The query is in canonical order with the signature appended
 * last, as the Go SDK's presigner and botocore emit it.
 */
export async function presignGetCallerIdentity(input: PresignInput): Promise<string> {
  // Loaded on first use, so a token-cache hit never loads it (with deno.json's
  // lazy-dynamic-imports, Deno does not resolve it at startup either).
  const { AwsV4Signer }: Aws4Fetch = await import("aws4fetch");
  const url = new URL(input.endpoint);
  if (url.pathname === "") url.pathname = "/";
  url.search = "Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Expires=60";
  const signer = new AwsV4Signer({
    method: "GET",
    url: url.toString(),
    headers: { [CLUSTER_ID_HEADER]: input.clusterId },
    accessKeyId: input.credentials.accessKeyId,
    secretAccessKey: input.credentials.secretAccessKey,
    sessionToken: input.credentials.sessionToken || undefined,
    service: "sts",
    region: input.signingRegion,
    datetime: amzDate(input.now),
    signQuery: true,
  });
  // aws4fetch emits the query in insertion order; the canonical (sorted, RFC 3986 encoded)
  // query it signed is the one the reference tools put in the URL.
  const signed = await signer.sign();
  const signature = signed.url.searchParams.get("X-Amz-Signature");
  if (!signature) throw new Error("aws4fetch did not produce a signature");
  return `${url.protocol}//${url.host}${signer.encodedPath}?${signer.encodedSearch}` +
    `&X-Amz-Signature=${signature}`;
}

/** base64url without padding (RFC 4648 §5). */
export function base64UrlNoPad(s: string): string {
  const bytes = new TextEncoder().encode(s);
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Builds the token for a presign input. */
export async function generateToken(input: PresignInput): Promise<Token> {
  const url = await presignGetCallerIdentity(input);
  return {
    token: TOKEN_PREFIX + base64UrlNoPad(url),
    expiration: new Date(input.now.getTime() + TOKEN_LIFETIME_MS),
  };
}
