/**
 * Whole-process timing of `main.ts token` with static credentials, next to the two reference
 * points the issue names: `deno run` of an empty script (the floor) and `aws eks get-token`
 * with the same credentials; plus a token-cache hit. Every command runs `--runs` times
 * (default 21), interleaved in a new random order every round, and the median wall time is
 * reported. A reference row times
 * `scripts/bench/aws4fetch_presign.ts`, the bare minimum a token needs from the mandated signer.
 *
 * Usage: deno run -A scripts/bench_token.ts [--runs N] [--flags="<deno run flags>"]...
 * Each `--flags` value is one variant of `deno run` flags measured for both the floor and
 * `token`. Without `--flags`, a built-in set of variants is measured.
 *
 * Needs `aws` (CLI v1 or v2) on PATH for the reference column; prints "n/a" without it.
 *
 * @module
 */

import { median, shuffled } from "./lib/stats.ts";
import { tokenEnv } from "./lib/token_env.ts";
import { parseArgs } from "node:util";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const MAIN = `${ROOT}/main.ts`;
const EMPTY = `${ROOT}/scripts/bench/empty.ts`;
const A4F = `${ROOT}/scripts/bench/aws4fetch_presign.ts`;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "21" },
    flags: { type: "string", multiple: true },
  },
});
const runs = Number(values.runs);
const variants = values.flags?.length ? values.flags : [
  "-A",
  "--allow-env --allow-read --allow-write --allow-net --allow-run --allow-sys",
  "-A --cached-only",
  "-A --no-lock",
];

const home = await Deno.makeTempDir({ prefix: "bench_token_" });
const env = tokenEnv(home);

function out(line: string): void {
  Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
}

async function once(cmd: string[]): Promise<number> {
  const t0 = performance.now();
  const out = await new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    cwd: ROOT,
    clearEnv: true,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const ms = performance.now() - t0;
  if (out.code !== 0) {
    throw new Error(`${cmd.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return ms;
}

async function hasAws(): Promise<boolean> {
  try {
    return (await new Deno.Command("aws", { args: ["--version"], stdout: "null", stderr: "null" })
      .output()).code === 0;
  } catch {
    return false;
  }
}

const deno = Deno.execPath();
const commands: Record<string, string[]> = {};
for (const v of variants) {
  const f = v.split(/\s+/).filter(Boolean);
  const run = (label: string, shown: string, script: string, ...args: string[]) => {
    commands[`${label} | deno run ${v} ${shown}`] = [deno, "run", ...f, script, ...args];
  };
  run("floor   ", "scripts/bench/empty.ts", EMPTY);
  run("a4f-only", "scripts/bench/aws4fetch_presign.ts", A4F);
  run("token   ", "main.ts token -i bench", MAIN, "token", "-i", "bench");
  run(
    "tok-hit ",
    "main.ts token -i bench --token-cache",
    MAIN,
    "token",
    "-i",
    "bench",
    "--token-cache",
  );
}
const aws = await hasAws();
if (aws) {
  commands["aws-cli  | aws eks get-token --cluster-name bench --region us-west-2"] = [
    "aws",
    "eks",
    "get-token",
    "--cluster-name",
    "bench",
    "--region",
    "us-west-2",
  ];
}

/** The 1/5/15-minute load averages: on a shared machine, medians mean little without them. */
function load(): string {
  return Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
}

try {
  const loadBefore = load();
  // Warm-up: fills Deno's module and V8 code caches and the token cache.
  for (const cmd of Object.values(commands)) await once(cmd);
  const times: Record<string, number[]> = Object.fromEntries(
    Object.keys(commands).map((k) => [k, []]),
  );
  // Each round runs the commands in a new order: whatever runs right after the 0.5 s Python
  // process of `aws eks get-token` is measurably slower, and a fixed order would always hand
  // that penalty to the same command (it inflated the floor by ~4 ms).
  const names = Object.keys(commands);
  for (let i = 0; i < runs; i++) {
    for (const name of shuffled(names)) times[name]!.push(await once(commands[name]!));
  }
  const med = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
  const min = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, Math.min(...v)]));
  out(`deno ${Deno.version.deno}, ${runs} runs each, wall ms of the whole process`);
  out(
    `load average (1/5/15 min): ${loadBefore} before, ${load()} after (${navigator.hardwareConcurrency} CPUs)`,
  );
  out(
    "median (min in brackets: the least-disturbed run on a shared machine);\n" +
      "ratios: median/median [min/min] {median of per-round ratios: each round runs every\n" +
      "command back to back in a random order, so this pairing cancels the machine's drifts}\n",
  );
  const fmt = (k: string) => `${med[k]!.toFixed(1)} ms [${min[k]!.toFixed(1)}]`;
  const paired = (a: string, b: string) => median(times[a]!.map((x, i) => x / times[b]![i]!));
  const ratio = (a: string, b: string) =>
    `${(med[a]! / med[b]!).toFixed(2)}x [${(min[a]! / min[b]!).toFixed(2)}x] {${
      paired(a, b).toFixed(2)
    }x}`;
  const awsKey = Object.keys(commands).find((k) => k.startsWith("aws-cli"));
  for (const v of variants) {
    const floor = `floor    | deno run ${v} scripts/bench/empty.ts`;
    const a4f = `a4f-only | deno run ${v} scripts/bench/aws4fetch_presign.ts`;
    const tok = `token    | deno run ${v} main.ts token -i bench`;
    const hit = `tok-hit  | deno run ${v} main.ts token -i bench --token-cache`;
    out(`flags: ${v}`);
    out(`  floor (empty script)    ${fmt(floor)}`);
    out(`  aws4fetch presign only  ${fmt(a4f)}  = ${ratio(a4f, floor)} floor`);
    out(
      `  token (static creds)    ${fmt(tok)}  = ${ratio(tok, floor)} floor` +
        (awsKey ? `; aws eks get-token is ${ratio(awsKey, tok)} slower` : ""),
    );
    out(`  token-cache hit         ${fmt(hit)}  = ${ratio(hit, floor)} floor`);
  }
  out(`\naws eks get-token         ${awsKey ? fmt(awsKey) : "n/a (aws not on PATH)"}`);
} finally {
  await Deno.remove(home, { recursive: true });
}
