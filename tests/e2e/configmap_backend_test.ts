// The EKSConfigMap backend against a real kube-apiserver: `kubectl apply` of aws-auth, a
// malformed edit, `main.ts add user` / `add role`, a kube-apiserver restart (the watch must
// come back and relist), and deleting aws-auth (a revocation).
import { strict as assert } from "node:assert";
import { parse as parseYaml } from "yaml";
import { type KubeApiServer, startKubeApiServer } from "../peers/kube_apiserver.ts";
import type { PeerPrincipal, StsPeer } from "../peers/sts_peer.ts";
import {
  ACCOUNT,
  ADMIN_SESSION,
  ALICE,
  Authenticator,
  BOB,
  DENO_RUN,
  DEV_SESSION,
  eventually,
  isUnauthorized,
  kubectlOk,
  MAIN,
  nextSecond,
  runCommand,
  startE2eStsPeer,
  stepWithLog,
  tokenExec,
  type WhoAmI,
  whoami,
  writeExecKubeconfig,
} from "./harness.ts";

function awsAuth(data: Record<string, string>): string {
  const body = Object.entries(data)
    .map(([k, v]) => `  ${k}: |\n${v.trimEnd().split("\n").map((l) => `    ${l}`).join("\n")}`)
    .join("\n");
  return `apiVersion: v1
kind: ConfigMap
metadata:
  name: aws-auth
  namespace: kube-system
data:
${body}
`;
}

const ALICE_AS = (name: string, group = "e2e-readers") =>
  `- userarn: ${ALICE.arn}\n  username: ${name}\n  groups:\n  - ${group}`;
const ADMIN_ROLE = (name: string) =>
  `- rolearn: arn:aws:iam::${ACCOUNT}:role/e2e-admin\n  username: ${name}\n  groups:\n  - e2e-admins`;

Deno.test("e2e: EKSConfigMap backend follows kube-system/aws-auth in a real cluster", async (t) => {
  const sts: StsPeer = await startE2eStsPeer();
  const auth = await Authenticator.init({ backendModes: ["EKSConfigMap"] });
  let kube: KubeApiServer | undefined;
  try {
    kube = await startKubeApiServer({ webhookKubeconfig: auth.webhookKubeconfig });
    const admin = kube.kubeconfigPath;
    await auth.start({ stsUrl: sts.url, kubeconfig: admin });
    const users = new Map<PeerPrincipal, string>();
    const kc = async (p: PeerPrincipal) => {
      let path = users.get(p);
      if (!path) {
        path = `${auth.dir}/${p.accessKeyId}.kubeconfig`;
        await writeExecKubeconfig(path, kube!.server, kube!.caCertPath, tokenExec(p, sts.url));
        users.set(p, path);
      }
      return path;
    };
    // Polls logins until `p` maps to `username` (the informer is eventually consistent).
    const mapsTo = (p: PeerPrincipal, username: string) =>
      eventually<WhoAmI>(`${p.arn} to map to ${username}`, async () => {
        const r = await whoami(await kc(p));
        return r.user?.username === username ? r.user : undefined;
      }, { timeoutMs: 30_000 });
    const unauthorized = (p: PeerPrincipal) =>
      eventually(`${p.arn} to be refused`, async () => {
        const r = await whoami(await kc(p));
        return r.error !== undefined && isUnauthorized(r.error) ? true : undefined;
      }, { timeoutMs: 30_000 });
    const apply = (yaml: string) => kubectlOk(admin, ["apply", "-f", "-"], { stdin: yaml });

    await stepWithLog(t, auth, "no aws-auth yet: a valid identity gets 401", async () => {
      const r = await whoami(await kc(ALICE));
      assert.ok(r.error !== undefined, `logged in as ${r.user?.username} with no aws-auth`);
      assert.ok(isUnauthorized(r.error), r.error);
    });

    await stepWithLog(
      t,
      auth,
      "kubectl apply aws-auth -> the next login maps accordingly",
      async () => {
        await apply(awsAuth({ mapUsers: ALICE_AS("alice-cm") }));
        const u = await mapsTo(ALICE, "alice-cm");
        assert.deepEqual(u.groups.toSorted(), ["e2e-readers", "system:authenticated"]);

        await apply(awsAuth({
          mapUsers: ALICE_AS("alice-cm2", "e2e-writers"),
          mapRoles: ADMIN_ROLE("cm-admin:{{SessionName}}"),
        }));
        const a = await mapsTo(ALICE, "alice-cm2");
        assert.deepEqual(a.groups.toSorted(), ["e2e-writers", "system:authenticated"]);
        const r = await mapsTo(ADMIN_SESSION, "cm-admin:carol-session");
        assert.deepEqual(r.groups.toSorted(), ["e2e-admins", "system:authenticated"]);
      },
    );

    await stepWithLog(t, auth, "a malformed edit keeps the last good mapping", async () => {
      // mapUsers is not YAML at all; mapRoles changes, so the edit visibly reached the server.
      await apply(awsAuth({
        mapUsers: "- userarn: [unterminated\n  username: {{{",
        mapRoles: ADMIN_ROLE("cm-admin2:{{SessionName}}"),
      }));
      await mapsTo(ADMIN_SESSION, "cm-admin2:carol-session");
      await nextSecond();
      const r = await whoami(await kc(ALICE));
      assert.ok(r.user, `alice lost her mapping after a malformed edit: ${r.error}`);
      assert.equal(r.user.username, "alice-cm2");
    });

    await stepWithLog(t, auth, "add user / add role edit the real aws-auth", async () => {
      const add = (args: string[]) =>
        runCommand(Deno.execPath(), [
          ...DENO_RUN,
          "-A",
          MAIN,
          "add",
          ...args,
          "--kubeconfig",
          admin,
          "--prompt=false",
        ], { env: { DENO_NO_UPDATE_CHECK: "1" } });
      // Back to a clean, valid aws-auth that add can parse.
      await apply(awsAuth({ mapUsers: ALICE_AS("alice-cm2", "e2e-writers") }));

      const u = await add([
        "user",
        "--userarn",
        BOB.arn,
        "--username",
        "bob-added",
        "--groups",
        "e2e-readers,e2e-extra",
      ]);
      assert.equal(u.code, 0, `add user failed: ${u.stderr}${u.stdout}`);
      assert.match(u.stdout, /updated configmap/);
      const r = await add([
        "role",
        "--rolearn",
        `arn:aws:iam::${ACCOUNT}:role/e2e-dev`,
        "--username",
        "dev:{{SessionName}}",
        "--groups",
        "e2e-readers",
      ]);
      assert.equal(r.code, 0, `add role failed: ${r.stderr}${r.stdout}`);

      const cm = parseYaml(
        await kubectlOk(admin, ["get", "configmap", "aws-auth", "-n", "kube-system", "-o", "yaml"]),
      ) as { data: Record<string, string> };
      const mapUsers = parseYaml(cm.data.mapUsers ?? "") as { userarn: string; username: string }[];
      assert.deepEqual(mapUsers.map((m) => [m.userarn, m.username]), [
        [ALICE.arn, "alice-cm2"],
        [BOB.arn, "bob-added"],
      ]);
      const mapRoles = parseYaml(cm.data.mapRoles ?? "") as { rolearn: string }[];
      assert.deepEqual(mapRoles.map((m) => m.rolearn), [`arn:aws:iam::${ACCOUNT}:role/e2e-dev`]);

      const bob = await mapsTo(BOB, "bob-added");
      assert.deepEqual(bob.groups.toSorted(), ["e2e-extra", "e2e-readers", "system:authenticated"]);
      await mapsTo(DEV_SESSION, "dev:dave-session");

      const dup = await add(["user", "--userarn", BOB.arn, "--username", "x", "--groups", "g"]);
      assert.notEqual(dup.code, 0);
      assert.match(dup.stdout + dup.stderr, /cannot add duplicate user ARN/);
    });

    await stepWithLog(
      t,
      auth,
      "kube-apiserver restart: the watch relists and mappings stay correct",
      async () => {
        await kube!.restartApiServer();
        const a = await whoami(await kc(ALICE));
        assert.ok(a.user, `login right after the restart failed: ${a.error}`);
        assert.equal(a.user.username, "alice-cm2");
        // A change made after the restart arrives through the re-established watch.
        await apply(awsAuth({ mapUsers: ALICE_AS("alice-after-restart") }));
        await mapsTo(ALICE, "alice-after-restart");
        await unauthorized(BOB);
      },
    );

    await stepWithLog(t, auth, "deleting aws-auth revokes its mappings", async () => {
      await kubectlOk(admin, ["delete", "configmap", "aws-auth", "-n", "kube-system"]);
      await unauthorized(ALICE);
    });
  } finally {
    await auth.dispose();
    await kube?.stop();
    await sts.close();
  }
});
