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

/** Runs `deno run -A main.ts <args>`; `cwd` defaults to this process's directory. */
export async function runMain(args: string[], opts: { cwd?: string } = {}): Promise<MainResult> {
  const o = await new Deno.Command(Deno.execPath(), {
    // --config: the project's import map, even when cwd is outside the project.
    args: ["run", "-A", "--quiet", "--config", CONFIG, MAIN, ...args],
    cwd: opts.cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: o.code, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
}
