/**
 * Identity mapping: turns a verified AWS identity into a Kubernetes user through the
 * backends of `server.backendMode` (MountedFile, DynamicFile, EKSConfigMap, CRD).
 *
 * @module
 */

export {
  type ChainOptions,
  createMapperChain,
  mapIdentity,
  type MapIdentityOptions,
  type MapperChain,
  type MappingBackend,
  type MapTraceEvent,
  parseBackendModeFile,
} from "./chain.ts";
export {
  type DescribeInstancesFn,
  type Ec2Instance,
  type Identity,
  type KubeConfigLike,
  type Logger,
  type MappedIdentity,
  type Mapper,
  type MapperDeps,
  type MapperMetrics,
  MappingError,
  type MappingMatch,
  NOOP_LOGGER,
  NOOP_METRICS,
  NotMappedError,
} from "./mapper.ts";
export { mountedFileEntries, MountedFileMapper } from "./file.ts";
export {
  DynamicFileMapper,
  type DynamicFileParseOptions,
  type ParsedDynamicFile,
  parseDynamicFile,
} from "./dynamic_file.ts";
export { type AwsAuthParseOptions, ConfigMapMapper, parseAwsAuth } from "./config_map.ts";
export {
  CRD_GROUP,
  CRD_PLURAL,
  CRD_VERSION,
  CrdMapper,
  crdRoleEntries,
  type IAMIdentityMapping,
  type LocateObject,
  objectLocation,
} from "./crd.ts";
export {
  type Locate,
  LocatedEntry,
  type ParsedSections,
  type Position,
  positionFields,
  type SectionEntry,
} from "./source.ts";
export { createDescribeInstances, Ec2PrivateDnsProvider } from "./ec2.ts";
export { KubeApiError, KubeClient, loadKubeConfig } from "./kube.ts";
export { INSTANCE_ID_SESSION, renderTemplate } from "./template.ts";
export { ssoPrefix, ssoSuffixMatches } from "./sso.ts";
export { arnKey, type Located, MappingStore, type Problem, type StoreEntry } from "./store.ts";
