/**
 * The flag layer shared by every sub-command: cobra/pflag-compatible parsing, the root's
 * persistent flags, cobra-style usage text, the optional
 * config file (viper-style, case-insensitive dotted keys) and viper's precedence
 * (explicit flag > bound env var > config file > flag default).
 *
 * A command module describes itself with a {@linkcode CommandDef} and calls
 * {@linkcode runCommand}, which handles `-h/--help`, flag errors, the config file, log settings
 * and feature gates, then calls the command body with a {@linkcode CommandContext}:
 *
 * ```ts
 * const def: CommandDef = { name: "token", short: "...", flags: [{ name: "role", short: "r",
 *   type: "string", usage: "...", key: "role", env: "DEFAULT_ROLE" }] };
 * export function main(argv: string[]): Promise<number> {
 *   return runCommand(def, argv, (ctx) => { ctx.stdout(ctx.settings.string("role") + "\n"); return 0; });
 * }
 * ```
 *
 * This module must stay light: it is on the path of every `token` call. It loads the YAML
 * parser only when a YAML config file is given, and it does not use `node:util` `parseArgs`:
 * importing `node:util` brings up Deno's Node compatibility layer, measured at about 6 ms of
 * a 16 ms process start (scripts/bench_token.ts), and pflag's rules (`--bool=false`, a value
 * that starts with `-`, `-n=value`, bundled shorthands) needed a hand-written pass anyway.
 *
 * @module
 */

type YamlModule = typeof import("yaml");

/** The binary name the Go tool uses in usage and error texts. */
export const BINARY = "aws-iam-authenticator";

/** Value kinds a flag can take, named after their pflag counterparts. */
export type FlagType = "string" | "bool" | "int" | "stringSlice" | "stringToString";

/** The value of a parsed flag. */
export type FlagValue = string | boolean | number | string[] | Record<string, string>;

/** One command-line flag (pflag style). */
export interface FlagDef {
  /** Long name without dashes (`cluster-id`). */
  name: string;
  /** One-letter shorthand without dash (`i`). */
  short?: string;
  /** Value kind. */
  type: FlagType;
  /** Default value; when absent: `""`, `false`, `0`, `[]` or `{}` by type. */
  default?: FlagValue;
  /** Help text, as pflag: a word in back-quotes names the value placeholder. */
  usage: string;
  /** Viper key the flag is bound to (`clusterID`); lookups are case-insensitive. */
  key?: string;
  /** Environment variable bound to the same viper key. */
  env?: string;
  /** Left out of usage text. */
  hidden?: boolean;
}

/** A sub-command description. */
export interface CommandDef {
  /** Words after the binary name (`token`, `add user`). */
  name: string;
  /** cobra `Short`, printed first in help. */
  short: string;
  /** cobra `Long`; replaces `short` at the top of `--help` when set. */
  long?: string;
  /** The command's own flags (global flags are added automatically). */
  flags: FlagDef[];
  /** Sub-commands listed under "Available Commands:" (for `add`). */
  subcommands?: { name: string; short: string }[];
  /** Extra usage placeholder after `[flags]` (cobra `Use` tail), e.g. `[bash|zsh]`. */
  argsUsage?: string;
  /** Extra viper keys that are not flags of this command: defaults and env bindings. */
  bindings?: { key: string; default?: FlagValue; env?: string }[];
  /**
   * Exit code when the command cannot run at all (a flag error, an unreadable config file);
   * default 1 as cobra. `explain` and `validate` use 2, keeping 1 for their own verdict.
   */
  failureExitCode?: number;
  /**
   * `false` when the command reads the `--config` file itself (`explain` reads the server's
   * config through validate's reader, in one parse); settings then come from flags, env and
   * defaults only.
   */
  loadsConfig?: false;
}

/** Known feature gates (all alpha, default false) plus component-base's `AllAlpha`/`AllBeta`. */
export const KNOWN_FEATURE_GATES = [
  "ConfiguredInitDirectories",
  "IAMIdentityMappingCRD",
  "SSORoleMatch",
] as const;

/** A known feature gate name. */
export type FeatureGateName = (typeof KNOWN_FEATURE_GATES)[number];

/** The persistent flags of the root command, shared by every sub-command. */
export const GLOBAL_FLAGS: readonly FlagDef[] = [
  {
    name: "cluster-id",
    short: "i",
    type: "string",
    usage:
      "Specify the cluster `ID`, a unique-per-cluster identifier for your aws-iam-authenticator installation.",
    key: "clusterID",
    env: "KUBERNETES_AWS_AUTHENTICATOR_CLUSTER_ID",
  },
  {
    name: "config",
    short: "c",
    type: "string",
    usage: "Load configuration from `filename`",
  },
  {
    name: "feature-gates",
    type: "stringToString",
    usage:
      "A set of key=value pairs that describe feature gates for alpha/experimental features. " +
      "Options are:\nAllAlpha=true|false (ALPHA - default=false)\nAllBeta=true|false (BETA - default=false)\n" +
      "ConfiguredInitDirectories=true|false (ALPHA - default=false)\n" +
      "IAMIdentityMappingCRD=true|false (ALPHA - default=false)\nSSORoleMatch=true|false (ALPHA - default=false)",
  },
  {
    name: "log-format",
    short: "l",
    type: "string",
    default: "text",
    usage: "Specify log format to use when logging to stderr [text or json]",
  },
  {
    name: "log-verbosity",
    short: "v",
    type: "string",
    default: "info",
    usage: "Specify log verbosity [panic, fatal, error, warning, info, debug, trace]",
    key: "log-verbosity",
    env: "AWS_IAM_AUTHENTICATOR_LOG_VERBOSITY",
  },
];

const HELP_FLAG: FlagDef = { name: "help", short: "h", type: "bool", usage: "help for " };

/** Names of global flags that take a value, with and without dashes, for the dispatcher. */
export const GLOBAL_VALUE_FLAGS: ReadonlySet<string> = new Set(
  GLOBAL_FLAGS.filter((f) => f.type !== "bool").flatMap((f) =>
    f.short ? [`--${f.name}`, `-${f.short}`] : [`--${f.name}`]
  ),
);

/**
 * A command-line error: the message is printed as `Error: <message>` on stderr and the
 * process exits with `exitCode`.
 */
export class UsageError extends Error {
  /** Exit code (1, as cobra). */
  readonly exitCode: number;
  /** @param message what is wrong (pflag/cobra wording); @param exitCode process exit code */
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = "UsageError";
    this.exitCode = exitCode;
  }
}

/**
 * A failure of a command body that is reported as exactly `message` (no `Error:` prefix) on
 * stderr, with exit code `exitCode`. Use it for the Go tool's own texts such as
 * `could not get token: ...`.
 */
export class CliError extends Error {
  /** Exit code of the process. */
  readonly exitCode: number;
  /** @param message the full line to print; @param exitCode process exit code */
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

/** Result of {@linkcode parseFlags}. */
export interface ParsedFlags {
  /** Every flag of the command (and the globals) by long name: parsed value or default. */
  values: Map<string, FlagValue>;
  /** Long names of the flags given explicitly on the command line. */
  changed: Set<string>;
  /** Arguments that are not flags. */
  positionals: string[];
  /** `-h/--help` was given. */
  help: boolean;
}

function zero(type: FlagType): FlagValue {
  switch (type) {
    case "string":
      return "";
    case "bool":
      return false;
    case "int":
      return 0;
    case "stringSlice":
      return [];
    case "stringToString":
      return {};
  }
}

/** The default of a flag (its declared default or the zero value of its type). */
export function flagDefault(f: FlagDef): FlagValue {
  return f.default ?? zero(f.type);
}

/** All flags of a command: its own, `help`, then the globals. */
export function allFlags(def: CommandDef): FlagDef[] {
  return [...def.flags, { ...HELP_FLAG, usage: `help for ${lastWord(def.name)}` }, ...GLOBAL_FLAGS];
}

function lastWord(s: string): string {
  const parts = s.split(" ");
  return parts[parts.length - 1] ?? s;
}

/** Go's `strconv.ParseBool`. Returns undefined for anything else. */
export function parseGoBool(s: string): boolean | undefined {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(s)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(s)) return false;
  return undefined;
}

function flagDisplay(f: FlagDef, raw: string): string {
  return raw.startsWith("--") ? `--${f.name}` : `-${f.short}, --${f.name}`;
}

function convertValue(
  f: FlagDef,
  raw: string,
  rawName: string,
  prev: FlagValue | undefined,
): FlagValue {
  const invalid = (err: string) =>
    new UsageError(
      `invalid argument "${raw}" for "${flagDisplay(f, rawName)}" flag: ${err}`,
    );
  switch (f.type) {
    case "string":
      return raw;
    case "bool": {
      const b = parseGoBool(raw);
      if (b === undefined) throw invalid(`strconv.ParseBool: parsing "${raw}": invalid syntax`);
      return b;
    }
    case "int": {
      if (!/^[+-]?[0-9]+$/.test(raw)) {
        throw invalid(`strconv.ParseInt: parsing "${raw}": invalid syntax`);
      }
      const n = Number(raw);
      if (!Number.isSafeInteger(n)) {
        throw invalid(`strconv.ParseInt: parsing "${raw}": value out of range`);
      }
      return n;
    }
    case "stringSlice": {
      const items = raw === "" ? [] : raw.split(",").map((s) => s.trim());
      return [...(Array.isArray(prev) ? prev : []), ...items];
    }
    case "stringToString": {
      const out: Record<string, string> = {
        ...(prev && typeof prev === "object" && !Array.isArray(prev) ? prev : {}),
      };
      if (raw === "") return out;
      for (const pair of raw.split(",")) {
        const eq = pair.indexOf("=");
        if (eq < 0) throw invalid(`${pair} must be formatted as key=value`);
        out[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
      return out;
    }
  }
}

/**
 * Parses `argv` against the command's flags and the global flags with pflag semantics:
 * `--name value`, `--name=value`, `-n value`, `-nvalue`, `-n=value`, `--bool=false`,
 * repeated slice flags, `--` terminator, flags anywhere between positionals.
 *
 * @throws {UsageError} with pflag's texts (`unknown flag: --x`, `flag needs an argument: ...`,
 *   `invalid argument "..." for "..." flag: ...`).
 */
export function parseFlags(def: CommandDef, argv: readonly string[]): ParsedFlags {
  const flags = allFlags(def);
  const byLong = new Map(flags.map((f) => [f.name, f]));
  const byShort = new Map(flags.filter((f) => f.short).map((f) => [f.short!, f]));
  const values = new Map<string, FlagValue>();
  const changed = new Set<string>();
  const positionals: string[] = [];
  for (const f of flags) values.set(f.name, flagDefault(f));
  const set = (f: FlagDef, raw: string, rawName: string) => {
    const prev = changed.has(f.name) ? values.get(f.name) : undefined;
    values.set(f.name, convertValue(f, raw, rawName, prev));
    changed.add(f.name);
  };
  let terminated = false;
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k]!;
    if (terminated || a === "-" || !a.startsWith("-")) {
      positionals.push(a);
      continue;
    }
    if (a === "--") {
      terminated = true;
      continue;
    }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = a.slice(2, eq < 0 ? undefined : eq);
      const f = byLong.get(name);
      if (!f) throw new UsageError(`unknown flag: --${name}`);
      // pflag takes the next argument as the value even when it starts with `-`.
      if (eq >= 0) set(f, a.slice(eq + 1), a);
      else if (f.type === "bool") set(f, "true", a);
      else if (k + 1 < argv.length) set(f, argv[++k]!, a);
      else throw new UsageError(`flag needs an argument: --${name}`);
      continue;
    }
    // Short flags: pflag allows bundles of booleans ending with one value flag.
    let i = 1;
    while (i < a.length) {
      const c = a[i]!;
      const f = byShort.get(c);
      if (!f) throw new UsageError(`unknown shorthand flag: '${c}' in ${a}`);
      const rest = a.slice(i + 1);
      if (f.type === "bool") {
        if (rest.startsWith("=")) {
          set(f, rest.slice(1), `-${c}`);
          i = a.length;
        } else {
          set(f, "true", `-${c}`);
          i++;
        }
        continue;
      }
      if (rest !== "") set(f, rest.startsWith("=") ? rest.slice(1) : rest, `-${c}`);
      else if (k + 1 < argv.length) set(f, argv[++k]!, `-${c}`);
      else throw new UsageError(`flag needs an argument: '${c}' in ${a}`);
      i = a.length;
    }
  }
  return {
    values,
    changed,
    positionals,
    help: values.get("help") === true,
  };
}

// ---------------------------------------------------------------------------------------------
// Usage text

function placeholder(f: FlagDef): { name: string; usage: string } {
  const m = /`([^`]+)`/.exec(f.usage);
  if (m) return { name: m[1]!, usage: f.usage.replace(/`/g, "") };
  const byType: Record<FlagType, string> = {
    string: "string",
    bool: "",
    int: "int",
    stringSlice: "strings",
    stringToString: "mapStringString",
  };
  return { name: f.name === "feature-gates" ? "mapStringBool" : byType[f.type], usage: f.usage };
}

function defaultText(f: FlagDef): string {
  const d = flagDefault(f);
  if (f.type === "string") return d === "" ? "" : ` (default "${d}")`;
  if (f.type === "bool") return d === true ? " (default true)" : "";
  if (f.type === "int") return d === 0 ? "" : ` (default ${d})`;
  if (f.type === "stringSlice") {
    return (d as string[]).length === 0 ? "" : ` (default [${(d as string[]).join(",")}])`;
  }
  return "";
}

/** pflag's `FlagUsages` layout for a list of flags. */
export function flagUsages(flags: readonly FlagDef[]): string {
  const lines: [string, string][] = [];
  for (const f of flags) {
    if (f.hidden) continue;
    const { name, usage } = placeholder(f);
    let left = f.short ? `  -${f.short}, --${f.name}` : `      --${f.name}`;
    if (name) left += ` ${name}`;
    lines.push([left, usage + defaultText(f)]);
  }
  const width = Math.max(0, ...lines.map(([l]) => l.length));
  return lines.map(([l, u]) => {
    const pad = " ".repeat(width - l.length);
    const body = u.replace(/\n/g, "\n" + " ".repeat(width + 3));
    return `${l}${pad}   ${body}\n`;
  }).join("");
}

/** cobra's usage text for a command (what `cmd.Usage()` prints). */
export function usageText(def: CommandDef): string {
  let s = "Usage:\n";
  if (def.subcommands?.length) s += `  ${BINARY} ${def.name} [command]\n`;
  else s += `  ${BINARY} ${def.name} [flags]${def.argsUsage ? " " + def.argsUsage : ""}\n`;
  if (def.subcommands?.length) {
    s += "\nAvailable Commands:\n";
    const w = Math.max(...def.subcommands.map((c) => c.name.length), 11);
    for (const c of def.subcommands) s += `  ${c.name.padEnd(w)} ${c.short}\n`;
  }
  s += "\nFlags:\n" + flagUsages([...def.flags, {
    ...HELP_FLAG,
    usage: `help for ${lastWord(def.name)}`,
  }]);
  s += "\nGlobal Flags:\n" + flagUsages(GLOBAL_FLAGS);
  if (def.subcommands?.length) {
    s += `\nUse "${BINARY} ${def.name} [command] --help" for more information about a command.\n`;
  }
  return s;
}

/** cobra's `--help` output: the long (or short) description, a blank line, the usage. */
export function helpText(def: CommandDef): string {
  return `${def.long ?? def.short}\n\n${usageText(def)}`;
}

// ---------------------------------------------------------------------------------------------
// Config file

/** Read-only view of a loaded config file, viper style. */
export interface ConfigSource {
  /** Path of the file, or undefined when no file was given. */
  readonly path?: string;
  /**
   * The value at a dotted key, matching every segment case-insensitively
   * (`server.mapRoles` == `SERVER.maproles`); undefined when absent.
   */
  get(key: string): unknown;
  /** Whether the key is present (with any value, including null). */
  has(key: string): boolean;
  /**
   * The 1-based line and column of a key path such as `server.mapRoles[2]` (segments matched
   * case-insensitively), when the file has it and its positions are loaded.
   */
  locate?(key: string): { line: number; column: number } | undefined;
  /**
   * Loads the positions {@linkcode locate} answers from (JSON files: a second parse, so only
   * commands that report positions ask for it); YAML files have them already.
   */
  loadPositions?(): Promise<void>;
}

/** A config source with no keys, used when `--config` is not given. */
export const EMPTY_CONFIG: ConfigSource = { get: () => undefined, has: () => false };

/** Wraps an already parsed document (a plain object) as a {@linkcode ConfigSource}. */
export function configFromObject(doc: unknown, path?: string): ConfigSource {
  const lookup = (key: string): { found: boolean; value: unknown } => {
    let cur: unknown = doc;
    for (const seg of key.toLowerCase().split(".")) {
      if (cur === null || typeof cur !== "object" || Array.isArray(cur)) {
        return { found: false, value: undefined };
      }
      const hit = Object.keys(cur).find((k) => k.toLowerCase() === seg);
      if (hit === undefined) return { found: false, value: undefined };
      cur = (cur as Record<string, unknown>)[hit];
    }
    return { found: true, value: cur };
  };
  return {
    path,
    get: (key) => lookup(key).value,
    has: (key) => lookup(key).found,
  };
}

/** File access needed to load a config file (injectable for tests). */
export interface ConfigReadDeps {
  /** Reads a UTF-8 file. */
  readTextFile(path: string): Promise<string>;
}

function goFsError(op: string, path: string, e: unknown): string {
  if (e instanceof Deno.errors.NotFound) return `${op} ${path}: no such file or directory`;
  if (e instanceof Deno.errors.PermissionDenied) return `${op} ${path}: permission denied`;
  if (e instanceof Deno.errors.IsADirectory) return `read ${path}: is a directory`;
  return `${op} ${path}: ${e instanceof Error ? e.message : String(e)}`;
}

type YamlDocument = ReturnType<YamlModule["parseDocument"]>;
type YamlLineCounter = InstanceType<YamlModule["LineCounter"]>;

/** `locate` over a parsed YAML (or JSON) document: walks `a.b[2].c`, keys case-insensitive. */
function yamlLocator(
  yaml: YamlModule,
  doc: YamlDocument,
  lc: YamlLineCounter,
): (key: string) => { line: number; column: number } | undefined {
  return (key) => {
    const segments = key.split(/\.|(?=\[)/).filter((x) => x !== "");
    let node: unknown = doc.contents;
    let at: number | undefined;
    for (const seg of segments) {
      const index = /^\[(\d+)\]$/.exec(seg);
      if (index !== null) {
        if (!yaml.isSeq(node)) return undefined;
        node = node.items[Number(index[1])];
        at = (node as { range?: number[] } | undefined)?.range?.[0];
      } else {
        if (!yaml.isMap(node)) return undefined;
        const pair = node.items.find((p) =>
          yaml.isScalar(p.key) && String(p.key.value).toLowerCase() === seg.toLowerCase()
        );
        if (pair === undefined) return undefined;
        at = (pair.key as { range?: number[] }).range?.[0];
        node = pair.value;
      }
      if (node === undefined || node === null) break;
    }
    if (at === undefined) return undefined;
    const { line, col } = lc.linePos(at);
    return { line, column: col };
  };
}

/**
 * Loads the file given with `-c/--config`. The format follows the extension (`.yaml`, `.yml`,
 * `.json`); keys are case-insensitive. A syntax error names its position and rule ID
 * (`cfg.yaml:3:7: syntax.yaml: ...`), as `validate` does.
 *
 * @throws {CliError} `Can't read configuration file "PATH": ERR` (viper's wording).
 */
export async function loadConfigFile(
  path: string,
  deps: ConfigReadDeps = { readTextFile: (p) => Deno.readTextFile(p) },
): Promise<ConfigSource> {
  const fail = (err: string) => new CliError(`Can't read configuration file "${path}": ${err}`);
  const dot = path.lastIndexOf(".");
  const ext = dot >= 0 && !path.slice(dot).includes("/") ? path.slice(dot + 1) : "";
  if (!["yaml", "yml", "json"].includes(ext.toLowerCase())) {
    throw fail(`Unsupported Config Type "${ext}"`);
  }
  let text: string;
  try {
    text = await deps.readTextFile(path);
  } catch (e) {
    throw fail(goFsError("open", path, e));
  }
  // Bounds before any parse, as validate's (docs/validate.md#limits): a config file is small, and
  // a huge, binary or absurdly nested one must fail at once, not exhaust the parser.
  const limits = await import("../config/mod.ts");
  if (text.length > limits.MAX_INPUT_BYTES) {
    throw fail(`While parsing config: ${path}: input.too_large: the file is larger than 16 MiB`);
  }
  if (text.includes("\0")) {
    throw fail(`While parsing config: ${path}: input.binary: the file is not text`);
  }
  let doc: unknown;
  let locate: ((key: string) => { line: number; column: number } | undefined) | undefined;
  const positions = async () => {
    const yaml = await import("yaml") as YamlModule;
    const lc = new yaml.LineCounter();
    return { yaml, lc, parsed: yaml.parseDocument(text, { lineCounter: lc, prettyErrors: false }) };
  };
  if (ext.toLowerCase() === "json") {
    try {
      doc = text.trim() === "" ? {} : JSON.parse(text);
    } catch (e) {
      const msg = (e instanceof Error ? e.message : String(e)).split("\n")[0];
      // Only on this error path: where the JSON broke.
      const offset = limits.jsonErrorOffset(text);
      const line = text.slice(0, offset).split("\n").length;
      const column = offset - text.lastIndexOf("\n", offset - 1);
      throw fail(`While parsing config: ${path}:${line}:${column}: syntax.json: ${msg}`);
    }
  } else {
    if (limits.depthExceeded(text) !== undefined) {
      throw fail(
        `While parsing config: ${path}: input.too_deep: the YAML nests deeper than ${limits.MAX_DEPTH} levels`,
      );
    }
    const { yaml, lc, parsed } = await positions();
    const err = parsed.errors[0];
    if (err !== undefined) {
      const { line, col } = lc.linePos(err.pos[0]);
      const msg = err.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
      throw fail(`While parsing config: ${path}:${line}:${col}: syntax.yaml: ${msg}`);
    }
    try {
      doc = parsed.toJS({ maxAliasCount: 100 }) ?? {};
    } catch (e) {
      const msg = (e instanceof Error ? e.message : String(e)).split("\n")[0];
      throw fail(`While parsing config: ${path}: syntax.aliases: ${msg}`);
    }
    locate = yamlLocator(yaml, parsed, lc);
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
    throw fail("While parsing config: the top level must be a mapping of keys to values");
  }
  const source = configFromObject(doc, path);
  return {
    ...source,
    locate: (key) => locate?.(key),
    async loadPositions() {
      if (locate !== undefined) return;
      const { yaml, lc, parsed } = await positions();
      locate = yamlLocator(yaml, parsed, lc);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Settings (viper precedence)

/**
 * Resolves viper keys with viper's precedence: a flag given on the command line, then a
 * non-empty bound env var, then the config file, then the bound flag's (or binding's) default.
 */
export class Settings {
  readonly #flagsByKey = new Map<string, FlagDef>();
  readonly #bindings = new Map<string, { default?: FlagValue; env?: string }>();
  readonly #parsed: ParsedFlags;
  readonly #env: (name: string) => string | undefined;
  readonly #config: ConfigSource;

  /**
   * @param def the command (its flags and extra bindings)
   * @param parsed the parsed command line
   * @param env environment lookup
   * @param config the config file (or {@linkcode EMPTY_CONFIG})
   */
  constructor(
    def: CommandDef,
    parsed: ParsedFlags,
    env: (name: string) => string | undefined,
    config: ConfigSource,
  ) {
    for (const f of allFlags(def)) if (f.key) this.#flagsByKey.set(f.key.toLowerCase(), f);
    for (const b of def.bindings ?? []) this.#bindings.set(b.key.toLowerCase(), b);
    this.#parsed = parsed;
    this.#env = env;
    this.#config = config;
  }

  /** Where the value of `key` comes from. */
  source(key: string): "flag" | "env" | "config" | "default" {
    return this.#resolve(key).source;
  }

  #resolve(key: string): { value: unknown; source: "flag" | "env" | "config" | "default" } {
    const k = key.toLowerCase();
    const f = this.#flagsByKey.get(k);
    if (f && this.#parsed.changed.has(f.name)) {
      return { value: this.#parsed.values.get(f.name), source: "flag" };
    }
    const b = this.#bindings.get(k);
    for (const envName of [f?.env, b?.env]) {
      if (!envName) continue;
      const v = this.#env(envName);
      if (v !== undefined && v !== "") return { value: v, source: "env" };
    }
    if (this.#config.has(key)) return { value: this.#config.get(key), source: "config" };
    if (f) return { value: flagDefault(f), source: "default" };
    return { value: b?.default, source: "default" };
  }

  /** The raw resolved value (may be a string from env, any YAML value from the file). */
  get(key: string): unknown {
    return this.#resolve(key).value;
  }

  /** viper `GetString`: numbers and booleans are formatted, null/absent is `""`. */
  string(key: string): string {
    const v = this.get(key);
    if (v === undefined || v === null) return "";
    if (typeof v === "string") return v;
    if (typeof v === "number" || typeof v === "boolean") return String(v);
    return "";
  }

  /** viper `GetBool`: strings go through `strconv.ParseBool` (invalid -> false). */
  bool(key: string): boolean {
    const v = this.get(key);
    if (typeof v === "boolean") return v;
    if (typeof v === "number") return v !== 0;
    if (typeof v === "string") return parseGoBool(v) ?? false;
    return false;
  }

  /** viper `GetInt`: strings parsed as base-10 integers (invalid -> 0). */
  int(key: string): number {
    const v = this.get(key);
    if (typeof v === "number") return Math.trunc(v);
    if (typeof v === "boolean") return v ? 1 : 0;
    if (typeof v === "string" && /^[+-]?[0-9]+$/.test(v.trim())) return Number(v.trim());
    return 0;
  }

  /** viper `GetStringSlice`: lists as they are, strings split on whitespace. */
  stringSlice(key: string): string[] {
    const v = this.get(key);
    if (Array.isArray(v)) return v.map((x) => (x === null || x === undefined ? "" : String(x)));
    if (typeof v === "string") return v.split(/\s+/).filter((s) => s !== "");
    return [];
  }
}

// ---------------------------------------------------------------------------------------------
// Feature gates

/** Parsed `--feature-gates`. */
export class FeatureGates {
  readonly #values = new Map<string, boolean>();

  /**
   * @param spec `Name=true,Other=false` pairs as parsed by the flag layer
   * @throws {UsageError} for an unknown gate or a non-boolean value (component-base wording)
   */
  constructor(spec: Record<string, string> = {}) {
    const known = new Set<string>([...KNOWN_FEATURE_GATES, "AllAlpha", "AllBeta"]);
    for (const [rawName, rawValue] of Object.entries(spec)) {
      const name = rawName.trim();
      const arg = Object.entries(spec).map(([k, v]) => `${k}=${v}`).join(",");
      const bad = (why: string) =>
        new UsageError(`invalid argument "${arg}" for "--feature-gates" flag: ${why}`);
      if (!known.has(name)) throw bad(`unrecognized feature gate: ${name}`);
      const v = rawValue.trim();
      if (v === "") throw bad(`missing bool value for ${name}`);
      const b = parseGoBool(v);
      if (b === undefined) {
        throw bad(
          `invalid value of ${name}=${v}, err: strconv.ParseBool: parsing "${v}": invalid syntax`,
        );
      }
      this.#values.set(name, b);
    }
  }

  /** Whether the gate is on (explicitly, or through `AllAlpha=true`; every known gate is alpha). */
  enabled(name: FeatureGateName): boolean {
    return this.#values.get(name) ?? this.#values.get("AllAlpha") ?? false;
  }
}

// ---------------------------------------------------------------------------------------------
// Logging (logrus-compatible output on stderr)

/** Log levels in logrus order. */
export const LOG_LEVELS = ["panic", "fatal", "error", "warning", "info", "debug", "trace"] as const;

/** A logrus level name. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A small leveled logger writing logrus text or JSON lines. Never pass it tokens or URLs. */
export interface Logger {
  /** Error level. */
  error(msg: string, fields?: Record<string, unknown>): void;
  /** Warning level. */
  warn(msg: string, fields?: Record<string, unknown>): void;
  /** Info level. */
  info(msg: string, fields?: Record<string, unknown>): void;
  /** Debug level. */
  debug(msg: string, fields?: Record<string, unknown>): void;
  /** Trace level. */
  trace(msg: string, fields?: Record<string, unknown>): void;
  /** The level the logger was built with. */
  readonly level: LogLevel;
}

/**
 * Parses a level as logrus `ParseLevel` does (case-insensitive, `warn` accepted).
 * @throws {CliError} `Invalid log level "X". Valid values are: ...`
 */
export function parseLogLevel(s: string): LogLevel {
  const l = s.toLowerCase();
  if (l === "warn") return "warning";
  if ((LOG_LEVELS as readonly string[]).includes(l)) return l as LogLevel;
  throw new CliError(
    `Invalid log level "${s}". Valid values are: panic, fatal, error, warning, info, debug, trace`,
  );
}

function quoteIfNeeded(v: string): string {
  return /^[A-Za-z0-9\-._/@^+]+$/.test(v) ? v : JSON.stringify(v);
}

function rfc3339Local(d: Date): string {
  const off = -d.getTimezoneOffset();
  const pad = (n: number) => String(Math.trunc(Math.abs(n))).padStart(2, "0");
  const local = new Date(d.getTime() + off * 60_000);
  const base = local.toISOString().slice(0, 19);
  return base + (off === 0 ? "Z" : `${off < 0 ? "-" : "+"}${pad(off / 60)}:${pad(off % 60)}`);
}

/**
 * Builds a logger. `format` is `text` (logrus text formatter, full timestamps) or `json`.
 * @param write receives each complete line (with newline); defaults to stderr
 */
export function createLogger(
  format: "text" | "json",
  level: LogLevel,
  write: (line: string) => void = writeStderr,
  now: () => Date = () => new Date(),
): Logger {
  const max = LOG_LEVELS.indexOf(level);
  const emit = (lvl: LogLevel, msg: string, fields: Record<string, unknown> = {}) => {
    if (LOG_LEVELS.indexOf(lvl) > max) return;
    const time = rfc3339Local(now());
    if (format === "json") {
      write(JSON.stringify({ ...fields, level: lvl, msg, time }) + "\n");
      return;
    }
    let line = `time="${time}" level=${lvl} msg=${quoteIfNeeded(msg)}`;
    for (const [k, v] of Object.entries(fields).sort(([a], [b]) => a.localeCompare(b))) {
      line += ` ${k}=${quoteIfNeeded(typeof v === "string" ? v : JSON.stringify(v))}`;
    }
    write(line + "\n");
  };
  return {
    level,
    error: (m, f) => emit("error", m, f),
    warn: (m, f) => emit("warning", m, f),
    info: (m, f) => emit("info", m, f),
    debug: (m, f) => emit("debug", m, f),
    trace: (m, f) => emit("trace", m, f),
  };
}

// ---------------------------------------------------------------------------------------------
// Running a command

const encoder = new TextEncoder();

function writeAllSync(w: { writeSync(p: Uint8Array): number }, s: string): void {
  let buf = encoder.encode(s);
  while (buf.length > 0) buf = buf.subarray(w.writeSync(buf));
}

/** Writes text to the process's stdout, completely. */
export function writeStdout(s: string): void {
  writeAllSync(Deno.stdout, s);
}

/** Writes text to the process's stderr, completely. */
export function writeStderr(s: string): void {
  writeAllSync(Deno.stderr, s);
}

/** Process-level effects a command needs; tests replace them. */
export interface CliDeps {
  /** Environment lookup. */
  env: (name: string) => string | undefined;
  /** Writes to stdout. */
  stdout: (s: string) => void;
  /** Writes to stderr. */
  stderr: (s: string) => void;
  /** Reads a text file (config files). */
  readTextFile: (path: string) => Promise<string>;
  /** The clock (log timestamps). */
  now: () => Date;
}

/** The real process. */
export function defaultDeps(): CliDeps {
  return {
    env: (n) => Deno.env.get(n),
    stdout: writeStdout,
    stderr: writeStderr,
    readTextFile: (p) => Deno.readTextFile(p),
    now: () => new Date(),
  };
}

/** What a command body receives from {@linkcode runCommand}. */
export interface CommandContext {
  /** The command description. */
  def: CommandDef;
  /** Parsed command line. */
  flags: ParsedFlags;
  /** Viper-style resolved settings. */
  settings: Settings;
  /** The loaded config file ({@linkcode EMPTY_CONFIG} without `--config`). */
  config: ConfigSource;
  /** Parsed `--feature-gates`. */
  featureGates: FeatureGates;
  /** Logger on stderr honouring `-l` and `-v`. */
  log: Logger;
  /** Injected process effects. */
  deps: CliDeps;
  /** Writes to stdout. */
  stdout: (s: string) => void;
  /** Writes to stderr. */
  stderr: (s: string) => void;
  /** Throws a {@linkcode UsageError} (`Error: <message>` on stderr, exit 1). */
  usageError(message: string): never;
}

/**
 * Parses flags, handles `--help`, loads the config file, sets up logging and feature gates,
 * and runs `body`. Every failure becomes one line on stderr and a non-zero exit code; stdout
 * only ever carries what the command itself prints.
 *
 * @returns the process exit code
 */
export async function runCommand(
  def: CommandDef,
  argv: readonly string[],
  body: (ctx: CommandContext) => number | Promise<number>,
  deps: CliDeps = defaultDeps(),
): Promise<number> {
  const hint = `Run '${BINARY} ${def.name} --help' for usage.`;
  try {
    const flags = parseFlags(def, argv);
    if (flags.help) {
      deps.stdout(helpText(def));
      return 0;
    }
    const featureGates = new FeatureGates(
      flags.values.get("feature-gates") as Record<string, string>,
    );
    const cfgPath = flags.values.get("config") as string;
    let config = EMPTY_CONFIG;
    if (cfgPath !== "" && def.loadsConfig !== false) {
      try {
        config = await loadConfigFile(cfgPath, { readTextFile: deps.readTextFile });
      } catch (e) {
        if (e instanceof CliError && def.failureExitCode !== undefined) {
          throw new CliError(e.message, def.failureExitCode);
        }
        throw e;
      }
    }
    const settings = new Settings(def, flags, deps.env, config);
    const format = flags.values.get("log-format") as string;
    const level = parseLogLevel(settings.string("log-verbosity"));
    const log = createLogger(format === "json" ? "json" : "text", level, deps.stderr, deps.now);
    if (format !== "json" && format !== "text") {
      log.warn(
        `Unknown log format specified (${format}), will use default text formatter instead.`,
      );
    }
    return await body({
      def,
      flags,
      settings,
      config,
      featureGates,
      log,
      deps,
      stdout: deps.stdout,
      stderr: deps.stderr,
      usageError(message: string): never {
        throw new UsageError(message);
      },
    });
  } catch (e) {
    if (e instanceof UsageError) {
      deps.stderr(`Error: ${e.message}. ${hint}\n`);
      return def.failureExitCode ?? e.exitCode;
    }
    if (e instanceof CliError) {
      deps.stderr(`${e.message}\n`);
      return e.exitCode;
    }
    throw e;
  }
}
