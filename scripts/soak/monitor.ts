/**
 * Watching the server process from outside while the soak runs: its resident memory every
 * second, the latency of its plain-HTTP `/healthz` (served on the same event loop as the
 * reviews, so its latency is the event-loop delay plus a loopback round trip), its
 * `/metrics` (`aws_iam_authenticator_denials_total`), and every socket it holds, to prove that
 * nothing it does leaves the loopback interface.
 *
 * @module
 */

import { rssMb } from "../lib/proc_stats.ts";
import { now } from "./churn.ts";

/** One memory sample. */
export interface RssSample {
  /** Epoch ms. */
  t: number;
  /** Server lifetime. */
  lifetime: number;
  /** VmRSS in MB. */
  mb: number;
}

/** A socket of the server whose address is not on the loopback interface. */
export interface OffLoopback {
  /** Epoch ms. */
  t: number;
  /** `/proc/net` table. */
  table: string;
  /** Local address. */
  local: string;
  /** Remote address. */
  remote: string;
}

/** `/proc/net/*` hex address to text (`0100007F:1F90` → `127.0.0.1:8080`). */
export function procAddress(hex: string, v6: boolean): string {
  const [addr, port] = hex.split(":") as [string, string];
  const p = parseInt(port, 16);
  if (!v6) {
    const b = addr.match(/../g)!.map((x) => parseInt(x, 16)).reverse();
    return `${b.join(".")}:${p}`;
  }
  // Four little-endian 32-bit words.
  const words = addr.match(/.{8}/g)!.map((w) => w.match(/../g)!.reverse().join(""));
  return `[${words.join("").match(/.{4}/g)!.join(":")}]:${p}`;
}

/** Whether an address from {@link procAddress} is loopback or unspecified (a listener). */
export function isLoopbackOrUnspecified(a: string): boolean {
  if (a.startsWith("127.") || a.startsWith("0.0.0.0:")) return true;
  const h = a.slice(1, a.lastIndexOf("]")).replaceAll(":", "");
  return /^0{31}1$/.test(h) || /^0{32}$/.test(h) ||
    // IPv4-mapped loopback, ::ffff:127.x.x.x
    /^0{20}ffff7f/.test(h);
}

/** The sockets `pid` holds that are bound or connected off the loopback interface. */
export async function offLoopbackSockets(pid: number): Promise<OffLoopback[]> {
  const inodes = new Set<string>();
  try {
    for await (const fd of Deno.readDir(`/proc/${pid}/fd`)) {
      try {
        const target = await Deno.readLink(`/proc/${pid}/fd/${fd.name}`);
        const m = /^socket:\[(\d+)\]$/.exec(target);
        if (m) inodes.add(m[1]!);
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    return [];
  }
  const out: OffLoopback[] = [];
  for (const table of ["tcp", "tcp6", "udp", "udp6"]) {
    let text: string;
    try {
      text = await Deno.readTextFile(`/proc/${pid}/net/${table}`);
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || !inodes.has(f[9]!)) continue;
      const v6 = table.endsWith("6");
      const local = procAddress(f[1]!, v6);
      const remote = procAddress(f[2]!, v6);
      if (!isLoopbackOrUnspecified(local) || !isLoopbackOrUnspecified(remote)) {
        out.push({ t: now(), table, local, remote });
      }
    }
  }
  return out;
}

/** The value of a metric line, summed over its label sets. */
export function metricValue(text: string, name: string, labels?: string): number {
  let sum = 0;
  let found = false;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    if (labels !== undefined && !(m[2] ?? "").includes(labels)) continue;
    sum += Number(m[3]);
    found = true;
  }
  return found ? sum : NaN;
}

/** Samples the server while it runs. */
export class Monitor {
  /** Memory samples. */
  readonly rss: RssSample[] = [];
  /** `/healthz` round trips in ms (NaN: no answer within 10 s). */
  readonly healthMs: { t: number; ms: number }[] = [];
  /** Sockets off the loopback interface (must stay empty). */
  readonly offLoopback: OffLoopback[] = [];
  /** The last `/metrics` text of each lifetime. */
  readonly lastMetrics: string[] = [];
  #timers: ReturnType<typeof setInterval>[] = [];
  #health = Deno.createHttpClient({});
  #metrics: Deno.HttpClient;
  #busy = new Set<Promise<unknown>>();
  #pid = 0;
  #lifetime = 0;
  #running = false;

  /**
   * @param healthUrl `http://127.0.0.1:PORT/healthz`
   * @param metricsUrl `https://127.0.0.1:PORT/metrics`
   * @param caPem the CA of the webhook's certificate
   */
  constructor(
    private readonly healthUrl: string,
    private readonly metricsUrl: string,
    caPem: string,
  ) {
    this.#metrics = Deno.createHttpClient({ caCerts: [caPem] });
  }

  #every(ms: number, fn: () => Promise<void>): void {
    this.#timers.push(setInterval(() => {
      if (!this.#running) return;
      const p = fn().catch(() => {});
      this.#busy.add(p);
      void p.finally(() => this.#busy.delete(p));
    }, ms));
  }

  /** Follows the server process `pid` (lifetime `lifetime`) until `pause`. */
  follow(pid: number, lifetime: number): void {
    this.#pid = pid;
    this.#lifetime = lifetime;
    this.#running = true;
    if (this.#timers.length > 0) return;
    this.#every(1000, async () => {
      const mb = await rssMb(this.#pid);
      if (Number.isFinite(mb)) this.rss.push({ t: now(), lifetime: this.#lifetime, mb });
    });
    this.#every(250, async () => {
      const t0 = now();
      try {
        const res = await fetch(this.healthUrl, {
          client: this.#health,
          signal: AbortSignal.timeout(10_000),
        });
        await res.body?.cancel();
        this.healthMs.push({ t: t0, ms: now() - t0 });
      } catch {
        if (this.#running) this.healthMs.push({ t: t0, ms: NaN });
      }
    });
    this.#every(10_000, () => this.scrape());
    this.#every(2000, async () => {
      this.offLoopback.push(...await offLoopbackSockets(this.#pid));
    });
  }

  /** Scrapes `/metrics` once (kept as the lifetime's last). */
  async scrape(): Promise<void> {
    const res = await fetch(this.metricsUrl, {
      client: this.#metrics,
      signal: AbortSignal.timeout(10_000),
    });
    this.lastMetrics[this.#lifetime] = await res.text();
  }

  /** Stops sampling (the server is about to stop); waits for samples in progress. */
  async pause(): Promise<void> {
    this.#running = false;
    await Promise.allSettled([...this.#busy]);
  }

  /** Stops for good. */
  async stop(): Promise<void> {
    await this.pause();
    for (const t of this.#timers) clearInterval(t);
    this.#health.close();
    this.#metrics.close();
  }
}
