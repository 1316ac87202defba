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
  decodeList,
  type DecodeOptions,
  decodeRoleMapping,
  decodeUserMapping,
  MappingDecodeError,
  type ServerConfig,
} from "../config/mod.ts";
import { WatchedFile } from "./file_watcher.ts";
import type { Identity, Mapper, MappingMatch, ResolvedDeps } from "./mapper.ts";
import { type ParsedSections, ProblemReporter, SectionedSource } from "./source.ts";
import type { Problem } from "./store.ts";

/** Byte offset → 1-based line. */
function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/**
 * Offset of the first JSON syntax error (V8's messages carry no position). Only called after
 * `JSON.parse` failed, so it only has to find where, not to build values.
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const ws = () => {
    while (i < text.length && " \t\r\n".includes(text[i]!)) i++;
  };
  const fail = (): never => {
    throw i;
  };
  const lit = (word: string) => {
    if (text.startsWith(word, i)) i += word.length;
    else fail();
  };
  const str = () => {
    if (text[i] !== '"') fail();
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text.charCodeAt(i) < 0x20) fail();
      i += text[i] === "\\" ? 2 : 1;
    }
    if (i >= text.length) fail();
    i++;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      ws();
      if (text[i] === "}") {
        i++;
        return;
      }
      for (;;) {
        ws();
        str();
        ws();
        if (text[i] !== ":") fail();
        i++;
        value();
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "}") {
          i++;
          return;
        } else fail();
      }
    } else if (c === "[") {
      i++;
      ws();
      if (text[i] === "]") {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "]") {
          i++;
          return;
        } else fail();
      }
    } else if (c === '"') str();
    else if (c === "t") lit("true");
    else if (c === "f") lit("false");
    else if (c === "n") lit("null");
    else {
      const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i));
      if (m === null) fail();
      i += m![0].length;
    }
  };
  try {
    value();
    ws();
    if (i < text.length) fail();
  } catch (at) {
    if (typeof at === "number") return at;
    throw at;
  }
  return i;
}

/** Lines of the items of each top-level list, found only when a problem needs a location. */
function itemLines(text: string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc });
  if (!isMap(doc.contents)) return out;
  for (const pair of doc.contents.items) {
    if (!isScalar(pair.key) || !isSeq(pair.value)) continue;
    const lines = pair.value.items.map((item) => {
      const start = (item as { range?: [number, number, number] }).range?.[0] ?? 0;
      return lc.linePos(start).line;
    });
    out.set(String(pair.key.value).toLowerCase(), lines);
  }
  return out;
}

/** The parsed file: sections plus `LastUpdatedDateTime`. */
export interface ParsedDynamicFile extends ParsedSections {
  /** Seconds since the epoch, as the file says, or `undefined`. */
  lastUpdated?: string;
}

/**
 * Parse the DynamicFile JSON. Never throws: problems are returned with locations, and
 * sections that cannot be read are left `undefined` (keep the last good one).
 */
export function parseDynamicFile(text: string, path: string): ParsedDynamicFile {
  const problems: Problem[] = [];
  const warnings: Problem[] = [];
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message.split("\n")[0];
    const where = ` line ${lineOf(text, jsonErrorOffset(text))}`;
    problems.push({ location: `${path}${where}`, message: `invalid JSON: ${msg}` });
    return { problems, warnings };
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    problems.push({ location: path, message: "expected a JSON object at the top level" });
    return { problems, warnings };
  }
  // Go's encoding/json matches field names case-insensitively.
  const fields = new Map<string, unknown>();
  for (const [k, v] of Object.entries(doc)) fields.set(k.toLowerCase(), v);

  let lines: Map<string, number[]> | undefined;
  const where = (section: string, index?: number): string => {
    if (index === undefined) return `${path} (${section})`;
    lines ??= itemLines(text);
    const line = lines.get(section.toLowerCase())?.[index];
    return `${path}${line ? ` line ${line}` : ""} (${section}[${index}])`;
  };
  const opts = (section: string): DecodeOptions => ({
    weak: false,
    warn: (m) => warnings.push({ location: where(section), message: m }),
  });

  const out: ParsedDynamicFile = { problems, warnings };
  const lastUpdated = fields.get("lastupdateddatetime");
  if (typeof lastUpdated === "string") out.lastUpdated = lastUpdated;

  const section = <T>(
    name: string,
    decode: (v: unknown, p: string, o: DecodeOptions) => T,
  ): { location: string; value: T }[] | undefined => {
    try {
      return decodeList(fields.get(name.toLowerCase()), decode, opts(name), (i, err) => {
        problems.push({ location: where(name, i), message: err.message });
      }).map(({ index, value }) => ({
        // A getter: finding the line costs a second parse, paid only when it is reported.
        get location() {
          return where(name, index);
        },
        value,
      }));
    } catch (e) {
      if (!(e instanceof MappingDecodeError)) throw e;
      problems.push({
        location: where(name),
        message: `${e.message}; keeping the last good ${name}`,
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
      location: where("mapAccounts"),
      message: `${e.message}; keeping the last good mapAccounts`,
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
