/**
 * Reads the inputs of `validate` (files, standard input, a live cluster) and recognises what
 * each YAML or JSON document is: the server config file, an `aws-auth` ConfigMap, a
 * DynamicFile, the dynamic backend-mode file, IAMIdentityMapping objects; multi-document YAML
 * and `kind: List` included. Every format is read through the server's own parser
 * (`buildServerConfig`, `parseAwsAuth`, `parseDynamicFile`, `crdRoleEntries`), with positions
 * mapped back to the input's own lines and columns.
 *
 * @module
 */

import {
  type BackendMode,
  buildServerConfig,
  canonicalBackendMode,
  checkFileSafety,
  closestKey,
  CONFIG_KEYS,
  ConfigError,
  type ConfigFileSource,
  type FileSafetyFinding,
  fileSafetyWarning,
  jsonErrorOffset,
  type RuleId,
  validateBackendModes,
} from "../config/mod.ts";
import {
  crdRoleEntries,
  type IAMIdentityMapping,
  mountedFileEntries,
  parseAwsAuth,
  parseBackendModeFile,
  parseDynamicFile,
  type Problem,
} from "../map/mod.ts";
import {
  type Document,
  isMap,
  isScalar,
  isSeq,
  type Node,
  parseAllDocuments,
  type Scalar,
  type YAMLMap,
} from "yaml";
import { type Finding, finding } from "./finding.ts";
import {
  decodeText,
  depthExceeded,
  MAX_ALIAS_COUNT,
  MAX_DEPTH,
  MAX_INPUT_BYTES,
} from "../config/mod.ts";
import {
  type FilePos,
  nodeAt,
  type ScalarMap,
  scalarMap,
  SourceText,
  startOf,
} from "./positions.ts";
import {
  type CrdSource,
  emptySources,
  type EntryPositions,
  type MappingSources,
  type Section,
} from "./sources.ts";

/** One input: a file path, bytes already read (standard input), or text (tests, callers). */
export type Input =
  | { path: string }
  | { name: string; bytes: Uint8Array }
  | { name: string; text: string };

/** File access for {@link readMappingSources}. */
export interface ReadDeps {
  /** The size of a file in bytes (checked before reading). */
  size(path: string): Promise<number>;
  /** Reads a whole file. */
  readFile(path: string): Promise<Uint8Array>;
  /**
   * Which of a file and its directory group or others can write (the server's own check, see
   * docs/security.md); absent: not checked.
   */
  fileSafety?(path: string): Promise<FileSafetyFinding[]>;
}

/** The real file system. */
export const FS_DEPS: ReadDeps = {
  size: async (path) => (await Deno.stat(path)).size,
  readFile: (path) => Deno.readFile(path),
  fileSafety: (path) => checkFileSafety(path),
};

/** What reading found. */
export interface ReadResult {
  /** The mapping sources. */
  sources: MappingSources;
  /** Problems found while reading and parsing (syntax, unknown keys, invalid entries). */
  findings: Finding[];
  /** Whether some input could not be read at all (`validate` exits 2). */
  unreadable: boolean;
  /**
   * After {@link readCluster}: for each live backend, `"read"` (read, possibly absent) or why it
   * could not be read (RBAC, connection). `explain` tells an absent source (empty, as the server
   * sees it) from one it could not see.
   */
  cluster?: { EKSConfigMap: string; CRD: string };
}

/** Rules that mean an input could not be read. */
export const UNREADABLE_RULES: ReadonlySet<RuleId> = new Set<RuleId>([
  "input.unreadable",
  "input.binary",
  "input.too_large",
]);

const START = (file: string): FilePos => ({ file, line: 1, column: 1 });

/**
 * Read the inputs and the mapping sources in them.
 *
 * @param inputs files (`{ path }`) or texts (`{ name, text }`), in order
 */
export async function readMappingSources(
  inputs: readonly Input[],
  deps: ReadDeps = FS_DEPS,
): Promise<ReadResult> {
  const sources = emptySources();
  const findings: Finding[] = [];
  const configs: { text: SourceText; doc: Document.Parsed; value: Record<string, unknown> }[] = [];
  const rest: (() => void)[] = [];
  for (const input of inputs) {
    const text = "text" in input
      ? checkText(input.name, input.text, findings)
      : "bytes" in input
      ? checkBytes(input.name, input.bytes, findings)
      : await readFile(input.path, deps, findings);
    if (text === undefined) continue;
    const file = "path" in input ? input.path : input.name;
    const src = new SourceText(file, text);
    const docs = parseDocuments(src, findings);
    for (const { doc, value } of docs) {
      classify(src, doc, doc.contents, value, findings, sources, configs, rest);
    }
  }
  // The config first: it says how DynamicFile entries are keyed and which prefixes are reserved.
  for (const c of configs) readConfig(c.text, c.doc, c.value, findings, sources);
  for (const r of rest) r();
  for (const crd of sources.backends.CRD) finishCrd(crd, findings);
  if (deps.fileSafety) await checkServerFiles(inputs, sources, deps.fileSafety, findings);
  return {
    sources,
    findings,
    unreadable: findings.some((f) => UNREADABLE_RULES.has(f.rule)),
  };
}

/**
 * The files the server itself reads (its config, the DynamicFile, the backend-mode file): the
 * server warns when group or others can write one of them, because whoever can write it can map
 * themselves to system:masters; `validate` reports the same for the local copies it is given
 * (and for the files a given config names, when they exist here).
 */
async function checkServerFiles(
  inputs: readonly Input[],
  sources: MappingSources,
  fileSafety: (path: string) => Promise<FileSafetyFinding[]>,
  findings: Finding[],
): Promise<void> {
  const given = new Set(inputs.flatMap((i) => "path" in i ? [i.path] : []));
  const files: [string, string][] = [];
  const config = sources.config;
  if (config !== undefined) {
    if (given.has(config.file)) files.push([config.file, "config file"]);
    const named: [string, string][] = [
      [config.config.dynamicFilePath, "DynamicFile"],
      [config.config.dynamicBackendModePath, "backend-mode file"],
    ];
    for (const [path, label] of named) if (path !== "") files.push([path, label]);
  }
  for (const s of sources.backends.DynamicFile) {
    if (given.has(s.file)) files.push([s.file, "DynamicFile"]);
  }
  const mode = sources.backendModeFile?.file;
  if (mode !== undefined && given.has(mode)) files.push([mode, "backend-mode file"]);
  const seen = new Set<string>();
  for (const [path, label] of files) {
    if (seen.has(path)) continue;
    seen.add(path);
    for (const f of await fileSafety(path)) {
      findings.push(finding(START(path), "file.writable", fileSafetyWarning(label, f)));
    }
  }
}

async function readFile(
  path: string,
  deps: ReadDeps,
  findings: Finding[],
): Promise<string | undefined> {
  let bytes: Uint8Array;
  try {
    const size = await deps.size(path);
    if (size > MAX_INPUT_BYTES) {
      findings.push(finding(
        START(path),
        "input.too_large",
        `the file is ${size} bytes; validate reads at most ${MAX_INPUT_BYTES} bytes`,
      ));
      return undefined;
    }
    bytes = await deps.readFile(path);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound
      ? "no such file"
      : e instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : e instanceof Deno.errors.IsADirectory
      ? "is a directory"
      : (e as Error).message;
    findings.push(finding(START(path), "input.unreadable", `cannot read ${path}: ${why}`));
    return undefined;
  }
  return checkBytes(path, bytes, findings);
}

function checkBytes(name: string, bytes: Uint8Array, findings: Finding[]): string | undefined {
  if (bytes.length > MAX_INPUT_BYTES) {
    findings.push(finding(
      START(name),
      "input.too_large",
      `the input is over ${MAX_INPUT_BYTES} bytes; validate reads at most that much`,
    ));
    return undefined;
  }
  const text = decodeText(bytes);
  if (text === undefined) {
    findings.push(finding(
      START(name),
      "input.binary",
      "the input is not UTF-8 text (it has NUL bytes or invalid UTF-8)",
    ));
    return undefined;
  }
  return checkText(name, text, findings);
}

function checkText(name: string, text: string, findings: Finding[]): string | undefined {
  if (text.length > MAX_INPUT_BYTES) {
    findings.push(
      finding(START(name), "input.too_large", `the input is over ${MAX_INPUT_BYTES} bytes`),
    );
    return undefined;
  }
  if (text.includes("\0")) {
    findings.push(finding(START(name), "input.binary", "the input has NUL bytes"));
    return undefined;
  }
  const deep = depthExceeded(text, MAX_DEPTH);
  if (deep !== undefined) {
    findings.push(finding(
      new SourceText(name, text).pos(deep),
      "input.too_deep",
      `the document nests more than ${MAX_DEPTH} levels deep here; it was not parsed`,
    ));
    return undefined;
  }
  return text;
}

function parseDocuments(
  src: SourceText,
  findings: Finding[],
): { doc: Document.Parsed; value: unknown }[] {
  const out: { doc: Document.Parsed; value: unknown }[] = [];
  const parsed = parseAllDocuments(src.text, { prettyErrors: false });
  const docs = Array.isArray(parsed) ? parsed : [];
  const json = /^\s*[{[]/.test(src.text);
  for (const doc of docs) {
    const err = doc.errors[0];
    if (err !== undefined) {
      if (json) {
        // A JSON file: report it as JSON, where JSON.parse stops.
        try {
          JSON.parse(src.text);
        } catch (e) {
          findings.push(finding(
            src.pos(jsonErrorOffset(src.text)),
            "syntax.json",
            `invalid JSON: ${(e as Error).message.split("\n")[0]}`,
          ));
          continue;
        }
      }
      findings.push(finding(
        src.pos(err.pos[0]),
        "syntax.yaml",
        `invalid YAML (${err.code}): ${
          err.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "")
        }`,
      ));
      continue;
    }
    if (doc.contents === null) continue;
    try {
      out.push({ doc, value: doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) });
    } catch (e) {
      findings.push(finding(
        src.pos(startOf(doc.contents) ?? 0),
        "syntax.aliases",
        `the document expands too many aliases: ${(e as Error).message}`,
      ));
    }
  }
  return out;
}

function record(v: unknown): Record<string, unknown> | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v)
    ? v as Record<string, unknown>
    : undefined;
}

function fieldCI(rec: Record<string, unknown>, name: string): unknown {
  for (const k of Object.keys(rec)) if (k.toLowerCase() === name.toLowerCase()) return rec[k];
  return undefined;
}

/** Decide what one document (or `List` item) is and queue it for reading. */
function classify(
  src: SourceText,
  doc: Document.Parsed,
  node: unknown,
  value: unknown,
  findings: Finding[],
  sources: MappingSources,
  configs: { text: SourceText; doc: Document.Parsed; value: Record<string, unknown> }[],
  rest: (() => void)[],
): void {
  const rec = record(value);
  const at = src.pos(startOf(node) ?? 0);
  if (rec === undefined) {
    findings.push(finding(at, "input.unrecognized", "the document is not a mapping of keys"));
    return;
  }
  const kind = rec.kind;
  if (typeof kind === "string" && typeof rec.apiVersion === "string") {
    if (kind === "List" && Array.isArray(rec.items)) {
      const items = nodeAt(node, "items").node;
      rec.items.forEach((item, i) => {
        const itemNode = isSeq(items) ? items.items[i] : undefined;
        classify(src, doc, itemNode, item, findings, sources, configs, rest);
      });
      return;
    }
    const name = String(record(rec.metadata)?.name ?? "");
    if (kind === "ConfigMap") {
      if (name !== "aws-auth") {
        findings.push(finding(
          at,
          "input.unrecognized",
          `ConfigMap ${name} is not aws-auth; it was not checked`,
        ));
        return;
      }
      rest.push(() => readAwsAuthManifest(src, node, rec, findings, sources));
      return;
    }
    if (kind === "IAMIdentityMapping") {
      rest.push(() => addCrdObject(src, node, rec as IAMIdentityMapping, sources));
      return;
    }
    findings.push(
      finding(at, "input.unrecognized", `a ${kind} is not a mapping source; it was not checked`),
    );
    return;
  }
  const has = (k: string) => fieldCI(rec, k) !== undefined;
  if (has("server") || has("clusterID")) {
    configs.push({ text: src, doc, value: rec });
    return;
  }
  if (typeof fieldCI(rec, "backendMode") === "string") {
    rest.push(() => readBackendModeFile(src, node, findings, sources));
    return;
  }
  if (has("mapRoles") || has("mapUsers") || has("mapAccounts")) {
    rest.push(() => readDynamicFile(src, doc, findings, sources));
    return;
  }
  findings.push(finding(
    at,
    "input.unrecognized",
    "the document is none of: server config, aws-auth ConfigMap, DynamicFile, backend-mode file, IAMIdentityMapping",
  ));
}

/** Problems and warnings of a server parser as findings (their positions are already mapped). */
function problemFindings(
  file: string,
  problems: readonly Problem[],
  backend: BackendMode,
): Finding[] {
  return problems.map((p) =>
    finding({ file, line: p.line ?? 0, column: p.column ?? 0 }, p.rule, p.message, {
      backend,
      ...(p.subject === undefined ? {} : { subject: p.subject }),
    })
  );
}

/** The positions `locate` gives: `file:line:col`. */
function position(at: FilePos): { location: string; line: number; column: number } {
  const location = at.line === 0 ? at.file : `${at.file}:${at.line}:${at.column}`;
  return { location, line: at.line, column: at.column };
}

function readConfig(
  src: SourceText,
  doc: Document.Parsed,
  value: Record<string, unknown>,
  findings: Finding[],
  sources: MappingSources,
): void {
  const file = src.file;
  const locate = (key: string) => {
    const { offset } = nodeAt(doc.contents, key);
    if (offset === undefined) return undefined;
    const p = src.pos(offset);
    return { line: p.line, column: p.column };
  };
  const at = (key: string): FilePos => {
    const p = locate(key);
    return p === undefined ? START(file) : { file, ...p };
  };
  // viper's lookup: dotted keys, every segment case-insensitive.
  const source: ConfigFileSource = {
    path: file,
    locate,
    get(key) {
      let cur: unknown = value;
      for (const seg of key.split(".")) {
        const rec = record(cur);
        if (rec === undefined) return undefined;
        cur = fieldCI(rec, seg);
      }
      return cur;
    },
  };
  unknownConfigKeys(doc, src, findings);
  // The cluster ID is often given with -i instead; its absence is not the file's problem.
  const flags = source.get("clusterID") === undefined ? { clusterID: "validate" } : {};
  let config;
  try {
    config = buildServerConfig({
      file: source,
      flags,
      env: () => undefined,
      warn: (message, rule, key) => {
        findings.push(finding(key === undefined ? START(file) : at(key), rule, message));
      },
    });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const message = e.message.replace(/^.*?:\d+:\d+: [a-z_.]+: /, "");
    findings.push(finding(e.key === undefined ? START(file) : at(e.key), e.rule, message));
    return;
  }
  sources.config = { file, config, clusterIdGiven: !("clusterID" in flags) };
  const entryAt: EntryPositions = (section, index, key) =>
    at(`server.${section}${index === undefined ? "" : `[${index}]`}${key ? `.${key}` : ""}`);
  sources.backends.MountedFile.push({
    backend: "MountedFile",
    file,
    config,
    roles: mountedFileEntries(config, "server.mapRoles", config.mapRoles),
    users: mountedFileEntries(config, "server.mapUsers", config.mapUsers),
    accounts: [...config.mapAccounts],
    at: entryAt,
  });
}

/** Config keys that are not in the schema, with the closest known key. */
function unknownConfigKeys(doc: Document.Parsed, src: SourceText, findings: Finding[]): void {
  const top = CONFIG_KEYS.filter((k) => !k.includes("."));
  const server = CONFIG_KEYS.filter((k) => k.startsWith("server.")).map((k) => k.slice(7));
  const check = (map: unknown, known: readonly string[], prefix: string) => {
    if (!isMap(map)) return;
    for (const pair of map.items) {
      if (!isScalar(pair.key)) continue;
      const key = String(pair.key.value);
      if (known.some((k) => k.toLowerCase() === key.toLowerCase())) continue;
      const near = closestKey(key, known);
      findings.push(finding(
        src.pos(startOf(pair.key) ?? 0),
        "key.unknown",
        `unknown config key "${prefix}${key}" is ignored${
          near ? `; did you mean "${prefix}${near}"?` : ""
        }`,
      ));
    }
  };
  check(doc.contents, top, "");
  check(nodeAt(doc.contents, "server").node, server, "server.");
}

/** The data value nodes of an aws-auth manifest, by key. */
function dataNodes(node: unknown): Map<string, { key: Node; value: unknown }> {
  const out = new Map<string, { key: Node; value: unknown }>();
  const data = nodeAt(node, "data").node;
  if (!isMap(data)) return out;
  for (const pair of (data as YAMLMap).items) {
    if (isScalar(pair.key)) out.set(String(pair.key.value), { key: pair.key, value: pair.value });
  }
  return out;
}

function readAwsAuthManifest(
  src: SourceText,
  node: unknown,
  rec: Record<string, unknown>,
  findings: Finding[],
  sources: MappingSources,
): void {
  const nodes = dataNodes(node);
  const rawData = record(rec.data) ?? {};
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(rawData)) {
    if (typeof v === "string") {
      data[k] = v;
      continue;
    }
    // The "missing |" mistake: a YAML list where Kubernetes wants a string.
    const keyNode = nodes.get(k)?.key;
    findings.push(finding(
      src.pos(startOf(keyNode) ?? startOf(node) ?? 0),
      "entry.type",
      `data.${k} must be a string (ConfigMap data values are strings; write \`${k}: |\` and indent the list under it); Kubernetes rejects this ConfigMap`,
      { backend: "EKSConfigMap" },
    ));
  }
  const maps = new Map<string, ScalarMap | undefined>();
  const mapOf = (key: string) => {
    if (!maps.has(key)) {
      const v = nodes.get(key)?.value;
      maps.set(key, isScalar(v) ? scalarMap(src.text, v as Scalar) : undefined);
    }
    return maps.get(key);
  };
  const offsetIn = (section: string, inner: number | undefined): number => {
    const entry = nodes.get(section);
    if (inner === undefined) return startOf(entry?.key) ?? startOf(node) ?? 0;
    const m = mapOf(section);
    return m === undefined ? startOf(entry?.value) ?? 0 : m(inner);
  };
  addSections(
    src.file,
    data,
    (section, inner) => src.pos(offsetIn(section, inner)),
    findings,
    sources,
  );
}

/**
 * Parse aws-auth data with the server's parser and add it as an EKSConfigMap source.
 * `pos(section, offset)` maps an offset inside a data value to a position.
 */
export function addSections(
  file: string,
  data: Record<string, string>,
  pos: (section: string, inner: number | undefined) => FilePos,
  findings: Finding[],
  sources: MappingSources,
): void {
  const docs = new Map<string, Document.Parsed>();
  const parsed = parseAwsAuth(data, {
    locate: (section, offset) => position(pos(section, offset)),
    onDocument: (key, doc) => docs.set(key, doc),
  });
  findings.push(...problemFindings(file, parsed.problems, "EKSConfigMap"));
  findings.push(...problemFindings(file, parsed.warnings, "EKSConfigMap"));
  const at: EntryPositions = (section, index, key) => {
    const doc = docs.get(section);
    if (doc === undefined || index === undefined) return pos(section, undefined);
    const list = doc.contents;
    if (!isSeq(list)) return pos(section, undefined);
    const item = list.items[index];
    let offset = startOf(item);
    if (key !== undefined && isMap(item)) {
      const pair = (item as YAMLMap).items.find((p) =>
        isScalar(p.key) && String(p.key.value).toLowerCase() === key.toLowerCase()
      );
      offset = startOf(pair?.value ?? pair?.key) ?? offset;
    }
    return pos(section, offset);
  };
  const unquoted = new Set<number>();
  const accounts = docs.get("mapAccounts")?.contents;
  if (isSeq(accounts)) {
    accounts.items.forEach((item, i) => {
      if (isScalar(item) && (item as Scalar).type === "PLAIN" && typeof item.value === "number") {
        unquoted.add(i);
      }
    });
  }
  sources.backends.EKSConfigMap.push({
    backend: "EKSConfigMap",
    file,
    parsed,
    at,
    unquotedAccounts: unquoted,
  });
}

function readDynamicFile(
  src: SourceText,
  doc: Document.Parsed,
  findings: Finding[],
  sources: MappingSources,
): void {
  const file = src.file;
  const lists = new Map<string, { key: unknown; value: unknown }>();
  if (isMap(doc.contents)) {
    for (const pair of doc.contents.items) {
      if (isScalar(pair.key)) {
        lists.set(String(pair.key.value).toLowerCase(), { key: pair.key, value: pair.value });
      }
    }
  }
  const parsed = parseDynamicFile(src.text, file, {
    locate: (section, offset) =>
      position(src.pos(
        offset ?? startOf(lists.get(section.toLowerCase())?.key) ?? 0,
      )),
  });
  findings.push(...problemFindings(file, parsed.problems, "DynamicFile"));
  findings.push(...problemFindings(file, parsed.warnings, "DynamicFile"));
  const at: EntryPositions = (section: Section, index?: number, key?: string) => {
    const l = lists.get(section.toLowerCase());
    if (index === undefined) return src.pos(startOf(l?.key) ?? 0);
    const path = `[${index}]${key ? `.${key}` : ""}`;
    const { node, offset } = nodeAt(l?.value, path);
    return src.pos(startOf(key ? node : undefined) ?? offset ?? startOf(l?.key) ?? 0);
  };
  sources.backends.DynamicFile.push({
    backend: "DynamicFile",
    file,
    parsed,
    at,
    unquotedAccounts: new Set(),
  });
}

function readBackendModeFile(
  src: SourceText,
  node: unknown,
  findings: Finding[],
  sources: MappingSources,
): void {
  const at = src.pos(nodeAt(node, "backendMode").offset ?? 0);
  // The server's own reading of the file (JSON, keys case-insensitive).
  let modes: string[];
  try {
    modes = parseBackendModeFile(src.text).modes;
  } catch (e) {
    const rule = e instanceof SyntaxError ? "syntax.json" : "config.invalid";
    findings.push(finding(at, rule, `backend-mode file: ${(e as Error).message}`));
    return;
  }
  const errors = validateBackendModes(modes, (m, rule) => findings.push(finding(at, rule, m)));
  for (const e of errors) findings.push(finding(at, "config.invalid", e));
  if (errors.length === 0) {
    sources.backendModeFile = {
      file: src.file,
      modes: modes.map((m) => canonicalBackendMode(m) ?? m),
    };
  }
}

function addCrdObject(
  src: SourceText,
  node: unknown,
  obj: IAMIdentityMapping,
  sources: MappingSources,
): void {
  let source = sources.backends.CRD.find((s) => s.file === src.file);
  if (source === undefined) {
    source = { backend: "CRD", file: src.file, objects: [], roles: [], problems: [] };
    sources.backends.CRD.push(source);
  }
  const at = src.pos(startOf(node) ?? 0);
  source.objects.push({
    object: obj,
    at,
    field: (key) => {
      const { node: n, offset } = nodeAt(node, key);
      return src.pos(startOf(n) ?? offset ?? startOf(node) ?? 0);
    },
  });
}

/** Turn the collected objects of a CRD source into the server's entries. */
export function finishCrd(s: CrdSource, findings: Finding[]): void {
  {
    const byObject = new Map(s.objects.map((o) => [o.object, o.at]));
    const byLocation = new Map<string, FilePos>();
    const { roles, problems } = crdRoleEntries(
      s.objects.map((o) => o.object),
      (obj) => {
        const at = byObject.get(obj) ??
          { file: `IAMIdentityMapping ${objectName(obj)}`, line: 0, column: 0 };
        const p = position(at);
        byLocation.set(p.location, at);
        return p;
      },
    );
    s.roles = roles;
    s.problems = problems;
    for (const p of problems) {
      const at = byLocation.get(p.location) ?? { file: s.file, line: 0, column: 0 };
      findings.push(finding(at, p.rule, `${p.message}`, { backend: "CRD" }));
    }
  }
}

/** The key of the object `obj` names, for messages. */
export function objectName(obj: IAMIdentityMapping): string {
  return obj.metadata?.name ?? "";
}
