import { strict as assert } from "node:assert";
import {
  formatGcSummary,
  GC_TRACE_V8_FLAGS,
  summarizeGcTrace,
} from "../../scripts/lib/gc_trace.ts";

Deno.test("summarizeGcTrace: pauses by kind, long ones listed, other lines ignored", () => {
  const line = (pause: number, gc: string) =>
    `[1:0x1:0]   10 ms: GC: {"pause":${pause},"mutator":1,"gc":"${gc}","reason":"x"}`;
  const text = [
    'Authenticator Version: "0.7.18", "abc"',
    line(0.5, "s"),
    line(2.5, "s"),
    line(3.25, "mc"),
    line(1, "mmc"),
    '[1:0x1:0]   11 ms: GC: {"pause":', // cut short
    line(6, "mc"),
  ].join("\n");
  const s = summarizeGcTrace(text);
  assert.deepEqual(s.full, { count: 2, totalMs: 9.25, maxMs: 6 });
  assert.deepEqual(s.young, { count: 3, totalMs: 4, maxMs: 2.5 });
  assert.deepEqual(s.longPauses, [6, 3.25, 2.5]);
  assert.equal(
    formatGcSummary(s),
    "full 2 (max 6.0 ms, 9 ms in all), young 3 (max 2.5 ms, 4 ms in all); 3 pauses ≥ 2 ms",
  );
  assert.deepEqual(summarizeGcTrace("").full, { count: 0, totalMs: 0, maxMs: 0 });
});

Deno.test("summarizeGcTrace reads the trace a real Deno process writes with GC_TRACE_V8_FLAGS", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      GC_TRACE_V8_FLAGS,
      "--v8-flags=--expose-gc",
      "let keep = []; for (let i = 0; i < 2e5; i++) keep.push({ i }); keep = null; " +
      "(globalThis as any).gc(); (globalThis as any).gc();",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const s = summarizeGcTrace(new TextDecoder().decode(out.stdout));
  assert.ok(s.full.count >= 2, `full collections: ${s.full.count}`);
  assert.ok(s.full.maxMs > 0);
});
