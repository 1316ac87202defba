import assert from "node:assert/strict";
import { denoCacheRss, parseStatus } from "../../scripts/bench_memory.ts";

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

Deno.test("denoCacheRss sums the resident pages of the deno CLI's cache files in smaps", () => {
  const smaps = [
    "55d0c0000000-55d0c1000000 r-xp 00000000 08:01 123 /usr/bin/deno",
    "Rss:               23000 kB",
    "7f0000000000-7f0000300000 r--s 00000000 08:01 456 /root/.cache/deno/v8_code_cache_v2",
    "Size:               3072 kB",
    "Rss:                2048 kB",
    "7f0000300000-7f0000400000 r--s 00000000 08:01 457 /root/.cache/deno/dep_analysis_cache_v2",
    "Rss:                 512 kB",
    "7f0000400000-7f0000500000 rw-p 00000000 00:00 0 ",
    "Rss:                1024 kB",
    "7f0000500000-7f0000600000 rw-s 00000000 08:01 458 /root/.cache/deno/v8_code_cache_v2-shm",
    "Rss:                   4 kB",
  ].join("\n");
  // The write-ahead-log index (-shm) is not the cache itself; a few KB either way.
  assert.equal(denoCacheRss(smaps), 2.5);
  assert.equal(denoCacheRss(""), 0);
});
