import assert from "node:assert/strict";
import { versionText } from "../../src/cli/version.ts";

import { runMain } from "./_main.ts";

Deno.test("version formats: one-line JSON omitting empties, YAML with all fields, short", () => {
  assert.deepEqual(
    versionText({ version: "unversioned", commit: "" }, { short: false, output: "json" }),
    {
      stdout: '{"Version":"unversioned"}\n',
      stderr: "",
    },
  );
  assert.equal(
    versionText({ version: "v0.7.18", commit: "abc" }, { short: false, output: "json" }).stdout,
    '{"Version":"v0.7.18","Commit":"abc"}\n',
  );
  assert.equal(
    versionText({ version: "v0.7.18", commit: "" }, { short: false, output: "yaml" }).stdout,
    'version: v0.7.18\ncommit: ""\ndate: ""\n',
  );
  assert.equal(
    versionText({ version: "v1", commit: "c" }, { short: true, output: "json" }).stdout,
    "v1\n",
  );
  assert.deepEqual(versionText({ version: "v1", commit: "" }, { short: false, output: "xml" }), {
    stdout: "",
    stderr: "unknown version option\n",
  });
});

Deno.test("`main.ts version` prints the stamped constants and exits 0 even for a bad -o", async () => {
  const run = (...args: string[]) => runMain(args);
  assert.deepEqual(await run("version"), { code: 0, out: '{"Version":"unversioned"}\n', err: "" });
  assert.deepEqual(await run("version", "-s"), { code: 0, out: "unversioned\n", err: "" });
  assert.deepEqual(await run("version", "-o", "xml"), {
    code: 0,
    out: "",
    err: "unknown version option\n",
  });
  const help = await run("help", "version");
  assert.match(
    help.out,
    /^Version will output the current build information\n\nUsage:\n {2}aws-iam-authenticator version \[flags\]/,
  );
});
