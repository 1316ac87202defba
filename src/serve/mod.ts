/**
 * The webhook server: a pure TokenReview handler, the TLS and health listeners, the key pair
 * and webhook kubeconfig, metrics, logging and the STS-protecting review cache.
 *
 * @module
 */

export { type AuthenticatorOptions, type RunningAuthenticator, startAuthenticator } from "./app.ts";
export {
  CERT_VALIDITY_MS,
  generateKeyPair,
  type KeyPair,
  type KeyPairOptions,
  loadOrCreateKeyPair,
  subjectAltNames,
} from "./certs.ts";
export { DeadlineSweeper, type DeadlineSweeperOptions } from "./deadline_sweeper.ts";
export {
  createHandler,
  DEFAULT_BODY_TIMEOUT_MS,
  DEFAULT_MAX_BODY_BYTES,
  denyBody,
  type HandlerDeps,
  type MapFn,
  type MappedIdentity,
  type RequestInfo,
  successBody,
  TOKEN_REVIEW_API_VERSIONS,
  type VerifyFn,
} from "./handler.ts";
export { joinHostPort, renderWebhookKubeconfig, writeWebhookKubeconfig } from "./kubeconfig.ts";
export {
  configureLogging,
  type LogFormat,
  type LoggingOptions,
  parseLogVerbosity,
  redactSecrets,
  type ServerLogger,
  silentLogger,
} from "./logging.ts";
export {
  createServerMetrics,
  type MapperMetricHooks,
  METRIC_NAMESPACE,
  REVIEW_OUTCOMES,
  type ReviewOutcome,
  type ServerMetrics,
  type StsObserver,
} from "./metrics.ts";
export { type ResolvedRegion, resolveServerRegion } from "./region.ts";
export {
  type CacheOutcome,
  DEFAULT_MAX_CACHED_TOKENS,
  ReviewCache,
  type TwoStepVerifier,
} from "./review_cache.ts";
export { listen, type ListenOptions, onShutdownSignal, type RunningServer } from "./server.ts";
