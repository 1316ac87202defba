/**
 * Shared helpers for the mapping tests: identities as the verifier builds them, a logger and
 * metrics that record what they get, and polling for asynchronous effects.
 *
 * @module
 */

import { canonicalizeArn } from "../../src/aws/mod.ts";
import type { Identity, Logger, MapperMetrics } from "../../src/map/mod.ts";

/** An identity for `arn` as the verifier would produce it from an STS reply. */
export function identity(arn: string, extra: Partial<Identity> = {}): Identity {
  const { type, canonical } = canonicalizeArn(arn);
  const account = arn.split(":")[4] ?? "";
  const session = type === "ASSUMED_ROLE" ? arn.split("/").at(-1) ?? "" : "";
  return {
    arn,
    canonicalArn: canonical,
    accountId: account,
    userId: type === "ASSUMED_ROLE" ? "AROAEXAMPLEROLEID" : "AIDAEXAMPLEUSERID",
    sessionName: session,
    accessKeyId: "ASIAEXAMPLEKEY",
    ...extra,
  };
}

/** One recorded log line. */
export interface LogLine {
  level: "info" | "warn" | "error" | "debug";
  msg: string;
  fields?: Record<string, unknown>;
}

/** A logger that keeps every line. */
export function recordingLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: LogLine["level"]) => (msg: string, fields?: Record<string, unknown>) => {
    lines.push({ level, msg, fields });
  };
  return { lines, info: at("info"), warn: at("warn"), error: at("error"), debug: at("debug") };
}

/** Metric hooks that count calls. */
export function recordingMetrics(): MapperMetrics & {
  counts: Record<string, number>;
  latencies: [string, number][];
  gauges: Record<string, number>;
} {
  const counts: Record<string, number> = {};
  const latencies: [string, number][] = [];
  const gauges: Record<string, number> = {};
  const inc = (name: string) => () => {
    counts[name] = (counts[name] ?? 0) + 1;
  };
  return {
    counts,
    latencies,
    gauges,
    configmapWatchFailure: inc("configmapWatchFailure"),
    dynamicFileFailure: inc("dynamicFileFailure"),
    ec2DescribeInstancesCall: inc("ec2DescribeInstancesCall"),
    mappingLoadErrors: (source: string) => inc(`mappingLoadErrors:${source}`)(),
    dynamicE2eLatency: (type, s) => latencies.push([type, s]),
    dynamicFileEnabled: (v) => (gauges.dynamicFileEnabled = v),
    dynamicFileOnly: (v) => (gauges.dynamicFileOnly = v),
    mappingFileWritableByOthers: (path, v) => (gauges[`mappingFileWritableByOthers:${path}`] = v),
  };
}

/** Poll `check` until it returns true (or throw with `what` after `timeoutMs`). */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
