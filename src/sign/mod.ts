/**
 * The token side of aws-iam-authenticator: credentials, the presigned STS token, the
 * ExecCredential document and both caches. Heavy dependencies (AWS SDK, YAML, aws4fetch) are
 * imported lazily inside, so importing this module is cheap.
 *
 * @module
 */

export {
  defaultGeneratorDeps,
  type GeneratorDeps,
  type GeneratorLog,
  getToken,
  TokenError,
  type TokenFlowObserver,
  type TokenRequest,
} from "./generator.ts";
export {
  amzDate,
  base64UrlNoPad,
  CLUSTER_ID_HEADER,
  generateToken,
  presignGetCallerIdentity,
  type PresignInput,
  type Token,
  TOKEN_LIFETIME_MS,
  TOKEN_PREFIX,
} from "./presign.ts";
export {
  DEFAULT_EXEC_API_VERSION,
  execCredentialApiVersion,
  formatExecCredential,
  rfc3339Seconds,
} from "./exec_credential.ts";
export {
  type Credentials,
  CredentialsError,
  defaultSignDeps,
  envCredentials,
  loadProfile,
  parseIni,
  type Profile,
  profileName,
  resolveCredentials,
  sharedFilePaths,
  type SignDeps,
} from "./credentials.ts";
export { resolveStsEndpoint, type StsEndpoint } from "./endpoint.ts";
export {
  cacheDir,
  CacheError,
  cacheFilePath,
  type CacheKey,
  type CredentialCache,
  openCredentialCache,
  rfc3339NanoLocal,
} from "./cache.ts";
export {
  readTokenCache,
  TOKEN_CACHE_MARGIN_MS,
  tokenCacheEnabled,
  tokenCacheFile,
  type TokenCacheKey,
  tokenCacheKeyText,
  type TokenCacheLookup,
  writeTokenCache,
} from "./token_cache.ts";
export {
  assumeRole,
  type AssumeRoleOptions,
  defaultSessionName,
  forwardedSessionName,
  StsCallError,
} from "./assume_role.ts";
