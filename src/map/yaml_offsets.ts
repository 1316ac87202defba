/**
 * Offsets of list entries (and of keys inside them) in a parsed YAML or JSON document, for the
 * positions the parsers report. Only looked up when something is reported.
 *
 * @module
 */

import { isMap, isScalar, isSeq, type Scalar, type YAMLMap } from "yaml";

/**
 * Offset of entry `index` of the list `list` (a parsed node), or of its key `key` when given and
 * present; `undefined` when there is no such entry.
 */
export function entryOffset(list: unknown, index: number, key?: string): number | undefined {
  if (!isSeq(list)) return undefined;
  const item = list.items[index] as { range?: [number, number, number] } | undefined;
  if (key !== undefined && isMap(item)) {
    for (const pair of (item as YAMLMap).items) {
      if (isScalar(pair.key) && String(pair.key.value) === key) {
        return (pair.key as Scalar).range?.[0];
      }
    }
  }
  return item?.range?.[0];
}

/** The entry index a decoder path (`[3].sso`) starts with. */
export function indexOfPath(path: string): number | undefined {
  const m = /^\[(\d+)\]/.exec(path);
  return m === null ? undefined : Number(m[1]);
}
