/**
 * The server configuration: the config-file schema, viper-like precedence and the Go tool's
 * validation, plus the mapping entry shapes every mapping backend decodes into.
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
