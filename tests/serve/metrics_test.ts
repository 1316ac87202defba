import { SERVER_REASON_IDS } from "../../src/reasons/mod.ts";
import assert from "node:assert/strict";
import { createServerMetrics, REVIEW_OUTCOMES } from "../../src/serve/metrics.ts";

interface Family {
  type: string;
  help: string;
  samples: { name: string; labels: Record<string, string>; value: number }[];
}

/** A small parser for the Prometheus text format (enough to check names, types and labels). */
function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, f = { type: "", help: "", samples: [] });
    return f;
  };
  for (const line of text.split("\n")) {
    if (line === "") continue;
    let m = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (m) {
      if (m[1] === "HELP") family(m[2]!).help = m[3]!;
      else family(m[2]!).type = m[3]!;
      continue;
    }
    m = /^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `unparseable line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[3] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    const base = m[1]!.replace(/_(bucket|sum|count)$/, "");
    const target = families.has(m[1]!) ? m[1]! : base;
    family(target).samples.push({ name: m[1]!, labels, value: Number(m[4]) });
  }
  return families;
}

const NS = "aws_iam_authenticator_";

Deno.test("every metric of the Go tool with its type, help and labels", async () => {
  const metrics = createServerMetrics();
  for (const outcome of REVIEW_OUTCOMES) metrics.observeReview(outcome, 0.003);
  metrics.sts.response(200, "us-west-2");
  metrics.sts.response(403, "global");
  metrics.sts.connectionFailure("us-west-2");
  metrics.sts.throttled("global");
  metrics.mapper.configmapWatchFailure();
  metrics.mapper.dynamicFileFailure();
  metrics.mapper.ec2DescribeInstancesCall();
  metrics.mapper.dynamicE2eLatency("dynamic_file", 2);
  metrics.mapper.dynamicE2eLatency("dynamic_backend_mode", 4);
  metrics.mapper.dynamicFileEnabled(1);
  metrics.mapper.dynamicFileOnly(0);
  metrics.mapper.mappingLoadErrors("EKSConfigMap");
  metrics.mapper.mappingFileWritableByOthers("/etc/a/dynamic.json", 1);
  metrics.mapper.mappingFileWritableByOthers("/etc/a/config.yaml", 1);
  metrics.mapper.mappingFileWritableByOthers("/etc/a/config.yaml", 0);
  const families = parseExposition(await metrics.render());

  const expect: [string, string, string][] = [
    ["authenticate_latency_seconds", "histogram", "Authenticate call latency"],
    ["sts_responses_total", "counter", "Sts responses with error code label"],
    ["sts_connection_failures_total", "counter", "Sts call could not succeed or timedout"],
    ["sts_throttling_total", "counter", "Sts call got throttled"],
    ["configmap_watch_failures_total", "counter", "EKS Configmap watch failures"],
    ["dynamicfile_failures_total", "counter", "Dynamic file failures"],
    ["ec2_describe_instances_calls_total", "counter", "Number of EC2 describe instances calls."],
    [
      "dynamic_e2e_latency_seconds",
      "histogram",
      "End to end latency in seconds partitioned by type.",
    ],
    ["dynamic_file_enabled", "gauge", "Dynamic file in backend mode is enabled"],
    ["dynamic_file_only", "gauge", "Only dynamic file in backend mode is enabled"],
  ];
  for (const [name, type, help] of expect) {
    const f = families.get(NS + name);
    assert.ok(f, `missing ${NS + name}`);
    assert.equal(f.type, type, name);
    assert.equal(f.help, help, name);
  }

  const latency = families.get(NS + "authenticate_latency_seconds")!;
  const results = new Set(latency.samples.map((s) => s.labels.result));
  assert.deepEqual([...results].sort(), [...REVIEW_OUTCOMES].sort());
  assert.equal(results.has("uknown_user"), false);
  const les = latency.samples.filter((s) => s.labels.result === "success" && s.labels.le)
    .map((s) => s.labels.le);
  assert.deepEqual(les, [
    "0.005",
    "0.01",
    "0.025",
    "0.05",
    "0.1",
    "0.25",
    "0.5",
    "1",
    "2.5",
    "5",
    "10",
    "+Inf",
  ]);
  const count = latency.samples.find((s) =>
    s.name.endsWith("_count") && s.labels.result === "success"
  );
  assert.equal(count?.value, 1);

  const responses = families.get(NS + "sts_responses_total")!.samples;
  assert.deepEqual(
    responses.map((s) => s.labels).sort((a, b) => a.ResponseCode!.localeCompare(b.ResponseCode!)),
    [{ ResponseCode: "200", StsRegion: "us-west-2" }, { ResponseCode: "403", StsRegion: "global" }],
  );
  assert.deepEqual(families.get(NS + "sts_connection_failures_total")!.samples[0]!.labels, {
    StsRegion: "us-west-2",
  });
  assert.deepEqual(families.get(NS + "sts_throttling_total")!.samples[0]!.labels, {
    StsRegion: "global",
  });
  const e2e = families.get(NS + "dynamic_e2e_latency_seconds")!;
  assert.deepEqual(
    [...new Set(e2e.samples.map((s) => s.labels.type))].sort(),
    ["dynamic_backend_mode", "dynamic_file"],
  );
  assert.deepEqual(
    e2e.samples.filter((s) => s.labels.type === "dynamic_file" && s.labels.le).map((s) =>
      s.labels.le
    ),
    ["1", "3", "5", "10", "15", "20", "30", "60", "+Inf"],
  );
  assert.equal(families.get(NS + "dynamic_file_enabled")!.samples[0]!.value, 1);
  assert.equal(families.get(NS + "dynamic_file_only")!.samples[0]!.value, 0);
  assert.equal(families.get(NS + "ec2_describe_instances_calls_total")!.samples[0]!.value, 1);
  // New: one gauge per checked mapping file, set on every check.
  const writable = families.get(NS + "mapping_file_writable_by_others")!;
  assert.equal(writable.type, "gauge");
  assert.deepEqual(
    writable.samples.map((s) => [s.labels.path, s.value]).sort(),
    [["/etc/a/config.yaml", 0], ["/etc/a/dynamic.json", 1]],
  );
  // New: denials by reason, every reason the server can report from 0.
  const denials = families.get(NS + "denials_total")!;
  assert.equal(denials.type, "counter");
  assert.deepEqual(
    denials.samples.map((s) => s.labels.reason).sort(),
    [...SERVER_REASON_IDS].sort(),
  );
  assert.ok(denials.samples.every((s) => s.value === 0));
  metrics.observeReview("unknown_user", 0.001, "map.not_mapped");
  metrics.observeReview("unknown_user", 0.001, "map.not_mapped");
  const after = parseExposition(await metrics.render()).get(NS + "denials_total")!.samples;
  assert.equal(after.find((s) => s.labels.reason === "map.not_mapped")?.value, 2);
  assert.equal(after.find((s) => s.labels.reason === "token.expired")?.value, 0);
  // Process collectors, as the Go tool's default registry has them.
  assert.ok(families.has("process_resident_memory_bytes"));
});

Deno.test("two servers do not share a registry", async () => {
  const a = createServerMetrics({ processMetrics: false });
  const b = createServerMetrics({ processMetrics: false });
  a.sts.throttled("global");
  assert.match(await a.render(), /sts_throttling_total\{StsRegion="global"\} 1/);
  assert.doesNotMatch(await b.render(), /sts_throttling_total\{/);
});

Deno.test("process collectors: CPU, memory, file descriptors and heap, without the event-loop monitor", async () => {
  const metrics = createServerMetrics();
  // Burn a little CPU so the CPU counters have something to count.
  let x = 0;
  const until = performance.now() + 30;
  while (performance.now() < until) x += Math.sqrt(x + 1);
  const families = parseExposition(await metrics.render());
  for (
    const name of [
      "process_cpu_user_seconds_total",
      "process_cpu_system_seconds_total",
      "process_cpu_seconds_total",
    ]
  ) {
    const f = families.get(name);
    assert.equal(f?.type, "counter", name);
    assert.ok(f!.samples.length === 1 && f!.samples[0]!.value >= 0, name);
  }
  const cpu = families.get("process_cpu_seconds_total")!.samples[0]!.value;
  assert.ok(cpu > 0, `process_cpu_seconds_total is ${cpu} after 30 ms of work (${x})`);
  for (
    const name of [
      "process_start_time_seconds",
      "process_max_fds",
      "nodejs_heap_size_total_bytes",
      "nodejs_heap_size_used_bytes",
      "nodejs_external_memory_bytes",
      "nodejs_version_info",
    ]
  ) {
    assert.equal(families.get(name)?.type, "gauge", name);
  }
  assert.ok(families.get("nodejs_heap_space_size_used_bytes")!.samples.length > 0);
  if (Deno.build.os === "linux") {
    for (const name of ["process_resident_memory_bytes", "process_virtual_memory_bytes"]) {
      const value = families.get(name)!.samples[0]!.value;
      assert.ok(value > 10 * 1024 * 1024, `${name} = ${value}`);
    }
    assert.ok(families.get("process_open_fds")!.samples[0]!.value > 0);
  }
  // Left out: a 10 ms sampling timer, and GC entries Deno never emits.
  for (const name of families.keys()) {
    assert.doesNotMatch(name, /^nodejs_(eventloop_lag|gc_duration)/);
  }
});
