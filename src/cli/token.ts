/**
 * `token`: the kubectl exec credential plugin. Prints an ExecCredential (or, with
 * `--token-only`, the bare token) on stdout and nothing else; every failure is one line on
 * stderr and exit code 1.
 *
 * @module
 */

import { type CliDeps, CliError, type CommandDef, defaultDeps, runCommand } from "./cli_flags.ts";
import {
  defaultGeneratorDeps,
  defaultSignDeps,
  execCredentialApiVersion,
  formatExecCredential,
  type GeneratorDeps,
  getToken,
  TokenError,
} from "../sign/mod.ts";

/** The `token` command's flags, in the Go tool's wording. */
export const TOKEN_COMMAND: CommandDef = {
  name: "token",
  short: "Authenticate using AWS IAM and get token for Kubernetes",
  flags: [
    {
      name: "region",
      type: "string",
      usage: "AWS Region to use for assume role calls (also selects the STS endpoint of the token)",
      key: "region",
    },
    {
      name: "role",
      short: "r",
      type: "string",
      usage: "Assume an IAM Role ARN before signing this token",
      key: "role",
      env: "DEFAULT_ROLE",
    },
    {
      name: "external-id",
      short: "e",
      type: "string",
      usage: "External ID to pass when assuming the IAM Role",
      key: "externalID",
    },
    {
      name: "session-name",
      short: "s",
      type: "string",
      usage: "Session name to pass when assuming the IAM Role",
      key: "sessionName",
    },
    {
      name: "token-only",
      type: "bool",
      usage: "Return only the token for use with Bearer token based tools",
      key: "tokenOnly",
    },
    {
      name: "forward-session-name",
      type: "bool",
      usage:
        "Enable mapping a federated sessions caller-specified-role-name attribute onto newly assumed sessions. NOTE: Only applicable when a new role is requested via --role",
      key: "forwardSessionName",
    },
    {
      name: "cache",
      type: "bool",
      usage:
        "Cache the credential on disk until it expires. Uses the aws profile specified by AWS_PROFILE or the default profile.",
      key: "cache",
    },
    {
      name: "token-cache",
      type: "bool",
      usage:
        "Reuse the generated token from a private file under the cache directory until one minute before it expires (also AWS_IAM_AUTHENTICATOR_TOKEN_CACHE=1)",
      key: "tokenCache",
      env: "AWS_IAM_AUTHENTICATOR_TOKEN_CACHE",
    },
  ],
};

/** Runs `token` with injectable effects (tests); {@linkcode main} uses the real process. */
export function runToken(
  argv: readonly string[],
  cli: CliDeps = defaultDeps(),
  sign?: (log: GeneratorDeps["log"]) => GeneratorDeps,
): Promise<number> {
  return runCommand(TOKEN_COMMAND, argv, async (ctx) => {
    const s = ctx.settings;
    const clusterId = s.string("clusterID");
    if (clusterId === "") {
      ctx.usageError(
        "cluster ID not specified (pass -i/--cluster-id or set KUBERNETES_AWS_AUTHENTICATOR_CLUSTER_ID)",
      );
    }
    const forwardSessionName = s.bool("forwardSessionName");
    const sessionName = s.string("sessionName");
    if (forwardSessionName && sessionName !== "") {
      ctx.usageError("cannot specify both --forward-session-name and --session-name parameter");
    }
    const log = {
      info: (m: string) => ctx.log.info(m),
      warn: (m: string) => ctx.log.warn(m),
    };
    const deps = sign
      ? sign(log)
      : defaultGeneratorDeps({ ...defaultSignDeps(), env: cli.env, stderr: cli.stderr }, log);
    let token;
    try {
      token = await getToken({
        clusterId,
        region: s.string("region"),
        roleArn: s.string("role"),
        externalId: s.string("externalID"),
        sessionName,
        forwardSessionName,
        cache: s.bool("cache"),
        tokenCache: s.bool("tokenCache"),
      }, deps);
    } catch (e) {
      if (e instanceof TokenError) throw new CliError(`could not get token: ${e.message}`);
      throw new CliError(`could not get token: ${e instanceof Error ? e.message : String(e)}`);
    }
    const out = s.bool("tokenOnly")
      ? token.token
      : formatExecCredential(token, execCredentialApiVersion(cli.env("KUBERNETES_EXEC_INFO")));
    ctx.stdout(out + "\n");
    return 0;
  }, cli);
}

/** Entry point of `token`. */
export function main(argv: string[]): Promise<number> {
  return runToken(argv);
}
