import { writeCaAndLeaf } from "./test_ca.ts";
import { strict as assert } from "node:assert";
import { pythonJson } from "./python_json.ts";
import {
  type PeerPrincipal,
  startStsPeer,
  type StsAnswerRecord,
  type StsPeer,
} from "./sts_peer.ts";

const ALICE: PeerPrincipal = {
  accessKeyId: "AKIAIOSFODNN7EXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  arn: "arn:aws:iam::123456789012:user/alice",
  userId: "AIDAEXAMPLEALICE0000",
  account: "123456789012",
};
const ADMIN_ROLE = {
  arn: "arn:aws:iam::123456789012:role/ops/Admin",
  roleId: "AROAEXAMPLEADMIN0000",
};

/** Presigns / calls STS with botocore: an independent SigV4 implementation. */
const BOTO = `
import json, sys, botocore.session
cfg = json.load(sys.stdin)
s = botocore.session.get_session()
s.set_credentials(cfg['ak'], cfg['sk'], cfg.get('st'))
c = s.create_client('sts', region_name=cfg['region'], endpoint_url=cfg['endpoint'], verify=cfg.get('ca'))
op = cfg['op']
if op == 'presign':
    def add(request, **kw):
        request.headers['x-k8s-aws-id'] = cfg['cluster']
    c.meta.events.register('before-sign.sts.GetCallerIdentity', add)
    print(json.dumps(c.generate_presigned_url('get_caller_identity', ExpiresIn=60, HttpMethod='GET')))
elif op == 'assume':
    kw = dict(RoleArn=cfg['role'], RoleSessionName=cfg['session'])
    if 'external' in cfg: kw['ExternalId'] = cfg['external']
    if 'duration' in cfg: kw['DurationSeconds'] = cfg['duration']
    try:
        r = c.assume_role(**kw)
        cr = r['Credentials']
        print(json.dumps({'ak': cr['AccessKeyId'], 'sk': cr['SecretAccessKey'], 'st': cr['SessionToken'],
                          'arn': r['AssumedRoleUser']['Arn'], 'id': r['AssumedRoleUser']['AssumedRoleId']}))
    except c.exceptions.ClientError as e:
        print(json.dumps({'error': e.response['Error']['Code']}))
elif op == 'whoami':
    r = c.get_caller_identity()
    print(json.dumps({'arn': r['Arn'], 'id': r['UserId'], 'account': r['Account']}))
`;

interface BotoCreds {
  ak: string;
  sk: string;
  st?: string;
}

function boto(cfg: Record<string, unknown>): Promise<unknown> {
  return pythonJson(BOTO, cfg);
}

function presign(peer: StsPeer, c: BotoCreds, cluster: string, region = "us-west-2") {
  return boto({ op: "presign", ...c, region, endpoint: peer.url, cluster }) as Promise<string>;
}

async function get(url: string, cluster: string | undefined, json = true) {
  const headers: Record<string, string> = {};
  if (cluster !== undefined) headers["x-k8s-aws-id"] = cluster;
  if (json) headers["accept"] = "application/json";
  const res = await fetch(url, { headers });
  return { status: res.status, text: await res.text() };
}

function code(text: string): string {
  return (JSON.parse(text) as { Error: { Code: string } }).Error.Code;
}

function decodeToken(token: string): string {
  const b64 = token.slice("k8s-aws-v1.".length).replaceAll("-", "+").replaceAll("_", "/");
  return new TextDecoder().decode(
    Uint8Array.from(atob(b64 + "=".repeat((4 - b64.length % 4) % 4)), (c) => c.charCodeAt(0)),
  );
}

Deno.test("botocore-presigned token for an IAM user verifies; JSON and XML answers", async () => {
  const peer = await startStsPeer({ principals: [ALICE] });
  try {
    const url = await presign(peer, { ak: ALICE.accessKeyId, sk: ALICE.secretAccessKey }, "c1");
    const ok = await get(url, "c1");
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(
      (JSON.parse(ok.text) as { GetCallerIdentityResponse: { GetCallerIdentityResult: unknown } })
        .GetCallerIdentityResponse.GetCallerIdentityResult,
      { Account: ALICE.account, Arn: ALICE.arn, UserId: ALICE.userId },
    );
    const xml = await get(url, "c1", false);
    assert.equal(xml.status, 200);
    assert.match(
      xml.text,
      /^<GetCallerIdentityResponse xmlns="https:\/\/sts.amazonaws.com\/doc\/2011-06-15\/">/,
    );
    assert.match(xml.text, /<Arn>arn:aws:iam::123456789012:user\/alice<\/Arn>/);
  } finally {
    await peer.close();
  }
});

Deno.test("signature check: other cluster ID, missing header, tampering, unknown key", async () => {
  const peer = await startStsPeer({ principals: [ALICE] });
  try {
    const url = await presign(peer, { ak: ALICE.accessKeyId, sk: ALICE.secretAccessKey }, "c1");
    const other = await get(url, "c2");
    assert.equal(other.status, 403);
    assert.equal(code(other.text), "SignatureDoesNotMatch");
    const missing = await get(url, undefined);
    assert.equal(missing.status, 403);
    assert.equal(code(missing.text), "SignatureDoesNotMatch");
    // Flip one hex digit of the signature.
    const sig = /X-Amz-Signature=([0-9a-f]+)/.exec(url)![1]!;
    const flipped = sig.slice(0, -1) + (sig.endsWith("0") ? "1" : "0");
    const t1 = await get(url.replace(sig, flipped), "c1");
    assert.equal(code(t1.text), "SignatureDoesNotMatch");
    // A parameter added after signing is part of the canonical query.
    const t2 = await get(url.replace("?", "?X-Amz-Expires2=1&"), "c1");
    assert.equal(code(t2.text), "SignatureDoesNotMatch");
    // Another region in the scope changes the signing key.
    const t3 = await get(url.replace("us-west-2", "us-east-1"), "c1");
    assert.equal(code(t3.text), "SignatureDoesNotMatch");
    const unknown = await presign(
      peer,
      { ak: "AKIAUNKNOWNKEY000000", sk: ALICE.secretAccessKey },
      "c1",
    );
    const u = await get(unknown, "c1");
    assert.equal(u.status, 403);
    assert.equal(code(u.text), "InvalidClientTokenId");
    const wrongSecret = await presign(peer, { ak: ALICE.accessKeyId, sk: "x".repeat(40) }, "c1");
    assert.equal(code((await get(wrongSecret, "c1")).text), "SignatureDoesNotMatch");
  } finally {
    await peer.close();
  }
});

Deno.test("presigned validity: exactly 15 minutes is valid, one second more is expired", async () => {
  let now = new Date();
  const peer = await startStsPeer({ principals: [ALICE], now: () => now });
  try {
    const url = await presign(peer, { ak: ALICE.accessKeyId, sk: ALICE.secretAccessKey }, "c1");
    const date = /X-Amz-Date=(\d{8}T\d{6}Z)/.exec(url)![1]!;
    const signedAt = Date.UTC(
      +date.slice(0, 4),
      +date.slice(4, 6) - 1,
      +date.slice(6, 8),
      +date.slice(9, 11),
      +date.slice(11, 13),
      +date.slice(13, 15),
    );
    now = new Date(signedAt + 15 * 60_000);
    assert.equal((await get(url, "c1")).status, 200);
    now = new Date(signedAt + 15 * 60_000 + 1000);
    const late = await get(url, "c1");
    assert.equal(late.status, 403);
    assert.equal(code(late.text), "SignatureDoesNotMatch");
    assert.match(late.text, /Signature expired/);
    now = new Date(signedAt - 16 * 60_000);
    assert.match((await get(url, "c1")).text, /Signature not yet current/);
  } finally {
    await peer.close();
  }
});

Deno.test("AssumeRole (header-signed POST, XML): temporary keys verify only with their session token", async () => {
  const peer = await startStsPeer({
    principals: [ALICE],
    roles: [ADMIN_ROLE, {
      arn: "arn:aws:iam::123456789012:role/Ext",
      roleId: "AROAEXAMPLEEXT000000",
      externalId: "secret-ext",
    }, {
      arn: "arn:aws:iam::123456789012:role/Nobody",
      roleId: "AROAEXAMPLENOBODY000",
      trust: () => false,
    }],
  });
  try {
    const base = { ak: ALICE.accessKeyId, sk: ALICE.secretAccessKey, region: "us-west-2" };
    const r = await boto({
      op: "assume",
      ...base,
      endpoint: peer.url,
      role: ADMIN_ROLE.arn,
      session: "alice@corp",
    }) as BotoCreds & { arn: string; id: string };
    assert.equal(r.arn, "arn:aws:sts::123456789012:assumed-role/Admin/alice@corp");
    assert.equal(r.id, "AROAEXAMPLEADMIN0000:alice@corp");
    assert.match(r.ak, /^ASIA[A-Z2-7]{16}$/);
    const whoami = await boto({ op: "whoami", ...r, region: "us-west-2", endpoint: peer.url });
    assert.deepEqual(whoami, { arn: r.arn, id: r.id, account: "123456789012" });
    const url = await presign(peer, r, "c1");
    const ok = await get(url, "c1");
    assert.equal(ok.status, 200, ok.text);
    assert.match(ok.text, /"UserId":"AROAEXAMPLEADMIN0000:alice@corp"/);
    // The same temporary key without (or with another) session token is not accepted.
    const noToken = await presign(peer, { ak: r.ak, sk: r.sk }, "c1");
    assert.equal(code((await get(noToken, "c1")).text), "InvalidClientTokenId");
    const badToken = await presign(peer, { ...r, st: r.st + "x" }, "c1");
    assert.equal(code((await get(badToken, "c1")).text), "InvalidClientTokenId");
    // Role chaining: the assumed-role session assumes another role.
    const chained = await boto({
      op: "assume",
      ...r,
      region: "us-west-2",
      endpoint: peer.url,
      role: "arn:aws:iam::123456789012:role/Ext",
      session: "chain",
      external: "secret-ext",
    }) as { arn: string };
    assert.equal(chained.arn, "arn:aws:sts::123456789012:assumed-role/Ext/chain");

    const assume = (extra: Record<string, unknown>) =>
      boto({ op: "assume", ...base, endpoint: peer.url, session: "s1", ...extra });
    assert.deepEqual(await assume({ role: "arn:aws:iam::123456789012:role/Ext" }), {
      error: "AccessDenied",
    });
    assert.deepEqual(
      await assume({ role: "arn:aws:iam::123456789012:role/Ext", external: "wrong" }),
      { error: "AccessDenied" },
    );
    assert.deepEqual(await assume({ role: "arn:aws:iam::123456789012:role/Nobody" }), {
      error: "AccessDenied",
    });
    assert.deepEqual(await assume({ role: "arn:aws:iam::123456789012:role/Missing" }), {
      error: "AccessDenied",
    });
    // Role chaining is capped at one hour.
    assert.deepEqual(
      await boto({
        op: "assume",
        ...r,
        region: "us-west-2",
        endpoint: peer.url,
        role: ADMIN_ROLE.arn,
        session: "chain2",
        duration: 7200,
      }),
      { error: "ValidationError" },
    );
  } finally {
    await peer.close();
  }
});

Deno.test("temporary credentials expire", async () => {
  let now = new Date();
  const peer = await startStsPeer({
    now: () => now,
    principals: [{
      ...ALICE,
      accessKeyId: "ASIAEXAMPLETEMP00000",
      sessionToken: "tok",
      expiresAt: new Date(now.getTime() + 60_000),
    }],
  });
  try {
    const url = await presign(
      peer,
      { ak: "ASIAEXAMPLETEMP00000", sk: ALICE.secretAccessKey, st: "tok" },
      "c1",
    );
    assert.equal((await get(url, "c1")).status, 200);
    now = new Date(now.getTime() + 61_000);
    const r = await get(url, "c1");
    assert.equal(r.status, 400);
    assert.equal(code(r.text), "ExpiredToken");
  } finally {
    await peer.close();
  }
});

Deno.test("aws eks get-token via AWS_ENDPOINT_URL_STS verifies, also with --role-arn; tampered fails", async () => {
  const peer = await startStsPeer({ principals: [ALICE], roles: [ADMIN_ROLE] });
  try {
    const env = {
      PATH: Deno.env.get("PATH") ?? "",
      HOME: Deno.env.get("HOME") ?? "/tmp",
      AWS_CONFIG_FILE: "/dev/null",
      AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
      AWS_ACCESS_KEY_ID: ALICE.accessKeyId,
      AWS_SECRET_ACCESS_KEY: ALICE.secretAccessKey,
      AWS_DEFAULT_REGION: "eu-central-1",
      AWS_ENDPOINT_URL_STS: peer.url,
    };
    const getToken = async (...extra: string[]) => {
      const out = await new Deno.Command("aws", {
        args: ["eks", "get-token", "--cluster-name", "prod", ...extra],
        env,
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      const cred = JSON.parse(new TextDecoder().decode(out.stdout)) as {
        status: { token: string };
      };
      return decodeToken(cred.status.token);
    };
    const url = await getToken();
    assert.ok(url.startsWith(peer.url + "/?Action=GetCallerIdentity&"), "not pointed at the peer");
    const ok = await get(url, "prod");
    assert.equal(ok.status, 200, ok.text);
    assert.match(ok.text, /user\/alice/);
    assert.equal(code((await get(url, "staging")).text), "SignatureDoesNotMatch");
    const tampered = url.replace("X-Amz-Date=", "X-Amz-Date=1").replace(/Z&/, "&");
    assert.notEqual((await get(tampered, "prod")).status, 200);

    const roleUrl = await getToken("--role-arn", ADMIN_ROLE.arn);
    const r = await get(roleUrl, "prod");
    assert.equal(r.status, 200, r.text);
    assert.match(r.text, /"Arn":"arn:aws:sts::123456789012:assumed-role\/Admin\/[^"]+"/);
    assert.match(r.text, /"UserId":"AROAEXAMPLEADMIN0000:[^"]+"/);
  } finally {
    await peer.close();
  }
});

Deno.test("faults: throttling, 5xx, raw body, latency; request count", async () => {
  const peer = await startStsPeer({ principals: [ALICE] });
  try {
    const url = await presign(peer, { ak: ALICE.accessKeyId, sk: ALICE.secretAccessKey }, "c1");
    const before = peer.requestCount;
    peer.setFaults({ throttle: true });
    const t = await get(url, "c1");
    assert.equal(t.status, 400);
    assert.equal(code(t.text), "Throttling");
    const tx = await get(url, "c1", false);
    assert.match(tx.text, /<Code>Throttling<\/Code>/);
    peer.setFaults({ status: 503 });
    const s = await get(url, "c1");
    assert.equal(s.status, 503);
    assert.equal(code(s.text), "InternalFailure");
    peer.setFaults({ body: "<GetCallerIdentityResponse/>" });
    assert.deepEqual(await get(url, "c1"), { status: 200, text: "<GetCallerIdentityResponse/>" });
    peer.setFaults({ latencyMs: 150 });
    const start = performance.now();
    assert.equal((await get(url, "c1")).status, 200);
    assert.ok(performance.now() - start >= 140);
    peer.setFaults({});
    assert.equal((await get(url, "c1")).status, 200);
    assert.equal(peer.requestCount - before, 6);
    assert.equal(peer.lastRequest?.headers["x-k8s-aws-id"], "c1");
  } finally {
    await peer.close();
  }
});

Deno.test("an answer is decided on arrival and held for the latency (the peer's work is inside it)", async () => {
  const peer = await startStsPeer({ principals: [ALICE], latencyMs: 300 });
  try {
    const url = await presign(peer, { ak: ALICE.accessKeyId, sk: ALICE.secretAccessKey }, "c1");
    const start = performance.now();
    const first = get(url, "c1");
    while (peer.requestCount < 1) await new Promise((r) => setTimeout(r, 5));
    // Throttling switched on while the first request waits applies to later requests only.
    peer.setFaults({ throttle: true, latencyMs: 0 });
    const second = await get(url, "c1");
    assert.equal(second.status, 400);
    assert.equal(code(second.text), "Throttling");
    const answer = await first;
    assert.equal(answer.status, 200);
    assert.match(answer.text, /"Arn":"arn:aws:iam::123456789012:user\/alice"/);
    assert.ok(performance.now() - start >= 290, "the latency is still waited out in full");
  } finally {
    await peer.close();
  }
});

Deno.test("close() releases requests still waiting out the added latency", async () => {
  const peer = await startStsPeer({ principals: [ALICE], latencyMs: 60_000 });
  const url = await presign(peer, { ak: ALICE.accessKeyId, sk: ALICE.secretAccessKey }, "c1");
  const waiting = [get(url, "c1"), get(url, "c1")];
  while (peer.requestCount < 2) await new Promise((r) => setTimeout(r, 5));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tooLate = new Promise<string>((r) => timer = setTimeout(() => r("timed out"), 5_000));
  try {
    const closed = peer.close().then(() => Promise.all(waiting)).then((answers) =>
      answers.map((a) => a.status)
    );
    assert.deepEqual(await Promise.race([closed, tooLate]), [200, 200]);
  } finally {
    clearTimeout(timer);
  }
});

Deno.test("requests without authentication or with a bad action are refused", async () => {
  const peer = await startStsPeer({ principals: [ALICE] });
  try {
    const a = await get(`${peer.url}/?Action=GetCallerIdentity&Version=2011-06-15`, "c1");
    assert.equal(a.status, 403);
    assert.equal(code(a.text), "MissingAuthenticationToken");
    const b = await get(`${peer.url}/?Version=2011-06-15`, "c1");
    assert.equal(code(b.text), "MissingAction");
  } finally {
    await peer.close();
  }
});

Deno.test("CLI mode prints its URL first and serves the principals file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/p.json`;
    await Deno.writeTextFile(file, JSON.stringify({ principals: [ALICE], roles: [ADMIN_ROLE] }));
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("./sts_peer.ts", import.meta.url).pathname,
        "--port",
        "0",
        "--principals",
        file,
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    while (!buf.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
    }
    const url = buf.split("\n")[0]!;
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const peerLike = { url } as StsPeer;
    const signed = await presign(
      peerLike,
      { ak: ALICE.accessKeyId, sk: ALICE.secretAccessKey },
      "c1",
    );
    assert.equal((await get(signed, "c1")).status, 200);
    child.kill("SIGTERM");
    assert.equal((await child.status).code, 0);
    await reader.cancel();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** GET with curl over TLS, trusting only `caFile`; returns status, HTTP version and body. */
async function curlGet(
  url: string,
  caFile: string,
  version: "--http2" | "--http1.1",
  cluster: string,
) {
  const out = await new Deno.Command("curl", {
    args: [
      version,
      "-sS",
      "--cacert",
      caFile,
      "-H",
      `x-k8s-aws-id: ${cluster}`,
      "-H",
      "accept: application/json",
      "-w",
      "\n%{http_code} %{http_version}",
      url,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const text = new TextDecoder().decode(out.stdout);
  const cut = text.lastIndexOf("\n");
  const [status, httpVersion] = text.slice(cut + 1).split(" ");
  return { status: Number(status), httpVersion, text: text.slice(0, cut) };
}

Deno.test("over TLS the peer verifies presigned requests sent with HTTP/2 (host from :authority) and HTTP/1.1", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { cert, key } = await writeCaAndLeaf(dir);
    const peer = await startStsPeer({ principals: [ALICE], tls: { cert, key } });
    try {
      assert.match(peer.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const url = await presign(peer, { ak: ALICE.accessKeyId, sk: ALICE.secretAccessKey }, "c1");
      assert.ok(url.startsWith(peer.url + "/?"), url);
      const h2 = await curlGet(url, `${dir}/ca.crt`, "--http2", "c1");
      assert.equal(h2.httpVersion, "2");
      assert.equal(h2.status, 200, h2.text);
      assert.match(h2.text, /"Arn":"arn:aws:iam::123456789012:user\/alice"/);
      // The host taken from :authority is the one that was signed: another cluster ID still
      // fails on its own signed header, not on a missing host.
      const other = await curlGet(url, `${dir}/ca.crt`, "--http2", "c2");
      assert.equal(other.status, 403);
      assert.doesNotMatch(other.text, /missing/);
      assert.equal(code(other.text), "SignatureDoesNotMatch");
      const h1 = await curlGet(url, `${dir}/ca.crt`, "--http1.1", "c1");
      assert.equal(h1.httpVersion, "1.1");
      assert.equal(h1.status, 200, h1.text);
    } finally {
      await peer.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A token's presigned URL, signed by the project's signer (aws4fetch) for `cluster`. */
async function presignedUrl(peer: StsPeer, p: PeerPrincipal, cluster: string): Promise<string> {
  const { generateToken } = await import("../../src/sign/mod.ts");
  const t = await generateToken({
    clusterId: cluster,
    credentials: p,
    endpoint: peer.url,
    signingRegion: "us-east-1",
    now: new Date(),
  });
  return decodeToken(t.token);
}

Deno.test("tcp transport: answers like Deno.serve, resets and hangs on request, records every answer", async () => {
  const records: StsAnswerRecord[] = [];
  const peer = await startStsPeer({
    principals: [ALICE],
    transport: "tcp",
    onAnswer: (r) => records.push(r),
  });
  try {
    const url = await presignedUrl(peer, ALICE, "c1");
    const ok = await get(url, "c1");
    assert.equal(ok.status, 200);
    assert.equal(
      JSON.parse(ok.text).GetCallerIdentityResponse.GetCallerIdentityResult.Arn,
      ALICE.arn,
    );
    const wrong = await get(url, "c2");
    assert.equal(code(wrong.text), "SignatureDoesNotMatch");
    assert.deepEqual(
      records.map((r) => [r.status, r.arn, r.code, r.fault]),
      [[200, ALICE.arn, undefined, undefined], [
        403,
        undefined,
        "SignatureDoesNotMatch",
        undefined,
      ]],
    );
    assert.equal(records[0]!.query, url.slice(url.indexOf("?") + 1));

    peer.setFaults({ reset: true });
    await assert.rejects(get(url, "c1"));
    assert.equal(records.at(-1)!.fault, "reset");
    assert.equal(records.at(-1)!.status, undefined);

    peer.setFaults({ hang: true });
    let settled = false;
    const hung = get(url, "c1").then(
      () => "answered",
      () => "dropped",
    ).finally(() => settled = true);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(settled, false);
    assert.equal(peer.releaseHangs(), 1);
    assert.equal(await hung, "dropped");
    assert.equal(records.at(-1)!.fault, "hang");

    peer.setFaults({});
    assert.equal((await get(url, "c1")).status, 200);
  } finally {
    await peer.close();
  }
});

Deno.test("random faults: a seeded draw per request, every kind recorded with its answer", async () => {
  const records: StsAnswerRecord[] = [];
  const peer = await startStsPeer({
    principals: [ALICE],
    transport: "tcp",
    onAnswer: (r) => records.push(r),
  });
  try {
    const url = await presignedUrl(peer, ALICE, "c1");
    // Draws walk through [0, 1) so every kind comes up: each takes a tenth.
    let i = 0;
    peer.setFaults({
      random: {
        throttle: 0.1,
        status5xx: 0.1,
        reset: 0.1,
        hang: 0.1,
        garbage: 0.1,
        spike: 0.1,
        spikeMs: 50,
        hangMs: 50,
        random: () => ((i++ * 0.1) + 0.05) % 1,
      },
    });
    const outcomes: string[] = [];
    // No pooled connections: fetch silently retries a request whose reused connection was
    // closed before any answer, which would draw a second fault.
    const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
    for (let n = 0; n < 10; n++) {
      try {
        const res = await fetch(url, {
          client,
          headers: { "x-k8s-aws-id": "c1", accept: "application/json" },
        });
        const text = await res.text();
        outcomes.push(
          `${res.status}${res.status === 200 && !text.includes(ALICE.arn) ? " garbage" : ""}`,
        );
      } catch {
        outcomes.push("dropped");
      }
    }
    client.close();
    assert.deepEqual(outcomes, [
      "400", // throttle
      "500", // 5xx
      "dropped", // reset
      "dropped", // hang, reset after 50 ms
      "200 garbage",
      "200", // spike: the real answer, late
      "200",
      "200",
      "200",
      "200",
    ]);
    assert.deepEqual(records.map((r) => r.fault ?? "-"), [
      "throttle",
      "status",
      "reset",
      "hang",
      "garbage",
      "spike",
      "-",
      "-",
      "-",
      "-",
    ]);
    assert.equal(records[0]!.code, "Throttling");
    assert.ok(records[5]!.answeredAt - records[5]!.arrivedAt >= 45);
  } finally {
    await peer.close();
  }
});

Deno.test("reset and hang faults are refused on the Deno.serve transport", async () => {
  const peer = await startStsPeer({ principals: [ALICE] });
  try {
    assert.throws(() => peer.setFaults({ random: { reset: 0.5 } }), /transport: 'tcp'/);
    assert.throws(() => peer.setFaults({ hang: true }), /transport: 'tcp'/);
  } finally {
    await peer.close();
  }
});

Deno.test("with tls.http1Only the peer offers only HTTP/1.1 and counts the client connections", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeCaAndLeaf(dir);
    const cert = await Deno.readTextFile(`${dir}/leaf.crt`);
    const key = await Deno.readTextFile(`${dir}/leaf.key`);
    const peer = await startStsPeer({
      principals: [ALICE],
      roles: [ADMIN_ROLE],
      tls: { cert, key, http1Only: true },
    });
    try {
      assert.match(peer.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(peer.connectionCount, 0);
      const url = await presign(peer, { ak: ALICE.accessKeyId, sk: ALICE.secretAccessKey }, "c1");
      // curl offers h2 first; the peer picks HTTP/1.1, and declares the length, as STS does.
      const head = await new Deno.Command("curl", {
        args: ["-sS", "-D", "-", "-o", "/dev/null", "--cacert", `${dir}/ca.crt`, url],
        stdout: "piped",
      }).output();
      assert.match(new TextDecoder().decode(head.stdout), /^content-length: \d+\r$/mi);
      assert.doesNotMatch(new TextDecoder().decode(head.stdout), /transfer-encoding/i);
      const first = await curlGet(url, `${dir}/ca.crt`, "--http2", "c1");
      assert.equal(first.httpVersion, "1.1");
      assert.equal(first.status, 200, first.text);
      assert.match(first.text, /"Arn":"arn:aws:iam::123456789012:user\/alice"/);
      assert.equal(peer.connectionCount, 2);
      const other = await curlGet(url, `${dir}/ca.crt`, "--http1.1", "c2");
      assert.equal(code(other.text), "SignatureDoesNotMatch");
      assert.equal(peer.connectionCount, 3);
      // A header-signed POST with a form body (AssumeRole) goes through the adapter too.
      const r = await boto({
        op: "assume",
        ak: ALICE.accessKeyId,
        sk: ALICE.secretAccessKey,
        region: "us-west-2",
        endpoint: peer.url,
        ca: `${dir}/ca.crt`,
        role: ADMIN_ROLE.arn,
        session: "alice",
      }) as { arn: string };
      assert.equal(r.arn, "arn:aws:sts::123456789012:assumed-role/Admin/alice");
      assert.equal(peer.requestCount, 4);
    } finally {
      await peer.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("with tls.http1Only a client gone mid-request does not end the peer", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeCaAndLeaf(dir);
    const peer = await startStsPeer({
      principals: [ALICE],
      tls: {
        cert: await Deno.readTextFile(`${dir}/leaf.crt`),
        key: await Deno.readTextFile(`${dir}/leaf.key`),
        http1Only: true,
      },
    });
    try {
      const port = Number(new URL(peer.url).port);
      // A POST that promises 100 bytes of body and hangs up after 5: the body read is aborted.
      const conn = await Deno.connectTls({
        hostname: "127.0.0.1",
        port,
        caCerts: [await Deno.readTextFile(`${dir}/ca.crt`)],
      });
      await conn.write(
        new TextEncoder().encode(
          "POST / HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 100\r\n\r\nAction",
        ),
      );
      await new Promise((r) => setTimeout(r, 100));
      conn.close();
      await new Promise((r) => setTimeout(r, 200));
      // Still answering.
      const url = await presign(peer, { ak: ALICE.accessKeyId, sk: ALICE.secretAccessKey }, "c1");
      const after = await curlGet(url, `${dir}/ca.crt`, "--http1.1", "c1");
      assert.equal(after.status, 200, after.text);
    } finally {
      await peer.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("connectionCount: requests on one kept-alive connection count once", async () => {
  const peer = await startStsPeer({ principals: [ALICE] });
  try {
    const url = await presign(peer, { ak: ALICE.accessKeyId, sk: ALICE.secretAccessKey }, "c1");
    const out = await new Deno.Command("curl", {
      args: ["-sS", "-o", "/dev/null", "-o", "/dev/null", "-H", "x-k8s-aws-id: c1", url, url],
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.equal(peer.requestCount, 2);
    assert.equal(peer.connectionCount, 1);
    assert.equal((await get(url, "c1")).status, 200);
    assert.equal(peer.connectionCount, 2);
  } finally {
    await peer.close();
  }
});
