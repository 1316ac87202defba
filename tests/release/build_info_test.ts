import assert from "node:assert/strict";
import {
  artifactName,
  type GitRunner,
  RELEASE_TARGETS,
  RELEASE_V8_FLAGS,
  releaseTarget,
  repoRoot,
  resolveBuildInfo,
  stageSources,
  stampVersionSource,
} from "../../scripts/build_info.ts";

const ROOT = repoRoot();

/** A git that answers from a table and records what it was asked. */
function fakeGit(answers: Record<string, string | undefined>): GitRunner & { calls: string[] } {
  const calls: string[] = [];
  const fn = (args: string[]) => {
    calls.push(args.join(" "));
    return Promise.resolve(answers[args[0]!]);
  };
  return Object.assign(fn, { calls });
}

Deno.test("artifact names follow the Go tool's release assets", () => {
  assert.deepEqual(RELEASE_TARGETS.map((t) => artifactName("0.7.18", t)), [
    "aws-iam-authenticator_0.7.18_linux_amd64",
    "aws-iam-authenticator_0.7.18_linux_arm64",
    "aws-iam-authenticator_0.7.18_darwin_amd64",
    "aws-iam-authenticator_0.7.18_darwin_arm64",
    "aws-iam-authenticator_0.7.18_windows_amd64.exe",
  ]);
  assert.throws(() => releaseTarget("riscv64gc-unknown-linux-gnu"), /Unknown target .*use one of/);
});

Deno.test("an explicit version and commit win over git and deno.json", async () => {
  const git = fakeGit({ describe: "v9.9.9", "rev-parse": "f".repeat(40) });
  const info = await resolveBuildInfo({ root: ROOT, version: "v1.2.3", commit: "abc123", git });
  assert.deepEqual(info, { version: "1.2.3", commit: "abc123" });
  assert.deepEqual(git.calls, []);
});

Deno.test("a release tag on HEAD gives the version, without its leading v", async () => {
  const git = fakeGit({ describe: "v0.8.0-rc.1", "rev-parse": "0123abcd".repeat(5) });
  const info = await resolveBuildInfo({ root: ROOT, git });
  assert.deepEqual(info, { version: "0.8.0-rc.1", commit: "0123abcd".repeat(5) });
});

Deno.test("without tag or flag the version is deno.json's, and an unknown commit is empty", async () => {
  const cfg = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`)) as { version: string };
  const info = await resolveBuildInfo({ root: ROOT, git: fakeGit({}) });
  assert.deepEqual(info, { version: cfg.version, commit: "" });
});

Deno.test("versions and commits that cannot go into a file name or literal are refused", async () => {
  for (const version of ["1.0/../../x", "1.0 beta", '1"; evil()', ""]) {
    await assert.rejects(
      resolveBuildInfo({ root: ROOT, version, git: fakeGit({}) }),
      /cannot be used in a file name/,
      version,
    );
  }
  await assert.rejects(
    resolveBuildInfo({ root: ROOT, version: "1.0.0", commit: 'x"y', git: fakeGit({}) }),
    /not a git revision/,
  );
});

Deno.test("stamping rewrites exactly the two literals and nothing else", () => {
  const src = [
    "/** doc */",
    'export const VERSION = "unversioned";',
    "",
    "/** doc */",
    "export const COMMIT: string = '';",
    'export const OTHER = "unversioned";',
    "",
  ].join("\n");
  const out = stampVersionSource(src, { version: "1.2.3", commit: "deadbeef" });
  assert.equal(
    out,
    [
      "/** doc */",
      'export const VERSION = "1.2.3";',
      "",
      "/** doc */",
      'export const COMMIT: string = "deadbeef";',
      'export const OTHER = "unversioned";',
      "",
    ].join("\n"),
  );
});

Deno.test("stamping fails loudly when the constants file no longer has the expected shape", () => {
  const info = { version: "1.2.3", commit: "" };
  assert.throws(
    () => stampVersionSource('export const COMMIT = "";\n', info),
    /declare `export const VERSION = "…"` exactly once \(found 0\)/,
  );
  assert.throws(
    () => stampVersionSource('export let VERSION = "x";\nexport const COMMIT = "";\n', info),
    /VERSION/,
  );
  assert.throws(
    () =>
      stampVersionSource(
        'export const VERSION = "a";\nexport const VERSION = "b";\nexport const COMMIT = "";\n',
        info,
      ),
    /found 2/,
  );
});

Deno.test("the real src/version.ts can be stamped, in a copy that leaves the work tree alone", async () => {
  const before = await Deno.readTextFile(`${ROOT}/src/version.ts`);
  const staged = await stageSources(ROOT, { version: "3.2.1", commit: "c0ffee" });
  try {
    const stamped = await Deno.readTextFile(`${staged.dir}/src/version.ts`);
    assert.match(stamped, /^export const VERSION = "3\.2\.1";$/m);
    assert.match(stamped, /^export const COMMIT = "c0ffee";$/m);
    assert.equal(
      await Deno.readTextFile(`${staged.dir}/main.ts`),
      await Deno.readTextFile(`${ROOT}/main.ts`),
    );
    assert.ok((await Deno.stat(`${staged.dir}/deno.json`)).isFile);
  } finally {
    await staged.cleanup();
  }
  assert.equal(await Deno.readTextFile(`${ROOT}/src/version.ts`), before);
  await assert.rejects(Deno.stat(staged.dir), Deno.errors.NotFound);
});

Deno.test("the staged deno.json drops lazy-dynamic-imports, which would keep commands out of a binary", async () => {
  const root = await Deno.makeTempDir({ prefix: "aia-root-" });
  try {
    await Deno.mkdir(`${root}/src`);
    await Deno.writeTextFile(`${root}/main.ts`, 'await import("./src/version.ts");\n');
    await Deno.writeTextFile(
      `${root}/src/version.ts`,
      'export const VERSION = "unversioned";\nexport const COMMIT = "";\n',
    );
    const cfg = { imports: { yaml: "npm:yaml@2.9.1" }, unstable: ["lazy-dynamic-imports", "kv"] };
    await Deno.writeTextFile(`${root}/deno.json`, JSON.stringify(cfg));
    const staged = await stageSources(root, { version: "1.0.0", commit: "" });
    try {
      const out = JSON.parse(await Deno.readTextFile(`${staged.dir}/deno.json`));
      assert.deepEqual(out, { imports: cfg.imports, unstable: ["kv"] });
      await assert.rejects(Deno.stat(`${staged.dir}/deno.lock`), Deno.errors.NotFound);
    } finally {
      await staged.cleanup();
    }
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${root}/deno.json`)), cfg);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("`deno task start` runs the server with the release binary's V8 flags", async () => {
  const { tasks } = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`));
  // Each flag is checked on its own, so a flag dropped from either side shows which one.
  const flags = /--v8-flags=(\S+)/.exec(tasks.start)?.[1]?.split(",");
  assert.deepEqual(flags, RELEASE_V8_FLAGS.split(","));
});
