/**
 * `validate` as a user runs it: golden human and GitHub outputs, the JSON report's shape, exit
 * codes, standard input, and the limits (binary, 50 MB, deep nesting, alias bombs).
 * `UPDATE_GOLDEN=1 deno test -A tests/cli/validate_test.ts` rewrites the golden files.
 */

import assert from "node:assert/strict";
import { MAIN, runMain } from "./_main.ts";
import { RULE_IDS } from "../../src/validate/mod.ts";

const FIXTURES = new URL("../fixtures/validate/", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;

async function golden(name: string, actual: string): Promise<void> {
  const path = `${FIXTURES}${name}`;
  if (Deno.env.get("UPDATE_GOLDEN") === "1") await Deno.writeTextFile(path, actual);
  assert.equal(actual, await Deno.readTextFile(path));
}

const run = (args: string[]) => runMain(["validate", ...args], { cwd: FIXTURES });

Deno.test("human output (golden), exit 1 for errors", async () => {
  const r = await run(["aws-auth.yaml", "server.yaml", "--compat", "go"]);
  assert.equal(r.code, 1, r.err);
  await golden("aws-auth.human.txt", r.out);
});

Deno.test("GitHub Actions annotations (golden)", async () => {
  const r = await run(["-o", "github", "aws-auth.yaml"]);
  assert.equal(r.code, 1, r.err);
  await golden("aws-auth.github.txt", r.out);
  assert.match(r.out, /^::error file=aws-auth\.yaml,line=15,col=17,title=template\.unknown::/m);
});

Deno.test("a clean file exits 0", async () => {
  const r = await run(["clean.yaml"]);
  assert.equal(r.code, 0, r.out + r.err);
  assert.equal(r.out, "no problems found\n");
});

Deno.test("the JSON report has the documented shape", async () => {
  const r = await run(["-o", "json", "aws-auth.yaml", "server.yaml"]);
  assert.equal(r.code, 1);
  const report = JSON.parse(r.out);
  assert.deepEqual(Object.keys(report), ["version", "findings", "summary", "exitCode"]);
  assert.equal(report.version, 1);
  assert.equal(report.exitCode, 1);
  assert.deepEqual(Object.keys(report.summary), ["errors", "warnings", "info"]);
  const required = ["file", "line", "column", "rule", "severity", "message", "fix"];
  for (const f of report.findings) {
    for (const k of required) assert.ok(k in f, `finding lacks ${k}: ${JSON.stringify(f)}`);
    for (const k of Object.keys(f)) {
      assert.ok([...required, "subject", "backend"].includes(k), `unexpected field ${k}`);
    }
    assert.ok(RULE_IDS.includes(f.rule));
    assert.ok(["error", "warning", "info"].includes(f.severity));
    assert.equal(typeof f.line, "number");
  }
  const assumed = report.findings.find((f: { rule: string }) => f.rule === "arn.assumed_role");
  assert.deepEqual(assumed, {
    file: "aws-auth.yaml",
    line: 14,
    column: 16,
    rule: "arn.assumed_role",
    severity: "warning",
    message:
      "arn:aws:sts::111122223333:assumed-role/Admin/alice is an STS session ARN; the server maps it as arn:aws:iam::111122223333:role/Admin, so every session of that role gets this mapping",
    fix:
      "Write the role ARN (`arn:aws:iam::<account>:role/<name>`); use `{{SessionName}}` in the username to tell sessions apart.",
    subject: "arn:aws:sts::111122223333:assumed-role/Admin/alice",
    backend: "EKSConfigMap",
  });
  assert.equal(
    report.summary.errors,
    report.findings.filter((f: { severity: string }) => f.severity === "error").length,
  );
});

Deno.test("--list prints the effective table; --group filters it", async () => {
  const all = await run(["--list", "clean.yaml", "server.yaml"]);
  assert.equal(all.code, 0, all.err);
  assert.match(all.out, /^BACKEND +KIND +PATTERN +USERNAME +GROUPS +DEFINED AT$/m);
  assert.match(
    all.out,
    /^MountedFile +role +arn:aws:iam::111122223333:role\/Dev +dev-from-config/m,
  );
  assert.match(
    all.out,
    /^EKSConfigMap +role +arn:aws:iam::111122223333:role\/NodeInstanceRole +system:node/m,
  );
  const masters = await run([
    "--list",
    "--group",
    "system:masters",
    "aws-auth.yaml",
    "server.yaml",
  ]);
  const rows = masters.out.trim().split("\n").slice(1, -1);
  // The Dev role under mapUsers is hidden by MountedFile's entry, which grants no masters.
  assert.deepEqual(rows.map((r) => r.split(/ +/)[2]), [
    "arn:aws:sts::111122223333:assumed-role/Admin/alice",
  ]);
  assert.match(masters.out, /^1 mapping$/m);
});

Deno.test("exit 2: unreadable input, bad flags, nothing to validate", async () => {
  const missing = await run(["nope.yaml"]);
  assert.equal(missing.code, 2);
  assert.match(
    missing.out,
    /^nope\.yaml:1:1: error input\.unreadable: cannot read nope\.yaml: no such file/m,
  );
  assert.equal((await run(["--nope", "clean.yaml"])).code, 2);
  assert.equal((await run(["-o", "xml", "clean.yaml"])).code, 2);
  const none = await run([]);
  assert.equal(none.code, 2);
  assert.match(none.err, /nothing to validate/);
});

async function withStdin(args: string[], input: Uint8Array) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "--config", CONFIG, MAIN, "validate", ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  // The command stops reading once it has seen too much; a closed pipe is expected then.
  await w.write(input).catch(() => {});
  await w.close().catch(() => {});
  const o = await child.output();
  const dec = new TextDecoder();
  return { code: o.code, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
}

Deno.test("- reads standard input", async () => {
  const text = await Deno.readTextFile(`${FIXTURES}aws-auth.yaml`);
  const r = await withStdin(["-"], new TextEncoder().encode(text));
  assert.equal(r.code, 1, r.err);
  assert.match(r.out, /^<stdin>:15:17: error template\.unknown/m);
});

Deno.test("limits: binary, 50 MB, deep nesting and alias bombs get clear errors", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/bin.yaml`, new Uint8Array([0xcf, 0xfa, 0xed, 0xfe, 0, 0, 1]));
    const big = await Deno.open(`${dir}/big.yaml`, { create: true, write: true });
    await big.truncate(50 * 1024 * 1024); // sparse: the size check must come before reading
    big.close();
    await Deno.writeTextFile(`${dir}/deep.yaml`, "a: " + "[".repeat(200_000) + "]".repeat(200_000));
    let bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (let i = 1; i < 12; i++) bomb += `a${i}: &a${i} [${`*a${i - 1}, `.repeat(10)}]\n`;
    await Deno.writeTextFile(`${dir}/bomb.yaml`, bomb);
    const r = await runMain(["validate", "bin.yaml", "big.yaml", "deep.yaml", "bomb.yaml"], {
      cwd: dir,
    });
    assert.equal(r.code, 2);
    assert.match(r.out, /^bin\.yaml:1:1: error input\.binary: /m);
    assert.match(r.out, /^big\.yaml:1:1: error input\.too_large: the file is 52428800 bytes/m);
    assert.match(r.out, /^deep\.yaml:1:\d+: error input\.too_deep: /m);
    assert.match(r.out, /^bomb\.yaml:1:1: error syntax\.aliases: /m);
    // Standard input is capped too.
    const huge = await withStdin(["-"], new Uint8Array(17 * 1024 * 1024).fill(0x61));
    assert.equal(huge.code, 2);
    assert.match(huge.out, /^<stdin>:1:1: error input\.too_large/m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("validate reads and never writes its inputs", async () => {
  const before = await Deno.stat(`${FIXTURES}aws-auth.yaml`);
  const text = await Deno.readTextFile(`${FIXTURES}aws-auth.yaml`);
  await run(["aws-auth.yaml"]);
  const after = await Deno.stat(`${FIXTURES}aws-auth.yaml`);
  assert.equal(after.mtime?.getTime(), before.mtime?.getTime());
  assert.equal(await Deno.readTextFile(`${FIXTURES}aws-auth.yaml`), text);
});
