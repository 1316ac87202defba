import assert from "node:assert/strict";
import { COMMANDS, findCommand, rootHelp } from "../../main.ts";

import { runMain } from "./_main.ts";

const run = (...args: string[]) => runMain(args);

Deno.test("the sub-command is found after global flags and their values", () => {
  assert.deepEqual(findCommand(["-i", "x", "token", "-r", "y"]), {
    command: "token",
    rest: ["-i", "x", "-r", "y"],
  });
  assert.deepEqual(findCommand(["--cluster-id=x", "-vdebug", "verify"]), {
    command: "verify",
    rest: ["--cluster-id=x", "-vdebug"],
  });
  assert.deepEqual(
    findCommand(["--feature-gates", "A=true", "-c", "f.yaml", "server"]).command,
    "server",
  );
  assert.deepEqual(findCommand(["-h"]), { rest: ["-h"] });
});

Deno.test("root help lists every command with the Go tool's short descriptions", async () => {
  const h = rootHelp();
  assert.match(
    h,
    /^A tool to authenticate to Kubernetes using AWS IAM credentials\n\nUsage:\n {2}aws-iam-authenticator \[command\]\n/,
  );
  for (const c of COMMANDS) assert.ok(h.includes(`  ${c.name.padEnd(11)} ${c.short}\n`), c.name);
  const r = await run();
  assert.equal(r.code, 0);
  assert.equal(r.out, h);
});

Deno.test("unknown command and unknown root flag are one stderr line, exit 1", async () => {
  const r = await run("frobnicate");
  assert.equal(r.code, 1);
  assert.equal(r.out, "");
  assert.equal(
    r.err,
    `Error: unknown command "frobnicate" for "aws-iam-authenticator". Run 'aws-iam-authenticator --help' for usage.\n`,
  );
  const f = await run("--nope");
  assert.equal(f.code, 1);
  assert.match(f.err, /^Error: unknown flag: --nope\./);
});

Deno.test("completion scripts for the four shells; an unknown shell fails", async () => {
  for (const shell of ["bash", "zsh", "fish", "powershell"]) {
    const r = await run("completion", shell);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /token/);
    assert.match(r.out, /forward-session-name/);
  }
  const bash = await run("completion", "bash");
  const check = await new Deno.Command("bash", { args: ["-n"], stdin: "piped", stderr: "piped" })
    .spawn();
  const w = check.stdin.getWriter();
  await w.write(new TextEncoder().encode(bash.out));
  await w.close();
  const res = await check.output();
  assert.equal(res.code, 0, new TextDecoder().decode(res.stderr));
  const bad = await run("completion", "tcsh");
  assert.equal(bad.code, 1);
  assert.match(bad.err, /unknown shell "tcsh"/);
});

Deno.test("`token --help` lists every token flag on stdout and exits 0", async () => {
  const r = await run("token", "--help");
  assert.equal(r.code, 0);
  assert.equal(r.err, "");
  assert.match(
    r.out,
    /^Authenticate using AWS IAM and get token for Kubernetes\n\nUsage:\n {2}aws-iam-authenticator token \[flags\]\n/,
  );
  for (
    const f of [
      "--region string",
      "-r, --role string",
      "-e, --external-id string",
      "-s, --session-name string",
      "--token-only",
      "--forward-session-name",
      "--cache",
      "--token-cache",
      "-i, --cluster-id ID",
      "-c, --config filename",
      "-l, --log-format string",
      "-v, --log-verbosity string",
      "--feature-gates mapStringBool",
    ]
  ) assert.ok(r.out.includes(f), f);
});
