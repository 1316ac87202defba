/**
 * The soak (docs/soak.md): the real server process under load, STS faults, mapping churn,
 * kube-apiserver and server restarts and input fuzzing at once, every answer judged by the
 * oracle. `runSoak` is what `deno task soak` and `tests/soak/soak_test.ts` call.
 *
 * The order of events over a run of `durationS` seconds (fractions of it):
 *
 * - 0: load (`connections` workers and the probes), random STS faults and mapping churn start;
 * - 0.2 and 0.55: a 2 s burst of throttling; 0.3: a 2 s burst of 503s;
 * - 0.4: kube-apiserver is restarted (the EKSConfigMap and CRD churn waits for it);
 * - 0.7: SIGTERM under load (STS answers slowed to 1.5 s so reviews are in flight), the exit
 *   status and every in-flight answer checked, then the server started again;
 * - 0.75: fuzzing for `fuzzS` seconds;
 * - 1: the load stops, the server gets SIGTERM again, the oracle judges every review.
 *
 * Memory growth is measured on the first server process, from the end of the warm-up to the
 * SIGTERM.
 *
 * Everything listens on and connects to 127.0.0.1, and the server's sockets are checked for it
 * every two seconds.
 *
 * @module
 */

import { DEFAULT_STS_TIMEOUT_MS } from "../../src/verify/mod.ts";
import { kubeClientFor } from "../../src/map/kube.ts";
import { installCrd } from "../../tests/map/_kube.ts";
import { type KubeApiServer, startKubeApiServer } from "../../tests/peers/kube_apiserver.ts";
import { freePort } from "../../tests/peers/ports.ts";
import { serverExt, writeCa, writeLeaf } from "../../tests/peers/test_ca.ts";
import { startStsPeer, type StsRandomFaults } from "../../tests/peers/sts_peer.ts";
import { rssMb } from "../lib/proc_stats.ts";
import { type ServerProcess, startServerProcess } from "../lib/server_process.ts";
import { Churn, now } from "./churn.ts";
import { Fuzzer, type FuzzRecord, judgeFuzz } from "./fuzz.ts";
import { DEFAULT_MIX, Load, Reviewer, TokenSupply } from "./load.ts";
import { MappingOracle, type SourceName, SourceTimeline } from "./mapping_model.ts";
import { Monitor } from "./monitor.ts";
import {
  type AnswerRecord,
  judge,
  type Lifetime,
  type OracleContext,
  type ReviewRecord,
  type Violation,
} from "./oracle.ts";
import { seededRng } from "./random.ts";
import { buildReport, type SoakReport } from "./report.ts";
import { queryKey } from "./tokens.ts";
import { configYaml, PRINCIPALS, RESERVED, STATIC_STATE } from "./world.ts";

/** Probabilities of the random STS faults, per STS call. */
export type FaultRates = Required<
  Pick<StsRandomFaults, "throttle" | "status5xx" | "reset" | "hang" | "garbage" | "spike">
>;

/** The default fault rates: about one STS call in eight fails somehow. */
export const DEFAULT_FAULT_RATES: FaultRates = {
  throttle: 0.03,
  status5xx: 0.03,
  reset: 0.02,
  hang: 0.005,
  garbage: 0.02,
  spike: 0.005,
};

/** How a soak runs. */
export interface SoakOptions {
  /** Seconds of load (setup and teardown come on top). */
  durationS: number;
  /** Concurrent review workers. */
  connections: number;
  /** Seed of every random choice. */
  seed: number;
  /** Random STS fault rates. */
  faults: FaultRates;
  /** Throttling and 5xx bursts. */
  bursts: boolean;
  /** Run kube-apiserver for the EKSConfigMap and CRD backends (and restart it once). */
  kube: boolean;
  /** Seconds of fuzzing (0: none). */
  fuzzS: number;
  /** SIGTERM under load and a restart in the middle of the run. */
  processFaults: boolean;
  /** Seconds before memory growth is measured. */
  warmupS: number;
  /**
   * The reload windows the oracle allows (docs/soak.md#reload-windows): the longest the server
   * may serve a mapping version after the next one was written, for the DynamicFile and for the
   * kube-apiserver sources (whose watch may be reconnecting after a restart).
   */
  reloadWindowMs: { file: number; kube: number };
  /** The tree whose `main.ts` runs as the server (a patched copy to check the oracle). */
  root: string;
  /** Where certificates, config, logs and the report go (created; left in place). */
  dir: string;
  /** Invariant 4 and 3 bounds. */
  thresholds: {
    /** Largest RSS growth after warm-up, MB per minute. */
    rssSlopeMbPerMin: number;
    /** Largest p99 of the `/healthz` round trip, ms. */
    healthP99Ms: number;
    /** Longest a review may take, ms (the STS timeout plus queueing). */
    latencyBoundMs: number;
  };
  /** The command line, for the report. */
  command: string;
  /** Progress lines. */
  log: (line: string) => void;
}

/** Default options: the 5-minute run of `deno task soak`. */
export function defaultSoakOptions(): SoakOptions {
  return {
    durationS: 300,
    connections: 64,
    seed: 1,
    faults: { ...DEFAULT_FAULT_RATES },
    bursts: true,
    kube: true,
    fuzzS: 30,
    processFaults: true,
    warmupS: 60,
    reloadWindowMs: { file: 5000, kube: 15_000 },
    root: new URL("../../", import.meta.url).pathname,
    dir: `${new URL("../../", import.meta.url).pathname}.state/soak`,
    thresholds: { rssSlopeMbPerMin: 8, healthP99Ms: 1000, latencyBoundMs: 15_000 },
    command: "deno task soak",
    log: () => {},
  };
}

/** What a soak found. */
export interface SoakResult {
  /** No invariant was broken. */
  ok: boolean;
  /** Every broken invariant. */
  violations: SoakViolation[];
  /** The figures. */
  report: SoakReport;
}

/** A broken invariant of any kind. */
export interface SoakViolation {
  /** The invariant (`1 …` to `4 …`, or `loopback`). */
  invariant: string;
  /** What happened. */
  detail: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A CA and a serving certificate for 127.0.0.1 signed by it, in the server's state dir. The
 * server uses an existing pair as is; a leaf under a CA (rather than the self-signed CA the
 * server generates, which Deno's TLS client refuses as a server certificate) lets the load
 * generator verify the server with Deno's own `fetch`.
 */
async function writeCerts(dir: string, stateDir: string): Promise<string> {
  await Deno.mkdir(stateDir, { recursive: true, mode: 0o700 });
  await writeCa(dir, "aia-soak-ca");
  await writeLeaf(dir, "server", "/CN=127.0.0.1", serverExt(["IP:127.0.0.1"]));
  await Deno.writeTextFile(`${stateDir}/key.pem`, await Deno.readTextFile(`${dir}/server.key`), {
    mode: 0o600,
  });
  await Deno.writeTextFile(`${stateDir}/cert.pem`, await Deno.readTextFile(`${dir}/server.crt`), {
    mode: 0o644,
  });
  return await Deno.readTextFile(`${dir}/ca.crt`);
}

function assertLoopback(what: string, hostPort: string): void {
  if (!/^(https?:\/\/)?127\.0\.0\.1:\d+(\/|$)/.test(hostPort)) {
    throw new Error(`${what} is not on 127.0.0.1: ${hostPort}`);
  }
}

/** Runs a soak; never throws for a broken invariant (see `SoakResult`), only for setup failures. */
export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  const log = o.log;
  const rng = seededRng(o.seed);
  const root = o.root.replace(/\/+$/, "");
  await Deno.remove(o.dir, { recursive: true }).catch(() => {});
  await Deno.mkdir(o.dir, { recursive: true, mode: 0o700 });
  const dir = await Deno.realPath(o.dir);
  const stateDir = `${dir}/server-state`;
  const mapDir = `${dir}/mappings`;
  await Deno.mkdir(mapDir, { mode: 0o700 });
  const caPem = await writeCerts(dir, stateDir);
  const logPath = `${dir}/server.log`;
  const port = freePort();
  const healthPort = freePort();

  // Every STS answer, filed by the query of the URL it answered.
  const answers = new Map<string, AnswerRecord[]>();
  const origin = performance.timeOrigin;
  const peer = await startStsPeer({
    principals: PRINCIPALS.filter((p) => p.role !== "unknown"),
    transport: "tcp",
    onAnswer: (a) => {
      const key = queryKey(a.query);
      let list = answers.get(key);
      if (list === undefined) answers.set(key, list = []);
      list.push({
        queryKey: key,
        fault: a.fault,
        status: a.status,
        code: a.code,
        message: a.message,
        arn: a.arn,
        arrivedAt: origin + a.arrivedAt,
        answeredAt: origin + a.answeredAt,
      });
    },
  });
  assertLoopback("the STS peer", peer.url);
  let peerClosed: Promise<void> | undefined;
  const closePeer = () => peerClosed ??= peer.close();
  const cleanups: (() => Promise<unknown>)[] = [closePeer];
  let kube: KubeApiServer | undefined;
  let server: ServerProcess | undefined;
  try {
    const timelines: Partial<Record<SourceName, SourceTimeline>> = {
      dyn: new SourceTimeline("dyn", o.reloadWindowMs.file),
    };
    let kubeClient;
    if (o.kube) {
      log("starting etcd and kube-apiserver ...");
      kube = await startKubeApiServer();
      cleanups.unshift(() => kube!.stop());
      assertLoopback("kube-apiserver", kube.server);
      kubeClient = await kubeClientFor({ kubeconfig: kube.kubeconfigPath, master: "" });
      const client = kubeClient;
      cleanups.unshift(() => client.close());
      await installCrd(kubeClient);
      timelines.cm = new SourceTimeline("cm", o.reloadWindowMs.kube);
      timelines.crd = new SourceTimeline("crd", o.reloadWindowMs.kube);
    }
    const dynamicFile = `${mapDir}/mapping.json`;
    const churn = new Churn({ timelines, dynamicFile, kube: kubeClient, rng: rng.fork(), log });
    await churn.init();

    const configPath = `${dir}/config.yaml`;
    await Deno.writeTextFile(
      configPath,
      configYaml({
        port,
        healthPort,
        stateDir,
        kubeconfigOut: `${dir}/webhook.kubeconfig`,
        dynamicFile,
        kube: o.kube,
      }),
      { mode: 0o600 },
    );
    const lifetimes: Lifetime[] = [];
    const startServer = async () => {
      const start = now();
      const s = await startServerProcess({
        entry: `${root}/main.ts`,
        denoConfig: `${root}/deno.json`,
        args: [
          "server",
          "--config",
          configPath,
          "--log-format",
          "json",
          ...(kube ? ["--kubeconfig", kube.kubeconfigPath] : []),
        ],
        logPath,
        health: true,
        env: {
          AWS_ENDPOINT_URL_STS: peer.url,
          AWS_REGION: "us-east-1",
          AWS_EC2_METADATA_DISABLED: "true",
          AWS_CONFIG_FILE: "/dev/null",
          AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
        },
      });
      assertLoopback("the webhook", s.address);
      assertLoopback("the health listener", s.healthAddress ?? "");
      lifetimes.push({ start, end: Infinity });
      return s;
    };
    log(`starting the server (${root}/main.ts) ...`);
    server = await startServer();
    cleanups.unshift(() => server!.stop("SIGKILL"));
    const url = `https://127.0.0.1:${port}/authenticate`;
    const startedAt = now();

    const reviews: ReviewRecord[] = [];
    const reviewer = new Reviewer(
      url,
      () => lifetimes.length - 1,
      (r) => reviews.push(r),
      o.thresholds.latencyBoundMs + 15_000,
    );
    const supply = new TokenSupply(
      peer.url,
      rng.fork(),
      Math.min(o.durationS * 600, 14 * 60_000),
    );
    await supply.init();
    const load = new Load(reviewer, supply, rng.fork(), caPem, timelines);
    const monitor = new Monitor(
      `http://127.0.0.1:${healthPort}/healthz`,
      `https://127.0.0.1:${port}/metrics`,
      caPem,
    );
    const fuzzer = new Fuzzer(port, caPem, rng.fork());
    const rssStart = await rssMb(server.pid);
    monitor.follow(server.pid, 0);

    const randomFaults: StsRandomFaults = { ...o.faults, random: rng.fork().next };
    const faultsOn = () => peer.setFaults({ random: randomFaults });
    faultsOn();
    load.start(o.connections);
    // The churn starts once the probes have seen the first version of every source.
    for (const t of Object.values(timelines)) {
      const deadline = Date.now() + 60_000;
      while (!t.seenAtLeast(0) && Date.now() < deadline) await sleep(50);
    }
    churn.start();
    const t0 = now();
    const until = async (fraction: number) => {
      const at = t0 + fraction * o.durationS * 1000;
      while (now() < at) await sleep(Math.min(500, at - now()));
    };
    log(`load: ${o.connections} connections for ${o.durationS} s (seed ${o.seed})`);

    const burst = async (what: string, faults: Parameters<typeof peer.setFaults>[0]) => {
      log(`  STS burst: ${what} for 2 s`);
      peer.setFaults(faults);
      await sleep(2000);
      faultsOn();
    };
    const events: Record<string, unknown> = {};
    let kubeRestart: Promise<void> = Promise.resolve();
    let fuzzing: Promise<void> = Promise.resolve();
    if (o.bursts) {
      await until(0.2);
      await burst("throttling", { throttle: true });
      await until(0.3);
      await burst("503", { status: 503 });
    }
    if (kube !== undefined) {
      await until(0.4);
      const k = kube;
      kubeRestart = (async () => {
        log("  restarting kube-apiserver ...");
        await churn.kubeGate.close();
        const begin = now();
        try {
          await k.restartApiServer();
        } finally {
          churn.kubeGate.open();
        }
        events.apiserverRestartS = (now() - begin) / 1000;
        log(`  kube-apiserver back after ${(events.apiserverRestartS as number).toFixed(1)} s`);
      })();
    }
    if (o.bursts) {
      await until(0.55);
      await burst("throttling", { throttle: true });
    }
    await kubeRestart;

    // Stops the running server under load and checks how it went.
    const sigterm = async (restart: boolean) => {
      await churn.settle();
      peer.setFaults({ latencyMs: 1500 });
      peer.releaseHangs();
      load.setMix({ fresh: 1 });
      await sleep(2500);
      await monitor.scrape().catch(() => {});
      load.pause();
      // Requests already handed to fetch reach the server before the signal.
      await sleep(300);
      const inFlight = load.inFlight;
      const life = lifetimes.length - 1;
      await monitor.pause();
      const signalled = now();
      const status = await server!.stop("SIGTERM", 30_000);
      lifetimes[life]!.end = now();
      await load.drained(30_000);
      const outcome = {
        inFlight,
        exitCode: status.code,
        signal: status.signal,
        stopS: (lifetimes[life]!.end - signalled) / 1000,
        restartS: NaN,
      };
      log(
        `  SIGTERM with ${inFlight} reviews in flight: exit ${status.code} after ` +
          `${outcome.stopS.toFixed(1)} s`,
      );
      if (restart) {
        const begin = now();
        server = await startServer();
        outcome.restartS = (now() - begin) / 1000;
        monitor.follow(server.pid, lifetimes.length - 1);
        faultsOn();
        load.setMix(DEFAULT_MIX);
        load.resume();
        churn.resume();
        log(`  server restarted in ${outcome.restartS.toFixed(1)} s`);
      }
      return outcome;
    };
    if (o.processFaults) {
      await until(0.7);
      events.sigterm = await sigterm(true);
    }
    // Fuzzing comes after the restart: the large bodies it sends grow the heap in steps, which
    // would hide a leak's slope in the first process's memory samples.
    if (o.fuzzS > 0) {
      await until(0.75);
      log(`  fuzzing for ${o.fuzzS} s`);
      load.setMix({ ...DEFAULT_MIX, mutated: 40 });
      fuzzing = fuzzer.runFor(o.fuzzS * 1000).finally(() => load.setMix(DEFAULT_MIX));
    }
    await fuzzing;
    await until(1);
    log("stopping ...");
    await churn.stop();
    events.finalStop = await sigterm(false);
    await load.stop();
    await monitor.stop();
    // Requests the STS peer still holds (a spike the server gave up on) are recorded when they
    // end; closing it ends them, so the oracle sees every answer.
    await closePeer();
    const endedAt = now();

    // The oracle.
    log(`judging ${reviews.length} reviews ...`);
    const mapping = new MappingOracle(
      { name: "MountedFile", state: STATIC_STATE, reserved: RESERVED.static },
      (["dyn", "cm", "crd"] as const).filter((s) => timelines[s] !== undefined).map((s) => ({
        timeline: timelines[s]!,
        reserved: RESERVED[s],
      })),
    );
    const ctx: OracleContext = {
      answers,
      lifetimes,
      mapping,
      stsTimeoutMs: DEFAULT_STS_TIMEOUT_MS,
      latencyBoundMs: o.thresholds.latencyBoundMs,
    };
    const reviewViolations: Violation[] = [];
    for (const r of reviews) {
      const v = judge(r, ctx);
      if (v !== undefined) reviewViolations.push(v);
    }
    const violations: SoakViolation[] = reviewViolations.map((v) => ({
      invariant: v.invariant,
      detail: `review #${v.review.id} ${v.review.kind} token of ${v.review.principal}` +
        `${v.review.harmless ? ` (harmless: ${v.review.harmless})` : ""}: got ${v.observed}; ` +
        `allowed ${v.allowed.join(" | ") || "nothing"}` +
        `${v.review.transportError ? ` (${v.review.transportError})` : ""}`,
    }));
    for (const t of Object.values(timelines)) {
      for (const g of t.regressions()) {
        violations.push({
          invariant: "2 wrong user or groups",
          detail: `${t.source}: a probe saw version ${g.later.seen} after one had seen ` +
            `${g.earlier.seen} (the mapping went back)`,
        });
      }
    }
    const fuzzRecords: FuzzRecord[] = fuzzer.records;
    for (const f of fuzzRecords) {
      const bad = judgeFuzz(f, o.thresholds.latencyBoundMs);
      if (bad !== undefined) {
        violations.push({
          invariant: bad === "authenticated" ? "1 false accept" : "3 fuzz input mishandled",
          detail: `fuzz ${f.case}: ${bad}`,
        });
      }
    }
    for (const s of monitor.offLoopback) {
      violations.push({
        invariant: "loopback",
        detail: `the server held a ${s.table} socket ${s.local} -> ${s.remote}`,
      });
    }
    for (
      const [name, stop] of Object.entries({ sigterm: events.sigterm, final: events.finalStop })
    ) {
      const s = stop as { exitCode: number; signal: unknown } | undefined;
      if (s !== undefined && s.exitCode !== 0) {
        violations.push({
          invariant: "3 no answer",
          detail: `${name}: the server exited with ${s.exitCode} (signal ${s.signal}) on SIGTERM`,
        });
      }
    }
    // The evidence of every broken review invariant, for whoever has to find the bug.
    await Deno.writeTextFile(
      `${dir}/violations.json`,
      JSON.stringify(
        reviewViolations.map((v) => ({
          ...v,
          answers: (answers.get(v.review.queryKey ?? "") ?? []).map((a) => ({
            ...a,
            arrivedAt: a.arrivedAt - v.review.t0,
            answeredAt: a.answeredAt - v.review.t0,
          })),
          lifetime: lifetimes[v.review.lifetime],
        })),
        null,
        2,
      ),
    );
    await Deno.writeTextFile(`${dir}/rss.json`, JSON.stringify(monitor.rss));
    const serverLog = await Deno.readTextFile(logPath).catch(() => "");
    const report = buildReport({
      options: o,
      reviews,
      answers,
      timelines,
      churn: churn.counts,
      fuzz: fuzzRecords,
      monitor,
      rssStart,
      lifetimes,
      startedAt,
      endedAt,
      loadStartedAt: t0,
      events,
      serverLog,
      violations,
      dir,
    });
    for (const v of report.invariant4Violations) violations.push(v);
    report.violations.total = violations.length;
    return { ok: violations.length === 0, violations, report };
  } finally {
    for (const c of cleanups) await c().catch(() => {});
  }
}
