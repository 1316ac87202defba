/**
 * `completion`: shell completion scripts for bash, zsh, fish and powershell, completing the
 * sub-commands and their flags (cobra's `completion` command, without its `__complete`
 * round trip: the lists are static, so the scripts never start the binary).
 *
 * @module
 */

import { BINARY, CliError, type CommandDef, GLOBAL_FLAGS, runCommand } from "./cli_flags.ts";

const COMMAND_FLAGS: Record<string, string[]> = {
  token: [
    "--region",
    "--role",
    "--external-id",
    "--session-name",
    "--token-only",
    "--forward-session-name",
    "--cache",
    "--token-cache",
  ],
  verify: ["--token", "--output", "--partition"],
  validate: ["--output", "--kubeconfig", "--context", "--compat", "--list", "--group"],
  server: [
    "--partition",
    "--generate-kubeconfig",
    "--kubeconfig-pregenerated",
    "--state-dir",
    "--kubeconfig",
    "--master",
    "--address",
    "--backend-mode",
    "--port",
    "--health-port",
    "--ec2-describeInstances-qps",
    "--ec2-describeInstances-burst",
  ],
  init: ["--hostname", "--address"],
  add: ["--prompt", "--master-url", "--kubeconfig", "--kubeconfig-context"],
  version: ["--short", "--output"],
  completion: [],
  help: [],
};

const SHELLS = ["bash", "zsh", "fish", "powershell"] as const;

const def: CommandDef = {
  name: "completion",
  short: "Generate the autocompletion script for the specified shell",
  long: `Generate the autocompletion script for ${BINARY} for the specified shell.\n` +
    "See each sub-command's help for details on how to use the generated script.",
  argsUsage: "[bash|zsh|fish|powershell]",
  flags: [],
};

function globalFlags(): string[] {
  return GLOBAL_FLAGS.map((f) => `--${f.name}`).concat("--help");
}

/** The completion script for one shell. */
export function completionScript(shell: (typeof SHELLS)[number]): string {
  const cmds = Object.keys(COMMAND_FLAGS).sort();
  const g = globalFlags().join(" ");
  const fn = "__aws_iam_authenticator";
  switch (shell) {
    case "bash": {
      const cases = cmds.map((c) => `    ${c}) flags="${COMMAND_FLAGS[c]!.join(" ")} ${g}";;`)
        .join("\n");
      return `# bash completion for ${BINARY}
${fn}() {
  local cur cmd w flags
  cur="\${COMP_WORDS[COMP_CWORD]}"
  cmd=""
  for w in "\${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
    case "$w" in -*) ;; *) cmd="$w"; break;; esac
  done
  case "$cmd" in
${cases}
    add) flags="${COMMAND_FLAGS.add!.join(" ")} ${g}";;
    *) COMPREPLY=( $(compgen -W "${cmds.join(" ")} ${g}" -- "$cur") ); return;;
  esac
  if [[ "$cmd" == add && "$cur" != -* ]]; then flags="user role $flags"; fi
  COMPREPLY=( $(compgen -W "$flags" -- "$cur") )
}
complete -o default -F ${fn} ${BINARY}
`;
    }
    case "zsh":
      return `#compdef ${BINARY}
# zsh completion for ${BINARY}; uses bash completion emulation.
autoload -U +X bashcompinit && bashcompinit
${completionScript("bash")}`;
    case "fish": {
      let s = `# fish completion for ${BINARY}\ncomplete -c ${BINARY} -f\n`;
      s += `complete -c ${BINARY} -n __fish_use_subcommand -a "${cmds.join(" ")}"\n`;
      for (const f of globalFlags()) s += `complete -c ${BINARY} -l ${f.slice(2)}\n`;
      for (const c of cmds) {
        for (const f of COMMAND_FLAGS[c]!) {
          s += `complete -c ${BINARY} -n "__fish_seen_subcommand_from ${c}" -l ${f.slice(2)}\n`;
        }
      }
      return s;
    }
    case "powershell": {
      const table = cmds.map((c) =>
        `    '${c}' = @(${
          [...COMMAND_FLAGS[c]!, ...globalFlags()].map((f) => `'${f}'`).join(", ")
        })`
      ).join("\n");
      return `# powershell completion for ${BINARY}
Register-ArgumentCompleter -Native -CommandName '${BINARY}' -ScriptBlock {
  param($wordToComplete, $commandAst, $cursorPosition)
  $flags = @{
${table}
  }
  $words = $commandAst.CommandElements | Select-Object -Skip 1 | ForEach-Object { $_.ToString() }
  $cmd = $words | Where-Object { -not $_.StartsWith('-') } | Select-Object -First 1
  if ($cmd -and $flags.ContainsKey($cmd)) { $cands = $flags[$cmd] } else { $cands = @(${
        cmds.map((c) => `'${c}'`).join(", ")
      }) }
  $cands | Where-Object { $_ -like "$wordToComplete*" } | ForEach-Object {
    [System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_)
  }
}
`;
    }
  }
}

/** Entry point of `completion`. */
export function main(argv: string[]): Promise<number> {
  return runCommand(def, argv, (ctx) => {
    const shell = ctx.flags.positionals[0];
    if (shell === undefined) return ctx.usageError("accepts 1 arg(s), received 0");
    if (!(SHELLS as readonly string[]).includes(shell)) {
      throw new CliError(
        `Error: unknown shell "${shell}" for "${BINARY} completion"; use one of bash, zsh, fish, powershell`,
      );
    }
    ctx.stdout(completionScript(shell as (typeof SHELLS)[number]));
    return 0;
  });
}
