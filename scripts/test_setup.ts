/**
 * The set-up that `deno task test` and `deno task e2e` run before the tests, so that a fresh
 * clone needs no other command.
 *
 * It checks that the programs the suite runs are installed, and when one is missing it names
 * each with what to install and exits 1 before anything runs. Then it makes sure the binaries
 * built from source by `scripts/kube/build.sh` (etcd, kube-apiserver, actionlint, h2_load) are in the cache
 * (`$AIA_E2E_CACHE/bin`, default `~/.cache/aws-iam-authenticator-e2e/bin`) for the versions that
 * script pins; when one is not, it runs that script, whose progress (each step, the time since
 * it started, where the binaries go) goes straight to the terminal. Go (>= 1.23) is only needed
 * for that build. With everything in place it costs one `python3` start and a few file reads.
 *
 * Usage: `deno run --allow-all scripts/test_setup.ts test|e2e` (see `deno.json`).
 *
 * @module
 */

import { createHash } from "node:crypto";
import { join, resolve } from "node:path";
import { writeText } from "./build_info.ts";

/** Which suite is about to run: they need different programs. */
export type Suite = "test" | "e2e";

/** A program a suite runs, and how to get it. */
interface Tool {
  /** Executable name looked up on PATH. */
  name: string;
  /** What the tests use it for. */
  why: string;
  /** What to install (Debian/Ubuntu commands; the project's CI installs the same). */
  install: string;
}

const PIP = "python3 -m pip install";

const TOOLS: Record<string, Tool> = {
  openssl: {
    name: "openssl",
    why: "writes the test certificates",
    install: "apt-get install openssl",
  },
  curl: {
    name: "curl",
    why: "the HTTPS (HTTP/2) client of the server tests",
    install: "apt-get install curl",
  },
  kubectl: {
    name: "kubectl",
    why: "the Kubernetes client against the real kube-apiserver",
    install: "kubectl 1.32 or later, see https://kubernetes.io/docs/tasks/tools/",
  },
  aws: {
    name: "aws",
    why: "`aws eks get-token`, the reference token signer",
    install: `${PIP} awscli   (the AWS CLI v1; v2 works too)`,
  },
  python3: {
    name: "python3",
    why: "runs botocore, the independent SigV4 signer",
    install: "apt-get install python3 python3-pip",
  },
  moto_server: {
    name: "moto_server",
    why: "the EC2 API peer",
    install: `${PIP} 'moto[server]'`,
  },
};

/** The tools each suite runs (read off the tests' `Deno.Command` calls). */
export const SUITE_TOOLS: Record<Suite, readonly string[]> = {
  test: ["openssl", "curl", "kubectl", "aws", "python3", "moto_server"],
  e2e: ["openssl", "kubectl", "aws"],
};

/** Python modules the `test` suite imports (checked without importing them: it is faster). */
const PYTHON_MODULES = [{ name: "botocore", install: `${PIP} botocore` }];

/** Go version that scripts/kube/build.sh needs (both Kubernetes' and etcd's go.mod say 1.23). */
export const MIN_GO_MINOR = 23;

/** Where build.sh itself looks for Go when neither `GO` nor PATH names one. */
export const GO_FALLBACKS: readonly string[] = ["/usr/local/go/bin/go"];

/**
 * A binary build.sh makes, with the variable in build.sh that pins its version; h2_load, built
 * from this repository, has its source digest instead ({@link h2LoadVersion}).
 */
const BUILT = [
  { name: "etcd", variable: "ETCD_VERSION" },
  { name: "kube-apiserver", variable: "KUBE_VERSION" },
  { name: "actionlint", variable: "ACTIONLINT_VERSION" },
  { name: "h2_load", variable: undefined },
] as const;

const H2_LOAD_SOURCE = new URL("./bench/h2_load/", import.meta.url).pathname;

/**
 * The version stamp build.sh gives h2_load: `sha256-` and the first 16 hex digits of the SHA-256
 * of its go.mod followed by its main.go (build.sh: `cat go.mod main.go | sha256sum`).
 */
export function h2LoadVersion(): string {
  const hash = createHash("sha256");
  for (const file of ["go.mod", "main.go"]) hash.update(Deno.readFileSync(H2_LOAD_SOURCE + file));
  return `sha256-${hash.digest("hex").slice(0, 16)}`;
}

/** What the set-up reads from, and writes to; tests replace these. */
export interface SetupDeps {
  /** Environment lookup (PATH, GO, HOME, AIA_E2E_CACHE, the *_VERSION overrides). */
  env: (name: string) => string | undefined;
  /** Where to look for Go after `GO` and PATH. */
  goFallbacks: readonly string[];
  /** Progress for the person watching. */
  out: (text: string) => void;
  /** What is missing and what to install. */
  err: (text: string) => void;
  /** Milliseconds, for the elapsed times it prints. */
  now: () => number;
  /** Runs scripts/kube/build.sh with `GO` set to `goPath`; resolves to its exit code. */
  build: (goPath: string) => Promise<number>;
  /** Text of scripts/kube/build.sh (it pins the versions). */
  buildScript: () => Promise<string>;
}

/** The cache directory build.sh writes to (same rule as build.sh and tests/peers/kube_apiserver.ts). */
export function cacheBinDir(env: (name: string) => string | undefined): string {
  const cache = env("AIA_E2E_CACHE") ||
    join(env("HOME") ?? "/root", ".cache", "aws-iam-authenticator-e2e");
  return join(cache, "bin");
}

/** Versions build.sh will build: its defaults (`X="${X:-v1.2.3}"`), or the environment's. */
export function pinnedVersions(
  script: string,
  env: (name: string) => string | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { name, variable } of BUILT) {
    if (variable === undefined) {
      out[name] = h2LoadVersion();
      continue;
    }
    const m = new RegExp(`^${variable}="\\$\\{${variable}:-([^}]+)\\}"$`, "m").exec(script);
    if (!m) {
      throw new Error(
        `scripts/kube/build.sh no longer sets ${variable}="\${${variable}:-...}", which ` +
          `scripts/test_setup.ts reads to know which ${name} is current; update the two together.`,
      );
    }
    out[name] = env(variable) || m[1]!;
  }
  return out;
}

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    const st = await Deno.stat(path);
    return st.isFile && ((st.mode ?? 0o111) & 0o111) !== 0;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return false;
    throw e;
  }
}

/** The first executable `name` on `path` (a PATH string), like `command -v`. */
export async function findOnPath(name: string, path: string): Promise<string | undefined> {
  if (path === "") return undefined;
  for (const dir of path.split(":")) {
    const candidate = join(dir === "" ? "." : dir, name);
    if (await isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/** Binaries that are missing from the cache or stamped with another version. */
export async function staleBinaries(
  binDir: string,
  versions: Record<string, string>,
): Promise<string[]> {
  const stale: string[] = [];
  for (const { name } of BUILT) {
    let stamp = "";
    try {
      stamp = (await Deno.readTextFile(join(binDir, `${name}.version`))).trim();
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    if (stamp !== versions[name] || !(await isExecutableFile(join(binDir, name)))) {
      stale.push(name);
    }
  }
  return stale;
}

/** A Go toolchain, or why there is none usable. */
type GoLookup = { path: string } | { problem: string };

const GO_INSTALL = `Go 1.${MIN_GO_MINOR} or later: https://go.dev/doc/install (the tarball into ` +
  `/usr/local/go), or set GO=/path/to/go`;

/** Finds Go as build.sh does (`GO`, then PATH, then the fallbacks) and checks its version. */
export async function findGo(deps: Pick<SetupDeps, "env" | "goFallbacks">): Promise<GoLookup> {
  const explicit = deps.env("GO");
  let path: string | undefined;
  if (explicit) {
    if (!(await isExecutableFile(explicit))) {
      return { problem: `GO=${explicit} is not an executable file; install ${GO_INSTALL}` };
    }
    path = explicit;
  } else {
    path = await findOnPath("go", deps.env("PATH") ?? "");
    for (const f of deps.goFallbacks) {
      if (path === undefined && await isExecutableFile(f)) path = f;
    }
  }
  if (path === undefined) {
    const where = ["PATH", ...deps.goFallbacks].join(", ");
    return { problem: `go (not on ${where}): install ${GO_INSTALL}` };
  }
  const out = await new Deno.Command(path, {
    args: ["env", "GOVERSION"],
    env: { GOTOOLCHAIN: "local" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const version = new TextDecoder().decode(out.stdout).trim();
  const minor = /^go1\.(\d+)/.exec(version)?.[1];
  if (!out.success || minor === undefined || Number(minor) < MIN_GO_MINOR) {
    return {
      problem: `${path} reports "${version || "no version"}", too old to build kube-apiserver: ` +
        `install ${GO_INSTALL}`,
    };
  }
  return { path };
}

/** Python modules `python3` cannot find. */
async function missingPythonModules(python: string): Promise<typeof PYTHON_MODULES> {
  const names = PYTHON_MODULES.map((m) => m.name);
  const out = await new Deno.Command(python, {
    args: [
      "-c",
      "import importlib.util, sys\nprint(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))",
      ...names,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) return PYTHON_MODULES;
  const missing = new TextDecoder().decode(out.stdout).trim().split(" ");
  return PYTHON_MODULES.filter((m) => missing.includes(m.name));
}

function seconds(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60
    ? `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`
    : `${Math.floor(s / 60)} min ${s % 60} s`;
}

function listed(names: readonly string[]): string {
  return names.length <= 1
    ? names.join("")
    : `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
}

/**
 * Checks the prerequisites of `suite` and builds what is missing. Returns the exit code: 0 when
 * the tests can run, 1 when something is missing (printed with what to install) or the build
 * failed.
 */
export async function setup(suite: Suite, deps: SetupDeps): Promise<number> {
  const start = deps.now();
  const problems: string[] = [];
  const path = deps.env("PATH") ?? "";
  for (const key of SUITE_TOOLS[suite]) {
    const tool = TOOLS[key]!;
    const found = await findOnPath(tool.name, path);
    if (found === undefined) {
      problems.push(`${tool.name} (${tool.why}): ${tool.install}`);
    } else if (tool.name === "python3") {
      for (const m of await missingPythonModules(found)) {
        problems.push(`the Python module ${m.name} (signs with SigV4 independently): ${m.install}`);
      }
    }
  }

  const binDir = cacheBinDir(deps.env);
  const versions = pinnedVersions(await deps.buildScript(), deps.env);
  const stale = await staleBinaries(binDir, versions);
  let go: GoLookup | undefined;
  if (stale.length > 0) {
    go = await findGo(deps);
    if ("problem" in go) problems.push(go.problem);
  }

  if (problems.length > 0) {
    deps.err(
      `test setup: the ${suite === "test" ? "test suite" : "end-to-end suite"} cannot run: ` +
        `install what is missing, then run \`deno task ${suite}\` again.\n` +
        problems.map((p) => `  - ${p}\n`).join("") +
        (stale.length > 0
          ? `  (Go is needed once, to build ${listed(stale)} into ${binDir}.)\n`
          : ""),
    );
    return 1;
  }

  const described = (names: readonly string[]) => listed(names.map((n) => `${n} ${versions[n]}`));
  if (stale.length === 0) {
    deps.out(
      `test setup: prerequisites found; ${described(BUILT.map((b) => b.name))} cached in ` +
        `${binDir} (${Math.round(deps.now() - start)} ms)\n`,
    );
    return 0;
  }

  const fetched = stale.filter((n) => n !== "h2_load");
  deps.out(
    fetched.length > 0
      ? `test setup: building ${described(stale)} from source through the Go module proxy ` +
        `(scripts/kube/build.sh) into ${binDir}. The first build takes 5 to 8 minutes on 2 ` +
        `cores; later runs reuse it.\n`
      : `test setup: building ${described(stale)} from scripts/bench/h2_load ` +
        `(scripts/kube/build.sh) into ${binDir}; under a minute.\n`,
  );
  const code = await deps.build((go as { path: string }).path);
  const still = await staleBinaries(binDir, versions);
  if (code !== 0 || still.length > 0) {
    deps.err(
      `test setup: scripts/kube/build.sh ${
        code !== 0 ? `failed (exit ${code})` : `left ${listed(still)} unbuilt`
      } after ${seconds(deps.now() - start)}; its output above says why. ` +
        `Run \`deno task ${suite}\` again once that is fixed: finished binaries are kept.\n`,
    );
    return 1;
  }
  deps.out(
    `test setup: built ${described(stale)} in ${seconds(deps.now() - start)}; binaries in ` +
      `${binDir}\n`,
  );
  return 0;
}

/** The real environment, terminal and build script. */
export function realDeps(): SetupDeps {
  const script = resolve(import.meta.dirname ?? ".", "kube", "build.sh");
  return {
    env: (name) => Deno.env.get(name),
    goFallbacks: GO_FALLBACKS,
    out: (text) => writeText(Deno.stdout, text),
    err: (text) => writeText(Deno.stderr, text),
    now: () => performance.now(),
    build: async (goPath) => {
      const child = new Deno.Command("bash", {
        args: [script],
        env: { GO: goPath },
        stdin: "null",
        stdout: "inherit",
        stderr: "inherit",
      }).spawn();
      return (await child.status).code;
    },
    buildScript: () => Deno.readTextFile(script),
  };
}

if (import.meta.main) {
  const suite = Deno.args[0];
  if (suite !== "test" && suite !== "e2e") {
    writeText(Deno.stderr, "usage: deno run --allow-all scripts/test_setup.ts test|e2e\n");
    Deno.exit(2);
  }
  Deno.exit(await setup(suite, realDeps()));
}
