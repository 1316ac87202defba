// The e2e harness itself: a real etcd + kube-apiserver comes up, serves RBAC to the admin
// client certificate, survives a restart with its data, and is gone after stop().
import { strict as assert } from "node:assert";
import {
  KubeBinariesMissingError,
  requireKubeBinaries,
  startKubeApiServer,
} from "../peers/kube_apiserver.ts";
import { kubectl, kubectlOk } from "./harness.ts";

Deno.test("requireKubeBinaries names the missing binaries and the build script", async () => {
  const empty = await Deno.makeTempDir();
  const before = Deno.env.get("AIA_E2E_CACHE");
  Deno.env.set("AIA_E2E_CACHE", empty);
  try {
    await assert.rejects(requireKubeBinaries(), (e: unknown) => {
      assert.ok(e instanceof KubeBinariesMissingError);
      assert.match(e.message, /scripts\/kube\/build\.sh/);
      assert.ok(e.message.includes(`${empty}/bin/etcd`));
      assert.ok(e.message.includes(`${empty}/bin/kube-apiserver`));
      return true;
    });
  } finally {
    if (before === undefined) Deno.env.delete("AIA_E2E_CACHE");
    else Deno.env.set("AIA_E2E_CACHE", before);
    await Deno.remove(empty, { recursive: true });
  }
});

Deno.test("a real kube-apiserver: admin, RBAC, restart keeps data, stop cleans up", async () => {
  const kube = await startKubeApiServer();
  try {
    assert.match(kube.server, /^https:\/\/127\.0\.0\.1:\d+$/);
    const who = JSON.parse(
      await kubectlOk(kube.kubeconfigPath, ["auth", "whoami", "-o", "json"]),
    ) as { status: { userInfo: { username: string; groups: string[] } } };
    assert.equal(who.status.userInfo.username, "aia-e2e-admin");
    assert.ok(who.status.userInfo.groups.includes("system:masters"));

    // RBAC is the authorizer: a user outside system:masters is denied until bound.
    const deny = await kubectl(kube.kubeconfigPath, [
      "auth",
      "can-i",
      "list",
      "secrets",
      "--as=nobody",
    ]);
    assert.equal(deny.stdout.trim(), "no");

    await kubectlOk(kube.kubeconfigPath, [
      "create",
      "configmap",
      "survivor",
      "-n",
      "kube-system",
      "--from-literal=k=v",
    ]);
    await kube.restartApiServer();
    const v = await kubectlOk(kube.kubeconfigPath, [
      "get",
      "configmap",
      "survivor",
      "-n",
      "kube-system",
      "-o",
      "jsonpath={.data.k}",
    ]);
    assert.equal(v, "v");
  } finally {
    await kube.stop();
  }
  await assert.rejects(Deno.stat(kube.dir), Deno.errors.NotFound);
  // Nothing listens on the apiserver's port any more.
  const port = Number(new URL(kube.server).port);
  await assert.rejects(
    Deno.connect({ hostname: "127.0.0.1", port }),
    Deno.errors.ConnectionRefused,
  );
});
