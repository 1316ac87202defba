/**
 * `scripts/bench/h2_load` (Go, standard library only): sends TokenReviews over one HTTP/2
 * connection with a number of them in flight as concurrent streams, which is how
 * kube-apiserver's token webhook client sends them (k8s.io/apiserver's `NewGenericWebhook`
 * leaves HTTP/2 on; only admission and conversion webhooks are held to HTTP/1.1). wrk speaks
 * only HTTP/1.1. Used by `deno task bench:server --client h2`.
 *
 * @module
 */

import { join } from "node:path";
import { cacheBinDir } from "../test_setup.ts";

const BUILD_SH = new URL("../kube/build.sh", import.meta.url).pathname;

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

/**
 * Where scripts/kube/build.sh puts h2_load, beside the other binaries the tests build
 * (`deno task test`'s set-up builds it when it is missing or older than its source).
 */
export function h2LoadPath(env: (name: string) => string | undefined): string {
  return join(cacheBinDir(env), "h2_load");
}

/**
 * Builds h2_load if it is missing or older than its source (`build.sh h2_load`, its progress on
 * the terminal; a no-op once built) and returns its path.
 */
export async function ensureH2Load(): Promise<string> {
  const status = await new Deno.Command("bash", {
    args: [BUILD_SH, "h2_load"],
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  if (!status.success) {
    throw new Error(`scripts/kube/build.sh h2_load failed (exit ${status.code}); see above`);
  }
  return h2LoadPath((name) => Deno.env.get(name));
}

/** h2_load's command-line arguments for `o`. */
export function h2LoadArgs(o: H2LoadOptions): string[] {
  return [
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
}

/** Runs the built h2_load once; `raw` is its output, for the report's files. */
export async function runH2Load(
  binary: string,
  o: H2LoadOptions,
): Promise<{ result: H2LoadResult; raw: string }> {
  const out = await new Deno.Command(binary, {
    args: h2LoadArgs(o),
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const stdout = new TextDecoder().decode(out.stdout);
  const raw = stdout + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`h2_load failed:\n${raw}`);
  return { result: JSON.parse(stdout) as H2LoadResult, raw };
}
