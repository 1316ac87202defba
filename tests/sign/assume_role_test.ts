import assert from "node:assert/strict";
import { assumeRole, defaultSessionName, forwardedSessionName } from "../../src/sign/mod.ts";
import { startStsPeer } from "../peers/sts_peer.ts";

Deno.test("forwarded session name: the part after the one colon, else none", () => {
  assert.equal(forwardedSessionName("AROAXXX:alice@corp"), "alice@corp");
  assert.equal(forwardedSessionName("AIDAXXX"), undefined);
  assert.equal(forwardedSessionName("a:b:c"), undefined);
});

Deno.test("default session name has the Go SDK's shape", () => {
  assert.equal(defaultSessionName(new Date(1700000000123)), "aws-go-sdk-1700000000123000000");
});

Deno.test("assumeRole passes ExternalId and RoleSessionName to a signature-checking STS", async () => {
  const peer = await startStsPeer({
    principals: [{
      accessKeyId: "AKIAASSUMEBASE00001",
      secretAccessKey: "sec",
      arn: "arn:aws:iam::123456789012:user/u",
      userId: "AIDAU",
      account: "123456789012",
    }],
    roles: [{ arn: "arn:aws:iam::123456789012:role/R", roleId: "AROAR", externalId: "e1" }],
  });
  try {
    const endpoint = { url: peer.url, signingRegion: "us-west-2" };
    const base = { accessKeyId: "AKIAASSUMEBASE00001", secretAccessKey: "sec" };
    const creds = await assumeRole(base, {
      roleArn: "arn:aws:iam::123456789012:role/R",
      externalId: "e1",
      sessionName: "s1",
      forwardSessionName: false,
      endpoint,
      now: () => new Date(),
    });
    assert.match(creds.accessKeyId, /^ASIA/);
    assert.ok(creds.sessionToken);
    assert.ok(creds.expiration && creds.expiration.getTime() > Date.now());
    assert.match(
      peer.lastRequest?.headers["user-agent"] ?? "",
      /aws-iam-authenticator\/unversioned/,
    );
    await assert.rejects(
      assumeRole({ ...base, secretAccessKey: "wrong" }, {
        roleArn: "arn:aws:iam::123456789012:role/R",
        externalId: "e1",
        sessionName: "s1",
        forwardSessionName: false,
        endpoint,
        now: () => new Date(),
      }),
      /operation error STS: AssumeRole, https response error StatusCode: 403.*SignatureDoesNotMatch/,
    );
  } finally {
    await peer.close();
  }
});
