// deno-lint-ignore-file no-console -- a command-line benchmark reports on stdout
/**
 * Mapping benchmark: 10,000 role + 10,000 user mappings in a DynamicFile.
 *
 * Measures
 * - lookup latency (median and p99 per lookup, over batches) of the store and of the whole
 *   chain (`MapperChain.map`: lookup + template rendering + reserved-prefix check);
 * - a full DynamicFile reload of that set (read + JSON parse + decode + canonicalize + build);
 * - the heap the loaded mapping set occupies.
 *
 * Run: `deno run -A --v8-flags=--expose-gc scripts/bench_map.ts`
 * Targets (issue 4): lookup median < 5 µs, reload < 200 ms, memory < 50 MB.
 *
 * @module
 */

import { buildServerConfig } from "../src/config/mod.ts";
import { parseDynamicFile } from "../src/map/dynamic_file.ts";
import { createMapperChain, type Identity } from "../src/map/mod.ts";
import { ProblemReporter, SectionedSource } from "../src/map/source.ts";
import { NOOP_LOGGER, NOOP_METRICS } from "../src/map/mapper.ts";

const N = 10_000;
const ACCT = "123456789012";

function makeDoc(): string {
  const mapRoles = [];
  const mapUsers = [];
  for (let i = 0; i < N; i++) {
    mapRoles.push({
      rolearn: `arn:aws:iam::${ACCT}:role/team-${i % 50}/Role-${i}`,
      username: `role-${i}:{{SessionName}}`,
      groups: [`group-${i % 100}`, "developers"],
    });
    mapUsers.push({
      userarn: `arn:aws:iam::${ACCT}:user/User-${i}`,
      username: `user-${i}`,
      groups: [`group-${i % 100}`],
    });
  }
  return JSON.stringify(
    { LastUpdatedDateTime: "1700000000", Version: "1", mapRoles, mapUsers },
    null,
    2,
  );
}

function identities(): Identity[] {
  const ids: Identity[] = [];
  for (let i = 0; i < N; i += 7) {
    ids.push({
      arn: `arn:aws:sts::${ACCT}:assumed-role/Role-${i}/session-${i}`,
      canonicalArn: `arn:aws:iam::${ACCT}:role/Role-${i}`,
      accountId: ACCT,
      userId: `AROA${i}`,
      sessionName: `session-${i}@corp`,
      accessKeyId: "ASIAEXAMPLE",
    });
    ids.push({
      arn: `arn:aws:iam::${ACCT}:user/User-${i}`,
      canonicalArn: `arn:aws:iam::${ACCT}:user/User-${i}`,
      accountId: ACCT,
      userId: `AIDA${i}`,
      sessionName: "",
      accessKeyId: "AKIAEXAMPLE",
    });
  }
  // Misses cost a full lookup too.
  ids.push({ ...ids[0]!, canonicalArn: `arn:aws:iam::${ACCT}:role/Nobody` });
  return ids;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Per-lookup times (µs): each sample is the mean of one batch of `batch` lookups. */
async function perLookup(
  ids: Identity[],
  fn: (id: Identity) => unknown,
  batch = 200,
  rounds = 300,
): Promise<{ median: number; p99: number }> {
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    for (let i = 0; i < batch; i++) {
      const out = fn(ids[(r * batch + i) % ids.length]!);
      if (out instanceof Promise) await out;
    }
    samples.push(((performance.now() - start) * 1000) / batch);
  }
  samples.sort((a, b) => a - b);
  return { median: quantile(samples, 0.5), p99: quantile(samples, 0.99) };
}

const gc = (globalThis as { gc?: () => void }).gc;
function heapMb(): number {
  gc?.();
  gc?.();
  return Deno.memoryUsage().heapUsed / 1024 / 1024;
}

const dir = await Deno.makeTempDir();
const path = `${dir}/mapping.json`;
const text = makeDoc();
await Deno.writeTextFile(path, text);
console.log(
  `DynamicFile: ${N} roles + ${N} users, ${(text.length / 1024 / 1024).toFixed(1)} MB JSON`,
);

// Reload: exactly what the watcher does on a change (read, parse, build, swap).
const reporter = new ProblemReporter("DynamicFile", NOOP_LOGGER, NOOP_METRICS);
const reloads: number[] = [];
let source: SectionedSource | undefined;
for (let i = 0; i < 12; i++) {
  const s = new SectionedSource(reporter, {});
  const start = performance.now();
  const t = await Deno.readTextFile(path);
  s.apply(parseDynamicFile(t, path));
  reloads.push(performance.now() - start);
  source = s;
}
reloads.splice(0, 2); // warm-up
reloads.sort((a, b) => a - b);
console.log(
  `full reload: median ${quantile(reloads, 0.5).toFixed(1)} ms, max ${
    reloads.at(-1)!.toFixed(1)
  } ms (target < 200 ms)`,
);
if (source!.store.size !== 2 * N) {
  throw new Error(`expected ${2 * N} mappings, got ${source!.store.size}`);
}

// Memory: the heap held by one loaded mapping set (store + the decoded sections it keeps).
source = undefined;
const before = heapMb();
let kept: SectionedSource | undefined = new SectionedSource(reporter, {});
kept.apply(parseDynamicFile(await Deno.readTextFile(path), path));
const after = heapMb();
console.log(
  `memory of the loaded set: ${(after - before).toFixed(1)} MB heap${
    gc ? "" : " (run with --v8-flags=--expose-gc for a stable figure)"
  } (target < 50 MB)`,
);

const ids = identities();
const store = kept.store;
const s1 = await perLookup(ids, (id) => store.lookup(id));
console.log(
  `store lookup: median ${s1.median.toFixed(2)} µs, p99 ${
    s1.p99.toFixed(2)
  } µs (target median < 5 µs)`,
);
kept = undefined;

const config = buildServerConfig({
  flags: {
    clusterID: "bench",
    "server.backendMode": ["DynamicFile"],
    "server.dynamicfilepath": path,
  },
});
const chain = await createMapperChain(config);
const s2 = await perLookup(ids, async (id) => {
  try {
    await chain.map(id);
  } catch {
    // the miss
  }
});
console.log(
  `chain map (lookup + render + prefix check): median ${s2.median.toFixed(2)} µs, p99 ${
    s2.p99.toFixed(2)
  } µs`,
);
await chain.close();
await Deno.remove(dir, { recursive: true });
