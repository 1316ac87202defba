/**
 * `verify`: checks a token exactly as the server would (same verifier, real STS call) and
 * prints the identity. A debugging aid; the output shapes are the Go tool's.
 *
 * @module
 */

import { isPartitionId, PARTITION_IDS } from "../aws/mod.ts";
import { type Identity, Verifier } from "../verify/mod.ts";
import {
  type CliDeps,
  CliError,
  type CommandDef,
  defaultDeps,
  runCommand,
  usageText,
} from "./cli_flags.ts";

/** The `verify` command's flags, in the Go tool's wording. */
export const VERIFY_COMMAND: CommandDef = {
  name: "verify",
  short: "Verify a token for debugging purpose",
  flags: [
    { name: "token", short: "t", type: "string", usage: "Token to verify", key: "token" },
    {
      name: "output",
      short: "o",
      type: "string",
      usage: "Output format. Only `json` is supported currently.",
      key: "output",
    },
    {
      name: "partition",
      type: "string",
      default: "aws",
      usage: `The AWS partition. Must be one of: ${PARTITION_IDS.join(", ")}`,
      key: "partition",
    },
  ],
};

/** Effects of `verify` beyond the process basics: the network and the server region. */
export interface VerifyDeps {
  /** fetch for the STS call. */
  fetch?: typeof fetch;
  /** The clock. */
  now?: () => Date;
  /**
   * Finds the region for the fallback host check (`AWS_REGION`, `AWS_DEFAULT_REGION`, EC2
   * instance metadata). Default: the server's resolver.
   */
  resolveRegion?: (env: (name: string) => string | undefined) => Promise<{
    region: string;
    detail?: string;
  }>;
}

/** Go `%+v` of `*token.Identity`. */
export function formatIdentityDump(id: Identity): string {
  return `&{ARN:${id.arn} CanonicalARN:${id.canonicalArn} AccountID:${id.accountId} ` +
    `UserID:${id.userId} SessionName:${id.sessionName} AccessKeyID:${id.accessKeyId} ` +
    `STSEndpoint:${id.stsEndpoint}}`;
}

/** Go `json.MarshalIndent(identity, "", "    ")`. */
export function formatIdentityJson(id: Identity): string {
  return JSON.stringify(
    {
      ARN: id.arn,
      CanonicalARN: id.canonicalArn,
      AccountID: id.accountId,
      UserID: id.userId,
      SessionName: id.sessionName,
      AccessKeyID: id.accessKeyId,
      STSEndpoint: id.stsEndpoint,
    },
    null,
    4,
  );
}

async function defaultResolveRegion(env: (name: string) => string | undefined) {
  // The server's resolver lives with the server; only this path needs it.
  const { resolveServerRegion } = await import("../serve/mod.ts");
  return resolveServerRegion({ env });
}

/** Runs `verify` with injectable effects; {@linkcode main} uses the real process. */
export function runVerify(
  argv: readonly string[],
  cli: CliDeps = defaultDeps(),
  deps: VerifyDeps = {},
): Promise<number> {
  return runCommand(VERIFY_COMMAND, argv, async (ctx) => {
    const s = ctx.settings;
    const token = s.string("token");
    if (token === "") {
      ctx.stderr("error: token not specified\n" + usageText(VERIFY_COMMAND));
      return 1;
    }
    const clusterId = s.string("clusterID");
    if (clusterId === "") {
      ctx.stderr("error: cluster ID not specified\n" + usageText(VERIFY_COMMAND));
      return 1;
    }
    const partition = s.string("partition");
    if (!isPartitionId(partition)) {
      throw new CliError(
        `error: invalid partition "${partition}"; use one of: ${PARTITION_IDS.join(", ")}`,
      );
    }
    const found = await (deps.resolveRegion ?? defaultResolveRegion)(cli.env);
    if (found.region === "") {
      ctx.stderr(`[Warn] Region not found in instance metadata, err: ${found.detail ?? "none"}\n`);
    }
    const override = cli.env("AWS_ENDPOINT_URL_STS")?.trim() || undefined;
    let verifier: Verifier;
    try {
      verifier = new Verifier({
        clusterId,
        partition,
        instanceRegion: found.region,
        stsEndpointOverride: override,
        fetch: deps.fetch,
        now: deps.now,
      });
    } catch (e) {
      throw new CliError(`could not verify token: ${(e as Error).message}`);
    }
    let id: Identity;
    try {
      id = await verifier.verify(token);
    } catch (e) {
      throw new CliError(`could not verify token: ${(e as Error).message}`);
    }
    ctx.stdout(
      (s.string("output") === "json" ? formatIdentityJson(id) : formatIdentityDump(id)) + "\n",
    );
    return 0;
  }, cli);
}

/** Entry point of `verify`. */
export function main(argv: string[]): Promise<number> {
  return runVerify(argv);
}
