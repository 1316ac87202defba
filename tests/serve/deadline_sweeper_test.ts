import assert from "node:assert/strict";
import { DeadlineSweeper } from "../../src/serve/deadline_sweeper.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("a deadline fires once its time has passed, and not before", async () => {
  let now = 0;
  let sweeps = 0;
  const sweeper = new DeadlineSweeper({
    resolutionMs: 5,
    now: () => {
      sweeps++;
      return now;
    },
  });
  let fired = 0;
  sweeper.set(100, () => fired++);
  await sleep(30); // several sweeps with the clock still at 0
  assert.equal(fired, 0);
  now = 99;
  await sleep(30);
  assert.equal(fired, 0);
  now = 100;
  await sleep(30);
  assert.equal(fired, 1);
  await sleep(30);
  assert.equal(fired, 1, "a deadline fires once");
  // Nothing pending: the timer is gone, so the clock is no longer read.
  assert.equal(sweeper.pending, 0);
  const before = sweeps;
  await sleep(30);
  assert.equal(sweeps, before, "the sweeper kept running with nothing pending");
});

Deno.test("a cancelled deadline never fires; the next sweep with nothing pending stops the timer", async () => {
  let now = 0;
  const sweeper = new DeadlineSweeper({ resolutionMs: 5, now: () => now });
  let fired = 0;
  const cancelA = sweeper.set(10, () => fired++);
  const cancelB = sweeper.set(10, () => fired++);
  cancelA();
  cancelA(); // twice is harmless
  assert.equal(sweeper.pending, 1);
  now = 50;
  await sleep(30);
  assert.equal(fired, 1);
  cancelB(); // after it fired: harmless
  const cancelC = sweeper.set(10, () => fired++);
  cancelC();
  assert.equal(sweeper.pending, 0);
  assert.equal(sweeper.armed, true, "stopped at cancel: reviews would re-arm it every time");
  now = 100;
  await sleep(30);
  assert.equal(fired, 1);
  assert.equal(sweeper.armed, false, "still armed with nothing pending");
});

Deno.test("set and cancel in a loop (reviews under load) keep one timer, stopped when idle", async () => {
  let reads = 0;
  const sweeper = new DeadlineSweeper({
    resolutionMs: 5,
    now: () => {
      reads++;
      return 0;
    },
  });
  for (let i = 0; i < 10_000; i++) sweeper.set(1_000, () => {})();
  assert.equal(sweeper.pending, 0);
  assert.equal(sweeper.armed, true);
  const before = reads;
  await sleep(40);
  // One interval, so one sweep read the clock and stopped it; an interval armed per set()
  // would have swept (and read the clock) thousands of times.
  assert.ok(reads - before <= 2, `the clock was read ${reads - before} times`);
  assert.equal(sweeper.armed, false);
});

Deno.test("deadlines due together all fire even if one callback throws", async () => {
  let now = 0;
  const sweeper = new DeadlineSweeper({ resolutionMs: 5, now: () => now });
  const fired: string[] = [];
  sweeper.set(10, () => fired.push("a"));
  sweeper.set(10, () => {
    throw new Error("boom");
  });
  sweeper.set(10, () => fired.push("c"));
  sweeper.set(1_000, () => fired.push("late"));
  now = 10;
  await sleep(30);
  assert.deepEqual(fired, ["a", "c"]);
  assert.equal(sweeper.pending, 1);
  now = 1_000;
  await sleep(30);
  assert.deepEqual(fired, ["a", "c", "late"]);
});

Deno.test("on the real clock a deadline fires within one resolution of its time", async () => {
  const sweeper = new DeadlineSweeper({ resolutionMs: 20 });
  const start = performance.now();
  const elapsed = await new Promise<number>((resolve) => {
    sweeper.set(60, () => resolve(performance.now() - start));
  });
  assert.ok(elapsed >= 60, `fired early, after ${elapsed} ms`);
  assert.ok(elapsed < 60 + 20 + 200, `fired late, after ${elapsed} ms`);
});

Deno.test("stop() clears the timer at once; a later deadline arms it again", async () => {
  let now = 0;
  const sweeper = new DeadlineSweeper({ resolutionMs: 5, now: () => now });
  let fired = 0;
  sweeper.set(10, () => fired++)();
  assert.equal(sweeper.armed, true);
  sweeper.stop();
  assert.equal(sweeper.armed, false);
  sweeper.set(10, () => fired++);
  assert.equal(sweeper.armed, true);
  now = 10;
  await sleep(30);
  assert.equal(fired, 1);
  assert.equal(sweeper.armed, false);
});
