/**
 * EC2 private DNS names for `{{EC2PrivateDNSName}}` (docs/mapping.md#ec2-private-dns-names).
 *
 * Lookups for instance IDs are collected for a short window and sent as one DescribeInstances
 * call (up to 100 IDs); concurrent lookups of one ID share one request; names are cached for a
 * TTL; and the `ec2DescribeInstancesQps` / `ec2DescribeInstancesBurst` token bucket limits the
 * DescribeInstances calls themselves. The Go tool limited only the STS calls behind
 * `ec2DescribeInstancesRoleARN`, cached forever, and could leave an ID marked in flight for
 * good (then every later lookup waited 5 s and failed); here every waiter of a batch is
 * settled when the call returns or fails.
 *
 * @module
 */

import { parseArn } from "../aws/mod.ts";
import type { DescribeInstancesFn, Ec2Instance, Logger, MapperMetrics } from "./mapper.ts";

/** How the provider behaves. */
export interface Ec2ProviderOptions {
  /** DescribeInstances for a list of IDs. */
  describeInstances: DescribeInstancesFn;
  /** Calls per second (0 = unlimited). */
  qps: number;
  /** Bucket size (values below 1 are treated as 1, and logged). */
  burst: number;
  /** How long a name is cached. */
  ttlMs: number;
  /** Wall clock in ms. */
  now: () => number;
  /** `ec2DescribeInstancesCall` is counted per call. */
  metrics: Pick<MapperMetrics, "ec2DescribeInstancesCall">;
  /** For limiter configuration warnings. */
  logger: Logger;
  /** Collect lookups for this long before calling (default 10 ms). */
  batchWindowMs?: number;
  /** Most IDs per call (default 100). */
  maxBatch?: number;
}

interface Waiter {
  resolve: (name: string) => void;
  reject: (err: Error) => void;
}

/** Resolves instance IDs to private DNS names; see the module doc. */
export class Ec2PrivateDnsProvider {
  private readonly cache = new Map<string, { name: string; expires: number }>();
  private readonly inFlight = new Map<string, Promise<string>>();
  private readonly waiters = new Map<string, Waiter>();
  private pending: string[] = [];
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private tokens: number;
  private lastRefill: number;
  private readonly burst: number;
  private readonly sleeps = new Map<ReturnType<typeof setTimeout>, () => void>();
  private readonly calls = new Set<Promise<void>>();
  private closed = false;

  /** @param opts the DescribeInstances function and limits */
  constructor(private readonly opts: Ec2ProviderOptions) {
    if (opts.burst < 1) {
      opts.logger.error("server.ec2DescribeInstancesBurst must be at least 1; using 1", {
        burst: opts.burst,
      });
    }
    this.burst = Math.max(1, opts.burst);
    this.tokens = this.burst;
    this.lastRefill = opts.now();
  }

  /** The private DNS name of `instanceId`. */
  getPrivateDnsName(instanceId: string): Promise<string> {
    if (this.closed) return Promise.reject(new Error("EC2 provider is closed"));
    const hit = this.cache.get(instanceId);
    if (hit !== undefined && hit.expires > this.opts.now()) return Promise.resolve(hit.name);
    const running = this.inFlight.get(instanceId);
    if (running !== undefined) return running;
    const p = new Promise<string>((resolve, reject) => {
      this.waiters.set(instanceId, { resolve, reject });
    });
    this.inFlight.set(instanceId, p);
    this.pending.push(instanceId);
    if (this.pending.length >= (this.opts.maxBatch ?? 100)) this.flush();
    else this.flushTimer ??= setTimeout(() => this.flush(), this.opts.batchWindowMs ?? 10);
    return p;
  }

  private flush(): void {
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const max = this.opts.maxBatch ?? 100;
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, max);
      const call = this.call(batch).finally(() => this.calls.delete(call));
      this.calls.add(call);
    }
  }

  private async call(ids: string[]): Promise<void> {
    let found: Ec2Instance[];
    try {
      await this.acquire();
      if (this.closed) throw new Error("EC2 provider is closed");
      this.opts.metrics.ec2DescribeInstancesCall();
      found = await this.opts.describeInstances(ids);
    } catch (e) {
      for (const id of ids) {
        this.settle(
          id,
          new Error(
            `failed querying private DNS from EC2 API for node ${id}: ${(e as Error).message}`,
          ),
        );
      }
      return;
    }
    const names = new Map(found.map((i) => [i.instanceId, i.privateDnsName]));
    for (const id of ids) {
      const name = names.get(id);
      if (name === undefined || name === "") {
        // Not cached: the instance may appear (or get its name) later.
        this.settle(id, new Error(`failed to find node ${id}`));
        continue;
      }
      this.cache.set(id, { name, expires: this.opts.now() + this.opts.ttlMs });
      this.settle(id, name);
    }
  }

  private settle(id: string, result: string | Error): void {
    const w = this.waiters.get(id);
    this.waiters.delete(id);
    this.inFlight.delete(id);
    if (w === undefined) return;
    if (typeof result === "string") w.resolve(result);
    else w.reject(result);
  }

  /** Take a token, waiting for the bucket to refill when empty. */
  private async acquire(): Promise<void> {
    if (this.opts.qps <= 0) return;
    for (;;) {
      const now = this.opts.now();
      this.tokens = Math.min(
        this.burst,
        this.tokens + ((now - this.lastRefill) / 1000) * this.opts.qps,
      );
      this.lastRefill = now;
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      if (this.closed) return;
      const waitMs = Math.ceil(((1 - this.tokens) / this.opts.qps) * 1000);
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.sleeps.delete(t);
          resolve();
        }, waitMs);
        this.sleeps.set(t, resolve);
      });
    }
  }

  /** Fail what is pending and stop all timers. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    for (const id of this.pending) this.settle(id, new Error("EC2 provider is closed"));
    this.pending = [];
    for (const [t, resolve] of this.sleeps) {
      clearTimeout(t);
      resolve();
    }
    this.sleeps.clear();
    await Promise.allSettled([...this.calls]);
  }
}

/** Settings for the default DescribeInstances client. */
export interface Ec2ClientSettings {
  /** `server.ec2DescribeInstancesRoleARN`: role to assume first ("" = none). */
  roleArn: string;
  /** `server.sourceARN`: sent as `x-amz-source-arn` / `x-amz-source-account` to STS. */
  sourceArn: string;
  /** Region; empty = the SDK's default resolution. */
  region?: string;
  /** Endpoint override (tests, VPC endpoints). */
  endpoint?: string;
  /** STS endpoint override for the AssumeRole call. */
  stsEndpoint?: string;
  /** Static base credentials; default is the SDK's credential chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/**
 * DescribeInstances through `@aws-sdk/client-ec2` (loaded on first use), optionally with the
 * credentials of `roleArn` (one-hour sessions, refreshed by the SDK).
 *
 * @throws {Error} when `roleArn` or `sourceArn` is not an ARN.
 */
export function createDescribeInstances(settings: Ec2ClientSettings): DescribeInstancesFn {
  if (settings.roleArn !== "") {
    try {
      parseArn(settings.roleArn);
    } catch {
      throw new Error(`describeinstancesrole ${settings.roleArn} is not a valid arn`);
    }
  }
  let sourceAccount = "";
  if (settings.sourceArn !== "") {
    try {
      sourceAccount = parseArn(settings.sourceArn).accountId;
    } catch {
      throw new Error(`incorrect ARN format for role ${settings.sourceArn}`);
    }
  }
  let client: Promise<{ send(ids: readonly string[]): Promise<Ec2Instance[]> }> | undefined;
  const load = async () => {
    const ec2 = await import("@aws-sdk/client-ec2");
    let credentials: unknown = settings.credentials;
    if (settings.roleArn !== "") {
      const { fromTemporaryCredentials } = await import("@aws-sdk/credential-providers");
      const headers = settings.sourceArn === "" ? [] : [{
        applyToStack(stack: { add: (mw: unknown, opts: unknown) => void }) {
          stack.add(
            (next: (args: unknown) => Promise<unknown>) =>
            (args: { request: { headers: Record<string, string> } }) => {
              args.request.headers["x-amz-source-account"] = sourceAccount;
              args.request.headers["x-amz-source-arn"] = settings.sourceArn;
              return next(args);
            },
            { step: "build", name: "awsIamAuthenticatorSourceArn" },
          );
        },
      }];
      credentials = fromTemporaryCredentials({
        ...(settings.credentials ? { masterCredentials: settings.credentials } : {}),
        params: {
          RoleArn: settings.roleArn,
          RoleSessionName: "aws-iam-authenticator",
          DurationSeconds: 3600,
        },
        clientConfig: {
          ...(settings.region ? { region: settings.region } : {}),
          ...(settings.stsEndpoint ? { endpoint: settings.stsEndpoint } : {}),
        },
        // deno-lint-ignore no-explicit-any
        clientPlugins: headers as any,
      });
    }
    const c = new ec2.EC2Client({
      ...(settings.region ? { region: settings.region } : {}),
      ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
      // deno-lint-ignore no-explicit-any
      ...(credentials ? { credentials: credentials as any } : {}),
    });
    return {
      async send(ids: readonly string[]): Promise<Ec2Instance[]> {
        // A filter, not InstanceIds: one unknown ID would make EC2 fail the whole batch.
        const out = await c.send(
          new ec2.DescribeInstancesCommand({
            Filters: [{ Name: "instance-id", Values: [...ids] }],
          }),
        );
        return (out.Reservations ?? []).flatMap((r) =>
          (r.Instances ?? []).map((i) => ({
            instanceId: i.InstanceId ?? "",
            privateDnsName: i.PrivateDnsName ?? "",
          }))
        );
      },
    };
  };
  return async (ids) => {
    client ??= load();
    return await (await client).send(ids);
  };
}
