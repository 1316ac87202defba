import assert from "node:assert/strict";
import { WatchedFile } from "../../src/map/file_watcher.ts";
import { recordingLogger, recordingMetrics, waitFor } from "./_helpers.ts";

interface Seen {
  loads: string[];
  deletes: number;
}

async function watch(
  path: string,
  retryMs = 50,
): Promise<{ w: WatchedFile; seen: Seen; metrics: ReturnType<typeof recordingMetrics> }> {
  const seen: Seen = { loads: [], deletes: 0 };
  const metrics = recordingMetrics();
  const w = new WatchedFile({
    path,
    logger: recordingLogger(),
    metrics,
    debounceMs: 20,
    retryMs,
    onLoad: (t) => seen.loads.push(t),
    onDelete: () => seen.deletes++,
  });
  await w.start(new AbortController().signal);
  return { w, seen, metrics };
}

Deno.test("in-place writes are seen", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/map.json`;
  await Deno.writeTextFile(path, "v1");
  const { w, seen } = await watch(path);
  try {
    assert.deepEqual(seen.loads, ["v1"]);
    await Deno.writeTextFile(path, "v2");
    await waitFor("v2", () => seen.loads.at(-1) === "v2", 1000);
    // Same content again (e.g. touch) is not handed on twice.
    await Deno.writeTextFile(path, "v2");
    await new Promise((r) => setTimeout(r, 150));
    assert.deepEqual(seen.loads, ["v1", "v2"]);
  } finally {
    await w.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("atomic rename over the file is seen", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/map.json`;
  await Deno.writeTextFile(path, "v1");
  const { w, seen } = await watch(path);
  try {
    for (const v of ["v2", "v3"]) {
      await Deno.writeTextFile(`${dir}/.tmp`, v);
      await Deno.rename(`${dir}/.tmp`, path);
      await waitFor(v, () => seen.loads.at(-1) === v, 1000);
    }
    assert.equal(seen.deletes, 0);
  } finally {
    await w.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Kubernetes ConfigMap volume ..data symlink swap is seen", async () => {
  const dir = await Deno.makeTempDir();
  // The layout kubelet's AtomicWriter produces.
  await Deno.mkdir(`${dir}/..2026_01_01_v1`);
  await Deno.writeTextFile(`${dir}/..2026_01_01_v1/map.json`, "v1");
  await Deno.symlink("..2026_01_01_v1", `${dir}/..data`);
  await Deno.symlink("..data/map.json", `${dir}/map.json`);
  const { w, seen } = await watch(`${dir}/map.json`);
  try {
    assert.deepEqual(seen.loads, ["v1"]);
    await Deno.mkdir(`${dir}/..2026_01_01_v2`);
    await Deno.writeTextFile(`${dir}/..2026_01_01_v2/map.json`, "v2");
    await Deno.symlink("..2026_01_01_v2", `${dir}/..data_tmp`);
    await Deno.rename(`${dir}/..data_tmp`, `${dir}/..data`);
    await Deno.remove(`${dir}/..2026_01_01_v1`, { recursive: true });
    await waitFor("v2", () => seen.loads.at(-1) === "v2", 1000);
  } finally {
    await w.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("delete is reported once, and the file coming back is loaded", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/map.json`;
  await Deno.writeTextFile(path, "v1");
  const { w, seen } = await watch(path);
  try {
    await Deno.remove(path);
    await waitFor("delete", () => seen.deletes === 1, 1000);
    await Deno.writeTextFile(path, "v1");
    await waitFor("reload after delete", () => seen.loads.length === 2, 1000);
    assert.deepEqual(seen.loads, ["v1", "v1"]);
    assert.equal(seen.deletes, 1);
  } finally {
    await w.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a missing directory is retried and counted as a failure", async () => {
  const parent = await Deno.makeTempDir();
  const dir = `${parent}/later`;
  const { w, seen, metrics } = await watch(`${dir}/map.json`, 30);
  try {
    assert.deepEqual(seen.loads, []);
    await waitFor("failure counted", () => (metrics.counts.dynamicFileFailure ?? 0) >= 1, 1000);
    await Deno.mkdir(dir);
    await Deno.writeTextFile(`${dir}/map.json`, "v1");
    await waitFor("load once the directory exists", () => seen.loads[0] === "v1", 2000);
  } finally {
    await w.close();
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("a file others can write: warned at start and on each reload, gauge set on every check", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.chmod(dir, 0o755);
  const path = `${dir}/map.json`;
  await Deno.writeTextFile(path, "v1");
  await Deno.chmod(path, 0o666);
  const logger = recordingLogger();
  const metrics = recordingMetrics();
  const seen: string[] = [];
  const w = new WatchedFile({
    path,
    logger,
    metrics,
    debounceMs: 20,
    retryMs: 50,
    safety: { label: "DynamicFile" },
    onLoad: (t) => seen.push(t),
    onDelete: () => {},
  });
  const gauge = () => metrics.gauges[`mappingFileWritableByOthers:${path}`];
  const warnings = () => logger.lines.filter((l) => l.level === "warn").map((l) => l.msg);
  const expected = `DynamicFile ${path} is writable by group and others (mode 0666): anyone ` +
    `who can write it can map themselves to any Kubernetes user or group, system:masters ` +
    `included; run chmod go-w ${path}`;
  try {
    await w.start(new AbortController().signal);
    // The file is still loaded: kubelet mounts files with the modes operators choose.
    assert.deepEqual(seen, ["v1"]);
    assert.equal(gauge(), 1);
    assert.deepEqual(warnings(), [expected]);
    assert.deepEqual(logger.lines.find((l) => l.level === "warn")?.fields, {
      path,
      mode: "0666",
    });

    // A reload of new content warns again.
    await Deno.writeTextFile(path, "v2");
    await waitFor("v2", () => seen.at(-1) === "v2", 2000);
    assert.deepEqual(warnings(), [expected, expected]);
    // Another file in the directory changing repeats nothing.
    await Deno.writeTextFile(`${dir}/other`, "x");
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(warnings().length, 2);

    // Fixed with chmod alone (no content change): the gauge follows, and the log says so.
    await Deno.chmod(path, 0o644);
    await waitFor("gauge 0", () => gauge() === 0, 2000);
    assert.ok(logger.lines.some((l) => l.msg === "DynamicFile is no longer writable by others"));

    // Its directory opened up: a finding for the directory.
    await Deno.chmod(dir, 0o777);
    await Deno.writeTextFile(path, "v3");
    await waitFor("v3", () => seen.at(-1) === "v3", 2000);
    assert.equal(gauge(), 1);
    assert.match(
      warnings().at(-1)!,
      new RegExp(
        `^DynamicFile ${path} is in ${dir}, which is writable by group and others \\(mode 0777\\)`,
      ),
    );
  } finally {
    await w.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a safe file: gauge 0, no warning", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.chmod(dir, 0o755);
  const path = `${dir}/map.json`;
  await Deno.writeTextFile(path, "v1");
  await Deno.chmod(path, 0o644);
  const logger = recordingLogger();
  const metrics = recordingMetrics();
  const w = new WatchedFile({
    path,
    logger,
    metrics,
    safety: { label: "backend-mode file" },
    onLoad: () => {},
    onDelete: () => {},
  });
  try {
    await w.start(new AbortController().signal);
    assert.equal(metrics.gauges[`mappingFileWritableByOthers:${path}`], 0);
    assert.deepEqual(logger.lines.filter((l) => l.level !== "info"), []);
  } finally {
    await w.close();
    await Deno.remove(dir, { recursive: true });
  }
});
