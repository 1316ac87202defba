/**
 * The mapper chain (docs/mapping.md#backend-order and docs/mapping.md#dynamic-backend-mode): the
 * backends of `server.backendMode` in order, template rendering, reserved-prefix enforcement,
 * account auto-mapping, and the dynamic backend-mode file that can swap the backends at runtime.
 *
 * Departures: an explicit user/role mapping in any backend beats account auto-mapping in any
 * backend (port decision 8); a backend that fails to decide (a Map error) denies instead of
 * letting account auto-mapping through; a username that renders empty is denied; the
 * `dynamic_file_*` gauges are reset when DynamicFile leaves the chain; a backend-mode file that
 * group or others can write is warned about at start and on every reload.
 *
 * @module
 */

import { canonicalBackendMode, type ServerConfig } from "../config/mod.ts";
import { ConfigMapMapper } from "./config_map.ts";
import { CrdMapper } from "./crd.ts";
import { DynamicFileMapper } from "./dynamic_file.ts";
import { createDescribeInstances, Ec2PrivateDnsProvider } from "./ec2.ts";
import { MountedFileMapper } from "./file.ts";
import { WatchedFile } from "./file_watcher.ts";
import {
  type Identity,
  type MappedIdentity,
  type Mapper,
  type MapperDeps,
  MappingError,
  NotMappedError,
  type ResolvedDeps,
  resolveDeps,
} from "./mapper.ts";
import { renderMapping, type TemplateContext } from "./template.ts";
import { type ReasonId, reasonOf } from "../reasons/mod.ts";

/** The mapping entry point the webhook handler calls. */
export interface MapperChain {
  /**
   * The Kubernetes user for a verified identity.
   *
   * @throws {NotMappedError} when nothing maps the identity.
   * @throws {Error} with the Go-style message when a backend failed, a template could not be
   * rendered, or the username uses a reserved prefix. Never falls open.
   */
  map(id: Identity): Promise<MappedIdentity>;
  /** The canonical names of the backends currently in the chain, in order. */
  backendModes(): readonly string[];
  /** Stop every backend, watcher and timer. */
  close(): Promise<void>;
}

/**
 * Parses the dynamic backend-mode file (`server.dynamicBackendModePath`): JSON with a
 * space-separated `backendMode` (keys matched case-insensitively, as Go's encoding/json does).
 *
 * @throws {Error} when it is not such a document or names no backend.
 */
export function parseBackendModeFile(text: string): { modes: string[]; lastUpdated: unknown } {
  const doc = JSON.parse(text) as Record<string, unknown>;
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new Error("expected a JSON object");
  }
  const fields = new Map(Object.entries(doc).map(([k, v]) => [k.toLowerCase(), v]));
  const raw = fields.get("backendmode");
  if (typeof raw !== "string") throw new Error("backendMode must be a string");
  const modes = raw.split(" ").filter((s) => s !== "");
  if (modes.length === 0) throw new Error("backendMode names no backend");
  return { modes, lastUpdated: fields.get("lastupdateddatetime") };
}

/** Options for tests: how fast the file watchers react. */
export interface ChainOptions {
  /** File watcher debounce (default 50 ms). */
  debounceMs?: number;
  /** File watcher retry delay (default 1 s). */
  retryMs?: number;
}

function aggregate(messages: string[]): string {
  return messages.length === 1 ? messages[0] as string : `[${messages.join(", ")}]`;
}

/** Build the backends for `modes` (deprecated names allowed) without starting them. */
function createMappers(
  modes: readonly string[],
  config: ServerConfig,
  deps: ResolvedDeps,
  opts: ChainOptions,
): Mapper[] {
  return modes.map((mode) => {
    switch (canonicalBackendMode(mode)) {
      case "MountedFile":
        return new MountedFileMapper(config, deps.logger);
      case "DynamicFile":
        if (config.dynamicFilePath === "") {
          throw new Error("backend-mode DynamicFile needs server.dynamicfilepath to be set");
        }
        return new DynamicFileMapper(config, deps, opts);
      case "EKSConfigMap":
        return new ConfigMapMapper(config, deps);
      case "CRD":
        return new CrdMapper(config, deps);
      default:
        throw new Error(`backend-mode ${JSON.stringify(mode)} is not a valid mode`);
    }
  });
}

interface Generation {
  mappers: Mapper[];
  abort: AbortController;
}

class Chain implements MapperChain {
  private current: Generation = { mappers: [], abort: new AbortController() };
  private ec2: Ec2PrivateDnsProvider | undefined;
  private modeFile: WatchedFile | undefined;
  private modeFileLoaded = false;
  private rebuilding: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly config: ServerConfig,
    private readonly deps: ResolvedDeps,
    private readonly opts: ChainOptions,
  ) {}

  backendModes(): readonly string[] {
    return this.current.mappers.map((m) => m.name);
  }

  /** Build and start a generation; on failure everything it started is closed again. */
  async build(modes: readonly string[]): Promise<Generation> {
    const abort = new AbortController();
    const mappers = createMappers(modes, this.config, this.deps, this.opts);
    try {
      for (const m of mappers) await m.start(abort.signal);
    } catch (e) {
      abort.abort();
      await Promise.allSettled(mappers.map((m) => m.close()));
      throw e;
    }
    return { mappers, abort };
  }

  async swap(next: Generation): Promise<void> {
    const old = this.current;
    this.current = next;
    const names = next.mappers.map((m) => m.name);
    const only = names.length === 1 && names[0] === "DynamicFile";
    this.deps.metrics.dynamicFileOnly(only ? 1 : 0);
    this.deps.metrics.dynamicFileEnabled(!only && names.includes("DynamicFile") ? 1 : 0);
    old.abort.abort();
    await Promise.allSettled(old.mappers.map((m) => m.close()));
  }

  startModeFile(path: string): Promise<void> {
    this.modeFile = new WatchedFile({
      path,
      logger: this.deps.logger,
      metrics: this.deps.metrics,
      safety: { label: "backend-mode file" },
      debounceMs: this.opts.debounceMs,
      retryMs: this.opts.retryMs,
      onLoad: (text) => this.enqueue(() => this.onModeFile(text)),
      onDelete: () =>
        this.enqueue(async () => {
          this.deps.logger.info("backend-mode file deleted; using server.backendMode", { path });
          await this.rebuildTo(this.config.backendMode, true);
        }),
    });
    return this.modeFile.start(new AbortController().signal).then(() => this.rebuilding);
  }

  private enqueue(task: () => Promise<void>): void {
    this.rebuilding = this.rebuilding.then(task).catch((e) => {
      this.deps.logger.error("backend-mode change failed; keeping the current backends", {
        error: (e as Error).message,
      });
    });
  }

  private async onModeFile(text: string): Promise<void> {
    let modes: string[];
    let lastUpdated: unknown;
    try {
      ({ modes, lastUpdated } = parseBackendModeFile(text));
    } catch (e) {
      this.deps.metrics.mappingLoadErrors("dynamicBackendMode");
      throw new Error(
        `invalid backend-mode file ${this.config.dynamicBackendModePath}: ${(e as Error).message}`,
      );
    }
    await this.rebuildTo(modes, false);
    if (this.modeFileLoaded && typeof lastUpdated === "string") {
      const seconds = this.deps.now() / 1000 - Number(lastUpdated);
      if (Number.isFinite(seconds) && seconds >= 0) {
        this.deps.metrics.dynamicE2eLatency("dynamic_backend_mode", seconds);
      }
    }
    this.modeFileLoaded = true;
  }

  private async rebuildTo(modes: readonly string[], always: boolean): Promise<void> {
    if (this.closed) return;
    const wanted = modes.map((m) => canonicalBackendMode(m) ?? m).join(" ");
    if (!always && wanted === this.backendModes().join(" ")) {
      this.deps.logger.info("backend mode unchanged; skip rebuild", { backendMode: wanted });
      return;
    }
    const next = await this.build(modes);
    if (this.closed) {
      next.abort.abort();
      await Promise.allSettled(next.mappers.map((m) => m.close()));
      return;
    }
    await this.swap(next);
    this.deps.logger.info("backend mode changed", { backendMode: wanted });
  }

  private ec2Provider(): Ec2PrivateDnsProvider {
    this.ec2 ??= new Ec2PrivateDnsProvider({
      describeInstances: this.deps.describeInstances ?? createDescribeInstances({
        roleArn: this.config.ec2DescribeInstancesRoleArn,
        sourceArn: this.config.sourceArn,
        region: this.deps.ec2Region,
      }),
      qps: this.config.ec2DescribeInstancesQps,
      burst: this.config.ec2DescribeInstancesBurst,
      ttlMs: this.deps.ec2CacheTtlMs,
      now: this.deps.now,
      metrics: this.deps.metrics,
      logger: this.deps.logger,
    });
    return this.ec2;
  }

  map(id: Identity): Promise<MappedIdentity> {
    return mapIdentity(this.current.mappers, id, { privateDnsName: this.privateDnsName });
  }

  private readonly privateDnsName = (instanceId: string): Promise<string> =>
    this.ec2Provider().getPrivateDnsName(instanceId);

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.modeFile?.close();
    await this.rebuilding;
    this.current.abort.abort();
    await Promise.allSettled(this.current.mappers.map((m) => m.close()));
    await this.ec2?.close();
  }
}

/** What the mapping decision needs of a backend (a started {@link Mapper}, or a static one). */
export type MappingBackend = Pick<
  Mapper,
  "name" | "map" | "isAccountAllowed" | "usernamePrefixReserveList"
>;

/** One step of a mapping decision, as `explain` reports it. */
export type MapTraceEvent =
  | { event: "no_match"; backend: string }
  | { event: "error"; backend: string; error: string; reason: ReasonId }
  | {
    event: "match";
    backend: string;
    /** Where the entry is defined. */
    location?: string;
    /** The entry's username template. */
    username: string;
    /** The entry's group templates. */
    groups: readonly string[];
  }
  | { event: "rendered"; backend: string; username: string; groups: readonly string[] }
  | { event: "reserved"; backend: string; prefixes: readonly string[]; refused: boolean }
  | { event: "account"; backend: string; accountId: string; allowed: boolean };

/** Options of {@link mapIdentity}. */
export interface MapIdentityOptions {
  /** Resolves `{{EC2PrivateDNSName}}`; without it such templates fail. */
  privateDnsName?: (instanceId: string) => Promise<string>;
  /** Receives every step of the decision (for `explain`); the server passes none. */
  trace?: (event: MapTraceEvent) => void;
}

/**
 * The mapping decision the server makes for every review, over backends in order: the first
 * explicit match is rendered and checked against its backend's reserved prefixes; only when no
 * backend matches (and none failed) may account auto-mapping apply (port decision 8). Never
 * falls open.
 *
 * @throws {NotMappedError} when nothing maps the identity.
 * @throws {MappingError} with the Go-style message and a `map.*` reason otherwise.
 */
export async function mapIdentity(
  backends: readonly MappingBackend[],
  id: Identity,
  o: MapIdentityOptions = {},
): Promise<MappedIdentity> {
  const trace = o.trace;
  const errors: { message: string; reason: ReasonId }[] = [];
  for (const m of backends) {
    let match;
    try {
      match = await m.map(id);
    } catch (e) {
      const message = `mapper ${m.name} Map error: ${(e as Error).message}`;
      const reason = reasonOf(e) ?? "map.backend_error";
      errors.push({ message, reason });
      trace?.({ event: "error", backend: m.name, error: message, reason });
      continue;
    }
    if (match === undefined) {
      trace?.({ event: "no_match", backend: m.name });
      continue;
    }
    trace?.({
      event: "match",
      backend: m.name,
      location: match.source?.location,
      username: match.username,
      groups: match.groups,
    });
    const ctx: TemplateContext = {
      accountId: id.accountId,
      sessionName: id.sessionName,
      accessKeyId: id.accessKeyId,
      privateDnsName: o.privateDnsName,
    };
    let username: string;
    let groups: string[];
    try {
      // Only a mapping with {{EC2PrivateDNSName}} needs to wait; the rest render in place.
      const rendered = renderMapping(match.username, match.groups, ctx);
      ({ username, groups } = rendered instanceof Promise ? await rendered : rendered);
    } catch (e) {
      throw new MappingError(
        "map.template",
        `mapper ${m.name} renderTemplates error: ${(e as Error).message}`,
      );
    }
    trace?.({ event: "rendered", backend: m.name, username, groups });
    if (username === "") {
      throw new MappingError(
        "map.empty_username",
        `mapper ${m.name} renderTemplates error: username template ${
          JSON.stringify(match.username)
        } rendered an empty username`,
      );
    }
    const list = m.usernamePrefixReserveList;
    const reserved = list.length === 0 ? list : list.filter((p) => p !== "");
    const refused = reserved.some((p) => username.startsWith(p));
    if (reserved.length > 0) {
      trace?.({ event: "reserved", backend: m.name, prefixes: reserved, refused });
    }
    if (refused) {
      throw new MappingError(
        "map.reserved_prefix",
        `invalid username '${username}' for mapper ${m.name}: username must not begin with the following prefixes: [${
          reserved.join(" ")
        }]`,
      );
    }
    return { username, groups, identityArn: match.identityArn };
  }
  if (errors.length > 0) {
    const reason = errors.every((e) => e.reason === errors[0]!.reason)
      ? errors[0]!.reason
      : "map.backend_error";
    throw new MappingError(reason, aggregate(errors.map((e) => e.message)));
  }
  for (const m of backends) {
    const allowed = m.isAccountAllowed(id.accountId);
    trace?.({ event: "account", backend: m.name, accountId: id.accountId, allowed });
    if (allowed) {
      return {
        username: id.canonicalArn,
        groups: [],
        identityArn: id.canonicalArn.toLowerCase(),
      };
    }
  }
  throw new NotMappedError();
}

/**
 * Build the backends of `config.backendMode` in order, start them, and follow the dynamic
 * backend-mode file if one is configured.
 *
 * @throws {Error} when a backend cannot be created or started (e.g. an invalid MountedFile
 * entry: `backend-mode "MountedFile" creation failed: ...`).
 */
export async function createMapperChain(
  config: ServerConfig,
  deps: MapperDeps = {},
  opts: ChainOptions = {},
): Promise<MapperChain> {
  const resolved = resolveDeps(deps);
  for (const r of config.mapRoles) {
    resolved.logger.info("mapping IAM role", {
      role: r.roleArn || undefined,
      sso: r.sso,
      username: r.username,
      groups: r.groups,
    });
  }
  for (const u of config.mapUsers) {
    resolved.logger.info("mapping IAM user", {
      user: u.userArn,
      username: u.username,
      groups: u.groups,
    });
  }
  for (const a of config.mapAccounts) resolved.logger.info("mapping IAM Account", { accountID: a });
  const chain = new Chain(config, resolved, opts);
  await chain.swap(await chain.build(config.backendMode));
  if (config.dynamicBackendModePath !== "") {
    try {
      await chain.startModeFile(config.dynamicBackendModePath);
    } catch (e) {
      await chain.close();
      throw e;
    }
  }
  return chain;
}
