import assert from "node:assert/strict";
import { CrdMapper, crdRoleEntries, type IAMIdentityMapping } from "../../src/map/crd.ts";
import { resolveDeps } from "../../src/map/mapper.ts";
import { identity, recordingLogger, recordingMetrics, waitFor } from "./_helpers.ts";
import { deleteMapping, getMapping, installCrd, putMapping, startKube } from "./_kube.ts";

const ACCT = "123456789012";
const ADMIN = identity(`arn:aws:sts::${ACCT}:assumed-role/Admin/alice`);
const ALICE = identity(`arn:aws:iam::${ACCT}:user/Alice`);

Deno.test("crdRoleEntries: oldest first, bad objects are problems with rule IDs", () => {
  const obj = (name: string, created: string, spec: unknown): IAMIdentityMapping => ({
    metadata: { name, creationTimestamp: created as unknown as Date },
    spec: spec as IAMIdentityMapping["spec"],
  });
  const arn = "arn:aws:iam::123456789012:role/R";
  const { roles, problems } = crdRoleEntries([
    obj("new", "2024-02-01T00:00:00Z", { arn, username: "new" }),
    obj("old", "2024-01-01T00:00:00Z", { arn, username: "old" }),
    obj("b-same", "2024-01-01T00:00:00Z", { arn, username: "b" }),
    obj("group", "2024-01-01T00:00:00Z", { arn: "arn:aws:iam::1:group/g", username: "g" }),
    obj("nospec", "2024-01-01T00:00:00Z", undefined),
    obj("noarn", "2024-01-01T00:00:00Z", { username: "x" }),
  ]);
  assert.deepEqual(roles.map((r) => [r.location, r.value.username]), [
    ["IAMIdentityMapping b-same", "b"],
    ["IAMIdentityMapping old", "old"],
    ["IAMIdentityMapping new", "new"],
  ]);
  assert.deepEqual(problems.map((p) => [p.location, p.rule]), [
    ["IAMIdentityMapping group", "arn.malformed"],
    ["IAMIdentityMapping nospec", "entry.type"],
    ["IAMIdentityMapping noarn", "entry.missing_arn"],
  ]);
});

Deno.test("CRD backend against kube-apiserver", async (t) => {
  const kube = await startKube();
  const logger = recordingLogger();
  const metrics = recordingMetrics();
  let m: CrdMapper | undefined;
  const username = async (id = ADMIN) => (await m!.map(id))?.username;
  try {
    await installCrd(kube.client);
    await putMapping(kube.client, "admin", {
      arn: `arn:aws:sts::${ACCT}:assumed-role/Admin/whatever`,
      username: "admin",
      groups: ["system:masters"],
    });
    m = new CrdMapper(
      {
        kubeconfig: kube.server.kubeconfigPath,
        master: "",
        reservedPrefixConfig: { CRD: ["eks:"] },
      },
      resolveDeps({
        logger,
        metrics,
        watchRetryDelayMs: 200,
        now: () => Date.parse("2026-01-02T03:04:05Z"),
      }),
    );
    await m.start(new AbortController().signal);

    await t.step("existing objects are listed; the ARN is canonicalized", async () => {
      const { source, ...admin } = (await m!.map(ADMIN))!;
      assert.deepEqual(admin, {
        username: "admin",
        groups: ["system:masters"],
        identityArn: `arn:aws:iam::${ACCT}:role/admin`,
      });
      assert.equal(source?.location, "IAMIdentityMapping admin");
      assert.equal(m!.isAccountAllowed(ACCT), false);
      assert.deepEqual(m!.usernamePrefixReserveList, ["eks:"]);
    });

    await t.step("status writer: canonicalARN and a Synced event", async () => {
      await waitFor(
        "status written",
        async () =>
          (await getMapping(kube.client, "admin")).status?.canonicalARN ===
            `arn:aws:iam::${ACCT}:role/admin`,
      );
      const obj = await getMapping(kube.client, "admin");
      type EventList = {
        items: {
          reason: string;
          message: string;
          type: string;
          source: { component: string };
          involvedObject: { kind: string; name: string; uid: string };
        }[];
      };
      const adminEvents = async () =>
        (await kube.client.request<EventList>("GET", "/api/v1/namespaces/default/events"))
          .items.filter((e) => e.involvedObject.name === "admin");
      // The writer posts the event after the status PUT, so the status can be seen first.
      await waitFor("Synced event posted", async () => (await adminEvents()).length > 0);
      const synced = await adminEvents();
      assert.equal(synced.length, 1);
      assert.equal(synced[0]!.reason, "Synced");
      assert.equal(synced[0]!.message, "Identity synced successfully");
      assert.equal(synced[0]!.type, "Normal");
      assert.equal(synced[0]!.source.component, "aws-iam-authenticator");
      assert.equal(synced[0]!.involvedObject.kind, "IAMIdentityMapping");
      assert.equal(synced[0]!.involvedObject.uid, obj.metadata.uid);
    });

    await t.step("add and update", async () => {
      await putMapping(kube.client, "alice", {
        arn: `arn:aws:iam::${ACCT}:user/Alice`,
        username: "alice",
      });
      await waitFor("add", async () => (await username(ALICE)) === "alice");
      await putMapping(kube.client, "alice", {
        arn: `arn:aws:iam::${ACCT}:user/Alice`,
        username: "alice2",
        groups: ["g"],
      });
      await waitFor("update", async () => (await username(ALICE)) === "alice2");
    });

    await t.step(
      "an edit that breaks an object keeps its last good version (decision 11)",
      async () => {
        await putMapping(kube.client, "alice", {
          arn: "arn:aws:iam::not-an-arn",
          username: "hijack",
        });
        await waitFor("problem logged", () => logger.lines.some((l) => l.level === "error"));
        const err = logger.lines.find((l) => l.level === "error")!;
        assert.equal(err.fields?.location, "IAMIdentityMapping alice");
        assert.match(String(err.fields?.error), /its last good version keeps serving/);
        assert.equal(metrics.counts["mappingLoadErrors:CRD"], 1);
        assert.equal(await username(ALICE), "alice2");
      },
    );

    await t.step("delete revokes; recreate restores", async () => {
      await deleteMapping(kube.client, "alice");
      await waitFor("delete", async () => (await username(ALICE)) === undefined);
      await putMapping(kube.client, "alice", {
        arn: `arn:aws:iam::${ACCT}:user/Alice`,
        username: "alice3",
      });
      await waitFor("recreate", async () => (await username(ALICE)) === "alice3");
    });

    await t.step("API server restart: changes made afterwards are seen", async () => {
      await kube.server.restartApiServer();
      await deleteMapping(kube.client, "alice");
      await putMapping(kube.client, "admin", {
        arn: `arn:aws:iam::${ACCT}:role/Admin`,
        username: "after-restart",
      });
      await waitFor("after restart", async () => (await username()) === "after-restart", 30_000);
      await waitFor(
        "delete after restart",
        async () => (await username(ALICE)) === undefined,
        30_000,
      );
    });
  } finally {
    await m?.close();
    await kube.stop();
  }
});
