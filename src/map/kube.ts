/**
 * Kubernetes plumbing for the EKSConfigMap and CRD backends: the KubeConfig from the server
 * config, and a `@kubernetes/client-node` `ListWatch` informer that restarts itself after a
 * failed list or watch (the library stops on such errors) and can be stopped without leaving
 * a connection or timer behind.
 *
 * `@kubernetes/client-node` is imported lazily so a server without these backends never
 * loads it.
 *
 * @module
 */

import type { KubernetesListObject, KubernetesObject } from "@kubernetes/client-node";
import type { KubeConfigLike, Logger } from "./mapper.ts";

/**
 * The KubeConfig for `server.kubeconfig` / `server.master`: the file (or the default loading
 * rules when only the master is given) with the master URL overriding the server; in-cluster
 * config when both are empty.
 */
export async function loadKubeConfig(
  config: { kubeconfig: string; master: string },
): Promise<KubeConfigLike> {
  const k8s = await import("@kubernetes/client-node");
  const kc = new k8s.KubeConfig();
  if (config.kubeconfig === "" && config.master === "") {
    kc.loadFromCluster();
    return kc;
  }
  if (config.kubeconfig !== "") kc.loadFromFile(config.kubeconfig);
  else kc.loadFromDefault();
  if (config.master !== "") {
    const current = kc.getCurrentCluster();
    const clusters = kc.clusters.map((c) =>
      c.name === current?.name ? { ...c, server: config.master } : c
    );
    if (current === null) {
      clusters.push({ name: "master", server: config.master, skipTLSVerify: false });
    }
    kc.loadFromOptions({
      clusters,
      users: kc.users,
      contexts: kc.contexts,
      currentContext: kc.currentContext,
    });
  }
  return kc;
}

/** Callbacks of an informer. */
export interface InformerHandlers<T> {
  /** An object appeared (first list or a watch ADDED). */
  onAdd(obj: T): void;
  /** An object changed. */
  onUpdate(obj: T): void;
  /** An object is gone (watch DELETED, or missing from a relist). */
  onDelete(obj: T): void;
  /** The list or watch failed; the informer retries after the delay. */
  onFailure?(err: unknown): void;
}

/** What an informer needs. */
export interface InformerOptions<T extends KubernetesObject> {
  /** The KubeConfig to connect with. */
  kubeConfig: KubeConfigLike;
  /** API path of the collection, e.g. `/api/v1/namespaces/kube-system/configmaps`. */
  path: string;
  /** Lists the collection (with the same selector). */
  list: () => Promise<KubernetesListObject<T>>;
  /** Optional field selector for the watch, e.g. `metadata.name=aws-auth`. */
  fieldSelector?: string;
  /** Delay before a failed list/watch is retried. */
  retryDelayMs: number;
  /** For connection messages. */
  logger: Logger;
  /** Name for logs. */
  what: string;
}

/** A self-restarting `ListWatch`. */
export class Informer<T extends KubernetesObject> {
  private listWatch: import("@kubernetes/client-node").ListWatch<T> | undefined;
  private readonly controllers = new Set<AbortController>();
  private readonly pendingWatches = new Set<Promise<unknown>>();
  private readonly timers = new Map<ReturnType<typeof setTimeout>, () => void>();
  private stopped = false;
  private connects = 0;

  /** @param opts what to watch; @param handlers what to call */
  constructor(
    private readonly opts: InformerOptions<T>,
    private readonly handlers: InformerHandlers<T>,
  ) {}

  /** List, then watch; resolves after the first list attempt (successful or not). */
  async start(): Promise<void> {
    const k8s = await import("@kubernetes/client-node");
    // The library's Watch does not expose its request until the response headers arrived, so
    // an informer stopped while a watch is being opened would leave that request running;
    // tracking every watch here lets stop() abort them all.
    const controllers = this.controllers;
    const pendingWatches = this.pendingWatches;
    const isStopped = () => this.stopped;
    class TrackedWatch extends k8s.Watch {
      override watch(
        path: string,
        query: Record<string, string | number | boolean | undefined>,
        callback: (phase: string, obj: unknown, watchObj?: unknown) => void,
        done: (err: unknown) => void,
      ): Promise<AbortController> {
        const p = super.watch(path, query, callback, done).then((c) => {
          if (isStopped()) c.abort();
          else controllers.add(c);
          return c;
        });
        pendingWatches.add(p);
        void p.finally(() => pendingWatches.delete(p)).catch(() => {});
        return p;
      }
    }
    const lw = new k8s.ListWatch<T>(
      this.opts.path,
      new TrackedWatch(this.opts.kubeConfig),
      this.opts.list,
      false,
      undefined,
      this.opts.fieldSelector,
      { delayFn: (ms) => this.sleep(ms) },
    );
    lw.on("add", (o) => this.handlers.onAdd(o));
    lw.on("update", (o) => this.handlers.onUpdate(o));
    lw.on("delete", (o) => this.handlers.onDelete(o));
    lw.on("connect", () => {
      if (this.connects++ > 0) {
        this.opts.logger.info(`${this.opts.what}: watch closed; reconnecting`);
      }
    });
    lw.on("error", (err) => {
      if (this.stopped) return;
      this.handlers.onFailure?.(err);
      this.opts.logger.warn(
        `${this.opts.what}: unable to list or watch, retrying in ${this.opts.retryDelayMs} ms`,
        { error: err instanceof Error ? err.message : String(err) },
      );
      void this.sleep(this.opts.retryDelayMs).then(async () => {
        if (!this.stopped) await lw.start();
      }).catch(() => {});
    });
    this.listWatch = lw;
    await lw.start().catch(() => {});
  }

  /** The objects currently known. */
  list(): readonly T[] {
    return this.listWatch?.list() ?? [];
  }

  /** Stop watching; waits until no request or timer of this informer is left. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const [timer, resolve] of this.timers) {
      clearTimeout(timer);
      resolve();
    }
    this.timers.clear();
    await this.listWatch?.stop();
    await Promise.allSettled([...this.pendingWatches]);
    for (const c of this.controllers) c.abort();
    this.controllers.clear();
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.set(timer, resolve);
    });
  }
}
