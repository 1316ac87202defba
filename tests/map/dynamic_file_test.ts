import assert from "node:assert/strict";
import { DynamicFileMapper, parseDynamicFile } from "../../src/map/dynamic_file.ts";
import { resolveDeps } from "../../src/map/mapper.ts";
import { MappingStore } from "../../src/map/store.ts";
import { identity, recordingLogger, recordingMetrics, waitFor } from "./_helpers.ts";

const ACCT = "123456789012";
const ADMIN = identity(`arn:aws:sts::${ACCT}:assumed-role/Admin/alice`, { userId: "AROAADMIN" });
const ALICE = identity(`arn:aws:iam::${ACCT}:user/Alice`, { userId: "AIDAALICE" });

function doc(body: Record<string, unknown>, lastUpdated = "1700000000"): string {
  return JSON.stringify({ LastUpdatedDateTime: lastUpdated, Version: "1", ...body }, null, 2);
}

async function setup(strict = false) {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/mapping.json`;
  const logger = recordingLogger();
  const metrics = recordingMetrics();
  let now = 1700000010_000;
  const m = new DynamicFileMapper(
    {
      dynamicFilePath: path,
      dynamicFileUserIdStrict: strict,
      reservedPrefixConfig: { DynamicFile: ["system:"] },
    },
    resolveDeps({ logger, metrics, now: () => now }),
    { debounceMs: 20, retryMs: 50 },
  );
  return {
    dir,
    path,
    logger,
    metrics,
    m,
    setNow: (ms: number) => (now = ms),
    async write(text: string) {
      await Deno.writeTextFile(`${dir}/.tmp`, text);
      await Deno.rename(`${dir}/.tmp`, path);
    },
    async cleanup() {
      await m.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("loads roles, users and accounts and follows changes", async () => {
  const s = await setup();
  try {
    await s.write(doc({
      mapRoles: [{
        rolearn: `arn:aws:iam::${ACCT}:role/teams/Admin`,
        username: "admin",
        groups: ["g1"],
      }],
      mapUsers: [{ UserArn: `arn:aws:iam::${ACCT}:user/Alice`, username: "alice", groups: [] }],
      mapAccounts: ["210987654321"],
      ClusterId: "ignored",
    }));
    await s.m.start(new AbortController().signal);
    const { source, ...admin } = (await s.m.map(ADMIN))!;
    assert.deepEqual(admin, {
      username: "admin",
      groups: ["g1"],
      identityArn: ADMIN.canonicalArn.toLowerCase(),
    });
    assert.match(source!.location, /mapping\.json line 5 \(mapRoles\[0\]\)$/);
    assert.equal((await s.m.map(ALICE))?.username, "alice");
    assert.equal(s.m.isAccountAllowed("210987654321"), true);
    assert.deepEqual(s.m.usernamePrefixReserveList, ["system:"]);

    s.setNow(1700000100_000);
    await s.write(
      doc(
        { mapRoles: [{ rolearn: `arn:aws:iam::${ACCT}:role/Admin`, username: "admin2" }] },
        "1700000090",
      ),
    );
    await waitFor("reload", async () => (await s.m.map(ADMIN))?.username === "admin2", 1000);
    assert.equal(await s.m.map(ALICE), undefined);
    assert.equal(s.m.isAccountAllowed("210987654321"), false);
    // The first load is not a latency sample; the second is (now - LastUpdatedDateTime).
    assert.deepEqual(s.metrics.latencies, [["dynamic_file", 10]]);
  } finally {
    await s.cleanup();
  }
});

Deno.test("malformed JSON keeps the last good mapping, logged once with its line (decision 11)", async () => {
  const s = await setup();
  try {
    await s.write(
      doc({ mapRoles: [{ rolearn: `arn:aws:iam::${ACCT}:role/Admin`, username: "admin" }] }),
    );
    await s.m.start(new AbortController().signal);
    await s.write('{\n  "mapRoles": [\n    {"rolearn": }\n  ]\n}\n');
    await waitFor("problem logged", () => s.logger.lines.some((l) => l.level === "error"), 1000);
    assert.equal((await s.m.map(ADMIN))?.username, "admin");
    const errors = s.logger.lines.filter((l) => l.level === "error");
    assert.equal(errors.length, 1);
    assert.match(String(errors[0]?.fields?.location), new RegExp(`^${s.path} line 3$`));
    assert.match(String(errors[0]?.fields?.error), /^invalid JSON/);
    assert.equal(s.metrics.counts["mappingLoadErrors:DynamicFile"], 1);
  } finally {
    await s.cleanup();
  }
});

Deno.test("a section of the wrong type keeps its last good entries; others update", async () => {
  const s = await setup();
  try {
    await s.write(doc({
      mapRoles: [{ rolearn: `arn:aws:iam::${ACCT}:role/Admin`, username: "admin" }],
      mapUsers: [{ userarn: `arn:aws:iam::${ACCT}:user/Alice`, username: "alice" }],
    }));
    await s.m.start(new AbortController().signal);
    await s.write(
      doc({
        mapRoles: "oops",
        mapUsers: [{ userarn: `arn:aws:iam::${ACCT}:user/Alice`, username: "alice2" }],
      }),
    );
    await waitFor("users updated", async () => (await s.m.map(ALICE))?.username === "alice2", 1000);
    assert.equal((await s.m.map(ADMIN))?.username, "admin");
    const err = s.logger.lines.find((l) => l.level === "error");
    assert.match(
      String(err?.fields?.error),
      /expected a list, got string; keeping the last good mapRoles/,
    );
  } finally {
    await s.cleanup();
  }
});

Deno.test("invalid entries are dropped with file and line; valid ones apply", () => {
  const text = doc({
    mapRoles: [
      { rolearn: `arn:aws:iam::${ACCT}:role/Admin`, username: "admin" },
      { rolearn: 42, username: "x" },
    ],
  });
  const parsed = parseDynamicFile(text, "/etc/m.json");
  assert.equal(parsed.roles?.length, 1);
  assert.deepEqual(parsed.problems, [{
    location: "/etc/m.json line 9 (mapRoles[1])",
    line: 9,
    column: 5,
    message: "[1].rolearn: expected a string, got number",
    rule: "entry.type",
  }]);
});

Deno.test("deleting the file revokes its mappings; recreating restores them", async () => {
  const s = await setup();
  try {
    const body = doc({
      mapRoles: [{ rolearn: `arn:aws:iam::${ACCT}:role/Admin`, username: "admin" }],
      mapAccounts: [ACCT],
    });
    await s.write(body);
    await s.m.start(new AbortController().signal);
    await Deno.remove(s.path);
    await waitFor("revoked", async () => (await s.m.map(ADMIN)) === undefined, 1000);
    assert.equal(s.m.isAccountAllowed(ACCT), false);
    await s.write(body);
    await waitFor("restored", async () => (await s.m.map(ADMIN))?.username === "admin", 1000);
  } finally {
    await s.cleanup();
  }
});

Deno.test("a file that does not exist yet leaves the backend empty until it appears", async () => {
  const s = await setup();
  try {
    await s.m.start(new AbortController().signal);
    assert.equal(await s.m.map(ADMIN), undefined);
    await s.write(
      doc({ mapRoles: [{ rolearn: `arn:aws:iam::${ACCT}:role/Admin`, username: "admin" }] }),
    );
    await waitFor("appears", async () => (await s.m.map(ADMIN))?.username === "admin", 1000);
  } finally {
    await s.cleanup();
  }
});

Deno.test("user-id strict mode keys by user id and fails closed (case 39)", async () => {
  const s = await setup(true);
  try {
    await s.write(doc({
      mapRoles: [
        { rolearn: `arn:aws:iam::${ACCT}:role/Admin`, userid: "AROAADMIN", username: "admin" },
        { rolearn: "arn:aws:iam::malformed", userid: "AROAEVIL", username: "evil" },
      ],
      mapUsers: [{ userid: "AIDAALICE", username: "alice" }],
    }));
    await s.m.start(new AbortController().signal);
    assert.equal((await s.m.map(ADMIN))?.username, "admin");
    assert.equal((await s.m.map(ALICE))?.username, "alice");
    // Same role, other user id: not mapped (keys are user ids).
    assert.equal(await s.m.map({ ...ADMIN, userId: "AROAOTHER" }), undefined);
    // The user id of the admin mapping presented with another role ARN: error, not a match.
    const impostor = identity(`arn:aws:sts::${ACCT}:assumed-role/Other/x`, { userId: "AROAADMIN" });
    await assert.rejects(s.m.map(impostor), /ARN does not match User ID/);
    // The malformed-ARN entry claims its user id and always denies.
    const evil = identity(`arn:aws:sts::${ACCT}:assumed-role/Evil/x`, { userId: "AROAEVIL" });
    await assert.rejects(s.m.map(evil), /ARN does not match User ID/);
  } finally {
    await s.cleanup();
  }
});

Deno.test("keys named __proto__ or constructor map nothing and pollute nothing", () => {
  // Raw text: an object literal's __proto__ would set the prototype instead of a key.
  const hidden = `{"rolearn": "arn:aws:iam::${ACCT}:role/Admin", "username": "admin"}`;
  const text = `{"__proto__": {"mapRoles": [${hidden}], "mapAccounts": ["${ACCT}"]},
    "constructor": {"mapAccounts": ["${ACCT}"]},
    "mapRoles": [{"__proto__": ${hidden}, "rolearn": "arn:aws:iam::${ACCT}:role/Other",
      "username": "other"}],
    "mapUsers": [{"constructor": {"userarn": "arn:aws:iam::${ACCT}:user/Alice"}}]}`;
  const parsed = parseDynamicFile(text, "/etc/m.json");
  const { store } = MappingStore.build(
    parsed.roles ?? [],
    parsed.users ?? [],
    parsed.accounts ?? [],
  );
  assert.equal(store.lookup(ADMIN), undefined);
  assert.equal(store.lookup(ALICE), undefined);
  assert.equal(store.isAccountAllowed(ACCT), false);
  assert.equal(store.lookup(identity(`arn:aws:iam::${ACCT}:role/Other`))?.username, "other");
  assert.equal(({} as Record<string, unknown>).rolearn, undefined);
  assert.equal(({} as Record<string, unknown>).mapAccounts, undefined);
});

Deno.test("a DynamicFile others can write is applied, warned about and counted in the gauge", async () => {
  const s = await setup();
  try {
    await Deno.chmod(s.dir, 0o755);
    await s.write(doc({ mapUsers: [{ userarn: ALICE.arn, username: "alice", groups: [] }] }));
    await Deno.chmod(s.path, 0o646);
    await s.m.start(new AbortController().signal);
    assert.equal((await s.m.map(ALICE))?.username, "alice");
    assert.equal(s.metrics.gauges[`mappingFileWritableByOthers:${s.path}`], 1);
    const warning = s.logger.lines.find((l) => l.level === "warn");
    assert.equal(
      warning?.msg,
      `DynamicFile ${s.path} is writable by others (mode 0646): anyone who can write it can ` +
        `map themselves to any Kubernetes user or group, system:masters included; ` +
        `run chmod o-w ${s.path}`,
    );
  } finally {
    await s.cleanup();
  }
});
