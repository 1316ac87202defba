import { strict as assert } from "node:assert";
import { type CpuProfile, CpuProfiler, selfTimeSummary } from "../../scripts/lib/cpu_profile.ts";
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

Deno.test("CpuProfiler samples a live process through its inspector", async () => {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", `--inspect=127.0.0.1:${port}`, "-"],
    stdin: "piped",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const stdin = child.stdin.getWriter();
  await stdin.write(new TextEncoder().encode(`
    function spinHere() { let x = 0; for (let i = 0; i < 2e5; i++) x += Math.sqrt(i); return x; }
    setInterval(() => { const end = performance.now() + 8; while (performance.now() < end) spinHere(); }, 10);
  `));
  await stdin.close();
  let profiler: CpuProfiler | undefined;
  try {
    profiler = await CpuProfiler.connect(port, 20_000);
    await profiler.start(500);
    await new Promise((r) => setTimeout(r, 600));
    const profile = await profiler.stop();
    assert.ok(profile.samples.length > 50, `only ${profile.samples.length} samples`);
    const top = selfTimeSummary(profile, 5).map((s) => s.frame);
    assert.ok(top.some((f) => f.startsWith("spinHere")), top.join("\n"));
  } finally {
    profiler?.close();
    child.kill("SIGKILL");
    await child.status;
  }
});

Deno.test("CpuProfiler.connect names the flag when nothing listens", async () => {
  await assert.rejects(
    () => CpuProfiler.connect(freePort(), 300),
    /no V8 inspector on 127\.0\.0\.1:\d+: start the process with --inspect/,
  );
});
