/**
 * Why a review is (or would be) denied: `explain` walks the path a review takes through the
 * server (credentials, token, STS, mapping) with the server's own code and reports each step
 * with the reason IDs of src/reasons.
 *
 * ```ts
 * const report = await explain({ clusterId: "prod", partition: "aws", ... }, deps);
 * Deno.exit(exitCode(report));
 * ```
 *
 * @module
 */

export { credentialSource, maskKeyId } from "./credentials.ts";
export {
  explain,
  type ExplainDeps,
  ExplainError,
  type ExplainRequest,
  identityFromArn,
} from "./explain.ts";
export { type ExplainBackend, explainMapping, type RelevantFinding } from "./mapping.ts";
export { type NearMiss, nearMisses } from "./near_miss.ts";
export {
  exitCode,
  EXPLAIN_API_VERSION,
  type ExplainReport,
  formatHuman,
  formatJson,
  type StepReport,
  type Verdict,
} from "./report.ts";
export {
  backendsFromConfig,
  backendsWithoutConfig,
  dynamicFileBackend,
  type LoadDeps,
  type LoadedMapping,
  loadMappingSources,
  type MappingInputs,
  type ProvidedBackends,
  type SourceDeps,
} from "./sources.ts";
