/**
 * The soak's traffic: `connections` workers sending TokenReviews back to back, each over its
 * own HTTP client (so its own connection; half HTTP/1.1, half HTTP/2 as kube-apiserver speaks
 * it), with a mix of tokens; and the probes, which review each source's probe principal a few
 * times a second so the oracle sees which mapping version is in force.
 *
 * @module
 */

import { mintToken } from "../lib/mint_tokens.ts";
import { now } from "./churn.ts";
import type { SourceName, SourceTimeline } from "./mapping_model.ts";
import type { ReviewRecord, TokenKind } from "./oracle.ts";
import type { Rng } from "./random.ts";
import { mutate, tokenQueryKey } from "./tokens.ts";
import {
  CLUSTER_ID,
  FOREIGN_CLUSTER_ID,
  principal,
  PRINCIPALS,
  probeOf,
  type SoakPrincipal,
} from "./world.ts";

/** STS stops accepting a presigned URL 15 minutes after its X-Amz-Date. */
const VALIDITY_MS = 15 * 60 * 1000;
/** Hot tokens are replaced after this long (they stay valid for 15 minutes). */
const HOT_ROTATE_MS = 5 * 60 * 1000;

/** Token kinds the workers choose from, with their weights. */
export type LoadMix = Readonly<Partial<Record<Exclude<TokenKind, "probe">, number>>>;

/** The default mix: mostly valid tokens, a steady share of every kind that must be denied. */
export const DEFAULT_MIX: LoadMix = {
  hot: 38,
  fresh: 25,
  expiring: 8,
  foreign: 7,
  expired: 5,
  unknown: 5,
  mutated: 12,
};

/** A token and what the oracle must know about it. */
export interface SentToken {
  /** The token. */
  token: string;
  /** Its kind. */
  kind: TokenKind;
  /** Who signed it. */
  principal: string;
  /** X-Amz-Date + 15 minutes (of the original, for a mutated token). */
  expiresAt: number;
  /** Set for a harmless mutation. */
  harmless?: string;
}

function expiryOf(at: number): number {
  return Math.floor(at / 1000) * 1000 + VALIDITY_MS;
}

/** Mints and keeps the tokens of every kind. */
export class TokenSupply {
  #hot = new Map<string, { token: string; at: number }[]>();
  #expiring: { token: string; at: number; principal: string }[] = [];
  #expired: { token: string; at: number; principal: string }[] = [];
  #counter = 0;

  /**
   * @param endpoint the STS peer's URL
   * @param rng choices
   * @param expiringWindowMs tokens of kind `expiring` expire within this long of their minting
   */
  constructor(
    private readonly endpoint: string,
    private readonly rng: Rng,
    private readonly expiringWindowMs: number,
  ) {}

  /** The principals the load signs as (everyone but the probes and the unknown key). */
  static readonly SIGNERS: readonly SoakPrincipal[] = PRINCIPALS.filter((p) =>
    p.role === "static" || p.role === "churn"
  );

  #mint(p: SoakPrincipal, at: number, cluster = CLUSTER_ID): Promise<string> {
    return mintToken(p, new Date(at), { clusterId: cluster, endpoint: this.endpoint });
  }

  /** A signing time no other fresh token of this run used recently (whole seconds back). */
  #freshAt(): number {
    return Math.floor(Date.now() / 1000) * 1000 - (this.#counter++ % 240) * 1000;
  }

  /** Mints the pools (hot tokens, the expired and the expiring ones). */
  async init(): Promise<void> {
    for (const p of [...TokenSupply.SIGNERS, ...PRINCIPALS.filter((x) => x.role === "probe")]) {
      await this.#rotateHot(p);
    }
    await this.#refillExpiring();
    for (let i = 0; i < 16; i++) {
      const p = this.rng.pick(TokenSupply.SIGNERS);
      const at = Date.now() - this.rng.between(16, 40) * 60_000;
      this.#expired.push({ token: await this.#mint(p, at), at, principal: p.name });
    }
  }

  async #rotateHot(p: SoakPrincipal): Promise<void> {
    const at = Date.now() - this.rng.int(60) * 1000;
    this.#hot.set(p.name, [
      { token: await this.#mint(p, at), at },
      { token: await this.#mint(p, at - 1000), at: at - 1000 },
    ]);
  }

  async #refillExpiring(): Promise<void> {
    const live = this.#expiring.filter((e) => expiryOf(e.at) > Date.now());
    if (live.length >= 8) return;
    for (let i = live.length; i < 16; i++) {
      const p = this.rng.pick(TokenSupply.SIGNERS);
      // Valid now, expiring some time within the window.
      const at = Date.now() - VALIDITY_MS + this.rng.between(10_000, this.expiringWindowMs);
      live.push({ token: await this.#mint(p, at), at, principal: p.name });
    }
    this.#expiring = live;
  }

  /** A hot (repeated) token of `p`. */
  async hot(p: SoakPrincipal, kind: TokenKind = "hot"): Promise<SentToken> {
    let pool = this.#hot.get(p.name);
    if (pool === undefined || Date.now() - pool[0]!.at > HOT_ROTATE_MS) {
      await this.#rotateHot(p);
      pool = this.#hot.get(p.name)!;
    }
    const t = this.rng.pick(pool);
    return { token: t.token, kind, principal: p.name, expiresAt: expiryOf(t.at) };
  }

  /** A token of the given kind. */
  async next(kind: Exclude<TokenKind, "probe">): Promise<SentToken> {
    const rng = this.rng;
    switch (kind) {
      case "hot":
        return await this.hot(rng.pick(TokenSupply.SIGNERS));
      case "fresh":
      case "foreign": {
        const p = rng.pick(TokenSupply.SIGNERS);
        const at = this.#freshAt();
        const token = await this.#mint(p, at, kind === "foreign" ? FOREIGN_CLUSTER_ID : CLUSTER_ID);
        return { token, kind, principal: p.name, expiresAt: expiryOf(at) };
      }
      case "unknown": {
        const at = this.#freshAt();
        const p = principal("unknown-key");
        return { token: await this.#mint(p, at), kind, principal: p.name, expiresAt: expiryOf(at) };
      }
      case "expiring": {
        await this.#refillExpiring();
        const e = rng.pick(this.#expiring);
        return { token: e.token, kind, principal: e.principal, expiresAt: expiryOf(e.at) };
      }
      case "expired": {
        const e = rng.pick(this.#expired);
        return { token: e.token, kind, principal: e.principal, expiresAt: expiryOf(e.at) };
      }
      case "mutated": {
        const original = await this.next("fresh");
        const m = mutate(original.token, rng);
        return { ...original, token: m.token, kind, harmless: m.harmless };
      }
    }
  }
}

/** Sends one TokenReview and records what came back. */
export class Reviewer {
  #id = 0;

  /**
   * @param url the webhook URL
   * @param lifetime the index of the server process currently running
   * @param record where every review goes
   * @param timeoutMs the client gives up after this long (recorded as no answer)
   */
  constructor(
    private readonly url: string,
    private readonly lifetime: () => number,
    private readonly record: (r: ReviewRecord) => void,
    private readonly timeoutMs: number,
  ) {}

  /** Reviews `t` over `client`. */
  async review(client: Deno.HttpClient, t: SentToken, v1beta1 = false): Promise<ReviewRecord> {
    const body = JSON.stringify({
      apiVersion: v1beta1 ? "authentication.k8s.io/v1beta1" : "authentication.k8s.io/v1",
      kind: "TokenReview",
      spec: { token: t.token },
    });
    const r: ReviewRecord = {
      id: this.#id++,
      kind: t.kind,
      principal: t.principal,
      harmless: t.harmless,
      queryKey: tokenQueryKey(t.token),
      expiresAt: t.expiresAt,
      t0: now(),
      t1: 0,
      lifetime: this.lifetime(),
    };
    try {
      const res = await fetch(this.url, {
        client,
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const text = await res.text();
      r.t1 = now();
      r.status = res.status;
      try {
        const doc = JSON.parse(text) as {
          status?: {
            authenticated?: boolean;
            error?: string;
            user?: {
              username?: string;
              groups?: string[];
              uid?: string;
              extra?: { arn?: string[] };
            };
          };
        };
        r.authenticated = doc.status?.authenticated;
        r.username = doc.status?.user?.username;
        r.groups = doc.status?.user?.groups;
        r.uid = doc.status?.user?.uid;
        r.arn = doc.status?.user?.extra?.arn?.[0];
        r.reason = /^([a-z0-9_]+\.[a-z0-9_]+): /.exec(doc.status?.error ?? "")?.[1];
      } catch {
        // Not JSON (a 4xx text answer): the status says enough.
      }
    } catch (e) {
      r.t1 = now();
      r.transportError = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    }
    this.record(r);
    return r;
  }
}

/** Workers and probes. */
export class Load {
  #stopped = false;
  #paused: Promise<void> | undefined;
  #resume: (() => void) | undefined;
  #workers: Promise<void>[] = [];
  #clients: Deno.HttpClient[] = [];
  #inFlight = 0;
  #mix: LoadMix = DEFAULT_MIX;

  /**
   * @param reviewer sends and records reviews
   * @param supply the tokens
   * @param rng choices of the workers
   * @param caPem the CA the server's certificate chains to
   * @param timelines the sources whose probes run
   */
  constructor(
    private readonly reviewer: Reviewer,
    private readonly supply: TokenSupply,
    private readonly rng: Rng,
    private readonly caPem: string,
    private readonly timelines: Readonly<Partial<Record<SourceName, SourceTimeline>>>,
  ) {}

  /** Reviews in flight right now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Replaces the token mix (the SIGTERM phase sends only fresh tokens). */
  setMix(mix: LoadMix): void {
    this.#mix = mix;
  }

  #client(http2: boolean): Deno.HttpClient {
    const c = Deno.createHttpClient({ caCerts: [this.caPem], http1: !http2, http2 });
    this.#clients.push(c);
    return c;
  }

  /** Starts `connections` workers and the probes. */
  start(connections: number): void {
    for (let i = 0; i < connections; i++) {
      this.#workers.push(this.#worker(this.#client(i % 2 === 1), this.rng.fork()));
    }
    for (const source of Object.keys(this.timelines) as SourceName[]) {
      this.#workers.push(this.#prober(source, this.#client(false)));
    }
  }

  async #gate(): Promise<boolean> {
    while (this.#paused !== undefined && !this.#stopped) await this.#paused;
    return !this.#stopped;
  }

  async #worker(client: Deno.HttpClient, rng: Rng): Promise<void> {
    while (await this.#gate()) {
      const kind = rng.weighted(this.#mix as Record<string, number>) as Exclude<TokenKind, "probe">;
      const t = await this.supply.next(kind);
      if (!(await this.#gate())) break;
      this.#inFlight++;
      try {
        await this.reviewer.review(client, t, rng.chance(0.05));
      } finally {
        this.#inFlight--;
      }
    }
  }

  async #prober(source: SourceName, client: Deno.HttpClient): Promise<void> {
    const timeline = this.timelines[source]!;
    const p = probeOf(source);
    const pattern = new RegExp(`^probe-${source}-v(\\d+)$`);
    while (await this.#gate()) {
      const t = await this.supply.hot(p, "probe");
      if (!(await this.#gate())) break;
      this.#inFlight++;
      let r: ReviewRecord;
      try {
        r = await this.reviewer.review(client, t);
      } finally {
        this.#inFlight--;
      }
      const m = r.authenticated ? pattern.exec(r.username ?? "") : null;
      if (m) timeline.observe({ t0: r.t0, t1: r.t1, seen: Number(m[1]) });
      else if (r.status === 200 && r.reason === "map.not_mapped") {
        timeline.observe({ t0: r.t0, t1: r.t1, seen: "unmapped" });
      }
      await new Promise((res) => setTimeout(res, 150));
    }
  }

  /** No new reviews from now on (those in flight finish). */
  pause(): void {
    this.#paused ??= new Promise((r) => this.#resume = r);
  }

  /** Reviews again. */
  resume(): void {
    const resume = this.#resume;
    this.#paused = undefined;
    this.#resume = undefined;
    resume?.();
  }

  /** Waits until nothing is in flight (after `pause`). */
  async drained(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  /** Stops every worker and closes the clients. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.resume();
    await Promise.all(this.#workers);
    for (const c of this.#clients) c.close();
  }
}
