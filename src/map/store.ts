/**
 * The matching core every backend shares: an immutable set of role, user and account
 * mappings with canonical keys, built from decoded entries, and the lookup rules of
 * docs/mapping.md#matching-rules-and-duplicates with this project's departures (port decisions
 * 5, 9, 10; docs/security.md cases 37, 39).
 *
 * @module
 */

import { ArnError, canonicalizeArn, stripPath } from "../aws/mod.ts";
import {
  type RoleMapping,
  RuleError,
  type RuleId,
  ssoArnLike,
  type UserMapping,
  validateRoleMapping,
  validateUserMapping,
} from "../config/mod.ts";
import { type Identity, MappingError, type MappingMatch } from "./mapper.ts";
import { ssoPrefix, ssoSuffixMatches } from "./sso.ts";

/** Something wrong with one entry or section of a source, with where it is. */
export interface Problem {
  /** Human-readable location: file and line, ConfigMap key, object name, config key. */
  location: string;
  /** What is wrong. */
  message: string;
  /** The rule it breaks, from the catalogue `validate` reports (`entry.missing_arn`, ...). */
  rule: RuleId;
  /** 1-based line in the text the source was parsed from, when known. */
  line?: number;
  /** 1-based column in that text, when known. */
  column?: number;
  /** The ARN or account the problem is about, as written, when there is one. */
  subject?: string;
}

/** A decoded entry with its location, in source order. */
export interface Located<T> {
  /** Where the entry is (read only when something is reported, so it may be a getter). */
  readonly location: string;
  /** 1-based line of the entry in the parsed text, when known (may be a getter). */
  readonly line?: number;
  /** 1-based column of the entry in the parsed text, when known (may be a getter). */
  readonly column?: number;
  /** The decoded entry. */
  value: T;
}

/** The problem `rule`/`message` at the place of `src`. */
function problemAt(
  src: { readonly location: string; readonly line?: number; readonly column?: number },
  rule: RuleId,
  message: string,
): Problem {
  const p: Problem = { location: src.location, message, rule };
  const line = src.line;
  if (line !== undefined) {
    p.line = line;
    p.column = src.column;
  }
  return p;
}

/** The rule an error thrown while building an entry breaks. */
function ruleOf(e: unknown): RuleId {
  if (e instanceof RuleError) return e.rule;
  if (e instanceof ArnError) return "arn.malformed";
  return "entry.type";
}

/** Where an entry is. */
type Src = { readonly location: string; readonly line?: number; readonly column?: number };

interface Entry {
  /** Position in source order (roles first, then users), for "first match wins". */
  order: number;
  /** Which list the entry came from (`sso` for a role entry with `sso:`). */
  kind: StoreEntry["kind"];
  src: Located<RoleMapping> | Located<UserMapping>;
  username: string;
  groups: readonly string[];
  /** Strict mode: the stripped, lower-cased mapping ARN to confirm; "" = none configured. */
  confirmArn: string;
  /** Strict mode: the mapping's ARN did not parse, so nothing may match through it. */
  poisoned: boolean;
}

interface SsoEntry extends Entry {
  prefix: string;
}

/** One entry of a store, as `explain` and `validate --list` show it. */
export interface StoreEntry {
  /** The list it came from; `sso` is a `mapRoles` entry with `sso:`. */
  kind: "role" | "user" | "sso";
  /**
   * What lookups compare: the canonical, path-stripped, lower-cased ARN; for `sso` the
   * lower-cased ARN prefix of the permission set's roles; in user-ID strict mode the user ID.
   */
  key: string;
  /** The ARN as written (`rolearn` / `userarn`), or the SSO `ArnLike` pattern. */
  arn: string;
  /** The unique ID as written (DynamicFile), or `""`. */
  userId: string;
  /** Username template. */
  username: string;
  /** Group templates. */
  groups: readonly string[];
  /** Where it is defined. */
  readonly location: string;
}

/** How keys are formed. */
export interface StoreOptions {
  /** DynamicFile `dynamicfileUserIDStrict`: key by AWS unique ID instead of ARN. */
  userIdStrict?: boolean;
}

/**
 * The lookup key of an ARN: canonical (assumed-role -> role), role path stripped, lower-cased.
 *
 * @throws {ArnError} when the ARN is malformed.
 */
export function arnKey(arn: string): string {
  const { type, canonical } = canonicalizeArn(arn);
  // stripPath parses the ARN again; only role ARNs with a path need it.
  if ((type === "ROLE" || type === "ASSUMED_ROLE") && hasRolePath(canonical)) {
    return stripPath(canonical).toLowerCase();
  }
  return canonical.toLowerCase();
}

/** Whether the resource (after the fifth `:`) has more than one `/`. */
function hasRolePath(arn: string): boolean {
  let at = -1;
  for (let i = 0; i < 5; i++) {
    at = arn.indexOf(":", at + 1);
    if (at < 0) return false;
  }
  const slash = arn.indexOf("/", at + 1);
  return slash >= 0 && arn.indexOf("/", slash + 1) >= 0;
}

/** An immutable mapping set. */
export class MappingStore {
  /** The empty set (a source that does not exist). */
  static readonly EMPTY: MappingStore = new MappingStore(
    new Map(),
    [],
    new Map(),
    new Set(),
    false,
  );

  private constructor(
    private readonly roles: ReadonlyMap<string, Entry>,
    private readonly ssoRoles: readonly SsoEntry[],
    private readonly users: ReadonlyMap<string, Entry>,
    private readonly accounts: ReadonlySet<string>,
    private readonly strict: boolean,
  ) {}

  /** Number of role + user mappings held. */
  get size(): number {
    return this.roles.size + this.ssoRoles.length + this.users.size;
  }

  /** Whether `accountId` is in `mapAccounts`. */
  isAccountAllowed(accountId: string): boolean {
    return this.accounts.has(accountId);
  }

  /**
   * Build a store. Invalid entries are left out and reported as problems; duplicates keep the
   * first entry and are reported as warnings (port decision 9).
   */
  static build(
    roles: readonly Located<RoleMapping>[],
    users: readonly Located<UserMapping>[],
    accounts: readonly string[],
    opts: StoreOptions = {},
  ): { store: MappingStore; problems: Problem[]; warnings: Problem[] } {
    const strict = opts.userIdStrict ?? false;
    const problems: Problem[] = [];
    const warnings: Problem[] = [];
    const roleMap = new Map<string, Entry>();
    const ssoRoles: SsoEntry[] = [];
    const ssoSeen = new Map<string, Src>();
    const userMap = new Map<string, Entry>();
    let order = 0;

    const put = (map: Map<string, Entry>, key: string, entry: Entry) => {
      const prior = map.get(key);
      if (prior) {
        warnings.push(problemAt(
          entry.src,
          "entry.duplicate",
          `duplicate mapping for ${
            JSON.stringify(key)
          } is ignored; the first one (${prior.src.location}) wins`,
        ));
        return;
      }
      map.set(key, entry);
    };

    const common = (
      src: Located<RoleMapping> | Located<UserMapping>,
      kind: StoreEntry["kind"],
    ): Entry => {
      const m = src.value;
      if (m.username === "") {
        throw new RuleError("username.empty", "value for username must be supplied");
      }
      return {
        order: order++,
        kind,
        src,
        username: m.username,
        groups: m.groups,
        confirmArn: "",
        poisoned: false,
      };
    };

    const addArnEntry = (
      map: Map<string, Entry>,
      arn: string,
      userId: string,
      base: Entry,
      what: "rolearn" | "userarn",
    ) => {
      if (!strict) {
        put(map, arnKey(arn), base);
        return;
      }
      if (userId === "") {
        throw new RuleError(
          "entry.strict_mode",
          `value for userid must be supplied when dynamicfileUserIDStrict is true (${what} alone is not enough)`,
        );
      }
      if (arn !== "") {
        try {
          base.confirmArn = arnKey(arn);
        } catch (e) {
          // Kept, so that the unique ID stays claimed and always denies (docs/security.md case 39).
          base.poisoned = true;
          problems.push(problemAt(
            base.src,
            "arn.malformed",
            `${what}: ${(e as Error).message}; this user ID is denied until it is fixed`,
          ));
        }
      }
      put(map, userId, base);
    };

    for (const item of roles) {
      const value = item.value;
      try {
        // Strict mode keys by user ID, so a user ID alone is a complete entry (Go DynamicFile).
        if (!(strict && value.roleArn === "" && value.sso === undefined && value.userId !== "")) {
          validateRoleMapping(value);
        }
        const base = common(item, value.sso === undefined ? "role" : "sso");
        if (value.sso !== undefined) {
          if (strict) {
            throw new RuleError(
              "entry.strict_mode",
              "sso mappings are not supported in dynamicfileUserIDStrict mode",
            );
          }
          const pattern = ssoArnLike(value.sso);
          const prior = ssoSeen.get(pattern);
          if (prior !== undefined) {
            warnings.push(problemAt(
              item,
              "entry.duplicate",
              `duplicate mapping for ${
                JSON.stringify(pattern)
              } is ignored; the first one (${prior.location}) wins`,
            ));
            continue;
          }
          ssoSeen.set(pattern, item);
          ssoRoles.push({ ...base, prefix: ssoPrefix(pattern) });
          continue;
        }
        addArnEntry(roleMap, value.roleArn, value.userId, base, "rolearn");
      } catch (e) {
        problems.push(problemAt(item, ruleOf(e), (e as Error).message));
      }
    }
    for (const item of users) {
      const value = item.value;
      try {
        if (!(strict && value.userArn === "" && value.userId !== "")) validateUserMapping(value);
        addArnEntry(userMap, value.userArn, value.userId, common(item, "user"), "userarn");
      } catch (e) {
        problems.push(problemAt(item, ruleOf(e), (e as Error).message));
      }
    }
    const store = new MappingStore(roleMap, ssoRoles, userMap, new Set(accounts), strict);
    return { store, problems, warnings };
  }

  /** Every entry that takes part in lookups, in source order (duplicates left out). */
  entries(): StoreEntry[] {
    const out: { order: number; entry: StoreEntry }[] = [];
    const add = (key: string, e: Entry) => {
      const v = e.src.value;
      const arn = e.kind === "sso"
        ? ssoArnLike((v as RoleMapping).sso!)
        : "roleArn" in v
        ? v.roleArn
        : v.userArn;
      out.push({
        order: e.order,
        entry: {
          kind: e.kind,
          key,
          arn,
          userId: v.userId,
          username: e.username,
          groups: e.groups,
          get location() {
            return e.src.location;
          },
        },
      });
    };
    for (const [key, e] of this.roles) add(key, e);
    for (const e of this.ssoRoles) add(e.prefix, e);
    for (const [key, e] of this.users) add(key, e);
    return out.sort((a, b) => a.order - b.order).map((o) => o.entry);
  }

  /** {@link lookup} as the `Mapper.map` promise: a lookup error becomes a rejection. */
  lookupAsync(id: Identity): Promise<MappingMatch | undefined> {
    try {
      return Promise.resolve(this.lookup(id));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * The explicit mapping for `id`, or `undefined`. The first matching entry in source order
   * wins; roles are looked at before users, as in the Go tool.
   *
   * @throws {Error} `ARN does not match User ID` in strict mode when the unique ID is mapped
   * to a different (or unparseable) ARN.
   */
  lookup(id: Identity): MappingMatch | undefined {
    let subject: string;
    try {
      subject = hasRolePath(id.canonicalArn)
        ? stripPath(id.canonicalArn).toLowerCase()
        : id.canonicalArn.toLowerCase();
    } catch (e) {
      throw new MappingError("map.backend_error", `cannot map identity: ${(e as Error).message}`);
    }
    if (this.strict) {
      const entry = this.roles.get(id.userId) ?? this.users.get(id.userId);
      if (entry === undefined) return undefined;
      if (entry.poisoned || (entry.confirmArn !== "" && entry.confirmArn !== subject)) {
        throw new MappingError("map.userid_mismatch", "ARN does not match User ID");
      }
      return {
        username: entry.username,
        groups: entry.groups,
        identityArn: id.canonicalArn.toLowerCase(),
        source: entry.src,
      };
    }
    let best = this.roles.get(subject);
    for (const sso of this.ssoRoles) {
      if (best !== undefined && best.order < sso.order) break;
      if (subject.startsWith(sso.prefix) && ssoSuffixMatches(subject.slice(sso.prefix.length))) {
        best = sso;
        break;
      }
    }
    best ??= this.users.get(subject);
    if (best === undefined) return undefined;
    return {
      username: best.username,
      groups: best.groups,
      identityArn: id.canonicalArn.toLowerCase(),
      source: best.src,
    };
  }
}
