/**
 * Batches log lines into few writes. The server logs one line per review; writing each line
 * with its own synchronous `write(2)` cost more CPU than answering a cached review (measured
 * with `deno task bench:server`), so lines are collected and written together a few
 * milliseconds later, or at once when enough have piled up or one of them matters right now.
 *
 * @module
 */

/** Effects of a {@link LineBuffer}; tests replace them. */
export interface LineBufferDeps {
  /** Writes bytes synchronously and returns how many were written (`Deno.stderr.writeSync`). */
  writeSync(bytes: Uint8Array): number;
  /** Runs `fn` after `ms` milliseconds (`setTimeout`). */
  schedule(fn: () => void, ms: number): void;
}

/** Options of a {@link LineBuffer}. */
export interface LineBufferOptions {
  /** Longest a line waits before it is written; default 5 ms. */
  delayMs?: number;
  /** Buffered bytes (UTF-16 code units, a close enough measure) that force a write; default 64 Ki. */
  maxBuffered?: number;
}

const encoder = new TextEncoder();

/**
 * Collects lines and writes them in order, all of a batch in one synchronous write. Nothing
 * is dropped: a full buffer is written at once instead of waiting.
 */
export class LineBuffer {
  readonly #deps: LineBufferDeps;
  readonly #delayMs: number;
  readonly #maxBuffered: number;
  #parts: string[] = [];
  #buffered = 0;
  #scheduled = false;
  // Reused for every batch that fits: a new buffer per batch (hundreds per second under load)
  // is memory the runtime hands back only after a garbage collection.
  #scratch: Uint8Array | undefined;

  /** A buffer writing through `deps` (default: the process's stderr and `setTimeout`). */
  constructor(deps?: Partial<LineBufferDeps>, options: LineBufferOptions = {}) {
    this.#deps = {
      writeSync: deps?.writeSync ?? ((b) => Deno.stderr.writeSync(b)),
      schedule: deps?.schedule ?? ((fn, ms) => setTimeout(fn, ms)),
    };
    this.#delayMs = options.delayMs ?? 5;
    this.#maxBuffered = options.maxBuffered ?? 64 * 1024;
  }

  /** Number of lines waiting to be written. */
  get pending(): number {
    return this.#parts.length;
  }

  /** Queues a line (with its newline); `urgent` writes it and everything before it now. */
  write(line: string, urgent = false): void {
    this.#parts.push(line);
    this.#buffered += line.length;
    if (urgent || this.#buffered >= this.#maxBuffered) {
      this.flush();
    } else if (!this.#scheduled) {
      this.#scheduled = true;
      this.#deps.schedule(() => {
        this.#scheduled = false;
        try {
          this.flush();
        } catch {
          // stderr is gone (a closed pipe): there is nowhere left to report it, and a throw from
          // a timer would take the server down with it.
        }
      }, this.#delayMs);
    }
  }

  /** Writes every queued line now. */
  flush(): void {
    if (this.#parts.length === 0) return;
    const text = this.#parts.join("");
    // Into the reused buffer when the batch fits (`read` counts the UTF-16 units it took).
    this.#scratch ??= new Uint8Array(this.#maxBuffered * 2);
    const encoded = encoder.encodeInto(text, this.#scratch);
    const bytes = encoded.read === text.length
      ? this.#scratch.subarray(0, encoded.written)
      : encoder.encode(text);
    this.#parts = [];
    this.#buffered = 0;
    let written = 0;
    while (written < bytes.length) {
      written += this.#deps.writeSync(bytes.subarray(written));
    }
  }
}
