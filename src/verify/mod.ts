/**
 * Server side of the token: every local check of a `k8s-aws-v1.` token, then the one
 * GetCallerIdentity call to STS that proves who signed it.
 *
 * ```ts
 * const v = new Verifier({ clusterId: "prod", partition: "aws" });
 * const identity = await v.verify(token); // FormatError | STSError | STSThrottling
 * ```
 *
 * @module
 */

export { FormatError, STSError, STSThrottling } from "./errors.ts";
export { inspectToken, type TokenFacts } from "./inspect.ts";
export type { Identity } from "./identity.ts";
export {
  checkStsHost,
  type HostCheckOptions,
  knownStsHosts,
  parseStsOverride,
  type StsOverride,
} from "./host_check.ts";
export {
  identityFromResponse,
  readAllCapped,
  type SetDeadline,
  stsErrorReason,
  type StsObserver,
  timeoutDeadline,
} from "./sts.ts";
export { createStsFetch, type StsFetch, type StsFetchOptions } from "./sts_fetch.ts";
export {
  type CheckedToken,
  MAX_FUTURE_SKEW_MS,
  MAX_TOKEN_BYTES,
  PRESIGNED_URL_VALIDITY_MS,
  TOKEN_PREFIX,
} from "./token.ts";
export { DEFAULT_STS_TIMEOUT_MS, Verifier, type VerifierOptions } from "./verifier.ts";
