import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import {
  buildServerConfig,
  ConfigError,
  type ConfigFileSource,
  type ServerConfigInputs,
} from "../../src/config/mod.ts";

/** A case-insensitive dotted-key view of a parsed YAML document, as the CLI's loader gives. */
function fileOf(yaml: string): ConfigFileSource {
  const doc = parseYaml(yaml) as unknown;
  return {
    get(key: string): unknown {
      let cur: unknown = doc;
      for (const seg of key.toLowerCase().split(".")) {
        if (cur === null || typeof cur !== "object" || Array.isArray(cur)) return undefined;
        const hit = Object.keys(cur).find((k) => k.toLowerCase() === seg);
        if (hit === undefined) return undefined;
        cur = (cur as Record<string, unknown>)[hit];
      }
      return cur;
    },
  };
}

function build(inputs: ServerConfigInputs, warnings: string[] = []) {
  return buildServerConfig({ warn: (m) => warnings.push(m), ...inputs });
}

function fails(inputs: ServerConfigInputs, message: string | RegExp) {
  assert.throws(() => build(inputs), (e: unknown) => {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    if (typeof message === "string") assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

Deno.test("defaults of every key", () => {
  const c = build({ flags: { clusterID: "c1" } });
  assert.equal(c.clusterId, "c1");
  assert.equal(c.partition, "aws");
  assert.equal(c.port, 21362);
  assert.equal(c.healthPort, 21363);
  assert.equal(c.address, "127.0.0.1");
  assert.equal(c.hostname, "localhost");
  assert.equal(c.stateDir, "/var/aws-iam-authenticator");
  assert.equal(c.generateKubeconfig, "/etc/kubernetes/aws-iam-authenticator/kubeconfig.yaml");
  assert.equal(c.kubeconfigPregenerated, false);
  assert.equal(c.kubeconfig, "");
  assert.equal(c.master, "");
  assert.deepEqual(c.backendMode, ["MountedFile"]);
  assert.equal(c.ec2DescribeInstancesQps, 15);
  assert.equal(c.ec2DescribeInstancesBurst, 5);
  assert.equal(c.ec2DescribeInstancesRoleArn, "");
  assert.equal(c.sourceArn, "");
  assert.deepEqual(c.scrubbedAccounts, []);
  assert.equal(c.dynamicFilePath, "");
  assert.equal(c.dynamicFileUserIdStrict, false);
  assert.equal(c.dynamicBackendModePath, "");
  assert.deepEqual(c.reservedPrefixConfig, {});
  assert.deepEqual(c.mapRoles, []);
  assert.deepEqual(c.mapUsers, []);
  assert.deepEqual(c.mapAccounts, []);
  assert.equal(c.logVerbosity, "info");
  assert.deepEqual(c.featureGates, {});
});

Deno.test("every key from a config file, keys case-insensitive", () => {
  const warnings: string[] = [];
  const c = build({
    file: fileOf(`
CLUSTERID: from-file
log-verbosity: debug
role: arn:aws:iam::111122223333:role/R
server:
  PARTITION: aws-cn
  port: "8443"
  healthPort: 0
  address: 0.0.0.0
  hostname: auth.example.com
  statedir: /state
  generateKubeconfig: /out/kc.yaml
  kubeconfigPregenerated: "true"
  kubeconfig: /kc
  master: https://10.0.0.1
  backendMode: [EKSConfigMap, MountedFile]
  ec2DescribeInstancesQps: 0
  ec2DescribeInstancesBurst: 9
  ec2DescribeInstancesRoleARN: arn:aws:iam::111122223333:role/ec2
  sourceARN: arn:aws:eks:us-west-2:111122223333:cluster/c
  scrubbedAccounts: "111122223333 444455556666"
  dynamicBackendModePath: /modes.json
  reservedPrefixConfig:
  - backendMode: MountedFile
    usernamePrefixReserveList: ["system:", "eks:"]
  - BACKENDMODE: CRD
    usernameprefixreservelist: [aws]
  - backendmode: MountedFile
    usernamePrefixReserveList: ["iam:"]
  maproles:
  - roleARN: arn:aws:iam::000000000000:role/KubernetesAdmin
    UserName: kubernetes-admin
    groups: system:masters
  - sso: {permissionSetName: Admin, AccountID: 012345678901}
    username: sso
  mapUsers:
  - userarn: arn:aws:iam::000000000000:user/Alice
    username: alice
    groups: [system:masters]
    grups: [oops]
  mapAccounts: ["012345678901", 12345678901]
`),
  }, warnings);
  assert.equal(c.clusterId, "from-file");
  assert.equal(c.logVerbosity, "debug");
  assert.equal(c.role, "arn:aws:iam::111122223333:role/R");
  assert.equal(c.partition, "aws-cn");
  assert.equal(c.port, 8443);
  assert.equal(c.healthPort, 0);
  assert.equal(c.address, "0.0.0.0");
  assert.equal(c.hostname, "auth.example.com");
  assert.equal(c.stateDir, "/state");
  assert.equal(c.generateKubeconfig, "/out/kc.yaml");
  assert.equal(c.kubeconfigPregenerated, true);
  assert.equal(c.kubeconfig, "/kc");
  assert.equal(c.master, "https://10.0.0.1");
  assert.deepEqual(c.backendMode, ["EKSConfigMap", "MountedFile"]);
  assert.equal(c.ec2DescribeInstancesQps, 0);
  assert.equal(c.ec2DescribeInstancesBurst, 9);
  assert.equal(c.ec2DescribeInstancesRoleArn, "arn:aws:iam::111122223333:role/ec2");
  assert.equal(c.sourceArn, "arn:aws:eks:us-west-2:111122223333:cluster/c");
  // A string is split on whitespace, as viper's GetStringSlice does.
  assert.deepEqual(c.scrubbedAccounts, ["111122223333", "444455556666"]);
  assert.equal(c.dynamicBackendModePath, "/modes.json");
  // List converted to a map keyed by backend mode; the last entry for a mode wins.
  assert.deepEqual(c.reservedPrefixConfig, { MountedFile: ["iam:"], CRD: ["aws"] });
  assert.deepEqual(c.mapRoles, [
    {
      roleArn: "arn:aws:iam::000000000000:role/KubernetesAdmin",
      username: "kubernetes-admin",
      groups: ["system:masters"],
      userId: "",
    },
    {
      roleArn: "",
      username: "sso",
      groups: [],
      userId: "",
      // YAML 1.2 reads the unquoted 012345678901 as the number 12345678901: the zero is lost.
      sso: { permissionSetName: "Admin", accountId: "12345678901", partition: "" },
    },
  ]);
  assert.deepEqual(c.mapUsers[0]?.groups, ["system:masters"]);
  assert.deepEqual(c.mapAccounts, ["012345678901", "12345678901"]);
  assert.ok(warnings.some((w) => /mapAccounts\[1\].*quote it/.test(w)), warnings.join("\n"));
  assert.ok(warnings.some((w) => /mapRoles\[1\]\.sso\.accountID.*quote it/.test(w)));
  assert.ok(warnings.some((w) => /mapUsers\[0\]: unknown field "grups"/.test(w)));
});

Deno.test("precedence: explicit flag > bound env var > config file > default", () => {
  const file = fileOf(
    "clusterID: file\nlog-verbosity: warn\nrole: file-role\nserver:\n  port: 1111\n",
  );
  const env = (vars: Record<string, string>) => (n: string) => vars[n];
  assert.equal(build({ file }).clusterId, "file");
  assert.equal(
    build({ file, env: env({ KUBERNETES_AWS_AUTHENTICATOR_CLUSTER_ID: "env" }) }).clusterId,
    "env",
  );
  assert.equal(
    build({
      file,
      env: env({ KUBERNETES_AWS_AUTHENTICATOR_CLUSTER_ID: "env" }),
      flags: { clusterid: "flag" },
    }).clusterId,
    "flag",
  );
  // An empty env var does not count as set.
  assert.equal(
    build({ file, env: env({ KUBERNETES_AWS_AUTHENTICATOR_CLUSTER_ID: "" }) }).clusterId,
    "file",
  );
  assert.equal(
    build({ file, env: env({ AWS_IAM_AUTHENTICATOR_LOG_VERBOSITY: "trace" }) }).logVerbosity,
    "trace",
  );
  assert.equal(build({ file, env: env({ DEFAULT_ROLE: "env-role" }) }).role, "env-role");
  assert.equal(build({ file }).port, 1111);
  assert.equal(build({ file, flags: { "server.port": 2222 } }).port, 2222);
  // Only the three documented env vars are bound: nothing reads SERVER_PORT etc.
  assert.equal(build({ file, env: env({ SERVER_PORT: "9" }) }).port, 1111);
  // server.healthPort: flag and file.
  assert.equal(build({ file, flags: { "server.healthPort": 0 } }).healthPort, 0);
});

Deno.test("feature gates come only from the command line", () => {
  const info: string[] = [];
  const c = build({
    flags: { clusterID: "c", "feature-gates": "SSORoleMatch=true,ConfiguredInitDirectories=false" },
    info: (m) => info.push(m),
  });
  assert.deepEqual(c.featureGates, { SSORoleMatch: true, ConfiguredInitDirectories: false });
  assert.deepEqual(info, ["SSORoleMatch feature enabled"]);
  const fromFile = build({
    flags: { clusterID: "c" },
    file: fileOf("feature-gates: SSORoleMatch=true"),
  });
  assert.deepEqual(fromFile.featureGates, {});
  // The CLI's flag parser hands over a record.
  assert.deepEqual(
    build({ flags: { clusterID: "c", "feature-gates": { IAMIdentityMappingCRD: "true" } } })
      .featureGates,
    { IAMIdentityMappingCRD: true },
  );
  fails(
    { flags: { clusterID: "c", "feature-gates": "Nope=true" } },
    "unrecognized feature gate: Nope",
  );
  fails(
    { flags: { clusterID: "c", "feature-gates": "SSORoleMatch=maybe" } },
    /^invalid value of SSORoleMatch=maybe/,
  );
});

Deno.test("validation order and messages (the Go tool's getConfig)", async (t) => {
  const bad = "server:\n  mapRoles: notalist\n  mapUsers: [1]\n  mapAccounts: {a: 1}\n" +
    "  reservedPrefixConfig: 5\n  partition: mars\n  backendMode: [Nope]\n";
  await t.step("1. role mappings first", () => {
    fails(
      { file: fileOf(bad) },
      "invalid server role mappings: server.mapRoles: expected a list, got string",
    );
  });
  await t.step("2. then user mappings", () => {
    fails(
      { file: fileOf(bad.replace("mapRoles: notalist", "mapRoles: []")) },
      "invalid server user mappings: server.mapUsers[0]: expected a mapping, got number",
    );
  });
  const noMaps = bad.replace("mapRoles: notalist", "mapRoles: []").replace(
    "mapUsers: [1]",
    "mapUsers: []",
  );
  await t.step("3. then accounts", () => {
    fails({ file: fileOf(noMaps) }, /^invalid server account mappings: /);
  });
  const noAccounts = noMaps.replace("mapAccounts: {a: 1}", "mapAccounts: []");
  await t.step("4. then reserved prefix config", () => {
    fails({ file: fileOf(noAccounts) }, /^invalid reserved prefix config: /);
  });
  const noPrefix = noAccounts.replace("reservedPrefixConfig: 5", "reservedPrefixConfig: []");
  await t.step("6. then cluster ID", () => {
    fails({ file: fileOf(noPrefix) }, "cluster ID cannot be empty");
  });
  await t.step("7. then partition", () => {
    fails(
      { file: fileOf(`clusterID: c\n${noPrefix}`) },
      /^invalid partition: "mars" is not one of aws, aws-cn/,
    );
  });
  const ok = `clusterID: c\n${noPrefix.replace("partition: mars", "partition: aws-eusc")}`;
  await t.step("8. then dynamic file path vs mode", () => {
    fails(
      { file: fileOf(ok.replace("[Nope]", "[DynamicFile, Nope]")) },
      "dynamicfile is set in backend-mode but dynamicfilepath is not set",
    );
    fails(
      { file: fileOf(`${ok}  dynamicfilepath: /x.json\n`) },
      "dynamicfile is not set in backend-mode but dynamicfilepath is set",
    );
  });
  await t.step("9. then backend modes, aggregated", () => {
    fails({ file: fileOf(ok) }, 'backend-mode "Nope" is not a valid mode');
    fails(
      { file: fileOf(ok.replace("[Nope]", "[Nope, CRD, CRD]")) },
      '[backend-mode "Nope" is not a valid mode, backend-mode ["Nope" "CRD" "CRD"] has duplicates]',
    );
    fails(
      { file: fileOf(ok.replace("[Nope]", "[]")) },
      "at least one backend-mode must be specified",
    );
    const warnings: string[] = [];
    const c = build({ file: fileOf(ok.replace("[Nope]", "[File, ConfigMap]")) }, warnings);
    assert.deepEqual(c.backendMode, ["File", "ConfigMap"]);
    assert.deepEqual(warnings, [
      'warning: backend-mode "File" is deprecated, use "MountedFile" instead',
      'warning: backend-mode "ConfigMap" is deprecated, use "EKSConfigMap" instead',
    ]);
  });
});

Deno.test("garbage values are rejected with the key named", () => {
  fails({ flags: { clusterID: "c", "server.port": "http" } }, /server\.port: expected an integer/);
  fails({ flags: { clusterID: "c", "server.port": 70000 } }, /server\.port: 70000 is not a port/);
  fails(
    { flags: { clusterID: "c", "server.kubeconfigPregenerated": "perhaps" } },
    /server\.kubeconfigPregenerated: expected true or false/,
  );
  fails({ flags: { clusterID: "c", "server.ec2DescribeInstancesQps": -1 } }, /is negative/);
});

Deno.test("reservedPrefixConfig: deprecated backend names reserve for the canonical backend; unknown names warn", () => {
  const warnings: string[] = [];
  const c = build({
    file: fileOf(`
clusterID: c
server:
  reservedPrefixConfig:
  - backendmode: ConfigMap
    usernamePrefixReserveList: ["system:"]
  - backendmode: File
    usernamePrefixReserveList: ["eks:"]
  - backendmode: dynamicfile
    usernamePrefixReserveList: ["aws:"]
`),
  }, warnings);
  // The mappers look lists up by canonical name: an alias must not silently reserve nothing.
  assert.deepEqual(c.reservedPrefixConfig, { EKSConfigMap: ["system:"], MountedFile: ["eks:"] });
  assert.ok(
    warnings.includes(
      'server.reservedPrefixConfig[0]: backendmode "ConfigMap" is deprecated, use "EKSConfigMap" instead',
    ),
    warnings.join("\n"),
  );
  assert.ok(
    warnings.some((w) =>
      w.startsWith('server.reservedPrefixConfig[2]: backendmode "dynamicfile" names no backend')
    ),
    warnings.join("\n"),
  );
});
