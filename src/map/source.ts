/**
 * State shared by the reloadable backends (DynamicFile, EKSConfigMap): the last good
 * `mapRoles` / `mapUsers` / `mapAccounts` sections, the store built from them, and the
 * once-per-problem logging and counting of port decision 11.
 *
 * @module
 */

import type { RoleMapping, UserMapping } from "../config/mod.ts";
import type { Logger, MapperMetrics } from "./mapper.ts";
import { type Located, MappingStore, type Problem, type StoreOptions } from "./store.ts";

/** Logs each distinct problem of a source once and counts it in `mappingLoadErrors`. */
export class ProblemReporter {
  private seen = new Set<string>();

  /** @param source the backend name used in logs and the metric label */
  constructor(
    private readonly source: string,
    private readonly logger: Logger,
    private readonly metrics: MapperMetrics,
  ) {}

  /**
   * Report the problems and warnings of one load. Problems already reported for the previous
   * load are not repeated (a relist or an unrelated edit re-delivers the same content).
   */
  report(problems: readonly Problem[], warnings: readonly Problem[] = []): void {
    const next = new Set<string>();
    for (const p of problems) {
      const key = `E${p.location}\u0000${p.message}`;
      next.add(key);
      if (this.seen.has(key)) continue;
      this.logger.error("mapping entry rejected; the last good mapping keeps serving", {
        source: this.source,
        location: p.location,
        error: p.message,
        ...positionFields(p),
      });
      this.metrics.mappingLoadErrors(this.source);
    }
    for (const w of warnings) {
      const key = `W${w.location}\u0000${w.message}`;
      next.add(key);
      if (this.seen.has(key)) continue;
      this.logger.warn("mapping warning", {
        source: this.source,
        location: w.location,
        warning: w.message,
        ...positionFields(w),
      });
    }
    this.seen = next;
  }
}

/** The rule ID and position of a problem as log fields (`rule`, `line`, `column`). */
export function positionFields(p: Problem): Record<string, unknown> {
  const out: Record<string, unknown> = { rule: p.rule };
  if (p.line !== undefined) {
    out.line = p.line;
    if (p.column !== undefined) out.column = p.column;
  }
  return out;
}

/** Where something a parser reports is: a location for logs, and a line and column when known. */
export interface Position {
  /** Human-readable location (`file:line:col`, `ConfigMap kube-system/aws-auth key mapRoles line 3`). */
  location: string;
  /** 1-based line. */
  line?: number;
  /** 1-based column. */
  column?: number;
}

/**
 * Turns an offset in the text a parser read (one `aws-auth` data value, or a whole DynamicFile)
 * into a {@link Position}. Each parser has its own default; `validate` passes one that maps
 * offsets back to the file the text was found in.
 */
export type Locate = (section: string, offset: number | undefined) => Position;

/** A parsed entry: its location, and its index in its section's list as written. */
export interface SectionEntry<T> extends Located<T> {
  /** Index in the section's list (entries that failed to decode leave gaps). */
  readonly index: number;
}

/** A {@link SectionEntry} whose position is found only when something asks for it. */
export class LocatedEntry<T> implements SectionEntry<T> {
  #at: (() => Position) | undefined;
  #pos: Position | undefined;

  /** @param value the entry; @param index its index; @param at finds its position */
  constructor(readonly value: T, readonly index: number, at: () => Position) {
    this.#at = at;
  }

  #position(): Position {
    if (this.#pos === undefined) {
      this.#pos = this.#at!();
      this.#at = undefined;
    }
    return this.#pos;
  }

  /** Where the entry is. */
  get location(): string {
    return this.#position().location;
  }

  /** 1-based line, when known. */
  get line(): number | undefined {
    return this.#position().line;
  }

  /** 1-based column, when known. */
  get column(): number | undefined {
    return this.#position().column;
  }
}

/** A freshly parsed source; a section left `undefined` could not be read at all. */
export interface ParsedSections {
  /** Role entries, or `undefined` to keep the last good section. */
  roles?: SectionEntry<RoleMapping>[];
  /** User entries, or `undefined` to keep the last good section. */
  users?: SectionEntry<UserMapping>[];
  /** Accounts, or `undefined` to keep the last good section. */
  accounts?: string[];
  /** Problems found while parsing. */
  problems: Problem[];
  /** Warnings found while parsing. */
  warnings: Problem[];
}

/** The current mapping of a reloadable source, with per-section last-good semantics. */
export class SectionedSource {
  private roles: Located<RoleMapping>[] = [];
  private users: Located<UserMapping>[] = [];
  private accounts: string[] = [];
  /** What lookups use; replaced atomically on every load. */
  store: MappingStore = MappingStore.EMPTY;

  /** @param reporter where problems go; @param opts key options for the store */
  constructor(private readonly reporter: ProblemReporter, private readonly opts: StoreOptions) {}

  /** Apply a parsed load: readable sections replace the old ones, unreadable ones are kept. */
  apply(parsed: ParsedSections): void {
    if (parsed.roles !== undefined) this.roles = parsed.roles;
    if (parsed.users !== undefined) this.users = parsed.users;
    if (parsed.accounts !== undefined) this.accounts = parsed.accounts;
    const built = MappingStore.build(this.roles, this.users, this.accounts, this.opts);
    this.store = built.store;
    this.reporter.report(
      [...parsed.problems, ...built.problems],
      [...parsed.warnings, ...built.warnings],
    );
  }

  /** The source was deleted: a deliberate revocation, so everything goes. */
  clear(): void {
    this.roles = [];
    this.users = [];
    this.accounts = [];
    this.store = MappingStore.EMPTY;
    this.reporter.report([]);
  }
}
