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
import {
  createDescribeInstances,
  MappingStore,
  MountedFileMapper,
  NOOP_LOGGER,
  parseBackendModeFile,
  parseDynamicFile,
} from "../map/mod.ts";
import type { ExplainBackend, RelevantFinding } from "./mapping.ts";

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
  /** The server's config (`--config`), validated. */
  serverConfig?: ServerConfig;
  /** Its path (`""` without `--config`). */
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
  /** The backends in the server's order; `undefined` when there is nothing to evaluate. */
  backends?: ExplainBackend[];
  /** Why nothing could be evaluated, when something was asked for. */
  unavailable?: string;
  /** Where the backends came from. */
  notes: string[];
  /** The problems of the sources that concern one identity. */
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

/** Reads every mapping source the user gave and builds the backends the server would consult. */
export async function loadMappingSources(
  inputs: MappingInputs,
  deps: LoadDeps,
): Promise<LoadedMapping> {
  const adminSource = inputs.configPath !== ""
    ? `--config ${inputs.configPath} --kubeconfig ~/.kube/config`
    : "--kubeconfig ~/.kube/config";
  const privateDnsName = inputs.offline ? undefined : ec2Lookup(inputs.serverConfig, deps.env);
  const provided: ProvidedBackends = {};
  if (inputs.mappingFiles.length > 0 || inputs.kubeconfig !== undefined) {
    throw new Error("--mapping and --kubeconfig are read by the validate loader");
  }
  if (inputs.serverConfig === undefined) {
    const backends = backendsWithoutConfig(provided);
    return {
      backends: backends.length > 0 ? backends : undefined,
      notes: [],
      adminSource,
      privateDnsName,
    };
  }
  const { backends, notes } = await backendsFromConfig(
    inputs.serverConfig,
    inputs.configPath,
    provided,
    deps,
  );
  return { backends, notes, adminSource, privateDnsName };
}
