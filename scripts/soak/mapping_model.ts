/**
 * The oracle's own model of mapping: what each source (DynamicFile, `aws-auth`, the
 * IAMIdentityMapping objects) held in each version the soak wrote, when each version could have
 * been in force in the server, and what the chain of docs/mapping.md makes of an identity under
 * any combination of those versions.
 *
 * It is written from the documentation, not from `src/map/`: backends in order, the first
 * explicit match decides (rendered, then checked against its backend's reserved prefixes),
 * account auto-mapping only when no backend matched, otherwise not mapped.
 *
 * When a version is in force: the server applies a write some time after it, within the reload
 * window, never before, and never goes back to an older version. Every version carries a probe
 * principal whose username names the version, and the soak reviews the probes all the time, so
 * the version in force is observed rather than assumed: version `i` is possible from the moment
 * its write started until the first probe review that saw a newer version ended, and never
 * longer than the reload window after the next version was written.
 *
 * @module
 */

/** The reloadable sources of the soak. */
export type SourceName = "dyn" | "cm" | "crd";

/** A mapping entry: templates as written in the source. */
export interface ModelEntry {
  /** Username template. */
  username: string;
  /** Group templates. */
  groups: readonly string[];
}

/** What one source maps. */
export interface BackendState {
  /** Entries keyed by the lower-cased canonical ARN. */
  entries: ReadonlyMap<string, ModelEntry>;
  /** Auto-mapped accounts. */
  accounts: readonly string[];
}

/** A source that maps nothing (deleted, or never written). */
export const EMPTY_STATE: BackendState = { entries: new Map(), accounts: [] };

/** The parts of an identity mapping looks at. */
export interface IdentityFacts {
  /** Canonical ARN (an assumed role's role ARN, case kept). */
  canonicalArn: string;
  /** Account ID. */
  accountId: string;
  /** Session name (`""` for users). */
  sessionName: string;
}

/** A backend of the chain under one version. */
export interface ChainBackend {
  /** For messages. */
  name: string;
  /** Its mappings. */
  state: BackendState;
  /** Its reserved username prefixes. */
  reserved: readonly string[];
}

/** Renders `{{SessionName}}` (with `@` as `-`), `{{SessionNameRaw}}` and `{{AccountID}}`. */
export function renderTemplate(template: string, id: IdentityFacts): string {
  return template.replace(/\{\{(SessionName|SessionNameRaw|AccountID)\}\}/g, (_, name) => {
    if (name === "SessionName") return id.sessionName.replaceAll("@", "-");
    if (name === "SessionNameRaw") return id.sessionName;
    return id.accountId;
  });
}

/**
 * The outcome of the chain for an identity: `ok:<username>|<group,group>`,
 * `deny:map.reserved_prefix`, `deny:map.empty_username` or `deny:map.not_mapped`.
 */
export function evaluateChain(backends: readonly ChainBackend[], id: IdentityFacts): string {
  const key = id.canonicalArn.toLowerCase();
  for (const b of backends) {
    const entry = b.state.entries.get(key);
    if (entry === undefined) continue;
    const username = renderTemplate(entry.username, id);
    const groups = entry.groups.map((g) => renderTemplate(g, id)).filter((g) => g !== "");
    if (username === "") return "deny:map.empty_username";
    if (b.reserved.some((p) => p !== "" && username.startsWith(p))) {
      return "deny:map.reserved_prefix";
    }
    return `ok:${username}|${groups.join(",")}`;
  }
  for (const b of backends) {
    if (b.state.accounts.includes(id.accountId)) return `ok:${id.canonicalArn}|`;
  }
  return "deny:map.not_mapped";
}

/** One version of a source as written by the soak. */
export interface SourceVersion {
  /** Version number, increasing; the probe's username names it. */
  n: number;
  /** When the write started (epoch ms). */
  writeStart: number;
  /** When the write was done (epoch ms). */
  writeEnd: number;
  /** What the source maps in this version. */
  state: BackendState;
  /** The source was deleted (the probe is then not mapped). */
  deleted: boolean;
}

/** What a probe review showed: the version its username names, or not mapped. */
export interface ProbeObservation {
  /** When the review was sent (epoch ms). */
  t0: number;
  /** When its answer arrived (epoch ms). */
  t1: number;
  /** The version seen, or `"unmapped"` (a deleted source). */
  seen: number | "unmapped";
}

/** How long after its write the server was seen to apply a version. */
export interface ReloadLatency {
  /** The version. */
  n: number;
  /** Deleted, or a new content. */
  deleted: boolean;
  /** At least this long (a probe started this long after the write still saw an older one). */
  atLeastMs: number;
  /** At most this long (a probe answered this long after the write saw it or newer); NaN: never seen. */
  atMostMs: number;
}

/** The versions of one source and the probe reviews that saw them. */
export class SourceTimeline {
  /** Valid and deleted versions in write order (writes that do not parse are not versions). */
  readonly versions: SourceVersion[] = [];
  /** Writes the server must reject (and keep the last good version). */
  readonly invalidWrites: { writeStart: number; writeEnd: number }[] = [];
  /** Probe reviews that showed a version. */
  readonly observations: ProbeObservation[] = [];
  #ends: number[] | undefined;

  /**
   * @param source the source's name
   * @param windowMs the reload window: the longest the server may keep serving a version
   *   after the next one was written (Infinity: only probe observations end a version)
   */
  constructor(readonly source: SourceName, readonly windowMs: number = Infinity) {}

  /** The next version number. */
  get nextN(): number {
    return (this.versions.at(-1)?.n ?? -1) + 1;
  }

  /** Records a version the soak wrote. */
  add(v: SourceVersion): void {
    if (v.n !== this.nextN) throw new Error(`version ${v.n} of ${this.source} is out of order`);
    this.versions.push(v);
    this.#ends = undefined;
  }

  /** Records a probe review. */
  observe(o: ProbeObservation): void {
    this.observations.push(o);
    this.#ends = undefined;
  }

  /** The version a probe saw: a deleted state is the latest deletion written before it ended. */
  attribute(o: ProbeObservation): number | undefined {
    if (o.seen !== "unmapped") return o.seen;
    let found: number | undefined;
    for (const v of this.versions) {
      if (v.writeStart > o.t1) break;
      if (v.deleted) found = v.n;
    }
    return found;
  }

  /** Whether a probe has seen version `n` (or a newer one). */
  seenAtLeast(n: number): boolean {
    return this.observations.some((o) => (this.attribute(o) ?? -1) >= n);
  }

  /**
   * For each version, the latest instant it could still be in force: the reload window after
   * the next version was written, or earlier when a probe saw a newer version before that.
   */
  ends(): number[] {
    if (this.#ends !== undefined) return this.#ends;
    const ends = this.versions.map((_, i) =>
      i + 1 < this.versions.length ? this.versions[i + 1]!.writeEnd + this.windowMs : Infinity
    );
    for (const o of this.observations) {
      const seen = this.attribute(o);
      if (seen === undefined) continue;
      for (let i = 0; i < seen && i < ends.length; i++) ends[i] = Math.min(ends[i]!, o.t1);
    }
    this.#ends = ends;
    return ends;
  }

  /** The versions that could have been in force at some instant of [t0, t1]. */
  possible(t0: number, t1: number): SourceVersion[] {
    const ends = this.ends();
    return this.versions.filter((v, i) => v.writeStart <= t1 && ends[i]! >= t0);
  }

  /** Bounds of the reload latency of every version after the first. */
  reloadLatencies(): ReloadLatency[] {
    const out: ReloadLatency[] = [];
    for (const v of this.versions.slice(1)) {
      let atLeast = 0;
      let atMost = Infinity;
      for (const o of this.observations) {
        const seen = this.attribute(o);
        if (seen === undefined) continue;
        if (seen < v.n) atLeast = Math.max(atLeast, o.t0 - v.writeEnd);
        else atMost = Math.min(atMost, o.t1 - v.writeEnd);
      }
      out.push({
        n: v.n,
        deleted: v.deleted,
        atLeastMs: atLeast,
        atMostMs: atMost === Infinity ? NaN : atMost,
      });
    }
    return out;
  }

  /**
   * Probe reviews that went back in time: one that started after another had ended, yet saw an
   * older version. A server never un-applies a mapping change.
   */
  regressions(): { earlier: ProbeObservation; later: ProbeObservation }[] {
    const sorted = [...this.observations].sort((a, b) => a.t1 - b.t1);
    const out: { earlier: ProbeObservation; later: ProbeObservation }[] = [];
    let best: ProbeObservation | undefined;
    let bestSeen = -1;
    let next = 0;
    for (const o of [...this.observations].sort((a, b) => a.t0 - b.t0)) {
      // Every observation that ended before this one started.
      while (next < sorted.length && sorted[next]!.t1 < o.t0) {
        const done = sorted[next++]!;
        const seen = this.attribute(done) ?? -1;
        if (seen > bestSeen) {
          bestSeen = seen;
          best = done;
        }
      }
      const seen = this.attribute(o);
      if (seen !== undefined && seen < bestSeen) out.push({ earlier: best!, later: o });
    }
    return out;
  }
}

/** The mapping outcomes a review could legitimately get, from the timelines. */
export class MappingOracle {
  readonly #cache = new Map<string, ReadonlySet<string>>();

  /**
   * @param staticBackend the MountedFile backend (never changes)
   * @param sources the reloadable sources in chain order, with their reserved prefixes
   */
  constructor(
    private readonly staticBackend: ChainBackend,
    private readonly sources: readonly { timeline: SourceTimeline; reserved: readonly string[] }[],
  ) {}

  /** Every outcome of the chain for `id` under any combination of versions possible in [t0, t1]. */
  outcomes(id: IdentityFacts, t0: number, t1: number): ReadonlySet<string> {
    const choices = this.sources.map((s) => s.timeline.possible(t0, t1));
    const key = `${id.canonicalArn}|${id.sessionName}|${
      choices.map((c) => c.map((v) => v.n).join(",")).join("/")
    }`;
    const cached = this.#cache.get(key);
    if (cached !== undefined) return cached;
    const out = new Set<string>();
    const walk = (i: number, chosen: ChainBackend[]) => {
      if (i === this.sources.length) {
        out.add(evaluateChain([this.staticBackend, ...chosen], id));
        return;
      }
      const s = this.sources[i]!;
      for (const v of choices[i]!) {
        walk(i + 1, [...chosen, { name: s.timeline.source, state: v.state, reserved: s.reserved }]);
      }
    };
    walk(0, []);
    this.#cache.set(key, out);
    return out;
  }
}
