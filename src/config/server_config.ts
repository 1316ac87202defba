/**
 * The server configuration: every key of the Go tool's config file, resolved with viper's
 * precedence (explicit flag > bound env var > config file > default) and validated in the Go tool's
 * order with its messages (docs/configuration.md#server-configuration-keys; the Go side is
 * `getConfig` in
 * https://github.com/kubernetes-sigs/aws-iam-authenticator/blob/v0.7.18/cmd/aws-iam-authenticator/root.go).
 *
 * @module
 */

import { isPartitionId, PARTITION_IDS } from "../aws/mod.ts";
import {
  decodeAccounts,
  type DecodeAt,
  decodeList,
  type DecodeOptions,
  decodeRoleMapping,
  decodeUserMapping,
  MappingDecodeError,
  type RoleMapping,
  type UserMapping,
} from "./mapping.ts";
import type { RuleId } from "./rules.ts";

/** The canonical backend modes, in the Go tool's order. */
export const BACKEND_MODES = ["MountedFile", "EKSConfigMap", "CRD", "DynamicFile"] as const;

/** A canonical backend mode name (what a mapper's `name` reports). */
export type BackendMode = typeof BACKEND_MODES[number];

const DEPRECATED_MODES: Readonly<Record<string, BackendMode>> = {
  File: "MountedFile",
  ConfigMap: "EKSConfigMap",
};

/**
 * The canonical mode for a configured name (`File` -> `MountedFile`, `ConfigMap` ->
 * `EKSConfigMap`), or `undefined` for an unknown name. Case-sensitive, as in the Go tool.
 */
export function canonicalBackendMode(name: string): BackendMode | undefined {
  if ((BACKEND_MODES as readonly string[]).includes(name)) return name as BackendMode;
  return DEPRECATED_MODES[name];
}

/** The feature gates the Go tool declares; unknown gates are rejected. */
export const KNOWN_FEATURE_GATES = [
  "AllAlpha",
  "AllBeta",
  "ConfiguredInitDirectories",
  "IAMIdentityMappingCRD",
  "SSORoleMatch",
] as const;

/** The resolved, validated server configuration. */
export interface ServerConfig {
  /** `clusterID`: unique per-cluster ID, required. */
  clusterId: string;
  /** `log-verbosity`: logrus level name. */
  logVerbosity: string;
  /** `--feature-gates` (command line only). */
  featureGates: Readonly<Record<string, boolean>>;
  /** `role` (env `DEFAULT_ROLE`): token command's default role. */
  role: string;
  /** `region`: token command's region. */
  region: string;
  /** `externalID`: token command's AssumeRole external ID. */
  externalId: string;
  /** `sessionName`: token command's AssumeRole session name. */
  sessionName: string;
  /** `tokenOnly`: token command prints only the token. */
  tokenOnly: boolean;
  /** `forwardSessionName`: token command forwards the caller's session name. */
  forwardSessionName: boolean;
  /** `cache`: token command caches credentials on disk. */
  cache: boolean;
  /** `server.partition`. */
  partition: string;
  /** `server.port`. */
  port: number;
  /** `server.healthPort` (`0` turns the health listener off). */
  healthPort: number;
  /** `server.address`. */
  address: string;
  /** `server.hostname`. */
  hostname: string;
  /** `server.stateDir`. */
  stateDir: string;
  /** `server.generateKubeconfig`. */
  generateKubeconfig: string;
  /** `server.kubeconfigPregenerated`. */
  kubeconfigPregenerated: boolean;
  /** `server.kubeconfig`: kubeconfig for the EKSConfigMap and CRD backends. */
  kubeconfig: string;
  /** `server.master`: API server URL for the EKSConfigMap and CRD backends. */
  master: string;
  /** `server.backendMode`, as configured (deprecated names kept). */
  backendMode: readonly string[];
  /** `server.ec2DescribeInstancesQps` (0 = unlimited). */
  ec2DescribeInstancesQps: number;
  /** `server.ec2DescribeInstancesBurst`. */
  ec2DescribeInstancesBurst: number;
  /** `server.ec2DescribeInstancesRoleARN`. */
  ec2DescribeInstancesRoleArn: string;
  /** `server.sourceARN`. */
  sourceArn: string;
  /** `server.scrubbedAccounts`. */
  scrubbedAccounts: readonly string[];
  /** `server.dynamicfilepath`. */
  dynamicFilePath: string;
  /** `server.dynamicfileUserIDStrict`. */
  dynamicFileUserIdStrict: boolean;
  /** `server.dynamicBackendModePath`. */
  dynamicBackendModePath: string;
  /** `server.reservedPrefixConfig`, keyed by backend mode (last entry wins). */
  reservedPrefixConfig: Readonly<Record<string, readonly string[]>>;
  /** `server.mapRoles` (MountedFile only). */
  mapRoles: readonly RoleMapping[];
  /** `server.mapUsers` (MountedFile only). */
  mapUsers: readonly UserMapping[];
  /** `server.mapAccounts` (MountedFile only). */
  mapAccounts: readonly string[];
  /** The config file the values came from, to say where a mapping entry is; absent without one. */
  source?: ConfigFileLocator;
}

/** A line and column (1-based) in a file. */
export interface FilePosition {
  /** 1-based line. */
  line: number;
  /** 1-based column. */
  column: number;
}

/** Where keys of a loaded config file are. */
export interface ConfigFileLocator {
  /** The file's path as given. */
  readonly path: string;
  /**
   * The position of a key path such as `server.mapRoles[2].groups` (segments matched
   * case-insensitively, as the values are), or `undefined` when the file does not have it.
   */
  locate(key: string): FilePosition | undefined;
}

/** What the config file loader gives us: a case-insensitive lookup of dotted keys. */
export interface ConfigFileSource {
  /** The value at a dotted key (`server.mapRoles`), matched case-insensitively; undefined if unset. */
  get(key: string): unknown;
  /** The file's path, when it came from a file. */
  readonly path?: string;
  /** Positions of keys in the file, when the loader kept them (see {@link ConfigFileLocator}). */
  locate?(key: string): FilePosition | undefined;
}

/**
 * Every key of the config file, spelled as documented. Keys are matched
 * case-insensitively; `validate` reports any other key as unknown.
 */
export const CONFIG_KEYS: readonly string[] = [
  "clusterID",
  "log-verbosity",
  "role",
  "region",
  "externalID",
  "sessionName",
  "tokenOnly",
  "forwardSessionName",
  "cache",
  "server",
  "server.partition",
  "server.port",
  "server.healthPort",
  "server.address",
  "server.hostname",
  "server.stateDir",
  "server.generateKubeconfig",
  "server.kubeconfigPregenerated",
  "server.kubeconfig",
  "server.master",
  "server.backendMode",
  "server.ec2DescribeInstancesQps",
  "server.ec2DescribeInstancesBurst",
  "server.ec2DescribeInstancesRoleARN",
  "server.sourceARN",
  "server.scrubbedAccounts",
  "server.dynamicfilepath",
  "server.dynamicfileUserIDStrict",
  "server.dynamicBackendModePath",
  "server.reservedPrefixConfig",
  "server.mapRoles",
  "server.mapUsers",
  "server.mapAccounts",
];

/** Where the values come from. */
export interface ServerConfigInputs {
  /** Flags the user set explicitly, keyed by viper key (`clusterID`, `server.port`, ...). */
  flags?: Readonly<Record<string, unknown>>;
  /** Environment lookup (e.g. `(n) => Deno.env.get(n)`). */
  env?: (name: string) => string | undefined;
  /** The loaded config file, if `--config` was given. */
  file?: ConfigFileSource;
  /**
   * Receives warnings (deprecated backend modes, coerced account IDs, unknown fields) with the
   * rule they break and, when it is one, the config key path they are about
   * (`server.mapRoles[1].grups`).
   */
  warn?: (message: string, rule: RuleId, key?: string) => void;
  /** Receives informational messages (enabled feature gates). */
  info?: (message: string) => void;
}

/** The config is unusable; the message says what to fix. */
export class ConfigError extends Error {
  /**
   * @param message what is wrong, in the Go tool's words where it has them
   * @param rule the rule it breaks
   * @param key the config key path it is about (`server.mapRoles[0].groups`), when known
   */
  constructor(
    message: string,
    readonly rule: RuleId = "config.invalid",
    readonly key?: string,
  ) {
    super(message);
    this.name = "ConfigError";
  }
}

/** The only env vars the Go tool binds (docs/configuration.md#server-configuration-keys). */
const ENV_BINDINGS: Readonly<Record<string, string>> = {
  "log-verbosity": "AWS_IAM_AUTHENTICATOR_LOG_VERBOSITY",
  "clusterid": "KUBERNETES_AWS_AUTHENTICATOR_CLUSTER_ID",
  "role": "DEFAULT_ROLE",
};

const DEFAULTS: Readonly<Record<string, unknown>> = {
  "log-verbosity": "info",
  "server.partition": "aws",
  "server.port": 21362,
  "server.healthport": 21363,
  "server.address": "127.0.0.1",
  "server.hostname": "localhost",
  "server.statedir": "/var/aws-iam-authenticator",
  "server.generatekubeconfig": "/etc/kubernetes/aws-iam-authenticator/kubeconfig.yaml",
  "server.kubeconfigpregenerated": false,
  "server.backendmode": ["MountedFile"],
  "server.ec2describeinstancesqps": 15,
  "server.ec2describeinstancesburst": 5,
};

/** Viper's per-key precedence, with keys matched case-insensitively. */
function resolver(inputs: ServerConfigInputs): (key: string) => unknown {
  const flags = new Map<string, unknown>();
  for (const [k, v] of Object.entries(inputs.flags ?? {})) flags.set(k.toLowerCase(), v);
  return (key) => {
    const k = key.toLowerCase();
    if (flags.has(k)) return flags.get(k);
    const envName = ENV_BINDINGS[k];
    if (envName !== undefined) {
      const v = inputs.env?.(envName);
      // viper treats a bound env var as set only when it is non-empty.
      if (v !== undefined && v !== "") return v;
    }
    const fromFile = inputs.file?.get(key);
    if (fromFile !== undefined && fromFile !== null) return fromFile;
    return DEFAULTS[k];
  };
}

function str(get: (k: string) => unknown, key: string): string {
  const v = get(key);
  if (v === undefined || v === null) return "";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return String(v);
  throw new ConfigError(
    `invalid value for ${key}: expected a string, got ${JSON.stringify(v)}`,
    "config.invalid",
    key,
  );
}

function int(get: (k: string) => unknown, key: string): number {
  const v = get(key);
  if (typeof v === "number" && Number.isInteger(v)) return v;
  if (typeof v === "string" && /^[+-]?[0-9]+$/.test(v.trim())) return Number.parseInt(v, 10);
  throw new ConfigError(
    `invalid value for ${key}: expected an integer, got ${JSON.stringify(v)}`,
    "config.invalid",
    key,
  );
}

function bool(get: (k: string) => unknown, key: string): boolean {
  const v = get(key);
  if (v === undefined || v === null) return false;
  if (typeof v === "boolean") return v;
  if (typeof v === "string") {
    // The spellings Go's strconv.ParseBool accepts.
    if (["1", "t", "T", "TRUE", "true", "True"].includes(v)) return true;
    if (["0", "f", "F", "FALSE", "false", "False", ""].includes(v)) return false;
  }
  if (typeof v === "number") return v !== 0;
  throw new ConfigError(
    `invalid value for ${key}: expected true or false, got ${JSON.stringify(v)}`,
    "config.invalid",
    key,
  );
}

/** A list key: YAML list, or a string split on whitespace (viper's GetStringSlice). */
function list(get: (k: string) => unknown, key: string): string[] {
  const v = get(key);
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v.map((x) => String(x));
  if (typeof v === "string") return v.split(/\s+/).filter((s) => s !== "");
  throw new ConfigError(
    `invalid value for ${key}: expected a list, got ${JSON.stringify(v)}`,
    "config.invalid",
    key,
  );
}

/** Parse `--feature-gates` (`Name=true,Other=false` or an already-split record). */
export function parseFeatureGates(v: unknown): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  if (v === undefined || v === null || v === "") return out;
  const pairs: [string, unknown][] = typeof v === "string"
    ? v.split(",").filter((s) => s.trim() !== "").map((s) => {
      const at = s.indexOf("=");
      if (at < 0) throw new ConfigError(`missing bool value for ${s.trim()}`);
      return [s.slice(0, at).trim(), s.slice(at + 1).trim()];
    })
    : Object.entries(v as Record<string, unknown>);
  for (const [name, raw] of pairs) {
    if (!(KNOWN_FEATURE_GATES as readonly string[]).includes(name)) {
      throw new ConfigError(`unrecognized feature gate: ${name}`);
    }
    if (typeof raw === "boolean") out[name] = raw;
    else if (typeof raw === "string" && /^(1|t|T|TRUE|true|True)$/.test(raw)) out[name] = true;
    else if (typeof raw === "string" && /^(0|f|F|FALSE|false|False)$/.test(raw)) out[name] = false;
    else {
      throw new ConfigError(
        `invalid value of ${name}=${String(raw)}, err: strconv.ParseBool: parsing ${
          JSON.stringify(String(raw))
        }: invalid syntax`,
      );
    }
  }
  return out;
}

/** Go's `utilerrors.NewAggregate(...).Error()`: one error alone, several as `[e1, e2]`. */
function aggregate(messages: string[]): string {
  return messages.length === 1 ? messages[0] as string : `[${messages.join(", ")}]`;
}

/**
 * Validate the backend-mode list (the Go tool's `getConfig` check of `server.backendMode`).
 * Returns the error messages (empty when valid) and reports deprecated names through `warn`.
 */
export function validateBackendModes(
  modes: readonly string[],
  warn?: (message: string, rule: RuleId) => void,
): string[] {
  const errs: string[] = [];
  for (const mode of modes) {
    if (canonicalBackendMode(mode) === undefined) {
      errs.push(`backend-mode ${JSON.stringify(mode)} is not a valid mode`);
    }
    const replacement = DEPRECATED_MODES[mode];
    if (replacement !== undefined) {
      warn?.(
        `warning: backend-mode ${JSON.stringify(mode)} is deprecated, use ${
          JSON.stringify(replacement)
        } instead`,
        "config.deprecated",
      );
    }
  }
  if (new Set(modes).size !== modes.length) {
    errs.push(`backend-mode [${modes.map((m) => JSON.stringify(m)).join(" ")}] has duplicates`);
  }
  if (modes.length === 0) errs.push("at least one backend-mode must be specified");
  return errs;
}

function decodeReservedPrefixConfig(
  v: unknown,
  opts: DecodeOptions,
): Record<string, readonly string[]> {
  const out: Record<string, readonly string[]> = {};
  if (v === undefined || v === null) return out;
  if (!Array.isArray(v)) {
    throw new MappingDecodeError("", `expected a list, got ${typeof v}`);
  }
  v.forEach((item, i) => {
    if (typeof item !== "object" || item === null || Array.isArray(item)) {
      throw new MappingDecodeError(`[${i}]`, "expected a mapping");
    }
    let mode = "";
    let prefixes: string[] = [];
    for (const [k, val] of Object.entries(item as Record<string, unknown>)) {
      const lower = k.toLowerCase();
      if (lower === "backendmode") {
        if (typeof val !== "string") {
          throw new MappingDecodeError(`[${i}].backendmode`, "expected a string");
        }
        mode = val;
      } else if (lower === "usernameprefixreservelist") {
        if (typeof val === "string") prefixes = [val];
        else if (Array.isArray(val)) prefixes = val.map((p) => String(p));
        else if (val !== null && val !== undefined) {
          throw new MappingDecodeError(`[${i}].usernamePrefixReserveList`, "expected a list");
        }
      } else {
        opts.warn?.(
          `server.reservedPrefixConfig[${i}]: unknown field "${k}" is ignored`,
          "key.unknown",
          {
            path: `[${i}]`,
            key: k,
          },
        );
      }
    }
    // The mappers look their list up by canonical name, so an alias or a typo here would
    // silently reserve nothing (the Go tool's behavior); resolve aliases and say so.
    const canonical = canonicalBackendMode(mode);
    if (canonical === undefined) {
      opts.warn?.(
        `server.reservedPrefixConfig[${i}]: backendmode ${
          JSON.stringify(mode)
        } names no backend (use one of ${BACKEND_MODES.join(", ")}); its prefixes reserve nothing`,
        "config.reserved_prefix",
        { path: `[${i}]` },
      );
      return;
    }
    if (canonical !== mode) {
      opts.warn?.(
        `server.reservedPrefixConfig[${i}]: backendmode ${
          JSON.stringify(mode)
        } is deprecated, use "${canonical}" instead`,
        "config.deprecated",
        { path: `[${i}]` },
      );
    }
    out[canonical] = prefixes;
  });
  return out;
}

/**
 * The error with the file position of its key prepended (`cfg.yaml:12:5: entry.type: ...`) when
 * the file kept positions, so a start-up error points where `validate` points.
 */
function located(file: ConfigFileSource | undefined, err: ConfigError): ConfigError {
  if (err.key === undefined || file?.locate === undefined || file.path === undefined) return err;
  if (LOCATED.has(err)) return err;
  const pos = file.locate(err.key);
  if (pos === undefined) return err;
  const out = new ConfigError(
    `${file.path}:${pos.line}:${pos.column}: ${err.rule}: ${err.message}`,
    err.rule,
    err.key,
  );
  LOCATED.add(out);
  return out;
}

const LOCATED = new WeakSet<ConfigError>();

/**
 * Build and validate the server configuration (the Go tool's `getConfig` order and messages).
 *
 * @throws {ConfigError} with the first problem found, in the Go tool's words.
 */
export function buildServerConfig(inputs: ServerConfigInputs): ServerConfig {
  try {
    return build(inputs);
  } catch (e) {
    // A value set by a flag or an environment variable is not where the file has the key.
    if (e instanceof ConfigError && e.key !== undefined && fromFile(inputs, e.key)) {
      throw located(inputs.file, e);
    }
    throw e;
  }
}

/** Whether the value at `key` (a path such as `server.mapRoles[0]`) came from the file. */
function fromFile(inputs: ServerConfigInputs, key: string): boolean {
  const base = key.replace(/\[.*$/, "").toLowerCase();
  if (Object.keys(inputs.flags ?? {}).some((k) => k.toLowerCase() === base)) return false;
  const env = ENV_BINDINGS[base];
  return env === undefined || !inputs.env?.(env);
}

function build(inputs: ServerConfigInputs): ServerConfig {
  const get = resolver(inputs);
  const warn = inputs.warn ?? (() => {});
  /** Decoder warnings of the list at `key`, with the key path they are about. */
  const warnAt = (key: string) => (m: string, rule: RuleId, at: DecodeAt) =>
    warn(`${key}${m}`, rule, `${key}${at.path}${at.key !== undefined ? `.${at.key}` : ""}`);
  const strictList = <T>(
    key: string,
    prefix: string,
    decode: (v: unknown, p: string, o: DecodeOptions) => T,
  ): T[] => {
    try {
      const warnings: [string, RuleId, DecodeAt][] = [];
      const entries = decodeList(
        get(key),
        decode,
        { weak: true, warn: (m, rule, at) => warnings.push([m, rule, at]) },
        (_i, err) => {
          throw err;
        },
      );
      for (const [m, rule, at] of warnings) warnAt(key)(m, rule, at);
      return entries.map((e) => e.value);
    } catch (e) {
      if (e instanceof MappingDecodeError) {
        throw located(
          inputs.file,
          new ConfigError(
            `${prefix}: ${key}${e.path ? "" : ": "}${e.message}`,
            e.rule,
            `${key}${e.path}`,
          ),
        );
      }
      throw e;
    }
  };

  // 1-4: decode the mapping keys.
  const mapRoles = strictList("server.mapRoles", "invalid server role mappings", decodeRoleMapping);
  const mapUsers = strictList("server.mapUsers", "invalid server user mappings", decodeUserMapping);
  let mapAccounts: string[];
  try {
    mapAccounts = decodeAccounts(get("server.mapAccounts"), {
      weak: true,
      warn: warnAt("server.mapAccounts"),
    });
  } catch (e) {
    throw located(
      inputs.file,
      new ConfigError(
        `invalid server account mappings: ${(e as Error).message}`,
        "entry.type",
        "server.mapAccounts",
      ),
    );
  }
  let reservedPrefixConfig: Record<string, readonly string[]>;
  try {
    reservedPrefixConfig = decodeReservedPrefixConfig(
      get("server.reservedPrefixConfig"),
      // Its messages already name the key; the path is for locating.
      {
        weak: true,
        warn: (m, rule, at) =>
          warn(
            m,
            rule,
            `server.reservedPrefixConfig${at.path}${at.key !== undefined ? `.${at.key}` : ""}`,
          ),
      },
    );
  } catch (e) {
    const path = e instanceof MappingDecodeError ? e.path : "";
    throw located(
      inputs.file,
      new ConfigError(
        `invalid reserved prefix config: ${(e as Error).message}`,
        "entry.type",
        `server.reservedPrefixConfig${path}`,
      ),
    );
  }

  // 5: feature gates (command line only, as in the Go tool).
  const flagGates = Object.entries(inputs.flags ?? {}).find(([k]) =>
    k.toLowerCase() === "feature-gates"
  );
  const featureGates = parseFeatureGates(flagGates?.[1]);
  if (featureGates.SSORoleMatch) inputs.info?.("SSORoleMatch feature enabled");
  if (featureGates.ConfiguredInitDirectories) {
    inputs.info?.("ConfiguredInitDirectories feature enabled");
  }

  // 6: cluster ID.
  const clusterId = str(get, "clusterID");
  if (clusterId === "") throw new ConfigError("cluster ID cannot be empty");

  // 7: partition.
  const partition = str(get, "server.partition");
  if (!isPartitionId(partition)) {
    throw (new ConfigError(
      `invalid partition: ${JSON.stringify(partition)} is not one of ${PARTITION_IDS.join(", ")}`,
      "config.invalid",
      "server.partition",
    ));
  }

  // 8: DynamicFile needs its path, and the path needs the mode.
  const backendMode = list(get, "server.backendMode");
  const dynamicFilePath = str(get, "server.dynamicfilepath");
  const hasDynamic = backendMode.includes("DynamicFile");
  if (hasDynamic && dynamicFilePath === "") {
    throw (new ConfigError(
      "dynamicfile is set in backend-mode but dynamicfilepath is not set",
      "config.invalid",
      "server.backendMode",
    ));
  }
  if (!hasDynamic && dynamicFilePath !== "") {
    throw (new ConfigError(
      "dynamicfile is not set in backend-mode but dynamicfilepath is set",
      "config.invalid",
      "server.dynamicfilepath",
    ));
  }

  // 9: backend modes.
  const modeErrors = validateBackendModes(
    backendMode,
    (m, rule) => warn(m, rule, "server.backendMode"),
  );
  if (modeErrors.length > 0) {
    throw new ConfigError(aggregate(modeErrors), "config.invalid", "server.backendMode");
  }

  const port = int(get, "server.port");
  const healthPort = int(get, "server.healthPort");
  for (const [key, p] of [["server.port", port], ["server.healthPort", healthPort]] as const) {
    if (p < 0 || p > 65535) throw new ConfigError(`invalid value for ${key}: ${p} is not a port`);
  }
  const qps = int(get, "server.ec2DescribeInstancesQps");
  const burst = int(get, "server.ec2DescribeInstancesBurst");
  if (qps < 0) {
    throw new ConfigError(`invalid value for server.ec2DescribeInstancesQps: ${qps} is negative`);
  }

  return {
    clusterId,
    logVerbosity: str(get, "log-verbosity"),
    featureGates,
    role: str(get, "role"),
    region: str(get, "region"),
    externalId: str(get, "externalID"),
    sessionName: str(get, "sessionName"),
    tokenOnly: bool(get, "tokenOnly"),
    forwardSessionName: bool(get, "forwardSessionName"),
    cache: bool(get, "cache"),
    partition,
    port,
    healthPort,
    address: str(get, "server.address"),
    hostname: str(get, "server.hostname"),
    stateDir: str(get, "server.stateDir"),
    generateKubeconfig: str(get, "server.generateKubeconfig"),
    kubeconfigPregenerated: bool(get, "server.kubeconfigPregenerated"),
    kubeconfig: str(get, "server.kubeconfig"),
    master: str(get, "server.master"),
    backendMode,
    ec2DescribeInstancesQps: qps,
    ec2DescribeInstancesBurst: burst,
    ec2DescribeInstancesRoleArn: str(get, "server.ec2DescribeInstancesRoleARN"),
    sourceArn: str(get, "server.sourceARN"),
    scrubbedAccounts: list(get, "server.scrubbedAccounts"),
    dynamicFilePath,
    dynamicFileUserIdStrict: bool(get, "server.dynamicfileUserIDStrict"),
    dynamicBackendModePath: str(get, "server.dynamicBackendModePath"),
    reservedPrefixConfig,
    mapRoles,
    mapUsers,
    mapAccounts,
    ...(inputs.file?.path !== undefined && inputs.file.locate !== undefined
      ? { source: { path: inputs.file.path, locate: inputs.file.locate.bind(inputs.file) } }
      : {}),
  };
}
