/**
 * End to end against the SigV4-checking STS peer: tokens from this project's signer, from
 * botocore and from `aws eks get-token` verify; tampered ones and tokens for another cluster
 * do not; and arbitrary mutations never get past the verifier in an untyped way.
 */
import { strict as assert } from "node:assert";
import fc from "fast-check";
import { generateToken } from "../../src/sign/mod.ts";
import {
  FormatError,
  type Identity,
  STSError,
  STSThrottling,
  Verifier,
} from "../../src/verify/mod.ts";
import {
  type PeerPrincipal,
  type PeerRole,
  startStsPeer,
  type StsPeer,
} from "../peers/sts_peer.ts";
import { pythonJson } from "../peers/python_json.ts";
import { presignToken, tokenOf, urlOf } from "./fixtures.ts";

const ALICE: PeerPrincipal = {
  accessKeyId: "AKIAIOSFODNN7EXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  arn: "arn:aws:iam::123456789012:user/alice",
  userId: "AIDAEXAMPLEALICE0000",
  account: "123456789012",
};
const ADMIN: PeerRole = {
  arn: "arn:aws:iam::123456789012:role/ops/Admin",
  roleId: "AROAEXAMPLEADMIN0000",
};
const DEV: PeerRole = { arn: "arn:aws:iam::123456789012:role/Dev", roleId: "AROAEXAMPLEDEV000000" };

async function withPeer(fn: (peer: StsPeer, v: Verifier) => Promise<void>, region?: string) {
  const peer = await startStsPeer({ principals: [ALICE], roles: [ADMIN, DEV], region });
  try {
    await fn(
      peer,
      new Verifier({ clusterId: "prod", partition: "aws", stsEndpointOverride: peer.url }),
    );
  } finally {
    await peer.close();
  }
}

const BOTO = `
import json, sys, botocore.session
cfg = json.load(sys.stdin)
s = botocore.session.get_session()
s.set_credentials(cfg['ak'], cfg['sk'], cfg.get('st'))
c = s.create_client('sts', region_name='us-west-2', endpoint_url=cfg['endpoint'])
out = {}
if 'role' in cfg:
    r = c.assume_role(RoleArn=cfg['role'], RoleSessionName=cfg['session'])['Credentials']
    s.set_credentials(r['AccessKeyId'], r['SecretAccessKey'], r['SessionToken'])
    out['creds'] = {'accessKeyId': r['AccessKeyId'], 'secretAccessKey': r['SecretAccessKey'],
                    'sessionToken': r['SessionToken']}
    if 'role2' in cfg:
        c = s.create_client('sts', region_name='us-west-2', endpoint_url=cfg['endpoint'])
        r = c.assume_role(RoleArn=cfg['role2'], RoleSessionName=cfg['session2'])['Credentials']
        s.set_credentials(r['AccessKeyId'], r['SecretAccessKey'], r['SessionToken'])
    c = s.create_client('sts', region_name='us-west-2', endpoint_url=cfg['endpoint'])
def add(request, **kw):
    request.headers['x-k8s-aws-id'] = cfg['cluster']
c.meta.events.register('before-sign.sts.GetCallerIdentity', add)
out['url'] = c.generate_presigned_url('get_caller_identity', ExpiresIn=60, HttpMethod='GET')
print(json.dumps(out))
`;

async function botoToken(
  peer: StsPeer,
  cfg: Record<string, string>,
): Promise<
  { token: string; creds?: { accessKeyId: string; secretAccessKey: string; sessionToken: string } }
> {
  const r = await pythonJson(BOTO, {
    ak: ALICE.accessKeyId,
    sk: ALICE.secretAccessKey,
    endpoint: peer.url,
    cluster: "prod",
    ...cfg,
  }) as {
    url: string;
    creds?: { accessKeyId: string; secretAccessKey: string; sessionToken: string };
  };
  return { token: tokenOf(r.url), creds: r.creds };
}

async function awsCliToken(peer: StsPeer, cluster: string, ...extra: string[]): Promise<string> {
  const out = await new Deno.Command("aws", {
    args: ["eks", "get-token", "--cluster-name", cluster, ...extra],
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "",
      HOME: Deno.env.get("HOME") ?? "/tmp",
      AWS_CONFIG_FILE: "/dev/null",
      AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
      AWS_ACCESS_KEY_ID: ALICE.accessKeyId,
      AWS_SECRET_ACCESS_KEY: ALICE.secretAccessKey,
      AWS_DEFAULT_REGION: "us-west-2",
      AWS_ENDPOINT_URL_STS: peer.url,
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return (JSON.parse(new TextDecoder().decode(out.stdout)) as { status: { token: string } })
    .status.token;
}

function assertAlice(id: Identity, peer: StsPeer) {
  assert.deepEqual(id, {
    arn: ALICE.arn,
    canonicalArn: ALICE.arn,
    accountId: "123456789012",
    userId: "AIDAEXAMPLEALICE0000",
    sessionName: "",
    accessKeyId: ALICE.accessKeyId,
    stsEndpoint: new URL(peer.url).host,
  });
}

Deno.test("tokens from this project's signer verify: IAM user and assumed role", async () => {
  await withPeer(async (peer, v) => {
    const mine = await generateToken({
      clusterId: "prod",
      credentials: { accessKeyId: ALICE.accessKeyId, secretAccessKey: ALICE.secretAccessKey },
      endpoint: peer.url,
      signingRegion: "us-west-2",
      now: new Date(),
    });
    assertAlice(await v.verify(mine.token), peer);
    // Temporary credentials from AssumeRole (issued by the peer through botocore).
    const { creds } = await botoToken(peer, { role: ADMIN.arn, session: "alice@corp" });
    const assumed = await generateToken({
      clusterId: "prod",
      credentials: { ...creds! },
      endpoint: peer.url,
      signingRegion: "us-west-2",
      now: new Date(),
    });
    const id = await v.verify(assumed.token);
    assert.equal(id.arn, "arn:aws:sts::123456789012:assumed-role/Admin/alice@corp");
    assert.equal(id.canonicalArn, "arn:aws:iam::123456789012:role/Admin");
    assert.equal(id.userId, "AROAEXAMPLEADMIN0000");
    assert.equal(id.sessionName, "alice@corp");
    assert.equal(id.accessKeyId, creds!.accessKeyId);
    // Without its session token the temporary key is refused by STS.
    const stripped = await generateToken({
      clusterId: "prod",
      credentials: { accessKeyId: creds!.accessKeyId, secretAccessKey: creds!.secretAccessKey },
      endpoint: peer.url,
      signingRegion: "us-west-2",
      now: new Date(),
    });
    await assert.rejects(v.verify(stripped.token), /Code: InvalidClientTokenId/);
  });
});

Deno.test("tokens presigned by botocore verify: IAM user, assumed role, chained role session", async () => {
  await withPeer(async (peer, v) => {
    assertAlice(await v.verify((await botoToken(peer, {})).token), peer);
    const assumed = await v.verify(
      (await botoToken(peer, { role: ADMIN.arn, session: "s1" })).token,
    );
    assert.equal(assumed.arn, "arn:aws:sts::123456789012:assumed-role/Admin/s1");
    assert.equal(assumed.sessionName, "s1");
    const chained = await v.verify(
      (await botoToken(peer, { role: ADMIN.arn, session: "s1", role2: DEV.arn, session2: "s2" }))
        .token,
    );
    assert.equal(chained.canonicalArn, "arn:aws:iam::123456789012:role/Dev");
    assert.equal(chained.userId, "AROAEXAMPLEDEV000000");
    assert.equal(chained.sessionName, "s2");
  });
});

Deno.test("tokens from aws eks get-token verify (user and --role-arn); tampered and other-cluster ones fail", async () => {
  await withPeer(async (peer, v) => {
    const token = await awsCliToken(peer, "prod");
    assertAlice(await v.verify(token), peer);
    const role = await v.verify(await awsCliToken(peer, "prod", "--role-arn", ADMIN.arn));
    assert.equal(role.canonicalArn, "arn:aws:iam::123456789012:role/Admin");
    assert.equal(role.userId, "AROAEXAMPLEADMIN0000");
    assert.notEqual(role.sessionName, "");

    // 29: minted for cluster "staging", presented to "prod".
    const other = await awsCliToken(peer, "staging");
    const e = await v.verify(other).catch((e) => e);
    assert.ok(e instanceof STSError);
    assert.match(e.message, /got 403.*SignatureDoesNotMatch/);

    // Tampering with a signed value passes the local checks but not STS.
    const url = urlOf(token);
    const sig = /X-Amz-Signature=([0-9a-f]{64})/.exec(url)![1]!;
    const flipped = tokenOf(url.replace(sig, sig.slice(0, 63) + (sig.endsWith("a") ? "b" : "a")));
    await assert.rejects(v.verify(flipped), STSError);
    const otherKey = tokenOf(url.replace("AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLF"));
    await assert.rejects(v.verify(otherKey), /InvalidClientTokenId/);
  });
});

Deno.test("35 credential scope region ≠ the endpoint's region: clean STSError", async () => {
  await withPeer(async (peer, v) => {
    const t = await presignToken(ALICE, peer.url, "prod", { region: "us-east-1" });
    const e = await v.verify(t).catch((e) => e);
    assert.ok(e instanceof STSError);
    assert.match(e.message, /SignatureDoesNotMatch/);
    assertAlice(await v.verify(await presignToken(ALICE, peer.url, "prod")), peer);
  }, "us-west-2");
});

Deno.test("expiry edges end to end: 15 min valid at both ends, +1 s refused locally", async () => {
  const signedAt = new Date(Math.floor(Date.now() / 1000) * 1000);
  let now = signedAt;
  const peer = await startStsPeer({ principals: [ALICE], now: () => now });
  try {
    const fetched = { n: 0 };
    const v = new Verifier({
      clusterId: "prod",
      partition: "aws",
      stsEndpointOverride: peer.url,
      now: () => now,
      fetch: (input, init) => {
        fetched.n++;
        return fetch(input, init);
      },
    });
    const token = await presignToken(ALICE, peer.url, "prod", { date: signedAt });
    now = new Date(signedAt.getTime() + 15 * 60_000);
    assertAlice(await v.verify(token), peer);
    now = new Date(signedAt.getTime() + 15 * 60_000 + 1000);
    await assert.rejects(v.verify(token), /X-Amz-Date parameter is expired/);
    assert.equal(fetched.n, 1);
    // Signed 5 minutes ahead of the server clock: still accepted; 5 min + 1 s: refused.
    now = new Date(signedAt.getTime() - 5 * 60_000);
    assertAlice(await v.verify(token), peer);
    now = new Date(signedAt.getTime() - 5 * 60_000 - 1000);
    await assert.rejects(v.verify(token), /in the future/);
    assert.equal(fetched.n, 2);
  } finally {
    await peer.close();
  }
});

/** String-level mutations of the decoded URL, each a plausible attacker edit. */
const urlMutation = fc.oneof(
  fc.record({
    kind: fc.constant("insert"),
    pos: fc.nat(),
    s: fc.string({ minLength: 1, maxLength: 4 }),
  }),
  fc.record({
    kind: fc.constant("insertAscii"),
    pos: fc.nat(),
    s: fc.constantFrom(
      "&",
      "=",
      "%",
      ";",
      "#",
      "?",
      "/",
      "\\",
      "@",
      ":",
      ".",
      "+",
      " ",
      "%00",
      "%2F",
      "&Action=GetCallerIdentity",
      "&x-amz-credential=AKIAVICTIM",
      "&X-Amz-Expires=60",
    ),
  }),
  fc.record({
    kind: fc.constant("delete"),
    pos: fc.nat(),
    s: fc.integer({ min: 1, max: 8 }).map(String),
  }),
  fc.record({ kind: fc.constant("case"), pos: fc.nat(), s: fc.constant("") }),
  fc.record({ kind: fc.constant("swapParams"), pos: fc.nat(), s: fc.constant("") }),
);

function applyUrlMutation(url: string, m: { kind: string; pos: number; s: string }): string {
  const pos = m.pos % (url.length + 1);
  switch (m.kind) {
    case "insert":
    case "insertAscii":
      return url.slice(0, pos) + m.s + url.slice(pos);
    case "delete":
      return url.slice(0, pos) + url.slice(pos + Number(m.s));
    case "case": {
      const c = url[pos] ?? "";
      const flipped = c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase();
      return url.slice(0, pos) + flipped + url.slice(pos + 1);
    }
    default: {
      // Reorders two query parameters (still a validly signed request).
      const [base, q] = url.split("?") as [string, string];
      const parts = q.split("&");
      const i = pos % parts.length;
      const j = (i + 1) % parts.length;
      [parts[i], parts[j]] = [parts[j]!, parts[i]!];
      return base + "?" + parts.join("&");
    }
  }
}

Deno.test("property: any mutation is a typed rejection or the same identity; no STS call after a local failure", async () => {
  const peer = await startStsPeer({ principals: [ALICE] });
  try {
    let calls = 0;
    const v = new Verifier({
      clusterId: "prod",
      partition: "aws",
      stsEndpointOverride: peer.url,
      fetch: (input, init) => {
        calls++;
        return fetch(input, init);
      },
    });
    const token = await presignToken(ALICE, peer.url, "prod");
    const url = urlOf(token);
    const expected = await v.verify(token);
    let sameIdentity = 0;
    let stsRejected = 0;
    const check = async (mutant: string) => {
      const before = calls;
      let localOk = true;
      try {
        v.checkToken(mutant);
      } catch (e) {
        localOk = false;
        assert.ok(e instanceof FormatError, `checkToken threw ${e}`);
      }
      try {
        const id = await v.verify(mutant);
        assert.deepEqual(id, expected);
        sameIdentity++;
      } catch (e) {
        assert.ok(
          e instanceof FormatError || e instanceof STSError || e instanceof STSThrottling,
          `verify threw ${e}`,
        );
        if (!localOk) assert.ok(e instanceof FormatError);
        else stsRejected++;
      }
      if (!localOk) {
        assert.equal(calls, before, "STS was called for a token that failed a local check");
      }
    };
    await fc.assert(
      fc.asyncProperty(urlMutation, async (m) => {
        const mutated = applyUrlMutation(url, m);
        // Non-Latin-1 insertions cannot be base64-encoded directly; encode them as UTF-8 bytes.
        await check(tokenOf(unescape(encodeURIComponent(mutated))));
      }),
      { numRuns: 300 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.nat(),
        fc.string({ maxLength: 3 }),
        fc.nat({ max: 3 }),
        async (pos, s, del) => {
          const p = pos % (token.length + 1);
          await check(token.slice(0, p) + s + token.slice(p + del));
        },
      ),
      { numRuns: 300 },
    );
    // The properties must have exercised both outcomes, or they prove nothing.
    assert.ok(sameIdentity > 0, "no mutation kept the identity");
    assert.ok(stsRejected > 0, "no mutation reached STS");
  } finally {
    await peer.close();
  }
});

Deno.test("tokens from this project's `token` command (also with -r) verify", async () => {
  await withPeer(async (peer, v) => {
    const mainTs = new URL("../../main.ts", import.meta.url).pathname;
    const token = async (...extra: string[]) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", mainTs, "token", "-i", "prod", "--token-only", ...extra],
        clearEnv: true,
        env: {
          PATH: Deno.env.get("PATH") ?? "",
          HOME: Deno.env.get("HOME") ?? "/tmp",
          AWS_CONFIG_FILE: "/dev/null",
          AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
          AWS_EC2_METADATA_DISABLED: "true",
          AWS_ACCESS_KEY_ID: ALICE.accessKeyId,
          AWS_SECRET_ACCESS_KEY: ALICE.secretAccessKey,
          AWS_REGION: "us-west-2",
          AWS_ENDPOINT_URL_STS: peer.url,
        },
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      return new TextDecoder().decode(out.stdout).trim();
    };
    assertAlice(await v.verify(await token()), peer);
    const role = await v.verify(await token("-r", ADMIN.arn, "-s", "ci-run"));
    assert.equal(role.arn, "arn:aws:sts::123456789012:assumed-role/Admin/ci-run");
    assert.equal(role.canonicalArn, "arn:aws:iam::123456789012:role/Admin");
    assert.equal(role.sessionName, "ci-run");
  });
});

Deno.test("harmless mutations: only unused base64 bits and the case of a percent-escape keep the identity", async () => {
  await withPeer(async (peer, v) => {
    // A token whose base64 leaves unused bits in its last character (length not a multiple of 4).
    let token = "";
    for (const region of ["us-west-2", "ap-south-1", "eu-central-1", "ap-southeast-2"]) {
      token = await presignToken(ALICE, peer.url, "prod", { region });
      if ((token.length - "k8s-aws-v1.".length) % 4 !== 0) break;
    }
    const expected = await v.verify(token);
    const upperEscapes = (u: string) => u.replace(/%[0-9a-f]{2}/gi, (e) => e.toUpperCase());
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const kept = { sameUrl: [] as number[], hexCase: 0 };
    // Every character after the prefix, with its lowest and its highest bit flipped: kept
    // exactly when the decoded URL is the same, or the same but for the case of an escape.
    for (let i = "k8s-aws-v1.".length; i < token.length; i++) {
      for (const bit of [1, 32]) {
        const mutated = token.slice(0, i) + alphabet[alphabet.indexOf(token[i]!) ^ bit] +
          token.slice(i + 1);
        const id = await v.verify(mutated).then((id) => id, () => undefined);
        const same = urlOf(mutated) === urlOf(token);
        const hexCase = !same && upperEscapes(urlOf(mutated)) === upperEscapes(urlOf(token));
        assert.equal(id !== undefined, same || hexCase, `position ${i}, bit ${bit}`);
        if (id !== undefined) assert.deepEqual(id, expected);
        if (same) kept.sameUrl.push(i);
        if (hexCase) kept.hexCase++;
      }
    }
    assert.deepEqual(kept.sameUrl, [token.length - 1], "only the last character has unused bits");
    assert.ok(kept.hexCase > 0, "some flip turned an escape's hex letter to lower case");
    // Every escape written in lower case is the same escape to SigV4; another byte is not.
    const url = urlOf(token);
    const escapes = [...url.matchAll(/%[0-9A-F]*[A-F][0-9A-F]*/g)].map((m) => m.index!);
    assert.ok(escapes.length > 0);
    for (const at of escapes) {
      const lower = url.slice(0, at) + url.slice(at, at + 3).toLowerCase() + url.slice(at + 3);
      assert.deepEqual(await v.verify(tokenOf(lower)), expected);
      const other = url.slice(0, at) + "%25" + url.slice(at + 3);
      await assert.rejects(v.verify(tokenOf(other)));
    }
  });
});
