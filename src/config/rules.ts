/**
 * The catalogue of mapping rule IDs: one stable ID per problem a mapping source can have, with
 * its severity, what it means and how to fix it. The server's parsers (config file, DynamicFile,
 * `aws-auth` ConfigMap, IAMIdentityMapping objects) attach these IDs to the problems they log,
 * and `aws-iam-authenticator validate` reports the same IDs, so a CI finding and a server log
 * line about the same mistake say the same thing.
 *
 * The catalogue lives in `config/` (not in `validate/`) because the parsers in `config/` and
 * `map/` name the rules, and nothing below `validate/` may import it. Denial reasons (why one
 * token was refused: `token.*`, `sts.*`, `map.*`) are a separate catalogue.
 *
 * @module
 */

/** How serious a finding is: errors fail `validate` (exit 1), warnings and info do not. */
export type Severity = "error" | "warning" | "info";

/** One rule of the catalogue. */
export interface Rule {
  /** Severity `validate` reports it with. */
  readonly severity: Severity;
  /** What the rule finds. */
  readonly description: string;
  /** One sentence on how to fix it. */
  readonly fix: string;
}

/** Every rule, by ID. IDs are stable: add new ones, never rename or reuse. */
export const RULES = {
  "input.unreadable": {
    severity: "error",
    description: "The file (or the cluster object) could not be read.",
    fix: "Check the path and permissions, or the kubeconfig, and run again.",
  },
  "input.binary": {
    severity: "error",
    description: "The input is not UTF-8 text (a binary file).",
    fix: "Pass the YAML or JSON file itself, not an archive or a compiled file.",
  },
  "input.too_large": {
    severity: "error",
    description: "The input is larger than validate reads (16 MiB).",
    fix:
      "Split the file; a mapping source is far smaller than this (a ConfigMap is at most 1 MiB).",
  },
  "input.too_deep": {
    severity: "error",
    description: "The YAML or JSON nests deeper than any mapping format (64 levels).",
    fix: "Flatten the document: mapping formats nest only a few levels.",
  },
  "input.unrecognized": {
    severity: "warning",
    description:
      "A document is none of the formats validate checks (server config, aws-auth ConfigMap, DynamicFile, backend-mode file, IAMIdentityMapping).",
    fix: "Pass only mapping files, or ignore this if the document belongs to something else.",
  },
  "file.writable": {
    severity: "warning",
    description:
      "Group or others can write a file the server reads (its config, the DynamicFile, the backend-mode file) or the directory that holds it: whoever can write it can map themselves to system:masters. The server logs the same warning and sets mapping_file_writable_by_others.",
    fix: "Remove the write bits for group and others (`chmod go-w PATH`).",
  },
  "syntax.yaml": {
    severity: "error",
    description: "The YAML does not parse (the server keeps its last good mapping, or stops).",
    fix:
      "Fix the YAML at the position shown; indentation and `key: value` spacing are the usual cause.",
  },
  "syntax.json": {
    severity: "error",
    description: "The JSON does not parse (the server keeps its last good mapping, or stops).",
    fix: "Fix the JSON at the position shown (a missing comma or quote, a trailing comma).",
  },
  "syntax.aliases": {
    severity: "error",
    description: "The YAML expands too many aliases (a resource-exhaustion pattern).",
    fix: "Write the entries out instead of repeating them through YAML aliases (`*name`).",
  },
  "config.invalid": {
    severity: "error",
    description: "The server config is invalid; the server would not start.",
    fix: "Fix the setting named in the message.",
  },
  "config.deprecated": {
    severity: "warning",
    description: "A deprecated name (backend mode `File` or `ConfigMap`) is used.",
    fix: "Use the canonical name the message gives.",
  },
  "config.reserved_prefix": {
    severity: "warning",
    description: "A `server.reservedPrefixConfig` entry names no backend, so it reserves nothing.",
    fix: "Set `backendmode` to MountedFile, EKSConfigMap, CRD or DynamicFile.",
  },
  "key.unknown": {
    severity: "warning",
    description: "An unknown or misspelled key; the server ignores it.",
    fix: "Use the key the message suggests, or remove it.",
  },
  "key.case": {
    severity: "error",
    description:
      "An aws-auth data key in the wrong case (`maproles`); keys are case-sensitive and the whole section is ignored.",
    fix: "Spell the key exactly `mapRoles`, `mapUsers` or `mapAccounts`.",
  },
  "key.wrong_section": {
    severity: "error",
    description:
      "A `rolearn:` key inside a `mapUsers` entry or a `userarn:` key inside a `mapRoles` entry; the server ignores the key, so the entry has no ARN and is dropped.",
    fix:
      "Move the entry to the section its key belongs to (`rolearn` under mapRoles, `userarn` under mapUsers).",
  },
  "entry.type": {
    severity: "error",
    description: "A value of the wrong type (a string where a list belongs, a list of numbers).",
    fix: "Write the value with the type the message names.",
  },
  "entry.missing_arn": {
    severity: "error",
    description: "An entry has no ARN (nor an SSO permission set), so the server drops it.",
    fix: "Add `rolearn:` (mapRoles) or `userarn:` (mapUsers), or an `sso:` block.",
  },
  "entry.arn_and_sso": {
    severity: "error",
    description: "A role entry has both `rolearn` and `sso`; the server drops it.",
    fix: "Keep one of them: split the entry in two if both are meant.",
  },
  "entry.sso_invalid": {
    severity: "error",
    description: "An `sso:` block has an invalid permission set name or partition.",
    fix:
      "Use the permission set's name as Identity Center shows it and a valid partition (or none).",
  },
  "entry.strict_mode": {
    severity: "error",
    description:
      "In `dynamicfileUserIDStrict` mode an entry lacks `userid`, or uses `sso`, which that mode cannot match.",
    fix:
      "Add the principal's unique ID (`aws iam get-role` RoleId / `get-user` UserId) as `userid`.",
  },
  "entry.duplicate": {
    severity: "warning",
    description: "Two entries map the same ARN; the first one wins, the later one is ignored.",
    fix: "Remove the later entry, or merge its groups into the first.",
  },
  "entry.shadowed_by_sso": {
    severity: "warning",
    description:
      "An earlier SSO entry matches the role a later explicit role entry names, so the explicit entry never applies.",
    fix: "Move the explicit role entry above the SSO entry, or remove it.",
  },
  "entry.shadowed_by_backend": {
    severity: "warning",
    description:
      "A backend earlier in `server.backendMode` maps the same ARN, so this entry never applies.",
    fix: "Remove one of the two entries, or reorder `server.backendMode`.",
  },
  "arn.malformed": {
    severity: "error",
    description:
      "The ARN does not parse, names an unknown partition, or names no identity (a group, a policy); the entry is dropped or never matches.",
    fix:
      "Copy the ARN from `aws iam get-role` / `get-user` (`arn:aws:iam::<12-digit account>:role/<name>`).",
  },
  "arn.wildcard": {
    severity: "error",
    description:
      "The ARN contains `*` or `?`; ARNs are compared exactly, so the entry never matches anyone.",
    fix: "Name one role or user per entry; for Identity Center use an `sso:` block.",
  },
  "arn.role_in_users": {
    severity: "warning",
    description:
      "A role ARN under `mapUsers`; this server matches it, but tools and readers expect roles under mapRoles.",
    fix: "Move the entry to mapRoles and rename `userarn` to `rolearn`.",
  },
  "arn.user_in_roles": {
    severity: "warning",
    description:
      "A user ARN under `mapRoles`; this server matches it, but tools and readers expect users under mapUsers.",
    fix: "Move the entry to mapUsers and rename `rolearn` to `userarn`.",
  },
  "arn.assumed_role": {
    severity: "warning",
    description:
      "An STS assumed-role ARN where the IAM role ARN belongs; the server turns it into the role, so it grants every session of that role, not one session.",
    fix:
      "Write the role ARN (`arn:aws:iam::<account>:role/<name>`); use `{{SessionName}}` in the username to tell sessions apart.",
  },
  "account.malformed": {
    severity: "error",
    description: "An account ID that is not 12 digits; it never matches any account.",
    fix: 'Write the 12-digit account ID as a quoted string, e.g. "012345678901".',
  },
  "account.unquoted": {
    severity: "warning",
    description:
      "An account ID written as a YAML number; numbers lose leading zeros in most tools.",
    fix: 'Quote the account ID: "012345678901".',
  },
  "username.empty": {
    severity: "error",
    description: "An entry has no username; the server drops it.",
    fix: "Set `username:` (a template such as `admin:{{SessionName}}` is allowed).",
  },
  "username.reserved": {
    severity: "error",
    description:
      "The username starts with a prefix reserved for this backend in `server.reservedPrefixConfig`; the server denies it at every login.",
    fix: "Choose a username outside the reserved prefixes.",
  },
  "username.system": {
    severity: "warning",
    description:
      "A `system:` username other than the node form `system:node:{{EC2PrivateDNSName}}`; it impersonates a Kubernetes component or service account.",
    fix: "Use a username of your own and grant rights through groups and RBAC.",
  },
  "group.system": {
    severity: "warning",
    description:
      "A `system:` group other than system:masters, system:nodes and system:bootstrappers; Kubernetes gives these groups built-in rights.",
    fix: "Use a group of your own and bind it with RBAC.",
  },
  "group.masters": {
    severity: "info",
    description: "The entry grants `system:masters` (cluster-admin that RBAC cannot take away).",
    fix:
      "Keep the list short; prefer a group bound to the `cluster-admin` ClusterRole, which can be revoked.",
  },
  "template.unknown": {
    severity: "error",
    description:
      "An unknown template placeholder (e.g. `{{Session}}`, `{{accountid}}`); it stays literal in the username or group.",
    fix:
      "Use one of {{AccountID}}, {{SessionName}}, {{SessionNameRaw}}, {{AccessKeyID}}, {{EC2PrivateDNSName}} (case matters).",
  },
  "template.not_rendered": {
    severity: "error",
    description:
      "A template placeholder in an ARN, account or user ID; templates are only rendered in usernames and groups, so the entry never matches.",
    fix: "Write the literal ARN.",
  },
  "template.no_session": {
    severity: "error",
    description:
      "A session placeholder in a `mapUsers` entry (IAM users have no session): `{{SessionName}}` renders empty and `{{EC2PrivateDNSName}}` is denied.",
    fix: "Use the placeholder only in mapRoles entries, or write the username out.",
  },
  "compat.role_path": {
    severity: "warning",
    description:
      "A role ARN with a path: this server strips the path, the Go tool (v0.7.18) never matches it (only DynamicFile strict mode does).",
    fix: "Write the role ARN without its path to behave the same under both servers.",
  },
  "compat.account_order": {
    severity: "warning",
    description:
      "An explicit entry whose account an earlier backend auto-maps: the Go tool gives the account auto-mapping (username = ARN, no groups); this server gives the explicit entry.",
    fix: "Remove the account from the earlier backend's mapAccounts, or move the entry there.",
  },
  "compat.duplicate_order": {
    severity: "warning",
    description: "Duplicate entries that differ: this server uses the first, the Go tool the last.",
    fix: "Keep one entry per ARN.",
  },
  "compat.sso": {
    severity: "warning",
    description:
      "An SSO entry the Go tool treats differently: it needs `--feature-gates=SSORoleMatch=true`, never matches with an explicit partition, and lets permission set `Admin` also match `Admin_ReadOnly`.",
    fix: "For the Go tool: enable SSORoleMatch and leave `partition` out.",
  },
  "compat.assumed_role": {
    severity: "warning",
    description:
      "An assumed-role ARN outside the config file: the Go tool canonicalizes it only in MountedFile, so there it never matches.",
    fix: "Write the role ARN instead.",
  },
} as const satisfies Record<string, Rule>;

/** A rule ID of the catalogue. */
export type RuleId = keyof typeof RULES;

/** Every rule ID, in catalogue order. */
export const RULE_IDS: readonly RuleId[] = Object.keys(RULES) as RuleId[];

/** An error that names the rule it breaks (thrown by the mapping validators). */
export class RuleError extends Error {
  /** @param rule the rule ID; @param message what is wrong, for the log and the finding */
  constructor(readonly rule: RuleId, message: string) {
    super(message);
    this.name = "RuleError";
  }
}

/**
 * The candidate closest to `word` (case-insensitive edit distance at most 2, or a prefix match),
 * for "did you mean" suggestions; `undefined` when nothing is close.
 */
export function closestKey(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = 3;
  for (const c of candidates) {
    const d = editDistance(w, c.toLowerCase(), bestDistance);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  if (best !== undefined || w.length < 3) return best;
  return candidates
    .filter((c) => c.toLowerCase().startsWith(w) || w.startsWith(c.toLowerCase()))
    .sort((a, b) => a.length - b.length)[0];
}

/** Levenshtein distance, giving up (returning `limit`) once it cannot be below `limit`. */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) >= limit) return limit;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      cur.push(v);
      if (v < rowMin) rowMin = v;
    }
    if (rowMin >= limit) return limit;
    prev = cur;
  }
  return Math.min(prev[b.length]!, limit);
}
