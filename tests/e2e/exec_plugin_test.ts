// kubectl -> exec plugin (`main.ts token`, then `aws eks get-token`) -> kube-apiserver ->
// token webhook (`main.ts server`, MountedFile backend) -> STS peer. Also the faults: the
// authenticator killed and brought back, the STS peer killed and brought back.
import { strict as assert } from "node:assert";
import { type KubeApiServer, startKubeApiServer } from "../peers/kube_apiserver.ts";
import type { StsPeer } from "../peers/sts_peer.ts";
import {
  ACCOUNT,
  ADMIN_SESSION,
  ALICE,
  Authenticator,
  awsCliExec,
  type ExecSpec,
  isUnauthorized,
  kubectl,
  kubectlOk,
  MALLORY,
  nextSecond,
  startE2eStsPeer,
  stepWithLog,
  tokenExec,
  whoami,
  writeExecKubeconfig,
} from "./harness.ts";

const RBAC = `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: e2e-configmap-reader }
rules:
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: e2e-readers }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: e2e-configmap-reader }
subjects:
- { apiGroup: rbac.authorization.k8s.io, kind: Group, name: e2e-readers }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: e2e-admins }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin }
subjects:
- { apiGroup: rbac.authorization.k8s.io, kind: Group, name: e2e-admins }
`;

/** Waits (up to 10 s) until kube-apiserver's log contains `text`, else fails with its tail. */
async function waitForApiServerLog(kube: KubeApiServer, text: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  let log = "";
  while (Date.now() < deadline) {
    log = await Deno.readTextFile(kube.apiServerLogPath);
    if (log.includes(text)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(
    `kube-apiserver's log has no ${JSON.stringify(text)}; its tail:\n${log.slice(-2000)}`,
  );
}

Deno.test("e2e: kubectl exec plugins against kube-apiserver with the MountedFile backend", async (t) => {
  let sts: StsPeer | undefined = await startE2eStsPeer();
  const stsPort = Number(new URL(sts.url).port);
  const stsUrl = sts.url;
  const auth = await Authenticator.init({
    backendModes: ["MountedFile"],
    mapUsers: [{ userarn: ALICE.arn, username: "alice", groups: ["e2e-readers"] }],
    mapRoles: [{
      rolearn: `arn:aws:iam::${ACCOUNT}:role/e2e-admin`,
      username: "admin:{{SessionName}}",
      groups: ["e2e-admins"],
    }],
  });
  let kube: KubeApiServer | undefined;
  try {
    kube = await startKubeApiServer({ webhookKubeconfig: auth.webhookKubeconfig });
    const { server, caCertPath } = kube;
    await auth.start({ stsUrl });
    await kubectlOk(kube.kubeconfigPath, ["apply", "-f", "-"], { stdin: RBAC });
    await kubectlOk(kube.kubeconfigPath, [
      "create",
      "secret",
      "generic",
      "e2e-secret",
      "-n",
      "default",
      "--from-literal=k=v",
    ]);

    let n = 0;
    const kc = (exec: ExecSpec) =>
      writeExecKubeconfig(`${auth.dir}/user-${n++}.kubeconfig`, server, caCertPath, exec);

    const flavors: [string, typeof tokenExec][] = [
      ["main.ts token", tokenExec],
      ["aws eks get-token", awsCliExec],
    ];
    for (const [name, execFor] of flavors) {
      // Fresh tokens: the other flavor's identical tokens may sit in kube-apiserver's cache.
      await nextSecond();
      await stepWithLog(
        t,
        auth,
        `${name}: an IAM user maps to its username, groups, uid and extra`,
        async () => {
          const r = await whoami(await kc(execFor(ALICE, stsUrl)));
          assert.ok(r.user, `login failed: ${r.error}\n${await auth.log()}`);
          assert.equal(r.user.username, "alice");
          assert.deepEqual(r.user.groups.toSorted(), ["e2e-readers", "system:authenticated"]);
          assert.equal(r.user.uid, `aws-iam-authenticator:${ACCOUNT}:${ALICE.userId}`);
          assert.deepEqual(r.user.extra["arn"], [ALICE.arn]);
          assert.deepEqual(r.user.extra["canonicalArn"], [ALICE.arn]);
          assert.deepEqual(r.user.extra["accessKeyId"], [ALICE.accessKeyId]);
        },
      );

      await stepWithLog(
        t,
        auth,
        `${name}: an assumed role maps through its role ARN and session name`,
        async () => {
          const r = await whoami(await kc(execFor(ADMIN_SESSION, stsUrl)));
          assert.ok(r.user, `login failed: ${r.error}`);
          assert.equal(r.user.username, "admin:carol-session");
          assert.deepEqual(r.user.groups.toSorted(), ["e2e-admins", "system:authenticated"]);
          assert.deepEqual(r.user.extra["canonicalArn"], [
            `arn:aws:iam::${ACCOUNT}:role/e2e-admin`,
          ]);
          assert.deepEqual(r.user.extra["sessionName"], ["carol-session"]);
        },
      );

      await stepWithLog(t, auth, `${name}: a valid but unmapped identity gets 401`, async () => {
        const r = await whoami(await kc(execFor(MALLORY, stsUrl)));
        assert.ok(r.error !== undefined, `unmapped identity logged in as ${r.user?.username}`);
        assert.ok(isUnauthorized(r.error), r.error);
        // kubectl only says Unauthorized; kube-apiserver's log has the reason from status.error.
        await waitForApiServerLog(kube!, `map.not_mapped: identity ${MALLORY.arn} is not mapped`);
      });

      await stepWithLog(t, auth, `${name}: a token for another cluster ID gets 401`, async () => {
        const r = await whoami(await kc(execFor(ALICE, stsUrl, "some-other-cluster")));
        assert.ok(r.error !== undefined, `foreign-cluster token logged in as ${r.user?.username}`);
        assert.ok(isUnauthorized(r.error), r.error);
        await waitForApiServerLog(kube!, "token.cluster_mismatch: sts getCallerIdentity failed");
      });

      await stepWithLog(
        t,
        auth,
        `${name}: RBAC on the mapped groups allows and denies`,
        async () => {
          const alice = await kc(execFor(ALICE, stsUrl));
          const cms = await kubectl(alice, [
            "get",
            "configmaps",
            "-n",
            "kube-system",
            "-o",
            "name",
          ]);
          assert.equal(cms.code, 0, cms.stderr);
          const secrets = await kubectl(alice, ["get", "secrets", "-n", "default"]);
          assert.notEqual(secrets.code, 0);
          assert.match(
            secrets.stderr,
            /Forbidden.*User "alice" cannot list resource "secrets"/,
          );
          const write = await kubectl(alice, ["auth", "can-i", "create", "configmaps"]);
          assert.equal(write.stdout.trim(), "no");

          const admin = await kc(execFor(ADMIN_SESSION, stsUrl));
          const secret = await kubectl(admin, [
            "get",
            "secret",
            "e2e-secret",
            "-n",
            "default",
            "-o",
            "jsonpath={.data.k}",
          ]);
          assert.equal(secret.code, 0, secret.stderr);
          assert.equal(atob(secret.stdout), "v");
        },
      );
    }

    const alice = await kc(tokenExec(ALICE, stsUrl));

    await stepWithLog(
      t,
      auth,
      "fault: authenticator killed -> 401 (not 500); back -> logins work",
      async () => {
        await auth.kill();
        await nextSecond();
        // Nothing may answer on the webhook's port any more, or the check below proves nothing.
        await assert.rejects(
          Deno.connect({ hostname: "127.0.0.1", port: auth.port }),
          Deno.errors.ConnectionRefused,
        );
        const r = await kubectl(alice, ["get", "configmaps", "-n", "kube-system"]);
        assert.notEqual(r.code, 0, `kubectl succeeded with the authenticator dead: ${r.stdout}`);
        assert.ok(isUnauthorized(r.stderr), r.stderr);
        assert.doesNotMatch(r.stderr, /InternalError|\b500\b/);
        await auth.start({ stsUrl });
        const back = await whoami(alice);
        assert.ok(back.user, `login after restart failed: ${back.error}\n${await auth.log()}`);
        assert.equal(back.user.username, "alice");
      },
    );

    await stepWithLog(
      t,
      auth,
      "fault: STS peer down -> reviews fail closed; back -> logins work",
      async () => {
        await sts?.close();
        sts = undefined;
        // A token that never succeeded, so no cache (ours or kube-apiserver's) answers for it.
        await nextSecond();
        const down = await whoami(alice);
        assert.ok(down.error !== undefined, `logged in with STS down as ${down.user?.username}`);
        assert.ok(isUnauthorized(down.error), down.error);
        sts = await startE2eStsPeer(stsPort);
        const back = await whoami(alice);
        assert.ok(back.user, `login after STS came back failed: ${back.error}`);
        assert.equal(back.user.username, "alice");
      },
    );
  } finally {
    await auth.dispose();
    await kube?.stop();
    await sts?.close();
  }
});
