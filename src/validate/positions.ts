/**
 * Positions for findings: offsets in a file turned into 1-based lines and columns, key paths
 * looked up in a parsed YAML (or JSON) document, and offsets inside a string value (an
 * `aws-auth` `mapRoles` text) mapped back to the file the string was written in.
 *
 * Mapping back is exact for block literals (`mapRoles: |`), double-quoted strings (what JSON
 * and `kubectl get -o json` write) and single-quoted strings. Plain and folded (`>`) scalars
 * fold their line breaks, so there a position inside the value is approximated by the line of
 * the value that holds it, counted from the value's first line; a value whose reconstruction
 * does not match what the parser read falls back to the start of the value.
 *
 * @module
 */

import { isMap, isScalar, isSeq, type Scalar } from "yaml";

/** A 1-based line and column in a named file. */
export interface FilePos {
  /** The file (or cluster object) name, as findings show it. */
  file: string;
  /** 1-based line; 0 when unknown. */
  line: number;
  /** 1-based column; 0 when unknown. */
  column: number;
}

/** A text with its line starts, for offset -> line/column. */
export class SourceText {
  readonly #starts: number[] = [0];

  /** @param file the name findings show; @param text the whole text */
  constructor(readonly file: string, readonly text: string) {
    for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) {
      this.#starts.push(i + 1);
    }
  }

  /** The position of `offset` (clamped to the text). */
  pos(offset: number): FilePos {
    const o = Math.max(0, Math.min(offset, this.text.length));
    let lo = 0;
    let hi = this.#starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.#starts[mid]! <= o) lo = mid;
      else hi = mid - 1;
    }
    return { file: this.file, line: lo + 1, column: o - this.#starts[lo]! + 1 };
  }
}

/** The start offset of a parsed node. */
export function startOf(node: unknown): number | undefined {
  return (node as { range?: [number, number, number] } | null | undefined)?.range?.[0];
}

/**
 * The node at a key path (`server.mapRoles[2].groups`; map keys case-insensitive) and the
 * offset to report for it: the key itself for a map key, the item for a list index.
 */
export function nodeAt(root: unknown, path: string): { node: unknown; offset?: number } {
  const segments = path.split(/\.|(?=\[)/).filter((x) => x !== "");
  let node: unknown = root;
  let offset = startOf(root);
  for (const seg of segments) {
    const index = /^\[(\d+)\]$/.exec(seg);
    if (index !== null) {
      if (!isSeq(node)) return { node: undefined, offset };
      node = node.items[Number(index[1])];
      offset = startOf(node) ?? offset;
    } else {
      if (!isMap(node)) return { node: undefined, offset };
      const pair = node.items.find((p) =>
        isScalar(p.key) && String(p.key.value).toLowerCase() === seg.toLowerCase()
      );
      if (pair === undefined) return { node: undefined, offset };
      node = pair.value;
      offset = startOf(pair.key) ?? offset;
    }
  }
  return { node, offset };
}

/** Maps an offset in a string value to an offset in the file it was written in. */
export interface ScalarMap {
  /** The file offset for an offset in the value. */
  (inner: number): number;
  /** Whether the mapping is exact (else approximated by line, or the value's start). */
  readonly exact: boolean;
}

/** The source map of one string scalar of `text`. */
export function scalarMap(text: string, node: Scalar): ScalarMap {
  const value = String(node.value);
  const start = startOf(node) ?? 0;
  const end = (node as { range?: [number, number, number] }).range?.[1] ?? text.length;
  const src = text.slice(start, end);
  let offsets: number[] | undefined;
  switch (node.type) {
    case "BLOCK_LITERAL":
      offsets = literalOffsets(src, value);
      break;
    case "QUOTE_DOUBLE":
      offsets = quotedOffsets(src, value, true);
      break;
    case "QUOTE_SINGLE":
      offsets = quotedOffsets(src, value, false);
      break;
  }
  if (offsets !== undefined) {
    const exact = offsets;
    return Object.assign(
      (inner: number) => start + (exact[Math.min(inner, exact.length - 1)] ?? 0),
      { exact: true },
    );
  }
  // Folded or plain: the value's n-th line is taken to be the source's n-th non-blank line.
  const content = node.type === "BLOCK_FOLDED" ? src.indexOf("\n") + 1 : 0;
  const lineStarts: number[] = [];
  for (let i = content; i < src.length;) {
    const nl = src.indexOf("\n", i);
    const line = src.slice(i, nl < 0 ? src.length : nl);
    if (line.trim() !== "") lineStarts.push(i + (line.length - line.trimStart().length));
    if (nl < 0) break;
    i = nl + 1;
  }
  return Object.assign((inner: number) => {
    let n = 0;
    for (let i = value.indexOf("\n"); i >= 0 && i < inner; i = value.indexOf("\n", i + 1)) n++;
    return start + (lineStarts[Math.min(n, lineStarts.length - 1)] ?? 0);
  }, { exact: false });
}

/** Offsets (in `src`, the block scalar from its `|` header) of each character of `value`. */
function literalOffsets(src: string, value: string): number[] | undefined {
  const header = src.indexOf("\n");
  if (header < 0) return undefined;
  const explicit = /^\|[+-]?([1-9])|^\|([1-9])/.exec(src);
  const lines: { start: number; text: string }[] = [];
  for (let i = header + 1; i < src.length;) {
    const nl = src.indexOf("\n", i);
    lines.push({ start: i, text: src.slice(i, nl < 0 ? src.length : nl) });
    if (nl < 0) break;
    i = nl + 1;
  }
  let indent = explicit ? Number(explicit[1] ?? explicit[2]) : undefined;
  if (indent === undefined) {
    const first = lines.find((l) => l.text.trim() !== "");
    if (first === undefined) return undefined;
    indent = first.text.length - first.text.trimStart().length;
  }
  const out: number[] = [];
  let v = 0;
  for (const l of lines) {
    if (v >= value.length) break;
    const body = l.text.length > indent ? l.text.slice(indent) : "";
    for (let k = 0; k < body.length && v < value.length; k++, v++) {
      if (value[v] !== body[k]) return undefined;
      out.push(l.start + indent + k);
    }
    if (v < value.length) {
      if (value[v] !== "\n") return undefined;
      out.push(l.start + l.text.length);
      v++;
    }
  }
  if (v < value.length) return undefined;
  out.push(src.length);
  return out;
}

const ESCAPES: Readonly<Record<string, string>> = {
  "0": "\0",
  a: "\x07",
  b: "\b",
  t: "\t",
  "\t": "\t",
  n: "\n",
  v: "\v",
  f: "\f",
  r: "\r",
  e: "\x1b",
  " ": " ",
  '"': '"',
  "/": "/",
  "\\": "\\",
  N: "\x85",
  _: "\xa0",
  L: "\u2028",
  P: "\u2029",
};

/**
 * Offsets of each character of a quoted scalar's value in `src` (from the opening quote), with
 * YAML's escapes (double quotes) or `''` (single quotes) and line folding; `undefined` when the
 * decoding does not give back `value`.
 */
function quotedOffsets(src: string, value: string, double: boolean): number[] | undefined {
  const out: number[] = [];
  let decoded = "";
  const quote = double ? '"' : "'";
  let i = 1;
  while (i < src.length) {
    const c = src[i]!;
    if (c === quote) {
      if (!double && src[i + 1] === "'") {
        decoded += "'";
        out.push(i);
        i += 2;
        continue;
      }
      break;
    }
    if (double && c === "\\") {
      const e = src[i + 1] ?? "";
      if (e === "\n" || e === "\r") {
        // An escaped line break joins the lines without a space; leading blanks go.
        i += 2;
        while (src[i] === " " || src[i] === "\t") i++;
        continue;
      }
      const hex = e === "x" ? 2 : e === "u" ? 4 : e === "U" ? 8 : 0;
      if (hex > 0) {
        const code = Number.parseInt(src.slice(i + 2, i + 2 + hex), 16);
        if (!Number.isFinite(code)) return undefined;
        const ch = String.fromCodePoint(code);
        for (let k = 0; k < ch.length; k++) out.push(i);
        decoded += ch;
        i += 2 + hex;
        continue;
      }
      const ch = ESCAPES[e];
      if (ch === undefined) return undefined;
      decoded += ch;
      out.push(i);
      i += 2;
      continue;
    }
    if (c === "\n" || c === "\r") {
      // Folding: trailing blanks go, one break is a space, n+1 breaks are n newlines.
      while (decoded.endsWith(" ") || decoded.endsWith("\t")) {
        decoded = decoded.slice(0, -1);
        out.pop();
      }
      let breaks = 0;
      while (i < src.length && /[\s]/.test(src[i]!) && src[i] !== quote) {
        if (src[i] === "\n") breaks++;
        i++;
      }
      if (breaks === 1) {
        decoded += " ";
        out.push(i);
      } else {
        for (let k = 1; k < breaks; k++) {
          decoded += "\n";
          out.push(i);
        }
      }
      continue;
    }
    decoded += c;
    out.push(i);
    i++;
  }
  if (decoded !== value) return undefined;
  out.push(i);
  return out;
}
