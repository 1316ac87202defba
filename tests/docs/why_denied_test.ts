import assert from "node:assert/strict";
import { renderWhyDenied } from "../../scripts/docs_reasons.ts";
import { REASON_IDS, reasonInfo, SERVER_REASON_IDS } from "../../src/reasons/mod.ts";

const PAGE = new URL("../../docs/why-denied.md", import.meta.url);

Deno.test("docs/why-denied.md is what `deno task docs:reasons` renders from the catalogue", async () => {
  assert.equal(
    await Deno.readTextFile(PAGE),
    renderWhyDenied(),
    "docs/why-denied.md is stale: run `deno task docs:reasons`",
  );
});

Deno.test("the page has a section with the cause and fix of every reason ID", async () => {
  const page = await Deno.readTextFile(PAGE);
  for (const id of REASON_IDS) {
    const at = page.indexOf(`\n### ${id}\n`);
    assert.ok(at >= 0, id);
    const section = page.slice(at, page.indexOf("\n### ", at + 1) >>> 0 || undefined);
    assert.ok(section.includes(reasonInfo(id).cause), id);
    assert.ok(section.includes(reasonInfo(id).fix), id);
  }
});

Deno.test("reason IDs are step.name, unique, and the server reports all but the client-only ones", () => {
  assert.equal(new Set(REASON_IDS).size, REASON_IDS.length);
  for (const id of REASON_IDS) assert.match(id, /^[a-z]+\.[a-z_]+$/);
  assert.deepEqual(
    REASON_IDS.filter((id) => !SERVER_REASON_IDS.includes(id)),
    ["credentials.none", "credentials.expired", "credentials.assume_role", "clock.skew"],
  );
});

Deno.test("every reason ID is asserted by some test (literally or as an escaped pattern)", async () => {
  const texts: string[] = [];
  const walk = async (dir: URL) => {
    for await (const e of Deno.readDir(dir)) {
      if (e.isDirectory) await walk(new URL(`${e.name}/`, dir));
      else if (e.name.endsWith("_test.ts") && e.name !== "why_denied_test.ts") {
        texts.push(await Deno.readTextFile(new URL(e.name, dir)));
      }
    }
  };
  await walk(new URL("../", import.meta.url));
  const all = texts.join("\n");
  const untested = REASON_IDS.filter((id) =>
    !all.includes(`"${id}"`) && !all.includes(id.replace(".", "\\."))
  );
  assert.deepEqual(untested, []);
});
