/**
 * `validate`: checks mapping sources (the server config file, `aws-auth` ConfigMap manifests,
 * DynamicFile and backend-mode files, IAMIdentityMapping manifests, or a live cluster) before
 * they ship, through the server's own parsers, and reports findings with `file:line:column`,
 * a rule ID from the shared catalogue (`RULES`) and a fix. See docs/validate.md.
 *
 * The pieces `explain` builds on: {@link readMappingSources} / {@link readCluster} (the
 * sources, grouped by backend, with located entries), {@link lint} and {@link mappingTable}.
 *
 * @module
 */

export { type Rule, RULE_IDS, type RuleId, RULES, type Severity } from "../config/mod.ts";
export { type Finding, finding, sortFindings } from "./finding.ts";
export {
  decodeText,
  depthExceeded,
  MAX_ALIAS_COUNT,
  MAX_DEPTH,
  MAX_INPUT_BYTES,
} from "../config/mod.ts";
export { type FilePos, scalarMap, SourceText } from "./positions.ts";
export {
  FS_DEPS,
  type Input,
  type ReadDeps,
  readMappingSources,
  type ReadResult,
  UNREADABLE_RULES,
} from "./read.ts";
export { type ClusterInput, readCluster } from "./cluster.ts";
export {
  accountsOf,
  allSources,
  type ConfigInput,
  type CrdSource,
  emptySources,
  type EntryPositions,
  type MappingSource,
  type MappingSources,
  type MountedFileSource,
  roleEntries,
  type Section,
  type SectionsSource,
  userEntries,
} from "./sources.ts";
export { lint, type LintOptions } from "./lint.ts";
export { type MappingRow, mappingTable } from "./table.ts";
export {
  formatGithub,
  formatHuman,
  formatJson,
  formatTable,
  REPORT_VERSION,
  summarize,
  type Summary,
} from "./report.ts";
