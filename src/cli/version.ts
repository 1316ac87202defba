/**
 * `version`: the build information, in the Go tool's formats (one-line JSON by default,
 * YAML with `-o yaml`, the bare version with `-s`).
 *
 * @module
 */

import { type CommandDef, runCommand } from "./cli_flags.ts";
import { COMMIT, VERSION } from "../version.ts";

const def: CommandDef = {
  name: "version",
  short: "Version will output the current build information",
  flags: [
    { name: "short", short: "s", type: "bool", usage: "Print just the version number." },
    {
      name: "output",
      short: "o",
      type: "string",
      default: "json",
      usage: "Output format; available options are 'yaml' and 'json'",
    },
  ],
};

function yamlScalar(s: string): string {
  return s === "" || !/^[A-Za-z0-9._\-/+]+$/.test(s) || /^(true|false|null|~|[0-9.]+)$/i.test(s)
    ? JSON.stringify(s)
    : s;
}

/** The text `version` prints for the given build information and options. */
export function versionText(
  info: { version: string; commit: string },
  opts: { short: boolean; output: string },
): { stdout: string; stderr: string } {
  if (opts.short) return { stdout: `${info.version}\n`, stderr: "" };
  if (opts.output === "json") {
    const o: Record<string, string> = {};
    if (info.version) o.Version = info.version;
    if (info.commit) o.Commit = info.commit;
    return { stdout: JSON.stringify(o) + "\n", stderr: "" };
  }
  if (opts.output === "yaml") {
    return {
      stdout: `version: ${yamlScalar(info.version)}\ncommit: ${
        yamlScalar(info.commit)
      }\ndate: ""\n`,
      stderr: "",
    };
  }
  return { stdout: "", stderr: "unknown version option\n" };
}

/** Entry point of `version`. */
export function main(argv: string[]): Promise<number> {
  return runCommand(def, argv, (ctx) => {
    const out = versionText({ version: VERSION, commit: COMMIT }, {
      short: ctx.flags.values.get("short") === true,
      output: ctx.flags.values.get("output") as string,
    });
    if (out.stdout) ctx.stdout(out.stdout);
    if (out.stderr) ctx.stderr(out.stderr);
    return 0;
  });
}
