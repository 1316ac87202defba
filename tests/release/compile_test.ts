/**
 * `deno task compile` for real, with a stand-in runtime: `deno compile` honors `DENORT_BIN`
 * and appends its payload (the module graph, the npm packages, the metadata with the baked-in
 * permissions) to whatever ELF file it names. A small system ELF (`true`) takes the place of
 * `denort`, which cannot be downloaded here, so everything but running the result is the real
 * release step: staging and stamping, the `deno compile` invocation, file names, checksums.
 * The payload is then read back out of the binary and checked.
 */
import assert from "node:assert/strict";
import { RELEASE_V8_FLAGS, RUNTIME_PERMISSIONS } from "../../scripts/build_info.ts";
import { compileRelease } from "../../scripts/compile.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const VERSION = "1.2.3-rc.1";
const COMMIT = "0123456789abcdef0123456789abcdef01234567";

/** Host triple → the `<os>_<arch>` a release names it, written out independently of the script. */
const HOST_SUFFIX: Record<string, string> = {
  "x86_64-unknown-linux-gnu": "linux_amd64",
  "aarch64-unknown-linux-gnu": "linux_arm64",
};

async function fakeRuntime(dir: string): Promise<string> {
  for (const p of ["/usr/bin/true", "/bin/true"]) {
    try {
      const path = `${dir}/denort`;
      await Deno.copyFile(p, path);
      return path;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  throw new Error("No `true` binary to stand in for denort.");
}

async function runCompile(
  args: string[],
  denortBin: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "compile", ...args],
    cwd: ROOT,
    env: { DENORT_BIN: denortBin, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function sha256Hex(data: Uint8Array<ArrayBuffer>): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", data);
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The JSON object or array starting at `start` in `text`, and where it ends. */
function jsonValueAt(text: string, start: number): { value: unknown; end: number } {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{" || c === "[") depth++;
    else if ((c === "}" || c === "]") && --depth === 0) {
      return { value: JSON.parse(text.slice(start, i + 1)), end: i + 1 };
    }
  }
  throw new Error("unterminated JSON value");
}

/** What `deno compile` writes for a permission flag, from the flag list the script passes. */
function expectedPermissions(): Record<string, unknown> {
  const out: Record<string, unknown> = { prompt: true };
  for (const flag of RUNTIME_PERMISSIONS) {
    if (flag === "--no-prompt") {
      out.prompt = false;
      continue;
    }
    const m = /^--(allow|deny)-(\w+)(?:=(.*))?$/.exec(flag);
    assert.ok(m, `unexpected flag ${flag}`);
    out[`${m[1]}_${m[2]}`] = m[3] === undefined ? [] : m[3].split(",");
  }
  return out;
}

/** Paths of every file in the binary's embedded file system (listed right after the metadata). */
function embeddedFiles(text: string, metadataEnd: number): string[] {
  const at = text.indexOf('[{"', metadataEnd);
  assert.ok(at > 0, "embedded file system listing present");
  type Entry = { Dir?: { n: string; e: Entry[] }; File?: { n: string } };
  const out: string[] = [];
  const walk = (entries: Entry[], prefix: string) => {
    for (const e of entries) {
      if (e.Dir) walk(e.Dir.e, `${prefix}${e.Dir.n}/`);
      else if (e.File) out.push(`${prefix}${e.File.n}`);
    }
  };
  walk(jsonValueAt(text, at).value as Entry[], "");
  return out;
}

/** npm package names that main.ts and src/ import through deno.json's import map. */
async function importedNpmPackages(): Promise<Set<string>> {
  const { imports } = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`)) as {
    imports: Record<string, string>;
  };
  const sources = [await Deno.readTextFile(`${ROOT}/main.ts`)];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      if (e.isDirectory) await walk(`${dir}/${e.name}`);
      else if (e.name.endsWith(".ts")) sources.push(await Deno.readTextFile(`${dir}/${e.name}`));
    }
  };
  await walk(`${ROOT}/src`);
  const used = new Set<string>();
  for (const src of sources) {
    for (const m of src.matchAll(/(?:from\s*|import\s*\(\s*|import\s+)"([^".][^"]*)"/g)) {
      const target = imports[m[1]!];
      const npm = target && /^npm:(@?[^@]+)@/.exec(target);
      if (npm) used.add(npm[1]!);
    }
  }
  return used;
}

const linuxHost = HOST_SUFFIX[Deno.build.target] !== undefined;

Deno.test({
  name: "compile with a stand-in DENORT_BIN: host binary, checksums, stamped version, permissions",
  ignore: !linuxHost,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "aia-compile-test-" });
    try {
      const outDir = `${dir}/dist`;
      await Deno.mkdir(outDir);
      // A binary of an earlier build must not survive into this release's directory.
      await Deno.writeTextFile(`${outDir}/aws-iam-authenticator_0.0.1_linux_amd64`, "stale");
      await Deno.writeTextFile(`${outDir}/unrelated.txt`, "kept");
      const runtime = await fakeRuntime(dir);
      const versionBefore = await Deno.readTextFile(`${ROOT}/src/version.ts`);

      const res = await runCompile(
        ["--version", `v${VERSION}`, "--commit", COMMIT, "--out-dir", outDir, "--no-check"],
        runtime,
      );
      assert.equal(res.code, 0, res.stderr);

      const name = `aws-iam-authenticator_${VERSION}_${HOST_SUFFIX[Deno.build.target]}`;
      const files = [];
      for await (const e of Deno.readDir(outDir)) files.push(e.name);
      assert.deepEqual(files.sort(), ["SHA256SUMS", name, "unrelated.txt"].sort());

      const bin = await Deno.readFile(`${outDir}/${name}`);
      const sums = await Deno.readTextFile(`${outDir}/SHA256SUMS`);
      assert.equal(sums, `${await sha256Hex(bin)}  ${name}\n`);
      assert.equal(res.stdout, sums);
      const check = await new Deno.Command("sha256sum", {
        args: ["--check", "--strict", "SHA256SUMS"],
        cwd: outDir,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(new TextDecoder().decode(check.stdout), `${name}: OK\n`);
      assert.ok((await Deno.stat(`${outDir}/${name}`)).mode! & 0o100, "binary is executable");

      // The runtime is the base of the binary; the payload follows it.
      const runtimeBytes = await Deno.readFile(runtime);
      assert.deepEqual(bin.subarray(0, 4), new Uint8Array([0x7f, 0x45, 0x4c, 0x46]));
      assert.ok(bin.length > runtimeBytes.length + 100_000, "payload embedded");
      const text = new TextDecoder("latin1").decode(bin);
      assert.ok(text.includes("d3n0l4nd"), "deno compile payload marker");

      const metaAt = text.indexOf('{"argv":');
      assert.ok(metaAt > 0, "metadata present");
      const { value, end: metaEnd } = jsonValueAt(text, metaAt);
      const meta = value as {
        permissions: Record<string, unknown>;
        entrypoint_key: string;
        v8_flags: string[];
      };
      assert.equal(meta.entrypoint_key, "main.ts");
      // The server's V8 flags travel with the binary (deploy/ runs it without flags); Deno puts
      // its own V8 defaults in front of them.
      const release = RELEASE_V8_FLAGS.split(",");
      assert.deepEqual(meta.v8_flags.slice(-release.length), release);
      for (const [k, v] of Object.entries(expectedPermissions())) {
        assert.deepEqual(meta.permissions[k], v, `permission ${k}`);
      }
      // Nothing granted beyond the list: no FFI, no run-time imports of remote code.
      assert.equal(meta.permissions.allow_ffi, null);
      assert.deepEqual(meta.permissions.deny_import, []);

      // The stamped constants are what the embedded version module says; the tree is untouched.
      assert.ok(text.includes(`export const VERSION = "${VERSION}";`), "version stamped");
      assert.ok(text.includes(`export const COMMIT = "${COMMIT}";`), "commit stamped");
      assert.equal(await Deno.readTextFile(`${ROOT}/src/version.ts`), versionBefore);

      // The embedded file system: every command module main.ts loads lazily is there (no
      // --include needed), and so is every npm package the sources import, but not the
      // test-only ones, nor the package files the script excludes.
      const vfs = embeddedFiles(text, metaEnd);
      const local = vfs.filter((p) => !p.startsWith(".deno_compile_node_modules/"));
      const commands = [];
      for await (const e of Deno.readDir(`${ROOT}/src/cli`)) commands.push(`src/cli/${e.name}`);
      for (const f of ["main.ts", "src/version.ts", ...commands]) {
        assert.ok(local.includes(f), `${f} embedded`);
      }
      const packages = new Set(
        vfs.filter((p) => p.startsWith(".deno_compile_node_modules/")).map((p) => {
          const parts = p.split("/");
          return parts[2]!.startsWith("@") ? `${parts[2]}/${parts[3]}` : parts[2]!;
        }),
      );
      const imported = await importedNpmPackages();
      assert.ok(imported.size >= 5, `found the sources' npm imports: ${[...imported]}`);
      for (const pkg of imported) assert.ok(packages.has(pkg), `${pkg} embedded`);
      assert.ok(!packages.has("fast-check"), "test-only fast-check left out");
      assert.ok(
        !vfs.some((p) => /\/bintrees\/[^/]+\/test\//.test(p)),
        "bintrees test data left out",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "compile with a DENORT_BIN that is no runtime fails and writes no SHA256SUMS",
  ignore: !linuxHost,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "aia-compile-test-" });
    try {
      const bogus = `${dir}/denort`;
      await Deno.writeTextFile(bogus, "#!/bin/sh\necho not a runtime\n");
      const res = await runCompile(
        ["--version", VERSION, "--out-dir", `${dir}/dist`, "--no-check"],
        bogus,
      );
      assert.equal(res.code, 1);
      assert.match(res.stderr, /^compile: `.*deno compile .*` failed \(exit \d+\):/);
      assert.match(res.stderr, /Writing deno compile executable/);
      assert.deepEqual(
        await Array.fromAsync(Deno.readDir(`${dir}/dist`), (e) => e.name),
        [],
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("compile refuses another platform's target when DENORT_BIN names a host runtime", async () => {
  const dir = await Deno.makeTempDir({ prefix: "aia-compile-test-" });
  try {
    const res = await runCompile(
      ["--target", "x86_64-pc-windows-msvc", "--out-dir", `${dir}/dist`],
      `${dir}/denort`,
    );
    assert.equal(res.code, 1);
    assert.match(
      res.stderr,
      /DENORT_BIN is a runtime for this host .* cannot build x86_64-pc-windows-msvc/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("all five targets: one `deno compile` each, names, and SHA256SUMS for every binary", async () => {
  // The runtimes of other platforms cannot be fetched here, so this one case stands in for
  // `deno compile` with a recorder that writes a distinct file per call; the host case above
  // runs the real thing.
  const dir = await Deno.makeTempDir({ prefix: "aia-compile-test-" });
  const calls: { args: string[]; env: Record<string, string> }[] = [];
  try {
    const artifacts = await compileRelease({
      root: ROOT,
      outDir: `${dir}/dist`,
      info: { version: "2.0.0", commit: COMMIT },
      // An inherited DENORT_BIN must not reach the children (tests run in one process, so the
      // parent environment is passed in rather than set on Deno.env).
      env: { ...Deno.env.toObject(), DENORT_BIN: "/must/not/leak" },
      runner: async (args, opts) => {
        calls.push({ args, env: opts.env });
        if (args[0] !== "compile") return;
        const out = args[args.indexOf("--output") + 1]!;
        await Deno.writeTextFile(out, `binary for ${args[args.indexOf("--target") + 1]}`);
      },
    });
    // One type-check without the release V8 flags, then every compile skips checking.
    assert.equal(calls[0]?.args[0], "check");
    assert.ok(!calls[0]!.args.some((a) => a.startsWith("--v8-flags")));
    assert.equal(calls[0]!.env.DENORT_BIN, undefined);
    calls.shift();
    assert.deepEqual(calls.map((c) => c.args[c.args.indexOf("--target") + 1]), [
      "x86_64-unknown-linux-gnu",
      "aarch64-unknown-linux-gnu",
      "x86_64-apple-darwin",
      "aarch64-apple-darwin",
      "x86_64-pc-windows-msvc",
    ]);
    for (const c of calls) {
      assert.equal(c.env.DENORT_BIN, undefined, "a runtime is downloaded per target");
      assert.ok(c.args.includes("--no-check"));
      assert.ok(c.args.includes("--allow-sys=homedir,osRelease,uid"));
      assert.match(c.args.at(-1)!, /aia-release-[^/]+\/main\.ts$/);
    }
    const names = [
      "aws-iam-authenticator_2.0.0_darwin_amd64",
      "aws-iam-authenticator_2.0.0_darwin_arm64",
      "aws-iam-authenticator_2.0.0_linux_amd64",
      "aws-iam-authenticator_2.0.0_linux_arm64",
      "aws-iam-authenticator_2.0.0_windows_amd64.exe",
    ];
    assert.deepEqual(artifacts.map((a) => a.name).sort(), names);
    const lines = [];
    for (const name of names) {
      lines.push(`${await sha256Hex(await Deno.readFile(`${dir}/dist/${name}`))}  ${name}\n`);
    }
    assert.equal(await Deno.readTextFile(`${dir}/dist/SHA256SUMS`), lines.join(""));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
