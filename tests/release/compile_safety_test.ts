/**
 * `deno compile` embeds what it can see statically. A dynamic import with a computed
 * specifier, a file read relative to `import.meta`, or a worker script is invisible to it and
 * would fail only in the shipped binary, never under `deno run`. This scans the program's
 * sources (not tests or scripts) for those patterns.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

async function programSources(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  out.set("main.ts", await Deno.readTextFile(`${ROOT}/main.ts`));
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(`${ROOT}/${dir}`)) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory) await walk(rel);
      else if (/\.(ts|js|mjs)$/.test(e.name)) {
        out.set(rel, await Deno.readTextFile(`${ROOT}/${rel}`));
      }
    }
  };
  await walk("src");
  return out;
}

/** Removes comments, keeping line numbers; string contents stay (a `//` in a URL is kept). */
function stripComments(code: string): string {
  let out = "";
  let i = 0;
  let quote: string | undefined;
  while (i < code.length) {
    const c = code[i]!;
    if (quote) {
      out += c;
      if (c === "\\") out += code[++i] ?? "";
      else if (c === quote) quote = undefined;
      i++;
    } else if (c === '"' || c === "'" || c === "`") {
      quote = c;
      out += c;
      i++;
    } else if (code.startsWith("//", i)) {
      while (i < code.length && code[i] !== "\n") i++;
    } else if (code.startsWith("/*", i)) {
      const end = code.indexOf("*/", i + 2);
      const block = code.slice(i, end < 0 ? code.length : end + 2);
      out += block.replace(/[^\n]/g, "");
      i += block.length;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** `import(` not followed by a plain string literal (possibly after a line break). */
const NON_LITERAL_IMPORT = /\bimport\s*\((?!\s*["'][^"'`$]*["']\s*[,)])/g;
/** `import.meta.url`, `.dirname`, `.filename`, `.resolve`: anything but `import.meta.main`. */
const IMPORT_META_PATH = /\bimport\.meta\.(?!main\b)\w+/g;
const WORKER = /\bnew\s+Worker\s*\(/g;

function findAll(code: string, re: RegExp): number[] {
  return [...code.matchAll(re)].map((m) => code.slice(0, m.index).split("\n").length);
}

Deno.test("comment stripping keeps strings and line numbers", () => {
  const code = 'a("https://x") // import(y)\n/* import(z)\n */ import(w)';
  assert.equal(stripComments(code), 'a("https://x") \n\n import(w)');
});

Deno.test("the program stays compile-safe", async () => {
  const problems: string[] = [];
  for (const [file, text] of await programSources()) {
    const code = stripComments(text);
    for (const line of findAll(code, NON_LITERAL_IMPORT)) {
      problems.push(
        `${file}:${line}: dynamic import with a non-literal specifier (deno compile and deno bundle cannot see it; use a literal: deno.json's lazy-dynamic-imports keeps it off the startup path)`,
      );
    }
    for (const line of findAll(code, IMPORT_META_PATH)) {
      problems.push(
        `${file}:${line}: import.meta path use (files next to the module are not embedded)`,
      );
    }
    for (const line of findAll(code, WORKER)) {
      problems.push(`${file}:${line}: worker script (needs --include in scripts/compile.ts)`);
    }
  }
  assert.deepEqual(problems, []);
});

Deno.test("the scan catches what it is meant to catch", () => {
  const bad = [
    "const m = await import(name);",
    "const m = await import(`./cmd/${name}.ts`);",
    'const p = new URL("./data.json", import.meta.url);',
    "const d = import.meta.dirname;",
  ].join("\n");
  const code = stripComments(bad);
  assert.deepEqual(findAll(code, NON_LITERAL_IMPORT), [1, 2]);
  assert.deepEqual(findAll(code, IMPORT_META_PATH), [3, 4]);
  assert.deepEqual(findAll(code, WORKER), []);
  assert.deepEqual(findAll(stripComments("new Worker(u);"), WORKER), [1]);
  assert.deepEqual(
    findAll(stripComments('await import(\n  "../serve/mod.ts"\n);'), NON_LITERAL_IMPORT),
    [],
  );
  assert.deepEqual(findAll('import.meta.main; import("x", { with: {} })', NON_LITERAL_IMPORT), []);
});
