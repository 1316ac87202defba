/**
 * `deno task bench:memory`: where the server's resident memory goes, layer by layer, in the
 * `deno run` form with the release's V8 flags (docs/benchmarks.md#memory). Linux only (it reads
 * /proc).
 *
 * Each step is a new process, read 2 s after it is ready: the runtime alone (a program that
 * only waits), a bare TLS `Deno.serve`, then the same with Node compatibility, prom-client,
 * yaml and every module of the server loaded on top, one layer more per step
 * (`scripts/bench/memory_probe.ts`); then `main.ts server` itself with a MountedFile config of 3
 * mappings and of 500 (the `bench:server` config), read 2 s after start and again after
 * `--settle` seconds, once V8's memory reducer has returned the start-up garbage. Last, what
 * of the idle server's memory only the `deno run` form has (a compiled binary has neither): the
 * CLI's mapped cache files, from /proc/PID/smaps, and the inline source maps `deno run` appends
 * to every transpiled module, read through the V8 inspector in a separate run.
 *
 * Options: `--runs N` (runs of each step, default 2; the table gives the range), `--settle S`
 * (default 40; 0 skips the settled reading).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { RELEASE_V8_FLAGS, repoRoot, runScript, writeText } from "./build_info.ts";
import { serverConfig } from "./bench_release.ts";
import { loadOrCreateKeyPair } from "../src/serve/mod.ts";
import { statusField } from "./lib/proc_stats.ts";
import { startUntilReady } from "./lib/ready_process.ts";
import { type SourceFootprint, sourceFootprint, V8Profiler } from "./lib/v8_profiler.ts";
import { freePort } from "../tests/peers/ports.ts";

/** The server's log line once it serves (not "listening on" alone: the inspector's has it too). */
const SERVER_READY = 'msg="listening on';

/** Resident memory of a process, in MiB: total, anonymous and file-backed. */
export interface Rss {
  /** VmRSS. */
  total: number;
  /** RssAnon: the V8 heap, the runtime's own allocations, thread stacks. */
  anon: number;
  /** RssFile: pages of the executable and other mapped files (shared, reclaimable). */
  file: number;
}

/** Parses the RSS fields of /proc/PID/status. */
export function parseStatus(status: string): Rss {
  const mb = (field: string) => {
    const kb = statusField(status, field);
    if (Number.isNaN(kb)) throw new Error(`no ${field} in /proc status`);
    return kb / 1024;
  };
  return { total: mb("VmRSS"), anon: mb("RssAnon"), file: mb("RssFile") };
}

/**
 * The resident MiB of the `deno` CLI's own cache files (its SQLite caches of V8 code, module
 * and CommonJS analysis: `v8_code_cache_v2` and the like) in a /proc/PID/smaps text: memory
 * that `deno run` maps and a compiled binary does not have.
 */
export function denoCacheRss(smaps: string): number {
  let kb = 0;
  let inCache = false;
  for (const line of smaps.split("\n")) {
    const mapping = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (mapping !== null) {
      inCache = /\/[a-z0-9_]+_cache_v\d+$/.test(mapping[1]!);
    } else if (inCache && line.startsWith("Rss:")) {
      kb += Number(line.split(/\s+/)[1]);
    }
  }
  return kb / 1024;
}

/** RSS readings of one process, and the CLI cache files' share of the last one. */
interface Readings {
  rss: Rss[];
  denoCache: number;
}

/** Runs `cmd`, waits for `ready` on its stderr, and reads its RSS at each of `seconds`. */
async function measure(
  cmd: string[],
  ready: string,
  seconds: number[],
  env: Record<string, string> = {},
): Promise<Readings> {
  const child = await startUntilReady(cmd, ready, { env });
  try {
    const t0 = performance.now();
    const rss: Rss[] = [];
    for (const s of seconds) {
      const wait = t0 + s * 1000 - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      rss.push(parseStatus(await Deno.readTextFile(`/proc/${child.pid}/status`)));
    }
    return { rss, denoCache: denoCacheRss(await Deno.readTextFile(`/proc/${child.pid}/smaps`)) };
  } finally {
    await child.stop();
  }
}

/**
 * Starts `cmd` with the V8 inspector on a free loopback port and reads, after two full
 * collections, the V8 heap and what the project's module sources take of it.
 */
async function sourceBreakdown(
  cmd: (extraFlags: string[]) => string[],
  root: string,
  env: Record<string, string>,
): Promise<{ heapUsed: number; sources: SourceFootprint }> {
  const port = freePort();
  const child = await startUntilReady(cmd([`--inspect=127.0.0.1:${port}`]), SERVER_READY, { env });
  try {
    const inspector = await V8Profiler.connect(port);
    try {
      const scripts = await inspector.loadedScripts((url) => url.startsWith(`file://${root}/`));
      const { heapUsed } = await inspector.heapAfterGc();
      return { heapUsed, sources: sourceFootprint(scripts) };
    } finally {
      inspector.close();
    }
  } finally {
    await child.stop();
  }
}

function range(xs: number[]): string {
  const lo = Math.min(...xs).toFixed(1);
  const hi = Math.max(...xs).toFixed(1);
  return lo === hi ? lo : `${lo}–${hi}`;
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      runs: { type: "string", default: "2" },
      settle: { type: "string", default: "40" },
    },
  });
  if (Deno.build.os !== "linux") {
    writeText(Deno.stderr, "bench:memory reads /proc: run it on Linux\n");
    return 2;
  }
  const runs = Number(values.runs);
  const settle = Number(values.settle);
  const root = repoRoot();
  const deno = Deno.execPath();
  const flags = ["-A", `--v8-flags=${RELEASE_V8_FLAGS}`];
  const dir = `${root}/.state/bench-memory`;
  await Deno.mkdir(dir, { recursive: true });
  await loadOrCreateKeyPair({
    stateDir: `${dir}/state`,
    address: "127.0.0.1",
    hostname: "127.0.0.1",
  });
  const big = `${dir}/config-500.yaml`;
  let users = "";
  for (let i = 0; i < 500; i++) {
    users += `  - userarn: arn:aws:iam::111122223333:user/bench${i}\n` +
      `    username: bench${i}\n    groups: [bench]\n`;
  }
  await Deno.writeTextFile(
    big,
    `clusterID: bench-memory\nserver:\n  hostname: 127.0.0.1\n  port: 0\n  healthPort: 0\n` +
      `  stateDir: ${dir}/state\n  generateKubeconfig: ${dir}/kubeconfig.yaml\n  mapUsers:\n${users}`,
    { mode: 0o600 },
  );
  const small = `${dir}/config-3.yaml`;
  await Deno.writeTextFile(small, serverConfig(dir, 3), { mode: 0o600 });

  const probe = `${root}/scripts/bench/memory_probe.ts`;
  const steps: { label: string; layers: string[] }[] = [
    { label: "bare TLS Deno.serve", layers: [] },
    { label: "+ Node compatibility (node:crypto)", layers: ["node"] },
    { label: "+ prom-client (its files, the process collectors)", layers: ["node", "prom"] },
    { label: "+ yaml (the module)", layers: ["node", "prom", "yaml"] },
    {
      label: "+ the server's modules (src/serve/mod.ts)",
      layers: ["node", "prom", "yaml", "server"],
    },
    {
      label: "  the same, the 500-mapping config parsed",
      layers: ["node", "prom", `yaml-parse=${big}`, "server"],
    },
  ];
  const rows: string[] = [];
  const row = (label: string, rss: Rss[], previous?: number) => {
    const total = rss.map((r) => r.total);
    const delta = previous === undefined
      ? ""
      : `${(Math.min(...total) - previous >= 0 ? "+" : "")}${
        (Math.min(...total) - previous).toFixed(1)
      }`;
    rows.push(
      `| ${label} | ${range(total)} | ${range(rss.map((r) => r.anon))} | ${
        range(rss.map((r) => r.file))
      } | ${delta} |`,
    );
    return Math.min(...total);
  };
  const repeat = async (fn: () => Promise<Readings>) => {
    const out: Readings[] = [];
    for (let i = 0; i < runs; i++) out.push(await fn());
    return out;
  };

  const idle = await repeat(() =>
    measure([deno, "run", ...flags, probe, `${dir}/state`, "idle"], "ready", [2])
  );
  let previous = row("runtime alone (a program that only waits)", idle.map((r) => r.rss[0]!));
  for (const step of steps) {
    const rss = await repeat(() =>
      measure([deno, "run", ...flags, probe, `${dir}/state`, ...step.layers], "ready", [2])
    );
    // An indented step is a variant of the one above: compared with it, not built on.
    const min = row(step.label, rss.map((r) => r.rss[0]!), previous);
    if (!step.label.startsWith("  ")) previous = min;
  }
  const env = { AWS_REGION: "us-east-1", AWS_EC2_METADATA_DISABLED: "true", NO_COLOR: "1" };
  const serverCmd = (config: string, extraFlags: string[] = []) => [
    deno,
    "run",
    ...extraFlags,
    ...flags,
    `${root}/main.ts`,
    "server",
    "--config",
    config,
  ];
  let denoCache: number[] = [];
  for (const [label, config] of [["3 mappings", small], ["500 mappings", big]] as const) {
    const seconds = settle > 0 ? [2, settle] : [2];
    const rss = await repeat(() => measure(serverCmd(config), SERVER_READY, seconds, env));
    row(`\`main.ts server\`, ${label}, 2 s after start`, rss.map((r) => r.rss[0]!));
    if (settle > 0) row(`  the same after ${settle} s idle`, rss.map((r) => r.rss[1]!));
    if (config === small) denoCache = rss.map((r) => r.denoCache);
  }
  // What the rows above include that a `deno compile` binary does not have.
  const kb = (bytes: number) => `${Math.round(bytes / 1024)} KB`;
  const { heapUsed, sources } = await sourceBreakdown(
    (extra) => serverCmd(small, extra),
    root,
    env,
  );
  const deltas = [
    `\nOf the server's idle RSS (3 mappings), \`deno run\` only:\n`,
    `- the CLI's cache files (its SQLite caches, mapped): ${range(denoCache)} MB\n`,
    `- V8 heap after two full collections (inspector attached): ${
      (heapUsed / 1048576).toFixed(1)
    } MB; the project's ${sources.modules} modules' sources ${kb(sources.bytes)} ` +
    `(${sources.twoByte.length} stored at two bytes a character), of which their inline ` +
    `source maps ${kb(sources.inlineMapBytes)}, and V8's copy of each map's URL ` +
    `${kb(sources.mapUrlBytes)}\n`,
  ];
  writeText(
    Deno.stdout,
    `Resident memory in MB, ${runs} run(s) of each step, deno ${Deno.version.deno} run ` +
      `${flags.join(" ")}; load average ${
        Deno.loadavg().map((x) => x.toFixed(2)).join(" ")
      }\n\n| step | RSS | anonymous | file-backed | Δ RSS |\n|---|---|---|---|---|\n` +
      rows.join("\n") + "\n" + deltas.join(""),
  );
  return 0;
}

if (import.meta.main) await runScript("bench:memory", main);
