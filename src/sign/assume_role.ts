/**
 * `-r/--role`: AssumeRole with the base credentials through `@aws-sdk/client-sts` (loaded only
 * here), with ExternalId, RoleSessionName and `--forward-session-name` as the Go tool does them.
 *
 * @module
 */

import { VERSION } from "../version.ts";
import type { Credentials } from "./credentials.ts";
import type { StsEndpoint } from "./endpoint.ts";

type StsModule = typeof import("@aws-sdk/client-sts");

/** What to assume. */
export interface AssumeRoleOptions {
  /** Role ARN. */
  roleArn: string;
  /** ExternalId, or `""`. */
  externalId: string;
  /** RoleSessionName, or `""` for the default. */
  sessionName: string;
  /** Copy the caller's federated session name onto the new session. */
  forwardSessionName: boolean;
  /** Where STS is. */
  endpoint: StsEndpoint;
  /** The clock (default session names). */
  now: () => Date;
}

/** The AWS Go SDK's default session name, so CloudTrail and mappings see the same shape. */
export function defaultSessionName(now: Date): string {
  return `aws-go-sdk-${BigInt(now.getTime()) * 1_000_000n}`;
}

/** The session name `--forward-session-name` takes from a caller's `UserId`, if any. */
export function forwardedSessionName(userId: string): string | undefined {
  const parts = userId.split(":");
  return parts.length === 2 ? parts[1] : undefined;
}

/** An STS call that failed, worded like the Go SDK's operation errors. */
export class StsCallError extends Error {
  /** @param message full text */
  constructor(message: string) {
    super(message);
    this.name = "StsCallError";
  }
}

function describe(op: string, e: unknown): StsCallError {
  const err = e as {
    name?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number; requestId?: string };
  };
  const status = err.$metadata?.httpStatusCode;
  let s = `operation error STS: ${op}`;
  if (status) {
    s += `, https response error StatusCode: ${status}, RequestID: ${
      err.$metadata?.requestId ?? ""
    }`;
  }
  s += `, api error ${err.name ?? "Error"}: ${(err.message ?? String(e)).split("\n")[0]}`;
  return new StsCallError(s);
}

/** Assumes the role and returns its temporary credentials. */
export async function assumeRole(base: Credentials, opts: AssumeRoleOptions): Promise<Credentials> {
  const sts: StsModule = await import("@aws-sdk/client-sts");
  const client = new sts.STSClient({
    region: opts.endpoint.signingRegion,
    endpoint: opts.endpoint.url,
    credentials: {
      accessKeyId: base.accessKeyId,
      secretAccessKey: base.secretAccessKey,
      sessionToken: base.sessionToken,
    },
    customUserAgent: `aws-iam-authenticator/${VERSION}`,
  });
  try {
    let sessionName = opts.sessionName;
    if (opts.forwardSessionName) {
      let userId: string;
      try {
        const who = await client.send(new sts.GetCallerIdentityCommand({}));
        userId = who.UserId ?? "";
      } catch (e) {
        throw describe("GetCallerIdentity", e);
      }
      sessionName = forwardedSessionName(userId) ?? "";
    }
    if (sessionName === "") sessionName = defaultSessionName(opts.now());
    let out;
    try {
      out = await client.send(
        new sts.AssumeRoleCommand({
          RoleArn: opts.roleArn,
          RoleSessionName: sessionName,
          DurationSeconds: 900,
          ...(opts.externalId ? { ExternalId: opts.externalId } : {}),
        }),
      );
    } catch (e) {
      throw describe("AssumeRole", e);
    }
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey) {
      throw new StsCallError(
        "operation error STS: AssumeRole, the response carried no credentials",
      );
    }
    const creds: Credentials = {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      source: "AssumeRoleProvider",
    };
    if (c.SessionToken) creds.sessionToken = c.SessionToken;
    if (c.Expiration) creds.expiration = new Date(c.Expiration);
    return creds;
  } finally {
    client.destroy();
  }
}
