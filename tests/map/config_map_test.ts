import assert from "node:assert/strict";
import { ConfigMapMapper, parseAwsAuth } from "../../src/map/config_map.ts";
import { resolveDeps } from "../../src/map/mapper.ts";
import { MappingStore } from "../../src/map/store.ts";
import { identity, recordingLogger, recordingMetrics, waitFor } from "./_helpers.ts";
import { deleteAwsAuth, putAwsAuth, startKube } from "./_kube.ts";

const ACCT = "123456789012";
const ADMIN = identity(`arn:aws:sts::${ACCT}:assumed-role/Admin/alice`);
const ALICE = identity(`arn:aws:iam::${ACCT}:user/Alice`);

const ROLES = `- rolearn: arn:aws:iam::${ACCT}:role/Admin
  username: admin
  groups:
  - system:masters
`;
const USERS = `- userarn: arn:aws:iam::${ACCT}:user/Alice
  username: alice
`;

Deno.test("parseAwsAuth: the Go fixtures' quirks", async (t) => {
  await t.step("field names in any case; top-level keys exact", () => {
    const p = parseAwsAuth({
      mapRoles: `- ROLEARN: arn:aws:iam::${ACCT}:role/A\n  UserName: a\n  GROUPS: [g]\n`,
      maproles: `- rolearn: arn:aws:iam::${ACCT}:role/B\n  username: b\n`,
    });
    assert.deepEqual(p.roles?.map((r) => r.value.username), ["a"]);
    assert.deepEqual(p.roles?.[0]?.value.groups, ["g"]);
    assert.equal(p.warnings.length, 1);
    assert.match(
      p.warnings[0]!.message,
      /key maproles is ignored: keys are case-sensitive, did you mean mapRoles\?/,
    );
  });
  await t.step("blank values and quote-only values are skipped", () => {
    for (const v of ["", "   ", "``", '""', "''", " '' "]) {
      const p = parseAwsAuth({ mapRoles: v, mapUsers: v, mapAccounts: v });
      assert.deepEqual(
        [p.roles, p.users, p.accounts, p.problems],
        [[], [], [], []],
        JSON.stringify(v),
      );
    }
  });
  await t.step("unquoted account IDs keep their literal text", () => {
    const p = parseAwsAuth({
      mapAccounts: "- 012345678901\n- '111122223333'\n- \"444455556666\"\n",
    });
    assert.deepEqual(p.accounts, ["012345678901", "111122223333", "444455556666"]);
  });
  await t.step("misplaced spaces: the key keeps its last good entries, with key and line", () => {
    const p = parseAwsAuth({
      mapRoles:
        `- rolearn: arn:aws:iam::${ACCT}:role/A\n  username: a\n - rolearn: arn:aws:iam::${ACCT}:role/B\n   username: b\n`,
      mapUsers: USERS,
    });
    assert.equal(p.roles, undefined);
    assert.equal(p.users?.length, 1);
    assert.equal(p.problems.length, 1);
    assert.match(
      p.problems[0]!.location,
      /^ConfigMap kube-system\/aws-auth key mapRoles line \d+$/,
    );
    assert.match(p.problems[0]!.message, /^invalid YAML .*keeping the last good mapRoles$/);
  });
  await t.step("a key that is not a list keeps its last good entries", () => {
    const p = parseAwsAuth({ mapRoles: "rolearn: x\nusername: y\n" });
    assert.equal(p.roles, undefined);
    assert.match(
      p.problems[0]!.message,
      /expected a list, got object; keeping the last good mapRoles/,
    );
  });
  await t.step("a bad entry is reported with its line; the others stay", () => {
    const p = parseAwsAuth({
      mapRoles:
        `${ROLES}- rolearn: 5\n  username: five\n- rolearn: arn:aws:iam::${ACCT}:role/C\n  username: c\n`,
    });
    assert.deepEqual(p.roles?.map((r) => r.value.username), ["admin", "c"]);
    assert.deepEqual(p.problems, [{
      location: "ConfigMap kube-system/aws-auth key mapRoles line 5",
      line: 5,
      column: 3,
      message: "[1].rolearn: expected a string, got number",
      rule: "entry.type",
    }]);
  });
});

Deno.test("parseAwsAuth: an alias bomb is a problem with its rule, not a crash", () => {
  let bomb = "- &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (let i = 1; i < 10; i++) bomb += `- &a${i} [${`*a${i - 1}, `.repeat(10)}]\n`;
  const p = parseAwsAuth({ mapRoles: bomb, mapUsers: USERS });
  assert.equal(p.roles, undefined);
  assert.equal(p.users?.length, 1);
  assert.equal(p.problems[0]?.rule, "syntax.aliases");
  assert.match(p.problems[0]!.message, /keeping the last good mapRoles$/);
});

Deno.test("parseAwsAuth: problems carry rule IDs and positions in the key's text", () => {
  const p = parseAwsAuth({
    mapRoles: `${ROLES}- rolearn: arn:aws:iam::${ACCT}:role/B\n  username: b\n  grups: [x]\n`,
    MapUsers: USERS,
  });
  assert.deepEqual(
    p.warnings.map((w) => [w.rule, w.line, w.column]),
    [["key.case", undefined, undefined], ["key.unknown", 7, 3]],
  );
  assert.match(p.warnings[1]!.message, /did you mean "groups"\?/);
});

Deno.test("EKSConfigMap against kube-apiserver", async (t) => {
  const kube = await startKube();
  const logger = recordingLogger();
  const metrics = recordingMetrics();
  const m = new ConfigMapMapper(
    { kubeconfig: kube.server.kubeconfigPath, master: "", reservedPrefixConfig: {} },
    resolveDeps({ logger, metrics, watchRetryDelayMs: 200 }),
  );
  const username = async (id = ADMIN) => (await m.map(id))?.username;
  try {
    await t.step("missing ConfigMap: empty, and it fills in when created", async () => {
      await m.start(new AbortController().signal);
      assert.equal(await username(), undefined);
      await putAwsAuth(kube.client, {
        mapRoles: ROLES,
        mapUsers: USERS,
        mapAccounts: `- "${ACCT}"\n`,
      });
      await waitFor("add", async () => (await username()) === "admin");
      assert.equal(await username(ALICE), "alice");
      assert.equal(m.isAccountAllowed(ACCT), true);
    });

    await t.step("update replaces the mappings", async () => {
      await putAwsAuth(kube.client, {
        mapRoles: ROLES.replace("username: admin", "username: admin2"),
      });
      await waitFor("update", async () => (await username()) === "admin2");
      assert.equal(await username(ALICE), undefined);
      assert.equal(m.isAccountAllowed(ACCT), false);
    });

    await t.step(
      "a malformed edit keeps the last good mapping, logged once with its key (case 43)",
      async () => {
        const before = metrics.counts["mappingLoadErrors:EKSConfigMap"] ?? 0;
        await putAwsAuth(kube.client, {
          mapRoles: "- rolearn: [unclosed\n",
          mapUsers: USERS,
        });
        await waitFor("users applied", async () => (await username(ALICE)) === "alice");
        assert.equal(await username(), "admin2");
        const errors = logger.lines.filter((l) => l.level === "error");
        assert.equal(errors.length, 1);
        assert.match(String(errors[0]?.fields?.location), /key mapRoles line 2$/);
        assert.equal(metrics.counts["mappingLoadErrors:EKSConfigMap"], before + 1);
      },
    );

    await t.step("the missing-| mistake cannot even be stored", async () => {
      await assert.rejects(
        kube.client.request("PUT", "/api/v1/namespaces/kube-system/configmaps/aws-auth", {
          metadata: { name: "aws-auth", namespace: "kube-system" },
          data: { mapRoles: [{ rolearn: "x" }] },
        }),
        (e: unknown) => (e as { statusCode?: number }).statusCode === 400,
      );
    });

    await t.step("delete revokes; recreate restores", async () => {
      await deleteAwsAuth(kube.client);
      await waitFor("delete", async () => (await username()) === undefined);
      assert.equal(await username(ALICE), undefined);
      await putAwsAuth(kube.client, { mapRoles: ROLES });
      await waitFor("recreate", async () => (await username()) === "admin");
    });

    await t.step("API server restart: the watch fails, is counted, and resumes", async () => {
      const failuresBefore = metrics.counts.configmapWatchFailure ?? 0;
      const lists = () =>
        logger.lines.filter((l) => l.msg === "aws-auth ConfigMap: listing").length;
      const listsBefore = lists();
      await kube.server.restartApiServer();
      await putAwsAuth(kube.client, {
        mapRoles: ROLES.replace("username: admin", "username: after-restart"),
      });
      await waitFor(
        "change after restart",
        async () => (await username()) === "after-restart",
        30_000,
      );
      assert.ok((metrics.counts.configmapWatchFailure ?? 0) > failuresBefore);
      // The restarted API server's watch cache starts at the current revision, so resuming from
      // the old resourceVersion answers 410 Gone and the informer relists.
      assert.ok(lists() > listsBefore, `no relist after the restart (${lists()} lists)`);
    });
  } finally {
    await m.close();
    await kube.stop();
  }
});

Deno.test("parseAwsAuth: keys named __proto__ or constructor map nothing and pollute nothing", () => {
  const p = parseAwsAuth({
    mapRoles: `- __proto__: {rolearn: "arn:aws:iam::${ACCT}:role/Admin", username: admin}
  rolearn: arn:aws:iam::${ACCT}:role/Other
  username: other
`,
    mapUsers: `- constructor: {userarn: "arn:aws:iam::${ACCT}:user/Alice", username: alice}
`,
    mapAccounts: "- __proto__\n- constructor\n",
  });
  const { store } = MappingStore.build(p.roles ?? [], p.users ?? [], p.accounts ?? []);
  assert.equal(store.lookup(ADMIN), undefined);
  assert.equal(store.lookup(ALICE), undefined);
  assert.equal(store.isAccountAllowed(ACCT), false);
  assert.equal(store.lookup(identity(`arn:aws:iam::${ACCT}:role/Other`))?.username, "other");
  assert.equal(({} as Record<string, unknown>).rolearn, undefined);
});
