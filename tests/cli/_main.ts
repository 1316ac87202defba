/**
 * Runs `main.ts` as its own process, as kubectl or a user would: the CLI tests that need the
 * real entry point (dispatch, exit codes, a working directory of their own) share this.
 *
 * @module
 */

/** Absolute path of the CLI entry point. */
export const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;

/** What a run printed and how it ended. */
export interface MainResult {
  /** Exit code. */
  code: number;
  /** Standard output. */
  out: string;
  /** Standard error. */
  err: string;
}

/** Options of {@linkcode runMain}. */
export interface RunMainOptions {
  /** Working directory; default this process's. */
  cwd?: string;
  /**
   * The child's umask (e.g. `0o000`). Set through `sh -c 'umask …; exec …'`: a umask is
   * per-process, and test modules share this process, so it cannot be changed here.
   */
  umask?: number;
  /** Extra environment variables. */
  env?: Record<string, string>;
}

/** The argv that runs `deno <args>`, under `umask` when one is given. */
export function denoArgv(args: string[], umask?: number): [string, string[]] {
  if (umask === undefined) return [Deno.execPath(), args];
  const mask = umask.toString(8).padStart(4, "0");
  return ["sh", ["-c", `umask ${mask} && exec "$0" "$@"`, Deno.execPath(), ...args]];
}

/** Runs `deno run -A main.ts <args>`; `cwd` defaults to this process's directory. */
export async function runMain(args: string[], opts: RunMainOptions = {}): Promise<MainResult> {
  // --config: the project's import map, even when cwd is outside the project.
  const [cmd, argv] = denoArgv(
    ["run", "-A", "--quiet", "--config", CONFIG, MAIN, ...args],
    opts.umask,
  );
  const o = await new Deno.Command(cmd, {
    args: argv,
    cwd: opts.cwd,
    env: opts.env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: o.code, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
}
