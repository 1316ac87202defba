import assert from "node:assert/strict";
import { join } from "node:path";
import {
  cacheBinDir,
  findGo,
  GO_FALLBACKS,
  h2LoadVersion,
  MIN_GO_MINOR,
  pinnedVersions,
  setup,
  type SetupDeps,
  staleBinaries,
  SUITE_TOOLS,
} from "../../scripts/test_setup.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const BUILD_SH = await Deno.readTextFile(join(ROOT, "scripts/kube/build.sh"));
const VERSIONS = pinnedVersions(BUILD_SH, () => undefined);

/** A set-up run with a given environment; records what it printed and whether it built. */
function harness(env: Record<string, string>, build: (go: string) => Promise<number>) {
  const rec = { out: "", err: "", builds: [] as string[] };
  const deps: SetupDeps = {
    env: (name) => env[name],
    goFallbacks: [],
    out: (t) => void (rec.out += t),
    err: (t) => void (rec.err += t),
    now: () => performance.now(),
    build: (go) => {
      rec.builds.push(go);
      return build(go);
    },
    buildScript: () => Promise.resolve(BUILD_SH),
  };
  return { deps, rec };
}

/** Writes executables (empty, or with a script body) and version stamps into `dir`. */
async function writeBinaries(dir: string, stamps: Record<string, string>): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  for (const [name, version] of Object.entries(stamps)) {
    await Deno.writeTextFile(join(dir, name), "#!/bin/sh\n", { mode: 0o755 });
    await Deno.writeTextFile(join(dir, `${name}.version`), version + "\n");
  }
}

/** A directory of symlinks to the real programs named, to build a PATH from. */
async function pathWith(dir: string, names: string[]): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  for (const name of names) {
    const out = await new Deno.Command("sh", {
      args: ["-c", `command -v ${name}`],
      stdout: "piped",
    }).output();
    let real = new TextDecoder().decode(out.stdout).trim();
    assert.ok(out.success && real !== "", `${name} is needed on PATH for this test`);
    if (name === "python3") {
      // pyenv's shim needs pyenv on PATH; link the interpreter itself.
      const py = await new Deno.Command(real, {
        args: ["-c", "import sys; print(sys.executable)"],
        stdout: "piped",
      }).output();
      real = new TextDecoder().decode(py.stdout).trim();
    }
    await Deno.symlink(real, join(dir, name));
  }
  return dir;
}

async function inTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "aia-setup-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const neverBuild = () => Promise.reject(new Error("must not build"));

Deno.test("pinnedVersions reads build.sh's defaults; the environment overrides them", () => {
  assert.match(VERSIONS["kube-apiserver"]!, /^v1\.\d+\.\d+$/);
  assert.match(VERSIONS["etcd"]!, /^v3\.\d+\.\d+$/);
  assert.match(VERSIONS["actionlint"]!, /^v1\.\d+\.\d+$/);
  const env: Record<string, string> = { KUBE_VERSION: "v1.33.0" };
  assert.equal(pinnedVersions(BUILD_SH, (n) => env[n])["kube-apiserver"], "v1.33.0");
  assert.throws(
    () => pinnedVersions(BUILD_SH.replace(/^ETCD_VERSION=.*$/m, ""), () => undefined),
    /no longer sets ETCD_VERSION=.*update the two together/,
  );
});

Deno.test("nothing installed: every missing program is named with what to install; nothing is built", async () => {
  await inTemp(async (dir) => {
    const { deps, rec } = harness(
      { PATH: await pathWith(join(dir, "bin"), []), AIA_E2E_CACHE: join(dir, "cache") },
      neverBuild,
    );
    assert.equal(await setup("test", deps), 1);
    assert.equal(rec.out, "");
    assert.deepEqual(rec.builds, []);
    assert.match(rec.err, /^test setup: the test suite cannot run: install what is missing/);
    for (const tool of SUITE_TOOLS.test) assert.match(rec.err, new RegExp(`  - ${tool} \\(`));
    assert.match(
      rec.err,
      /^ {2}- moto_server \(the EC2 API peer\): python3 -m pip install 'moto\[server\]'/m,
    );
    assert.match(
      rec.err,
      /^ {2}- go \(not on PATH\): install Go 1\.23 or later: https:\/\/go\.dev/m,
    );
    assert.ok(
      rec.err.includes(
        `to build etcd, kube-apiserver, actionlint and h2_load into ${dir}/cache/bin`,
      ),
    );
    // Exactly one line per problem: six programs and Go.
    assert.equal(rec.err.split("\n").filter((l) => l.startsWith("  - ")).length, 7);
  });
});

Deno.test("the e2e suite asks only for what it runs", async () => {
  await inTemp(async (dir) => {
    const { deps, rec } = harness({
      PATH: await pathWith(join(dir, "bin"), ["openssl", "kubectl"]),
      AIA_E2E_CACHE: join(dir, "cache"),
      GO: "/nonexistent/go",
    }, neverBuild);
    assert.equal(await setup("e2e", deps), 1);
    assert.match(rec.err, /^test setup: the end-to-end suite cannot run/);
    const problems = rec.err.split("\n").filter((l) => l.startsWith("  - "));
    assert.deepEqual(problems.map((l) => l.split(" ")[3]), ["aws", "GO=/nonexistent/go"]);
    assert.match(rec.err, /GO=\/nonexistent\/go is not an executable file; install Go/);
  });
});

Deno.test("a Go older than 1.23 is refused before the build, with the version it reported", async () => {
  await inTemp(async (dir) => {
    const bin = await pathWith(join(dir, "bin"), SUITE_TOOLS.test as string[]);
    await Deno.writeTextFile(
      join(bin, "go"),
      '#!/bin/sh\n[ "$1 $2" = "env GOVERSION" ] && echo go1.21.13\n',
      { mode: 0o755 },
    );
    const { deps, rec } = harness({ PATH: bin, AIA_E2E_CACHE: join(dir, "cache") }, neverBuild);
    assert.equal(await setup("test", deps), 1);
    const problems = rec.err.split("\n").filter((l) => l.startsWith("  - "));
    assert.equal(problems.length, 1, rec.err);
    assert.match(problems[0]!, /\/go reports "go1\.21\.13", too old to build kube-apiserver/);
    assert.deepEqual(rec.builds, []);
  });
});

Deno.test("Go is found like build.sh finds it: GO, then PATH, then the fallbacks; its version is checked", async () => {
  await inTemp(async (dir) => {
    const fake = (v: string) => `#!/bin/sh\n[ "$1 $2" = "env GOVERSION" ] && echo ${v}\n`;
    await Deno.mkdir(join(dir, "a"));
    await Deno.writeTextFile(join(dir, "a/go"), fake("go1.23.0"), { mode: 0o755 });
    await Deno.writeTextFile(join(dir, "fallback"), fake("go1.30.1"), { mode: 0o755 });
    const env = (e: Record<string, string>) => (n: string) => e[n];
    assert.deepEqual(await findGo({ env: env({ PATH: join(dir, "a") }), goFallbacks: [] }), {
      path: join(dir, "a/go"),
    });
    assert.deepEqual(
      await findGo({ env: env({ PATH: "/nonexistent" }), goFallbacks: [join(dir, "fallback")] }),
      { path: join(dir, "fallback") },
    );
    assert.deepEqual(
      await findGo({
        env: env({ PATH: join(dir, "a"), GO: join(dir, "fallback") }),
        goFallbacks: [],
      }),
      { path: join(dir, "fallback") },
    );
    const none = await findGo({
      env: env({ PATH: "/nonexistent" }),
      goFallbacks: [join(dir, "missing")],
    });
    assert.deepEqual(none, {
      problem: `go (not on PATH, ${join(dir, "missing")}): install Go 1.23 or later: ` +
        "https://go.dev/doc/install (the tarball into /usr/local/go), or set GO=/path/to/go",
    });
    // build.sh's own fallback, which the real run uses.
    assert.deepEqual(GO_FALLBACKS, ["/usr/local/go/bin/go"]);
    assert.match(BUILD_SH, /GO=\/usr\/local\/go\/bin\/go/);
  });
});

Deno.test("everything in the cache: one line, no build, no Go needed", async () => {
  await inTemp(async (dir) => {
    const cache = join(dir, "cache");
    await writeBinaries(join(cache, "bin"), VERSIONS);
    const { deps, rec } = harness(
      {
        PATH: await pathWith(join(dir, "bin"), SUITE_TOOLS.test as string[]),
        AIA_E2E_CACHE: cache,
        GO: "/nonexistent/go",
      },
      neverBuild,
    );
    assert.equal(await setup("test", deps), 0, rec.err);
    assert.equal(rec.err, "");
    assert.match(
      rec.out,
      new RegExp(
        `^test setup: prerequisites found; etcd v[\\d.]+, kube-apiserver v[\\d.]+, ` +
          `actionlint v[\\d.]+ and h2_load sha256-[0-9a-f]{16} cached in ${cache}/bin ` +
          `\\(\\d+ ms\\)\\n$`,
      ),
    );
  });
});

Deno.test("a binary stamped with another version is rebuilt through build.sh; a failed build fails the run", async () => {
  await inTemp(async (dir) => {
    const cache = join(dir, "cache");
    await writeBinaries(join(cache, "bin"), { ...VERSIONS, "kube-apiserver": "v1.31.0" });
    await Deno.writeTextFile(
      join(dir, "go"),
      `#!/bin/sh\n[ "$1 $2" = "env GOVERSION" ] && echo go1.${MIN_GO_MINOR}.4\n`,
      { mode: 0o755 },
    );
    const env = {
      PATH: await pathWith(join(dir, "bin"), SUITE_TOOLS.test as string[]),
      AIA_E2E_CACHE: cache,
      GO: join(dir, "go"),
    };
    const ok = harness(env, async () => {
      await writeBinaries(join(cache, "bin"), { "kube-apiserver": VERSIONS["kube-apiserver"]! });
      return 0;
    });
    assert.equal(await setup("test", ok.deps), 0, ok.rec.err);
    assert.deepEqual(ok.rec.builds, [join(dir, "go")]);
    assert.ok(
      ok.rec.out.startsWith(
        `test setup: building kube-apiserver ${VERSIONS["kube-apiserver"]} from source through ` +
          `the Go module proxy (scripts/kube/build.sh) into ${cache}/bin.`,
      ),
      ok.rec.out,
    );
    assert.match(
      ok.rec.out,
      /\ntest setup: built kube-apiserver v[\d.]+ in [\d.]+ s; binaries in /,
    );

    await writeBinaries(join(cache, "bin"), { etcd: "v0.0.0" });
    const failed = harness(env, () => Promise.resolve(2));
    assert.equal(await setup("test", failed.deps), 1);
    assert.match(failed.rec.err, /build\.sh failed \(exit 2\) after [\d.]+ s; its output above/);
    // A build that exits 0 but leaves a binary unbuilt still fails.
    const silent = harness(env, () => Promise.resolve(0));
    assert.equal(await setup("test", silent.deps), 1);
    assert.match(silent.rec.err, /build\.sh left etcd unbuilt/);
  });
});

Deno.test("cacheBinDir follows AIA_E2E_CACHE, else ~/.cache (as build.sh does)", () => {
  assert.equal(cacheBinDir((n) => ({ AIA_E2E_CACHE: "/x" })[n]), "/x/bin");
  assert.equal(
    cacheBinDir((n) => ({ HOME: "/home/u" })[n]),
    "/home/u/.cache/aws-iam-authenticator-e2e/bin",
  );
});

for (const suite of ["test", "e2e"] as const) {
  Deno.test(`\`deno task ${suite}\` with a prerequisite missing exits non-zero and runs no test`, async () => {
    await inTemp(async (dir) => {
      const cache = join(dir, "cache");
      const out = await new Deno.Command(Deno.execPath(), {
        // A filter that matches nothing: should the set-up wrongly pass, the suite still does not
        // run this test again inside itself.
        args: ["task", "--quiet", suite, "--filter", "no test has this name"],
        cwd: ROOT,
        clearEnv: true,
        env: {
          PATH: await pathWith(join(dir, "bin"), ["deno", "bash", "openssl"]),
          HOME: Deno.env.get("HOME") ?? "/root",
          ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
          AIA_E2E_CACHE: cache,
          GO: "/nonexistent/go",
          NO_COLOR: "1",
        },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stdout = new TextDecoder().decode(out.stdout);
      const stderr = new TextDecoder().decode(out.stderr);
      assert.notEqual(out.code, 0, stdout + stderr);
      assert.match(stderr, new RegExp(`test setup: the .* suite cannot run`));
      assert.match(stderr, /^ {2}- kubectl \(/m);
      assert.match(stderr, /^ {2}- GO=\/nonexistent\/go is not an executable file/m);
      assert.doesNotMatch(stdout + stderr, /running \d+ test|passed|kube-build/);
      // Nothing was built either.
      await assert.rejects(Deno.stat(join(cache, "bin")), Deno.errors.NotFound);
    });
  });
}

Deno.test("build.sh h2_load builds only h2_load, stamped with the digest the set-up expects; a second run keeps it", async () => {
  await inTemp(async (dir) => {
    const run = async () => {
      const out = await new Deno.Command("bash", {
        args: [join(ROOT, "scripts/kube/build.sh"), "h2_load"],
        env: { AIA_E2E_CACHE: dir },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      assert.ok(out.success, text);
      return text;
    };
    assert.match(await run(), /h2_load: built in \d+s ->/);
    assert.deepEqual(
      (await Array.fromAsync(Deno.readDir(join(dir, "bin")))).map((e) => e.name).sort(),
      [
        "h2_load",
        "h2_load.version",
      ],
    );
    assert.equal(
      (await Deno.readTextFile(join(dir, "bin/h2_load.version"))).trim(),
      h2LoadVersion(),
    );
    assert.match(await run(), /h2_load sha256-[0-9a-f]{16} already built/);
    assert.deepEqual(await staleBinaries(join(dir, "bin"), VERSIONS), [
      "etcd",
      "kube-apiserver",
      "actionlint",
    ]);
  });
});

Deno.test("an h2_load older than its source is rebuilt alone, announced as a short build", async () => {
  await inTemp(async (dir) => {
    const cache = join(dir, "cache");
    await writeBinaries(join(cache, "bin"), { ...VERSIONS, h2_load: "sha256-0000000000000000" });
    await Deno.writeTextFile(
      join(dir, "go"),
      `#!/bin/sh\n[ "$1 $2" = "env GOVERSION" ] && echo go1.${MIN_GO_MINOR}.4\n`,
      { mode: 0o755 },
    );
    const { deps, rec } = harness({
      PATH: await pathWith(join(dir, "bin"), SUITE_TOOLS.test as string[]),
      AIA_E2E_CACHE: cache,
      GO: join(dir, "go"),
    }, async () => {
      await writeBinaries(join(cache, "bin"), { h2_load: VERSIONS.h2_load! });
      return 0;
    });
    assert.equal(await setup("test", deps), 0, rec.err);
    assert.match(
      rec.out,
      /^test setup: building h2_load sha256-[0-9a-f]{16} from scripts\/bench\/h2_load \(scripts\/kube\/build\.sh\) into .*; under a minute\.\n/,
    );
  });
});
