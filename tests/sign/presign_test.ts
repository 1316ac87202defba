import assert from "node:assert/strict";
import {
  base64UrlNoPad,
  type Credentials,
  generateToken,
  presignGetCallerIdentity,
  resolveStsEndpoint,
  TOKEN_PREFIX,
} from "../../src/sign/mod.ts";
import { startStsPeer } from "../peers/sts_peer.ts";

interface GoldenCase {
  name: string;
  region: string;
  clusterId: string;
  env: Record<string, string>;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  now: string;
  url: string;
  token: string;
  botocoreUrl: string;
  botocoreToken: string;
  awsCliToken: string;
  awsCliExpiration: string;
}

const golden: { cases: GoldenCase[] } = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/sign/golden_tokens.json", import.meta.url)),
);

const noProfile = { name: "default", exists: false, settings: {}, files: [] };

for (const c of golden.cases) {
  Deno.test(`golden token equals the Go signer's, botocore's and aws eks get-token's: ${c.name}`, async () => {
    const endpoint = resolveStsEndpoint(c.region, (n) => c.env[n], noProfile);
    const creds: Credentials = { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey };
    if (c.sessionToken) creds.sessionToken = c.sessionToken;
    const now = new Date(c.now);
    const url = await presignGetCallerIdentity({
      clusterId: c.clusterId,
      credentials: creds,
      endpoint: endpoint.url,
      signingRegion: endpoint.signingRegion,
      now,
    });
    assert.equal(url, c.url);
    const tok = await generateToken({
      clusterId: c.clusterId,
      credentials: creds,
      endpoint: endpoint.url,
      signingRegion: endpoint.signingRegion,
      now,
    });
    assert.equal(tok.token, c.token);
    assert.equal(c.awsCliToken, c.botocoreToken);
    if (!c.sessionToken) {
      // Without a session token all three references emit the same bytes.
      assert.equal(tok.token, c.botocoreToken);
    } else {
      // botocore puts X-Amz-Security-Token after X-Amz-SignedHeaders; the Go tool sorts the
      // query. Same parameters, same signature; we emit the Go tool's order.
      const ours = new URL(url);
      const boto = new URL(c.botocoreUrl);
      assert.deepEqual([...ours.searchParams].sort(), [...boto.searchParams].sort());
      assert.equal(
        ours.searchParams.get("X-Amz-Signature"),
        boto.searchParams.get("X-Amz-Signature"),
      );
    }
    // Security case 46 and the aws CLI agree: signing time + 14 minutes.
    assert.equal(tok.expiration.toISOString().replace(".000Z", "Z"), c.awsCliExpiration);
  });
}

Deno.test("the golden fixtures cover the signed-payload and query-order rules", () => {
  const u = new URL(golden.cases[0]!.url);
  const keys = [...u.searchParams.keys()];
  assert.deepEqual(keys, [
    "Action",
    "Version",
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
  ]);
  // The payload hash is the empty string's, not UNSIGNED-PAYLOAD: a token signed with
  // UNSIGNED-PAYLOAD would carry a different signature than the golden one above.
  assert.equal(u.searchParams.get("X-Amz-Expires"), "60");
  assert.equal(u.searchParams.get("X-Amz-SignedHeaders"), "host;x-k8s-aws-id");
  const withToken = golden.cases.find((c) => c.sessionToken)!;
  assert.match(withToken.url, /&X-Amz-Expires=60&X-Amz-Security-Token=[^&]+&X-Amz-SignedHeaders=/);
});

Deno.test("base64url has no padding and uses the URL alphabet", () => {
  assert.equal(base64UrlNoPad("a"), "YQ");
  assert.equal(base64UrlNoPad("ab?>"), "YWI_Pg");
  assert.equal(base64UrlNoPad("\u00ff\u00fe"), "w7_Dvg");
});

Deno.test("a token verifies at a SigV4-checking STS peer, and only for its cluster ID", async () => {
  const now = new Date();
  const peer = await startStsPeer({
    principals: [{
      accessKeyId: "AKIAPEERTEST0000001",
      secretAccessKey: "peer-secret",
      arn: "arn:aws:iam::123456789012:user/alice",
      userId: "AIDAPEERTEST",
      account: "123456789012",
    }],
  });
  try {
    const tok = await generateToken({
      clusterId: "cluster-a",
      credentials: { accessKeyId: "AKIAPEERTEST0000001", secretAccessKey: "peer-secret" },
      endpoint: peer.url,
      signingRegion: "us-west-2",
      now,
    });
    assert.ok(tok.token.startsWith(TOKEN_PREFIX));
    const url = new TextDecoder().decode(
      Uint8Array.from(
        atob(tok.token.slice(TOKEN_PREFIX.length).replace(/-/g, "+").replace(/_/g, "/")),
        (ch) => ch.charCodeAt(0),
      ),
    );
    const ok = await fetch(url, {
      headers: { "x-k8s-aws-id": "cluster-a", accept: "application/json" },
    });
    const body = await ok.text();
    assert.equal(ok.status, 200, body);
    assert.match(body, /arn:aws:iam::123456789012:user\/alice/);
    const other = await fetch(url, { headers: { "x-k8s-aws-id": "cluster-b" } });
    await other.body?.cancel();
    assert.equal(other.status, 403);
  } finally {
    await peer.close();
  }
});
