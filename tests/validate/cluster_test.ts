/**
 * `validate --kubeconfig` against a real kube-apiserver: the live aws-auth and IAMIdentityMapping
 * objects are read with the kubeconfig's own credentials; a missing CRD and a user RBAC forbids
 * get a clear sentence; nothing is written to the cluster.
 */

import assert from "node:assert/strict";
import { installCrd, putAwsAuth, putMapping, startKube } from "../map/_kube.ts";
import { runMain } from "../cli/_main.ts";
import { lint, readCluster } from "../../src/validate/mod.ts";

const A = "111122223333";

Deno.test("validate --kubeconfig reads aws-auth and IAMIdentityMappings from the cluster", async (t) => {
  const kube = await startKube();
  try {
    await putAwsAuth(kube.client, {
      mapRoles:
        `- rolearn: arn:aws:iam::${A}:role/Admin\n  username: admin\n  groups: [system:masters]\n` +
        `- rolearn: arn:aws:sts::${A}:assumed-role/Dev/alice\n  username: dev-{{Session}}\n`,
    });
    const kubeconfig = kube.server.kubeconfigPath;

    await t.step("no CRD installed: a sentence, not a failure", async () => {
      const read = await readCluster({ kubeconfig, context: "" });
      assert.equal(read.unreadable, false);
      assert.ok(
        read.findings.some((f) => /IAMIdentityMapping CRD .* is not installed/.test(f.message)),
        JSON.stringify(read.findings),
      );
    });

    await installCrd(kube.client);
    await putMapping(kube.client, "ci", {
      arn: `arn:aws:iam::${A}:role/Ci`,
      username: "system:serviceaccount:kube-system:default",
    });
    await putMapping(kube.client, "broken", { arn: "arn:aws:iam::1:group/x", username: "x" });
    const before = await kube.client.request<{ metadata: { resourceVersion: string } }>(
      "GET",
      "/api/v1/namespaces/kube-system/configmaps/aws-auth",
    );

    await t.step("findings name the object and the line in its data key", async () => {
      const read = await readCluster({ kubeconfig, context: "aia-e2e" });
      const findings = [...read.findings, ...lint(read.sources)];
      const at = (rule: string) => findings.find((f) => f.rule === rule);
      assert.deepEqual(
        [at("template.unknown")?.file, at("template.unknown")?.line],
        ["ConfigMap kube-system/aws-auth data.mapRoles", 5],
      );
      assert.equal(at("arn.assumed_role")?.line, 4);
      assert.equal(at("username.system")?.file, "IAMIdentityMapping ci");
      assert.equal(at("arn.malformed")?.file, "IAMIdentityMapping broken");
      assert.equal(at("group.masters")?.subject, `arn:aws:iam::${A}:role/Admin`);
    });

    await t.step("the CLI: exit 1, human output", async () => {
      const r = await runMain(["validate", "--kubeconfig", kubeconfig]);
      assert.equal(r.code, 1, r.out + r.err);
      assert.match(
        r.out,
        /^ConfigMap kube-system\/aws-auth data\.mapRoles:5:\d+: error template\.unknown: /m,
      );
      assert.match(r.out, /^IAMIdentityMapping broken: error arn\.malformed: /m);
    });

    await t.step("a context that is not in the kubeconfig: exit 2", async () => {
      const r = await runMain(["validate", "--kubeconfig", kubeconfig, "--context", "nope"]);
      assert.equal(r.code, 2);
      assert.match(r.out, /context "nope" is not in the kubeconfig/);
    });

    await t.step("a user RBAC forbids: a clear sentence and exit 2", async () => {
      const viewer = await kube.server.userKubeconfig("viewer");
      const r = await runMain(["validate", "--kubeconfig", viewer]);
      assert.equal(r.code, 2, r.out + r.err);
      assert.match(r.out, /may not read ConfigMap kube-system\/aws-auth \(RBAC: HTTP 403\)/);
      assert.match(r.out, /may not list IAMIdentityMapping objects \(RBAC: HTTP 403\)/);
    });

    await t.step("nothing was written", async () => {
      const after = await kube.client.request<{ metadata: { resourceVersion: string } }>(
        "GET",
        "/api/v1/namespaces/kube-system/configmaps/aws-auth",
      );
      assert.equal(after.metadata.resourceVersion, before.metadata.resourceVersion);
    });
  } finally {
    await kube.stop();
  }
});
