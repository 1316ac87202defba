/**
 * explain's mapping sources beyond --config: mapping files (aws-auth manifests, DynamicFile,
 * IAMIdentityMapping manifests, stdin) and the live cluster with the user's own kubeconfig,
 * against the real kube-apiserver; what a user RBAC forbids to read gets no verdict, and the
 * administrator's command.
 */
import assert from "node:assert/strict";
import { installCrd, putAwsAuth, putMapping, startKube } from "../map/_kube.ts";
import { explainWith, tempDir } from "./_helpers.ts";

const A = "111122223333";

const AWS_AUTH = `apiVersion: v1
kind: ConfigMap
metadata:
  name: aws-auth
  namespace: kube-system
data:
  mapRoles: |
    - rolearn: arn:aws:iam::${A}:role/Admin
      username: admin
      groups:
        - system:masters
  mapUsers: |
    - rolearn: arn:aws:iam::${A}:role/Dev
      username: dev
`;

const CRD = `apiVersion: iamauthenticator.k8s.aws/v1alpha1
kind: IAMIdentityMapping
metadata:
  name: ci
  creationTimestamp: "2026-01-01T00:00:00Z"
spec:
  arn: arn:aws:iam::${A}:role/Ci
  username: ci
  groups: [ci]
`;

Deno.test("explain --mapping: an aws-auth manifest and IAMIdentityMapping manifests, located", async () => {
  await using dir = await tempDir();
  const awsAuth = await dir.file("aws-auth.yaml", AWS_AUTH);
  const crd = await dir.file("mappings.yaml", CRD);
  let r = await explainWith([
    "--arn",
    `arn:aws:sts::${A}:assumed-role/Admin/alice`,
    "--mapping",
    awsAuth,
    "--mapping",
    crd,
  ]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(
    r.stdout,
    /EKSConfigMap \(.*aws-auth\.yaml\): matched .*aws-auth\.yaml:8:7: username "admin"/,
  );

  r = await explainWith([
    "--arn",
    `arn:aws:iam::${A}:role/Ci`,
    "--mapping",
    awsAuth,
    "--mapping",
    crd,
  ]);
  assert.equal(r.code, 0);
  assert.match(
    r.stdout,
    /EKSConfigMap \(.*\): no entry matches\n.*CRD \(.*mappings\.yaml\): matched/,
  );
});

Deno.test("explain --mapping: a rolearn under mapUsers is dropped, and explain shows that problem", async () => {
  await using dir = await tempDir();
  const awsAuth = await dir.file("aws-auth.yaml", AWS_AUTH);
  const r = await explainWith([
    "--arn",
    `arn:aws:sts::${A}:assumed-role/Dev/bob`,
    "--mapping",
    awsAuth,
  ]);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stdout, /✘ Mapping: map\.not_mapped: /);
  assert.match(r.stdout, /problems in the mappings that concern this identity:/);
  assert.match(r.stdout, /aws-auth\.yaml:13:7: key\.wrong_section: /);
});

Deno.test("explain --mapping -: a DynamicFile from standard input", async () => {
  const dynamic = JSON.stringify({
    mapUsers: [{ userarn: `arn:aws:iam::${A}:user/zoe`, username: "zoe" }],
  });
  const r = await explainWith(["--arn", `arn:aws:iam::${A}:user/zoe`, "--mapping", "-"], {
    stdin: dynamic,
  });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /DynamicFile \(<stdin>\): matched <stdin>:1:\d+: username "zoe"/);
});

Deno.test("explain --mapping: an unreadable or unrecognized source is exit 2", async () => {
  await using dir = await tempDir();
  let r = await explainWith([
    "--arn",
    `arn:aws:iam::${A}:user/zoe`,
    "--mapping",
    `${dir.path}/nope.yaml`,
  ]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /explain: cannot read the mapping sources: .*nope\.yaml/);
  const binary = `${dir.path}/bin.yaml`;
  await Deno.writeFile(binary, new Uint8Array([0, 1, 2, 0xff, 0xfe]));
  r = await explainWith(["--arn", `arn:aws:iam::${A}:user/zoe`, "--mapping", binary]);
  assert.equal(r.code, 2);
});

Deno.test("explain --kubeconfig: the live aws-auth and mappings; RBAC that forbids reading them", async (t) => {
  const kube = await startKube();
  try {
    await putAwsAuth(kube.client, {
      mapRoles:
        `- rolearn: arn:aws:iam::${A}:role/Admin\n  username: admin\n  groups: [system:masters]\n`,
    });
    const kubeconfig = kube.server.kubeconfigPath;

    await t.step("no CRD installed: an empty CRD backend, as the server sees it", async () => {
      const r = await explainWith([
        "--arn",
        `arn:aws:iam::${A}:role/Admin`,
        "--kubeconfig",
        kubeconfig,
      ]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(
        r.stdout,
        /EKSConfigMap \(ConfigMap kube-system\/aws-auth\): matched ConfigMap kube-system\/aws-auth data\.mapRoles:1:3: username "admin"/,
      );
    });

    await installCrd(kube.client);
    await putMapping(kube.client, "ci", { arn: `arn:aws:iam::${A}:role/Ci`, username: "ci" });
    await t.step("a mapping object, by name", async () => {
      const r = await explainWith([
        "--arn",
        `arn:aws:iam::${A}:role/Ci`,
        "--kubeconfig",
        kubeconfig,
      ]);
      assert.equal(r.code, 0, r.stdout);
      assert.match(r.stdout, /CRD \(cluster\): matched IAMIdentityMapping ci: username "ci"/);
    });

    await t.step("an unmapped ARN is denied, with the closest entry", async () => {
      const r = await explainWith([
        "--arn",
        `arn:aws:iam::999988887777:role/Admin`,
        "--kubeconfig",
        kubeconfig,
      ]);
      assert.equal(r.code, 1);
      assert.match(r.stdout, /another account \(111122223333; you are in 999988887777\)/);
    });

    await t.step(
      "a user RBAC forbids: no verdict, the reason, and the administrator's command",
      async () => {
        const viewer = await kube.server.userKubeconfig("viewer");
        const r = await explainWith([
          "--arn",
          `arn:aws:iam::${A}:role/Admin`,
          "--kubeconfig",
          viewer,
        ]);
        assert.equal(r.code, 2, r.stdout + r.stderr);
        assert.match(
          r.stdout,
          /– Mapping: not decided: .*may not read ConfigMap kube-system\/aws-auth \(RBAC: HTTP 403\)/,
        );
        const both = await explainWith([
          "--arn",
          `arn:aws:iam::${A}:role/Admin`,
          "--kubeconfig",
          viewer,
          "-o",
          "json",
        ]);
        const doc = JSON.parse(both.stdout);
        assert.equal(doc.verdict, "inconclusive");
        assert.deepEqual(
          doc.steps[3].facts.backends.map((b: { name: string; unavailable: string | null }) => [
            b.name,
            b.unavailable !== null,
          ]),
          [["EKSConfigMap", true], ["CRD", true]],
        );
      },
    );

    await t.step("explain wrote nothing to the cluster", async () => {
      const cm = await kube.client.request<{ metadata: { managedFields?: unknown[] } }>(
        "GET",
        "/api/v1/namespaces/kube-system/configmaps/aws-auth",
      );
      assert.ok(cm.metadata);
      const objs = await kube.client.request<{ items: unknown[] }>(
        "GET",
        "/apis/iamauthenticator.k8s.aws/v1alpha1/iamidentitymappings",
      );
      assert.equal(objs.items.length, 1);
    });
  } finally {
    await kube.stop();
  }
});

Deno.test("explain --mapping: inputs that hold no mapping give no verdict, not a denial", async () => {
  await using dir = await tempDir();
  const other = await dir.file("deployment.yaml", "apiVersion: apps/v1\nkind: Deployment\n");
  const r = await explainWith(["--arn", `arn:aws:iam::${A}:user/zoe`, "--mapping", other]);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stdout, /– Mapping: no mapping source among the inputs/);
});
