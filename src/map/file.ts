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
import { MappingStore } from "./store.ts";

/** Mappings from the config file. */
export class MountedFileMapper implements Mapper {
  /** The canonical backend name. */
  readonly name = "MountedFile" as const;
  /** Reserved username prefixes for this backend. */
  readonly usernamePrefixReserveList: readonly string[];
  /** The mappings of the config file (read-only; `explain` and `validate` list them). */
  readonly store: MappingStore;

  /**
   * @throws {Error} `backend-mode "MountedFile" creation failed: …` on the first invalid entry.
   */
  constructor(
    config: Pick<ServerConfig, "mapRoles" | "mapUsers" | "mapAccounts" | "reservedPrefixConfig">,
    logger: Logger,
  ) {
    const built = MappingStore.build(
      config.mapRoles.map((value, i) => ({ location: `server.mapRoles[${i}]`, value })),
      config.mapUsers.map((value, i) => ({ location: `server.mapUsers[${i}]`, value })),
      config.mapAccounts,
    );
    const first = built.problems[0];
    if (first !== undefined) {
      throw new Error(
        `backend-mode "MountedFile" creation failed: ${first.location}: ${first.message}`,
      );
    }
    for (const w of built.warnings) {
      logger.warn("mapping warning", {
        source: this.name,
        location: w.location,
        warning: w.message,
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
