/**
 * The mapping backends `explain` evaluates, built by the server's own code from what the user
 * points it at: the server's config (`--config`, with its `backendMode` order and its
 * DynamicFile and backend-mode files), mapping files and the live cluster. Nothing here writes
 * anything.
 *
 * @module
 */

import { BACKEND_MODES, type BackendMode, canonicalBackendMode } from "../config/mod.ts";
import type { ServerConfig } from "../config/mod.ts";
import { parseArn } from "../aws/mod.ts";
import {
  arnKey,
  createDescribeInstances,
  MappingStore,
  MountedFileMapper,
  NOOP_LOGGER,
  parseBackendModeFile,
  parseDynamicFile,
} from "../map/mod.ts";
import type { ExplainBackend, RelevantFinding } from "./mapping.ts";
// Types only: validate's reader is loaded on the path that reads sources (see below).
import type { Finding, Input, SectionsSource } from "../validate/mod.ts";

/** File access (injectable for tests). */
export interface SourceDeps {
  /** Reads a UTF-8 file; throws `Deno.errors.NotFound` when it is absent. */
  readTextFile(path: string): Promise<string>;
}

/** A backend's mappings that came from somewhere other than the server config's own files. */
export type ProvidedBackends = Partial<Record<BackendMode, Omit<ExplainBackend, "reserved">>>;

/** The DynamicFile backend from a file's text, as the server builds it. */
export function dynamicFileBackend(
  text: string,
  path: string,
  userIdStrict: boolean,
): Omit<ExplainBackend, "reserved"> {
  const parsed = parseDynamicFile(text, path);
  const { store } = MappingStore.build(
    parsed.roles ?? [],
    parsed.users ?? [],
    parsed.accounts ?? [],
    { userIdStrict },
  );
  return { name: "DynamicFile", origin: path, store };
}

/**
 * The backends of a server config, in the order the server would consult them: the dynamic
 * backend-mode file's when it is readable (as the server would have switched to it), else
 * `server.backendMode`. EKSConfigMap and CRD come from `provided` (mapping files or the live
 * cluster); without them they are reported as not read.
 *
 * @throws {Error} when the config's MountedFile mappings are invalid (the server would not start).
 */
export async function backendsFromConfig(
  config: ServerConfig,
  configPath: string,
  provided: ProvidedBackends,
  deps: SourceDeps,
): Promise<{ backends: ExplainBackend[]; notes: string[] }> {
  const notes: string[] = [];
  let modes: readonly string[] = config.backendMode;
  if (config.dynamicBackendModePath !== "") {
    try {
      modes = parseBackendModeFile(await deps.readTextFile(config.dynamicBackendModePath)).modes;
      notes.push(`backend order from ${config.dynamicBackendModePath}`);
    } catch (e) {
      notes.push(
        `${config.dynamicBackendModePath} not used (${
          (e as Error).message
        }); backend order from server.backendMode`,
      );
    }
  }
  const backends: ExplainBackend[] = [];
  for (const raw of modes) {
    const mode = canonicalBackendMode(raw);
    if (mode === undefined) {
      throw new Error(`backend-mode ${JSON.stringify(raw)} is not a valid mode`);
    }
    const reserved = config.reservedPrefixConfig[mode] ?? [];
    const given = provided[mode];
    if (given !== undefined) {
      backends.push({ ...given, reserved });
      continue;
    }
    switch (mode) {
      case "MountedFile": {
        const m = new MountedFileMapper(config, NOOP_LOGGER);
        backends.push({ name: mode, origin: configPath, store: m.store, reserved });
        break;
      }
      case "DynamicFile": {
        let text: string;
        try {
          text = await deps.readTextFile(config.dynamicFilePath);
        } catch (e) {
          if (!(e instanceof Deno.errors.NotFound)) {
            backends.push({
              name: mode,
              origin: config.dynamicFilePath,
              unavailable: `cannot read ${config.dynamicFilePath}: ${(e as Error).message}`,
              reserved,
            });
            break;
          }
          // The server treats a file that does not exist (yet) as empty.
          backends.push({
            name: mode,
            origin: `${config.dynamicFilePath} (absent)`,
            store: MappingStore.EMPTY,
            reserved,
          });
          break;
        }
        backends.push({
          ...dynamicFileBackend(text, config.dynamicFilePath, config.dynamicFileUserIdStrict),
          reserved,
        });
        break;
      }
      default:
        backends.push({
          name: mode,
          origin: mode === "EKSConfigMap"
            ? "ConfigMap kube-system/aws-auth"
            : "IAMIdentityMapping objects",
          unavailable: "pass --kubeconfig (the live cluster) or --mapping FILE",
          reserved,
        });
    }
  }
  return { backends, notes };
}

/** Without a server config: the provided backends, in the Go tool's canonical order. */
export function backendsWithoutConfig(provided: ProvidedBackends): ExplainBackend[] {
  return BACKEND_MODES.flatMap((mode) => {
    const given = provided[mode];
    return given === undefined ? [] : [{ ...given, reserved: [] }];
  });
}

/** What the user pointed `explain` at for the mapping step. */
export interface MappingInputs {
  /** `--config`: the server's config file (`""` without). */
  configPath: string;
  /** `--mapping` files (`-` is stdin). */
  mappingFiles: readonly string[];
  /** `--kubeconfig` (`""`: the default kubeconfig rules); `undefined` when not given. */
  kubeconfig?: string;
  /** `--context`. */
  context: string;
  /** `--offline`: nothing that needs the network (no EC2 lookups). */
  offline: boolean;
}

/** The mapping step's inputs, ready for {@link explain}. */
export interface LoadedMapping {
  /** The server's config (from `--config`, or a server config among the mapping files). */
  serverConfig?: ServerConfig;
  /** Its `clusterID`, when the file sets one. */
  serverClusterId?: string;
  /** The backends in the server's order; `undefined` when there is nothing to evaluate. */
  backends?: ExplainBackend[];
  /** Why nothing could be evaluated, when something was asked for. */
  unavailable?: string;
  /** Where the backends came from. */
  notes: string[];
  /** The problems of the sources that concern one identity (computed on first use). */
  findingsFor?: (canonicalArn: string) => RelevantFinding[];
  /** The flags an administrator adds to `explain --arn` to finish the diagnosis. */
  adminSource: string;
  /** `{{EC2PrivateDNSName}}` through DescribeInstances with this machine's credentials. */
  privateDnsName?: (instanceId: string) => Promise<string>;
}

/** Process effects of {@link loadMappingSources}. */
export interface LoadDeps extends SourceDeps {
  /** Environment lookup (region for EC2). */
  env: (name: string) => string | undefined;
  /** Reads standard input, at most `max` bytes (for `--mapping -`). */
  readStdin?: (max: number) => Promise<Uint8Array>;
}

function ec2Lookup(
  config: ServerConfig | undefined,
  env: (name: string) => string | undefined,
): (instanceId: string) => Promise<string> {
  let describe: ReturnType<typeof createDescribeInstances> | undefined;
  return async (instanceId) => {
    describe ??= createDescribeInstances({
      roleArn: config?.ec2DescribeInstancesRoleArn ?? "",
      sourceArn: config?.sourceArn ?? "",
      region: env("AWS_REGION") || env("AWS_DEFAULT_REGION") || undefined,
    });
    const found = (await describe([instanceId])).find((i) => i.instanceId === instanceId);
    if (found === undefined || found.privateDnsName === "") {
      throw new Error(`DescribeInstances has no private DNS name for ${instanceId}`);
    }
    return found.privateDnsName;
  };
}

type Validate = typeof import("../validate/mod.ts");

/** One backend from every source of its kind, entries in the order given (the first wins). */
function combine(
  name: "EKSConfigMap" | "DynamicFile",
  sources: readonly SectionsSource[],
  userIdStrict: boolean,
): Omit<ExplainBackend, "reserved"> {
  const { store } = MappingStore.build(
    sources.flatMap((s) => s.parsed.roles ?? []),
    sources.flatMap((s) => s.parsed.users ?? []),
    sources.flatMap((s) => s.parsed.accounts ?? []),
    { userIdStrict },
  );
  return { name, origin: sources.map((s) => s.file).join(", "), store };
}

/**
 * Whether a finding of `validate` concerns the identity: it names its ARN (or the same principal
 * name in the same account) or its account.
 */
function concerns(subject: string, canonicalArn: string): boolean {
  try {
    if (subject.startsWith("arn:")) {
      if (arnKey(subject) === arnKey(canonicalArn)) return true;
      const a = parseArn(subject);
      const b = parseArn(canonicalArn);
      const name = (r: string) => r.split("/").at(-1)?.toLowerCase();
      return a.accountId === b.accountId && name(a.resource) === name(b.resource);
    }
    return subject === parseArn(canonicalArn).accountId;
  } catch {
    return false;
  }
}

/**
 * Reads every mapping source the user gave (the server's config in one parse, with validate's
 * reader) and builds the backends the server would consult.
 *
 * @throws {Error} when a source cannot be read, or the config is not one the server would start
 * with (`explain` exits 2).
 */
export async function loadMappingSources(
  inputs: MappingInputs,
  deps: LoadDeps,
): Promise<LoadedMapping> {
  const adminSource = inputs.configPath !== ""
    ? `--config ${inputs.configPath} --kubeconfig ~/.kube/config`
    : "--kubeconfig ~/.kube/config";
  if (
    inputs.configPath === "" && inputs.mappingFiles.length === 0 &&
    inputs.kubeconfig === undefined
  ) {
    return {
      notes: [],
      adminSource,
      privateDnsName: inputs.offline ? undefined : ec2Lookup(undefined, deps.env),
    };
  }
  const v: Validate = await import("../validate/mod.ts");
  const files: Input[] = [];
  if (inputs.configPath !== "") files.push({ path: inputs.configPath });
  for (const f of inputs.mappingFiles) {
    if (f !== "-") files.push({ path: f });
    else if (deps.readStdin) {
      files.push({ name: "<stdin>", bytes: await deps.readStdin(v.MAX_INPUT_BYTES) });
    } else throw new Error("--mapping - needs standard input");
  }
  const read = await v.readMappingSources(files);
  const failure = (what: string, rules: (f: Finding) => boolean) => {
    const why = read.findings.filter(rules).map((f) =>
      `${f.line > 0 ? `${f.file}:${f.line}:${f.column}` : f.file}: ${f.rule}: ${f.message}`
    );
    return new Error(`${what}: ${why.join("; ")}`);
  };
  if (read.unreadable) {
    throw failure("cannot read the mapping sources", (f) => v.UNREADABLE_RULES.has(f.rule));
  }
  const { sources } = read;
  if (inputs.configPath !== "" && sources.config?.file !== inputs.configPath) {
    throw failure(
      `${inputs.configPath} is not a server config the server would start with`,
      (f) => f.file === inputs.configPath && f.severity === "error",
    );
  }
  const config = sources.config?.config;
  const dynamicPath = config?.dynamicFilePath ?? "";
  if (dynamicPath !== "") {
    // Read as the server reads it: a file that does not exist is an empty backend.
    let text: string | undefined;
    try {
      text = await deps.readTextFile(dynamicPath);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    if (text !== undefined) {
      const dyn = await v.readMappingSources([{ name: dynamicPath, text }]);
      sources.backends.DynamicFile.unshift(...dyn.sources.backends.DynamicFile);
      read.findings.push(...dyn.findings);
    }
  }
  let cluster: { EKSConfigMap: string; CRD: string } | undefined;
  if (inputs.kubeconfig !== undefined) {
    cluster = (await v.readCluster(
      { kubeconfig: inputs.kubeconfig, context: inputs.context },
      read,
    )).cluster;
  }
  const notes: string[] = [];
  const strict = config?.dynamicFileUserIdStrict ?? false;
  const provided: ProvidedBackends = {};
  const { EKSConfigMap, DynamicFile, CRD } = sources.backends;
  if (DynamicFile.length > 0) provided.DynamicFile = combine("DynamicFile", DynamicFile, strict);
  if (EKSConfigMap.length > 0) provided.EKSConfigMap = combine("EKSConfigMap", EKSConfigMap, false);
  if (EKSConfigMap.length > 1) notes.push("several aws-auth sources: their entries are combined");
  if (CRD.length > 0) {
    const { store } = MappingStore.build(CRD.flatMap((s) => s.roles), [], []);
    provided.CRD = { name: "CRD", origin: CRD.map((s) => s.file).join(", "), store };
  }
  for (const name of ["EKSConfigMap", "CRD"] as const) {
    const status = cluster?.[name];
    if (status === undefined || provided[name] !== undefined) continue;
    const origin = name === "EKSConfigMap"
      ? "ConfigMap kube-system/aws-auth"
      : "IAMIdentityMapping objects";
    provided[name] = status === "read"
      ? { name, origin: `${origin} (none)`, store: MappingStore.EMPTY }
      : { name, origin, unavailable: status };
  }
  // validate's rules run only when a denial asks which problems concern the identity.
  let all: Finding[] | undefined;
  const findingsFor = (canonicalArn: string): RelevantFinding[] => {
    all ??= [...read.findings, ...v.lint(sources)];
    return all.filter((f) =>
      f.severity !== "info" && f.subject !== undefined && concerns(f.subject, canonicalArn)
    ).map((f) => ({
      location: f.line > 0 ? `${f.file}:${f.line}:${f.column}` : f.file,
      rule: f.rule,
      message: f.message,
    }));
  };
  const privateDnsName = inputs.offline ? undefined : ec2Lookup(config, deps.env);
  if (config === undefined) {
    const backends = backendsWithoutConfig(provided);
    return {
      backends: backends.length > 0 ? backends : undefined,
      notes,
      findingsFor,
      adminSource,
      privateDnsName,
      unavailable: backends.length === 0 ? "no mapping source among the inputs" : undefined,
    };
  }
  const built = await backendsFromConfig(config, sources.config!.file, provided, deps);
  return {
    serverConfig: config,
    serverClusterId: sources.config!.clusterIdGiven ? config.clusterId : undefined,
    backends: built.backends,
    notes: [...built.notes, ...notes],
    findingsFor,
    adminSource,
    privateDnsName,
  };
}
