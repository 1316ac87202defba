/**
 * The MountedFile backend (docs/mapping.md#mountedfile): static mappings from the server config
 * file (`server.mapRoles`, `server.mapUsers`, `server.mapAccounts`), built once at startup. An
 * invalid entry stops the server, as in the Go tool, because nothing would ever fix it at runtime;
 * duplicates keep the first entry and are logged (port decision 9).
 *
 * @module
 */

import type { ServerConfig } from "../config/mod.ts";
import type { Identity, Logger, Mapper, MappingMatch } from "./mapper.ts";
import { LocatedEntry, positionFields } from "./source.ts";
import { type Located, MappingStore } from "./store.ts";

/**
 * The entries of `server.mapRoles` / `server.mapUsers` with their locations: `file:line:col`
 * when the config file kept positions, else the key path (`server.mapRoles[0]`).
 */
export function mountedFileEntries<T>(
  config: Pick<ServerConfig, "source">,
  key: "server.mapRoles" | "server.mapUsers",
  values: readonly T[],
): Located<T>[] {
  const source = config.source;
  return values.map((value, i) =>
    new LocatedEntry(value, i, () => {
      const pos = source?.locate(`${key}[${i}]`);
      if (source === undefined || pos === undefined) return { location: `${key}[${i}]` };
      return {
        location: `${source.path}:${pos.line}:${pos.column}`,
        line: pos.line,
        column: pos.column,
      };
    })
  );
}

/** Mappings from the config file. */
export class MountedFileMapper implements Mapper {
  /** The canonical backend name. */
  readonly name = "MountedFile" as const;
  /** Reserved username prefixes for this backend. */
  readonly usernamePrefixReserveList: readonly string[];
  /** The mappings of the config file (read-only; `explain` and `validate` list them). */
  readonly store: MappingStore;

  /**
   * @throws {Error} `backend-mode "MountedFile" creation failed: ...` on the first invalid entry.
   */
  constructor(
    config: Pick<
      ServerConfig,
      "mapRoles" | "mapUsers" | "mapAccounts" | "reservedPrefixConfig" | "source"
    >,
    logger: Logger,
  ) {
    const roles = mountedFileEntries(config, "server.mapRoles", config.mapRoles);
    const users = mountedFileEntries(config, "server.mapUsers", config.mapUsers);
    const built = MappingStore.build(roles, users, config.mapAccounts);
    const first = built.problems[0];
    if (first !== undefined) {
      // `file:line:col: rule: message`, as `validate` prints it; the key path when no file.
      throw new Error(
        `backend-mode "MountedFile" creation failed: ${first.location}: ${first.rule}: ${first.message}`,
      );
    }
    for (const w of built.warnings) {
      logger.warn("mapping warning", {
        source: this.name,
        location: w.location,
        warning: w.message,
        ...positionFields(w),
      });
    }
    this.store = built.store;
    this.usernamePrefixReserveList = config.reservedPrefixConfig["MountedFile"] ?? [];
  }

  /** Nothing to load: the mappings came with the config. */
  start(_signal: AbortSignal): Promise<void> {
    return Promise.resolve();
  }

  /** The explicit mapping for `id`, if any. */
  map(id: Identity): Promise<MappingMatch | undefined> {
    return this.store.lookupAsync(id);
  }

  /** Whether the account is in `server.mapAccounts`. */
  isAccountAllowed(accountId: string): boolean {
    return this.store.isAccountAllowed(accountId);
  }

  /** Nothing to release. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
