/**
 * `scripts/bench/h2_load` (Go, standard library only): sends TokenReviews over one HTTP/2
 * connection with a number of them in flight as concurrent streams, which is how
 * kube-apiserver's token webhook client sends them (k8s.io/apiserver's `NewGenericWebhook`
 * leaves HTTP/2 on; only admission and conversion webhooks are held to HTTP/1.1). wrk speaks
 * only HTTP/1.1. Used by `deno task bench:server --client h2`.
 *
 * @module
 */

import { findGo, GO_FALLBACKS } from "../test_setup.ts";

const SOURCE = new URL("../bench/h2_load/", import.meta.url).pathname;

/** What one run reports (latencies in milliseconds, CPU in microseconds). */
export interface H2LoadResult {
  /** Reviews sent, answered or failed. */
  requests: number;
  /** Answered reviews per second. */
  rps: number;
  p50: number;
  p99: number;
  /** Answers outside 2xx. */
  non2xx: number;
  /** Requests without an answer, and the first one's error. */
  errors: number;
  firstError?: string;
  /** TCP connections opened: 1 unless the server's stream limit was reached. */
  connections: number;
  /** The protocol of the answers, `HTTP/2.0` when the server agreed to it. */
  protocol: string;
  /** h2_load's own CPU time, user and system. */
  cpuMicros: number;
}

/** How to run it. */
export interface H2LoadOptions {
  /** The webhook URL (https). */
  url: string;
  /** PEM file of the server's certificate or of its CA. */
  caFile: string;
  /** One token per line; each review takes the next one. */
  tokenFile: string;
  /** Reviews in flight (HTTP/2 streams on the one connection). */
  concurrency: number;
  seconds: number;
}

/** Builds h2_load into `dest` with the Go toolchain the test setup finds. */
export async function buildH2Load(dest: string): Promise<void> {
  const go = await findGo({ env: (name) => Deno.env.get(name), goFallbacks: GO_FALLBACKS });
  if (!("path" in go)) throw new Error(`cannot build scripts/bench/h2_load: ${go.problem}`);
  const out = await new Deno.Command(go.path, {
    args: ["build", "-o", dest, "."],
    cwd: SOURCE,
    env: { GOWORK: "off", GOTOOLCHAIN: "local" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `go build of scripts/bench/h2_load failed:\n${new TextDecoder().decode(out.stderr)}`,
    );
  }
}

/** Runs the built h2_load once; `raw` is its output, for the report's files. */
export async function runH2Load(
  binary: string,
  o: H2LoadOptions,
): Promise<{ result: H2LoadResult; raw: string; args: string[] }> {
  const args = [
    "-url",
    o.url,
    "-ca",
    o.caFile,
    "-tokens",
    o.tokenFile,
    "-concurrency",
    String(o.concurrency),
    "-duration",
    `${o.seconds}s`,
  ];
  const out = await new Deno.Command(binary, { args, stdout: "piped", stderr: "piped" }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const raw = stdout + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`h2_load failed:\n${raw}`);
  return { result: JSON.parse(stdout) as H2LoadResult, raw, args };
}
