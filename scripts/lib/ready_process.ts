/**
 * A child process started and held until it writes a "ready" text on stderr (a server's
 * `listening on`, a probe's `ready`), for the benchmark drivers that read its memory afterwards.
 *
 * @module
 */

/** A child that said it was ready; {@link ReadyProcess.stop} ends it. */
export interface ReadyProcess {
  /** Its process ID. */
  readonly pid: number;
  /** Sends SIGTERM and waits for it to exit. */
  stop(): Promise<void>;
}

/** How to start the child. */
export interface ReadyOptions {
  /** Extra environment (added to this process's unless {@link ReadyOptions.clearEnv}). */
  env?: Record<string, string>;
  /** Start from an empty environment. */
  clearEnv?: boolean;
  /** Longest wait for the ready text; default 60 s. */
  timeoutMs?: number;
}

/**
 * Runs `cmd` (program and arguments) and resolves once `ready` appears on its stderr. Rejects,
 * with what it wrote, when it exits first or `timeoutMs` pass; the child is stopped then.
 */
export async function startUntilReady(
  cmd: readonly string[],
  ready: string,
  o: ReadyOptions = {},
): Promise<ReadyProcess> {
  const child = new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    env: o.env,
    clearEnv: o.clearEnv,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // already exited
    }
    await reader.cancel().catch(() => {});
    await child.status;
  };
  let log = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${cmd.join(" ")} was not ready after ${o.timeoutMs ?? 60_000} ms`)),
      o.timeoutMs ?? 60_000,
    );
  });
  try {
    while (!log.includes(ready)) {
      const { value, done } = await Promise.race([reader.read(), timeout]);
      if (done) throw new Error(`${cmd.join(" ")} exited before it was ready`);
      log += value;
    }
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}:\n${log}`);
  } finally {
    clearTimeout(timer);
  }
  // Its later output is not needed, but must be drained so the child never blocks on the pipe.
  void (async () => {
    try {
      while (!(await reader.read()).done) { /* drain */ }
    } catch {
      // cancelled by stop()
    }
  })();
  return { pid: child.pid, stop };
}
