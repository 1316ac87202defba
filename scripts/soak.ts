/**
 * `deno task soak`: load, STS faults, mapping churn, restarts and fuzzing at once against the
 * real server process, with an oracle that judges every answer (docs/soak.md).
 *
 * Options: `--duration 300` (seconds of load), `--connections 64`, `--seed 1`,
 * `--throttle 0.03 --status5xx 0.03 --reset 0.02 --hang 0.005 --garbage 0.02 --spike 0.005`
 * (per-STS-call fault rates), `--fuzz 30` (seconds), `--warmup 60` (seconds before memory growth
 * is measured), `--no-kube` (MountedFile and DynamicFile only, no kube-apiserver),
 * `--no-bursts`, `--no-process-faults`, `--root DIR` (run the server of another tree, e.g. a
 * patched copy), `--dir DIR` (where logs and the report go; default `.state/soak`),
 * `--max-rss-slope 8` (MB/min), `--max-health-p99 1000` (ms), `--latency-bound 15000` (ms).
 *
 * Exit status 0 when no invariant was broken, 1 otherwise, 2 on a setup failure. The long
 * setting for release candidates is `deno task soak --duration 3600 --warmup 300`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { defaultSoakOptions, runSoak } from "./soak/run_soak.ts";
import { renderReport } from "./soak/report.ts";

const encoder = new TextEncoder();
function print(line: string): void {
  Deno.stdout.writeSync(encoder.encode(line + "\n"));
}

async function main(args: string[]): Promise<number> {
  const d = defaultSoakOptions();
  const { values } = parseArgs({
    args,
    options: {
      duration: { type: "string", default: String(d.durationS) },
      connections: { type: "string", default: String(d.connections) },
      seed: { type: "string", default: String(d.seed) },
      throttle: { type: "string", default: String(d.faults.throttle) },
      status5xx: { type: "string", default: String(d.faults.status5xx) },
      reset: { type: "string", default: String(d.faults.reset) },
      hang: { type: "string", default: String(d.faults.hang) },
      garbage: { type: "string", default: String(d.faults.garbage) },
      spike: { type: "string", default: String(d.faults.spike) },
      fuzz: { type: "string" },
      warmup: { type: "string" },
      "no-kube": { type: "boolean", default: false },
      "no-bursts": { type: "boolean", default: false },
      "no-process-faults": { type: "boolean", default: false },
      root: { type: "string", default: d.root },
      dir: { type: "string", default: d.dir },
      "max-rss-slope": { type: "string", default: String(d.thresholds.rssSlopeMbPerMin) },
      "max-health-p99": { type: "string", default: String(d.thresholds.healthP99Ms) },
      "latency-bound": { type: "string", default: String(d.thresholds.latencyBoundMs) },
    },
  });
  const num = (name: string, v: string | undefined): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < 0) {
      throw new Error(`--${name} must be a non-negative number, got ${JSON.stringify(v)}`);
    }
    return n;
  };
  const durationS = num("duration", values.duration);
  const options = {
    ...d,
    durationS,
    connections: num("connections", values.connections),
    seed: num("seed", values.seed),
    faults: {
      throttle: num("throttle", values.throttle),
      status5xx: num("status5xx", values.status5xx),
      reset: num("reset", values.reset),
      hang: num("hang", values.hang),
      garbage: num("garbage", values.garbage),
      spike: num("spike", values.spike),
    },
    // A tenth of the run by default, at least 8 s and at most a minute.
    fuzzS: values.fuzz !== undefined
      ? num("fuzz", values.fuzz)
      : Math.min(60, Math.max(8, Math.round(durationS / 10))),
    // A fifth of the run by default, at most 5 minutes.
    warmupS: values.warmup !== undefined
      ? num("warmup", values.warmup)
      : Math.min(300, Math.round(durationS / 5)),
    kube: !values["no-kube"],
    bursts: !values["no-bursts"],
    processFaults: !values["no-process-faults"],
    root: values.root.endsWith("/") ? values.root : `${values.root}/`,
    dir: values.dir,
    thresholds: {
      rssSlopeMbPerMin: num("max-rss-slope", values["max-rss-slope"]),
      healthP99Ms: num("max-health-p99", values["max-health-p99"]),
      latencyBoundMs: num("latency-bound", values["latency-bound"]),
    },
    command: ["deno task soak", ...args].join(" "),
    log: print,
  };
  const sum = Object.values(options.faults).reduce((a, b) => a + b, 0);
  if (sum > 1) throw new Error(`the fault rates add up to ${sum}; they must not exceed 1`);
  const result = await runSoak(options);
  print("");
  print(renderReport(result.report));
  await Deno.writeTextFile(
    `${result.report.dir}/report.json`,
    JSON.stringify(result.report, null, 2),
  );
  print(
    result.ok ? "\nsoak: all invariants held" : `\nsoak: ${result.violations.length} violations`,
  );
  return result.ok ? 0 : 1;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    print(`soak: ${e instanceof Error ? e.message : e}`);
    Deno.exit(2);
  }
}
