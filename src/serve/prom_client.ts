/**
 * The parts of `prom-client` the server uses, imported file by file instead of through the
 * package's index. The index also loads the Pushgateway client (and with it Node's `http`,
 * `https`, `zlib`, `dns` and `tls` modules), the cluster aggregator, the Summary type with its
 * t-digest dependencies, and the CPU collector's OpenTelemetry API (51 files): about 8 MB of
 * resident memory in a server that uses none of them (docs/benchmarks.md#memory).
 *
 * The process collectors registered here are prom-client's own, minus the event-loop lag
 * monitor, which samples on a 10 ms timer and so wakes an idle server a hundred times a second
 * (and keeps V8 from ever finding it idle enough to return its start-up garbage), the GC-duration
 * histogram, whose performance entries Deno never emits, and the active handles, requests and
 * resources gauges, which Deno's `process` always reports empty. The CPU counters
 * are prom-client's names and help texts, read from `process.cpuUsage()` as its collector does
 * but without the exemplar support that needs OpenTelemetry.
 *
 * @module
 */

import type * as Prom from "prom-client";
import process from "node:process";
import CounterImpl from "prom-client/lib/counter.js";
import GaugeImpl from "prom-client/lib/gauge.js";
import HistogramImpl from "prom-client/lib/histogram.js";
import RegistryImpl from "prom-client/lib/registry.js";
import heapSizeAndUsed from "prom-client/lib/metrics/heapSizeAndUsed.js";
import heapSpacesSizeAndUsed from "prom-client/lib/metrics/heapSpacesSizeAndUsed.js";
import osMemoryHeap from "prom-client/lib/metrics/osMemoryHeap.js";
import processMaxFileDescriptors from "prom-client/lib/metrics/processMaxFileDescriptors.js";
import processOpenFileDescriptors from "prom-client/lib/metrics/processOpenFileDescriptors.js";
import processStartTime from "prom-client/lib/metrics/processStartTime.js";
import version from "prom-client/lib/metrics/version.js";

/** prom-client's `Registry` (from `lib/registry.js`). */
export const Registry: typeof Prom.Registry = RegistryImpl;
/** A prom-client registry. */
export type Registry = Prom.Registry;
/** prom-client's `Counter` (from `lib/counter.js`). */
export const Counter: typeof Prom.Counter = CounterImpl;
/** prom-client's `Gauge` (from `lib/gauge.js`). */
export const Gauge: typeof Prom.Gauge = GaugeImpl;
/** prom-client's `Histogram` (from `lib/histogram.js`). */
export const Histogram: typeof Prom.Histogram = HistogramImpl;

type Collector = (registry: Prom.Registry, config: Record<string, unknown>) => void;

/** The collectors of prom-client's `collectDefaultMetrics` that the server exports. */
const COLLECTORS: readonly Collector[] = [
  processStartTime,
  osMemoryHeap,
  processOpenFileDescriptors,
  processMaxFileDescriptors,
  heapSizeAndUsed,
  heapSpacesSizeAndUsed,
  version,
];

/**
 * Registers the process collectors on `registry`: `process_cpu_*`, `process_start_time_seconds`,
 * `process_resident_memory_bytes` and the other `process_*` memory and file-descriptor gauges,
 * `nodejs_heap_*`, `nodejs_external_memory_bytes` and `nodejs_version_info`.
 */
export function registerProcessCollectors(registry: Prom.Registry): void {
  const registers = [registry];
  let last = process.cpuUsage();
  new Counter({
    name: "process_cpu_user_seconds_total",
    help: "Total user CPU time spent in seconds.",
    registers,
    // One collect sets all three, as in prom-client's collector.
    collect() {
      const now = process.cpuUsage();
      const userMicros = now.user - last.user;
      const systemMicros = now.system - last.system;
      last = now;
      this.inc(userMicros / 1e6);
      system.inc(systemMicros / 1e6);
      total.inc((userMicros + systemMicros) / 1e6);
    },
  });
  const system = new Counter({
    name: "process_cpu_system_seconds_total",
    help: "Total system CPU time spent in seconds.",
    registers,
  });
  const total = new Counter({
    name: "process_cpu_seconds_total",
    help: "Total user and system CPU time spent in seconds.",
    registers,
  });
  for (const collector of COLLECTORS) collector(registry, {});
}
