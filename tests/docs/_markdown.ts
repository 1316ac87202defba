/**
 * Markdown helpers for the documentation tests: the links of a page and the anchors GitHub
 * generates for its headings.
 *
 * @module
 */

/** A link found in a Markdown file. */
export interface Link {
  /** 1-based line of the link. */
  line: number;
  /** The target as written. */
  target: string;
}

/** Lines outside fenced code blocks, with inline code spans blanked out. */
function proseLines(text: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  let fence: string | undefined;
  text.split("\n").forEach((raw, i) => {
    const m = /^\s*(`{3,}|~{3,})/.exec(raw);
    if (m) {
      if (fence === undefined) fence = m[1]![0]!;
      else if (m[1]![0] === fence) fence = undefined;
      return;
    }
    if (fence !== undefined) return;
    out.push({ line: i + 1, text: raw.replace(/`+[^`]*`+/g, (s) => " ".repeat(s.length)) });
  });
  return out;
}

/** Inline links `[text](target)` and reference definitions `[id]: target`. */
export function extractLinks(text: string): Link[] {
  const links: Link[] = [];
  for (const { line, text: l } of proseLines(text)) {
    for (const m of l.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      links.push({ line, target: m[1]! });
    }
    const def = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/.exec(l);
    if (def) links.push({ line, target: def[1]! });
  }
  return links;
}

/** The anchors GitHub generates for the headings of a Markdown file. */
export function headingAnchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  let fence: string | undefined;
  for (const raw of text.split("\n")) {
    const f = /^\s*(`{3,}|~{3,})/.exec(raw);
    if (f) {
      if (fence === undefined) fence = f[1]![0]!;
      else if (f[1]![0] === fence) fence = undefined;
      continue;
    }
    if (fence !== undefined) continue;
    const h = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(raw);
    if (!h) continue;
    const base = h[1]!
      .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1") // a link's text only
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
      .replace(/ /g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}
