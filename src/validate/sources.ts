/**
 * The mapping sources `validate` (and `explain`) work on: what each input turned out to be,
 * read through the server's own parsers, with positions in the input for every entry.
 *
 * @module
 */

import type { RoleMapping, ServerConfig, UserMapping } from "../config/mod.ts";
import type {
  IAMIdentityMapping,
  Located,
  ParsedSections,
  Problem,
  SectionEntry,
} from "../map/mod.ts";
import type { FilePos } from "./positions.ts";

/** A section of a mapping source. */
export type Section = "mapRoles" | "mapUsers" | "mapAccounts";

/**
 * Positions in a source: entry `index` of `section` (its key `key` when given), or the section
 * itself when `index` is undefined.
 */
export type EntryPositions = (section: Section, index?: number, key?: string) => FilePos;

/** The server config file among the inputs. */
export interface ConfigInput {
  /** The file. */
  file: string;
  /** The validated config, as `server` builds it (with `source` for positions). */
  config: ServerConfig;
  /** Whether the file sets `clusterID` (without it, `config.clusterId` is a placeholder). */
  clusterIdGiven: boolean;
}

/** The MountedFile mappings of a server config file (`server.mapRoles` ...). */
export interface MountedFileSource {
  /** The backend. */
  readonly backend: "MountedFile";
  /** The config file. */
  file: string;
  /** The config (for `reservedPrefixConfig` and friends). */
  config: ServerConfig;
  /** `server.mapRoles` entries, located `file:line:col` (the server's own locations). */
  roles: Located<RoleMapping>[];
  /** `server.mapUsers` entries. */
  users: Located<UserMapping>[];
  /** `server.mapAccounts`. */
  accounts: string[];
  /** Positions of entries and their keys. */
  at: EntryPositions;
}

/** An `aws-auth` ConfigMap or a DynamicFile, parsed by the server's parser. */
export interface SectionsSource {
  /** The backend it feeds. */
  readonly backend: "EKSConfigMap" | "DynamicFile";
  /** The file, or the cluster object (`ConfigMap kube-system/aws-auth`). */
  file: string;
  /** What `parseAwsAuth` / `parseDynamicFile` returned (entries located `file:line:col`). */
  parsed: ParsedSections;
  /** Positions of entries and their keys. */
  at: EntryPositions;
  /** Indexes of `mapAccounts` items written as plain YAML numbers. */
  unquotedAccounts: ReadonlySet<number>;
}

/** IAMIdentityMapping objects (from manifests or the cluster). */
export interface CrdSource {
  /** The backend. */
  readonly backend: "CRD";
  /** The file, or `cluster` for objects read from the cluster. */
  file: string;
  /** The objects with their positions. */
  objects: { object: IAMIdentityMapping; at: FilePos; field(key: string): FilePos }[];
  /** The role entries in the server's order (`crdRoleEntries`). */
  roles: Located<RoleMapping>[];
  /** Objects the server would not load. */
  problems: Problem[];
}

/** One mapping source. */
export type MappingSource = MountedFileSource | SectionsSource | CrdSource;

/** Everything found in the inputs, grouped by backend. */
export interface MappingSources {
  /** The server config, when one was among the inputs. */
  config?: ConfigInput;
  /** The dynamic backend-mode file's modes, when one was among the inputs. */
  backendModeFile?: { file: string; modes: string[] };
  /** Sources by backend, each in input order. */
  backends: {
    MountedFile: MountedFileSource[];
    EKSConfigMap: SectionsSource[];
    CRD: CrdSource[];
    DynamicFile: SectionsSource[];
  };
}

/** An empty {@link MappingSources}. */
export function emptySources(): MappingSources {
  return { backends: { MountedFile: [], EKSConfigMap: [], CRD: [], DynamicFile: [] } };
}

/** Every source, MountedFile first, then in backend order of the catalogue. */
export function allSources(s: MappingSources): MappingSource[] {
  return [
    ...s.backends.MountedFile,
    ...s.backends.EKSConfigMap,
    ...s.backends.CRD,
    ...s.backends.DynamicFile,
  ];
}

/** The role entries of a source, with their index in the section. */
export function roleEntries(s: MappingSource): readonly Located<RoleMapping>[] {
  if ("parsed" in s) return s.parsed.roles ?? [];
  return s.roles;
}

/** The user entries of a source. */
export function userEntries(s: MappingSource): readonly Located<UserMapping>[] {
  if ("parsed" in s) return s.parsed.users ?? [];
  if ("users" in s) return s.users;
  return [];
}

/** The account IDs of a source. */
export function accountsOf(s: MappingSource): readonly string[] {
  if ("parsed" in s) return s.parsed.accounts ?? [];
  if ("accounts" in s) return s.accounts;
  return [];
}

/** The index of an entry in its section (position in the list as written). */
export function indexOf<T>(entry: Located<T>, fallback: number): number {
  return (entry as Partial<SectionEntry<T>>).index ?? fallback;
}
