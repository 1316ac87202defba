/**
 * `explain`: tells a denied user why, from the same code the server runs. Takes the `token`
 * command's credential flags and environment, mints a token as kubectl would (or takes one with
 * `-t`, or only an ARN with `--arn`), and walks credentials → token → STS → mapping against the
 * server's config, mapping files or the live cluster. Exit status 0 authenticated, 1 denied,
 * 2 no verdict (no credentials, an unreadable source, nothing to evaluate the mapping with).
 *
 * @module
 */

import { isPartitionId, PARTITION_IDS, type PartitionId } from "../aws/mod.ts";
import {
  type CliDeps,
  CliError,
  type CommandContext,
  type CommandDef,
  defaultDeps,
  runCommand,
} from "./cli_flags.ts";
import { TOKEN_COMMAND } from "./token.ts";
import type { GeneratorDeps } from "../sign/mod.ts";

const TOKEN_FLAGS = new Set([
  "region",
  "role",
  "external-id",
  "session-name",
  "forward-session-name",
]);

/** The `explain` command's flags. */
export const EXPLAIN_COMMAND: CommandDef = {
  name: "explain",
  short: "Explain why the server would authenticate or deny you (or a token, or an ARN)",
  long: "Explain why the server would authenticate or deny you (or a token, or an ARN).\n\n" +
    "Walks the path the server walks, with the server's own code: your credentials, the token\n" +
    "(minted as `token` mints it, with the same flags and environment), the STS call, and the\n" +
    "mapping (from --config, --mapping files or the live cluster with --kubeconfig). One line per\n" +
    "step, ✔ or ✘, and for each ✘ the reason ID and what to do (docs/why-denied.md).\n" +
    "Exit status: 0 authenticated, 1 denied, 2 no verdict.",
  failureExitCode: 2,
  loadsConfig: false,
  flags: [
    ...TOKEN_COMMAND.flags.filter((f) => TOKEN_FLAGS.has(f.name)),
    {
      name: "token",
      short: "t",
      type: "string",
      usage: "Explain this token (e.g. one pasted from a failing script) instead of minting one",
    },
    {
      name: "arn",
      type: "string",
      usage: "Only the mapping question: what would this `ARN` get? (no token, no STS call)",
    },
    {
      name: "mapping",
      type: "stringSlice",
      usage:
        "Mapping `file`: an aws-auth ConfigMap manifest, a DynamicFile, IAMIdentityMapping manifests (repeatable, - for stdin)",
    },
    {
      name: "kubeconfig",
      type: "string",
      usage:
        "Read the live aws-auth ConfigMap and IAMIdentityMapping objects with this kubeconfig `file` (your own credentials)",
    },
    { name: "context", type: "string", usage: "The kubeconfig `context` to use" },
    { name: "offline", type: "bool", usage: "Do not call STS (token checks and mapping only)" },
    {
      name: "partition",
      type: "string",
      default: "aws",
      usage: `The server's AWS partition, unless --config says (one of: ${
        PARTITION_IDS.join(", ")
      })`,
    },
    {
      name: "output",
      short: "o",
      type: "string",
      usage: "Output format: `json` for the machine-readable report (default: text)",
    },
  ],
};

/** Effects of `explain` beyond the process basics. */
export interface ExplainCliDeps {
  /** The token flow's dependencies (minting), built with the command's logger. */
  sign?: (log: GeneratorDeps["log"]) => GeneratorDeps;
  /** HTTP for STS. */
  fetch?: typeof fetch;
  /** The clock. */
  now?: () => Date;
  /** Standard input, at most `max` bytes (`--mapping -`). */
  readStdin?: (max: number) => Promise<Uint8Array>;
}

async function run(ctx: CommandContext, cli: CliDeps, x: ExplainCliDeps): Promise<number> {
  const s = ctx.settings;
  const explainMod = await import("../explain/mod.ts");
  const output = ctx.flags.values.get("output") as string;
  if (output !== "" && output !== "json" && output !== "text") {
    ctx.usageError(`unknown output format ${JSON.stringify(output)}: use json or text`);
  }
  const token = ctx.flags.values.get("token") as string;
  const arn = ctx.flags.values.get("arn") as string;
  if (token !== "" && arn !== "") ctx.usageError("give at most one of -t/--token and --arn");

  // The server's own config is read with the mapping sources, in one parse: its cluster ID and
  // partition come from the file alone (the server's environment is not this machine's).
  const offline = ctx.flags.values.get("offline") === true;
  let mapping;
  try {
    mapping = await explainMod.loadMappingSources({
      configPath: ctx.flags.values.get("config") as string,
      mappingFiles: ctx.flags.values.get("mapping") as string[],
      kubeconfig: ctx.flags.changed.has("kubeconfig")
        ? ctx.flags.values.get("kubeconfig") as string
        : undefined,
      context: ctx.flags.values.get("context") as string,
      offline,
    }, {
      readTextFile: cli.readTextFile,
      env: cli.env,
      readStdin: x.readStdin ?? (await import("./validate.ts")).readStdinCapped,
    });
  } catch (e) {
    throw new CliError(`explain: ${(e as Error).message}`, 2);
  }
  const partition = mapping.serverConfig?.partition ??
    (ctx.flags.values.get("partition") as string);
  if (!isPartitionId(partition)) {
    throw new CliError(
      `explain: invalid partition "${partition}"; use one of: ${PARTITION_IDS.join(", ")}`,
      2,
    );
  }

  const log = { info: (m: string) => ctx.log.info(m), warn: (m: string) => ctx.log.warn(m) };
  const { defaultGeneratorDeps, defaultSignDeps } = await import("../sign/mod.ts");
  const signDeps = x.sign
    ? x.sign(log)
    : defaultGeneratorDeps({ ...defaultSignDeps(), env: cli.env, stderr: cli.stderr }, log);
  const forwardSessionName = s.bool("forwardSessionName");
  const sessionName = s.string("sessionName");
  if (forwardSessionName && sessionName !== "") {
    ctx.usageError("cannot specify both --forward-session-name and --session-name parameter");
  }
  let report;
  try {
    report = await explainMod.explain({
      // As `token -c` would: -i, or the environment, or the config's clusterID.
      clusterId: s.string("clusterID") || (mapping.serverClusterId ?? ""),
      serverClusterId: mapping.serverClusterId,
      partition: partition as PartitionId,
      region: s.string("region"),
      roleArn: s.string("role"),
      externalId: s.string("externalID"),
      sessionName,
      forwardSessionName,
      token: token === "" ? undefined : token,
      arn: arn === "" ? undefined : arn,
      offline,
      backends: mapping.backends,
      mappingUnavailable: mapping.unavailable,
      mappingNotes: mapping.notes,
      findingsFor: mapping.findingsFor,
      adminSource: mapping.adminSource,
    }, {
      sign: signDeps,
      env: cli.env,
      fetch: x.fetch ?? fetch,
      now: x.now ?? cli.now,
      privateDnsName: mapping.privateDnsName,
    });
  } catch (e) {
    if (e instanceof explainMod.ExplainError) throw new CliError(`explain: ${e.message}`, 2);
    throw e;
  }
  ctx.stdout(output === "json" ? explainMod.formatJson(report) : explainMod.formatHuman(report));
  return explainMod.exitCode(report);
}

/** Runs `explain` with injectable effects (tests); {@linkcode main} uses the real process. */
export function runExplain(
  argv: readonly string[],
  cli: CliDeps = defaultDeps(),
  x: ExplainCliDeps = {},
): Promise<number> {
  return runCommand(EXPLAIN_COMMAND, argv, (ctx) => run(ctx, cli, x), cli);
}

/** Entry point of `explain`. */
export function main(argv: string[]): Promise<number> {
  return runExplain(argv);
}
