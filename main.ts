/**
 * The `aws-iam-authenticator` command line: finds the sub-command (global flags may come
 * before it, as with cobra's persistent flags) and loads only that command's module, so that
 * `token` -- run by kubectl on every call -- loads nothing it does not need.
 *
 * @module
 */

import {
  BINARY,
  flagUsages,
  GLOBAL_FLAGS,
  GLOBAL_VALUE_FLAGS,
  parseFlags,
  UsageError,
  writeStderr,
  writeStdout,
} from "./src/cli/cli_flags.ts";

/** Sub-commands with their cobra short descriptions, in cobra's (sorted) order. */
export const COMMANDS: readonly { name: string; short: string }[] = [
  { name: "add", short: "add IAM entity to an existing aws-auth configmap" },
  { name: "completion", short: "Generate the autocompletion script for the specified shell" },
  {
    name: "explain",
    short: "Explain why the server would authenticate or deny you (or a token, or an ARN)",
  },
  { name: "help", short: "Help about any command" },
  {
    name: "init",
    short: "Pre-generate certificate, private key, and kubeconfig files for the server.",
  },
  {
    name: "server",
    short: "Run a webhook validation server suitable that validates tokens using AWS IAM",
  },
  { name: "token", short: "Authenticate using AWS IAM and get token for Kubernetes" },
  {
    name: "validate",
    short: "Check identity mappings (aws-auth, server config, DynamicFile, CRD) before they ship",
  },
  { name: "verify", short: "Verify a token for debugging purpose" },
  { name: "version", short: "Version will output the current build information" },
];

/** Root `--help` text, cobra style. */
export function rootHelp(): string {
  let s = "A tool to authenticate to Kubernetes using AWS IAM credentials\n\n";
  s += `Usage:\n  ${BINARY} [command]\n\nAvailable Commands:\n`;
  for (const c of COMMANDS) s += `  ${c.name.padEnd(11)} ${c.short}\n`;
  s += "\nFlags:\n" + flagUsages([
    ...GLOBAL_FLAGS.slice(0, 3),
    { name: "help", short: "h", type: "bool", usage: `help for ${BINARY}` },
    ...GLOBAL_FLAGS.slice(3),
  ]);
  s += `\nUse "${BINARY} [command] --help" for more information about a command.\n`;
  return s;
}

/** Splits argv into the sub-command word and the remaining arguments (flags kept in order). */
export function findCommand(argv: readonly string[]): { command?: string; rest: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") break;
    if (!a.startsWith("-") || a === "-") {
      return { command: a, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] };
    }
    if (GLOBAL_VALUE_FLAGS.has(a)) i++;
  }
  return { rest: [...argv] };
}

type CommandMain = (argv: string[]) => Promise<number>;

async function load(command: string): Promise<CommandMain | undefined> {
  // Literal specifiers keep every command in the graph `deno compile` and `deno bundle` see;
  // deno.json's `unstable: ["lazy-dynamic-imports"]` keeps `deno run` from walking the other
  // commands' graphs (Kubernetes client, metrics, AWS SDK) when `token` starts.
  switch (command) {
    case "token":
      return (await import("./src/cli/token.ts")).main;
    case "verify":
      return (await import("./src/cli/verify.ts")).main;
    case "explain":
      return (await import("./src/cli/explain.ts")).main;
    case "validate":
      return (await import("./src/cli/validate.ts")).main;
    case "server":
      return (await import("./src/cli/server.ts")).main;
    case "init":
      return (await import("./src/cli/init.ts")).main;
    case "add":
      return (await import("./src/cli/add.ts")).main;
    case "version":
      return (await import("./src/cli/version.ts")).main;
    case "completion":
      return (await import("./src/cli/completion.ts")).main;
    default:
      return undefined;
  }
}

/** Runs the CLI with `argv` and returns the exit code. */
export async function run(argv: readonly string[]): Promise<number> {
  const { command, rest } = findCommand(argv);
  if (command === undefined) {
    if (rest.length === 0 || rest.includes("-h") || rest.includes("--help")) {
      writeStdout(rootHelp());
      return 0;
    }
    // Only flags: cobra validates them against the root and then prints help.
    try {
      parseFlags({ name: "", short: "", flags: [] }, rest);
    } catch (e) {
      if (e instanceof UsageError) {
        writeStderr(`Error: ${e.message}. Run '${BINARY} --help' for usage.\n`);
        return 1;
      }
      throw e;
    }
    writeStdout(rootHelp());
    return 0;
  }
  if (command === "help") {
    const target = findCommand(rest).command;
    if (target === undefined) {
      writeStdout(rootHelp());
      return 0;
    }
    const fn = await load(target);
    if (!fn) {
      writeStderr(`Unknown help topic [\`${target}\`]\n`);
      writeStdout(rootHelp());
      return 0;
    }
    const sub = findCommand(findCommand(rest).rest).command;
    return await fn(sub ? [sub, "--help"] : ["--help"]);
  }
  const fn = await load(command);
  if (!fn) {
    writeStderr(
      `Error: unknown command "${command}" for "${BINARY}". Run '${BINARY} --help' for usage.\n`,
    );
    return 1;
  }
  return await fn(rest);
}

if (import.meta.main) {
  // Exit explicitly: an SDK keep-alive socket must not keep a finished command running.
  Deno.exit(await run(Deno.args));
}
