/**
 * `validate FILE...`: checks mapping sources before they ship. Thin: flags, help, reading
 * standard input, output format and exit codes; the checks are in `src/validate/`.
 *
 * Exit status: 0 no errors (warnings and info allowed), 1 errors found, 2 could not read an
 * input (or bad flags).
 *
 * @module
 */

import {
  type CliDeps,
  type CommandDef,
  defaultDeps,
  parseFlags,
  runCommand,
  UsageError,
  usageText,
} from "./cli_flags.ts";

/** The `validate` command. */
export const VALIDATE_COMMAND: CommandDef = {
  name: "validate",
  short: "Check identity mappings (aws-auth, server config, DynamicFile, CRD) before they ship",
  long: "Check identity mappings before they ship: the server config file, aws-auth ConfigMap " +
    "manifests, DynamicFile and backend-mode JSON, IAMIdentityMapping manifests (multi-document " +
    "YAML and `kind: List` included), `-` for standard input, or the live cluster with " +
    "--kubeconfig/--context. Findings name file:line:column, a rule ID and a fix " +
    "(docs/validate.md lists every rule).\n\n" +
    "Exit status: 0 no errors, 1 errors found, 2 an input could not be read.",
  argsUsage: "FILE...",
  flags: [
    {
      name: "output",
      short: "o",
      type: "string",
      default: "human",
      usage: "Output `format`: human, json, or github (GitHub Actions annotations)",
    },
    {
      name: "kubeconfig",
      type: "string",
      usage:
        "Also read aws-auth and IAMIdentityMappings from the cluster of this kubeconfig `path`",
    },
    {
      name: "context",
      type: "string",
      usage: "Kubeconfig `context` to read the cluster from (implies reading the cluster)",
    },
    {
      name: "compat",
      type: "string",
      usage: "Also report entries another server treats differently; `go` for the Go tool v0.7.18",
    },
    {
      name: "list",
      type: "bool",
      usage: "Print the effective mapping table instead of findings",
    },
    {
      name: "group",
      type: "string",
      usage: "With --list: only mappings that grant this `group` (e.g. system:masters)",
    },
  ],
};

/** What `validate` needs beyond the common CLI effects. */
export interface ValidateDeps extends CliDeps {
  /** Reads standard input, up to `max` bytes (more means too large). */
  readStdin(max: number): Promise<Uint8Array>;
}

/** Reads standard input, keeping at most `max + 1` bytes (one over says "too large"). */
export async function readStdinCapped(max: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of Deno.stdin.readable) {
    chunks.push(chunk);
    total += chunk.length;
    // One byte over the limit is enough to say "too large"; the rest is never held.
    if (total > max) break;
  }
  const out = new Uint8Array(Math.min(total, max + 1));
  let at = 0;
  for (const c of chunks) {
    const n = Math.min(c.length, out.length - at);
    out.set(c.subarray(0, n), at);
    at += n;
    if (at >= out.length) break;
  }
  return out;
}

/** The real process. */
export function defaultValidateDeps(): ValidateDeps {
  return { ...defaultDeps(), readStdin: readStdinCapped };
}

const OUTPUTS = ["human", "json", "github"];

/** Runs `validate` with injected effects; returns the exit code. */
export async function runValidate(argv: readonly string[], deps: ValidateDeps): Promise<number> {
  // Flag mistakes exit 2 ("could not run"), not 1, which CI reads as "findings".
  try {
    parseFlags(VALIDATE_COMMAND, argv);
  } catch (e) {
    if (e instanceof UsageError) {
      deps.stderr(`Error: ${e.message}. Run 'aws-iam-authenticator validate --help' for usage.\n`);
      return 2;
    }
    throw e;
  }
  return await runCommand(VALIDATE_COMMAND, argv, async (ctx) => {
    const v = ctx.flags.values;
    const output = v.get("output") as string;
    if (!OUTPUTS.includes(output)) {
      throw new UsageError(`invalid output format "${output}" (use human, json or github)`, 2);
    }
    const compat = v.get("compat") as string;
    if (compat !== "" && compat !== "go") {
      throw new UsageError(`invalid --compat "${compat}" (the only one is go)`, 2);
    }
    const cluster = ctx.flags.changed.has("kubeconfig") || ctx.flags.changed.has("context");
    const files = ctx.flags.positionals;
    if (files.length === 0 && !cluster) {
      ctx.stderr(
        "Error: nothing to validate: give files, - for standard input, or --kubeconfig/--context\n" +
          usageText(VALIDATE_COMMAND),
      );
      return 2;
    }
    const validate = await import("../validate/mod.ts");
    const inputs: import("../validate/mod.ts").Input[] = [];
    for (const f of files) {
      if (f === "-") {
        inputs.push({ name: "<stdin>", bytes: await deps.readStdin(validate.MAX_INPUT_BYTES) });
      } else inputs.push({ path: f });
    }
    let read = await validate.readMappingSources(inputs);
    if (cluster) {
      read = await validate.readCluster({
        kubeconfig: v.get("kubeconfig") as string,
        context: v.get("context") as string,
      }, read);
    }
    const findings = validate.sortFindings([
      ...read.findings,
      ...validate.lint(read.sources, compat === "go" ? { compat: "go" } : {}),
    ]);
    const summary = validate.summarize(findings);
    const code = read.unreadable ? 2 : summary.errors > 0 ? 1 : 0;
    if (v.get("list") === true) {
      const group = v.get("group") as string;
      const rows = validate.mappingTable(read.sources).filter((r) =>
        group === "" || r.groups.includes(group)
      );
      if (output === "json") {
        ctx.stdout(
          JSON.stringify({ version: validate.REPORT_VERSION, mappings: rows }, null, 2) + "\n",
        );
      } else ctx.stdout(validate.formatTable(rows));
      if (summary.errors > 0 || read.unreadable) {
        ctx.stderr(
          `note: the inputs have ${summary.errors} error(s); entries the server drops are not listed (run without --list to see them)\n`,
        );
      }
      return read.unreadable ? 2 : 0;
    }
    if (output === "json") ctx.stdout(validate.formatJson(findings, code));
    else if (output === "github") ctx.stdout(validate.formatGithub(findings));
    else ctx.stdout(validate.formatHuman(findings));
    return code;
  }, deps);
}

/** Entry point of `validate`. */
export function main(argv: string[]): Promise<number> {
  return runValidate(argv, defaultValidateDeps());
}
