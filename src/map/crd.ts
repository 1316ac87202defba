/**
 * The CRD backend (docs/mapping.md#crd): cluster-scoped `IAMIdentityMapping` objects
 * (`iamauthenticator.k8s.aws/v1alpha1`), followed with an informer, plus the status writer
 * that records `status.canonicalARN` and a `Synced` event, as the Go controller does.
 *
 * Departures: lookups use the canonical ARN computed here from `spec.arn` (paths stripped,
 * port decision 10), so a mapping works before its status is written; when several objects
 * map the same ARN the oldest wins (port decision 9); an edit that makes an object invalid
 * keeps that object's last good version (port decision 11), while deleting it revokes it.
 *
 * @module
 */

import { canonicalizeArn } from "../aws/mod.ts";
import { type RoleMapping, RuleError, type ServerConfig } from "../config/mod.ts";
import type { KubernetesObject } from "@kubernetes/client-node";
import { Informer, type KubeClient, kubeClientFor } from "./kube.ts";
import type { Identity, Mapper, MappingMatch, ResolvedDeps } from "./mapper.ts";
import { type Position, ProblemReporter } from "./source.ts";
import { arnKey, type Located, MappingStore, type Problem } from "./store.ts";

/** API group of the CRD. */
export const CRD_GROUP = "iamauthenticator.k8s.aws";
/** API version of the CRD. */
export const CRD_VERSION = "v1alpha1";
/** Plural resource name of the CRD. */
export const CRD_PLURAL = "iamidentitymappings";

/** An `IAMIdentityMapping` object. */
export interface IAMIdentityMapping extends KubernetesObject {
  /** What the object maps. */
  spec?: { arn?: unknown; username?: unknown; groups?: unknown };
  /** Written by the status writer. */
  status?: { canonicalARN?: string; userID?: string };
}

/**
 * Decode and check one object's spec.
 *
 * @throws {RuleError} naming the rule the object breaks.
 */
function decodeSpec(obj: IAMIdentityMapping): RoleMapping {
  const spec = obj.spec;
  if (spec === undefined || spec === null) throw new RuleError("entry.type", "spec is missing");
  if (typeof spec.arn !== "string" || spec.arn === "") {
    throw new RuleError("entry.missing_arn", "spec.arn must be a non-empty string");
  }
  if (typeof spec.username !== "string") {
    throw new RuleError("entry.type", "spec.username must be a string");
  }
  const groups = spec.groups ?? [];
  if (!Array.isArray(groups) || groups.some((g) => typeof g !== "string")) {
    throw new RuleError("entry.type", "spec.groups must be a list of strings");
  }
  // Validates the ARN now, so a bad one is reported at load and never stored.
  try {
    arnKey(spec.arn);
  } catch (e) {
    throw new RuleError("arn.malformed", (e as Error).message);
  }
  return { roleArn: spec.arn, username: spec.username, groups: groups as string[], userId: "" };
}

/** Where an object is reported: `IAMIdentityMapping NAME` by default. */
export type LocateObject = (obj: IAMIdentityMapping) => Position;

/** The default {@link LocateObject}. */
export function objectLocation(obj: IAMIdentityMapping): Position {
  return { location: `IAMIdentityMapping ${obj.metadata?.name ?? ""}` };
}

/**
 * The role entries a list of IAMIdentityMapping objects stands for, in the server's order:
 * oldest `metadata.creationTimestamp` first (then by name), so that when several objects map
 * one ARN the oldest wins (port decision 9). Objects that do not decode or name a malformed ARN
 * are left out and reported as problems. The CRD backend and `validate` both use this.
 */
export function crdRoleEntries(
  objects: readonly IAMIdentityMapping[],
  locate: LocateObject = objectLocation,
): { roles: Located<RoleMapping>[]; problems: Problem[] } {
  const good: { mapping: RoleMapping; created: string; name: string; obj: IAMIdentityMapping }[] =
    [];
  const problems: Problem[] = [];
  for (const obj of objects) {
    try {
      good.push({
        mapping: decodeSpec(obj),
        created: String(obj.metadata?.creationTimestamp ?? ""),
        name: obj.metadata?.name ?? "",
        obj,
      });
    } catch (e) {
      problems.push({
        ...locate(obj),
        message: (e as Error).message,
        rule: e instanceof RuleError ? e.rule : "entry.type",
      });
    }
  }
  good.sort((a, b) =>
    a.created < b.created ? -1 : a.created > b.created ? 1 : a.name < b.name ? -1 : 1
  );
  const roles = good.map((g): Located<RoleMapping> => {
    const at = locate(g.obj);
    return { ...at, value: g.mapping };
  });
  return { roles, problems };
}

/** Mappings from `IAMIdentityMapping` objects. */
export class CrdMapper implements Mapper {
  /** The canonical backend name. */
  readonly name = "CRD" as const;
  /** Reserved username prefixes for this backend. */
  readonly usernamePrefixReserveList: readonly string[];
  /** The last good version of each object, by name. */
  private readonly good = new Map<string, IAMIdentityMapping>();
  private readonly problems = new Map<string, Problem>();
  private readonly reporter: ProblemReporter;
  private store = MappingStore.EMPTY;
  private dirty = false;
  private rebuildQueued = false;
  private informer: Informer<IAMIdentityMapping> | undefined;
  private client: KubeClient | undefined;
  private statusQueue: string[] = [];
  private statusWorker: Promise<void> | undefined;
  private closed = false;
  private writeStatus: ((obj: IAMIdentityMapping, canonical: string) => Promise<void>) | undefined;

  /** @param config the server config; @param deps logger, metrics, Kubernetes client */
  constructor(
    private readonly config: Pick<ServerConfig, "kubeconfig" | "master" | "reservedPrefixConfig">,
    private readonly deps: ResolvedDeps,
  ) {
    this.usernamePrefixReserveList = config.reservedPrefixConfig["CRD"] ?? [];
    this.reporter = new ProblemReporter(this.name, deps.logger, deps.metrics);
  }

  private upsert(obj: IAMIdentityMapping): void {
    const name = obj.metadata?.name ?? "";
    const problem = crdRoleEntries([obj]).problems[0];
    if (problem === undefined) {
      this.good.set(name, obj);
      this.problems.delete(name);
      this.enqueueStatus(name);
    } else {
      const kept = this.good.has(name) ? "; its last good version keeps serving" : "";
      this.problems.set(name, { ...problem, message: `${problem.message}${kept}` });
    }
    this.dirty = true;
    this.report();
  }

  private remove(obj: IAMIdentityMapping): void {
    const name = obj.metadata?.name ?? "";
    this.good.delete(name);
    this.problems.delete(name);
    this.dirty = true;
    this.report();
  }

  private report(): void {
    // Rebuilding on every event would be quadratic during the initial list of many objects
    // (its add callbacks run in one synchronous loop), so the rebuild waits for a microtask;
    // a lookup before that rebuilds on the spot.
    if (this.rebuildQueued) return;
    this.rebuildQueued = true;
    queueMicrotask(() => {
      this.rebuildQueued = false;
      this.rebuild();
    });
  }

  private rebuild(): void {
    if (!this.dirty) return;
    this.dirty = false;
    const { roles } = crdRoleEntries([...this.good.values()]);
    const built = MappingStore.build(roles, [], []);
    this.store = built.store;
    this.reporter.report([...this.problems.values(), ...built.problems], built.warnings);
  }

  private enqueueStatus(name: string): void {
    if (this.writeStatus === undefined || this.statusQueue.includes(name)) return;
    this.statusQueue.push(name);
    this.statusWorker ??= this.drainStatus().finally(() => {
      this.statusWorker = undefined;
    });
  }

  private async drainStatus(): Promise<void> {
    while (!this.closed) {
      const name = this.statusQueue.shift();
      if (name === undefined) return;
      const obj = this.informer?.list().find((o) => o.metadata?.name === name);
      if (obj === undefined || typeof obj.spec?.arn !== "string") continue;
      let canonical: string;
      try {
        canonical = canonicalizeArn(obj.spec.arn.toLowerCase()).canonical;
      } catch {
        continue;
      }
      if (obj.status?.canonicalARN === canonical) continue;
      try {
        await this.writeStatus!(obj, canonical);
      } catch (e) {
        // A conflict means a newer version is on its way through the watch, which re-queues it.
        this.deps.logger.warn("could not update IAMIdentityMapping status", {
          name,
          error: (e as Error).message,
        });
      }
    }
  }

  private statusWriter(
    client: KubeClient,
  ): (obj: IAMIdentityMapping, canonical: string) => Promise<void> {
    return async (obj: IAMIdentityMapping, canonical: string) => {
      const name = obj.metadata!.name!;
      const updated = await client.request<IAMIdentityMapping>(
        "PUT",
        `/apis/${CRD_GROUP}/${CRD_VERSION}/${CRD_PLURAL}/${encodeURIComponent(name)}/status`,
        { ...obj, status: { ...obj.status, canonicalARN: canonical } },
      );
      const now = new Date(this.deps.now()).toISOString().replace(/\.\d+Z$/, "Z");
      await client.request("POST", "/api/v1/namespaces/default/events", {
        apiVersion: "v1",
        kind: "Event",
        metadata: { name: `${name}.${this.deps.now().toString(16)}`, namespace: "default" },
        involvedObject: {
          apiVersion: `${CRD_GROUP}/${CRD_VERSION}`,
          kind: "IAMIdentityMapping",
          name,
          uid: obj.metadata?.uid,
          resourceVersion: updated.metadata?.resourceVersion,
        },
        reason: "Synced",
        message: "Identity synced successfully",
        type: "Normal",
        source: { component: "aws-iam-authenticator" },
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      });
    };
  }

  /** List and watch the mapping objects, and start the status writer. */
  async start(signal: AbortSignal): Promise<void> {
    this.client = await kubeClientFor(this.config, this.deps.kubeConfig);
    this.writeStatus = this.statusWriter(this.client);
    this.informer = new Informer<IAMIdentityMapping>({
      client: this.client,
      path: `/apis/${CRD_GROUP}/${CRD_VERSION}/${CRD_PLURAL}`,
      retryDelayMs: this.deps.watchRetryDelayMs,
      logger: this.deps.logger,
      what: "IAMIdentityMapping",
    }, {
      onAdd: (o) => this.upsert(o),
      onUpdate: (o) => this.upsert(o),
      onDelete: (o) => this.remove(o),
    });
    signal.addEventListener("abort", () => void this.close(), { once: true });
    await this.informer.start();
  }

  /** The explicit mapping for `id`, if any. */
  map(id: Identity): Promise<MappingMatch | undefined> {
    try {
      this.rebuild();
      return Promise.resolve(this.store.lookup(id));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** The CRD backend has no account auto-mapping. */
  isAccountAllowed(_accountId: string): boolean {
    return false;
  }

  /** Stop watching and writing status. */
  async close(): Promise<void> {
    this.closed = true;
    this.statusQueue = [];
    await this.informer?.stop();
    await this.statusWorker;
    await this.client?.close();
  }
}
