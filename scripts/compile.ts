/**
 * `deno task compile`: one self-contained binary per release platform, in `dist/`, named
 * `aws-iam-authenticator_<version>_<os>_<arch>[.exe]`, plus `SHA256SUMS` in `sha256sum` format.
 *
 * ```sh
 * deno task compile                                   # all targets; version from tag or deno.json
 * deno task compile --version 0.1.0 --commit "$(git rev-parse HEAD)"
 * deno task compile --target x86_64-unknown-linux-gnu --out-dir /tmp/out
 * DENORT_BIN=/path/to/denort deno task compile        # host target only, with a local runtime
 * ```
 *
 * `deno compile` normally downloads the `denort` runtime of each target. When `DENORT_BIN` is
 * set, `deno compile` uses that file as the runtime for whatever target it is asked for, so a
 * binary for another platform would be built on the wrong runtime: the script then builds the
 * host target only and refuses any other.
 *
 * The version and commit are stamped into a temporary copy of the sources (see
 * `build_info.ts`), and the binary gets the permission set of `RUNTIME_PERMISSIONS`. The CLI
 * reads no file of its own at run time (every module is reached by a static or literal dynamic
 * import, which `tests/release/compile_safety_test.ts` enforces), so nothing needs `--include`.
 *
 * The binary is compiled from the module sources, not from the single-file bundle: a bundle
 * inlines every lazily imported module, so `token` (run by kubectl on every call) would parse
 * the AWS SDK and the Kubernetes client each time instead of loading only what it uses.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  artifactName,
  type BuildInfo,
  RELEASE_TARGETS,
  RELEASE_V8_FLAGS,
  type ReleaseTarget,
  releaseTarget,
  repoRoot,
  resolveBuildInfo,
  runChecked,
  runScript,
  RUNTIME_PERMISSIONS,
  sha256File,
  stageSources,
  writeText,
} from "./build_info.ts";

/** Name of the checksum file written next to the binaries. */
export const CHECKSUMS_FILE = "SHA256SUMS";

/** What to build. */
export interface CompileOptions {
  /** Repository root holding `main.ts`, `src/`, `deno.json`. */
  root: string;
  /** Directory the binaries and `SHA256SUMS` go to (created when missing). */
  outDir: string;
  /** Stamped version and commit. */
  info: BuildInfo;
  /** Targets to build; default: every release target, or the host alone with `DENORT_BIN`. */
  targets?: readonly ReleaseTarget[];
  /** Local runtime for `deno compile` (the value of `DENORT_BIN`), if any. */
  denortBin?: string;
  /** Skip type-checking (when `deno task check` has just checked the same sources). */
  noCheck?: boolean;
  /** The `deno` executable; default: the one running this script. */
  deno?: string;
  /** Runs one `deno check` or `deno compile`; default spawns `deno` and fails on non-zero. */
  runner?: CompileRunner;
  /** The environment the children inherit (minus `DENORT_BIN`); default: this process's. */
  env?: Record<string, string>;
}

/** Runs `deno` with `args` in `cwd` with exactly the environment `env`. */
export type CompileRunner = (
  args: string[],
  opts: { cwd: string; env: Record<string, string> },
) => Promise<void>;

/** One built binary. */
export interface Artifact {
  /** Target it was built for. */
  target: ReleaseTarget;
  /** File name inside `outDir`. */
  name: string;
  /** Lower-case hex SHA-256 of the file. */
  sha256: string;
}

/** The host as a release target, or an error naming why no binary can be built here. */
export function hostTarget(triple: string = Deno.build.target): ReleaseTarget {
  try {
    return releaseTarget(triple);
  } catch {
    throw new Error(
      `DENORT_BIN builds for the host only, and this host (${triple}) is not a release target.`,
    );
  }
}

/**
 * Files inside npm packages that `deno compile` must not embed, relative to a package version
 * directory. bintrees (a prom-client dependency) ships test data files of bare numbers one per
 * line; `deno compile` parses every file of a package and overflows its stack on them
 * ("thread 'tokio-runtime-worker' has overflowed its stack"). They are never loaded.
 */
export const NPM_EXCLUDES: readonly { pkg: string; path: string }[] = [
  { pkg: "bintrees", path: "test" },
];

/** Absolute paths of {@linkcode NPM_EXCLUDES} in Deno's npm cache that exist on this machine. */
export async function npmExcludePaths(npmCache: string): Promise<string[]> {
  const out: string[] = [];
  const dirs = async (p: string) => {
    const names: string[] = [];
    try {
      for await (const e of Deno.readDir(p)) if (e.isDirectory) names.push(e.name);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    return names.sort();
  };
  // Layout: <npmCache>/<registry host>/<package>/<version>/...
  for (const registry of await dirs(npmCache)) {
    for (const { pkg, path } of NPM_EXCLUDES) {
      for (const version of await dirs(`${npmCache}/${registry}/${pkg}`)) {
        const p = `${npmCache}/${registry}/${pkg}/${version}/${path}`;
        if (await Deno.stat(p).then(() => true, () => false)) out.push(p);
      }
    }
  }
  return out;
}

/** Where `deno` keeps npm packages (`deno info --json`'s `npmCache`). */
async function npmCacheDir(deno: string, cwd: string): Promise<string> {
  const out = await new Deno.Command(deno, { args: ["info", "--json"], cwd, stderr: "inherit" })
    .output();
  if (!out.success) throw new Error("`deno info --json` failed; is the Deno installation usable?");
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as { npmCache?: unknown };
  if (typeof info.npmCache !== "string") {
    throw new Error("`deno info --json` did not report npmCache; this Deno is not supported.");
  }
  return info.npmCache;
}

/** Arguments of `deno compile` for one target. */
export function compileArgs(opts: {
  entry: string;
  output: string;
  target: ReleaseTarget;
  excludes?: readonly string[];
  noCheck?: boolean;
}): string[] {
  return [
    "compile",
    "--target",
    opts.target.triple,
    "--output",
    opts.output,
    ...RUNTIME_PERMISSIONS,
    `--v8-flags=${RELEASE_V8_FLAGS}`,
    // Embed the npm packages the CLI reaches, not the whole lockfile (fast-check and friends).
    "--exclude-unused-npm",
    ...(opts.excludes ?? []).flatMap((p) => ["--exclude", p]),
    ...(opts.noCheck ? ["--no-check"] : []),
    opts.entry,
  ];
}

/** `sha256sum`-compatible text: `<hex>  <name>` per line, sorted by name. */
export function checksumsText(artifacts: readonly Artifact[]): string {
  return [...artifacts]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((a) => `${a.sha256}  ${a.name}\n`)
    .join("");
}

/** Removes binaries and checksums of earlier builds so a release never ships a stale file. */
async function cleanOutDir(outDir: string): Promise<void> {
  await Deno.mkdir(outDir, { recursive: true });
  for await (const e of Deno.readDir(outDir)) {
    if (e.isFile && (e.name === CHECKSUMS_FILE || /^aws-iam-authenticator_.+_.+_/.test(e.name))) {
      await Deno.remove(`${outDir}/${e.name}`);
    }
  }
}

/**
 * Builds the binaries and writes `SHA256SUMS`. Any failed target fails the whole build, and
 * `SHA256SUMS` is written only after every binary exists.
 */
export async function compileRelease(opts: CompileOptions): Promise<Artifact[]> {
  let targets = opts.targets ?? RELEASE_TARGETS;
  if (opts.denortBin !== undefined) {
    const host = hostTarget();
    const foreign = (opts.targets ?? []).filter((t) => t.triple !== host.triple);
    if (foreign.length > 0) {
      throw new Error(
        `DENORT_BIN is a runtime for this host (${host.triple}) and cannot build ${
          foreign.map((t) => t.triple).join(", ")
        }; unset DENORT_BIN to download each target's runtime.`,
      );
    }
    targets = [host];
  }
  await cleanOutDir(opts.outDir);
  const outDir = await Deno.realPath(opts.outDir);
  const staged = await stageSources(opts.root, opts.info);
  const artifacts: Artifact[] = [];
  const deno = opts.deno ?? Deno.execPath();
  const runner: CompileRunner = opts.runner ??
    ((args, o) => runChecked(deno, args, { ...o, clearEnv: true }));
  try {
    const excludes = await npmExcludePaths(await npmCacheDir(deno, staged.dir));
    // The child gets DENORT_BIN exactly when the caller chose one, never by inheritance.
    const env = { ...(opts.env ?? Deno.env.toObject()) };
    delete env.DENORT_BIN;
    env.NO_COLOR = "1";
    // Type-check once, apart from compiling: `deno compile --v8-flags` also applies the
    // release heap limits to the compiler's own type-check, which does not fit in them.
    if (!opts.noCheck) await runner(["check", staged.entry], { cwd: staged.dir, env });
    if (opts.denortBin !== undefined) env.DENORT_BIN = opts.denortBin;
    for (const target of targets) {
      const name = artifactName(opts.info.version, target);
      const output = `${outDir}/${name}`;
      await runner(
        compileArgs({ entry: staged.entry, output, target, excludes, noCheck: true }),
        { cwd: staged.dir, env },
      );
      artifacts.push({ target, name, sha256: await sha256File(output) });
    }
  } finally {
    await staged.cleanup();
  }
  await Deno.writeTextFile(`${outDir}/${CHECKSUMS_FILE}`, checksumsText(artifacts));
  return artifacts;
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      version: { type: "string" },
      commit: { type: "string" },
      target: { type: "string", multiple: true },
      "out-dir": { type: "string" },
      "no-check": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    writeText(
      Deno.stdout,
      "Usage: deno task compile [--version V] [--commit SHA] [--target TRIPLE]... [--out-dir DIR] [--no-check]\n" +
        `Targets: ${RELEASE_TARGETS.map((t) => t.triple).join(", ")}\n`,
    );
    return 0;
  }
  const root = repoRoot();
  const info = await resolveBuildInfo({ root, version: values.version, commit: values.commit });
  const denortBin = Deno.env.get("DENORT_BIN") || undefined;
  const outDir = values["out-dir"] ?? `${root}/dist`;
  const artifacts = await compileRelease({
    root,
    outDir,
    info,
    targets: values.target?.map(releaseTarget),
    denortBin,
    noCheck: values["no-check"],
  });
  writeText(
    Deno.stderr,
    `Compiled ${info.version} (${info.commit || "no commit"})${
      denortBin ? ` with DENORT_BIN=${denortBin}` : ""
    } into ${outDir}:\n`,
  );
  writeText(Deno.stdout, checksumsText(artifacts));
  return 0;
}

if (import.meta.main) await runScript("compile", main);
