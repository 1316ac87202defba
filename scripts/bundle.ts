/**
 * `deno task bundle`: the whole CLI, npm packages included, as one JavaScript file
 * (`dist/aws-iam-authenticator.js` by default) that runs from any directory with nothing but
 * Deno:
 *
 * ```sh
 * deno task bundle [--version V] [--commit SHA] [--output FILE]
 * cd /anywhere && deno run -A /path/to/aws-iam-authenticator.js token -i my-cluster
 * ```
 *
 * It is the same stamped source tree `deno task compile` embeds, bundled by `deno bundle`
 * (esbuild) for the Deno platform with every npm package inlined. This is what the release
 * smoke test runs where `deno compile` cannot fetch its runtime. The file starts with a
 * shebang carrying the release permission set, so on Unix it is also directly executable.
 *
 * @module
 */

import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  type BuildInfo,
  BUNDLE_NAME,
  repoRoot,
  resolveBuildInfo,
  runChecked,
  runScript,
  RUNTIME_PERMISSIONS,
  stageSources,
  writeText,
} from "./build_info.ts";

/** First line of the bundle: `deno run` with the release permissions. */
export const SHEBANG = `#!/usr/bin/env -S deno run ${RUNTIME_PERMISSIONS.join(" ")}`;

/** Bundles the CLI of `root`, stamped with `info`, into `output`. */
export async function bundleCli(opts: {
  root: string;
  output: string;
  info: BuildInfo;
  /** The `deno` executable; default: the one running this script. */
  deno?: string;
}): Promise<void> {
  const output = resolve(opts.output);
  await Deno.mkdir(dirname(output), { recursive: true });
  const staged = await stageSources(opts.root, opts.info);
  try {
    await runChecked(
      opts.deno ?? Deno.execPath(),
      [
        "bundle",
        "--quiet",
        "--platform",
        "deno",
        "--packages",
        "bundle",
        "--output",
        output,
        staged.entry,
      ],
      { cwd: staged.dir, env: { NO_COLOR: "1" } },
    );
  } finally {
    await staged.cleanup();
  }
  const code = await Deno.readTextFile(output);
  // esbuild keeps an entry's own shebang; ours replaces it rather than stacking a second one.
  const body = code.startsWith("#!") ? code.slice(code.indexOf("\n") + 1) : code;
  await Deno.writeTextFile(output, `${SHEBANG}\n${body}`);
  if (Deno.build.os !== "windows") await Deno.chmod(output, 0o755);
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      version: { type: "string" },
      commit: { type: "string" },
      output: { type: "string", short: "o" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    writeText(
      Deno.stdout,
      `Usage: deno task bundle [--version V] [--commit SHA] [--output FILE]\n` +
        `Default output: dist/${BUNDLE_NAME}\n`,
    );
    return 0;
  }
  const root = repoRoot();
  const info = await resolveBuildInfo({ root, version: values.version, commit: values.commit });
  const output = resolve(values.output ?? `${root}/dist/${BUNDLE_NAME}`);
  await bundleCli({ root, output, info });
  writeText(Deno.stderr, `Bundled ${info.version} (${info.commit || "no commit"}):\n`);
  writeText(Deno.stdout, `${output}\n`);
  return 0;
}

if (import.meta.main) await runScript("bundle", main);
