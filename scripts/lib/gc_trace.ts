/**
 * Reads V8's garbage-collection trace (`--v8-flags=--trace-gc,--trace-gc-nvp`, one JSON object per
 * collection after `GC: ` on stdout) and sums up the pauses: the benchmark drivers use it to show
 * how much of a scenario's tail latency is the collector stopping the JS thread
 * (`deno task bench:server --trace-gc`).
 *
 * @module
 */

/** The V8 flags that make a process write the trace this module reads. */
export const GC_TRACE_V8_FLAGS = "--v8-flags=--trace-gc,--trace-gc-nvp";

/** One kind of collection in a {@link GcSummary}. */
export interface GcKind {
  /** How many collections of this kind. */
  count: number;
  /** Sum of their pauses, in ms. */
  totalMs: number;
  /** The longest pause, in ms. */
  maxMs: number;
}

/** The pauses in a stretch of trace, by kind. */
export interface GcSummary {
  /** Young-generation collections (V8's `s`, scavenges; `mmc`/`ms` minor collectors included). */
  young: GcKind;
  /** Full collections (`mc`, mark-compact), whose finalization pauses the thread longest. */
  full: GcKind;
  /** Pauses longer than the given threshold, of either kind, in ms, longest first. */
  longPauses: number[];
}

const RECORD_RE = /GC: (\{.*\})\s*$/;

/**
 * Sums up the trace lines in `text` (other lines are ignored). `longMs`: pauses at least this
 * long are listed in {@link GcSummary.longPauses}.
 */
export function summarizeGcTrace(text: string, longMs = 2): GcSummary {
  const kind = (): GcKind => ({ count: 0, totalMs: 0, maxMs: 0 });
  const out: GcSummary = { young: kind(), full: kind(), longPauses: [] };
  for (const line of text.split("\n")) {
    const json = line.match(RECORD_RE)?.[1];
    if (json === undefined) continue;
    let record: { pause?: unknown; gc?: unknown };
    try {
      record = JSON.parse(json);
    } catch {
      continue; // a line cut by a concurrent write; the rest still counts
    }
    if (typeof record.pause !== "number" || typeof record.gc !== "string") continue;
    const target = record.gc === "mc" ? out.full : out.young;
    target.count++;
    target.totalMs += record.pause;
    target.maxMs = Math.max(target.maxMs, record.pause);
    if (record.pause >= longMs) out.longPauses.push(record.pause);
  }
  out.longPauses.sort((a, b) => b - a);
  return out;
}

/** One line for a report: `full 12 (max 5.5 ms, 41 ms in all), young 310 (max 1.2 ms, …)`. */
export function formatGcSummary(s: GcSummary, longMs = 2): string {
  const part = (name: string, k: GcKind) =>
    `${name} ${k.count} (max ${k.maxMs.toFixed(1)} ms, ${k.totalMs.toFixed(0)} ms in all)`;
  return `${part("full", s.full)}, ${part("young", s.young)}; ${s.longPauses.length} pauses ≥ ` +
    `${longMs} ms`;
}
