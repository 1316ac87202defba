/**
 * `deno task bench:release` (scripts/bench_release.ts): its arithmetic, its gate, both of its
 * command forms end to end (the `deno run` form, and the binary form with stand-in executables,
 * since `deno compile` cannot fetch its runtime here), and the release workflow's use of it.
 * Nothing here asserts a timing: the gate is exercised with limits every run is above or below.
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import {
  binaryForm,
  compileEmpty,
  denoRunForm,
  markdownTable,
  median,
  overBudget,
  serverConfig,
  summarize,
} from "../../scripts/bench_release.ts";
import { compileArgs } from "../../scripts/compile.ts";
import { RELEASE_V8_FLAGS, releaseTarget } from "../../scripts/build_info.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const SCRIPT = `${ROOT}/scripts/bench_release.ts`;

Deno.test("summarize: medians, fastest runs and the median of per-round ratios to the floor", () => {
  const summary = summarize([
    { name: "floor", ms: [10, 20, 10] },
    { name: "token", ms: [15, 50, 30] },
  ], "floor");
  assert.deepEqual(summary[0], { name: "floor", medianMs: 10, minMs: 10, pairedRatio: undefined });
  // Per-round ratios 1.5, 2.5, 3: their median, not median/median (30/10).
  assert.deepEqual(summary[1], { name: "token", medianMs: 30, minMs: 15, pairedRatio: 2.5 });
  assert.deepEqual(overBudget(summary, 2).map((s) => s.name), ["token"]);
  assert.deepEqual(overBudget(summary, 2.5), []);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.throws(() => summarize([{ name: "a", ms: [1] }], "b"), /no row named b/);
});

Deno.test("the Markdown table names every row, its ratio and limit, and the server's memory", () => {
  const table = markdownTable({
    form: "compiled (dist/x)",
    runs: 21,
    maxRatio: 2,
    summary: [
      { name: "empty program", medianMs: 20, minMs: 18 },
      { name: "`token`, static keys", medianMs: 30.04, minMs: 28, pairedRatio: 1.5 },
    ],
    memory: { mappings: 3, idleSeconds: 40, startRssMb: 61, idleRssMb: 58.25, peakRssMb: 62 },
    machine: "x86_64-unknown-linux-gnu, 4 CPUs",
  });
  assert.match(table, /^### /);
  assert.match(table, /x86_64-unknown-linux-gnu, 4 CPUs; compiled \(dist\/x\); 21 rounds/);
  assert.match(table, /^\| empty program \| 20\.0 ms \| 18\.0 ms \| \(floor\) \|$/m);
  assert.match(
    table,
    /^\| `token`, static keys \| 30\.0 ms \| 28\.0 ms \| 1\.50× \(limit 2×\) \|$/m,
  );
  assert.match(
    table,
    /^\| `server` idle RSS after 40 s \(MountedFile, 3 mappings.*\| 58\.3 MB \| \| 2 s after start 61\.0 MB, peak 62\.0 MB \|$/m,
  );
});

Deno.test("serverConfig: a MountedFile config with the asked number of role mappings", () => {
  const config = parse(serverConfig("/tmp/x", 2)) as {
    clusterID: string;
    server: { mapRoles: { roleARN: string }[]; port: number; stateDir: string };
  };
  assert.equal(config.clusterID, "bench-release");
  assert.equal(config.server.port, 0);
  assert.equal(config.server.stateDir, "/tmp/x/state");
  assert.deepEqual(config.server.mapRoles.map((r) => r.roleARN), [
    "arn:aws:iam::111122223333:role/team-0",
    "arn:aws:iam::111122223333:role/team-1",
  ]);
});

Deno.test("both forms run the authenticator and the floor with the same runtime and flags", () => {
  const run = denoRunForm("/repo", "/bin/deno");
  assert.deepEqual(run.main.slice(0, -1), run.empty.slice(0, -1));
  assert.equal(run.main.at(-1), "/repo/main.ts");
  assert.equal(run.empty.at(-1), "/repo/scripts/bench/empty.ts");
  assert.ok(run.main.includes(`--v8-flags=${RELEASE_V8_FLAGS}`));
  assert.deepEqual(binaryForm("/d/aia", "/t/empty"), {
    label: "compiled (/d/aia)",
    main: ["/d/aia"],
    empty: ["/t/empty"],
  });
});

async function runScript(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("deno run form end to end: a table of real runs, exit 0 within the limit, 1 above it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const ok = await runScript([
      ...["--runs", "2", "--max-ratio", "1000", "--idle-seconds", "3"],
      ...["--markdown", `${dir}/t.md`],
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(await Deno.readTextFile(`${dir}/t.md`), ok.stdout);
    assert.match(ok.stdout, /; deno run \(--allow-env .*--v8-flags=/);
    for (const row of ["`token`, static keys", "`token`, token-cache hit"]) {
      const m = new RegExp(`^\\| ${row} \\| ([\\d.]+) ms \\| ([\\d.]+) ms \\| ([\\d.]+)× `, "m")
        .exec(ok.stdout);
      assert.ok(m, `${row} in:\n${ok.stdout}`);
      assert.ok(Number(m[1]) > 0 && Number(m[3]) > 0);
    }
    // Linux: the server started, and its RSS was read from /proc.
    assert.match(
      ok.stdout,
      /^\| `server` idle RSS after 3 s .*\| \d+\.\d MB \| \| 2 s after start \d+\.\d MB/m,
    );

    // Every command takes longer than a tenth of the empty program: the gate fails, and says so.
    const over = await runScript(["--runs", "1", "--max-ratio", "0.1", "--idle-seconds", "0"]);
    assert.equal(over.code, 1, over.stderr);
    assert.match(over.stdout, /^\| `token`, static keys \|/m);
    assert.match(
      over.stderr,
      /`token`, static keys takes [\d.]+× the empty program, above the 0\.1× limit/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("binary form end to end, with executables standing in for the compiled programs", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // What a compiled binary is to the script: an executable taking the CLI's arguments.
    const flags = denoRunForm(ROOT).main.slice(2, -1).join(" ");
    const write = async (name: string, entry: string) => {
      await Deno.writeTextFile(
        `${dir}/${name}`,
        `#!/bin/sh\nexec "${Deno.execPath()}" run ${flags} "${entry}" "$@"\n`,
        { mode: 0o755 },
      );
    };
    await write("aia", `${ROOT}/main.ts`);
    await write("empty", `${ROOT}/scripts/bench/empty.ts`);
    const r = await runScript([
      "--binary",
      `${dir}/aia`,
      "--empty-binary",
      `${dir}/empty`,
      "--runs",
      "1",
      "--max-ratio",
      "1000",
      "--idle-seconds",
      "1",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`; compiled \\(${dir}/aia\\); 1 rounds`));
    assert.match(r.stdout, /^\| `token`, token-cache hit \| [\d.]+ ms \|/m);
    assert.match(r.stdout, /^\| `server` idle RSS after 1 s .*\| \d+\.\d MB \|/m);
    const half = await runScript(["--binary", `${dir}/aia`]);
    assert.equal(half.code, 1);
    assert.match(half.stderr, /--binary and --empty-binary go together/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the empty program is compiled with the release binaries' own deno compile arguments", async () => {
  const calls: string[][] = [];
  // compileEmpty runs `deno compile`; here only its arguments are compared (no denort to fetch).
  const expected = compileArgs({
    entry: `${ROOT}/scripts/bench/empty.ts`,
    output: "/out/empty",
    target: releaseTarget(Deno.build.target),
    noCheck: true,
  });
  await compileEmpty(ROOT, "/out/empty", (_cmd, args) => {
    calls.push(args);
    return Promise.resolve();
  });
  assert.deepEqual(calls, [expected]);
  const release = compileArgs({
    entry: "main.ts",
    output: "/out/aia",
    target: releaseTarget(Deno.build.target),
    noCheck: true,
  });
  // Same permissions, V8 flags and target; only the entry and output differ.
  const strip = (a: string[]) => a.filter((x) => !/main\.ts$|empty\.ts$|^\/out\//.test(x));
  assert.deepEqual(strip(expected), strip(release));
});

interface Step {
  name?: string;
  run?: string;
  "continue-on-error"?: unknown;
}

Deno.test("release workflow: compiles the empty program, times the linux/amd64 binary against it, gates and publishes the table", async () => {
  const wf = parse(await Deno.readTextFile(`${ROOT}/.github/workflows/release.yml`)) as {
    jobs: { binaries: { steps: Step[] } };
  };
  const steps = wf.jobs.binaries.steps;
  const at = (pattern: RegExp) => {
    const i = steps.findIndex((s) => s.run !== undefined && pattern.test(s.run));
    assert.ok(i >= 0, `a step runs ${pattern}`);
    return i;
  };
  const compile = at(/^deno task compile /m);
  const empty = at(/deno task bench:release --compile-empty "\$RUNNER_TEMP\/bench-empty"/);
  const bench = at(/deno task bench:release\s+--binary/);
  const publish = at(/gh release create/);
  assert.ok(compile < empty && empty < bench && bench < publish, "compile, empty, time, publish");
  const run = steps[bench]!.run!.replace(/\s+/g, " ");
  assert.match(
    run,
    /--binary "dist\/aws-iam-authenticator_\$\{\{ steps\.version\.outputs\.version \}\}_linux_amd64"/,
  );
  assert.match(run, /--empty-binary "\$RUNNER_TEMP\/bench-empty"/);
  assert.match(run, /--max-ratio 2(\s|$)/);
  assert.match(run, /--markdown "\$RUNNER_TEMP\/bench-release\.md"/);
  // A failing measurement stops the release.
  assert.doesNotMatch(run, /\|\||; *true|set \+e/);
  assert.equal(steps[bench]!["continue-on-error"], undefined);
  assert.match(steps[publish]!.run!, /--notes-file "\$RUNNER_TEMP\/bench-release\.md"/);
  // The empty program is not in dist/, so it is neither in SHA256SUMS nor published.
  assert.doesNotMatch(steps[empty]!.run!, /dist\//);
});
