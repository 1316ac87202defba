/**
 * The soak's figures (docs/soak.md#report): reviews served, denials by reason (from the answers,
 * the server's log and its metric), STS faults injected by kind, reload events, invariant
 * violations, latency, memory and event-loop delay, and the command line.
 *
 * @module
 */

import type { ChurnCounts } from "./churn.ts";
import type { FuzzRecord } from "./fuzz.ts";
import type { SourceName, SourceTimeline } from "./mapping_model.ts";
import type { Monitor } from "./monitor.ts";
import type { AnswerRecord, Lifetime, ReviewRecord } from "./oracle.ts";

/** The nearest-rank percentile of a list (NaN when empty). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1))]!;
}

/** The largest value (NaN when empty); no spread, lists can be long. */
export function maxOf(values: readonly number[]): number {
  let m = -Infinity;
  for (const v of values) if (v > m) m = v;
  return values.length === 0 ? NaN : m;
}

/** Least-squares slope of `y` over `x`, per unit of `x` (NaN with fewer than 2 points). */
export function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}

function count<T>(xs: Iterable<T>, key: (x: T) => string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) {
    const k = key(x);
    if (k !== undefined) out[k] = (out[k] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a < b ? -1 : 1));
}

/** Server log messages that are reload events. */
const RELOAD_MESSAGES: readonly [string, RegExp][] = [
  ["DynamicFile loaded", /^dynamic file loaded$/],
  ["DynamicFile deleted", /^dynamic file was deleted/],
  ["aws-auth loaded", /^aws-auth ConfigMap loaded$/],
  ["aws-auth deleted", /^aws-auth ConfigMap was deleted/],
  ["load rejected (last good kept)", /^mapping entry rejected/],
  ["watch reconnected", /watch closed; reconnecting$/],
  ["list/watch failed (retried)", /unable to list or watch/],
];

/** Everything `buildReport` summarizes. */
export interface ReportInput {
  /** The options the soak ran with. */
  options: {
    durationS: number;
    connections: number;
    seed: number;
    kube: boolean;
    fuzzS: number;
    warmupS: number;
    faults: Record<string, number>;
    thresholds: { rssSlopeMbPerMin: number; healthP99Ms: number; latencyBoundMs: number };
    reloadWindowMs: { file: number; kube: number };
    command: string;
  };
  /** Every review. */
  reviews: readonly ReviewRecord[];
  /** Every STS answer. */
  answers: ReadonlyMap<string, readonly AnswerRecord[]>;
  /** The mapping sources. */
  timelines: Readonly<Partial<Record<SourceName, SourceTimeline>>>;
  /** What the churn did. */
  churn: Readonly<Record<SourceName, ChurnCounts>>;
  /** The fuzz cases. */
  fuzz: readonly FuzzRecord[];
  /** The samples. */
  monitor: Monitor;
  /** RSS right after the first start, MB. */
  rssStart: number;
  /** Server lifetimes. */
  lifetimes: readonly Lifetime[];
  /** The server was up (epoch ms). */
  startedAt: number;
  /** Everything stopped. */
  endedAt: number;
  /** The load started. */
  loadStartedAt: number;
  /** kube-apiserver restart and SIGTERM outcomes. */
  events: Record<string, unknown>;
  /** The server's log (JSON lines). */
  serverLog: string;
  /** Violations found so far (invariants 1-3, loopback). */
  violations: readonly { invariant: string; detail: string }[];
  /** Where the run's files are. */
  dir: string;
}

/** The figures of a soak. */
export interface SoakReport {
  /** The command line and the main options. */
  command: string;
  /** Seed, duration, connections, kube, fuzz seconds, fault rates. */
  settings: Record<string, unknown>;
  /** Reviews sent, by token kind and by outcome. */
  reviews: {
    total: number;
    perSecond: number;
    byKind: Record<string, number>;
    byOutcome: Record<string, number>;
  };
  /** Denials by reason: from the answers, from the server log (every process), from the metric. */
  denials: {
    responses: Record<string, number>;
    log: Record<string, number>;
    metric: Record<string, number>;
    /** Token, STS and mapping reasons agree between answers and log. */
    consistent: boolean;
  };
  /** STS calls and faults injected by kind. */
  sts: { calls: number; faults: Record<string, number> };
  /** Mapping writes, server reload events and reload latency per source. */
  reloads: {
    writes: Record<string, ChurnCounts>;
    serverEvents: Record<string, number>;
    latencyMs: Record<string, { p50: number; max: number; unseen: number }>;
  };
  /** Token mutations: how many, how many harmless, how many authenticated. */
  mutations: { total: number; harmless: Record<string, number>; authenticated: number };
  /** Fuzz cases and the statuses they got. */
  fuzz: Record<string, Record<string, number>>;
  /** Process events (kube-apiserver restart, SIGTERM). */
  events: Record<string, unknown>;
  /** Review latency, ms. */
  latencyMs: { p50: number; p99: number; max: number };
  /** Resident memory, MB, and its growth after warm-up. */
  rss: { startMb: number; peakMb: number; endMb: number; slopeMbPerMin: number };
  /** Event-loop delay: `/healthz` round trips, ms. */
  eventLoop: {
    healthP50Ms: number;
    healthP99Ms: number;
    healthMaxMs: number;
    healthFailures: number;
  };
  /** Sockets seen off the loopback interface. */
  offLoopback: number;
  /** Broken invariants. */
  violations: { total: number; byInvariant: Record<string, number>; examples: string[] };
  /** Invariant 4 findings (added to the violations by the caller). */
  invariant4Violations: { invariant: string; detail: string }[];
  /** Where the logs are. */
  dir: string;
}

function parseLog(
  text: string,
): { reasons: Record<string, number>; reloads: Record<string, number> } {
  const reasons: Record<string, number> = {};
  const reloads: Record<string, number> = {};
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    let rec: { msg?: string; reason?: string };
    try {
      rec = JSON.parse(line);
    } catch {
      continue;
    }
    if ((rec.msg === "access denied" || rec.msg === "malformed request") && rec.reason) {
      reasons[rec.reason] = (reasons[rec.reason] ?? 0) + 1;
    }
    for (const [name, re] of RELOAD_MESSAGES) {
      if (re.test(rec.msg ?? "")) reloads[name] = (reloads[name] ?? 0) + 1;
    }
  }
  return { reasons, reloads };
}

function metricDenials(texts: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const text of texts) {
    for (
      const m of text.matchAll(/^aws_iam_authenticator_denials_total\{reason="([^"]+)"\} (\S+)/gm)
    ) {
      const n = Number(m[2]);
      if (n > 0) out[m[1]!] = (out[m[1]!] ?? 0) + n;
    }
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a < b ? -1 : 1));
}

/** Summarizes a soak (and judges invariant 4 against the thresholds). */
export function buildReport(i: ReportInput): SoakReport {
  const answered = i.reviews.filter((r) => r.transportError === undefined);
  const latencies = answered.map((r) => r.t1 - r.t0);
  const allAnswers = [...i.answers.values()].flat();
  const parsed = parseLog(i.serverLog);
  const responses = count(
    answered,
    (r) => r.authenticated === true ? undefined : r.reason,
  );
  // Fuzz bodies reach the handler too (request.* reasons, and a review of token "x"), so only
  // the reasons of real tokens are compared.
  const consistent =
    Object.entries(responses).every(([reason, n]) =>
      reason === "token.prefix" || reason.startsWith("request.") || parsed.reasons[reason] === n
    ) && Object.entries(parsed.reasons).every(([reason, n]) =>
      reason === "token.prefix" || reason.startsWith("request.") || responses[reason] === n
    );
  const latencyBySource: Record<string, { p50: number; max: number; unseen: number }> = {};
  for (const [name, t] of Object.entries(i.timelines)) {
    const l = t!.reloadLatencies();
    const seen = l.map((x) => x.atMostMs).filter((x) => Number.isFinite(x));
    latencyBySource[name] = {
      p50: percentile(seen, 50),
      max: maxOf(seen),
      unseen: l.length - seen.length,
    };
  }
  const rss = i.monitor.rss;
  const warm = i.loadStartedAt + i.options.warmupS * 1000;
  const firstLife = i.lifetimes[0]!;
  // The first process until the SIGTERM (at 0.7 of the run), before the fuzzing.
  const windowEnd = Math.min(firstLife.end, i.loadStartedAt + 0.7 * i.options.durationS * 1000);
  const steady = rss.filter((s) => s.lifetime === 0 && s.t >= warm && s.t <= windowEnd);
  const slopePerMs = steady.length >= 10 ? slope(steady.map((s) => ({ x: s.t, y: s.mb }))) : NaN;
  const health = i.monitor.healthMs.map((h) => h.ms);
  const healthOk = health.filter((x) => Number.isFinite(x));
  const healthFailures = health.length - healthOk.length;
  // A failed health probe counts as infinitely slow for the p99.
  const healthP99 = percentile(health.map((x) => Number.isFinite(x) ? x : Infinity), 99);
  const mutated = i.reviews.filter((r) => r.kind === "mutated");
  const fuzz: Record<string, Record<string, number>> = {};
  for (const f of i.fuzz) {
    const k = f.status !== undefined ? String(f.status) : f.closed ? "closed" : "no answer";
    (fuzz[f.case] ??= {})[k] = (fuzz[f.case]![k] ?? 0) + 1;
  }
  const inv4: { invariant: string; detail: string }[] = [];
  const slopePerMin = slopePerMs * 60_000;
  if (slopePerMin > i.options.thresholds.rssSlopeMbPerMin) {
    inv4.push({
      invariant: "4 memory grows",
      detail: `RSS grew ${slopePerMin.toFixed(2)} MB/min after warm-up (bound ` +
        `${i.options.thresholds.rssSlopeMbPerMin} MB/min)`,
    });
  }
  if (healthP99 > i.options.thresholds.healthP99Ms) {
    inv4.push({
      invariant: "4 event loop delayed",
      detail:
        `/healthz p99 ${healthP99.toFixed(0)} ms (bound ${i.options.thresholds.healthP99Ms} ms; ` +
        `${healthFailures} probes unanswered)`,
    });
  }
  const all = [...i.violations, ...inv4];
  return {
    command: i.options.command,
    settings: {
      seed: i.options.seed,
      durationS: i.options.durationS,
      connections: i.options.connections,
      backends: i.options.kube
        ? "MountedFile, DynamicFile, EKSConfigMap, CRD"
        : "MountedFile, DynamicFile",
      fuzzS: i.options.fuzzS,
      faultRates: i.options.faults,
      thresholds: i.options.thresholds,
      reloadWindowMs: i.options.reloadWindowMs,
    },
    reviews: {
      total: i.reviews.length,
      perSecond: i.reviews.length / ((i.endedAt - i.loadStartedAt) / 1000),
      byKind: count(i.reviews, (r) => r.kind),
      byOutcome: count(
        i.reviews,
        (r) =>
          r.transportError !== undefined
            ? "no answer"
            : r.status === 200 && r.authenticated
            ? "200 authenticated"
            : r.status === 200
            ? "200 denied"
            : String(r.status),
      ),
    },
    denials: {
      responses,
      log: Object.fromEntries(Object.entries(parsed.reasons).sort(([a], [b]) => a < b ? -1 : 1)),
      metric: metricDenials(i.monitor.lastMetrics.filter((x) => x !== undefined)),
      consistent,
    },
    sts: { calls: allAnswers.length, faults: count(allAnswers, (a) => a.fault ?? "none") },
    reloads: {
      writes: { ...i.churn } as Record<string, ChurnCounts>,
      serverEvents: parsed.reloads,
      latencyMs: latencyBySource,
    },
    mutations: {
      total: mutated.length,
      harmless: count(mutated, (r) => r.harmless ?? "harmful"),
      authenticated: mutated.filter((r) => r.authenticated).length,
    },
    fuzz,
    events: i.events,
    latencyMs: {
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: maxOf(latencies),
    },
    rss: {
      startMb: i.rssStart,
      peakMb: maxOf(rss.map((s) => s.mb)),
      endMb: rss.at(-1)?.mb ?? NaN,
      slopeMbPerMin: slopePerMin,
    },
    eventLoop: {
      healthP50Ms: percentile(healthOk, 50),
      healthP99Ms: healthP99,
      healthMaxMs: maxOf(healthOk),
      healthFailures,
    },
    offLoopback: i.monitor.offLoopback.length,
    violations: {
      total: all.length,
      byInvariant: count(all, (v) => v.invariant),
      examples: all.slice(0, 20).map((v) => `[${v.invariant}] ${v.detail}`),
    },
    invariant4Violations: inv4,
    dir: i.dir,
  };
}

const f1 = (x: number) => Number.isFinite(x) ? x.toFixed(1) : String(x);
const f0 = (x: number) => Number.isFinite(x) ? x.toFixed(0) : String(x);
const kv = (o: Record<string, unknown>) =>
  Object.entries(o).map(([k, v]) => `${k} ${typeof v === "number" ? f0(v) : JSON.stringify(v)}`)
    .join(", ") || "none";

/** The report as text (what `deno task soak` prints). */
export function renderReport(r: SoakReport): string {
  const lines = [
    `soak: ${r.command}`,
    `  settings        ${kv(r.settings)}`,
    `  reviews         ${r.reviews.total} (${f0(r.reviews.perSecond)}/s)`,
    `    by kind       ${kv(r.reviews.byKind)}`,
    `    by outcome    ${kv(r.reviews.byOutcome)}`,
    `  denials by reason (answers): ${kv(r.denials.responses)}`,
    `    server log (all processes): ${kv(r.denials.log)}`,
    `    denials_total (last scrape of each process): ${kv(r.denials.metric)}`,
    `    answers and log agree: ${r.denials.consistent ? "yes" : "NO"}`,
    `  STS calls       ${r.sts.calls}; faults injected: ${kv(r.sts.faults)}`,
    `  mapping writes  ${
      Object.entries(r.reloads.writes).map(([s, c]) =>
        `${s}: ${kv(c as unknown as Record<string, unknown>)}`
      )
        .join("; ")
    }`,
    `  server reloads  ${kv(r.reloads.serverEvents)}`,
    `  reload latency  ${
      Object.entries(r.reloads.latencyMs).map(([s, l]) =>
        `${s}: p50 ${f0(l.p50)} ms, max ${f0(l.max)} ms, unseen ${l.unseen}`
      ).join("; ")
    }`,
    `  mutated tokens  ${r.mutations.total} (${
      kv(r.mutations.harmless)
    }); authenticated ${r.mutations.authenticated}`,
    `  fuzz            ${
      Object.entries(r.fuzz).map(([c, s]) => `${c} ${kv(s)}`).join("; ") || "none"
    }`,
    `  events          ${JSON.stringify(r.events)}`,
    `  latency         p50 ${f1(r.latencyMs.p50)} ms, p99 ${f1(r.latencyMs.p99)} ms, max ${
      f1(r.latencyMs.max)
    } ms`,
    `  RSS             start ${f1(r.rss.startMb)} MB, peak ${f1(r.rss.peakMb)} MB, end ${
      f1(r.rss.endMb)
    } MB; after warm-up ${
      Number.isFinite(r.rss.slopeMbPerMin) ? r.rss.slopeMbPerMin.toFixed(2) : "n/a"
    } MB/min`,
    `  event loop      /healthz p50 ${f1(r.eventLoop.healthP50Ms)} ms, p99 ${
      f1(r.eventLoop.healthP99Ms)
    } ms, max ${f1(r.eventLoop.healthMaxMs)} ms (${r.eventLoop.healthFailures} unanswered)`,
    `  off loopback    ${r.offLoopback} sockets`,
    `  violations      ${r.violations.total} ${kv(r.violations.byInvariant)}`,
    ...r.violations.examples.map((e) => `    ${e}`),
    `  files           ${r.dir}`,
  ];
  return lines.join("\n");
}
