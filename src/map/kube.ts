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
  private watch: DenoWatch | undefined;
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
    const watch = new DenoWatch(this.opts.kubeConfig, k8s, () => this.stopped);
    this.watch = watch;
    const lw = new k8s.ListWatch<T>(
      this.opts.path,
      watch as unknown as import("@kubernetes/client-node").Watch,
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
    await this.watch?.close();
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

type K8s = typeof import("@kubernetes/client-node");

/**
 * The library's `Watch` transport on Deno's own `fetch`. The library streams through npm
 * `undici`, which under Deno never reports a connection the API server dropped (a restarted
 * API server left the informer silent until its 30 s inactivity timer). The informer logic
 * (list, resourceVersion, 410 relist, cache) stays the library's `ListWatch`; only the HTTP
 * request is ours. The API server ends each watch after `timeoutSeconds` (as client-go's
 * reflector asks), and the client gives up 30 s after that in case the connection went silent.
 */
class DenoWatch {
  private client: Deno.HttpClient | undefined;
  private readonly running = new Set<{ controller: AbortController; done: Promise<void> }>();

  constructor(
    private readonly kc: KubeConfigLike,
    private readonly k8s: K8s,
    private readonly stopped: () => boolean,
  ) {}

  private async httpClient(): Promise<Deno.HttpClient> {
    if (this.client) return this.client;
    const opts: { ca?: unknown; cert?: unknown; key?: unknown; rejectUnauthorized?: boolean } = {};
    await this.kc.applyToHTTPSOptions(opts as never);
    const text = (v: unknown) =>
      v === undefined
        ? undefined
        : typeof v === "string"
        ? v
        : new TextDecoder().decode(v as Uint8Array);
    const ca = text(opts.ca);
    const cert = text(opts.cert);
    const key = text(opts.key);
    this.client = Deno.createHttpClient({
      ...(ca ? { caCerts: [ca] } : {}),
      ...(cert && key ? { cert, key } : {}),
    });
    return this.client;
  }

  async watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, obj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    const controller = new AbortController();
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new Error("No currently active cluster");
    const url = new URL(cluster.server + path);
    url.searchParams.set("watch", "true");
    const timeoutSeconds = 300 + Math.floor(Math.random() * 300);
    url.searchParams.set("timeoutSeconds", String(timeoutSeconds));
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    if (this.stopped()) {
      queueMicrotask(() => done(null));
      return controller;
    }
    const ctx = new this.k8s.RequestContext(url.toString(), this.k8s.HttpMethod.GET);
    await this.kc.applySecurityAuthentication(ctx);
    const client = await this.httpClient();
    const timer = setTimeout(() => controller.abort(), (timeoutSeconds + 30) * 1000);
    const entry = { controller, done: Promise.resolve() };
    let finished = false;
    const finish = (err: unknown) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      done(err);
    };
    entry.done = (async () => {
      try {
        const res = await fetch(url, {
          headers: ctx.getHeaders(),
          client,
          signal: controller.signal,
        });
        if (res.status !== 200) {
          await res.body?.cancel();
          const err = new Error(`watch ${path}: HTTP ${res.status}`) as Error & {
            statusCode: number;
          };
          err.statusCode = res.status;
          finish(err);
          return;
        }
        let buf = "";
        const decoder = new TextDecoder();
        for await (const chunk of res.body!) {
          buf += decoder.decode(chunk, { stream: true });
          let nl: number;
          while ((nl = buf.indexOf("\n")) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (line.trim() === "") continue;
            let data: { type: string; object: unknown };
            try {
              data = JSON.parse(line);
            } catch {
              continue;
            }
            callback(data.type, data.object, data);
          }
        }
        finish(null);
      } catch (e) {
        // Aborted by us (stop or the safety timer): a normal end, the informer decides.
        finish(controller.signal.aborted ? null : e);
      }
    })();
    this.running.add(entry);
    void entry.done.finally(() => this.running.delete(entry));
    return controller;
  }

  async close(): Promise<void> {
    for (const r of this.running) r.controller.abort();
    await Promise.allSettled([...this.running].map((r) => r.done));
    this.client?.close();
    this.client = undefined;
  }
}
