import assert from "node:assert/strict";
import { parse as parseYaml, parseAllDocuments } from "yaml";
import { buildServerConfig } from "../../src/config/mod.ts";
import { parseFlags } from "../../src/cli/cli_flags.ts";
import { SERVER_COMMAND } from "../../src/cli/server.ts";

const DEPLOY = new URL("../../deploy/", import.meta.url);

// deno-lint-ignore no-explicit-any
type Obj = any;

async function load(name: string): Promise<Obj[]> {
  const text = await Deno.readTextFile(new URL(name, DEPLOY));
  const docs = parseAllDocuments(text);
  const out: Obj[] = [];
  for (const doc of docs) {
    assert.equal(doc.errors.length, 0, `${name}: ${doc.errors.map((e) => e.message).join("; ")}`);
    const value = doc.toJS();
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

function find(docs: Obj[], kind: string, name: string): Obj {
  const doc = docs.find((d) => d.kind === kind && d.metadata?.name === name);
  assert.ok(doc, `missing ${kind} ${name}`);
  return doc;
}

Deno.test("every file in deploy/ parses and every object has apiVersion, kind and a name", async () => {
  let files = 0;
  for await (const entry of Deno.readDir(DEPLOY)) {
    if (!entry.name.endsWith(".yaml")) continue;
    files++;
    const docs = await load(entry.name);
    assert.ok(docs.length > 0, entry.name);
    for (const d of docs) {
      assert.equal(typeof d.apiVersion, "string", entry.name);
      assert.equal(typeof d.kind, "string", entry.name);
      assert.equal(typeof d.metadata?.name, "string", entry.name);
    }
  }
  assert.ok(files >= 4);
});

Deno.test("RBAC: the ClusterRole grants what the backends use, bound cluster-wide", async () => {
  const docs = await load("example.yaml");
  const role = find(docs, "ClusterRole", "aws-iam-authenticator");
  const grants = (group: string, resource: string, verb: string, name?: string) =>
    role.rules.some((r: Obj) =>
      r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb) &&
      (name === undefined ? r.resourceNames === undefined : r.resourceNames?.includes(name))
    );
  for (const verb of ["get", "list", "watch"]) {
    assert.ok(grants("iamauthenticator.k8s.aws", "iamidentitymappings", verb), verb);
  }
  for (const verb of ["patch", "update"]) {
    assert.ok(grants("iamauthenticator.k8s.aws", "iamidentitymappings/status", verb), verb);
  }
  for (const verb of ["create", "update", "patch"]) assert.ok(grants("", "events", verb), verb);
  assert.ok(grants("", "configmaps", "list"));
  assert.ok(grants("", "configmaps", "watch"));
  assert.ok(grants("", "configmaps", "get", "aws-auth"));

  const sa = find(docs, "ServiceAccount", "aws-iam-authenticator");
  assert.equal(sa.metadata.namespace, "kube-system");
  // A namespaced RoleBinding cannot grant the cluster-scoped IAMIdentityMapping resource.
  assert.equal(docs.some((d) => d.kind === "RoleBinding"), false);
  const binding = find(docs, "ClusterRoleBinding", "aws-iam-authenticator");
  assert.deepEqual(binding.roleRef, {
    apiGroup: "rbac.authorization.k8s.io",
    kind: "ClusterRole",
    name: "aws-iam-authenticator",
  });
  assert.deepEqual(binding.subjects, [{
    kind: "ServiceAccount",
    name: "aws-iam-authenticator",
    namespace: "kube-system",
  }]);
});

Deno.test("the example server config is valid and maps what the comments say", async () => {
  const docs = await load("example.yaml");
  const cm = find(docs, "ConfigMap", "aws-iam-authenticator");
  assert.equal(cm.metadata.namespace, "kube-system");
  const file = parseYaml(cm.data["config.yaml"]);
  const lookup = (key: string): unknown => {
    let cur: unknown = file;
    for (const seg of key.toLowerCase().split(".")) {
      if (cur === null || typeof cur !== "object") return undefined;
      const hit = Object.keys(cur).find((k) => k.toLowerCase() === seg);
      if (hit === undefined) return undefined;
      cur = (cur as Record<string, unknown>)[hit];
    }
    return cur;
  };
  const config = buildServerConfig({ file: { get: lookup }, env: () => undefined });
  assert.equal(config.clusterId, "my-dev-cluster.example.com");
  assert.deepEqual(config.mapRoles.map((r) => r.username), [
    "kubernetes-admin",
    "aws:{{AccountID}}:instance:{{SessionName}}",
    "admin:{{SessionName}}",
    "{{SessionName}}",
    "{{SessionNameRaw}}",
  ]);
  assert.equal(config.mapRoles[0]!.roleArn, "arn:aws:iam::000000000000:role/KubernetesAdmin");
  assert.deepEqual(config.mapUsers.map((u) => [u.userArn, u.username]), [[
    "arn:aws:iam::000000000000:user/Alice",
    "alice",
  ]]);
  assert.deepEqual(config.mapAccounts, []);
});

Deno.test("DaemonSet: control-plane, host network, host paths, hardened, valid server args", async () => {
  const docs = await load("example.yaml");
  const ds = find(docs, "DaemonSet", "aws-iam-authenticator");
  assert.equal(ds.apiVersion, "apps/v1");
  assert.equal(ds.metadata.namespace, "kube-system");
  const spec = ds.spec.template.spec;
  assert.deepEqual(ds.spec.selector.matchLabels, ds.spec.template.metadata.labels);
  assert.equal(spec.hostNetwork, true);
  assert.equal(spec.serviceAccountName, "aws-iam-authenticator");
  assert.deepEqual(spec.nodeSelector, { "node-role.kubernetes.io/control-plane": "" });
  assert.equal(spec.priorityClassName, "system-cluster-critical");
  assert.ok(
    spec.tolerations.some((t: Obj) =>
      t.key === "node-role.kubernetes.io/control-plane" && t.effect === "NoSchedule"
    ),
  );
  assert.ok(spec.tolerations.some((t: Obj) => t.key === "CriticalAddonsOnly"));
  assert.ok(spec.terminationGracePeriodSeconds > 10);
  const [container] = spec.containers;
  checkContainer(container, spec.volumes);
  const config = spec.volumes.find((v: Obj) => v.name === "config");
  assert.equal(config.configMap.name, "aws-iam-authenticator");
});

function checkContainer(container: Obj, volumes: Obj[]): void {
  assert.equal(container.args[0], "server");
  // Every argument is a flag the server command knows.
  const parsed = parseFlags(SERVER_COMMAND, container.args.slice(1));
  assert.deepEqual(parsed.positionals, []);
  assert.equal(parsed.values.get("config"), "/etc/aws-iam-authenticator/config.yaml");
  assert.equal(parsed.values.get("state-dir"), "/var/aws-iam-authenticator");
  assert.equal(
    parsed.values.get("generate-kubeconfig"),
    "/etc/kubernetes/aws-iam-authenticator/kubeconfig.yaml",
  );
  const sc = container.securityContext;
  assert.equal(sc.allowPrivilegeEscalation, false);
  assert.deepEqual(sc.capabilities.drop, ["ALL"]);
  assert.equal(sc.seccompProfile.type, "RuntimeDefault");
  assert.ok(container.resources.limits.memory);
  const probe = container.livenessProbe.httpGet;
  assert.deepEqual([probe.host, probe.port, probe.path], ["127.0.0.1", 21363, "/healthz"]);
  const mounts = Object.fromEntries(
    container.volumeMounts.map((m: Obj) => [m.name, m.mountPath]),
  );
  assert.deepEqual(mounts, {
    config: "/etc/aws-iam-authenticator/",
    state: "/var/aws-iam-authenticator/",
    output: "/etc/kubernetes/aws-iam-authenticator/",
  });
  const byName = Object.fromEntries(volumes.map((v: Obj) => [v.name, v]));
  assert.equal(byName.state.hostPath.path, "/var/aws-iam-authenticator/");
  assert.equal(byName.output.hostPath.path, "/etc/kubernetes/aws-iam-authenticator/");
}

Deno.test("static pod sidecar: kube-system pod on the host network with host-path config", async () => {
  const [pod, ...rest] = await load("static-pod.yaml");
  assert.equal(rest.length, 0);
  assert.equal(pod.apiVersion, "v1");
  assert.equal(pod.kind, "Pod");
  assert.equal(pod.metadata.namespace, "kube-system");
  assert.equal(pod.spec.hostNetwork, true);
  assert.equal(pod.spec.priorityClassName, "system-node-critical");
  checkContainer(pod.spec.containers[0], pod.spec.volumes);
  const config = pod.spec.volumes.find((v: Obj) => v.name === "config");
  assert.equal(config.hostPath.path, "/etc/aws-iam-authenticator/");
});

Deno.test("CRD and the example mapping agree", async () => {
  const [crd] = await load("iamidentitymapping.yaml");
  assert.equal(crd.apiVersion, "apiextensions.k8s.io/v1");
  assert.equal(crd.metadata.name, "iamidentitymappings.iamauthenticator.k8s.aws");
  assert.equal(crd.spec.group, "iamauthenticator.k8s.aws");
  assert.equal(crd.spec.scope, "Cluster");
  assert.deepEqual(crd.spec.names, {
    plural: "iamidentitymappings",
    singular: "iamidentitymapping",
    kind: "IAMIdentityMapping",
    categories: ["all"],
  });
  const [version] = crd.spec.versions;
  assert.deepEqual([version.name, version.served, version.storage], ["v1alpha1", true, true]);
  assert.deepEqual(version.subresources, { status: {} });
  const schema = version.schema.openAPIV3Schema.properties;
  assert.deepEqual(schema.spec.required, ["arn", "username"]);
  assert.equal(schema.spec.properties.arn.type, "string");
  assert.equal(schema.spec.properties.groups.items.type, "string");
  assert.equal(schema.status.properties.canonicalARN.type, "string");
  assert.equal(schema.status.properties.userID.type, "string");

  const [mapping] = await load("example-iamidentitymapping.yaml");
  assert.equal(mapping.apiVersion, "iamauthenticator.k8s.aws/v1alpha1");
  assert.equal(mapping.kind, "IAMIdentityMapping");
  for (const key of schema.spec.required) assert.equal(typeof mapping.spec[key], "string");
  assert.deepEqual(mapping.spec, {
    arn: "arn:aws:iam::XXXXXXXXXXXX:user/KubernetesAdmin",
    username: "kubernetes-admin",
    groups: ["system:masters"],
  });
});

async function kubectl(kubeconfig: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  const out = await new Deno.Command("kubectl", {
    args: ["--kubeconfig", kubeconfig, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { ok: out.success, out: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

Deno.test("a real kube-apiserver accepts every manifest, and the RBAC lets the CRD backend work", async () => {
  const { startKubeApiServer } = await import("../peers/kube_apiserver.ts");
  const kube = await startKubeApiServer();
  try {
    const kc = kube.kubeconfigPath;
    const path = (name: string) => new URL(name, DEPLOY).pathname;
    const crd = await kubectl(kc, ["apply", "-f", path("iamidentitymapping.yaml")]);
    assert.ok(crd.ok, crd.out);
    const established = await kubectl(kc, [
      "wait",
      "--for=condition=Established",
      "--timeout=60s",
      "crd/iamidentitymappings.iamauthenticator.k8s.aws",
    ]);
    assert.ok(established.ok, established.out);
    const rbacAndAll = await kubectl(kc, ["apply", "-f", path("example.yaml")]);
    assert.ok(rbacAndAll.ok, rbacAndAll.out);
    // No controller-manager runs here to create it; pod admission wants it to exist.
    const sa = await kubectl(kc, ["-n", "kube-system", "create", "serviceaccount", "default"]);
    assert.ok(sa.ok, sa.out);
    for (const name of ["example-iamidentitymapping.yaml", "static-pod.yaml"]) {
      const r = await kubectl(kc, ["apply", "--dry-run=server", "-f", path(name)]);
      assert.ok(r.ok, `${name}: ${r.out}`);
    }
    const as = ["--as=system:serviceaccount:kube-system:aws-iam-authenticator"];
    for (
      const [verb, resource, extra] of [
        ["list", "iamidentitymappings.iamauthenticator.k8s.aws", []],
        ["watch", "iamidentitymappings.iamauthenticator.k8s.aws", []],
        ["update", "iamidentitymappings.iamauthenticator.k8s.aws", ["--subresource=status"]],
        ["watch", "configmaps", ["-n", "kube-system"]],
        ["get", "configmaps/aws-auth", ["-n", "kube-system"]],
        ["create", "events", ["-n", "kube-system"]],
      ] as const
    ) {
      const r = await kubectl(kc, ["auth", "can-i", verb, resource, ...extra, ...as]);
      assert.equal(r.out.trim().split("\n")[0], "yes", `${verb} ${resource}: ${r.out}`);
    }
    const denied = await kubectl(kc, [
      "auth",
      "can-i",
      "delete",
      "configmaps/aws-auth",
      "-n",
      "kube-system",
      ...as,
    ]);
    assert.equal(denied.out.trim().split("\n")[0], "no");
  } finally {
    await kube.stop();
  }
});
