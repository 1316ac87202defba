/**
 * CPU and allocation profiles of another Deno process through its V8 inspector
 * (`--inspect=127.0.0.1:PORT`): the benchmark drivers use them to show where a server's CPU goes
 * during one scenario (`deno task bench:server --profile repeated`) and how much memory each
 * review allocates, and where (`--alloc-profile`): the garbage that sets how often the GC pauses
 * the server. Speaks the Chrome DevTools protocol's `Profiler` and `HeapProfiler` domains over
 * the inspector's WebSocket; the `.cpuprofile` and `.heapprofile` files open in Chrome DevTools
 * or speedscope. `deno task bench:memory` also reads, through the `Debugger` domain, the sources V8
 * holds for the project's modules, and the heap after a full collection.
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

/** A script as the inspected process's V8 holds it (`Debugger.scriptParsed`). */
export interface LoadedScript {
  /** Its URL (`file:///…` for the project's modules). */
  url: string;
  /** Its whole source, as compiled: for a TypeScript module, the emitted JavaScript. */
  source: string;
  /** The URL its `//# sourceMappingURL=` comment names; a `data:` URL for an inline map. */
  sourceMapURL: string;
}

/** What {@link sourceFootprint} counts, in bytes of V8 heap unless said otherwise. */
export interface SourceFootprint {
  /** Scripts counted. */
  modules: number;
  /** Their sources' length, in characters. */
  chars: number;
  /** The URLs of those with a character above U+00FF, which V8 stores at two bytes each. */
  twoByte: string[];
  /** Their sources' bytes. */
  bytes: number;
  /** The bytes of those sources taken by inline source maps (the `sourceMappingURL` comment). */
  inlineMapBytes: number;
  /** V8's own copy of each inline map's URL, kept apart from the source (one byte each). */
  mapUrlBytes: number;
}

/**
 * What a set of scripts' sources take in the V8 heap: V8 keeps each source whole, at one byte
 * per character when every character is Latin-1 and two otherwise, and keeps the URL of a
 * `//# sourceMappingURL=` comment as a string of its own. `deno run` appends an inline source
 * map (with the TypeScript source in it) to every module it transpiles; a `deno compile` binary
 * stores the maps apart from the JavaScript, so its heap holds neither the map nor the URL.
 */
export function sourceFootprint(scripts: readonly LoadedScript[]): SourceFootprint {
  const out: SourceFootprint = {
    modules: scripts.length,
    chars: 0,
    twoByte: [],
    bytes: 0,
    inlineMapBytes: 0,
    mapUrlBytes: 0,
  };
  for (const s of scripts) {
    // deno-lint-ignore no-control-regex
    const width = /[^\u0000-\u00ff]/.test(s.source) ? 2 : 1;
    if (width === 2) out.twoByte.push(s.url);
    out.chars += s.source.length;
    out.bytes += s.source.length * width;
    const inline = s.sourceMapURL.startsWith("data:");
    const comment = inline ? s.source.lastIndexOf("//# sourceMappingURL=") : -1;
    if (comment >= 0) out.inlineMapBytes += (s.source.length - comment) * width;
    if (inline) out.mapUrlBytes += s.sourceMapURL.length;
  }
  return out;
}

/** A connection to one process's inspector. */
export class V8Profiler {
  readonly #ws: WebSocket;
  readonly #pending = new Map<number, (message: Record<string, unknown>) => void>();
  #onEvent: ((method: string, params: Record<string, unknown>) => void) | undefined;
  #nextId = 0;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.onmessage = (event) => {
      const message = JSON.parse(String(event.data));
      if (message.id === undefined) {
        this.#onEvent?.(message.method, message.params ?? {});
        return;
      }
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

  /**
   * The scripts the process has compiled whose URL `want` accepts, with their sources as V8
   * holds them: `Debugger.enable` replays a `scriptParsed` event for every script so far.
   */
  async loadedScripts(want: (url: string) => boolean): Promise<LoadedScript[]> {
    const parsed: { scriptId: string; url: string; sourceMapURL: string }[] = [];
    this.#onEvent = (method, params) => {
      if (method !== "Debugger.scriptParsed" || !want(String(params.url))) return;
      parsed.push({
        scriptId: String(params.scriptId),
        url: String(params.url),
        sourceMapURL: String(params.sourceMapURL ?? ""),
      });
    };
    try {
      await this.#call("Debugger.enable");
      // The replayed events precede the answer to a later call on the same connection.
      await this.#call("Runtime.evaluate", { expression: "0" });
    } finally {
      this.#onEvent = undefined;
    }
    const out: LoadedScript[] = [];
    for (const p of parsed) {
      const { scriptSource } = await this.#call("Debugger.getScriptSource", {
        scriptId: p.scriptId,
      });
      out.push({ url: p.url, sourceMapURL: p.sourceMapURL, source: String(scriptSource) });
    }
    await this.#call("Debugger.disable");
    return out;
  }

  /** Runs two full collections, then reads `Deno.memoryUsage()` in the process. */
  async heapAfterGc(): Promise<{ heapUsed: number; heapTotal: number }> {
    await this.#call("HeapProfiler.collectGarbage");
    await this.#call("HeapProfiler.collectGarbage");
    const { result } = await this.#call("Runtime.evaluate", {
      expression: "JSON.stringify(Deno.memoryUsage())",
    });
    const usage = JSON.parse(String((result as { value: unknown }).value));
    return { heapUsed: usage.heapUsed, heapTotal: usage.heapTotal };
  }

  /** Closes the connection (the process goes on). */
  close(): void {
    this.#ws.close();
  }
}
