import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import { type AddDeps, encodeAwsAuth, runAdd, yamlV2String } from "../../src/cli/add.ts";
import { parseAwsAuth } from "../../src/map/mod.ts";
import { startKubeApiServer } from "../peers/kube_apiserver.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

function capture(answers: string[] = []): AddDeps & { out: () => string; err: () => string } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    env: () => undefined,
    stdout: (s) => out.push(s),
    stderr: (s) => err.push(s),
    readTextFile: (p) => Deno.readTextFile(p),
    now: () => new Date(),
    readLine: () => Promise.resolve(answers.shift() ?? null),
    out: () => out.join(""),
    err: () => err.join(""),
  };
}

Deno.test("EncodeMap writes yaml.v2's layout and round-trips through ParseMap", () => {
  const data = encodeAwsAuth(
    [
      {
        roleArn: "arn:aws:iam::123456789101:role/test-NodeInstanceRole-1VWRHZ3GKZ1T4",
        username: "system:node:{{EC2PrivateDNSName}}",
        groups: ["system:bootstrappers", "system:nodes"],
        userId: "",
      },
      {
        roleArn: "",
        sso: { permissionSetName: "ViewOnly", accountId: "012345678912", partition: "" },
        username: "{{SessionName}}",
        groups: ["viewers"],
        userId: "",
      },
    ],
    [{
      userArn: "arn:aws:iam::123456789012:user/alice",
      username: "alice",
      groups: [],
      userId: "AIDA1",
    }],
    ["012345678901", "123"],
  );
  assert.equal(
    data.mapRoles,
    "- rolearn: arn:aws:iam::123456789101:role/test-NodeInstanceRole-1VWRHZ3GKZ1T4\n" +
      "  username: system:node:{{EC2PrivateDNSName}}\n" +
      "  groups:\n  - system:bootstrappers\n  - system:nodes\n" +
      '- sso:\n    permissionSetName: ViewOnly\n    accountID: "012345678912"\n' +
      "  username: '{{SessionName}}'\n  groups:\n  - viewers\n",
  );
  assert.equal(
    data.mapUsers,
    "- userarn: arn:aws:iam::123456789012:user/alice\n  username: alice\n  groups: []\n" +
      "  userid: AIDA1\n",
  );
  assert.equal(data.mapAccounts, '- "012345678901"\n- "123"\n');
  assert.deepEqual(encodeAwsAuth([], [], []), {});

  const parsed = parseAwsAuth(data);
  assert.deepEqual(parsed.problems, []);
  assert.equal(parsed.roles?.[1]?.value.sso?.accountId, "012345678912");
  assert.equal(parsed.roles?.[1]?.value.username, "{{SessionName}}");
  assert.deepEqual(parsed.accounts, ["012345678901", "123"]);
});

Deno.test("yaml.v2 scalar styles", () => {
  assert.equal(yamlV2String("alice"), "alice");
  assert.equal(yamlV2String("system:masters"), "system:masters");
  assert.equal(yamlV2String("true"), '"true"');
  assert.equal(yamlV2String("yes"), '"yes"');
  assert.equal(yamlV2String(""), '""');
  assert.equal(yamlV2String("1e3"), '"1e3"');
  assert.equal(yamlV2String("{{AccountID}}"), "'{{AccountID}}'");
  assert.equal(yamlV2String("it's: x"), "'it''s: x'");
  assert.equal(yamlV2String("- x"), "'- x'");
  assert.equal(yamlV2String("a #b"), "'a #b'");
});

Deno.test("input errors need no cluster and use the Go tool's messages", async () => {
  const cases: [string[], RegExp][] = [
    [
      ["user", "--userarn", "arn:aws:iam::1:user/a", "--username", "a"],
      /^invalid empty value in userARN "arn:aws:iam::1:user\/a", username "a", groups \[\]\n$/,
    ],
    [
      ["role", "--username", "a", "--groups", "g1,g2"],
      /^invalid empty value in rolearn "", username "a", groups \["g1" "g2"\]\n$/,
    ],
    [[
      "role",
      "--rolearn",
      "arn:aws:iam::1:role/r",
      "--sso",
      "permissionSetName=X,accountID=012345678912",
      "--username",
      "a",
      "--groups",
      "g",
    ], /^only one of --rolearn or --sso can be supplied\n$/],
    [
      ["role", "--sso", "accountID=012345678912", "--username", "a", "--groups", "g"],
      /^required key 'permissionSetName' missing from --sso flag\n$/,
    ],
    [
      ["role", "--sso", "permissionSetName=X", "--username", "a", "--groups", "g"],
      /^required key 'accountID' missing from --sso flag\n$/,
    ],
    [
      ["role", "--sso", "permissionSetName=X,accountID=12", "--username", "a", "--groups", "g"],
      /^error validating --sso: AccountID '12' is not a valid AWS Account ID\n$/,
    ],
  ];
  for (const [argv, expected] of cases) {
    const io = capture();
    assert.equal(await runAdd(argv, io), 1, argv.join(" "));
    assert.match(io.out(), expected);
  }
  const help = capture();
  assert.equal(await runAdd([], help), 0);
  assert.match(help.out(), /add IAM entity to an existing aws-auth configmap/);
});

async function kubectl(kubeconfig: string, args: string[], stdin?: string): Promise<string> {
  const child = new Deno.Command("kubectl", {
    args: ["--kubeconfig", kubeconfig, ...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}

async function add(
  args: string[],
  stdin = "",
  env: Record<string, string> = {},
): Promise<{ code: number; out: string; err: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "add", ...args],
    env: { NO_COLOR: "1", ...env },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(stdin));
  await w.close();
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, out: dec.decode(out.stdout), err: dec.decode(out.stderr) };
}

const INITIAL = `apiVersion: v1
kind: ConfigMap
metadata:
  name: aws-auth
  namespace: kube-system
data:
  mapRoles: |
    - rolearn: arn:aws:iam::123456789101:role/test-NodeInstanceRole-1VWRHZ3GKZ1T4
      username: system:node:{{EC2PrivateDNSName}}
      groups:
        - system:bootstrappers
        - system:nodes
  mapAccounts: |
    - "012345678901"
`;

Deno.test({
  name: "add user / add role against a real kube-apiserver",
  async fn(t) {
    const kube = await startKubeApiServer();
    try {
      const kc = kube.kubeconfigPath;
      const base = ["--kubeconfig", kc];

      await t.step("a missing aws-auth is reported", async () => {
        const r = await add([
          "user",
          ...base,
          "--prompt=false",
          "--userarn",
          "arn:aws:iam::1:user/a",
          "--username",
          "a",
          "--groups",
          "g",
        ]);
        assert.equal(r.code, 1);
        assert.match(r.out, /failed to get configmap kube-system\/aws-auth: .*not found/);
      });

      await kubectl(kc, ["apply", "-f", "-"], INITIAL);

      await t.step("the prompt on stderr; anything but y/yes cancels", async () => {
        const r = await add(
          [
            "user",
            ...base,
            "--userarn",
            "arn:aws:iam::123456789012:user/alice",
            "--username",
            "alice",
            "--groups",
            "devs,ops",
          ],
          "n\n",
        );
        assert.equal(r.code, 0, r.out + r.err);
        const action =
          "add userarn arn:aws:iam::123456789012:user/alice, username alice, groups [devs ops]";
        assert.ok(r.err.includes(`Ready to "${action}", should we continue? [y/N]: `), r.err);
        assert.equal(r.out, `cancelled "${action}"\n`);
        const cm = parseYaml(
          await kubectl(kc, ["-n", "kube-system", "get", "cm", "aws-auth", "-o", "yaml"]),
        );
        assert.equal(cm.data.mapUsers, undefined);
      });

      await t.step("add user appends, re-encodes the whole ConfigMap and prints it", async () => {
        const r = await add(
          [
            "user",
            ...base,
            "--userarn",
            "arn:aws:iam::123456789012:user/alice",
            "--username",
            "alice",
            "--groups",
            "devs,ops",
          ],
          " YES \n",
        );
        assert.equal(r.code, 0, r.out + r.err);
        assert.match(r.out, /^updated configmap:\n\n/);
        const printed = parseYaml(r.out.slice("updated configmap:\n\n".length));
        assert.equal(printed.metadata.name, "aws-auth");
        const cm = parseYaml(
          await kubectl(kc, ["-n", "kube-system", "get", "cm", "aws-auth", "-o", "yaml"]),
        );
        assert.deepEqual(printed.data, cm.data);
        assert.equal(
          cm.data.mapRoles,
          "- rolearn: arn:aws:iam::123456789101:role/test-NodeInstanceRole-1VWRHZ3GKZ1T4\n" +
            "  username: system:node:{{EC2PrivateDNSName}}\n" +
            "  groups:\n  - system:bootstrappers\n  - system:nodes\n",
        );
        assert.equal(
          cm.data.mapUsers,
          "- userarn: arn:aws:iam::123456789012:user/alice\n  username: alice\n" +
            "  groups:\n  - devs\n  - ops\n",
        );
        assert.equal(cm.data.mapAccounts, '- "012345678901"\n');
      });

      await t.step(
        "duplicates are refused: users as written, roles case-insensitively",
        async () => {
          const u = await add([
            "user",
            ...base,
            "--prompt=false",
            "--userarn",
            "arn:aws:iam::123456789012:user/alice",
            "--username",
            "x",
            "--groups",
            "g",
          ]);
          assert.equal(u.code, 1);
          assert.equal(
            u.out,
            'cannot add duplicate user ARN "arn:aws:iam::123456789012:user/alice"\n',
          );
          const r = await add([
            "role",
            ...base,
            "--prompt=false",
            "--rolearn",
            "arn:aws:iam::123456789101:role/TEST-NodeInstanceRole-1VWRHZ3GKZ1T4",
            "--username",
            "x",
            "--groups",
            "g",
          ]);
          assert.equal(r.code, 1);
          assert.equal(
            r.out,
            'cannot add duplicate role ARN "arn:aws:iam::123456789101:role/test-nodeinstancerole-1vwrhz3gkz1t4"\n',
          );
        },
      );

      await t.step("add role --rolearn and --sso (port decision 6) both work", async () => {
        const r = await add([
          "role",
          ...base,
          "--prompt=false",
          "--rolearn",
          "arn:aws:iam::123456789012:role/Admin",
          "--username",
          "admin:{{SessionName}}",
          "--groups",
          "system:masters",
        ]);
        assert.equal(r.code, 0, r.out + r.err);
        const s = await add([
          "role",
          ...base,
          "--prompt=false",
          "--sso",
          "permissionSetName=ViewOnlyAccess,accountID=012345678912",
          "--username",
          "viewer:{{SessionName}}",
          "--groups",
          "viewers",
        ]);
        assert.equal(s.code, 0, s.out + s.err);
        const cm = parseYaml(
          await kubectl(kc, ["-n", "kube-system", "get", "cm", "aws-auth", "-o", "yaml"]),
        );
        assert.ok(
          cm.data.mapRoles.endsWith(
            "- rolearn: arn:aws:iam::123456789012:role/Admin\n  username: admin:{{SessionName}}\n" +
              "  groups:\n  - system:masters\n" +
              '- sso:\n    permissionSetName: ViewOnlyAccess\n    accountID: "012345678912"\n' +
              "  username: viewer:{{SessionName}}\n  groups:\n  - viewers\n",
          ),
          cm.data.mapRoles,
        );
        const dup = await add([
          "role",
          ...base,
          "--prompt=false",
          "--sso",
          "permissionSetName=viewonlyaccess,accountID=012345678912",
          "--username",
          "v",
          "--groups",
          "g",
        ]);
        assert.equal(dup.code, 1);
        assert.equal(
          dup.out,
          'cannot add duplicate role ARN "arn:aws:iam::012345678912:role/awsreservedsso_viewonlyaccess_*"\n',
        );
      });

      await t.step(
        "without --kubeconfig the default loading rules apply (KUBECONFIG)",
        async () => {
          const r = await add(
            [
              "user",
              "--prompt=false",
              "--userarn",
              "arn:aws:iam::123456789012:user/carol",
              "--username",
              "carol",
              "--groups",
              "g",
            ],
            "",
            { KUBECONFIG: kc },
          );
          assert.equal(r.code, 0, r.out + r.err);
          const cm = parseYaml(
            await kubectl(kc, ["-n", "kube-system", "get", "cm", "aws-auth", "-o", "yaml"]),
          );
          assert.match(
            cm.data.mapUsers,
            /userarn: arn:aws:iam::123456789012:user\/carol\n {2}username: carol\n/,
          );
        },
      );

      await t.step("a malformed aws-auth aborts without writing", async () => {
        await kubectl(kc, [
          "-n",
          "kube-system",
          "patch",
          "cm",
          "aws-auth",
          "--type",
          "merge",
          "-p",
          JSON.stringify({ data: { mapUsers: "- userarn: [unclosed" } }),
        ]);
        const r = await add([
          "user",
          ...base,
          "--prompt=false",
          "--userarn",
          "arn:aws:iam::1:user/b",
          "--username",
          "b",
          "--groups",
          "g",
        ]);
        assert.equal(r.code, 1);
        assert.match(r.out, /^failed to parse configmap kube-system\/aws-auth: /);
        const cm = parseYaml(
          await kubectl(kc, ["-n", "kube-system", "get", "cm", "aws-auth", "-o", "yaml"]),
        );
        assert.equal(cm.data.mapUsers, "- userarn: [unclosed");
      });
    } finally {
      await kube.stop();
    }
  },
});
