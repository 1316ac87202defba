import assert from "node:assert/strict";
import { buildServerConfig } from "../../src/config/mod.ts";
import { startAuthenticator } from "../../src/serve/mod.ts";
import { generateToken } from "../../src/sign/mod.ts";
import { startStsPeer } from "../peers/sts_peer.ts";
import { httpsRequest, postTokenReview } from "./https_client.ts";

const ALICE = {
  accessKeyId: "AKIAALICEEXAMPLE0001",
  secretAccessKey: "alice-secret",
  arn: "arn:aws:iam::123456789012:user/alice",
  userId: "AIDAALICEEXAMPLE",
  account: "123456789012",
};
const ROLE_SESSION = {
  accessKeyId: "ASIAROLESESSION00001",
  secretAccessKey: "role-secret",
  sessionToken: "session-token-value",
  arn: "arn:aws:sts::123456789012:assumed-role/Admin/bob@example.com",
  userId: "AROAADMINEXAMPLE:bob@example.com",
  account: "123456789012",
};
const MALLORY = {
  accessKeyId: "AKIAMALLORYEXAMPLE01",
  secretAccessKey: "mallory-secret",
  arn: "arn:aws:iam::999999999999:user/mallory",
  userId: "AIDAMALLORY",
  account: "999999999999",
};
const SCRUBBED = {
  accessKeyId: "AKIASCRUBBEDEXAMPLE1",
  secretAccessKey: "scrubbed-secret",
  arn: "arn:aws:iam::222222222222:user/ops",
  userId: "AIDASCRUBBED",
  account: "222222222222",
};

function fileConfig(doc: Record<string, unknown>) {
  return {
    get(key: string): unknown {
      let cur: unknown = doc;
      for (const seg of key.toLowerCase().split(".")) {
        if (cur === null || typeof cur !== "object") return undefined;
        const hit = Object.keys(cur).find((k) => k.toLowerCase() === seg);
        if (hit === undefined) return undefined;
        cur = (cur as Record<string, unknown>)[hit];
      }
      return cur;
    },
  };
}

Deno.test("startAuthenticator: config → TLS server → verifier → STS peer → mapping", async () => {
  const peer = await startStsPeer({ principals: [ALICE, ROLE_SESSION, MALLORY, SCRUBBED] });
  const dir = await Deno.makeTempDir();
  const lines: { level: string; msg: string; props: Record<string, unknown> }[] = [];
  const rec = (level: string) => (msg: string, props: Record<string, unknown> = {}) =>
    lines.push({ level, msg, props });
  const config = buildServerConfig({
    env: () => undefined,
    file: fileConfig({
      clusterID: "app-test",
      server: {
        port: 0,
        healthPort: 0,
        stateDir: `${dir}/state`,
        generateKubeconfig: `${dir}/kubeconfig.yaml`,
        hostname: "127.0.0.1",
        scrubbedAccounts: ["222222222222"],
        mapUsers: [
          { userARN: ALICE.arn, username: "alice", groups: ["devs", "ops"] },
          { userARN: SCRUBBED.arn, username: "ops", groups: ["ops"] },
        ],
        mapRoles: [{
          rolearn: "arn:aws:iam::123456789012:role/Admin",
          username: "admin:{{SessionName}}",
          groups: ["system:masters"],
        }],
      },
    }),
  });
  const env = (name: string) =>
    ({ AWS_ENDPOINT_URL_STS: peer.url, AWS_REGION: "us-west-2" } as Record<string, string>)[name];
  const server = await startAuthenticator(config, {
    env,
    logger: { debug: rec("debug"), info: rec("info"), warn: rec("warn"), error: rec("error") },
  });
  try {
    const mint = (p: typeof ALICE & { sessionToken?: string }) =>
      generateToken({
        clusterId: "app-test",
        credentials: p,
        endpoint: peer.url,
        signingRegion: "us-west-2",
        now: new Date(),
      }).then((t) => t.token);

    const aliceToken = await mint(ALICE);
    const alice = await postTokenReview(server.url, server.certPem, aliceToken);
    assert.equal(alice.status, 200);
    const aliceUser = (alice.body.status as { user: Record<string, unknown> }).user;
    assert.equal(aliceUser.username, "alice");
    assert.deepEqual(aliceUser.groups, ["devs", "ops"]);
    assert.deepEqual(aliceUser.extra, {
      accessKeyId: [ALICE.accessKeyId],
      arn: [ALICE.arn],
      canonicalArn: [ALICE.arn],
      principalId: [ALICE.userId],
      sessionName: [""],
      "sigs.k8s.io/aws-iam-authenticator/principalId": [ALICE.userId],
    });

    const role = await postTokenReview(
      server.url,
      server.certPem,
      await mint(ROLE_SESSION),
      "authentication.k8s.io/v1beta1",
    );
    assert.equal(role.status, 200);
    assert.equal(role.body.apiVersion, "authentication.k8s.io/v1beta1");
    const roleUser = (role.body.status as { user: Record<string, unknown> }).user;
    assert.equal(roleUser.username, "admin:bob-example.com");
    assert.equal(roleUser.uid, "aws-iam-authenticator:123456789012:AROAADMINEXAMPLE");
    assert.deepEqual((roleUser.extra as Record<string, unknown>).sessionName, ["bob@example.com"]);

    const scrubbed = await postTokenReview(server.url, server.certPem, await mint(SCRUBBED));
    const scrubbedUser = (scrubbed.body.status as { user: Record<string, unknown> }).user;
    assert.equal(scrubbedUser.uid, "aws-iam-authenticator:administrative:ops");
    assert.equal(scrubbedUser.extra, undefined);

    const mallory = await postTokenReview(server.url, server.certPem, await mint(MALLORY));
    assert.equal(mallory.status, 200);
    assert.deepEqual(mallory.body, {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenReview",
      metadata: {},
      spec: {},
      status: {
        user: {},
        error: `map.not_mapped: identity ${MALLORY.arn} is not mapped. Ask an administrator ` +
          "to map the canonical ARN (an assumed role is mapped by its IAM role ARN, without the " +
          "session).",
      },
    });

    const metrics = await httpsRequest(
      `https://127.0.0.1:${server.addr.port}/metrics`,
      server.certPem,
    );
    assert.match(metrics.body, /authenticate_latency_seconds_count\{result="unknown_user"\} 1/);
    assert.match(metrics.body, /denials_total\{reason="map.not_mapped"\} 1/);
    assert.match(metrics.body, /denials_total\{reason="token.expired"\} 0/);
    assert.match(metrics.body, /authenticate_latency_seconds_count\{result="success"\} 3/);

    // One line per review with outcome, ARN, username and latency; no token anywhere.
    const reviews = lines.filter((l) => l.props.path === "/authenticate");
    assert.equal(reviews.length, 4);
    const granted = reviews.find((l) => l.props.username === "alice");
    assert.equal(granted?.msg, "access granted");
    assert.equal(granted?.props.outcome, "success");
    assert.equal(granted?.props.arn, ALICE.arn);
    assert.equal(typeof granted?.props.latencyMs, "number");
    const denied = reviews.find((l) => l.props.outcome === "unknown_user");
    assert.equal(denied?.msg, "access denied");
    assert.equal(denied?.props.arn, MALLORY.arn);
    const scrubbedLine = reviews.find((l) => l.props.username === "ops");
    assert.equal(scrubbedLine?.props.arn, undefined);
    const all = JSON.stringify(lines);
    assert.equal(all.includes(aliceToken), false);
    assert.equal(all.includes("X-Amz-Signature"), false);
    assert.ok(lines.some((l) => l.msg === "mapping IAM user"));
  } finally {
    await server.close();
    await peer.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("startAuthenticator: an unusable state dir fails startup and releases the mapper", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/file`, "");
    const config = buildServerConfig({
      flags: {
        clusterID: "x",
        "server.port": 0,
        "server.healthPort": 0,
        "server.stateDir": `${dir}/file/state`,
        "server.generateKubeconfig": `${dir}/kubeconfig.yaml`,
      },
    });
    await assert.rejects(
      startAuthenticator(config, {
        env: () => undefined,
        region: "",
        logger: { debug() {}, info() {}, warn() {}, error() {} },
      }),
      /state dir/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("startAuthenticator: a body that stops arriving gets 408 at the body deadline", async () => {
  const dir = await Deno.makeTempDir();
  const config = buildServerConfig({
    flags: {
      clusterID: "x",
      "server.port": 0,
      "server.healthPort": 0,
      "server.hostname": "127.0.0.1",
      "server.stateDir": `${dir}/state`,
      "server.generateKubeconfig": `${dir}/kubeconfig.yaml`,
    },
  });
  const server = await startAuthenticator(config, {
    env: () => undefined,
    region: "",
    bodyTimeoutMs: 200,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
  });
  // A raw TLS connection that trusts only the server's CA (openssl, as in https_client.ts: the
  // serving certificate is a CA certificate, which rustls refuses as an end entity).
  const caFile = `${dir}/ca.pem`;
  await Deno.writeTextFile(caFile, server.certPem);
  const client = new Deno.Command("openssl", {
    args: [
      "s_client",
      "-quiet",
      "-verify_return_error",
      "-CAfile",
      caFile,
      "-connect",
      `127.0.0.1:${server.addr.port}`,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const writer = client.stdin.getWriter();
  try {
    const start = performance.now();
    await writer.write(new TextEncoder().encode(
      "POST /authenticate HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n" +
        'content-length: 100\r\n\r\n{"apiVersion":',
    ));
    const reader = client.stdout.getReader();
    const first = await reader.read();
    const elapsed = performance.now() - start;
    reader.releaseLock();
    const head = new TextDecoder().decode(first.value ?? new Uint8Array());
    assert.match(head, /^HTTP\/1\.1 408 /);
    // The shared deadline timer fires at most 10 ms (1/20 of 200 ms) late; the TLS handshake
    // happens inside the measured time, so only the lower bound is tight.
    assert.ok(elapsed >= 190, `answered after ${elapsed} ms, before the deadline`);
    assert.ok(elapsed < 2000, `answered after ${elapsed} ms`);
  } finally {
    await writer.close().catch(() => {});
    await client.stdout.cancel().catch(() => {});
    try {
      client.kill();
    } catch {
      // already exited
    }
    await client.status;
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});
