/**
 * Kubernetes plumbing for the EKSConfigMap and CRD backends.
 *
 * `@kubernetes/client-node` provides the KubeConfig (kubeconfig files, in-cluster config,
 * exec/token auth) and the informer (`ListWatch`: list, resourceVersion bookkeeping, 410 Gone
 * relist, object cache). Its HTTP transport (npm `undici`) is not used: under Deno it never
 * reports a watch connection the API server dropped, and its HTTP/2 path aborts the whole
 * process when an API server restarts (`nghttp2 ... find_stream_on_goaway_func: Assertion`).
 * Requests therefore go through Deno's own `fetch` with a client built from the KubeConfig's
 * TLS material and auth headers.
 *
 * `@kubernetes/client-node` is imported lazily so a server without these backends never
 * loads it.
 *
 * @module
 */

import type { KubernetesListObject, KubernetesObject } from "@kubernetes/client-node";
import type { KubeConfigLike, Logger } from "./mapper.ts";

type K8s = typeof import("@kubernetes/client-node");

/**
 * The KubeConfig for `server.kubeconfig` / `server.master`: the file, with the master URL
 * overriding its current cluster's server; the bare master URL when no file is given; in-cluster
 * config when both are empty (as client-go's `BuildConfigFromFlags`).
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
  if (config.kubeconfig === "") {
    // Like client-go's BuildConfigFromFlags(master, ""): the URL alone, no credentials.
    kc.loadFromOptions({
      clusters: [{ name: "master", server: config.master, skipTLSVerify: false }],
      users: [{ name: "anonymous" }],
      contexts: [{ name: "master", cluster: "master", user: "anonymous" }],
      currentContext: "master",
    });
    return kc;
  }
  kc.loadFromFile(config.kubeconfig);
  if (config.master !== "") {
    const current = kc.getCurrentCluster();
    kc.loadFromOptions({
      clusters: kc.clusters.map((c) =>
        c.name === current?.name ? { ...c, server: config.master } : c
      ),
      users: kc.users,
      contexts: kc.contexts,
      currentContext: kc.currentContext,
    });
  }
  return kc;
}

/** An API error with the HTTP status, shaped as the informer expects (`statusCode`). */
export class KubeApiError extends Error {
  /** @param statusCode HTTP status; @param message what failed */
  constructor(readonly statusCode: number, message: string) {
    super(message);
    this.name = "KubeApiError";
  }
}

/** JSON requests to the API server over Deno's `fetch`. */
export class KubeClient {
  private client: Deno.HttpClient | undefined;
  private readonly running = new Set<{ controller: AbortController; done: Promise<void> }>();
  private closed = false;

  /** @param kc connection and credentials; @param k8s the loaded library */
  constructor(private readonly kc: KubeConfigLike, private readonly k8s: K8s) {}

  private async prepare(url: string): Promise<{ client: Deno.HttpClient; headers: Headers }> {
    if (this.client === undefined) {
      const opts: { ca?: unknown; cert?: unknown; key?: unknown } = {};
      await this.kc.applyToHTTPSOptions(opts as never);
      const text = (v: unknown) =>
        v === undefined || v === null
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
    }
    // Bearer tokens, exec plugins and basic auth end up as headers on this context.
    const ctx = new this.k8s.RequestContext(url, this.k8s.HttpMethod.GET);
    await this.kc.applySecurityAuthentication(ctx);
    const headers = new Headers(ctx.getHeaders());
    headers.set("accept", "application/json");
    return { client: this.client, headers };
  }

  private url(path: string): string {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new Error("the kubeconfig has no current cluster");
    return cluster.server.replace(/\/$/, "") + path;
  }

  /**
   * One JSON request.
   *
   * @throws {KubeApiError} for a non-2xx answer (the API server's message included).
   */
  async request<R>(method: string, path: string, body?: unknown): Promise<R> {
    if (this.closed) throw new Error("Kubernetes client is closed");
    const url = this.url(path);
    const { client, headers } = await this.prepare(url);
    const controller = new AbortController();
    const entry = { controller, done: Promise.resolve() };
    this.running.add(entry);
    try {
      if (body !== undefined) headers.set("content-type", "application/json");
      const res = await fetch(url, {
        method,
        headers,
        client,
        signal: controller.signal,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      if (res.status < 200 || res.status > 299) {
        let message = text;
        try {
          message = (JSON.parse(text) as { message?: string }).message ?? text;
        } catch {
          // Not a Status object.
        }
        throw new KubeApiError(res.status, `${method} ${path}: HTTP ${res.status}: ${message}`);
      }
      return JSON.parse(text) as R;
    } finally {
      this.running.delete(entry);
    }
  }

  /**
   * The `watch` of the library's `Watch` class, on Deno's `fetch`. The API server ends each
   * watch after `timeoutSeconds` (as client-go's reflector asks), and the client gives up 30 s
   * after that in case the connection went silent.
   */
  async watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, obj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    const controller = new AbortController();
    if (this.closed) {
      queueMicrotask(() => done(null));
      return controller;
    }
    const url = new URL(this.url(path));
    url.searchParams.set("watch", "true");
    const timeoutSeconds = 300 + Math.floor(Math.random() * 300);
    url.searchParams.set("timeoutSeconds", String(timeoutSeconds));
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== "") url.searchParams.set(k, String(v));
    }
    const { client, headers } = await this.prepare(url.toString());
    if (this.closed) {
      queueMicrotask(() => done(null));
      return controller;
    }
    const timer = setTimeout(() => controller.abort(), (timeoutSeconds + 30) * 1000);
    let finished = false;
    const finish = (err: unknown) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      done(err);
    };
    const entry = { controller, done: Promise.resolve() };
    entry.done = (async () => {
      try {
        const res = await fetch(url, { headers, client, signal: controller.signal });
        if (res.status !== 200) {
          await res.body?.cancel();
          finish(new KubeApiError(res.status, `watch ${path}: HTTP ${res.status}`));
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
        // Aborted by us (stop, or the safety timer): a normal end; the informer reconnects.
        finish(controller.signal.aborted ? null : e);
      }
    })();
    this.running.add(entry);
    void entry.done.finally(() => this.running.delete(entry));
    return controller;
  }

  /** Abort every request and release the HTTP client. */
  async close(): Promise<void> {
    this.closed = true;
    for (const r of this.running) r.controller.abort();
    await Promise.allSettled([...this.running].map((r) => r.done));
    this.client?.close();
    this.client = undefined;
  }
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
export interface InformerOptions {
  /** The client to list and watch with. */
  client: KubeClient;
  /** API path of the collection, e.g. `/api/v1/namespaces/kube-system/configmaps`. */
  path: string;
  /** Optional field selector for list and watch, e.g. `metadata.name=aws-auth`. */
  fieldSelector?: string;
  /** Delay before a failed list/watch is retried. */
  retryDelayMs: number;
  /** For connection messages. */
  logger: Logger;
  /** Name for logs. */
  what: string;
}

/** A `ListWatch` that restarts itself after a failed list or watch (the library stops). */
export class Informer<T extends KubernetesObject> {
  private listWatch: import("@kubernetes/client-node").ListWatch<T> | undefined;
  private readonly timers = new Map<ReturnType<typeof setTimeout>, () => void>();
  private stopped = false;
  private connects = 0;
  /** How many full lists were made (the first one, then one per relist after 410 Gone). */
  lists = 0;

  /** @param opts what to watch; @param handlers what to call */
  constructor(
    private readonly opts: InformerOptions,
    private readonly handlers: InformerHandlers<T>,
  ) {}

  /** List, then watch; resolves after the first list attempt (successful or not). */
  async start(): Promise<void> {
    const k8s = await import("@kubernetes/client-node");
    const { client, path, fieldSelector } = this.opts;
    const listPath = fieldSelector === undefined
      ? path
      : `${path}?fieldSelector=${encodeURIComponent(fieldSelector)}`;
    const lw = new k8s.ListWatch<T>(
      path,
      // Structurally the library's Watch: only `watch()` is called.
      client as unknown as import("@kubernetes/client-node").Watch,
      () => {
        this.lists++;
        this.opts.logger.debug(`${this.opts.what}: listing`, { lists: this.lists });
        return client.request<KubernetesListObject<T>>("GET", listPath);
      },
      false,
      undefined,
      fieldSelector,
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

/** A KubeClient for the server config (or the injected KubeConfig). */
export async function kubeClientFor(
  config: { kubeconfig: string; master: string },
  factory?: () => Promise<KubeConfigLike>,
): Promise<KubeClient> {
  const kc = await (factory?.() ?? loadKubeConfig(config));
  return new KubeClient(kc, await import("@kubernetes/client-node"));
}
