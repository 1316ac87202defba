/**
 * The DynamicFile backend (docs/mapping.md#dynamicfile): a JSON mapping file that is re-read
 * whenever it changes.
 *
 * Departures (port decisions 9, 10, 11): a file that does not parse, or a section of the wrong
 * type, keeps the last good mapping (the Go tool also kept it); an invalid entry is dropped
 * and the valid ones apply (the Go tool rejected the whole file); every problem is logged once
 * with its file and line and counted in `mappingLoadErrors`. Deleting the file revokes all of
 * its mappings, as in the Go tool. Role ARNs are canonicalized and paths stripped. At start and
 * on every reload, a file that group or others can write (or whose directory they can write) is
 * logged as a warning and set in `mapping_file_writable_by_others` (see `WatchedFile`).
 *
 * @module
 */

import { isMap, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import {
  decodeAccounts,
  type DecodeAt,
  decodeList,
  type DecodeOptions,
  decodeRoleMapping,
  decodeUserMapping,
  jsonErrorOffset,
  MappingDecodeError,
  type RuleId,
  type ServerConfig,
} from "../config/mod.ts";
import { WatchedFile } from "./file_watcher.ts";
import type { Identity, Mapper, MappingMatch, ResolvedDeps } from "./mapper.ts";
import {
  type Locate,
  LocatedEntry,
  type ParsedSections,
  type Position,
  ProblemReporter,
  SectionedSource,
} from "./source.ts";
import type { Problem } from "./store.ts";
import { entryOffset, indexOfPath } from "./yaml_offsets.ts";

/** Byte offset -> 1-based line. */
function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** The top-level lists of the file by lower-cased key, parsed only when a location is needed. */
function topLevelLists(text: string): { lists: Map<string, unknown>; lc: LineCounter } {
  const lists = new Map<string, unknown>();
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc });
  if (isMap(doc.contents)) {
    for (const pair of doc.contents.items) {
      if (isScalar(pair.key) && isSeq(pair.value)) {
        lists.set(String(pair.key.value).toLowerCase(), pair.value);
      }
    }
  }
  return { lists, lc };
}

/** The parsed file: sections plus `LastUpdatedDateTime`. */
export interface ParsedDynamicFile extends ParsedSections {
  /** Seconds since the epoch, as the file says, or `undefined`. */
  lastUpdated?: string;
}

/** How {@link parseDynamicFile} names places. */
export interface DynamicFileParseOptions {
  /**
   * Turns an offset in the file (section `""` for the file as a whole) into a position.
   * Default: `PATH line 9 (mapRoles[1])`, with line and column.
   */
  locate?: Locate;
}

/**
 * Parse the DynamicFile JSON. Never throws: problems are returned with locations, and
 * sections that cannot be read are left `undefined` (keep the last good one).
 */
export function parseDynamicFile(
  text: string,
  path: string,
  parseOpts: DynamicFileParseOptions = {},
): ParsedDynamicFile {
  const problems: Problem[] = [];
  const warnings: Problem[] = [];
  const custom = parseOpts.locate;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message.split("\n")[0];
    const offset = jsonErrorOffset(text);
    const line = lineOf(text, offset);
    const at: Position = custom?.("", offset) ?? {
      location: `${path} line ${line}`,
      line,
      column: offset - text.lastIndexOf("\n", offset - 1),
    };
    problems.push({ ...at, message: `invalid JSON: ${msg}`, rule: "syntax.json" });
    return { problems, warnings };
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    problems.push({
      ...(custom?.("", 0) ?? { location: path }),
      message: "expected a JSON object at the top level",
      rule: "entry.type",
    });
    return { problems, warnings };
  }
  // Go's encoding/json matches field names case-insensitively.
  const fields = new Map<string, unknown>();
  for (const [k, v] of Object.entries(doc)) fields.set(k.toLowerCase(), v);

  let parsed: ReturnType<typeof topLevelLists> | undefined;
  const where = (section: string, index?: number, key?: string): Position => {
    parsed ??= topLevelLists(text);
    const list = parsed.lists.get(section.toLowerCase());
    const offset = index === undefined ? undefined : entryOffset(list, index, key);
    if (custom !== undefined) return custom(section, offset);
    if (index === undefined) return { location: `${path} (${section})` };
    if (offset === undefined) return { location: `${path} (${section}[${index}])` };
    const { line, col } = parsed.lc.linePos(offset);
    return { location: `${path} line ${line} (${section}[${index}])`, line, column: col };
  };
  const opts = (section: string): DecodeOptions => ({
    weak: false,
    warn: (m: string, rule: RuleId, at: DecodeAt) =>
      warnings.push({
        ...where(section, indexOfPath(at.path), at.key),
        message: m,
        rule,
        ...(at.value === undefined ? {} : { subject: at.value }),
      }),
  });

  const out: ParsedDynamicFile = { problems, warnings };
  const lastUpdated = fields.get("lastupdateddatetime");
  if (typeof lastUpdated === "string") out.lastUpdated = lastUpdated;

  const section = <T>(
    name: string,
    decode: (v: unknown, p: string, o: DecodeOptions) => T,
  ): LocatedEntry<T>[] | undefined => {
    try {
      return decodeList(fields.get(name.toLowerCase()), decode, opts(name), (i, err) => {
        problems.push({ ...where(name, i), message: err.message, rule: err.rule });
      }).map(({ index, value }) =>
        // Finding the position costs a second parse, paid only when it is reported.
        new LocatedEntry(value, index, () => where(name, index))
      );
    } catch (e) {
      if (!(e instanceof MappingDecodeError)) throw e;
      problems.push({
        ...where(name),
        message: `${e.message}; keeping the last good ${name}`,
        rule: e.rule,
      });
      return undefined;
    }
  };
  out.roles = section("mapRoles", decodeRoleMapping);
  out.users = section("mapUsers", decodeUserMapping);
  try {
    out.accounts = decodeAccounts(fields.get("mapaccounts"), opts("mapAccounts"));
  } catch (e) {
    if (!(e instanceof MappingDecodeError)) throw e;
    problems.push({
      ...where("mapAccounts"),
      message: `${e.message}; keeping the last good mapAccounts`,
      rule: e.rule,
    });
  }
  return out;
}

/** Mappings from `server.dynamicfilepath`, followed as the file changes. */
export class DynamicFileMapper implements Mapper {
  /** The canonical backend name. */
  readonly name = "DynamicFile" as const;
  /** Reserved username prefixes for this backend. */
  readonly usernamePrefixReserveList: readonly string[];
  private readonly source: SectionedSource;
  private readonly file: WatchedFile;
  private loadedOnce = false;

  /** @param config the server config; @param deps logger, metrics, clock */
  constructor(
    config: Pick<
      ServerConfig,
      "dynamicFilePath" | "dynamicFileUserIdStrict" | "reservedPrefixConfig"
    >,
    private readonly deps: ResolvedDeps,
    watchOptions: { debounceMs?: number; retryMs?: number } = {},
  ) {
    const path = config.dynamicFilePath;
    this.usernamePrefixReserveList = config.reservedPrefixConfig["DynamicFile"] ?? [];
    this.source = new SectionedSource(
      new ProblemReporter(this.name, deps.logger, deps.metrics),
      { userIdStrict: config.dynamicFileUserIdStrict },
    );
    this.file = new WatchedFile({
      path,
      logger: deps.logger,
      metrics: deps.metrics,
      safety: { label: "DynamicFile" },
      ...watchOptions,
      onLoad: (text) => this.load(text, path),
      onDelete: () => {
        deps.logger.info("dynamic file was deleted; its mappings are revoked", { path });
        this.source.clear();
      },
    });
  }

  private load(text: string, path: string): void {
    const parsed = parseDynamicFile(text, path);
    this.source.apply(parsed);
    this.deps.logger.info("dynamic file loaded", { path, mappings: this.source.store.size });
    if (this.loadedOnce && parsed.lastUpdated !== undefined) {
      const updated = Number(parsed.lastUpdated);
      const seconds = this.deps.now() / 1000 - updated;
      if (!Number.isFinite(updated) || seconds < 0) {
        this.deps.logger.warn("LastUpdatedDateTime is not a past unix time; latency not recorded", {
          path,
          value: parsed.lastUpdated,
        });
      } else {
        this.deps.metrics.dynamicE2eLatency("dynamic_file", seconds);
      }
    }
    this.loadedOnce = true;
  }

  /** Read the file (if it exists) and keep following it. */
  start(signal: AbortSignal): Promise<void> {
    return this.file.start(signal);
  }

  /** The explicit mapping for `id`, if any. */
  map(id: Identity): Promise<MappingMatch | undefined> {
    return this.source.store.lookupAsync(id);
  }

  /** Whether the account is in the file's `mapAccounts`. */
  isAccountAllowed(accountId: string): boolean {
    return this.source.store.isAccountAllowed(accountId);
  }

  /** Stop following the file. */
  close(): Promise<void> {
    return this.file.close();
  }
}
