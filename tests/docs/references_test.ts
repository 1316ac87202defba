import assert from "node:assert/strict";
import { headingAnchors } from "./_markdown.ts";

// Code, tests and scripts cite only what someone who clones the repository can open: a docs/
// page of this project (and a heading of it), a public source, a port decision that
// docs/differences.md defines, or a security case that docs/security.md lists. Section numbers
// and file names of specification documents that live outside the repository dangle.

const ROOT = new URL("../../", import.meta.url);

/** What references may point to. */
interface Targets {
  /** docs/ page name → the anchors of its headings. */
  pages: ReadonlyMap<string, ReadonlySet<string>>;
  /** The port decision numbers docs/differences.md defines. */
  decisions: ReadonlySet<number>;
  /** The security case numbers docs/security.md lists. */
  cases: ReadonlySet<number>;
}

// Spelled in pieces so that this file does not match itself.
const OUTSIDE_DOCUMENTS = new RegExp(
  ["reference" + "-behavior", "security" + "-cases\\.md", "port" + "-decisions\\.md"].join("|"),
  "i",
);
const SECTION_SIGN = /(RFC\s*\d+\s*)?\u00a7\s*\d/g;
const DOCS_REF = /\bdocs\/([A-Za-z0-9_.-]+\.md)(?:#([A-Za-z0-9_-]+))?/g;
const NUMBERS = String.raw`(\d+(?:\s*(?:,|–|-|and)\s*\d+)*)`;
const DECISION_REF = new RegExp(
  String.raw`\b(?:port\s+)?decisions?\s+${NUMBERS}|\bPD\s?(\d+)`,
  "gi",
);
const CASE_REF = new RegExp(String.raw`\bcases?\s+${NUMBERS}`, "gi");
/** Table-row and test names that start with their case number (`"51 sts.global…"`). */
const CASE_NAME = /(?:name:\s*|Deno\.test\()["'`](\d+) /g;

/** `"9, 10 and 11"`, `"29–35"` → the numbers. */
function numbers(list: string): number[] {
  const out: number[] = [];
  for (const part of list.split(/\s*(?:,|and)\s*/)) {
    const range = /^(\d+)\s*[–-]\s*(\d+)$/.exec(part);
    if (range) {
      for (let n = Number(range[1]); n <= Number(range[2]); n++) out.push(n);
    } else if (/^\d+$/.test(part)) out.push(Number(part));
  }
  return out;
}

/** The problems with the references in one file's text. */
function referenceProblems(rel: string, text: string, t: Targets): string[] {
  const problems: string[] = [];
  // The docs checkers hold example references of their own; they are only held to the ban.
  const checker = rel.startsWith("tests/docs/");
  text.split("\n").forEach((line, i) => {
    const at = `${rel}:${i + 1}`;
    if (OUTSIDE_DOCUMENTS.test(line)) {
      problems.push(`${at}: names a document that is not in the repository`);
    }
    for (const m of line.matchAll(SECTION_SIGN)) {
      if (m[1] === undefined) problems.push(`${at}: cites a section number (${m[0]})`);
    }
    if (checker) return;
    for (const m of line.matchAll(DOCS_REF)) {
      const anchors = t.pages.get(m[1]!);
      if (anchors === undefined) problems.push(`${at}: docs/${m[1]} does not exist`);
      else if (m[2] !== undefined && !anchors.has(m[2])) {
        problems.push(`${at}: docs/${m[1]} has no heading #${m[2]}`);
      }
    }
    for (const m of line.matchAll(DECISION_REF)) {
      for (const n of m[2] !== undefined ? [Number(m[2])] : numbers(m[1]!)) {
        if (!t.decisions.has(n)) {
          problems.push(`${at}: port decision ${n} is not a row of docs/differences.md`);
        }
      }
    }
    // `case 3:` at the start of a line is a switch statement, not a reference.
    if (!/^\s*case\s+\d+\s*:/.test(line)) {
      for (const m of line.matchAll(CASE_REF)) {
        for (const n of numbers(m[1]!)) {
          if (!t.cases.has(n)) problems.push(`${at}: case ${n} is not in docs/security.md`);
        }
      }
    }
    if (rel.startsWith("tests/verify/")) {
      for (const m of line.matchAll(CASE_NAME)) {
        if (!t.cases.has(Number(m[1]))) {
          problems.push(`${at}: case ${m[1]} is not in docs/security.md`);
        }
      }
    }
  });
  return problems;
}

async function loadTargets(): Promise<Targets> {
  const pages = new Map<string, Set<string>>();
  for await (const e of Deno.readDir(new URL("docs/", ROOT))) {
    if (!e.isFile || !e.name.endsWith(".md")) continue;
    pages.set(e.name, headingAnchors(await Deno.readTextFile(new URL(`docs/${e.name}`, ROOT))));
  }
  const differences = await Deno.readTextFile(new URL("docs/differences.md", ROOT));
  const table = differences.slice(differences.indexOf("## Port decisions"));
  const decisions = new Set(
    [...table.matchAll(/^\|\s*(\d+)\s*\|/gm)].map((m) => Number(m[1])),
  );
  const security = await Deno.readTextFile(new URL("docs/security.md", ROOT));
  const cases = new Set([...security.matchAll(/^(\d+)\.\s+\*\*/gm)].map((m) => Number(m[1])));
  return { pages, decisions, cases };
}

async function* textFiles(dir: URL, rel: string): AsyncGenerator<[string, string]> {
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory) {
      yield* textFiles(new URL(`${e.name}/`, dir), `${rel}${e.name}/`);
    } else if (e.isFile) {
      const bytes = await Deno.readFile(new URL(e.name, dir));
      let text: string;
      try {
        text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      } catch {
        continue; // not text
      }
      yield [`${rel}${e.name}`, text];
    }
  }
}

Deno.test("docs/differences.md and docs/security.md define what the code refers to", async () => {
  const t = await loadTargets();
  assert.deepEqual([...t.decisions], Array.from({ length: 22 }, (_, i) => i + 1));
  assert.deepEqual([...t.cases], Array.from({ length: 52 }, (_, i) => i + 1));
  assert.ok(t.pages.get("verification.md")?.has("expiry"));
});

Deno.test("src/, tests/ and scripts/ cite only pages, decisions and cases of this repository", async () => {
  const t = await loadTargets();
  const problems: string[] = [];
  let files = 0;
  for (const dir of ["src", "tests", "scripts"]) {
    for await (const [rel, text] of textFiles(new URL(`${dir}/`, ROOT), `${dir}/`)) {
      files++;
      problems.push(...referenceProblems(rel, text, t));
    }
  }
  for (const rel of ["README.md", ...[...t.pages.keys()].map((p) => `docs/${p}`)]) {
    const text = await Deno.readTextFile(new URL(rel, ROOT));
    problems.push(...referenceProblems(rel, text, { ...t, pages: t.pages }));
  }
  assert.ok(files > 100, `scanned ${files} files`);
  assert.deepEqual(problems, []);
});

Deno.test("the reference check catches what it is for", () => {
  const t: Targets = {
    pages: new Map([["verification.md", new Set(["expiry"])]]),
    decisions: new Set([1, 2, 3]),
    cases: new Set([51, 52]),
  };
  const sign = "\u00a7";
  const text = [
    `ok: RFC 4648 ${sign}5, docs/verification.md#expiry, port decisions 1, 2 and 3, case 51`,
    `bad: (reference ${sign}4.1 step 6) and ${sign}7.3`,
    "bad: see " + ["reference", "behavior"].join("-") + ".md",
    "bad: docs/nope.md and docs/verification.md#nope",
    "bad: port decision 4; PD9; security cases 50–52",
    "  case 7: // a switch, not a reference",
    '  { name: "53 not a case" },',
  ].join("\n");
  assert.deepEqual(referenceProblems("tests/verify/x_test.ts", text, t), [
    `tests/verify/x_test.ts:2: cites a section number (${sign}4)`,
    `tests/verify/x_test.ts:2: cites a section number (${sign}7)`,
    "tests/verify/x_test.ts:3: names a document that is not in the repository",
    "tests/verify/x_test.ts:4: docs/nope.md does not exist",
    "tests/verify/x_test.ts:4: docs/verification.md has no heading #nope",
    "tests/verify/x_test.ts:5: port decision 4 is not a row of docs/differences.md",
    "tests/verify/x_test.ts:5: port decision 9 is not a row of docs/differences.md",
    "tests/verify/x_test.ts:5: case 50 is not in docs/security.md",
    "tests/verify/x_test.ts:7: case 53 is not in docs/security.md",
  ]);
});
