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
  ConfigError,
  type ConfigFileSource,
  KNOWN_FEATURE_GATES,
  parseFeatureGates,
  type ServerConfig,
  type ServerConfigInputs,
  validateBackendModes,
} from "./server_config.ts";
export {
  decodeAccounts,
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
  parseMountInfo,
} from "./file_safety.ts";
