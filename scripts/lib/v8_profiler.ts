/**
 * CPU and allocation profiles of another Deno process through its V8 inspector
 * (`--inspect=127.0.0.1:PORT`): the benchmark drivers use them to show where a server's CPU goes
 * during one scenario (`deno task bench:server --profile repeated`) and how much memory each
 * review allocates, and where (`--alloc-profile`): the garbage that sets how often the GC pauses
 * the server. Speaks the Chrome DevTools protocol's `Profiler` and `HeapProfiler` domains over
 * the inspector's WebSocket; the `.cpuprofile` and `.heapprofile` files open in Chrome DevTools
 * or speedscope.
 *
 * The inspector is not free: while attached, the runtime reports every `fetch` to it, so in a
 * scenario that calls STS the inspector's own frames take a visible share. Read the shares of
 * the other frames relative to each other, and CPU figures only from runs without `--profile`.
 *
 * @module
 */

/** A V8 CPU profile (`Profiler.stop`'s `profile`). */
export interface CpuProfile {
  /** The call tree. */
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }[];
  /** The node ID of each sample. */
  samples: number[];
  /** Start and end, in microseconds. */
  startTime: number;
  endTime: number;
}

/** One line of {@link selfTimeSummary}. */
export interface SelfTime {
  /** Share of all samples, in percent. */
  percent: number;
  /** `function file:line` (files under the project or the npm cache shortened). */
  frame: string;
}

/**
 * The frames that were on top of the stack most often: where the time went, not who called it.
 * `(idle)` is the thread waiting for I/O or a timer.
 */
export function selfTimeSummary(profile: CpuProfile, top = 30): SelfTime[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const counts = new Map<string, number>();
  for (const id of profile.samples) {
    const node = byId.get(id);
    if (node === undefined) continue;
    const frame = frameName(node.callFrame);
    counts.set(frame, (counts.get(frame) ?? 0) + 1);
  }
  const total = Math.max(1, profile.samples.length);
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([frame, n]) => ({ percent: (100 * n) / total, frame }));
}

/** One node of a V8 sampling heap profile (`HeapProfiler.getSamplingProfile`). */
export interface HeapProfileNode {
  /** Where the allocation happened. */
  callFrame: { functionName: string; url: string; lineNumber: number };
  /** Bytes allocated by this frame itself (V8 scales the samples up to an estimate). */
  selfSize: number;
  /** Callees. */
  children: HeapProfileNode[];
}

/** A V8 sampling heap profile. */
export interface HeapProfile {
  /** The allocation call tree. */
  head: HeapProfileNode;
}

/** What {@link allocationSummary} finds. */
export interface AllocationSummary {
  /** Estimated bytes allocated in the sampled window, collected or not. */
  totalBytes: number;
  /** The project functions charged with the most bytes (see {@link allocationSummary}). */
  top: { percent: number; bytes: number; frame: string }[];
}

function frameName(callFrame: { functionName: string; url: string; lineNumber: number }): string {
  const { functionName, url, lineNumber } = callFrame;
  const file = url
    .replace(/^.*\/registry\.npmjs\.org\//, "npm:")
    .replace(/^file:\/\/.*?\/(src|scripts|tests)\//, "$1/");
  return `${functionName || "(anonymous)"}${file ? ` ${file}:${lineNumber + 1}` : ""}`;
}

/**
 * The bytes a sampling heap profile saw allocated, and who in the project caused them: each
 * allocation is charged to the innermost project frame on its stack, runtime frames below it
 * included (an async function's continuations too, whoever resumed them), because that is the line a change could act on. Allocations
 * with no project frame on the stack (the HTTP server's own, the inspector's) are charged to the
 * frame that made them.
 */
export function allocationSummary(profile: HeapProfile, top = 30): AllocationSummary {
  const bySite = new Map<string, number>();
  let totalBytes = 0;
  const walk = (node: HeapProfileNode, site: string | undefined): void => {
    const name = frameName(node.callFrame);
    const here = node.callFrame.url.startsWith("file:") ? name : site;
    if (node.selfSize > 0) {
      totalBytes += node.selfSize;
      const key = here ?? name;
      bySite.set(key, (bySite.get(key) ?? 0) + node.selfSize);
    }
    for (const child of node.children) walk(child, here);
  };
  walk(profile.head, undefined);
  return {
    totalBytes,
    top: [...bySite]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([frame, bytes]) => ({
        percent: (100 * bytes) / Math.max(1, totalBytes),
        bytes,
        frame,
      })),
  };
}

/** A connection to one process's inspector. */
export class V8Profiler {
  readonly #ws: WebSocket;
  readonly #pending = new Map<number, (message: Record<string, unknown>) => void>();
  #nextId = 0;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.onmessage = (event) => {
      const message = JSON.parse(String(event.data));
      const resolve = this.#pending.get(message.id);
      if (resolve === undefined) return;
      this.#pending.delete(message.id);
      resolve(message);
    };
  }

  /**
   * Connects to the inspector listening on `127.0.0.1:port` (retrying until `timeoutMs`: the
   * process may still be starting).
   */
  static async connect(port: number, timeoutMs = 30_000): Promise<V8Profiler> {
    const deadline = Date.now() + timeoutMs;
    let target: { webSocketDebuggerUrl: string } | undefined;
    while (target === undefined) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/json/list`);
        target = (await res.json())[0];
      } catch {
        // Not listening yet.
      }
      if (target !== undefined) break;
      if (Date.now() > deadline) {
        throw new Error(`no V8 inspector on 127.0.0.1:${port}: start the process with --inspect`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const ws = new WebSocket(target.webSocketDebuggerUrl);
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error(`cannot open ${target.webSocketDebuggerUrl}`));
    });
    const profiler = new V8Profiler(ws);
    await profiler.#call("Profiler.enable");
    return profiler;
  }

  #call(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = ++this.#nextId;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, (message) => {
        if (message.error !== undefined) {
          reject(new Error(`${method}: ${JSON.stringify(message.error)}`));
        } else resolve((message.result ?? {}) as Record<string, unknown>);
      });
      this.#ws.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Starts sampling every `intervalMicros` µs. */
  async start(intervalMicros = 200): Promise<void> {
    await this.#call("Profiler.setSamplingInterval", { interval: intervalMicros });
    await this.#call("Profiler.start");
  }

  /** Stops sampling and returns the profile. */
  async stop(): Promise<CpuProfile> {
    const result = await this.#call("Profiler.stop");
    return result.profile as CpuProfile;
  }

  /**
   * Starts recording allocations: one sample per `intervalBytes` allocated on average, kept
   * whether or not the GC has collected the object since, so the profile counts garbage too.
   */
  async startAllocations(intervalBytes = 1024): Promise<void> {
    await this.#call("HeapProfiler.enable");
    await this.#call("HeapProfiler.startSampling", {
      samplingInterval: intervalBytes,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  }

  /** Stops recording allocations and returns the profile. */
  async stopAllocations(): Promise<HeapProfile> {
    const result = await this.#call("HeapProfiler.stopSampling");
    return result.profile as HeapProfile;
  }

  /** Closes the connection (the process goes on). */
  close(): void {
    this.#ws.close();
  }
}
