import { strict as assert } from "node:assert";
import type { CliDeps } from "../../src/cli/cli_flags.ts";
import { runVerify } from "../../src/cli/verify.ts";
import { type PeerPrincipal, startStsPeer, type StsPeer } from "../peers/sts_peer.ts";
import { presignToken, tokenOf } from "../verify/fixtures.ts";

const ALICE: PeerPrincipal = {
  accessKeyId: "AKIAIOSFODNN7EXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  arn: "arn:aws:iam::123456789012:user/alice",
  userId: "AIDAEXAMPLEALICE0000",
  account: "123456789012",
};

function cli(env: Record<string, string>) {
  const out = { stdout: "", stderr: "" };
  const deps: CliDeps = {
    env: (n) => env[n],
    stdout: (s) => void (out.stdout += s),
    stderr: (s) => void (out.stderr += s),
    readTextFile: (p) => Deno.readTextFile(p),
    now: () => new Date(),
  };
  return { out, deps };
}

async function withPeer(fn: (peer: StsPeer, token: string) => Promise<void>) {
  const peer = await startStsPeer({ principals: [ALICE] });
  try {
    await fn(peer, await presignToken(ALICE, peer.url, "prod"));
  } finally {
    await peer.close();
  }
}

Deno.test("verify -o json prints the Go field names, 4-space indented", async () => {
  await withPeer(async (peer, token) => {
    const { out, deps } = cli({ AWS_ENDPOINT_URL_STS: peer.url, AWS_REGION: "us-west-2" });
    const code = await runVerify(["-i", "prod", "-t", token, "-o", "json"], deps);
    assert.equal(code, 0, out.stderr);
    const host = new URL(peer.url).host;
    assert.equal(
      out.stdout,
      `{
    "ARN": "arn:aws:iam::123456789012:user/alice",
    "CanonicalARN": "arn:aws:iam::123456789012:user/alice",
    "AccountID": "123456789012",
    "UserID": "AIDAEXAMPLEALICE0000",
    "SessionName": "",
    "AccessKeyID": "AKIAIOSFODNN7EXAMPLE",
    "STSEndpoint": "${host}"
}
`,
    );
    assert.equal(out.stderr, "");
  });
});

Deno.test("verify without -o prints the Go %+v dump; cluster ID from the env var", async () => {
  await withPeer(async (peer, token) => {
    const { out, deps } = cli({
      AWS_ENDPOINT_URL_STS: peer.url,
      AWS_DEFAULT_REGION: "us-west-2",
      KUBERNETES_AWS_AUTHENTICATOR_CLUSTER_ID: "prod",
    });
    assert.equal(await runVerify(["--token", token, "--partition", "aws"], deps), 0, out.stderr);
    assert.equal(
      out.stdout,
      `&{ARN:arn:aws:iam::123456789012:user/alice CanonicalARN:arn:aws:iam::123456789012:user/alice AccountID:123456789012 UserID:AIDAEXAMPLEALICE0000 SessionName: AccessKeyID:AKIAIOSFODNN7EXAMPLE STSEndpoint:${
        new URL(peer.url).host
      }}\n`,
    );
  });
});

Deno.test("verify: a token for another cluster fails at STS with exit 1", async () => {
  await withPeer(async (peer, token) => {
    const { out, deps } = cli({ AWS_ENDPOINT_URL_STS: peer.url, AWS_REGION: "us-west-2" });
    assert.equal(await runVerify(["-i", "staging", "-t", token], deps), 1);
    assert.equal(out.stdout, "");
    assert.equal(
      out.stderr,
      "could not verify token: sts getCallerIdentity failed: error from AWS (expected 200, got 403) on custom endpoint. Code: SignatureDoesNotMatch\n",
    );
  });
});

Deno.test("verify: without the override the peer's host is refused locally", async () => {
  await withPeer(async (peer, token) => {
    const { out, deps } = cli({ AWS_REGION: "us-west-2" });
    const before = peer.requestCount;
    assert.equal(await runVerify(["-i", "prod", "-t", token], deps), 1);
    assert.match(
      out.stderr,
      /^could not verify token: input token was not properly formatted: unexpected scheme "http" in pre-signed URL\n$/,
    );
    assert.equal(peer.requestCount, before);
  });
});

Deno.test("verify: missing token, missing cluster ID, invalid partition", async () => {
  const t = tokenOf("https://sts.amazonaws.com/");
  {
    const { out, deps } = cli({});
    assert.equal(await runVerify(["-i", "prod"], deps), 1);
    assert.match(
      out.stderr,
      /^error: token not specified\nUsage:\n {2}aws-iam-authenticator verify \[flags\]\n/,
    );
    assert.match(out.stderr, /--partition string +The AWS partition/);
    assert.equal(out.stdout, "");
  }
  {
    const { out, deps } = cli({});
    assert.equal(await runVerify(["-t", t], deps), 1);
    assert.match(out.stderr, /^error: cluster ID not specified\nUsage:/);
  }
  {
    const { out, deps } = cli({});
    assert.equal(await runVerify(["-i", "prod", "-t", t, "--partition", "aws-moon"], deps), 1);
    assert.equal(
      out.stderr,
      'error: invalid partition "aws-moon"; use one of: aws, aws-cn, aws-us-gov, aws-iso, aws-iso-b, aws-iso-e, aws-iso-f, aws-eusc\n',
    );
  }
});

Deno.test("verify: no region anywhere → the Go warning, and verification still runs", async () => {
  const { out, deps } = cli({ AWS_EC2_METADATA_DISABLED: "true" });
  assert.equal(await runVerify(["-i", "prod", "-t", "k8s-aws-v1.bad!"], deps), 1);
  assert.equal(
    out.stderr,
    "[Warn] Region not found in instance metadata, err: AWS_EC2_METADATA_DISABLED is set\n" +
      "could not verify token: input token was not properly formatted: illegal base64 data at input byte 3\n",
  );
});

Deno.test("verify: the region enables the instance-region fallback host", async () => {
  const now = new Date("2026-01-01T00:01:00Z");
  const url = "https://sts.zz-new-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15" +
    "&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAX%2F20260101%2Fzz-new-1%2Fsts%2Faws4_request" +
    "&X-Amz-Date=20260101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id" +
    "&X-Amz-Signature=00";
  const fetched: string[] = [];
  const fakeSts: typeof fetch = (input) => {
    fetched.push(String(input));
    return Promise.resolve(new Response("denied", { status: 403 }));
  };
  const { out, deps } = cli({ AWS_REGION: "zz-new-1" });
  assert.equal(
    await runVerify(["-i", "prod", "-t", tokenOf(url)], deps, { fetch: fakeSts, now: () => now }),
    1,
  );
  assert.deepEqual(fetched, [url]);
  assert.match(out.stderr, /got 403\) on zz-new-1 endpoint/);
  const other = cli({ AWS_REGION: "us-east-1" });
  assert.equal(
    await runVerify(["-i", "prod", "-t", tokenOf(url)], other.deps, {
      fetch: fakeSts,
      now: () => now,
    }),
    1,
  );
  assert.match(other.out.stderr, /unexpected hostname "sts.zz-new-1.amazonaws.com"/);
  assert.equal(fetched.length, 1);
});
