/**
 * `deno task bench:release`: what users of a build will see, measured on the machine that runs
 * it: the wall time of `token` with static keys and of a token-cache hit, each against an empty
 * program built the same way (the floor: what the runtime itself costs to start), and the idle
 * resident memory of `server` with a MountedFile config after its first start.
 *
 * Two forms:
 *
 * ```sh
 * deno task bench:release                      # deno run main.ts vs deno run scripts/bench/empty.ts
 * deno task bench:release --compile-empty out/empty            # deno compile the floor program
 * deno task bench:release --binary dist/aws-iam-authenticator_0.1.0_linux_amd64 \
 *   --empty-binary out/empty --markdown notes.md    # the release binary vs an empty binary
 * ```
 *
 * In the `deno run` form both programs run with the release's permissions and V8 flags. The
 * release workflow compiles `scripts/bench/empty.ts` with the same `deno compile` arguments as
 * the release binaries (`--compile-empty`), runs the compiled form on its linux/amd64 runner,
 * appends the table to the release notes and fails the release when `token` takes more than
 * `--max-ratio` (default 2) times the empty program: the median of per-round ratios, each round
 * running every command once in a new random order, so slow drifts of a shared runner cancel.
 *
 * Options: `--runs N` (rounds, default 21), `--max-ratio R`, `--markdown FILE` (write the table
 * as Markdown), `--config-mappings N` (MountedFile entries of the server's config, default 3),
 * `--idle-seconds S` (how long the server idles before its RSS is read, default 40: V8's memory
 * reducer returns the start-up garbage about 30 s after start, and an operator sees a server
 * that has been idle for longer than that).
 * Exit status: 0, or 1 when a ratio is above `--max-ratio` (the table is still printed).
 *
 * @module
 */

import { median, shuffled } from "./lib/stats.ts";
import { tokenEnv } from "./lib/token_env.ts";
import { statusKb } from "./lib/proc_stats.ts";
import { startUntilReady } from "./lib/ready_process.ts";

export { median };
import { parseArgs } from "node:util";
import {
  RELEASE_V8_FLAGS,
  releaseTarget,
  repoRoot,
  runChecked,
  runScript,
  RUNTIME_PERMISSIONS,
  writeText,
} from "./build_info.ts";
import { compileArgs } from "./compile.ts";

/** A program to time: the command line that starts it, minus the sub-command's arguments. */
export interface ProgramForm {
  /** Shown in the report. */
  label: string;
  /** The authenticator: `[binary]` or `[deno, run, flags…, main.ts]`. */
  main: string[];
  /** The floor: the same runtime and flags running a program that does nothing. */
  empty: string[];
}

/** The `deno run` form of this checkout, with the release's permissions and V8 flags. */
export function denoRunForm(root: string, deno: string = Deno.execPath()): ProgramForm {
  const flags = [...RUNTIME_PERMISSIONS, `--v8-flags=${RELEASE_V8_FLAGS}`];
  return {
    label: `deno run (${flags.join(" ")})`,
    main: [deno, "run", ...flags, `${root}/main.ts`],
    empty: [deno, "run", ...flags, `${root}/scripts/bench/empty.ts`],
  };
}

/** The compiled form: a release binary and an empty program compiled the same way. */
export function binaryForm(binary: string, emptyBinary: string): ProgramForm {
  return { label: `compiled (${binary})`, main: [binary], empty: [emptyBinary] };
}

/** Timings of one command over every round, in milliseconds. */
export interface Row {
  /** What was run. */
  name: string;
  /** Wall time of each round, in round order. */
  ms: number[];
}

/** One row of the report, relative to the floor. */
export interface Summary {
  /** What was run. */
  name: string;
  /** Median wall time. */
  medianMs: number;
  /** Fastest run. */
  minMs: number;
  /** Median of the per-round ratios to the floor (undefined for the floor itself). */
  pairedRatio?: number;
}

/** Medians, minimums and paired ratios of `rows` against the row named `floor`. */
export function summarize(rows: readonly Row[], floor: string): Summary[] {
  const base = rows.find((r) => r.name === floor);
  if (base === undefined) throw new Error(`no row named ${floor}`);
  return rows.map((r) => ({
    name: r.name,
    medianMs: median(r.ms),
    minMs: Math.min(...r.ms),
    pairedRatio: r === base ? undefined : median(r.ms.map((x, i) => x / base.ms[i]!)),
  }));
}

/** The rows whose paired ratio is above `maxRatio`. */
export function overBudget(summary: readonly Summary[], maxRatio: number): Summary[] {
  return summary.filter((s) => s.pairedRatio !== undefined && s.pairedRatio > maxRatio);
}

/** What the report says about the server's memory. */
export interface ServerMemory {
  /** Resident set 2 s after the server said it was listening, in MiB; undefined off Linux. */
  startRssMb?: number;
  /**
   * Resident set after `idleSeconds` of idling, in MiB: what an operator sees on a server at
   * rest, once V8's memory reducer has returned the start-up garbage (about 30 s after start).
   */
  idleRssMb?: number;
  /** Seconds the server idled before {@link ServerMemory.idleRssMb} was read. */
  idleSeconds: number;
  /** The peak resident set up to then (VmHWM), in MiB. */
  peakRssMb?: number;
  /** Number of MountedFile entries in its config. */
  mappings: number;
}

/** The report as a Markdown section (for release notes). */
export function markdownTable(opts: {
  form: string;
  runs: number;
  maxRatio: number;
  summary: readonly Summary[];
  memory: ServerMemory;
  machine: string;
}): string {
  const lines = [
    "### Start-up time and idle memory (`deno task bench:release`)",
    "",
    `${opts.machine}; ${opts.form}; ${opts.runs} rounds, each command once per round in a ` +
    "random order. Ratio: the median of per-round ratios to the empty program.",
    "",
    "| | median | fastest | ratio to the empty program |",
    "|---|---|---|---|",
  ];
  for (const s of opts.summary) {
    const ratio = s.pairedRatio === undefined
      ? "(floor)"
      : `${s.pairedRatio.toFixed(2)}× (limit ${opts.maxRatio}×)`;
    lines.push(`| ${s.name} | ${s.medianMs.toFixed(1)} ms | ${s.minMs.toFixed(1)} ms | ${ratio} |`);
  }
  const mem = opts.memory;
  const mb = (x: number | undefined) => x === undefined ? "n/a" : `${x.toFixed(1)} MB`;
  lines.push(
    `| \`server\` idle RSS after ${mem.idleSeconds} s (MountedFile, ${mem.mappings} mappings, ` +
      `TLS pair on disk) | ${mb(mem.idleRssMb)} | | 2 s after start ${mb(mem.startRssMb)}, ` +
      `peak ${mb(mem.peakRssMb)} |`,
  );
  return lines.join("\n") + "\n";
}

async function timeOnce(cmd: string[], env: Record<string, string>): Promise<number> {
  const t0 = performance.now();
  const out = await new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    clearEnv: true,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const ms = performance.now() - t0;
  if (!out.success) {
    throw new Error(
      `${cmd.join(" ")} exited with ${out.code}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return ms;
}

/** Times the commands over `runs` rounds after one warm-up round (caches, token cache). */
export async function timeCommands(
  commands: Record<string, string[]>,
  env: Record<string, string>,
  runs: number,
): Promise<Row[]> {
  for (const cmd of Object.values(commands)) await timeOnce(cmd, env);
  const rows = Object.keys(commands).map((name): Row => ({ name, ms: [] }));
  for (let i = 0; i < runs; i++) {
    for (const row of shuffled(rows)) row.ms.push(await timeOnce(commands[row.name]!, env));
  }
  return rows;
}

/** A MountedFile server config with `n` role mappings, listening on ephemeral ports. */
export function serverConfig(stateDir: string, n: number): string {
  let roles = "";
  for (let i = 0; i < n; i++) {
    roles += `  - roleARN: arn:aws:iam::111122223333:role/team-${i}\n` +
      `    username: team-${i}:{{SessionName}}\n    groups: [team-${i}]\n`;
  }
  return `clusterID: bench-release\nserver:\n  hostname: 127.0.0.1\n  port: 0\n  healthPort: 0\n` +
    `  stateDir: ${stateDir}/state\n  generateKubeconfig: ${stateDir}/kubeconfig.yaml\n` +
    (n > 0 ? `  mapRoles:\n${roles.replace(/^/gm, "  ")}` : "");
}

/**
 * Starts `server` twice with the config (the first start writes the TLS pair, as a first
 * deployment does), and reads the second one's resident memory 2 s after it is listening and
 * again after `idleSeconds`.
 */
export async function serverIdleMemory(
  main: string[],
  dir: string,
  env: Record<string, string>,
  mappings: number,
  idleSeconds: number,
): Promise<ServerMemory> {
  const config = `${dir}/config.yaml`;
  await Deno.writeTextFile(config, serverConfig(dir, mappings), { mode: 0o600 });
  const start = async (measure: boolean): Promise<ServerMemory> => {
    const child = await startUntilReady(
      [...main, "server", "--config", config],
      "listening on",
      { clearEnv: true, env: { ...env, AWS_REGION: "us-east-1" } },
    );
    try {
      if (!measure) return { mappings, idleSeconds };
      const listening = performance.now();
      const mbAt = async (seconds: number, field = "VmRSS") => {
        const wait = listening + seconds * 1000 - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const kb = await statusKb(child.pid, field);
        return Number.isNaN(kb) ? undefined : kb / 1024;
      };
      const startRssMb = await mbAt(Math.min(2, idleSeconds));
      const idleRssMb = await mbAt(idleSeconds);
      return { mappings, idleSeconds, startRssMb, idleRssMb, peakRssMb: await mbAt(0, "VmHWM") };
    } finally {
      await child.stop();
    }
  };
  await start(false);
  return await start(true);
}

/**
 * `deno compile`s `scripts/bench/empty.ts` for the host with the arguments the release binaries
 * get (permissions, V8 flags, target), so that the two differ only in what they run.
 */
export async function compileEmpty(
  root: string,
  output: string,
  run: (cmd: string, args: string[], opts: { cwd: string }) => Promise<void> = runChecked,
): Promise<void> {
  const args = compileArgs({
    entry: `${root}/scripts/bench/empty.ts`,
    output,
    target: releaseTarget(Deno.build.target),
    noCheck: true,
  });
  await run(Deno.execPath(), args, { cwd: root });
}

async function machine(): Promise<string> {
  let cpu = "";
  try {
    const info = await Deno.readTextFile("/proc/cpuinfo");
    cpu = info.match(/^model name\s*:\s*(.*)$/m)?.[1] ?? "";
  } catch {
    // not Linux
  }
  return `${Deno.build.target}, ${navigator.hardwareConcurrency} CPUs${
    cpu ? ` (${cpu})` : ""
  }, load average ${Deno.loadavg().map((x) => x.toFixed(2)).join(" ")}, Deno ${Deno.version.deno}`;
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      binary: { type: "string" },
      "empty-binary": { type: "string" },
      "compile-empty": { type: "string" },
      runs: { type: "string", default: "21" },
      "max-ratio": { type: "string", default: "2" },
      markdown: { type: "string" },
      "config-mappings": { type: "string", default: "3" },
      "idle-seconds": { type: "string", default: "40" },
    },
  });
  const root = repoRoot();
  if (values["compile-empty"] !== undefined) {
    await compileEmpty(root, values["compile-empty"]);
    writeText(Deno.stderr, `Compiled scripts/bench/empty.ts into ${values["compile-empty"]}\n`);
    return 0;
  }
  if ((values.binary === undefined) !== (values["empty-binary"] === undefined)) {
    throw new Error("--binary and --empty-binary go together: time a binary against its floor");
  }
  const runs = Number(values.runs);
  const maxRatio = Number(values["max-ratio"]);
  const mappings = Number(values["config-mappings"]);
  const idleSeconds = Number(values["idle-seconds"]);
  if (!(runs >= 1) || !(maxRatio > 0) || !(mappings >= 0) || !(idleSeconds >= 0)) {
    throw new Error(
      "--runs, --max-ratio, --config-mappings and --idle-seconds take positive numbers",
    );
  }
  const form = values.binary === undefined
    ? denoRunForm(root)
    : binaryForm(values.binary, values["empty-binary"]!);

  const home = await Deno.makeTempDir({ prefix: "bench_release_" });
  try {
    const env = tokenEnv(home);
    const commands = {
      "empty program": form.empty,
      "`token`, static keys": [...form.main, "token", "-i", "bench"],
      "`token`, token-cache hit": [...form.main, "token", "-i", "bench", "--token-cache"],
    };
    const before = await machine();
    const rows = await timeCommands(commands, env, runs);
    const summary = summarize(rows, "empty program");
    const memory = await serverIdleMemory(form.main, home, env, mappings, idleSeconds);
    const table = markdownTable({
      form: form.label,
      runs,
      maxRatio,
      summary,
      memory,
      machine: before,
    });
    writeText(Deno.stdout, table);
    if (values.markdown !== undefined) await Deno.writeTextFile(values.markdown, table);
    const over = overBudget(summary, maxRatio);
    for (const s of over) {
      writeText(
        Deno.stderr,
        `${s.name} takes ${s.pairedRatio!.toFixed(2)}× the empty program, above the ` +
          `${maxRatio}× limit: find what the command loads or does at start that it did not before.\n`,
      );
    }
    return over.length > 0 ? 1 : 0;
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

if (import.meta.main) await runScript("bench:release", main);
