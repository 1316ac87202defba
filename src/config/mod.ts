/**
 * The server configuration: the config-file schema, viper-like precedence and the Go tool's
 * validation, the mapping entry shapes every mapping backend decodes into, and the check for
 * mapping files that group or others can write.
 *
 * @module
 */

export {
  BACKEND_MODES,
  type BackendMode,
  buildServerConfig,
  canonicalBackendMode,
  CONFIG_KEYS,
  ConfigError,
  type ConfigFileLocator,
  type ConfigFileSource,
  type FilePosition,
  KNOWN_FEATURE_GATES,
  parseFeatureGates,
  type ServerConfig,
  type ServerConfigInputs,
  validateBackendModes,
} from "./server_config.ts";
export {
  decodeAccounts,
  type DecodeAt,
  decodeList,
  type DecodeOptions,
  decodeRoleMapping,
  decodeUserMapping,
  MappingDecodeError,
  type RoleMapping,
  ssoArnLike,
  type SsoMapping,
  type UserMapping,
  validateRoleMapping,
  validateUserMapping,
} from "./mapping.ts";
export {
  checkFileSafety,
  checkMode,
  DENO_FILE_SAFETY_FS,
  type FileModeInfo,
  type FileSafetyFinding,
  type FileSafetyFs,
  fileSafetyWarning,
  type MountInfo,
  octalMode,
  parentDir,
  parseMountInfo,
} from "./file_safety.ts";
export {
  closestKey,
  type Rule,
  RULE_IDS,
  RuleError,
  type RuleId,
  RULES,
  type Severity,
} from "./rules.ts";
export { jsonErrorOffset } from "./json_offset.ts";
export {
  decodeText,
  depthExceeded,
  MAX_ALIAS_COUNT,
  MAX_DEPTH,
  MAX_INPUT_BYTES,
} from "./limits.ts";
