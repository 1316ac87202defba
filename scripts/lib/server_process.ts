/**
 * `main.ts server` (or another entry point) as a child process for the benchmark and soak
 * drivers: started with the V8 flags users get by default, its stderr appended to a log file,
 * ready once it logs its listening address, stopped with a signal.
 *
 * @module
 */

import { OrphanGuard } from "../../tests/peers/kube_apiserver.ts";
import { RELEASE_V8_FLAGS } from "../build_info.ts";

/**
 * The V8 flags users get by default (`deno task start`, the compiled binary): a young
 * generation of at most 8 MB per semi-space (V8's default is 32 MB, grown under load) and a
 * 192 MB old generation.
 */
export const SERVER_V8_FLAGS = `--v8-flags=${RELEASE_V8_FLAGS}`;

/** How to start the process. */
export interface ServerProcessOptions {
  /** The script to run (`<root>/main.ts` for the server). */
  entry: string;
  /** Arguments after the script (`["server", "--config", path]`). */
  args: string[];
  /** The `deno.json` the child resolves its imports with; default the one next to `entry`. */
  denoConfig?: string;
  /** Where stderr is appended (the server logs there). */
  logPath: string;
  /** Where stdout is appended (V8's `--trace-gc` writes there); default discarded. */
  stdoutPath?: string;
  /** Environment of the child (added to this process's). */
  env?: Record<string, string>;
  /**
   * Another executable to run instead of `deno run <entry>`, with `args` after it (for example
   * the Go tool's binary, `args` `["server", "--config", path]`): `entry`, `denoConfig` and
   * `denoFlags` are then unused. Its log must have the same "listening on" line.
   */
  executable?: string;
  /** Deno flags before the script; default {@link SERVER_V8_FLAGS}. */
  denoFlags?: string;
  /** How long to wait for the "listening on" line; default 60 s. */
  readyTimeoutMs?: number;
  /** Also wait for the health listener's line (when the config enables it). */
  health?: boolean;
}

/** A running server process. */
export interface ServerProcess {
  /** The process ID of the server itself (not of a shell). */
  readonly pid: number;
  /** The webhook address it logged (`127.0.0.1:PORT`). */
  readonly address: string;
  /** The health listener address it logged, if any. */
  readonly healthAddress?: string;
  /** Resolves with the exit status. */
  readonly status: Promise<Deno.CommandStatus>;
  /** Sends a signal (ignored when the process has exited). */
  signal(sig: Deno.Signal): void;
  /** Sends `sig` (default SIGTERM), SIGKILL after `graceMs` (default 30 s); the exit status. */
  stop(sig?: Deno.Signal, graceMs?: number): Promise<Deno.CommandStatus>;
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch {
    return 0;
  }
}

async function readFrom(path: string, offset: number): Promise<string> {
  try {
    const bytes = await Deno.readFile(path);
    return new TextDecoder().decode(bytes.subarray(offset));
  } catch {
    return "";
  }
}

/**
 * Starts the process and waits until it logs `listening on ADDR`. Throws with the log's tail
 * when it exits first or does not get there in time.
 */
export async function startServerProcess(o: ServerProcessOptions): Promise<ServerProcess> {
  const offset = await fileSize(o.logPath);
  const denoConfig = o.denoConfig ?? new URL("deno.json", `file://${o.entry}`).pathname;
  const flags = (o.denoFlags ?? SERVER_V8_FLAGS).split(" ").filter((f) => f !== "");
  // Through sh so stderr goes straight to the file (no pipe for this process to drain); `exec`
  // keeps the pid that of the server.
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      'log="$1"; out="$2"; shift 2; exec "$@" 2>>"$log" >>"$out"',
      "sh",
      o.logPath,
      o.stdoutPath ?? "/dev/null",
      ...(o.executable !== undefined
        ? [o.executable]
        : [Deno.execPath(), "run", "-A", "--config", denoConfig, ...flags, o.entry]),
      ...o.args,
    ],
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...o.env },
    stdin: "null",
    stdout: "null",
  }).spawn();
  const guard = new OrphanGuard(child.pid);
  let exited = false;
  const status = child.status.then(async (s) => {
    exited = true;
    await guard.release();
    return s;
  });
  const signal = (sig: Deno.Signal) => {
    if (exited) return;
    try {
      child.kill(sig);
    } catch {
      // raced with its exit
    }
  };
  const stop = async (sig: Deno.Signal = "SIGTERM", graceMs = 30_000) => {
    signal(sig);
    const timer = setTimeout(() => signal("SIGKILL"), graceMs);
    try {
      return await status;
    } finally {
      clearTimeout(timer);
    }
  };
  const deadline = Date.now() + (o.readyTimeoutMs ?? 60_000);
  for (;;) {
    const log = await readFrom(o.logPath, offset);
    const m = log.match(/(?<!health check )listening on (\S+?)"/);
    const health = log.match(/health check listening on (\S+?)"/)?.[1];
    if (m && (health !== undefined || !o.health)) {
      return {
        pid: child.pid,
        address: m[1]!,
        healthAddress: health,
        status,
        signal,
        stop,
      };
    }
    if (exited || Date.now() > deadline) {
      await stop("SIGKILL");
      throw new Error(
        `${o.executable ?? o.entry} ${o.args.join(" ")} ${
          exited ? "exited" : "did not start"
        }; log:\n` +
          log.split("\n").slice(-30).join("\n"),
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
