/**
 * The whole authenticator server assembled from a validated `ServerConfig`: metrics, the mapper
 * chain, the verifier behind the review cache, the handler and the listeners, in the Go tool's
 * start-up order (docs/commands.md#server). The CLI's `server` command is a thin wrapper around
 * {@link startAuthenticator}; tests and the demo call it directly.
 *
 * @module
 */

import type { PartitionId } from "../aws/mod.ts";
import { checkFileSafety, fileSafetyWarning, type ServerConfig } from "../config/mod.ts";
import { createMapperChain, type MapperDeps } from "../map/mod.ts";
import { createStsFetch, DEFAULT_STS_TIMEOUT_MS, type StsFetch, Verifier } from "../verify/mod.ts";
import { DeadlineSweeper } from "./deadline_sweeper.ts";
import { createHandler, DEFAULT_BODY_TIMEOUT_MS } from "./handler.ts";
import type { ServerLogger } from "./logging.ts";
import { createServerMetrics, type ServerMetrics } from "./metrics.ts";
import { resolveServerRegion } from "./region.ts";
import { ReviewCache } from "./review_cache.ts";
import { listen, type RunningServer } from "./server.ts";

/** Options of {@link startAuthenticator}. */
export interface AuthenticatorOptions {
  /** Where every log line goes. */
  logger: ServerLogger;
  /** Environment lookup (`AWS_REGION`, `AWS_ENDPOINT_URL_STS`, ...); default `Deno.env.get`. */
  env?: (name: string) => string | undefined;
  /**
   * fetch for the STS calls (tests point it at a peer through `AWS_ENDPOINT_URL_STS`); default
   * an HTTP/1.1-only client of the server's own ({@link createStsFetch}).
   */
  fetch?: typeof fetch;
  /** The metrics registry; a fresh one by default. */
  metrics?: ServerMetrics;
  /** Extra mapper dependencies (Kubernetes config, EC2 client) for tests. */
  mapperDeps?: Partial<MapperDeps>;
  /** The server region; default from env / instance metadata (port decision 21). */
  region?: string;
  /** How long in-flight reviews get on shutdown; default 10 s. */
  shutdownTimeoutMs?: number;
  /** How long a client may take to send its request body; default 10 s. */
  bodyTimeoutMs?: number;
  /**
   * The config file the config came from (`--config`), checked once at start: whoever can write
   * it can map themselves to any user (`mapRoles`, `backendMode`, `dynamicfilepath`).
   */
  configPath?: string;
}

/** A running authenticator. */
export interface RunningAuthenticator extends RunningServer {
  /** The server's metrics. */
  readonly metrics: ServerMetrics;
  /**
   * Stops the listeners (in-flight reviews finish, up to the shutdown timeout), then the
   * mapper chain. Safe to call more than once.
   */
  close(): Promise<void>;
}

/** Warns (and sets the gauge) when group or others can write the config file or its directory. */
async function checkConfigFile(
  path: string,
  log: ServerLogger,
  metrics: ServerMetrics,
): Promise<void> {
  let findings;
  try {
    findings = await checkFileSafety(path);
  } catch (err) {
    log.warn("cannot check who may write the config file", {
      path,
      error: (err as Error).message,
    });
    return;
  }
  metrics.mapper.mappingFileWritableByOthers(path, findings.length > 0 ? 1 : 0);
  for (const f of findings) {
    log.warn(fileSafetyWarning("config file", f), { path: f.path, mode: f.octal });
  }
}

/**
 * Starts the server: checks who may write the config file, builds and starts the mapper chain
 * (which logs the static mappings and checks the DynamicFile and backend-mode file), finds the
 * server region, creates the verifier, then listens (key pair, kubeconfig, TLS and health
 * listeners). Throws an actionable error (and releases what was started) when any step fails.
 */
export async function startAuthenticator(
  config: ServerConfig,
  options: AuthenticatorOptions,
): Promise<RunningAuthenticator> {
  const log = options.logger;
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const metrics = options.metrics ?? createServerMetrics();
  if (options.configPath !== undefined) await checkConfigFile(options.configPath, log, metrics);

  const chain = await createMapperChain(config, {
    logger: log,
    metrics: metrics.mapper,
    ...options.mapperDeps,
  });
  // Created only when no fetch is given, and closed with the server (or on a failed start).
  let stsFetch: StsFetch | undefined;
  try {
    let region = options.region;
    if (region === undefined) {
      const resolved = await resolveServerRegion({ env });
      region = resolved.region;
      if (resolved.source === "none") {
        log.info(
          `Region not found in the environment or instance metadata (${resolved.detail}); ` +
            "only the partition's known STS hosts are accepted",
        );
      } else {
        log.info("server region", { region, source: resolved.source });
      }
    }
    const override = env("AWS_ENDPOINT_URL_STS")?.trim() || undefined;
    if (override !== undefined) {
      log.warn("tokens for the STS endpoint override are accepted", { endpoint: override });
    }
    // One coarse timer for every review's deadlines; it fires at most 1/20 of the shorter
    // timeout late (100 ms against the default 10 s ones).
    const bodyTimeoutMs = options.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
    const deadlines = new DeadlineSweeper({
      resolutionMs: Math.max(
        5,
        Math.min(100, Math.min(bodyTimeoutMs, DEFAULT_STS_TIMEOUT_MS) / 20),
      ),
    });
    const verifier = new Verifier({
      clusterId: config.clusterId,
      // buildServerConfig has already rejected anything that is not a partition ID.
      partition: config.partition as PartitionId,
      instanceRegion: region,
      stsEndpointOverride: override,
      fetch: options.fetch ?? (stsFetch = createStsFetch()).fetch,
      observer: metrics.sts,
      setDeadline: deadlines.set,
    });
    const cache = new ReviewCache(verifier);
    const handler = createHandler({
      verify: (token) => cache.verify(token),
      map: (identity) => chain.map(identity),
      scrubbedAccounts: config.scrubbedAccounts,
      logger: log,
      observeReview: (outcome, seconds, reason) => metrics.observeReview(outcome, seconds, reason),
      metrics,
      bodyTimeoutMs,
      setDeadline: deadlines.set,
    });
    const server = await listen({
      address: config.address,
      port: config.port,
      hostname: config.hostname,
      healthPort: config.healthPort,
      stateDir: config.stateDir,
      generateKubeconfig: config.generateKubeconfig,
      kubeconfigPregenerated: config.kubeconfigPregenerated,
      handler,
      logger: log,
      shutdownTimeoutMs: options.shutdownTimeoutMs,
    });
    let closing: Promise<void> | undefined;
    return {
      ...server,
      metrics,
      // The deadline timer outlives the last review by up to one resolution; a server that has
      // shut down stops it at once rather than keep the process awake.
      shutdown: () => server.shutdown().then(() => deadlines.stop()),
      close() {
        closing ??= server.shutdown().then(() => {
          deadlines.stop();
          stsFetch?.close();
          return chain.close();
        });
        return closing;
      },
    };
  } catch (err) {
    stsFetch?.close();
    await chain.close();
    throw err;
  }
}
