/**
 * Watch one file for changes by watching its directory with `Deno.watchFs`
 * (docs/mapping.md#dynamicfile).
 *
 * A watch on the file itself dies when the file is replaced: editors and `mv` rename a new
 * file over it, and Kubernetes updates a ConfigMap volume by swapping the `..data` symlink the
 * file points through. Watching the directory sees all three (in-place write, atomic rename,
 * `..data` swap). Every event in the directory triggers a debounced re-read, and only content
 * that differs from the last read is handed on, so unrelated files cost one read each.
 *
 * @module
 */

import {
  checkFileSafety,
  type FileSafetyFinding,
  fileSafetyWarning,
  parentDir,
} from "../config/mod.ts";
import type { Logger, MapperMetrics } from "./mapper.ts";

/**
 * Who may write the file: checked at start and on every re-read (see `checkFileSafety`). A
 * file that group or others can write (or whose directory they can write) is logged as a
 * warning with the fix, and `mappingFileWritableByOthers` is set on every check. Nothing is
 * refused: kubelet mounts ConfigMaps with the modes operators choose.
 */
export interface FileSafetyOptions {
  /** What the file is, for the log: `"DynamicFile"`, `"backend-mode file"`. */
  label: string;
  /** The check (default `checkFileSafety` on the real file system). */
  check?: (path: string) => Promise<FileSafetyFinding[]>;
}

/** What to do with the file. */
export interface WatchedFileOptions {
  /** The file to follow. */
  path: string;
  /** Called with the new content whenever it changed (including the first read). */
  onLoad(text: string): void;
  /** Called when a file that existed is gone. */
  onDelete(): void;
  /** Where to log watcher trouble. */
  logger: Logger;
  /**
   * `dynamicFileFailure` is counted when the watch cannot be set up or breaks;
   * `mappingFileWritableByOthers` is set on every safety check.
   */
  metrics: Pick<MapperMetrics, "dynamicFileFailure" | "mappingFileWritableByOthers">;
  /** Check who may write the file (off when absent). */
  safety?: FileSafetyOptions;
  /** Quiet time after the last event before re-reading (default 50 ms). */
  debounceMs?: number;
  /** Wait before re-creating a broken watch, e.g. while the directory is missing (default 1 s). */
  retryMs?: number;
}

/** Follows one file; see the module doc. */
export class WatchedFile {
  private readonly dir: string;
  private lastText: string | undefined;
  private watcher: Deno.FsWatcher | undefined;
  private debounce: ReturnType<typeof setTimeout> | undefined;
  private retry: { timer: ReturnType<typeof setTimeout>; resolve: () => void } | undefined;
  private loop: Promise<void> | undefined;
  private closed = false;
  private reading: Promise<void> = Promise.resolve();
  /** The findings last logged, as `path mode` keys; `undefined` before the first check. */
  private lastFindings: string | undefined;
  private safetyFailing = false;

  /** @param opts the file and callbacks */
  constructor(private readonly opts: WatchedFileOptions) {
    this.dir = parentDir(opts.path);
  }

  /** Read the file once, then keep watching in the background until `close()` or `signal`. */
  async start(signal: AbortSignal): Promise<void> {
    signal.addEventListener("abort", () => void this.close(), { once: true });
    await this.check();
    if (!this.closed) this.loop = this.run();
  }

  /** Stop watching and wait for the background loop to end. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.debounce !== undefined) clearTimeout(this.debounce);
    this.debounce = undefined;
    if (this.retry) {
      clearTimeout(this.retry.timer);
      this.retry.resolve();
    }
    try {
      this.watcher?.close();
    } catch {
      // Already closed.
    }
    await this.loop;
    await this.reading;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.retry = undefined;
        resolve();
      }, ms);
      this.retry = { timer, resolve };
    });
  }

  private async run(): Promise<void> {
    let failing = false;
    while (!this.closed) {
      try {
        this.watcher = Deno.watchFs(this.dir, { recursive: false });
      } catch (e) {
        this.opts.metrics.dynamicFileFailure();
        if (!failing) {
          this.opts.logger.warn("cannot watch the directory of a mapping file; retrying", {
            path: this.opts.path,
            error: (e as Error).message,
          });
        }
        failing = true;
        await this.sleep(this.opts.retryMs ?? 1000);
        continue;
      }
      failing = false;
      // Anything that happened while no watch was set up.
      this.schedule();
      try {
        for await (const _event of this.watcher) this.schedule();
      } catch (e) {
        if (this.closed) break;
        this.opts.metrics.dynamicFileFailure();
        this.opts.logger.warn("file watch failed; re-creating it", {
          path: this.opts.path,
          error: (e as Error).message,
        });
      }
      if (this.closed) break;
      await this.sleep(this.opts.retryMs ?? 1000);
    }
  }

  private schedule(): void {
    if (this.closed) return;
    if (this.debounce !== undefined) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      this.reading = this.reading.then(() => this.check());
    }, this.opts.debounceMs ?? 50);
  }

  /**
   * Runs the safety check and sets the gauge. Warnings are logged when the findings change, and
   * again with every reload of new content, so each load that applies a file others can write
   * says so; events that change nothing (another file in the directory) do not repeat them.
   */
  private async checkSafety(reloaded: boolean): Promise<void> {
    const safety = this.opts.safety;
    if (safety === undefined) return;
    const path = this.opts.path;
    let findings: FileSafetyFinding[];
    try {
      findings = await (safety.check ?? checkFileSafety)(path);
    } catch (e) {
      if (!this.safetyFailing) {
        this.opts.logger.warn(`cannot check who may write the ${safety.label}`, {
          path,
          error: (e as Error).message,
        });
      }
      this.safetyFailing = true;
      return;
    }
    this.safetyFailing = false;
    this.opts.metrics.mappingFileWritableByOthers(path, findings.length > 0 ? 1 : 0);
    const key = findings.map((f) => `${f.path} ${f.octal}`).join("\n");
    if (findings.length > 0 && (reloaded || key !== this.lastFindings)) {
      for (const f of findings) {
        this.opts.logger.warn(fileSafetyWarning(safety.label, f), {
          path: f.path,
          mode: f.octal,
        });
      }
    } else if (findings.length === 0 && this.lastFindings) {
      this.opts.logger.info(`${safety.label} is no longer writable by others`, { path });
    }
    this.lastFindings = key;
  }

  private async check(): Promise<void> {
    if (this.closed) return;
    let text: string;
    try {
      text = await Deno.readTextFile(this.opts.path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        if (this.lastText !== undefined) {
          this.lastText = undefined;
          this.opts.onDelete();
        }
        // Whoever can write the directory can create the file: still worth a check.
        await this.checkSafety(false);
        return;
      }
      this.opts.metrics.dynamicFileFailure();
      this.opts.logger.warn("cannot read mapping file", {
        path: this.opts.path,
        error: (e as Error).message,
      });
      return;
    }
    if (this.closed) return;
    const changed = text !== this.lastText;
    await this.checkSafety(changed);
    if (this.closed || !changed) return;
    this.lastText = text;
    this.opts.onLoad(text);
  }
}
