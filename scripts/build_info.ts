/**
 * What a release build needs to know and share between `scripts/compile.ts`,
 * `scripts/bundle.ts` and their tests: the targets and artifact names, the version and commit
 * to stamp, the permissions baked into the binary, and a stamped copy of the sources.
 *
 * Stamping happens in a temporary copy of the sources rather than in `src/version.ts` itself:
 * a release build must not leave the work tree modified, and tests that run in parallel with
 * it must keep seeing the checked-in file.
 *
 * @module
 */

import { resolve } from "node:path";

/** One platform a release binary is built for. */
export interface ReleaseTarget {
  /** The `deno compile --target` triple. */
  triple: string;
  /** OS word in the artifact name (Go/goreleaser spelling, as the Go tool's releases). */
  os: "linux" | "darwin" | "windows";
  /** Architecture word in the artifact name. */
  arch: "amd64" | "arm64";
}

/** Every platform a release ships, in the order the release lists them. */
export const RELEASE_TARGETS: readonly ReleaseTarget[] = [
  { triple: "x86_64-unknown-linux-gnu", os: "linux", arch: "amd64" },
  { triple: "aarch64-unknown-linux-gnu", os: "linux", arch: "arm64" },
  { triple: "x86_64-apple-darwin", os: "darwin", arch: "amd64" },
  { triple: "aarch64-apple-darwin", os: "darwin", arch: "arm64" },
  { triple: "x86_64-pc-windows-msvc", os: "windows", arch: "amd64" },
];

/** Looks up a release target by its triple; throws with the list of valid ones otherwise. */
export function releaseTarget(triple: string): ReleaseTarget {
  const t = RELEASE_TARGETS.find((r) => r.triple === triple);
  if (!t) {
    throw new Error(
      `Unknown target "${triple}"; use one of: ${RELEASE_TARGETS.map((r) => r.triple).join(", ")}.`,
    );
  }
  return t;
}

/** Binary name prefix, as the Go tool's release assets. */
export const BINARY_NAME = "aws-iam-authenticator";

/** File name of a release binary: `aws-iam-authenticator_<version>_<os>_<arch>[.exe]`. */
export function artifactName(version: string, target: ReleaseTarget): string {
  const ext = target.os === "windows" ? ".exe" : "";
  return `${BINARY_NAME}_${version}_${target.os}_${target.arch}${ext}`;
}

/** File name of the single-file bundle. */
export const BUNDLE_NAME = `${BINARY_NAME}.js`;

/**
 * Permissions baked into the compiled binary (and used to run the bundle in the smoke test,
 * so the set is exercised for real). Why each one is as wide as it is:
 * - env: the AWS credential chain and config loader read dozens of `AWS_*` variables, plus
 *   `HOME`/`USERPROFILE`, `KUBECONFIG`, `KUBERNETES_EXEC_INFO` and the tool's own variables.
 * - read/write: every path is user-chosen (shared AWS files, `AWS_WEB_IDENTITY_TOKEN_FILE`, the
 *   credential and token caches, `--config`, `--state-dir`, `--generate-kubeconfig`, kubeconfig).
 * - net: STS endpoints are configurable (`AWS_ENDPOINT_URL_STS`), as are the API server and
 *   the listen address; IMDS, SSO and ECS endpoints come on top.
 * - run: a profile's `credential_process` runs an arbitrary user-configured program.
 * - sys, only these three: `osRelease` for the AWS SDK's user agent (every SDK call: AssumeRole,
 *   SSO, DescribeInstances); `homedir` and `uid` for the SDK's shared-config loader, which falls
 *   back to `os.homedir()` (keyed by `process.geteuid()`) when `HOME` is unset, and for the
 *   `aws login` credential cache. Nothing reads the host name, CPUs, memory or interfaces.
 * No FFI, no remote imports at run time (all code is embedded), and never an interactive
 * permission prompt: kubectl runs the plugin without a terminal to answer one.
 */
export const RUNTIME_PERMISSIONS: readonly string[] = [
  "--allow-env",
  "--allow-read",
  "--allow-write",
  "--allow-net",
  "--allow-run",
  "--allow-sys=homedir,osRelease,uid",
  "--deny-import",
  "--no-prompt",
];

/**
 * V8 flags baked into the binary. Heap limits: V8's defaults let the young generation grow to
 * 96 MB and the old one toward 4 GB, so the server sat at 230–350 MB under load; with these it
 * peaks near 150 MB for uncached reviews at ~12 % more CPU per review (`deno task
 * bench:server`), and the cap still holds a full identity cache. No allocation-site
 * pretenuring: under load, a review's objects are still in flight when the next young
 * collection comes, so V8 judged them long-lived and allocated them straight into the old
 * generation, where they died 20 ms later; that doubled the full collections (6–7 instead of
 * 11–14 per 10 s of distinct tokens) and made the one after a burst take 11–24 ms
 * (docs/benchmarks.md#gc-pauses). `token` uses far less either way.
 */
export const RELEASE_V8_FLAGS =
  "--max-semi-space-size=8,--max-old-space-size=192,--no-allocation-site-pretenuring";

/** The version and commit stamped into a build. */
export interface BuildInfo {
  /** Version without a leading `v` (`0.7.18`), as the Go tool reports it. */
  version: string;
  /** Full git commit, or `""` when unknown. */
  commit: string;
}

/** Runs `git` with the given arguments and returns trimmed stdout, or `undefined` on failure. */
export type GitRunner = (args: string[]) => Promise<string | undefined>;

/** Calls the real `git` in `cwd`; any failure (no git, not a repository, no tag) is `undefined`. */
export function systemGit(cwd: string): GitRunner {
  return async (args) => {
    try {
      const out = await new Deno.Command("git", { args, cwd, stdout: "piped", stderr: "null" })
        .output();
      if (!out.success) return undefined;
      const s = new TextDecoder().decode(out.stdout).trim();
      return s === "" ? undefined : s;
    } catch {
      return undefined;
    }
  };
}

const VERSION_RE = /^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/;
const COMMIT_RE = /^[0-9A-Za-z._-]{0,64}$/;

/**
 * Decides what to stamp. Version: `opts.version`, else the release tag on HEAD (`v1.2.3` →
 * `1.2.3`), else `deno.json`'s `version`. Commit: `opts.commit`, else `git rev-parse HEAD`,
 * else empty. Values go into file names and a source literal, so odd characters are refused.
 */
export async function resolveBuildInfo(opts: {
  root: string;
  version?: string;
  commit?: string;
  git?: GitRunner;
}): Promise<BuildInfo> {
  const git = opts.git ?? systemGit(opts.root);
  let version = opts.version;
  if (version === undefined) {
    const tag = await git(["describe", "--tags", "--exact-match", "--match", "v*", "HEAD"]);
    if (tag !== undefined) version = tag;
  }
  if (version === undefined) {
    const cfg = JSON.parse(await Deno.readTextFile(`${opts.root}/deno.json`)) as {
      version?: unknown;
    };
    if (typeof cfg.version !== "string" || cfg.version === "") {
      throw new Error(
        'No version to stamp: pass --version, tag the commit vX.Y.Z, or set "version" in deno.json.',
      );
    }
    version = cfg.version;
  }
  version = version.replace(/^v(?=\d)/, "");
  if (!VERSION_RE.test(version)) {
    throw new Error(
      `Version "${version}" cannot be used in a file name; use letters, digits and . + _ - only.`,
    );
  }
  const commit = opts.commit ?? (await git(["rev-parse", "HEAD"])) ?? "";
  if (!COMMIT_RE.test(commit)) {
    throw new Error(`Commit "${commit}" is not a git revision; pass a hex commit id.`);
  }
  return { version, commit };
}

/**
 * Returns `source` (the text of `src/version.ts`) with the `VERSION` and `COMMIT` string
 * constants replaced. Throws when either declaration is not found exactly once, so a
 * refactor of that file cannot silently produce an unstamped release.
 */
export function stampVersionSource(source: string, info: BuildInfo): string {
  let out = source;
  for (const [name, value] of [["VERSION", info.version], ["COMMIT", info.commit]] as const) {
    const re = new RegExp(
      `^(export const ${name}(?:\\s*:\\s*string)?\\s*=\\s*)("(?:[^"\\\\\\n]|\\\\.)*"|'(?:[^'\\\\\\n]|\\\\.)*')`,
      "gm",
    );
    const hits = [...out.matchAll(re)].length;
    if (hits !== 1) {
      throw new Error(
        `src/version.ts must declare \`export const ${name} = "…"\` exactly once (found ${hits}); the release scripts rewrite that literal.`,
      );
    }
    out = out.replace(re, (_m, head: string) => head + JSON.stringify(value));
  }
  return out;
}

/** Entries of the work tree that make up the CLI's module graph. */
const STAGED_ENTRIES = ["main.ts", "src", "deno.json", "deno.lock"] as const;

async function copyTree(from: string, to: string): Promise<void> {
  const st = await Deno.stat(from);
  if (st.isDirectory) {
    await Deno.mkdir(to, { recursive: true });
    for await (const e of Deno.readDir(from)) {
      await copyTree(`${from}/${e.name}`, `${to}/${e.name}`);
    }
  } else {
    await Deno.copyFile(from, to);
  }
}

/**
 * Rewrites the staged `deno.json` for building. `unstable: ["lazy-dynamic-imports"]` speeds
 * up `deno run main.ts token` (Deno then skips the graphs of the other commands at startup),
 * but `deno compile` under it embeds no dynamically imported module at all, so a binary would
 * lack every command but the entry's static imports. A build needs the whole graph.
 */
async function writeStagedConfig(path: string): Promise<void> {
  const cfg = JSON.parse(await Deno.readTextFile(path)) as { unstable?: unknown };
  if (Array.isArray(cfg.unstable)) {
    cfg.unstable = cfg.unstable.filter((f) => f !== "lazy-dynamic-imports");
    await Deno.writeTextFile(path, JSON.stringify(cfg, null, 2) + "\n");
  }
}

/** A temporary, stamped copy of the sources. */
export interface StagedSources {
  /** Directory holding `main.ts`, `src/`, `deno.json`, `deno.lock`. */
  dir: string;
  /** Absolute path of the staged `main.ts`. */
  entry: string;
  /** Removes the copy. */
  cleanup(): Promise<void>;
}

/** Copies the CLI sources of `root` into a temporary directory and stamps `src/version.ts`. */
export async function stageSources(root: string, info: BuildInfo): Promise<StagedSources> {
  const dir = await Deno.makeTempDir({ prefix: "aia-release-" });
  const cleanup = () => Deno.remove(dir, { recursive: true }).catch(() => {});
  try {
    for (const name of STAGED_ENTRIES) {
      try {
        await copyTree(`${root}/${name}`, `${dir}/${name}`);
      } catch (e) {
        // deno.lock is optional for a build; everything else is the program itself.
        if (!(e instanceof Deno.errors.NotFound && name === "deno.lock")) throw e;
      }
    }
    await writeStagedConfig(`${dir}/deno.json`);
    const versionFile = `${dir}/src/version.ts`;
    await Deno.writeTextFile(
      versionFile,
      stampVersionSource(await Deno.readTextFile(versionFile), info),
    );
  } catch (e) {
    await cleanup();
    throw e;
  }
  return { dir, entry: `${dir}/main.ts`, cleanup };
}

/** Lower-case hex SHA-256 of a file's bytes. */
export async function sha256File(path: string): Promise<string> {
  const data = await Deno.readFile(path);
  const digest = await crypto.subtle.digest("SHA-256", data);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Runs a command to completion; non-zero exit throws with its stderr tail. */
export async function runChecked(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string>; clearEnv?: boolean } = {},
): Promise<void> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd: opts.cwd,
    env: opts.env,
    clearEnv: opts.clearEnv,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-15).join("\n");
    throw new Error(`\`${cmd} ${args.join(" ")}\` failed (exit ${out.code}):\n${err}`);
  }
}

/** This repository's root directory, derived from this file's location. */
export function repoRoot(): string {
  return resolve(import.meta.dirname ?? ".", "..");
}

/** Writes all of `text` to a stream (scripts report without `console`, per the lint rules). */
export function writeText(stream: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = new TextEncoder().encode(text);
  let off = 0;
  while (off < bytes.length) off += stream.writeSync(bytes.subarray(off));
}

/**
 * Runs a release script's `main` when the file is the entry point: exits with its code, or
 * prints `<name>: <message>` and exits 1 on an error.
 */
export async function runScript(
  name: string,
  main: (args: string[]) => Promise<number>,
): Promise<void> {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    writeText(Deno.stderr, `${name}: ${e instanceof Error ? e.message : String(e)}\n`);
    Deno.exit(1);
  }
}
