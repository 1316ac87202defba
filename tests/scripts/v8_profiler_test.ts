import { strict as assert } from "node:assert";
import {
  allocationSummary,
  type CpuProfile,
  type HeapProfile,
  type LoadedScript,
  selfTimeSummary,
  sourceFootprint,
  V8Profiler,
} from "../../scripts/lib/v8_profiler.ts";
import { freePort } from "../peers/ports.ts";

Deno.test("selfTimeSummary: frames by samples on top of the stack, paths shortened", () => {
  const frame = (id: number, functionName: string, url: string, lineNumber = 0) => ({
    id,
    callFrame: { functionName, url, lineNumber },
  });
  const profile: CpuProfile = {
    nodes: [
      { ...frame(1, "(root)", ""), children: [2, 3] },
      { ...frame(2, "finish", "file:///work/repo/src/serve/handler.ts", 9), children: [4] },
      frame(3, "(idle)", ""),
      frame(4, "", "file:///root/.cache/deno/npm/registry.npmjs.org/yaml/2.9.1/dist/x.js", 0),
    ],
    samples: [2, 2, 2, 3, 3, 4, 99],
    startTime: 0,
    endTime: 1,
  };
  const summary = selfTimeSummary(profile, 2);
  assert.deepEqual(summary.map((s) => s.frame), [
    "finish src/serve/handler.ts:10",
    "(idle)",
  ]);
  assert.equal(summary[0]!.percent.toFixed(1), (300 / 7).toFixed(1));
  assert.deepEqual(
    selfTimeSummary(profile).map((s) => s.frame).at(-1),
    "(anonymous) npm:yaml/2.9.1/dist/x.js:1",
  );
});

/**
 * Runs `script` (a program, or a module file's URL) in a Deno process under the inspector, hands `use` a profiler connected to it,
 * and kills the process afterwards.
 */
async function withInspectedScript(
  script: string | URL,
  use: (profiler: V8Profiler) => Promise<void>,
): Promise<void> {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    // A URL names a module file to run; a string is the program, read from stdin.
    args: [
      "run",
      "-A",
      `--inspect=127.0.0.1:${port}`,
      typeof script === "string" ? "-" : script.href,
    ],
    stdin: typeof script === "string" ? "piped" : "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  if (typeof script === "string") {
    const stdin = child.stdin.getWriter();
    await stdin.write(new TextEncoder().encode(script));
    await stdin.close();
  }
  let profiler: V8Profiler | undefined;
  try {
    profiler = await V8Profiler.connect(port, 20_000);
    await use(profiler);
  } finally {
    profiler?.close();
    child.kill("SIGKILL");
    await child.status;
  }
}

Deno.test("V8Profiler samples a live process through its inspector", async () => {
  const script = `
    function spinHere() { let x = 0; for (let i = 0; i < 2e5; i++) x += Math.sqrt(i); return x; }
    setInterval(() => { const end = performance.now() + 8; while (performance.now() < end) spinHere(); }, 10);
  `;
  await withInspectedScript(script, async (profiler) => {
    await profiler.start(500);
    await new Promise((r) => setTimeout(r, 600));
    const profile = await profiler.stop();
    assert.ok(profile.samples.length > 50, `only ${profile.samples.length} samples`);
    const top = selfTimeSummary(profile, 5).map((s) => s.frame);
    assert.ok(top.some((f) => f.startsWith("spinHere")), top.join("\n"));
  });
});

Deno.test("allocationSummary charges runtime allocations to the innermost project frame", () => {
  const node = (
    functionName: string,
    url: string,
    selfSize: number,
    children: HeapProfile["head"][] = [],
  ) => ({ callFrame: { functionName, url, lineNumber: 4 }, selfSize, children });
  const profile: HeapProfile = {
    head: node("(root)", "", 0, [
      node("handle", "file:///repo/src/serve/handler.ts", 100, [
        // A runtime frame below ours: charged to `handle`.
        node("Response", "ext:deno_fetch/23_response.js", 300),
        node("successBody", "file:///repo/src/serve/handler.ts", 200, [
          node("stringify", "", 50),
        ]),
      ]),
      // No project frame on the stack: charged to itself.
      node("fastSyncResponseOrStream", "ext:deno_http/00_serve.ts", 350),
    ]),
  };
  const { totalBytes, top } = allocationSummary(profile);
  assert.equal(totalBytes, 1000);
  assert.deepEqual(top.map((t) => [t.frame, t.bytes]), [
    ["handle src/serve/handler.ts:5", 400],
    ["fastSyncResponseOrStream ext:deno_http/00_serve.ts:5", 350],
    ["successBody src/serve/handler.ts:5", 250],
  ]);
  assert.equal(top[0]!.percent, 40);
  assert.equal(allocationSummary(profile, 1).top.length, 1);
});

Deno.test("V8Profiler records the allocations of a live process, garbage included", async () => {
  // 100 arrays of 1,280 numbers (10 KiB each) every 10 ms, all garbage at once: about 100 MB
  // a second.
  const script = `
    function makeGarbage() { const a = []; for (let i = 0; i < 100; i++) a.push(new Array(1280).fill(i + 0.5)); return a.length; }
    setInterval(makeGarbage, 10);
  `;
  await withInspectedScript(script, async (profiler) => {
    await profiler.startAllocations();
    await new Promise((r) => setTimeout(r, 500));
    const { totalBytes, top } = allocationSummary(await profiler.stopAllocations(), 3);
    // Nothing survives, so only a profile that counts collected objects sees tens of MB.
    assert.ok(totalBytes > 10e6, `only ${totalBytes} bytes`);
    assert.ok(top[0]!.frame.startsWith("makeGarbage"), top.map((t) => t.frame).join("\n"));
  });
});

Deno.test("V8Profiler.connect names the flag when nothing listens", async () => {
  await assert.rejects(
    () => V8Profiler.connect(freePort(), 300),
    /no V8 inspector on 127\.0\.0\.1:\d+: start the process with --inspect/,
  );
});

Deno.test("sourceFootprint: two bytes a character past Latin-1, inline maps and their URLs", () => {
  const map = "data:application/json;base64,eyJ2ZXJzaW9uIjozfQ==";
  const comment = `//# sourceMappingURL=${map}`;
  const scripts: LoadedScript[] = [
    // Latin-1 only (µ is U+00B5): one byte a character.
    { url: "file:///p/a.ts", source: `/** 5 µs */ f();\n${comment}`, sourceMapURL: map },
    // One arrow in a comment: the whole source, map included, at two bytes.
    { url: "file:///p/b.ts", source: `/** a → b */ g();\n${comment}`, sourceMapURL: map },
    // A plain JavaScript module: no map.
    { url: "file:///p/c.js", source: "h();", sourceMapURL: "" },
  ];
  const f = sourceFootprint(scripts);
  const a = scripts[0]!.source.length;
  const b = scripts[1]!.source.length;
  assert.equal(f.modules, 3);
  assert.equal(f.chars, a + b + 4);
  assert.deepEqual(f.twoByte, ["file:///p/b.ts"]);
  assert.equal(f.bytes, a + 2 * b + 4);
  assert.equal(f.inlineMapBytes, comment.length + 2 * comment.length);
  assert.equal(f.mapUrlBytes, 2 * map.length);
  // A map named by a file URL is not in the heap.
  const external = sourceFootprint([{ ...scripts[2]!, sourceMapURL: "c.js.map" }]);
  assert.equal(external.inlineMapBytes + external.mapUrlBytes, 0);
});

Deno.test("V8Profiler reads the sources and the heap of a live process", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/b.ts`,
      "/** Maps a → b. */\nexport const b = (x: number): number => x + 1;\n",
    );
    await Deno.writeTextFile(
      `${dir}/a.ts`,
      'import { b } from "./b.ts";\nsetInterval(() => b(1), 1000);\n',
    );
    const root = new URL(`file://${dir}/`);
    await withInspectedScript(new URL("a.ts", root), async (profiler) => {
      const scripts = await profiler.loadedScripts((url) => url.startsWith(root.href));
      assert.deepEqual(scripts.map((s) => s.url).sort(), [
        new URL("a.ts", root).href,
        new URL("b.ts", root).href,
      ]);
      const f = sourceFootprint(scripts);
      // deno run transpiles both and appends an inline source map to each.
      assert.deepEqual(f.twoByte, [new URL("b.ts", root).href]);
      assert.ok(f.inlineMapBytes > 0 && f.inlineMapBytes < f.bytes, JSON.stringify(f));
      assert.ok(f.mapUrlBytes > 0, JSON.stringify(f));
      assert.ok(
        scripts.every((s) => s.source.includes("setInterval") || s.source.includes("x + 1")),
      );
      const heap = await profiler.heapAfterGc();
      assert.ok(heap.heapUsed > 1e6 && heap.heapUsed <= heap.heapTotal, JSON.stringify(heap));
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
