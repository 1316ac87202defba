/**
 * `explain`, step by step, against the SigV4-checking STS peer: every reason it can report has a
 * case here, and the cases that must not touch the network check the peer saw nothing.
 */
import assert from "node:assert/strict";
import { generateToken } from "../../src/sign/mod.ts";
import { type PeerPrincipal, startStsPeer } from "../peers/sts_peer.ts";
import { runMain } from "../cli/_main.ts";
import { startMoto } from "../map/_moto.ts";
import { credentialsOf, type ExplainRun, explainWith, tempDir } from "./_helpers.ts";

const ACCT = "111122223333";
const ALICE: PeerPrincipal = {
  accessKeyId: "AKIAEXPLAINALICE0001",
  secretAccessKey: "alice-secret-key-value",
  arn: `arn:aws:iam::${ACCT}:user/alice`,
  userId: "AIDAALICE",
  account: ACCT,
};
const BOB: PeerPrincipal = {
  accessKeyId: "AKIAEXPLAINBOBBB0002",
  secretAccessKey: "bob-secret-key-value",
  arn: `arn:aws:iam::${ACCT}:user/devs/bob`,
  userId: "AIDABOB",
  account: ACCT,
};
const NODE: PeerPrincipal = {
  accessKeyId: "ASIAEXPLAINNODE00003",
  secretAccessKey: "node-secret-key-value",
  sessionToken: "node-session-token-value",
  arn: `arn:aws:sts::${ACCT}:assumed-role/Nodes/i-0123456789abcdef0`,
  userId: "AROANODES:i-0123456789abcdef0",
  account: ACCT,
};
const EXPIRED: PeerPrincipal = {
  accessKeyId: "ASIAEXPLAINEXPIRED04",
  secretAccessKey: "expired-secret-key-value",
  sessionToken: "expired-session-token-value",
  arn: `arn:aws:sts::${ACCT}:assumed-role/Dev/carol`,
  userId: "AROADEV:carol",
  account: ACCT,
  expiresAt: new Date(Date.now() - 60_000),
};

const CONFIG = `clusterID: prod
server:
  reservedPrefixConfig:
  - backendMode: MountedFile
    usernamePrefixReserveList: ["admin:"]
  mapUsers:
  - userarn: arn:aws:iam::${ACCT}:user/alice
    username: alice
    groups: [system:masters]
  - userarn: arn:aws:iam::${ACCT}:user/bob
    username: bob
  mapRoles:
  - rolearn: arn:aws:iam::${ACCT}:role/Nodes
    username: system:node:{{EC2PrivateDNSName}}
    groups: [system:nodes]
  - rolearn: arn:aws:iam::${ACCT}:role/Dev
    username: admin:{{SessionName}}
`;

async function setup() {
  const peer = await startStsPeer({ principals: [ALICE, BOB, NODE, EXPIRED] });
  const dir = await tempDir();
  const config = await dir.file("server.yaml", CONFIG);
  return {
    peer,
    dir,
    config,
    run: (args: string[], p?: PeerPrincipal, env: Record<string, string> = {}, now?: () => Date) =>
      explainWith(args, {
        stsUrl: peer.url,
        env: { ...(p ? credentialsOf(p) : {}), ...env },
        now,
      }),
    async [Symbol.asyncDispose]() {
      await peer.close();
      await dir[Symbol.asyncDispose]();
    },
  };
}

function line(run: ExplainRun, step: string): string {
  return run.stdout.split("\n").find((l) => l.slice(2).startsWith(`${step}:`)) ?? "";
}

async function mint(p: PeerPrincipal, clusterId: string, endpoint: string, now = new Date()) {
  return (await generateToken({
    clusterId,
    credentials: p,
    endpoint,
    signingRegion: "us-east-1",
    now,
  })).token;
}

Deno.test("explain: a mapped user is authenticated (exit 0) with the rendered user", async () => {
  await using s = await setup();
  const r = await s.run(["-i", "prod", "-c", s.config], ALICE);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(line(r, "Credentials"), /^✔ Credentials: from the environment/);
  assert.match(line(r, "Token"), /^✔ Token: /);
  assert.match(line(r, "STS"), /^✔ STS: arn:aws:iam::111122223333:user\/alice$/);
  assert.match(
    line(r, "Mapping"),
    /^✔ Mapping: authenticated as "alice", groups \[system:masters\]/,
  );
  assert.match(r.stdout, /Verdict: authenticated as "alice", groups system:masters/);
});

Deno.test("explain: map.not_mapped with the closest entry (a user path) and the ARN the server sees", async () => {
  await using s = await setup();
  const r = await s.run(["-i", "prod", "-c", s.config], BOB);
  assert.equal(r.code, 1);
  assert.match(line(r, "Mapping"), /^✘ Mapping: map\.not_mapped: /);
  assert.match(r.stdout, /arn:aws:iam::111122223333:user\/bob: the user path differs/);
  assert.match(r.stdout, /The server sees: arn:aws:iam::111122223333:user\/devs\/bob/);
});

Deno.test("explain: token.cluster_mismatch found locally when -i differs from the server's clusterID", async () => {
  await using s = await setup();
  const before = s.peer.requestCount;
  const r = await s.run(["-i", "staging", "-c", s.config], ALICE);
  assert.equal(r.code, 1);
  assert.match(line(r, "Token"), /^✘ Token: token\.cluster_mismatch: .*"staging".*"prod"/);
  assert.match(r.stdout, /→ Use -i prod /);
  assert.equal(s.peer.requestCount, before, "no STS call");
});

Deno.test("explain -t: a pasted token for another cluster is told by STS and named as the likely cause", async () => {
  await using s = await setup();
  const token = await mint(ALICE, "staging", s.peer.url);
  const r = await s.run(["-t", token, "-c", s.config]);
  assert.equal(r.code, 1);
  assert.match(line(r, "Credentials"), /^– Credentials: -t given/);
  assert.match(r.stdout, /cluster ID: not in the token .* the server expects "prod"/);
  assert.match(line(r, "STS"), /^✘ STS: token\.cluster_mismatch: .*SignatureDoesNotMatch/);
  assert.match(r.stdout, /minted for another cluster ID: the server expects "prod"/);
});

Deno.test("explain: an expired, a future-dated and a foreign-host token are refused before any network call", async () => {
  await using s = await setup();
  const before = s.peer.requestCount;
  const old = await mint(ALICE, "prod", s.peer.url, new Date(Date.now() - 20 * 60_000));
  const future = await mint(ALICE, "prod", s.peer.url, new Date(Date.now() + 6 * 60_000));
  const foreign = await mint(ALICE, "prod", "https://sts.evil.example.com");
  const cases: [string, RegExp][] = [
    [old, /^✘ Token: token\.expired: .*X-Amz-Date parameter is expired/],
    [future, /^✘ Token: token\.future: /],
    [foreign, /^✘ Token: token\.sts_host: .*sts\.evil\.example\.com/],
    ["k8s-aws-v1.!!!", /^✘ Token: token\.encoding: /],
    ["eyJhbGciOiJSUzI1NiJ9.e30.sig", /^✘ Token: token\.prefix: /],
  ];
  for (const [token, want] of cases) {
    const r = await s.run(["-t", token, "-i", "prod"]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(line(r, "Token"), want);
    assert.match(r.stdout, /Verdict: denied \(token\./);
  }
  assert.equal(s.peer.requestCount, before, "no STS call");
});

Deno.test("explain: STS answers become reasons (unknown key, expired session, throttling, 5xx)", async () => {
  await using s = await setup();
  const stranger = { ...ALICE, accessKeyId: "AKIAUNKNOWNKEY000009" };
  let r = await s.run(["-i", "prod", "-c", s.config], stranger);
  assert.equal(r.code, 1);
  assert.match(line(r, "STS"), /^✘ STS: sts\.invalid_credentials: .*InvalidClientTokenId/);

  r = await s.run(["-i", "prod", "-c", s.config], { ...EXPIRED, expiresAt: undefined });
  assert.match(line(r, "STS"), /^✘ STS: sts\.expired_credentials: .*ExpiredToken/);

  s.peer.setFaults({ throttle: true });
  r = await s.run(["-i", "prod", "-c", s.config], ALICE);
  assert.match(line(r, "STS"), /^✘ STS: sts\.throttled: /);

  s.peer.setFaults({ status: 503 });
  r = await s.run(["-i", "prod", "-c", s.config], ALICE);
  assert.match(line(r, "STS"), /^✘ STS: sts\.unavailable: .*got 503/);
  assert.equal(r.code, 1);
});

Deno.test("explain: STS that cannot be reached is sts.unreachable", async () => {
  const r = await explainWith(["-i", "prod", "--offline=false"], {
    stsUrl: "http://127.0.0.1:9",
    env: credentialsOf(ALICE),
  });
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^✘ STS: sts\.unreachable: /m);
});

Deno.test("explain: credentials that are missing (exit 2) or expired (exit 1)", async () => {
  await using s = await setup();
  let r = await s.run(["-i", "prod", "-c", s.config]);
  assert.equal(r.code, 2);
  assert.match(line(r, "Credentials"), /^✘ Credentials: credentials\.none: /);
  assert.match(r.stdout, /Verdict: inconclusive/);

  r = await s.run(["-i", "prod", "-c", s.config], EXPIRED, {
    AWS_CREDENTIAL_EXPIRATION: new Date(Date.now() - 60_000).toISOString(),
  });
  assert.equal(r.code, 1);
  assert.match(line(r, "Credentials"), /^✘ Credentials: credentials\.expired: .*expired 1m 0s ago/);
});

Deno.test("explain -r: an AssumeRole the role's trust refuses is credentials.assume_role", async () => {
  await using s = await setup();
  s.peer.addRole({
    arn: `arn:aws:iam::${ACCT}:role/Locked`,
    roleId: "AROALOCKED",
    trust: () => false,
  });
  const r = await s.run(["-i", "prod", "-r", `arn:aws:iam::${ACCT}:role/Locked`], ALICE);
  assert.equal(r.code, 2);
  assert.match(
    line(r, "Credentials"),
    /^✘ Credentials: credentials\.assume_role: could not assume/,
  );
  assert.match(r.stdout, /AccessDenied|not authorized/);
});

Deno.test("explain -r: the assumed role's session is what the server sees", async () => {
  await using s = await setup();
  s.peer.addRole({ arn: `arn:aws:iam::${ACCT}:role/Dev`, roleId: "AROADEV" });
  const r = await s.run(
    ["-i", "prod", "-c", s.config, "-r", `arn:aws:iam::${ACCT}:role/Dev`, "-s", "alice"],
    ALICE,
  );
  assert.match(r.stdout, /assumed arn:aws:iam::111122223333:role\/Dev: access key ASIA…/);
  assert.match(line(r, "STS"), /assumed-role\/Dev\/alice$/);
  // The mapping renders admin:alice, which MountedFile's reserved prefixes refuse.
  assert.match(line(r, "Mapping"), /^✘ Mapping: map\.reserved_prefix: /);
  assert.match(
    r.stdout,
    /reserved prefixes of MountedFile \[admin:\]: the username begins with one/,
  );
  assert.equal(r.code, 1);
});

Deno.test("explain: clock skew the server would refuse is a ✘ with the fix", async () => {
  await using s = await setup();
  // This machine 2 minutes behind: STS accepts the token, but the server would see it expire
  // while kubectl still uses it.
  const behind = () => new Date(Date.now() - 2 * 60_000);
  let r = await s.run(["-i", "prod", "-c", s.config], ALICE, {}, behind);
  assert.equal(r.code, 1);
  assert.match(
    line(r, "STS"),
    /^✘ STS: clock\.skew: this machine's clock is (1m 59s|2m 0s|2m 1s) behind STS/,
  );
  assert.match(r.stdout, /→ Synchronize the clock/);
  // 30 s ahead is within what the server tolerates.
  r = await s.run(["-i", "prod", "-c", s.config], ALICE, {}, () => new Date(Date.now() + 30_000));
  assert.equal(r.code, 0, r.stdout);
  assert.match(r.stdout, /clock: this machine is (29|30|31)s ahead of STS/);
});

Deno.test("explain --offline: no STS call, no verdict", async () => {
  await using s = await setup();
  const before = s.peer.requestCount;
  const r = await s.run(["-i", "prod", "-c", s.config, "--offline"], ALICE);
  assert.equal(r.code, 2);
  assert.match(line(r, "STS"), /^– STS: --offline/);
  assert.equal(s.peer.requestCount, before);
});

Deno.test("explain --arn: the mapping question alone, no token and no STS call", async () => {
  await using s = await setup();
  const before = s.peer.requestCount;
  let r = await s.run(["--arn", `arn:aws:iam::${ACCT}:user/alice`, "-c", s.config]);
  assert.equal(r.code, 0);
  assert.match(line(r, "Credentials"), /^– Credentials: --arn given/);
  r = await s.run(["--arn", `arn:aws:iam::444455556666:user/alice`, "-c", s.config]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /user\/alice: another account \(111122223333; you are in 444455556666\)/);
  assert.equal(r.stdout.includes("An administrator can finish"), false);
  assert.equal(s.peer.requestCount, before);
});

Deno.test("explain --arn: template failures are map.template and map.empty_username", async () => {
  await using s = await setup();
  const config = await s.dir.file(
    "templates.yaml",
    `clusterID: prod
server:
  mapRoles:
  - rolearn: arn:aws:iam::${ACCT}:role/Nodes
    username: system:node:{{EC2PrivateDNSName}}
  mapUsers:
  - userarn: arn:aws:iam::${ACCT}:user/svc
    username: "{{SessionName}}"
`,
  );
  let r = await s.run(["--arn", `arn:aws:sts::${ACCT}:assumed-role/Nodes/alice`, "-c", config]);
  assert.equal(r.code, 1);
  assert.match(
    line(r, "Mapping"),
    /^✘ Mapping: map\.template: .*SessionName did not contain an instance id/,
  );
  r = await s.run(["--arn", `arn:aws:iam::${ACCT}:user/svc`, "-c", config]);
  assert.match(line(r, "Mapping"), /^✘ Mapping: map\.empty_username: /);
});

Deno.test("explain --arn: account auto-mapping, and DynamicFile in the order of the backend-mode file", async () => {
  await using s = await setup();
  const dynamic = await s.dir.file(
    "dynamic.json",
    JSON.stringify({
      mapUsers: [{ userarn: `arn:aws:iam::${ACCT}:user/dana`, username: "dana-dynamic" }],
    }),
  );
  const modeFile = await s.dir.file(
    "mode.json",
    JSON.stringify({ backendMode: "DynamicFile MountedFile" }),
  );
  const config = await s.dir.file(
    "dyn.yaml",
    `clusterID: prod
server:
  backendMode: [MountedFile, DynamicFile]
  dynamicfilepath: ${dynamic}
  dynamicBackendModePath: ${modeFile}
  mapAccounts: ["${ACCT}"]
  mapUsers:
  - userarn: arn:aws:iam::${ACCT}:user/dana
    username: dana-mounted
`,
  );
  let r = await s.run(["--arn", `arn:aws:iam::${ACCT}:user/dana`, "-c", config]);
  assert.equal(r.code, 0, r.stdout);
  assert.match(r.stdout, /backend order from .*mode\.json/);
  assert.match(r.stdout, /DynamicFile \(.*dynamic\.json\): matched .*dynamic\.json:1:\d+: /);
  assert.match(r.stdout, /authenticated as "dana-dynamic"/);
  r = await s.run(["--arn", `arn:aws:iam::${ACCT}:user/erin`, "-c", config]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /account 111122223333 is auto-mapped/);
  assert.match(r.stdout, /authenticated as "arn:aws:iam::111122223333:user\/erin", groups \[\]/);
});

Deno.test("explain: a backend that was not read leaves the verdict open, and says what to pass", async () => {
  await using s = await setup();
  const config = await s.dir.file(
    "cm.yaml",
    `clusterID: prod
server:
  backendMode: [EKSConfigMap, MountedFile]
  mapUsers:
  - userarn: arn:aws:iam::${ACCT}:user/alice
    username: alice
`,
  );
  const r = await s.run(["-i", "prod", "-c", config], ALICE);
  assert.equal(r.code, 2, r.stdout);
  assert.match(line(r, "Mapping"), /^– Mapping: not decided: .*EKSConfigMap \(pass --kubeconfig/);
  assert.match(r.stdout, /explain --arn arn:aws:iam::111122223333:user\/alice --config /);
});

Deno.test("explain -o json: the documented shape", async () => {
  await using s = await setup();
  const r = await s.run(["-i", "prod", "-c", s.config, "-o", "json"], BOB);
  assert.equal(r.code, 1);
  const doc = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(doc), [
    "apiVersion",
    "verdict",
    "exitCode",
    "reason",
    "canonicalArn",
    "user",
    "next",
    "steps",
  ]);
  assert.equal(doc.apiVersion, "explain.aws-iam-authenticator/v1");
  assert.equal(doc.verdict, "denied");
  assert.equal(doc.exitCode, 1);
  assert.equal(doc.reason, "map.not_mapped");
  assert.equal(doc.canonicalArn, BOB.arn);
  assert.deepEqual(doc.steps.map((x: { step: string; status: string }) => [x.step, x.status]), [
    ["credentials", "ok"],
    ["token", "ok"],
    ["sts", "ok"],
    ["mapping", "fail"],
  ]);
  for (const step of doc.steps) {
    assert.deepEqual(Object.keys(step), [
      "step",
      "status",
      "reason",
      "summary",
      "fix",
      "details",
      "facts",
    ]);
  }
  const [cred, token, sts, mapping] = doc.steps;
  assert.deepEqual(
    [cred.facts.source, cred.facts.accessKeyId, cred.facts.temporary],
    ["environment", "AKIA…0002", false],
  );
  assert.equal(token.facts.clusterId, "prod");
  assert.equal(token.facts.serverClusterId, "prod");
  assert.ok(token.facts.secondsLeft > 890);
  assert.equal(sts.facts.canonicalArn, BOB.arn);
  assert.equal(typeof sts.facts.clockSkewSeconds, "number");
  assert.equal(mapping.reason, "map.not_mapped");
  assert.deepEqual(mapping.facts.nearMisses[0], {
    backend: "MountedFile",
    location: mapping.facts.nearMisses[0].location,
    arn: `arn:aws:iam::${ACCT}:user/bob`,
    why: 'the user path differs: user ARNs keep their path, and yours is "/devs/"',
  });
  assert.deepEqual(mapping.facts.trace.map((e: { event: string }) => e.event), [
    "no_match",
    "account",
  ]);
});

Deno.test("explain never prints a secret key, a session token or a signature", async () => {
  await using s = await setup();
  const secrets = [NODE.secretAccessKey, NODE.sessionToken!];
  // The node role mapped without {{EC2PrivateDNSName}}: no EC2 lookup leaves this machine.
  const config = await s.dir.file(
    "nodes.yaml",
    `clusterID: prod\nserver:\n  mapRoles:\n  - rolearn: arn:aws:iam::${ACCT}:role/Nodes\n    username: node\n`,
  );
  for (const args of [["-i", "prod", "-c", config], ["-i", "prod", "-c", config, "-o", "json"]]) {
    const r = await s.run(args, NODE, { AWS_REGION: "us-east-1" });
    const all = r.stdout + r.stderr;
    for (const secret of secrets) assert.equal(all.includes(secret), false, secret);
    assert.match(all, /X-Amz-Signature=<redacted>/);
    assert.match(all, /X-Amz-Security-Token=<redacted>/);
    assert.doesNotMatch(all, /X-Amz-Signature=[0-9a-f]/);
    assert.equal(all.includes(NODE.accessKeyId), false, "the key ID is masked too");
  }
  const token = await mint(NODE, "prod", s.peer.url);
  const signature = /X-Amz-Signature%3D([0-9a-f]+)|X-Amz-Signature=([0-9a-f]+)/.exec(
    atob(token.slice(11).replaceAll("-", "+").replaceAll("_", "/")),
  );
  const r = await s.run(["-t", token, "-c", s.config]);
  assert.ok(signature);
  assert.equal(r.stdout.includes(signature[1] ?? signature[2]!), false);
});

Deno.test("explain: what it cannot run without is exit 2 with the fix", async () => {
  await using s = await setup();
  let r = await s.run([], ALICE);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /explain: .*pass -i CLUSTER_ID/);
  r = await s.run(["-i", "prod", "-c", `${s.dir.path}/missing.yaml`], ALICE);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /explain: cannot read the mapping sources: .*missing\.yaml:1:1: input\.unreadable: /,
  );
  r = await s.run(["--arn", "not-an-arn", "-c", s.config]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--arn "not-an-arn" is not an identity ARN/);
  r = await s.run(["--bogus"]);
  assert.equal(r.code, 2);
});

Deno.test("explain: a huge, binary, deeply nested or alias-bomb config is a clear exit 2, at once", async () => {
  await using dir = await tempDir();
  const bomb = ["a: &a [x,x,x,x,x,x,x,x,x]"];
  for (const [n, p] of [["b", "a"], ["c", "b"], ["d", "c"], ["e", "d"], ["f", "e"]]) {
    bomb.push(`${n}: &${n} [${Array(9).fill(`*${p}`).join(",")}]`);
  }
  const cases: [string, string | Uint8Array, RegExp][] = [
    [
      "huge.yaml",
      "a: " + "x".repeat(17 * 1024 * 1024),
      /input\.too_large: .*at most 16777216 bytes/,
    ],
    ["bin.yaml", new Uint8Array([0, 1, 2, 99, 58, 32, 120]), /input\.binary: /],
    ["deep.yaml", "a: " + "[".repeat(100_000) + "]".repeat(100_000), /input\.too_deep: /],
    ["bomb.yaml", bomb.join("\n") + "\n", /syntax\.aliases: /],
  ];
  for (const [name, content, want] of cases) {
    const path = `${dir.path}/${name}`;
    if (typeof content === "string") await Deno.writeTextFile(path, content);
    else await Deno.writeFile(path, content);
    const r = await explainWith(["--arn", `arn:aws:iam::${ACCT}:user/x`, "-c", path]);
    assert.equal(r.code, 2, name);
    assert.match(r.stderr, want, name);
  }
});

Deno.test("explain: credentials from a profile's static keys and from credential_process, named", async () => {
  await using s = await setup();
  const credentials = await s.dir.file(
    "credentials",
    `[dev]\naws_access_key_id = ${ALICE.accessKeyId}\naws_secret_access_key = ${ALICE.secretAccessKey}\n`,
  );
  const expiry = new Date(Date.now() + 3600_000).toISOString();
  // Temporary credentials of alice's, as a credential_process (e.g. a vault helper) hands out.
  const PROC: PeerPrincipal = {
    ...ALICE,
    accessKeyId: "ASIAEXPLAINPROC00005",
    secretAccessKey: "proc-secret-key-value",
    sessionToken: "proc-session-token-value",
  };
  s.peer.addPrincipal(PROC);
  const process = await s.dir.file(
    "process.sh",
    `#!/bin/sh\necho '{"Version":1,"AccessKeyId":"${PROC.accessKeyId}","SecretAccessKey":"${PROC.secretAccessKey}","SessionToken":"${PROC.sessionToken}","Expiration":"${expiry}"}'\n`,
  );
  await Deno.chmod(process, 0o755);
  const config = await s.dir.file("config", `[profile proc]\ncredential_process = ${process}\n`);
  const files = { AWS_SHARED_CREDENTIALS_FILE: credentials, AWS_CONFIG_FILE: config };

  const r = await s.run(["-i", "prod", "-c", s.config], undefined, {
    ...files,
    AWS_PROFILE: "dev",
  });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(
    line(r, "Credentials"),
    new RegExp(
      `✔ Credentials: from profile dev in ${credentials}, static keys, access key AKIA…0001, long-term`,
    ),
  );

  // credential_process goes through the AWS SDK's chain, which reads the real environment: a
  // process of its own, as kubectl would start it.
  const p = await runMain(["explain", "-i", "prod", "-c", s.config, "-o", "json"], {
    env: {
      ...files,
      AWS_PROFILE: "proc",
      AWS_ACCESS_KEY_ID: "",
      AWS_SECRET_ACCESS_KEY: "",
      AWS_SESSION_TOKEN: "",
      AWS_ENDPOINT_URL_STS: s.peer.url,
      AWS_REGION: "us-east-1",
      AWS_EC2_METADATA_DISABLED: "true",
    },
  });
  const cred = JSON.parse(p.out).steps[0];
  assert.equal(cred.status, "ok", p.out + p.err);
  assert.equal(p.code, 0, p.out);
  for (const secret of [PROC.secretAccessKey, PROC.sessionToken!]) {
    assert.equal((p.out + p.err).includes(secret), false);
  }
  assert.equal(cred.facts.source, "credential_process");
  assert.equal(cred.facts.temporary, true);
  assert.equal(cred.facts.expiration, expiry);
  assert.match(
    cred.summary,
    /^from profile proc in .*config, credential_process, access key ASIA…0005, expires in (59m|1h 0m)/,
  );
});

Deno.test("explain: {{EC2PrivateDNSName}} is rendered through DescribeInstances (moto), as the server does", async () => {
  const moto = await startMoto();
  try {
    const [instance] = await moto.runInstances(1);
    await using dir = await tempDir();
    const config = await dir.file(
      "nodes.yaml",
      `clusterID: prod\nserver:\n  mapRoles:\n  - rolearn: arn:aws:iam::${ACCT}:role/Nodes\n` +
        `    username: system:node:{{EC2PrivateDNSName}}\n    groups: [system:nodes]\n`,
    );
    const env = {
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      AWS_REGION: "us-east-1",
      AWS_ENDPOINT_URL_EC2: moto.url,
      AWS_EC2_METADATA_DISABLED: "true",
    };
    const arn = `arn:aws:sts::${ACCT}:assumed-role/Nodes/${instance!.id}`;
    const r = await runMain(["explain", "--arn", arn, "-c", config], { env });
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, new RegExp(`authenticated as "system:node:${instance!.dns}"`));
    // Offline, the lookup is not made and the template cannot be rendered.
    const off = await runMain(["explain", "--arn", arn, "-c", config, "--offline"], { env });
    assert.equal(off.code, 1);
    assert.match(off.out, /✘ Mapping: map\.template: .*no EC2 client is configured/);
  } finally {
    await moto.stop();
  }
});
