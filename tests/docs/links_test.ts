import assert from "node:assert/strict";
import { extractLinks, headingAnchors } from "./_markdown.ts";

// Every relative link in README.md and docs/*.md must lead somewhere in the repository: a file
// or folder that exists and, when the link has a `#fragment` into a Markdown file, a heading of
// that file. A page that moves or a heading that is renamed breaks the test, not the reader.

const ROOT = new URL("../../", import.meta.url);

/** The problems with the links of one Markdown file (`rel` is its path from the root). */
async function brokenLinks(rel: string, root: URL = ROOT): Promise<string[]> {
  const fileUrl = new URL(rel, root);
  const text = await Deno.readTextFile(fileUrl);
  const problems: string[] = [];
  for (const { line, target } of extractLinks(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: …: not ours to check
    const hash = target.indexOf("#");
    const path = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
    const fragment = hash < 0 ? "" : decodeURIComponent(target.slice(hash + 1));
    const where = `${rel}:${line}: ${target}`;
    const dest = path === "" ? fileUrl : new URL(path, fileUrl);
    if (!dest.href.startsWith(root.href)) {
      problems.push(`${where} points outside the repository`);
      continue;
    }
    let isFile: boolean;
    try {
      isFile = (await Deno.stat(dest)).isFile;
    } catch {
      problems.push(`${where} names a file that does not exist`);
      continue;
    }
    if (fragment === "" || !isFile || !dest.pathname.endsWith(".md")) continue;
    const anchors = headingAnchors(await Deno.readTextFile(dest));
    if (!anchors.has(fragment)) {
      problems.push(`${where} names a heading that does not exist (#${fragment})`);
    }
  }
  return problems;
}

async function documentationFiles(): Promise<string[]> {
  const files = ["README.md"];
  for await (const e of Deno.readDir(new URL("docs/", ROOT))) {
    if (e.isFile && e.name.endsWith(".md")) files.push(`docs/${e.name}`);
  }
  return files.sort();
}

Deno.test("every relative link in README.md and docs/*.md resolves, anchors included", async () => {
  const files = await documentationFiles();
  assert.ok(files.length > 1, "docs/ holds the manual's pages");
  const problems = (await Promise.all(files.map((f) => brokenLinks(f)))).flat();
  assert.deepEqual(problems, []);
});

Deno.test("the README links every docs/ page", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const linked = new Set(extractLinks(readme).map((l) => l.target.split("#")[0]));
  const pages = (await documentationFiles()).filter((f) => f !== "README.md");
  assert.deepEqual(pages.filter((p) => !linked.has(p)), []);
});

Deno.test("the checker reports missing files, missing headings and links out of the tree", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const root = new URL(`file://${dir}/`);
    await Deno.mkdir(new URL("docs/", root));
    await Deno.writeTextFile(
      new URL("docs/page.md", root),
      "# Page\n\n## The `token` command (new)\n\n## Same\n\n## Same\n\n```\n## not a heading\n```\n",
    );
    await Deno.writeTextFile(
      new URL("README.md", root),
      [
        "[ok](docs/page.md) [ok](docs/page.md#the-token-command-new) [ok](docs/page.md#same-1)",
        "[ok](#top) [ext](https://example.com/x.md#nope) `[code](missing.md)`",
        "[gone](docs/missing.md)",
        "[bad anchor](docs/page.md#not-a-heading)",
        "[outside](../elsewhere.md)",
        "[ref]: docs/also-missing.md",
        "# Top",
      ].join("\n"),
    );
    assert.deepEqual(await brokenLinks("README.md", root), [
      "README.md:3: docs/missing.md names a file that does not exist",
      "README.md:4: docs/page.md#not-a-heading names a heading that does not exist (#not-a-heading)",
      "README.md:5: ../elsewhere.md points outside the repository",
      "README.md:6: docs/also-missing.md names a file that does not exist",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
