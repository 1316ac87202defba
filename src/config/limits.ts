/**
 * Bounds on what `validate`, `explain` and the config file loader read, checked before anything
 * is parsed, so that a binary file, a huge file, a deeply nested document or a YAML alias bomb
 * gets a clear error in bounded time and memory instead of a hang or a crash.
 *
 * @module
 */

/** The largest input read (a ConfigMap is at most 1 MiB; a mapping file far less). */
export const MAX_INPUT_BYTES = 16 * 1024 * 1024;

/** The deepest nesting accepted (the mapping formats nest six levels at most). */
export const MAX_DEPTH = 64;

/** The most YAML aliases one document may expand. */
export const MAX_ALIAS_COUNT = 100;

/** Whether `bytes` look like a binary file: a NUL byte, or not UTF-8. */
export function decodeText(bytes: Uint8Array): string | undefined {
  if (bytes.includes(0)) return undefined;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * The offset where `text` first nests deeper than `max` levels, or `undefined`. Counts flow
 * brackets (`[`, `{`) outside quotes and comments, plus block nesting by indentation, in one
 * pass without building anything; an approximation that never under-counts by more than the
 * block levels a flow collection hides, which is all a guard needs.
 */
export function depthExceeded(text: string, max = MAX_DEPTH): number | undefined {
  let flow = 0;
  const indents: number[] = [];
  let lineStart = true;
  let col = 0;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "\n") {
      lineStart = true;
      col = 0;
      if (quote === "'" || flow === 0) quote = quote === '"' ? quote : undefined;
      continue;
    }
    if (quote !== undefined) {
      if (c === "\\" && quote === '"') i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (lineStart) {
      if (c === " " || c === "-" && (text[i + 1] === " " || text[i + 1] === "\n")) {
        col++;
        continue;
      }
      lineStart = false;
      if (c !== "#" && flow === 0) {
        while (indents.length > 0 && indents[indents.length - 1]! >= col) indents.pop();
        indents.push(col);
      }
    }
    if (c === "#" && (i === 0 || /\s/.test(text[i - 1]!))) {
      const nl = text.indexOf("\n", i);
      i = (nl < 0 ? text.length : nl) - 1;
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === "[" || c === "{") flow++;
    else if ((c === "]" || c === "}") && flow > 0) flow--;
    if (flow + indents.length > max) return i;
  }
  return undefined;
}
