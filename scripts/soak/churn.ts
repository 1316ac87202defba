/**
 * Mapping churn: the DynamicFile rewritten every couple of seconds (valid, invalid, deleted,
 * recreated; in place or renamed over), the `aws-auth` ConfigMap edited and deleted, the
 * IAMIdentityMapping objects edited and deleted. Every write is recorded as a version of its
 * source (`mapping_model.ts`) with the time it started and ended.
 *
 * Each source moves in lock step with its probe: after a valid write or a deletion the churn
 * waits until a probe review has seen it (or a generous timeout has passed) before the next
 * write, so the oracle always knows which deletion a probe's "not mapped" refers to, and every
 * reload latency is measured.
 *
 * @module
 */

import type { KubeClient } from "../../src/map/kube.ts";
import { deleteAwsAuth, deleteMapping, putAwsAuth, putMapping } from "../../tests/map/_kube.ts";
import {
  type BackendState,
  EMPTY_STATE,
  type ModelEntry,
  type SourceName,
  type SourceTimeline,
} from "./mapping_model.ts";
import type { Rng } from "./random.ts";
import {
  CHURN_TARGETS,
  probeOf,
  probeUsername,
  RESERVED,
  type SoakPrincipal,
  STRANGER_ACCOUNT,
} from "./world.ts";

/** Epoch milliseconds on the monotonic clock every soak record uses. */
export const now = (): number => performance.timeOrigin + performance.now();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Counts of what the churn did to one source. */
export interface ChurnCounts {
  /** New valid contents (a recreation included). */
  valid: number;
  /** Contents the server must reject (a DynamicFile that does not parse, an `aws-auth` key). */
  invalid: number;
  /** Deletions. */
  deleted: number;
  /** Valid contents written right after a deletion. */
  recreated: number;
  /** Versions a probe did not see within the wait. */
  unseen: number;
}

/** A random mapping of some churn targets, plus the probe naming version `n`. */
export function randomEntries(
  source: SourceName,
  n: number,
  rng: Rng,
): Map<SoakPrincipal, ModelEntry> {
  const out = new Map<SoakPrincipal, ModelEntry>();
  for (const p of CHURN_TARGETS) {
    if (!rng.chance(0.5)) continue;
    out.set(p, randomEntry(source, p, n, rng));
  }
  out.set(probeOf(source), { username: probeUsername(source, n), groups: [] });
  return out;
}

function randomEntry(source: SourceName, p: SoakPrincipal, n: number, rng: Rng): ModelEntry {
  const r = rng.next();
  const reserved = RESERVED[source];
  let username: string;
  if (r < 0.1 && reserved.length > 0) username = `${rng.pick(reserved)}${p.name}`;
  else if (r < 0.2) {
    username = p.sessionName !== "" ? `{{SessionName}}@${source}` : `{{AccountID}}-${p.name}`;
  } else username = `${p.name}-${source}-v${n}`;
  const groups = ["g1", "g2", "g3"].filter(() => rng.chance(0.4));
  if (p.sessionName !== "" && rng.chance(0.3)) groups.push("s:{{SessionName}}");
  return { username, groups };
}

function stateOf(
  entries: ReadonlyMap<SoakPrincipal, ModelEntry>,
  accounts: string[],
): BackendState {
  return {
    entries: new Map([...entries].map(([p, e]) => [p.canonicalArn.toLowerCase(), e])),
    accounts,
  };
}

/** The DynamicFile document of a version. */
export function dynamicFileJson(
  entries: ReadonlyMap<SoakPrincipal, ModelEntry>,
  accounts: string[],
): string {
  const roles = [...entries].filter(([p]) => p.sessionName !== "").map(([p, e]) => ({
    rolearn: p.canonicalArn,
    username: e.username,
    groups: e.groups,
  }));
  const users = [...entries].filter(([p]) => p.sessionName === "").map(([p, e]) => ({
    userarn: p.arn,
    username: e.username,
    groups: e.groups,
  }));
  return JSON.stringify({ mapRoles: roles, mapUsers: users, mapAccounts: accounts }, null, 2) +
    "\n";
}

/** The `aws-auth` data of a version, as block YAML strings (as `eksctl` and `add` write it). */
export function awsAuthData(
  entries: ReadonlyMap<SoakPrincipal, ModelEntry>,
  accounts: string[],
): Record<string, string> {
  const q = (s: string) => JSON.stringify(s);
  const item = (arnKey: string, arn: string, e: ModelEntry) =>
    `- ${arnKey}: ${q(arn)}\n  username: ${q(e.username)}\n` +
    (e.groups.length === 0
      ? "  groups: []\n"
      : `  groups:\n${e.groups.map((g) => `  - ${q(g)}\n`).join("")}`);
  const roles = [...entries].filter(([p]) => p.sessionName !== "")
    .map(([p, e]) => item("rolearn", p.canonicalArn, e)).join("");
  const users = [...entries].filter(([p]) => p.sessionName === "")
    .map(([p, e]) => item("userarn", p.arn, e)).join("");
  return {
    mapRoles: roles === "" ? "[]\n" : roles,
    mapUsers: users === "" ? "[]\n" : users,
    mapAccounts: accounts.length === 0 ? "[]\n" : accounts.map((a) => `- ${q(a)}\n`).join(""),
  };
}

/** Closes around a critical section: the kube sources pause while kube-apiserver restarts. */
export class Gate {
  #closed: Promise<void> | undefined;
  #open: (() => void) | undefined;
  #busy = 0;
  #idle: (() => void) | undefined;

  /** Waits while the gate is closed, then counts this caller in. */
  async enter(): Promise<void> {
    while (this.#closed !== undefined) await this.#closed;
    this.#busy++;
  }

  /** Counts the caller out. */
  leave(): void {
    if (--this.#busy === 0) this.#idle?.();
  }

  /** Closes the gate and waits until nobody is inside. */
  async close(): Promise<void> {
    this.#closed ??= new Promise((r) => this.#open = r);
    if (this.#busy > 0) await new Promise<void>((r) => this.#idle = r);
    this.#idle = undefined;
  }

  /** Opens it again. */
  open(): void {
    const open = this.#open;
    this.#closed = undefined;
    this.#open = undefined;
    open?.();
  }
}

/** What the churn needs. */
export interface ChurnOptions {
  /** The timelines to record into (the kube ones only when `kube` is set). */
  timelines: Readonly<Partial<Record<SourceName, SourceTimeline>>>;
  /** The DynamicFile path. */
  dynamicFile: string;
  /** Admin client of kube-apiserver (EKSConfigMap and CRD churn), if they run. */
  kube?: KubeClient;
  /** The random stream of the churn. */
  rng: Rng;
  /** Longest wait for a probe to see a write before going on. */
  probeWaitMs?: number;
  /** Called for progress lines. */
  log?: (line: string) => void;
}

/** Runs the churn loops until stopped. */
export class Churn {
  /** What each source went through. */
  readonly counts: Record<SourceName, ChurnCounts> = {
    dyn: { valid: 0, invalid: 0, deleted: 0, recreated: 0, unseen: 0 },
    cm: { valid: 0, invalid: 0, deleted: 0, recreated: 0, unseen: 0 },
    crd: { valid: 0, invalid: 0, deleted: 0, recreated: 0, unseen: 0 },
  };
  /** Closed while kube-apiserver restarts. */
  readonly kubeGate: Gate = new Gate();
  /** Closed while the server restarts (a DynamicFile that does not parse at start is empty). */
  readonly dynGate: Gate = new Gate();
  #stopped = false;
  #loops: Promise<void>[] = [];
  #crdObjects = new Map<SoakPrincipal, ModelEntry>();
  #dynExists = false;
  #dynLastInvalid = false;
  #cmLastInvalid = false;
  #cmExists = false;

  /** @param o what to churn */
  constructor(private readonly o: ChurnOptions) {}

  /** Writes version 0 of every source (before the server starts). */
  async init(): Promise<void> {
    const t = this.o.timelines;
    await this.#writeDyn(t.dyn!, "valid", "atomic");
    if (this.o.kube !== undefined) {
      await this.#writeCm(t.cm!, "valid");
      await this.#writeCrd(t.crd!, "init");
    }
  }

  /**
   * Pauses the churn and leaves every source holding content that parses: a server that starts
   * on a DynamicFile or an `aws-auth` key that does not parse has no last good version to keep,
   * so the model's "last good" would not hold across a restart. `resume()` undoes it.
   */
  async settle(): Promise<void> {
    await this.dynGate.close();
    await this.kubeGate.close();
    if (this.#dynLastInvalid) {
      const n = await this.#writeDyn(this.o.timelines.dyn!, "valid", "atomic");
      if (n !== undefined) await this.#awaitProbe("dyn", n);
    }
    if (this.#cmLastInvalid) {
      const n = await this.#writeCm(this.o.timelines.cm!, "valid", "never");
      await this.#awaitProbe("cm", n);
    }
  }

  /** Lets the churn go on after `settle()`. */
  resume(): void {
    this.dynGate.open();
    this.kubeGate.open();
  }

  /** Starts the loops. */
  start(): void {
    this.#loops.push(this.#loop("dyn", 1000, 3000, () => this.#dynStep()));
    if (this.o.kube !== undefined) {
      this.#loops.push(this.#loop("cm", 2000, 4000, () => this.#cmStep()));
      this.#loops.push(this.#loop("crd", 2000, 4000, () => this.#crdStep()));
    }
  }

  /** Stops the loops after their current step. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.kubeGate.open();
    this.dynGate.open();
    await Promise.all(this.#loops);
  }

  async #loop(
    source: SourceName,
    minMs: number,
    maxMs: number,
    step: () => Promise<number | undefined>,
  ): Promise<void> {
    const gate = source === "dyn" ? this.dynGate : this.kubeGate;
    while (!this.#stopped) {
      await sleep(this.o.rng.between(minMs, maxMs));
      if (this.#stopped) break;
      await gate.enter();
      try {
        if (this.#stopped) break;
        const written = await step();
        if (written !== undefined) await this.#awaitProbe(source, written);
      } finally {
        gate.leave();
      }
    }
  }

  async #awaitProbe(source: SourceName, n: number): Promise<void> {
    const timeline = this.o.timelines[source]!;
    const deadline = Date.now() + (this.o.probeWaitMs ?? 15_000);
    while (!timeline.seenAtLeast(n)) {
      if (this.#stopped) return;
      if (Date.now() > deadline) {
        this.counts[source].unseen++;
        this.o.log?.(`  ${source}: version ${n} not seen by a probe within the wait`);
        return;
      }
      await sleep(50);
    }
  }

  // The first steps of each source go through every kind of write, so that even a short run
  // covers them all; the random ones follow.
  #dynScript: ("valid" | "invalid" | "delete")[] = [
    "valid",
    "invalid",
    "delete",
    "invalid",
    "valid",
  ];
  #cmScript: ("typo" | "delete" | "valid")[] = ["typo", "delete", "valid"];
  #crdScript: ("delete" | "put")[] = ["put", "delete"];

  async #dynStep(): Promise<number | undefined> {
    const t = this.o.timelines.dyn!;
    const scripted = this.#dynScript.shift();
    if (scripted !== undefined) {
      return await this.#writeDyn(t, scripted, scripted === "valid" ? "in-place" : "atomic");
    }
    const r = this.o.rng.next();
    if (r < 0.15 && this.#dynExists) return await this.#writeDyn(t, "delete", "atomic");
    const mode = this.o.rng.chance(0.5) ? "atomic" : "in-place";
    if (r < 0.3) return await this.#writeDyn(t, "invalid", mode);
    return await this.#writeDyn(t, "valid", mode);
  }

  async #writeDyn(
    t: SourceTimeline,
    what: "valid" | "invalid" | "delete",
    mode: "atomic" | "in-place",
  ): Promise<number | undefined> {
    const path = this.o.dynamicFile;
    const write = async (text: string) => {
      if (mode === "in-place") {
        await Deno.writeTextFile(path, text);
      } else {
        const tmp = `${path}.tmp-${crypto.randomUUID()}`;
        await Deno.writeTextFile(tmp, text);
        await Deno.rename(tmp, path);
      }
    };
    const c = this.counts.dyn;
    this.#dynLastInvalid = what === "invalid";
    const writeStart = now();
    if (what === "delete") {
      await Deno.remove(path);
      this.#dynExists = false;
      c.deleted++;
      const n = t.nextN;
      t.add({ n, writeStart, writeEnd: now(), state: EMPTY_STATE, deleted: true });
      return n;
    }
    if (what === "invalid") {
      const garbage = this.o.rng.pick([
        '{"mapUsers": [',
        "not json at all",
        '{"mapRoles": {"rolearn": 1}} trailing',
        "",
      ]);
      await write(garbage);
      this.#dynExists = true;
      c.invalid++;
      t.invalidWrites.push({ writeStart, writeEnd: now() });
      return undefined;
    }
    const n = t.nextN;
    const entries = randomEntries("dyn", n, this.o.rng);
    const accounts = this.o.rng.chance(0.15) ? [STRANGER_ACCOUNT] : [];
    // A recreation after a deletion (an invalid file in between does not count as content).
    const recreated = t.versions.at(-1)?.deleted === true;
    await write(dynamicFileJson(entries, accounts));
    this.#dynExists = true;
    c.valid++;
    if (recreated) c.recreated++;
    t.add({ n, writeStart, writeEnd: now(), state: stateOf(entries, accounts), deleted: false });
    return n;
  }

  async #cmStep(): Promise<number | undefined> {
    const t = this.o.timelines.cm!;
    const scripted = this.#cmScript.shift();
    if (scripted === "typo") return await this.#writeCm(t, "valid", "always");
    if (scripted !== undefined) return await this.#writeCm(t, scripted, "never");
    if (this.#cmExists && this.o.rng.chance(0.15)) return await this.#writeCm(t, "delete");
    return await this.#writeCm(t, "valid");
  }

  async #writeCm(
    t: SourceTimeline,
    what: "valid" | "delete",
    typo: "sometimes" | "always" | "never" = "sometimes",
  ): Promise<number> {
    const kube = this.o.kube!;
    const c = this.counts.cm;
    this.#cmLastInvalid = false;
    const n = t.nextN;
    const writeStart = now();
    if (what === "delete") {
      await deleteAwsAuth(kube);
      this.#cmExists = false;
      c.deleted++;
      t.add({ n, writeStart, writeEnd: now(), state: EMPTY_STATE, deleted: true });
      return n;
    }
    const entries = randomEntries("cm", n, this.o.rng);
    const accounts = this.o.rng.chance(0.15) ? [STRANGER_ACCOUNT] : [];
    const previous = t.versions.at(-1);
    const recreated = previous?.deleted === true;
    const data = awsAuthData(entries, accounts);
    let state = stateOf(entries, accounts);
    if (typo === "always" || (typo === "sometimes" && this.o.rng.chance(0.12))) {
      this.#cmLastInvalid = true;
      // A typo in one key: the server keeps that key's last good entries (the informer applies
      // every version in order, so that is the previous version's roles) and applies the rest.
      data.mapRoles = "- rolearn: [unclosed\n  username: x\n";
      const kept = [...(previous?.state.entries ?? [])].filter(([arn]) => arn.includes(":role/"));
      const users = [...state.entries].filter(([arn]) => !arn.includes(":role/"));
      state = { entries: new Map([...kept, ...users]), accounts };
      c.invalid++;
    }
    await putAwsAuth(kube, data);
    this.#cmExists = true;
    c.valid++;
    if (recreated) c.recreated++;
    t.add({ n, writeStart, writeEnd: now(), state, deleted: false });
    return n;
  }

  async #crdStep(): Promise<number> {
    return await this.#writeCrd(this.o.timelines.crd!, "edit");
  }

  /**
   * One CRD change: a churn target's object put or deleted, then the probe object bumped. The
   * watch delivers events in order, so once the probe shows version `n`, the edit before it has
   * been applied too; before that, the edit may or may not be, and the version's non-probe
   * mappings are already those of `n` from the start of the write.
   */
  async #writeCrd(t: SourceTimeline, what: "init" | "edit"): Promise<number> {
    const kube = this.o.kube!;
    const c = this.counts.crd;
    const n = t.nextN;
    const writeStart = now();
    const rng = this.o.rng;
    if (what === "init") {
      for (const [p, e] of randomEntries("crd", n, rng)) {
        if (p.role === "probe") continue;
        await putMapping(kube, objectName(p), {
          arn: p.arn,
          username: e.username,
          groups: [...e.groups],
        });
        this.#crdObjects.set(p, e);
      }
      c.valid++;
    } else {
      const scripted = this.#crdScript.shift();
      const existing = [...this.#crdObjects.keys()];
      const target = scripted === "delete" && existing.length > 0
        ? rng.pick(existing)
        : rng.pick(CHURN_TARGETS);
      const remove = scripted === "delete" || (scripted === undefined && rng.chance(0.3));
      if (this.#crdObjects.has(target) && remove) {
        await deleteMapping(kube, objectName(target));
        this.#crdObjects.delete(target);
        c.deleted++;
      } else {
        const e = randomEntry("crd", target, n, rng);
        await putMapping(kube, objectName(target), {
          arn: target.arn,
          username: e.username,
          groups: [...e.groups],
        });
        this.#crdObjects.set(target, e);
        c.valid++;
      }
    }
    const probe = probeOf("crd");
    const probeEntry = { username: probeUsername("crd", n), groups: [] };
    await putMapping(kube, objectName(probe), {
      arn: probe.arn,
      username: probeEntry.username,
      groups: [],
    });
    const entries = new Map(this.#crdObjects);
    entries.set(probe, probeEntry);
    t.add({ n, writeStart, writeEnd: now(), state: stateOf(entries, []), deleted: false });
    return n;
  }
}

function objectName(p: SoakPrincipal): string {
  return `soak-${p.name}`;
}
