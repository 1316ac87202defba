/**
 * `deno task bench:server`: load benchmark of the webhook server (issue 5, port decision 18).
 *
 * Starts the SigV4-checking STS peer with 20 ms of added latency, starts `main.ts server` as a
 * separate process, pre-mints distinct valid tokens, and drives the server with `wrk` (64
 * connections over TLS, a Lua script that sends each token once) for two scenarios:
 *
 *  1. distinct tokens: every review is a cache miss and costs one STS round trip;
 *  2. repeated tokens: 64 tokens reused, so reviews are answered from the identity cache.
 *
 * Before them, a warm-up of distinct tokens (20 s by default) brings the server to the state of
 * one that has been running under this load: JIT-compiled, and its identity cache at its cap of
 * 50,000 tokens. Without it a 10 s run ends with the cache half full and reports the peak RSS
 * of a server that has not reached steady state.
 *
 * Reports throughput, p50/p99 latency (and the overhead beyond the nominal STS latency and
 * beyond the peer's own measured round trip), the STS calls actually made, the CPU time per
 * review of the server, the peer and wrk (they share the machine), and the server's peak RSS
 * (VmHWM). The server runs with the V8 flags users get by default (`SERVER_V8_FLAGS`). Needs
 * `wrk` (`apt-get install wrk`). Options: `--duration 10` (seconds), `--connections 64`,
 * `--threads 2`, `--sts-latency 20` (ms), `--warmup 20` (seconds), `--reference` (drive
 * `scripts/bench/reference_server.ts`, a bare `Deno.serve` + `fetch` forwarder, instead of the
 * server: the runtime's ceiling on this machine for the same load), `--sts plain|tls|tls-http1`
 * (how the STS peer is served: plain HTTP/1.1, the default; HTTPS with HTTP/2 or HTTP/1.1 by
 * ALPN; HTTPS offering only HTTP/1.1, as most AWS API endpoints do, where a client needs a
 * connection per concurrent call: the report gives the new connections per 100 reviews, which
 * shows whether the server's STS client reuses them), `--server-root DIR` (run `main.ts` of
 * another checkout of this repository, e.g. `git worktree add /tmp/base main`, with that
 * checkout's `deno.json`, for interleaved A/B runs of two versions of the server under the same
 * benchmark), `--profile distinct|quiet|repeated` (start the server with `--inspect` on a free
 * loopback port and record a V8 CPU profile of that scenario: written to
 * `.state/bench/<scenario>.cpuprofile`, its 30 most sampled frames printed; the inspector costs
 * CPU, so read the shares, and the run's CPU figures only from runs without it),
 * `--alloc-profile distinct|quiet|repeated` (the same inspector, recording that scenario's
 * allocations with V8's sampling heap profiler, garbage included: the KB allocated per review
 * and the sites that allocate most, profile in `.state/bench/<scenario>.heapprofile`), `--trace-gc`
 * (V8's GC trace from the server into `.state/bench/gc.log`, and each scenario's collections and
 * their longest pauses in the report), `--sts-host HOST` (with `--sts tls|tls-http1`: the peer
 * answers as the real STS host name HOST, e.g. `sts.us-east-1.amazonaws.com`, on 127.0.0.1:443
 * with a certificate for it, and the tokens point at `https://HOST`; needs root or
 * CAP_NET_BIND_SERVICE and HOST resolving to 127.0.0.1, e.g. a line in /etc/hosts for the run,
 * checked before any load), `--go-tool PATH` (with `--sts-host`: run the Go tool's binary,
 * `PATH server --config CONFIG`, instead of this server, trusting the peer's CA through
 * `SSL_CERT_FILE`; the same load and figures, for a same-hour comparison: the Go tool verifies
 * only tokens for AWS STS host names; docs/benchmarks.md#against-the-go-tool), `--client wrk|h2`
 * (what sends the reviews: wrk over HTTP/1.1, a connection per review in flight, the default;
 * or `scripts/bench/h2_load` (built by scripts/kube/build.sh), over one HTTP/2 connection with the reviews in
 * flight as concurrent streams, which is how kube-apiserver's token webhook client sends them;
 * docs/benchmarks.md#over-http2-as-kube-apiserver-sends-them). Environment:
 * `BENCH_DENO_FLAGS` (replaces the V8 flags), `BENCH_SERVER_ENV` (`K=V;K2=V2`, extra server
 * environment).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { DEFAULT_MAX_CACHED_TOKENS } from "../src/serve/review_cache.ts";
import { startStsPeer } from "../tests/peers/sts_peer.ts";
import { serverExt, writeCaAndLeaf, writeLeaf } from "../tests/peers/test_ca.ts";
import { loadOrCreateKeyPair } from "../src/serve/mod.ts";
import { mintTokens } from "./lib/mint_tokens.ts";
import { cpuMicros, loadAverage, machineTicks, peakRssMb, rssMb } from "./lib/proc_stats.ts";
import { SERVER_V8_FLAGS, startServerProcess } from "./lib/server_process.ts";
import { allocationSummary, selfTimeSummary, V8Profiler } from "./lib/v8_profiler.ts";
import { formatGcSummary, GC_TRACE_V8_FLAGS, summarizeGcTrace } from "./lib/gc_trace.ts";
import { ensureH2Load, h2LoadArgs, h2LoadPath, runH2Load } from "./lib/h2_load.ts";
import { freePort } from "../tests/peers/ports.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const STATE = `${ROOT}.state/bench`;
const encoder = new TextEncoder();

function print(text = ""): void {
  Deno.stdout.writeSync(encoder.encode(text + "\n"));
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    duration: { type: "string", default: "10" },
    connections: { type: "string", default: "64" },
    threads: { type: "string", default: "2" },
    "sts-latency": { type: "string", default: "20" },
    warmup: { type: "string", default: "20" },
    reference: { type: "boolean", default: false },
    sts: { type: "string", default: "plain" },
    "server-root": { type: "string" },
    profile: { type: "string" },
    "alloc-profile": { type: "string" },
    "trace-gc": { type: "boolean", default: false },
    "go-tool": { type: "string" },
    "sts-host": { type: "string" },
    client: { type: "string", default: "wrk" },
  },
});
const TRACE_GC = values["trace-gc"];
const GC_LOG = `${STATE}/gc.log`;
const PROFILE_SCENARIOS = ["distinct", "quiet", "repeated"] as const;
type Scenario = (typeof PROFILE_SCENARIOS)[number];
function scenarioOption(flag: "profile" | "alloc-profile"): Scenario | undefined {
  const value = values[flag];
  if (value !== undefined && !(PROFILE_SCENARIOS as readonly string[]).includes(value)) {
    throw new Error(`--${flag} must be one of ${PROFILE_SCENARIOS.join(", ")}, not ${value}`);
  }
  return value as Scenario | undefined;
}
const PROFILE = scenarioOption("profile");
const ALLOC_PROFILE = scenarioOption("alloc-profile");
const REFERENCE = values.reference;
const STS_MODES = ["plain", "tls", "tls-http1"] as const;
const STS_MODE = values.sts as (typeof STS_MODES)[number];
if (!STS_MODES.includes(STS_MODE)) {
  throw new Error(`--sts must be one of ${STS_MODES.join(", ")}, not ${values.sts}`);
}
const CLIENTS = ["wrk", "h2"] as const;
/** What sends the reviews: wrk (HTTP/1.1, a connection each) or h2_load (HTTP/2, one connection). */
const CLIENT = values.client as (typeof CLIENTS)[number];
if (!CLIENTS.includes(CLIENT)) {
  throw new Error(`--client must be one of ${CLIENTS.join(", ")}, not ${values.client}`);
}
const H2_LOAD = h2LoadPath((name) => Deno.env.get(name));
const CLIENT_CPU = CLIENT === "h2" ? "h2_load CPU    " : "wrk CPU        ";
/** The Go tool's binary, benchmarked instead of this server (`--go-tool`). */
const GO_TOOL = values["go-tool"];
/** The AWS STS host name the peer answers for on 127.0.0.1:443 (`--sts-host`). */
const STS_HOST = values["sts-host"];
if (STS_HOST !== undefined && STS_MODE === "plain") {
  throw new Error("--sts-host needs --sts tls or --sts tls-http1: STS host names are HTTPS only");
}
if (GO_TOOL !== undefined && (STS_HOST === undefined || REFERENCE)) {
  throw new Error(
    "--go-tool needs --sts-host (the Go tool calls only AWS STS host names, such as " +
      "sts.us-east-1.amazonaws.com) and cannot be combined with --reference",
  );
}
/** The checkout whose `main.ts` is benchmarked (this one by default). */
const SERVER_ROOT = values["server-root"] === undefined
  ? ROOT
  : new URL(values["server-root"].replace(/\/?$/, "/"), `file://${Deno.cwd()}/`).pathname;
const DURATION = Number(values.duration);
const CONNECTIONS = Number(values.connections);
const THREADS = Number(values.threads);
const STS_LATENCY = Number(values["sts-latency"]);
const WARMUP = Number(values.warmup);
const CLUSTER_ID = "bench-cluster";
const PRINCIPALS = 500;

const LUA = `
local tokens = {}
local counter = 0
local step = 1
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
function init(args)
  for line in io.lines(args[1]) do tokens[#tokens + 1] = line end
  step = tonumber(args[2])
  counter = id
end
function request()
  local t = tokens[(counter % #tokens) + 1]
  counter = counter + step
  local body = '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"' .. t .. '"}}'
  return wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, body)
end
`;

/** What one scenario's load gave, whichever client sent it. */
interface LoadResult {
  requests: number;
  /** The load client's own CPU time (user + system), in microseconds. */
  cpuMicros: number;
  /** Share of all CPUs busy during the run, from /proc/stat. */
  machineBusy: number;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: string;
  raw: string;
}

function parseMs(v: string, unit: string): number {
  const n = Number(v);
  return unit === "us" ? n / 1000 : unit === "s" ? n * 1000 : unit === "m" ? n * 60_000 : n;
}

/** What a load client reports; {@link runLoad} adds how busy the machine was. */
type ClientResult = Omit<LoadResult, "machineBusy">;

async function runWrk(
  url: string,
  tokenFile: string,
  connections: number,
  seconds: number,
): Promise<ClientResult> {
  const threads = Math.min(THREADS, connections);
  const args = [
    `-t${threads}`,
    `-c${connections}`,
    `-d${seconds}s`,
    "--latency",
    "-s",
    `${STATE}/bench.lua`,
    url,
    "--",
    tokenFile,
    String(threads),
  ];
  print(`  $ wrk ${args.join(" ")}`);
  // Run through sh so wrk's CPU time shows up in the shell's cutime/cstime once it is reaped.
  const out = await new Deno.Command("sh", {
    args: ["-c", 'wrk "$@"; rc=$?; cat /proc/$$/stat >&2; exit $rc', "sh", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  const raw = new TextDecoder().decode(out.stdout) + stderr.replace(/^\d+ \(sh\).*\n?$/m, "");
  if (!out.success) throw new Error(`wrk failed:\n${raw}`);
  const shStat = stderr.match(/^\d+ \(sh\) (.*)$/m)?.[1]?.split(" ") ?? [];
  // After "(sh) ", field 0 is the state; cutime and cstime are fields 13 and 14.
  const cpuMicros = (Number(shStat[13]) + Number(shStat[14])) * 10_000;
  const pct = (p: string) => {
    const m = raw.match(new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)`, "m"));
    return m ? parseMs(m[1]!, m[2]!) : NaN;
  };
  const requests = Number(raw.match(/(\d+) requests in/)?.[1] ?? NaN);
  return {
    requests,
    cpuMicros,
    rps: Number(raw.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? NaN),
    p50: pct("50"),
    p99: pct("99"),
    non2xx: Number(raw.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0),
    errors: raw.match(/Socket errors:.*/)?.[0] ?? "none",
    raw,
  };
}

/**
 * The same load as {@link runWrk} the way kube-apiserver sends it: h2_load, one HTTP/2
 * connection with `connections` reviews in flight as concurrent streams.
 */
async function runH2(
  url: string,
  tokenFile: string,
  connections: number,
  seconds: number,
): Promise<ClientResult> {
  const options = {
    url,
    caFile: `${STATE}/state/cert.pem`,
    tokenFile,
    concurrency: connections,
    seconds,
  };
  print(`  $ h2_load ${h2LoadArgs(options).join(" ")}`);
  const { result: r, raw } = await runH2Load(H2_LOAD, options);
  if (r.protocol !== "HTTP/2.0" || r.connections !== 1) {
    throw new Error(
      `h2_load used ${r.connections} connection(s) over ${r.protocol}, not one HTTP/2 ` +
        `connection:\n${raw}`,
    );
  }
  return {
    requests: r.requests,
    cpuMicros: r.cpuMicros,
    rps: r.rps,
    p50: r.p50,
    p99: r.p99,
    non2xx: r.non2xx,
    errors: r.errors === 0 ? "none" : `${r.errors} (the first: ${r.firstError})`,
    raw,
  };
}

/** How `n` reviews in flight are sent, in the report's words. */
function inFlight(n: number): string {
  return CLIENT === "h2" ? `${n} streams on one HTTP/2 connection` : `${n} connections`;
}

/** One scenario's load with the `--client` chosen, and how busy the machine was meanwhile. */
async function runLoad(
  url: string,
  tokenFile: string,
  connections = CONNECTIONS,
  seconds = DURATION,
): Promise<LoadResult> {
  const busy0 = await machineTicks();
  const result = await (CLIENT === "h2" ? runH2 : runWrk)(url, tokenFile, connections, seconds);
  const busy1 = await machineTicks();
  return {
    ...result,
    machineBusy: (busy1.busy - busy0.busy) / Math.max(1, busy1.total - busy0.total),
  };
}

/**
 * Throughput and p50/p99 of the STS peer on its own at `connections` for `seconds`: one
 * presigned URL, sent by wrk straight to the peer.
 */
async function stsRoundTrip(
  token: string,
  connections: number,
  seconds: number,
): Promise<{ rps: number; p50: number; p99: number }> {
  const b64 = token.slice("k8s-aws-v1.".length).replaceAll("-", "+").replaceAll("_", "/");
  const url = atob(b64 + "==".slice(0, (4 - (b64.length % 4)) % 4));
  const out = await new Deno.Command("wrk", {
    args: [
      `-t${Math.min(THREADS, connections)}`,
      `-c${connections}`,
      `-d${seconds}s`,
      "--latency",
      "-H",
      `x-k8s-aws-id: ${CLUSTER_ID}`,
      "-H",
      "accept: application/json",
      url,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const raw = new TextDecoder().decode(out.stdout);
  if (!out.success || /Non-2xx/.test(raw)) throw new Error(`the STS peer did not answer:\n${raw}`);
  const pct = (p: string) => {
    const m = raw.match(new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)`, "m"));
    return m ? parseMs(m[1]!, m[2]!) : NaN;
  };
  return {
    rps: Number(raw.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? NaN),
    p50: pct("50"),
    p99: pct("99"),
  };
}

/** Heap figures from the server's own /metrics (prom-client's process collectors). */
async function heapFigures(metricsUrl: string, caFile: string): Promise<string> {
  const out = await new Deno.Command("curl", {
    args: ["-sS", "--cacert", caFile, metricsUrl],
    stdout: "piped",
    stderr: "null",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const get = (name: string) =>
    Number(text.match(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, "m"))?.[1] ?? NaN) /
    1048576;
  // The reference forwarder has no /metrics, the Go tool's has no V8 heap.
  if (Number.isNaN(get("nodejs_heap_size_used_bytes"))) return "(no heap figures on its /metrics)";
  return `heap used ${get("nodejs_heap_size_used_bytes").toFixed(1)} MB of ` +
    `${get("nodejs_heap_size_total_bytes").toFixed(1)} MB, external ` +
    `${get("nodejs_external_memory_bytes").toFixed(1)} MB`;
}

/**
 * Fails unless `host` resolves to the loopback address, where the peer listens on 443: the
 * line `127.0.0.1 <host>` in /etc/hosts is the usual way. Checked by connecting the way the
 * servers will (the system resolver), so a wrong entry cannot send the load to real AWS.
 */
async function checkStsHost(host: string, peer: { close(): Promise<void> }): Promise<void> {
  let conn: Deno.TcpConn | undefined;
  try {
    conn = await Deno.connect({ hostname: host, port: 443 });
    if (conn.remoteAddr.hostname === "127.0.0.1") return;
    throw new Error(`${host} resolves to ${conn.remoteAddr.hostname}`);
  } catch (e) {
    await peer.close();
    throw new Error(
      `--sts-host ${host} must resolve to 127.0.0.1 (add "127.0.0.1 ${host}" to /etc/hosts ` +
        `for the run): ${(e as Error).message}`,
    );
  } finally {
    conn?.close();
  }
}

async function main(): Promise<number> {
  const which = await new Deno.Command("sh", { args: ["-c", "command -v wrk"], stdout: "null" })
    .output();
  if (!which.success) {
    print("wrk is not installed: apt-get install wrk (Debian/Ubuntu) or brew install wrk");
    return 2;
  }
  await Deno.mkdir(STATE, { recursive: true });
  await Deno.writeTextFile(`${STATE}/bench.lua`, LUA);
  if (CLIENT === "h2") await ensureH2Load();

  const principals = Array.from({ length: PRINCIPALS }, (_, i) => ({
    accessKeyId: `AKIABENCH${String(i).padStart(11, "0")}`,
    secretAccessKey: `bench-secret-${i}`,
    arn: `arn:aws:iam::111122223333:user/bench${i}`,
    userId: `AIDABENCH${i}`,
    account: "111122223333",
  }));
  let tls: { cert: string; key: string; http1Only: boolean } | undefined;
  const caDir = `${STATE}/sts-ca`;
  if (STS_MODE !== "plain") {
    await Deno.mkdir(caDir, { recursive: true });
    const ca = await writeCaAndLeaf(caDir);
    tls = { cert: ca.cert, key: ca.key, http1Only: STS_MODE === "tls-http1" };
    if (STS_HOST !== undefined) {
      await writeLeaf(caDir, "host", `/CN=${STS_HOST}`, serverExt([`DNS:${STS_HOST}`]), 1);
      const read = (f: string) => Deno.readTextFile(`${caDir}/${f}`);
      tls = { ...tls, cert: await read("host.crt"), key: await read("host.key") };
    }
  }
  const peer = await startStsPeer({
    principals,
    latencyMs: STS_LATENCY,
    tls,
    port: STS_HOST === undefined ? 0 : 443,
  }).catch((e) => {
    throw STS_HOST === undefined ? e : new Error(
      `cannot serve the STS peer on 127.0.0.1:443 for --sts-host (it needs root or ` +
        `CAP_NET_BIND_SERVICE): ${(e as Error).message}`,
    );
  });
  // With --sts-host, tokens and servers use the real host name, which must lead to the peer.
  const stsUrl = STS_HOST === undefined ? peer.url : `https://${STS_HOST}`;
  if (STS_HOST !== undefined) await checkStsHost(STS_HOST, peer);
  // The reference reads the server's key pair as it is; make sure there is one (not timed).
  await loadOrCreateKeyPair({
    stateDir: `${STATE}/state`,
    address: "127.0.0.1",
    hostname: "127.0.0.1",
  });

  // Enough distinct tokens for the warm-up and the run at 3,500 reviews/s, plus the quiet run's:
  // principals × signing times (one second apart, all within the last few minutes, so all still
  // valid). The three sets never overlap, so every review of scenario 1 is a cache miss.
  const warmCount = Math.ceil(WARMUP * 3_500 * 1.2);
  const distinctCount = Math.max(20_000, Math.ceil(DURATION * 3_500 * 1.2));
  const needed = warmCount + distinctCount + 5_000;
  const seconds = Math.ceil(needed / PRINCIPALS);
  const t0 = performance.now();
  const now = Date.now();
  const tokens = await mintTokens(
    principals,
    Array.from({ length: seconds }, (_, s) => new Date(now - s * 1000)),
    { clusterId: CLUSTER_ID, endpoint: stsUrl },
  );
  const warmFile = `${STATE}/tokens-warmup.txt`;
  await Deno.writeTextFile(warmFile, tokens.slice(0, warmCount).join("\n") + "\n");
  const distinctFile = `${STATE}/tokens-distinct.txt`;
  await Deno.writeTextFile(
    distinctFile,
    tokens.slice(warmCount, warmCount + distinctCount).join("\n") + "\n",
  );
  const quietFile = `${STATE}/tokens-quiet.txt`;
  await Deno.writeTextFile(quietFile, tokens.slice(-5_000).join("\n") + "\n");
  const repeatedFile = `${STATE}/tokens-repeated.txt`;
  await Deno.writeTextFile(repeatedFile, tokens.slice(0, CONNECTIONS).join("\n") + "\n");
  print(
    `minted ${tokens.length} distinct tokens in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );

  const users = principals.map((p, i) =>
    `  - userarn: ${p.arn}\n    username: bench${i}\n    groups: [bench]\n`
  ).join("");
  const configPath = `${STATE}/config.yaml`;
  await Deno.writeTextFile(
    configPath,
    `clusterID: ${CLUSTER_ID}\nserver:\n  hostname: 127.0.0.1\n  port: 0\n  healthPort: 0\n` +
      `  stateDir: ${STATE}/state\n  generateKubeconfig: ${STATE}/kubeconfig.yaml\n` +
      `  mapUsers:\n${users}`,
  );
  await Deno.writeTextFile(`${STATE}/server.log`, "");
  // `BENCH_DENO_FLAGS` replaces the V8 flags (`BENCH_DENO_FLAGS=""` runs V8's defaults).
  const inspectPort = PROFILE === undefined && ALLOC_PROFILE === undefined ? undefined : freePort();
  const denoFlags = (Deno.env.get("BENCH_DENO_FLAGS") ?? SERVER_V8_FLAGS) +
    (inspectPort === undefined ? "" : ` --inspect=127.0.0.1:${inspectPort}`) +
    (TRACE_GC ? ` ${GC_TRACE_V8_FLAGS}` : "");
  if (TRACE_GC) await Deno.writeTextFile(GC_LOG, "");
  const server = await startServerProcess({
    entry: REFERENCE ? `${ROOT}scripts/bench/reference_server.ts` : `${SERVER_ROOT}main.ts`,
    executable: GO_TOOL,
    denoConfig: REFERENCE ? `${ROOT}deno.json` : `${SERVER_ROOT}deno.json`,
    args: REFERENCE ? [`${STATE}/state`, CLUSTER_ID] : ["server", "--config", configPath],
    logPath: `${STATE}/server.log`,
    stdoutPath: TRACE_GC ? GC_LOG : undefined,
    denoFlags,
    readyTimeoutMs: 30_000,
    env: {
      // With --sts-host the servers call the token's own host, the real STS name.
      ...(STS_HOST === undefined ? { AWS_ENDPOINT_URL_STS: peer.url } : {}),
      // The runtime's fetch trusts the peer's throwaway CA through DENO_CERT, Go through
      // SSL_CERT_FILE. No EC2 metadata service here (the Go tool asks it for its region).
      ...(tls ? { DENO_CERT: `${caDir}/ca.crt`, SSL_CERT_FILE: `${caDir}/ca.crt` } : {}),
      AWS_EC2_METADATA_DISABLED: "true",
      AWS_REGION: "us-east-1",
      ...(Deno.env.get("BENCH_SERVER_ENV")
        ? Object.fromEntries(
          Deno.env.get("BENCH_SERVER_ENV")!.split(";").map((
            kv,
          ) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
        )
        : {}),
    },
  }).catch(async (e) => {
    await peer.close();
    throw e;
  });
  let profiler: V8Profiler | undefined;
  /**
   * Runs one scenario's load: under the CPU profiler when `--profile` names it, recording its
   * allocations when `--alloc-profile` does, with its GC pauses reported under `--trace-gc`.
   */
  const scenario = async <T extends { requests: number }>(
    name: Scenario,
    run: () => Promise<T>,
  ): Promise<T> => {
    const gcOffset = TRACE_GC ? (await Deno.stat(GC_LOG)).size : 0;
    const sampling = PROFILE === name ? profiler : undefined;
    const allocations = ALLOC_PROFILE === name ? profiler : undefined;
    await sampling?.start();
    await allocations?.startAllocations();
    const result = await run();
    if (allocations !== undefined) {
      const profile = await allocations.stopAllocations();
      const file = `${STATE}/${name}.heapprofile`;
      await Deno.writeTextFile(file, JSON.stringify(profile));
      const { totalBytes, top } = allocationSummary(profile, 25);
      print(
        `  allocated       ${(totalBytes / Math.max(1, result.requests) / 1024).toFixed(1)} KB ` +
          `per review (V8 heap, sampled every 1 KB, garbage included; ${file}); charged to:`,
      );
      for (const { percent, bytes, frame } of top) {
        print(
          `    ${percent.toFixed(1).padStart(5)} %  ${
            (bytes / Math.max(1, result.requests)).toFixed(0).padStart(6)
          } B  ${frame}`,
        );
      }
    }
    if (sampling !== undefined) {
      const profile = await sampling.stop();
      const file = `${STATE}/${name}.cpuprofile`;
      await Deno.writeTextFile(file, JSON.stringify(profile));
      print(`  CPU profile     ${file}; most sampled frames (self time):`);
      for (const { percent, frame } of selfTimeSummary(profile)) {
        print(`    ${percent.toFixed(1).padStart(5)} %  ${frame}`);
      }
    }
    if (TRACE_GC) {
      const text = new TextDecoder().decode((await Deno.readFile(GC_LOG)).subarray(gcOffset));
      print(`  GC pauses       ${formatGcSummary(summarizeGcTrace(text))} (${GC_LOG})`);
    }
    return result;
  };
  try {
    if (inspectPort !== undefined) {
      profiler = await V8Profiler.connect(inspectPort);
      print(
        `PROFILING the ${PROFILE ?? ALLOC_PROFILE} scenario: the inspector costs the server ` +
          "CPU, so this run's CPU and throughput figures are not comparable",
      );
    }
    const url = `https://${server.address}/authenticate`;
    if (REFERENCE) {
      print(
        "REFERENCE RUN: scripts/bench/reference_server.ts, not the authenticator (see its doc)",
      );
    }
    if (GO_TOOL !== undefined) print(`GO TOOL RUN: ${GO_TOOL} server, not this server`);
    const transport = {
      plain: "plain HTTP/1.1",
      tls: "TLS (HTTP/2 or HTTP/1.1 by ALPN)",
      "tls-http1": "TLS, HTTP/1.1 only",
    }[STS_MODE];
    print(
      `server pid ${server.pid} on ${url}; STS peer latency ${STS_LATENCY} ms, served over ` +
        transport + (STS_HOST === undefined ? "" : ` as ${STS_HOST}`),
    );
    const rssAtListen = await rssMb(server.pid);
    await new Promise((r) => setTimeout(r, 2_000));
    print(
      `idle RSS ${rssAtListen.toFixed(1)} MB once listening, ${
        (await rssMb(server.pid)).toFixed(1)
      } MB 2 s later`,
    );
    print(
      `machine: ${navigator.hardwareConcurrency} CPUs (server, STS peer and ${
        CLIENT === "h2" ? "h2_load" : "wrk"
      } share them); reviews sent by ${
        CLIENT === "h2"
          ? "h2_load over one HTTP/2 connection, as kube-apiserver sends them"
          : "wrk over HTTP/1.1, a connection each"
      }`,
    );
    print();

    // The STS round trip on its own: the peer's timer fires a little after the nominal latency,
    // and that time is not the server's. Measured with one presigned URL sent straight to it.
    const stsAloneLoaded = await stsRoundTrip(tokens.at(-1)!, CONNECTIONS, 3);
    print(
      `0. the STS peer alone (no server), for the nominal ${STS_LATENCY} ms:\n` +
        `  ${String(CONNECTIONS).padEnd(2)} connections  ${
          stsAloneLoaded.rps.toFixed(0)
        } calls/s, ` +
        `p50 ${stsAloneLoaded.p50.toFixed(2)} ms, p99 ${stsAloneLoaded.p99.toFixed(2)} ms`,
    );
    print();

    if (WARMUP > 0) {
      const warm = await runLoad(url, warmFile, CONNECTIONS, WARMUP);
      print(
        `warm-up: ${warm.requests} distinct tokens in ${WARMUP} s (the identity cache keeps ` +
          `at most ${DEFAULT_MAX_CACHED_TOKENS.toLocaleString("en-US")}), not reported below`,
      );
      print();
    }

    print(`1. distinct valid tokens (every review calls STS), ${inFlight(CONNECTIONS)}:`);
    const caFile = `${STATE}/state/cert.pem`;
    const metricsUrl = url.replace(/\/authenticate$/, "/metrics");
    const stsBefore = peer.requestCount;
    const conns0 = peer.connectionCount;
    const cpu0 = await cpuMicros(server.pid);
    const peerCpu0 = await cpuMicros(Deno.pid);
    const miss = await scenario("distinct", () => runLoad(url, distinctFile));
    const missCpu = (await cpuMicros(server.pid) - cpu0) / miss.requests;
    const peerCpu = (await cpuMicros(Deno.pid) - peerCpu0) /
      Math.max(1, peer.requestCount - stsBefore);
    const stsCalls = peer.requestCount - stsBefore;
    print(`  throughput      ${miss.rps.toFixed(0)} reviews/s (${miss.requests} reviews)`);
    print(`  latency         p50 ${miss.p50.toFixed(2)} ms, p99 ${miss.p99.toFixed(2)} ms`);
    print(
      `  p99 overhead    ${(miss.p99 - STS_LATENCY).toFixed(2)} ms beyond the ${STS_LATENCY} ms ` +
        `STS latency (${
          (miss.p99 - stsAloneLoaded.p99).toFixed(2)
        } ms beyond the peer's own round trip at ${CONNECTIONS} connections)`,
    );
    print(
      `  STS calls       ${stsCalls} (non-2xx responses: ${miss.non2xx}; socket errors: ${miss.errors})`,
    );
    print(
      `  STS connections ${peer.connectionCount - conns0} new (${
        ((peer.connectionCount - conns0) / Math.max(1, miss.requests) * 100).toFixed(2)
      } per 100 reviews; ${peer.connectionCount} since the start)`,
    );
    print(
      `  server CPU      ${missCpu.toFixed(0)} µs per review (≈ ${
        (1e6 / missCpu).toFixed(0)
      } reviews/s per core)`,
    );
    print(
      `  STS peer CPU    ${
        peerCpu.toFixed(0)
      } µs per call (SigV4 check; same machine, one JS thread)`,
    );
    // The peer runs the same code every time, so its cost tracks the machine's speed at the
    // moment: the ratio compares runs made at different speeds (docs/benchmarks.md).
    print(
      `  relative CPU    ${
        (missCpu / Math.max(1, peerCpu)).toFixed(2)
      } µs of server per µs of the peer's check`,
    );
    print(`  ${CLIENT_CPU} ${(miss.cpuMicros / miss.requests).toFixed(0)} µs per review`);
    print(
      `  machine         ${
        (miss.machineBusy * 100).toFixed(0)
      } % of ${navigator.hardwareConcurrency} CPUs busy; load average ${await loadAverage()}`,
    );
    print(
      `  peak RSS        ${
        (await peakRssMb(server.pid)).toFixed(1)
      } MB (warm-up and this run); ${await heapFigures(
        metricsUrl,
        caFile,
      )}`,
    );
    print();

    print(
      `2. distinct valid tokens at low concurrency (${inFlight(4)}): the server's own overhead`,
    );
    // The baseline is the peer alone at the same concurrency, for as long as the scenario and
    // right before it: a p99 of a few seconds of samples moved by ±2 ms from run to run, as
    // much as the overhead it was meant to show.
    const stsAlone = await stsRoundTrip(tokens.at(-1)!, 4, DURATION);
    print(
      `  STS peer alone  p50 ${stsAlone.p50.toFixed(2)} ms, p99 ${stsAlone.p99.toFixed(2)} ms ` +
        `(4 connections, ${DURATION} s, just before)`,
    );
    const quiet = await scenario("quiet", () => runLoad(url, quietFile, 4));
    print(`  throughput      ${quiet.rps.toFixed(0)} reviews/s (${quiet.requests} reviews)`);
    print(`  latency         p50 ${quiet.p50.toFixed(2)} ms, p99 ${quiet.p99.toFixed(2)} ms`);
    print(
      `  overhead        p50 ${(quiet.p50 - STS_LATENCY).toFixed(2)} ms, p99 ${
        (quiet.p99 - STS_LATENCY).toFixed(2)
      } ms beyond the ${STS_LATENCY} ms STS latency; p50 ${
        (quiet.p50 - stsAlone.p50).toFixed(2)
      } ms, p99 ${(quiet.p99 - stsAlone.p99).toFixed(2)} ms beyond the measured STS round trip`,
    );
    print();

    print(`3. repeated tokens (${CONNECTIONS} tokens, answered from the identity cache):`);
    const stsBefore2 = peer.requestCount;
    const cpu1 = await cpuMicros(server.pid);
    const hit = await scenario("repeated", () => runLoad(url, repeatedFile));
    const hitCpu = (await cpuMicros(server.pid) - cpu1) / hit.requests;
    print(`  throughput      ${hit.rps.toFixed(0)} reviews/s (${hit.requests} reviews)`);
    print(`  latency         p50 ${hit.p50.toFixed(2)} ms, p99 ${hit.p99.toFixed(2)} ms`);
    print(
      `  STS calls       ${
        peer.requestCount - stsBefore2
      } (non-2xx responses: ${hit.non2xx}; socket errors: ${hit.errors})`,
    );
    print(
      `  server CPU      ${hitCpu.toFixed(0)} µs per review (≈ ${
        (1e6 / hitCpu).toFixed(0)
      } reviews/s per core)`,
    );
    print(`  ${CLIENT_CPU} ${(hit.cpuMicros / hit.requests).toFixed(0)} µs per review`);
    print(
      `  machine         ${
        (hit.machineBusy * 100).toFixed(0)
      } % of ${navigator.hardwareConcurrency} CPUs busy; load average ${await loadAverage()}`,
    );
    print(
      `  peak RSS        ${
        (await peakRssMb(server.pid)).toFixed(1)
      } MB (whole run); ${await heapFigures(metricsUrl, caFile)}`,
    );
    await Deno.writeTextFile(`${STATE}/${CLIENT}-distinct.txt`, miss.raw);
    await Deno.writeTextFile(`${STATE}/${CLIENT}-repeated.txt`, hit.raw);
    return 0;
  } finally {
    profiler?.close();
    await server.stop();
    await peer.close();
  }
}

if (import.meta.main) Deno.exit(await main());
