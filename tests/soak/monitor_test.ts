import { strict as assert } from "node:assert";
import {
  isLoopbackOrUnspecified,
  metricValue,
  offLoopbackSockets,
  procAddress,
} from "../../scripts/soak/monitor.ts";
import { maxOf, percentile, slope } from "../../scripts/soak/report.ts";

Deno.test("/proc/net addresses decode; only loopback and unspecified ones pass", () => {
  assert.equal(procAddress("0100007F:1F90", false), "127.0.0.1:8080");
  assert.equal(procAddress("0A00020F:0050", false), "15.2.0.10:80");
  assert.equal(
    procAddress("00000000000000000000000001000000:0016", true),
    "[0000:0000:0000:0000:0000:0000:0000:0001]:22",
  );
  assert.ok(isLoopbackOrUnspecified("127.0.0.1:8080"));
  assert.ok(isLoopbackOrUnspecified("0.0.0.0:0"));
  assert.ok(isLoopbackOrUnspecified("[0000:0000:0000:0000:0000:0000:0000:0001]:22"));
  assert.ok(isLoopbackOrUnspecified("[0000:0000:0000:0000:0000:ffff:7f00:0001]:22"));
  assert.ok(!isLoopbackOrUnspecified("15.2.0.10:80"));
  assert.ok(!isLoopbackOrUnspecified("[2001:0db8:0000:0000:0000:0000:0000:0001]:443"));
});

Deno.test("the socket check sees this process's sockets", async () => {
  const local = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: (local.addr as Deno.NetAddr).port,
  });
  try {
    // Only this loopback pair is known here: the runner itself may hold other sockets (npm
    // downloads on a first run), which are not this test's business.
    const port = (local.addr as Deno.NetAddr).port;
    const found = await offLoopbackSockets(Deno.pid);
    assert.deepEqual(
      found.filter((s) => s.local.endsWith(`:${port}`) || s.remote.endsWith(`:${port}`)),
      [],
    );
  } finally {
    conn.close();
    local.close();
  }
  // A UDP socket "connected" to a public address (no packet is sent) is reported.
  const probe = new Deno.Command("python3", {
    args: [
      "-c",
      "import socket,sys,time; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect(('192.0.2.1', 9)); print('ready', flush=True); sys.stdin.read()",
    ],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const reader = probe.stdout.pipeThrough(new TextDecoderStream()).getReader();
  await reader.read();
  try {
    const found = await offLoopbackSockets(probe.pid);
    assert.equal(found.length, 1);
    assert.equal(found[0]!.remote, "192.0.2.1:9");
  } finally {
    await probe.stdin.close();
    await probe.status;
    await reader.cancel();
  }
});

Deno.test("metric values, percentiles, slope", () => {
  const text = '# HELP x\nfoo_total{reason="a"} 2\nfoo_total{reason="b"} 3\nfoo 7\nfoo_totalx 1\n';
  assert.equal(metricValue(text, "foo_total"), 5);
  assert.equal(metricValue(text, "foo_total", 'reason="b"'), 3);
  assert.equal(metricValue(text, "foo"), 7);
  assert.ok(Number.isNaN(metricValue(text, "bar")));
  assert.equal(percentile([5, 1, 4, 2, 3], 50), 3);
  assert.equal(percentile([1, 2, 3, 4, 100], 99), 100);
  assert.equal(maxOf(Array.from({ length: 300_000 }, (_, i) => i)), 299_999);
  assert.equal(slope([{ x: 0, y: 1 }, { x: 1, y: 3 }, { x: 2, y: 5 }]), 2);
});
