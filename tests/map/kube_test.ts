import assert from "node:assert/strict";
import { loadKubeConfig } from "../../src/map/kube.ts";

const KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
- name: a
  cluster: {server: "https://a.example:6443"}
- name: b
  cluster: {server: "https://b.example:6443"}
users:
- name: u
  user: {token: secret-token}
contexts:
- name: ctx
  context: {cluster: b, user: u}
current-context: ctx
`;

Deno.test("loadKubeConfig: file, master override, master alone", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/kubeconfig`;
    await Deno.writeTextFile(path, KUBECONFIG);
    const file = await loadKubeConfig({ kubeconfig: path, master: "" });
    assert.equal(file.getCurrentCluster()?.server, "https://b.example:6443");
    assert.equal(file.getCurrentUser()?.token, "secret-token");

    const overridden = await loadKubeConfig({ kubeconfig: path, master: "https://m.example" });
    assert.equal(overridden.getCurrentCluster()?.server, "https://m.example");
    assert.equal(overridden.getCurrentUser()?.token, "secret-token");
    assert.equal(overridden.clusters.find((c) => c.name === "a")?.server, "https://a.example:6443");

    const bare = await loadKubeConfig({ kubeconfig: "", master: "https://m.example" });
    assert.equal(bare.getCurrentCluster()?.server, "https://m.example");
    assert.equal(bare.getCurrentUser()?.token, undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
