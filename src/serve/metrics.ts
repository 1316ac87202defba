/**
 * The Prometheus metrics of the server, with the names, types, help strings and labels of the Go
 * tool (docs/configuration.md#metrics;
 * https://github.com/kubernetes-sigs/aws-iam-authenticator/blob/v0.7.18/pkg/metrics/metrics.go)
 * so existing dashboards keep working. Each server owns its own registry: no global state, and
 * tests can read exactly what one server recorded.
 *
 * @module
 */

import { Counter, Gauge, Histogram, registerProcessCollectors, Registry } from "./prom_client.ts";
import type { MapperMetrics } from "../map/mod.ts";
import { type ReasonId, SERVER_REASON_IDS } from "../reasons/mod.ts";

/** The `result` label values of the latency histogram (the Go `uknown_user` typo is fixed). */
export type ReviewOutcome =
  | "success"
  | "malformed_request"
  | "invalid_token"
  | "sts_error"
  | "sts_throttling"
  | "unknown_user";

/** Every outcome label value, in the order of the Go tool's list. */
export const REVIEW_OUTCOMES: readonly ReviewOutcome[] = [
  "success",
  "malformed_request",
  "invalid_token",
  "sts_error",
  "sts_throttling",
  "unknown_user",
];

/** The metric-name namespace the Go tool uses. */
export const METRIC_NAMESPACE = "aws_iam_authenticator";

/** Hooks the verifier calls for each STS exchange (the shape `VerifierOptions.observer` takes). */
export interface StsObserver {
  /** One STS HTTP response with its status code. */
  response(code: number, stsRegion: string): void;
  /** The STS request failed at the transport level (DNS, connect, TLS, timeout). */
  connectionFailure(stsRegion: string): void;
  /** STS answered with a throttling error. */
  throttled(stsRegion: string): void;
}

/** Hooks the mapper backends call (the `deps` metric hooks of `createMapperChain`). */
export type MapperMetricHooks = MapperMetrics;

/** The server's metrics and the hooks that feed them. */
export interface ServerMetrics {
  /** The registry `/metrics` exposes. */
  readonly registry: Registry;
  /** Records one finished review, once per request, with its reason when it was denied. */
  observeReview(outcome: ReviewOutcome, seconds: number, reason?: ReasonId): void;
  /** Hooks for the verifier. */
  readonly sts: StsObserver;
  /** Hooks for the mapper chain. */
  readonly mapper: MapperMetricHooks;
  /** The Prometheus text exposition of every metric. */
  render(): Promise<string>;
  /** The content type of {@link ServerMetrics.render}'s output. */
  readonly contentType: string;
}

/** Options of {@link createServerMetrics}. */
export interface ServerMetricsOptions {
  /** Also export the process collectors (CPU, memory, fds) as the Go tool's registry does. */
  processMetrics?: boolean;
}

/** Creates a fresh registry with every metric of docs/configuration.md#metrics registered. */
export function createServerMetrics(options: ServerMetricsOptions = {}): ServerMetrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) registerProcessCollectors(registry);
  const ns = METRIC_NAMESPACE;
  const registers = [registry];

  const latency = new Histogram({
    name: `${ns}_authenticate_latency_seconds`,
    help: "Authenticate call latency",
    labelNames: ["result"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const stsResponses = new Counter({
    name: `${ns}_sts_responses_total`,
    help: "Sts responses with error code label",
    labelNames: ["ResponseCode", "StsRegion"],
    registers,
  });
  const stsConnectionFailures = new Counter({
    name: `${ns}_sts_connection_failures_total`,
    help: "Sts call could not succeed or timedout",
    labelNames: ["StsRegion"],
    registers,
  });
  const stsThrottling = new Counter({
    name: `${ns}_sts_throttling_total`,
    help: "Sts call got throttled",
    labelNames: ["StsRegion"],
    registers,
  });
  const configmapWatchFailures = new Counter({
    name: `${ns}_configmap_watch_failures_total`,
    help: "EKS Configmap watch failures",
    registers,
  });
  const dynamicFileFailures = new Counter({
    name: `${ns}_dynamicfile_failures_total`,
    help: "Dynamic file failures",
    registers,
  });
  const ec2Calls = new Counter({
    name: `${ns}_ec2_describe_instances_calls_total`,
    help: "Number of EC2 describe instances calls.",
    registers,
  });
  const dynamicE2e = new Histogram({
    name: `${ns}_dynamic_e2e_latency_seconds`,
    help: "End to end latency in seconds partitioned by type.",
    labelNames: ["type"],
    buckets: [1, 3, 5, 10, 15, 20, 30, 60],
    registers,
  });
  const dynamicFileEnabled = new Gauge({
    name: `${ns}_dynamic_file_enabled`,
    help: "Dynamic file in backend mode is enabled",
    registers,
  });
  const dynamicFileOnly = new Gauge({
    name: `${ns}_dynamic_file_only`,
    help: "Only dynamic file in backend mode is enabled",
    registers,
  });
  // Not in the Go tool: port decision 11 promises that a rejected reload is visible in a metric.
  const mappingLoadErrors = new Counter({
    name: `${ns}_mapping_load_errors_total`,
    help: "Mapping reloads rejected as malformed; the last good mapping stays in effect",
    labelNames: ["source"],
    registers,
  });
  // Not in the Go tool: whoever can write a mapping file can map themselves to system:masters.
  const mappingFileWritable = new Gauge({
    name: `${ns}_mapping_file_writable_by_others`,
    help:
      "1 when group or others can write the mapping file (config, DynamicFile, backend-mode file) or its directory",
    labelNames: ["path"],
    registers,
  });

  // Not in the Go tool: why reviews were denied, by the reason IDs of docs/why-denied.md. Every
  // reason starts at 0 so a dashboard can list them before the first denial.
  const denials = new Counter({
    name: `${ns}_denials_total`,
    help: "Reviews that did not authenticate, by reason ID (see docs/why-denied.md)",
    labelNames: ["reason"],
    registers,
  });
  for (const reason of SERVER_REASON_IDS) denials.inc({ reason }, 0);

  return {
    registry,
    contentType: registry.contentType,
    observeReview(outcome, seconds, reason) {
      latency.observe({ result: outcome }, seconds);
      if (reason !== undefined) denials.inc({ reason });
    },
    sts: {
      response(code, stsRegion) {
        stsResponses.inc({ ResponseCode: String(code), StsRegion: stsRegion });
      },
      connectionFailure(stsRegion) {
        stsConnectionFailures.inc({ StsRegion: stsRegion });
      },
      throttled(stsRegion) {
        stsThrottling.inc({ StsRegion: stsRegion });
      },
    },
    mapper: {
      configmapWatchFailure: () => configmapWatchFailures.inc(),
      dynamicFileFailure: () => dynamicFileFailures.inc(),
      dynamicE2eLatency: (type, seconds) => dynamicE2e.observe({ type }, seconds),
      dynamicFileEnabled: (value) => dynamicFileEnabled.set(value),
      dynamicFileOnly: (value) => dynamicFileOnly.set(value),
      ec2DescribeInstancesCall: () => ec2Calls.inc(),
      mappingLoadErrors: (source) => mappingLoadErrors.inc({ source }),
      mappingFileWritableByOthers: (path, value) => mappingFileWritable.set({ path }, value),
    },
    render: () => registry.metrics(),
  };
}
