import assert from "node:assert/strict";
import { LineBuffer } from "../../src/serve/line_buffer.ts";

const decoder = new TextDecoder();

function harness(options: { maxBuffered?: number; chunk?: number; fail?: boolean } = {}) {
  const writes: string[] = [];
  const timers: { fn: () => void; ms: number }[] = [];
  const buffer = new LineBuffer({
    writeSync(bytes) {
      if (options.fail) throw new Deno.errors.BrokenPipe("stderr closed");
      const n = Math.min(bytes.length, options.chunk ?? bytes.length);
      writes.push(decoder.decode(bytes.subarray(0, n)));
      return n;
    },
    schedule: (fn, ms) => void timers.push({ fn, ms }),
  }, { delayMs: 7, maxBuffered: options.maxBuffered });
  return { buffer, writes, timers };
}

Deno.test("lines wait for the timer, then leave in order in one write", () => {
  const { buffer, writes, timers } = harness();
  buffer.write("a\n");
  buffer.write("b\n");
  buffer.write("c\n");
  assert.deepEqual(writes, []);
  assert.equal(buffer.pending, 3);
  assert.equal(timers.length, 1, "one timer per batch");
  assert.equal(timers[0]!.ms, 7);
  timers[0]!.fn();
  assert.deepEqual(writes, ["a\nb\nc\n"]);
  assert.equal(buffer.pending, 0);
  buffer.write("d\n");
  assert.equal(timers.length, 2, "the next batch schedules again");
  timers[1]!.fn();
  assert.deepEqual(writes, ["a\nb\nc\n", "d\n"]);
});

Deno.test("an urgent line goes out at once, with everything queued before it", () => {
  const { buffer, writes, timers } = harness();
  buffer.write("info\n");
  buffer.write("error\n", true);
  assert.deepEqual(writes, ["info\nerror\n"]);
  timers[0]!.fn();
  assert.deepEqual(writes, ["info\nerror\n"], "the timer finds nothing left to write");
});

Deno.test("a full buffer is written without waiting; nothing is dropped", () => {
  const { buffer, writes } = harness({ maxBuffered: 10 });
  buffer.write("12345\n");
  assert.deepEqual(writes, []);
  buffer.write("67890\n");
  assert.deepEqual(writes, ["12345\n67890\n"]);
});

Deno.test("short writes are continued until every byte is out", () => {
  const chunks: Uint8Array[] = [];
  const buffer = new LineBuffer({
    writeSync(bytes) {
      const n = Math.min(bytes.length, 4);
      chunks.push(bytes.slice(0, n));
      return n;
    },
    schedule: () => {},
  });
  buffer.write("héllo wörld\n", true);
  assert.ok(chunks.length > 3);
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  chunks.reduce((off, c) => (all.set(c, off), off + c.length), 0);
  assert.equal(decoder.decode(all), "héllo wörld\n");
});

Deno.test("a failing write in the timer is contained and the batch dropped", () => {
  const { buffer, timers } = harness({ fail: true });
  buffer.write("x\n");
  timers[0]!.fn(); // must not throw: a throw from a timer would end the server
  assert.equal(buffer.pending, 0);
  assert.throws(() => buffer.write("y\n", true), Deno.errors.BrokenPipe);
});

Deno.test("the server logger writes every line before the process exits", async () => {
  const root = new URL("../../", import.meta.url);
  const code = `
    import { configureLogging } from "./src/serve/logging.ts";
    const log = configureLogging({ format: "text", verbosity: "info" });
    for (let i = 0; i < 1000; i++) log.info("access granted", { n: i });
    Deno.exit(3);
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", code],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 3);
  const lines = decoder.decode(out.stderr).trimEnd().split("\n");
  assert.equal(lines.length, 1000);
  assert.match(lines[0]!, /level=info msg="access granted" n=0$/);
  assert.match(lines[999]!, /n=999$/);
});

Deno.test("batches of any size and script are written byte for byte, buffer reused or not", () => {
  const raw: Uint8Array[] = [];
  const buffer = new LineBuffer({
    writeSync(bytes) {
      raw.push(bytes.slice()); // the buffer may be reused: keep a copy
      return bytes.length;
    },
    schedule: () => {},
  }, { maxBuffered: 16 });
  const batches = [
    ["long line é€😀 " + "x".repeat(40) + "\n"], // over the limit: written at once, own buffer
    ["é€", "😀\n"], // multi-byte, within the limit, two lines in one batch
    ["a\n"], // shorter than the previous batch: no stale bytes after it
    ["😀😀😀😀😀😀😀😀\n"], // 17 UTF-16 units: over the limit again
  ];
  for (const parts of batches) {
    for (const p of parts) buffer.write(p);
    buffer.flush();
  }
  const expected = batches.map((parts) => parts.join(""));
  assert.deepEqual(raw.map((b) => decoder.decode(b)), expected);
  assert.deepEqual(
    raw.map((b) => b.length),
    expected.map((t) => new TextEncoder().encode(t).length),
  );
});
