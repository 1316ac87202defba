import { strict as assert } from "node:assert";
import { startUntilReady } from "../../scripts/lib/ready_process.ts";
import { rssMb } from "../../scripts/lib/proc_stats.ts";

const deno = (code: string) => [Deno.execPath(), "eval", code];
const err = (text: string) =>
  `Deno.stderr.writeSync(new TextEncoder().encode(${JSON.stringify(text)}));`;

Deno.test("startUntilReady: resolves on the ready text, keeps draining stderr, stop() ends the child", async () => {
  // After "ready" it writes far more than a pipe holds: without draining it would block.
  const child = await startUntilReady(
    deno(`${err("starting\\nlistening on 127.0.0.1:1\\n")}
      for (let i = 0; i < 2000; i++) ${err("x".repeat(200) + "\\n")}
      setInterval(() => {}, 1000);`),
    "listening on",
    { env: { EXTRA: "1" } },
  );
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(await rssMb(child.pid) > 0, "alive after ready");
  await child.stop();
  assert.ok(Number.isNaN(await rssMb(child.pid)), "gone after stop()");
});

Deno.test("startUntilReady: a child that exits first fails with what it wrote", async () => {
  await assert.rejects(
    startUntilReady(deno(`${err("bad config\\n")} Deno.exit(1);`), "listening on"),
    /exited before it was ready:\nbad config/,
  );
});

Deno.test("startUntilReady: a silent child times out and is stopped", async () => {
  await assert.rejects(
    startUntilReady(deno(`${err("waiting")} setInterval(() => {}, 1000);`), "ready", {
      timeoutMs: 500,
    }),
    /was not ready after 500 ms:\nwaiting/,
  );
});
