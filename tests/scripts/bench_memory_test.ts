import assert from "node:assert/strict";
import { parseStatus } from "../../scripts/bench_memory.ts";

Deno.test("parseStatus reads VmRSS, RssAnon and RssFile of /proc/PID/status in MiB", () => {
  const status = "Name:\tdeno\nVmHWM:\t  90000 kB\nVmRSS:\t   61440 kB\nRssAnon:\t   20480 kB\n" +
    "RssFile:\t   40960 kB\nRssShmem:\t       0 kB\n";
  assert.deepEqual(parseStatus(status), { total: 60, anon: 20, file: 40 });
  assert.throws(() => parseStatus("VmRSS:\t1 kB\n"), /no RssAnon/);
});

Deno.test("parseStatus reads this process's own status", async () => {
  if (Deno.build.os !== "linux") return;
  const rss = parseStatus(await Deno.readTextFile("/proc/self/status"));
  assert.ok(rss.total > 0 && Math.abs(rss.total - rss.anon - rss.file) < 1, JSON.stringify(rss));
});
