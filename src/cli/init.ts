/**
 * `init`: pre-generates the server's certificate, private key and webhook kubeconfig
 * (docs/commands.md#init-and-add).
 * Unlike the Go tool it always writes to the configured paths (`<stateDir>/cert.pem`,
 * `<stateDir>/key.pem`, `server.generateKubeconfig`; port decision 19) and honours `--address`
 * (port decision 7). Existing certificate and key are reused.
 *
 * @module
 */

import {
  type CliDeps,
  type CommandContext,
  type CommandDef,
  defaultDeps,
  runCommand,
} from "./cli_flags.ts";
import { loadServerConfig, SERVER_FLAGS } from "./server.ts";
import { COMMIT, VERSION } from "../version.ts";

/** The `init` command description. */
export const INIT_COMMAND: CommandDef = {
  name: "init",
  short: "Pre-generate certificate, private key, and kubeconfig files for the server.",
  flags: [
    {
      name: "hostname",
      type: "string",
      default: "localhost",
      usage: "Hostname that should be used for writing the self-signed certificates",
      key: "server.hostname",
    },
    {
      name: "address",
      type: "string",
      default: "127.0.0.1",
      usage: "IP Address to bind the server to listen to. (should be a 127.0.0.1 or 0.0.0.0)",
      key: "server.address",
    },
  ],
  // Like viper, `init` sees the server's keys (state dir, kubeconfig path, port ...) through the
  // config file, with the server flags' defaults.
  bindings: SERVER_FLAGS.filter((f) => f.name !== "address").map((f) => ({
    key: f.key!,
    default: f.default,
  })),
};

async function init(ctx: CommandContext): Promise<number> {
  ctx.stdout(`Authenticator Version: "${VERSION}", "${COMMIT}"\n`);
  const log = ctx.log;
  const config = await loadServerConfig(ctx, log);
  if (config === undefined) return 1;
  const { loadOrCreateKeyPair, renderWebhookKubeconfig, writeWebhookKubeconfig } = await import(
    "../serve/mod.ts"
  );
  try {
    const pair = await loadOrCreateKeyPair({
      stateDir: config.stateDir,
      address: config.address,
      hostname: config.hostname,
    });
    if (!pair.generated) log.info("loaded existing keypair");
    for (const warning of pair.warnings) log.warn(warning);
    await writeWebhookKubeconfig(
      config.generateKubeconfig,
      renderWebhookKubeconfig(pair.certPem, config.hostname, config.port),
    );
    log.info(`certificate generated at ${pair.certPath}`);
    log.info(`key generated at ${pair.keyPath}`);
    log.info(`kubeconfig generated at ${config.generateKubeconfig}`);
  } catch (err) {
    log.error(`could not initialize: ${(err as Error).message}`);
    return 1;
  }
  log.info(
    `configure your apiserver with \`--authentication-token-webhook-config-file=${config.generateKubeconfig}\` to enable authentication with aws-iam-authenticator`,
  );
  return 0;
}

/** Runs `init` with injected process effects (tests use this) and returns the exit code. */
export function runInit(argv: string[], deps: CliDeps = defaultDeps()): Promise<number> {
  return runCommand(INIT_COMMAND, argv, init, deps);
}

/** Runs `init` with the given arguments and returns the exit code. */
export function main(argv: string[]): Promise<number> {
  return runInit(argv);
}
