/**
 * The contract every mapping backend implements, and what the chain and the backends need
 * from their surroundings (logger, metrics, clock, Kubernetes and EC2 clients).
 *
 * @module
 */

import type { BackendMode } from "../config/mod.ts";
import type { Denial, ReasonId } from "../reasons/mod.ts";

/**
 * The verified identity a mapper looks at. Structurally the verifier's `Identity`, declared
 * here so that `map/` does not depend on `verify/`.
 */
export interface Identity {
  /** Raw ARN from STS. */
  arn: string;
  /** Canonical ARN (assumed-role -> role), case kept. */
  canonicalArn: string;
  /** 12-digit account ID. */
  accountId: string;
  /** Principal unique ID (role ID for assumed roles). */
  userId: string;
  /** Session name of an assumed role, else empty. */
  sessionName: string;
  /** Access key ID from the token's credential scope. */
  accessKeyId: string;
}

/** The Kubernetes user an identity becomes. */
export interface MappedIdentity {
  /** The rendered username. */
  username: string;
  /** The rendered groups (empty for account auto-mapping). */
  groups: string[];
  /** The lower-cased canonical ARN the mapping matched. */
  identityArn: string;
}

/** A backend's explicit match, before templates are rendered. */
export interface MappingMatch {
  /** Username template. */
  username: string;
  /** Group templates. */
  groups: readonly string[];
  /** Lower-cased canonical ARN of the identity. */
  identityArn: string;
  /**
   * Where the matching entry is defined (`file:line`, a ConfigMap key and line, an object name).
   * A reference to the entry's source, read only when a trace or a log needs it: finding a line
   * can cost a parse, which lookups must not pay.
   */
  source?: { readonly location: string };
}

/** One source of mappings (a backend of docs/mapping.md#the-backends). */
export interface Mapper {
  /** The canonical backend mode name. */
  readonly name: BackendMode;
  /**
   * Begin loading/watching. Resolves once the first load was attempted (a source that is not
   * there yet leaves the mapper empty, and it fills in when the source appears). Stops when
   * `signal` aborts.
   */
  start(signal: AbortSignal): Promise<void>;
  /** The explicit mapping for `id` (templates unrendered), `undefined` if none; throws on error. */
  map(id: Identity): Promise<MappingMatch | undefined>;
  /** Whether `accountId` is auto-mapped by this backend (`mapAccounts`). */
  isAccountAllowed(accountId: string): boolean;
  /** Username prefixes this backend must never hand out. */
  readonly usernamePrefixReserveList: readonly string[];
  /** Release watchers, timers and connections; idempotent. */
  close(): Promise<void>;
}

/** The identity matched no mapping in any backend. */
export class NotMappedError extends Error implements Denial {
  /** Always `map.not_mapped`. */
  readonly reason: ReasonId = "map.not_mapped";
  constructor() {
    super("identity is not mapped");
    this.name = "NotMappedError";
  }
}

/** Mapping found an entry but could not turn it into a user, or a backend could not decide. */
export class MappingError extends Error implements Denial {
  /** Why (a `map.*` catalogue ID). */
  readonly reason: ReasonId;
  /** @param reason the catalogue ID; @param message what failed, in the Go tool's words */
  constructor(reason: ReasonId, message: string) {
    super(message);
    this.name = "MappingError";
    this.reason = reason;
  }
}

/** Minimal structured logger; the server adapts its logger to this. */
export interface Logger {
  /** Routine events. */
  info(msg: string, fields?: Record<string, unknown>): void;
  /** Something is wrong but the server keeps serving. */
  warn(msg: string, fields?: Record<string, unknown>): void;
  /** An operation failed. */
  error(msg: string, fields?: Record<string, unknown>): void;
  /** Detail for debugging. */
  debug(msg: string, fields?: Record<string, unknown>): void;
}

/** A logger that drops everything. */
export const NOOP_LOGGER: Logger = {
  info() {},
  warn() {},
  error() {},
  debug() {},
};

/**
 * Metric hooks (names as in the Go tool, docs/configuration.md#metrics, plus `mappingLoadErrors`
 * and `mappingFileWritableByOthers`).
 */
export interface MapperMetrics {
  /** `configmap_watch_failures_total`++ */
  configmapWatchFailure(): void;
  /** `dynamicfile_failures_total`++ */
  dynamicFileFailure(): void;
  /** `dynamic_e2e_latency_seconds{type}` */
  dynamicE2eLatency(type: "dynamic_file" | "dynamic_backend_mode", seconds: number): void;
  /** `dynamic_file_enabled` gauge */
  dynamicFileEnabled(value: 0 | 1): void;
  /** `dynamic_file_only` gauge */
  dynamicFileOnly(value: 0 | 1): void;
  /** `ec2_describe_instances_calls_total`++ */
  ec2DescribeInstancesCall(): void;
  /** A mapping source failed to load (whole or in part); `source` is the backend name. */
  mappingLoadErrors(source: string): void;
  /**
   * `mapping_file_writable_by_others{path}` gauge: set on every check of a mapping file (the
   * config file at start, the DynamicFile and backend-mode file at start and on every reload);
   * 1 when group or others can write the file or a directory that holds it.
   */
  mappingFileWritableByOthers(path: string, value: 0 | 1): void;
}

/** Metric hooks that record nothing. */
export const NOOP_METRICS: MapperMetrics = {
  configmapWatchFailure() {},
  dynamicFileFailure() {},
  dynamicE2eLatency() {},
  dynamicFileEnabled() {},
  dynamicFileOnly() {},
  ec2DescribeInstancesCall() {},
  mappingLoadErrors() {},
  mappingFileWritableByOthers() {},
};

/** One instance as DescribeInstances reports it. */
export interface Ec2Instance {
  /** `i-...` */
  instanceId: string;
  /** `ip-10-0-0-1.ec2.internal`, may be empty. */
  privateDnsName: string;
}

/** DescribeInstances for a list of instance IDs. */
export type DescribeInstancesFn = (instanceIds: readonly string[]) => Promise<Ec2Instance[]>;

/** A `@kubernetes/client-node` KubeConfig, typed loosely to keep the import lazy. */
export type KubeConfigLike = import("@kubernetes/client-node").KubeConfig;

/** Everything a mapper chain needs from outside. */
export interface MapperDeps {
  /** Where to log. */
  logger?: Logger;
  /** Metric hooks. */
  metrics?: Partial<MapperMetrics>;
  /** Wall clock in milliseconds since the epoch. */
  now?: () => number;
  /** Builds the KubeConfig for the EKSConfigMap and CRD backends (default: from the config). */
  kubeConfig?: () => Promise<KubeConfigLike>;
  /** DescribeInstances (default: `@aws-sdk/client-ec2` from the config, loaded lazily). */
  describeInstances?: DescribeInstancesFn;
  /** Delay before a failed Kubernetes list/watch is retried (Go: 5 s). */
  watchRetryDelayMs?: number;
  /** How long an EC2 private DNS name is cached (default 15 min). */
  ec2CacheTtlMs?: number;
  /**
   * Region for the default EC2 client (the server passes the region it resolved from
   * `AWS_REGION` / `AWS_DEFAULT_REGION` / instance metadata); unset lets the SDK decide.
   */
  ec2Region?: string;
}

/** `deps` with every optional part filled in. */
export interface ResolvedDeps {
  /** Where to log. */
  logger: Logger;
  /** Metric hooks. */
  metrics: MapperMetrics;
  /** Wall clock in milliseconds since the epoch. */
  now: () => number;
  /** Builds the KubeConfig for the EKSConfigMap and CRD backends. */
  kubeConfig?: () => Promise<KubeConfigLike>;
  /** DescribeInstances. */
  describeInstances?: DescribeInstancesFn;
  /** Delay before a failed Kubernetes list/watch is retried. */
  watchRetryDelayMs: number;
  /** EC2 name cache lifetime. */
  ec2CacheTtlMs: number;
  /** Fallback region for the default EC2 client. */
  ec2Region?: string;
}

/** Fill in the defaults of `deps`. */
export function resolveDeps(deps: MapperDeps): ResolvedDeps {
  return {
    logger: deps.logger ?? NOOP_LOGGER,
    metrics: { ...NOOP_METRICS, ...deps.metrics },
    now: deps.now ?? Date.now,
    kubeConfig: deps.kubeConfig,
    describeInstances: deps.describeInstances,
    watchRetryDelayMs: deps.watchRetryDelayMs ?? 5000,
    ec2CacheTtlMs: deps.ec2CacheTtlMs ?? 15 * 60 * 1000,
    ec2Region: deps.ec2Region,
  };
}
