import assert from "node:assert/strict";
import { isMap, parseDocument, type Scalar } from "yaml";
import {
  depthExceeded,
  lint,
  readMappingSources,
  scalarMap,
  SourceText,
} from "../../src/validate/mod.ts";

/** The value node of top-level key `key`. */
function valueNode(text: string, key: string): Scalar {
  const doc = parseDocument(text);
  assert.ok(isMap(doc.contents));
  return doc.contents.get(key, true) as Scalar;
}

/** Every character of the value maps to the same character in the file. */
function assertExact(text: string, key: string) {
  const node = valueNode(text, key);
  const map = scalarMap(text, node);
  assert.equal(map.exact, true, `${key} should map exactly`);
  const value = String(node.value);
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === "\n" || c === " ") continue; // line breaks and folded spaces have no single source char
    const at = map(i);
    const src = text[at]!;
    // Escapes map to their backslash.
    assert.ok(src === c || src === "\\" || src === "'", `${key}[${i}] ${c} -> ${src}@${at}`);
  }
}

Deno.test("scalarMap is exact for block literals, double and single quotes", () => {
  assertExact("k: |\n  - rolearn: a\n    username: b\n\n  - x: y\n", "k");
  assertExact("k: |2-\n    indented more\n  back\n", "k");
  assertExact('k: "- rolearn: a\\n  username: \\"b\\"\\n  groups: [\\u0041]\\n"\n', "k");
  assertExact("k: '- rolearn: a\n\n  username: it''s'\n", "k");
  assertExact('k: "folded\n  line\\\n  joined"\n', "k");
});

Deno.test("scalarMap approximates folded and plain scalars by line", () => {
  const text = "k: >\n  first\n\n  second\n";
  const node = valueNode(text, "k");
  const map = scalarMap(text, node);
  assert.equal(map.exact, false);
  const value = String(node.value); // "first\nsecond\n"
  const src = new SourceText("f", text);
  assert.equal(src.pos(map(value.indexOf("second"))).line, 4);
  assert.equal(src.pos(map(0)).line, 2);
});

Deno.test("findings inside a JSON ConfigMap's mapRoles string point into the JSON line", async () => {
  const mapRoles = "- rolearn: arn:aws:iam::111122223333:role/A\n  username: a-{{Session}}\n";
  const text = JSON.stringify(
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "aws-auth", namespace: "kube-system" },
      data: { mapRoles },
    },
    null,
    2,
  ) + "\n";
  const read = await readMappingSources([{ name: "cm.json", text }]);
  const f = lint(read.sources).find((x) => x.rule === "template.unknown");
  assert.ok(f);
  const line = text.split("\n")[f.line - 1]!;
  // The column is where `a-{{Session}}` starts inside the escaped JSON string.
  assert.equal(line.slice(f.column - 1, f.column - 1 + 13), "a-{{Session}}");
});

Deno.test("depthExceeded finds deep flow and block nesting, not ordinary documents", () => {
  assert.equal(depthExceeded("a: [1, {b: [2]}]\nc:\n  d:\n    e: 1\n", 64), undefined);
  assert.equal(depthExceeded('k: "[[[[[[[[[[[["\n', 5), undefined);
  assert.notEqual(depthExceeded("[".repeat(70), 64), undefined);
  let block = "";
  for (let i = 0; i < 70; i++) block += " ".repeat(i) + "k:\n";
  assert.notEqual(depthExceeded(block, 64), undefined);
});
