/**
 * Every STS outcome carries the reason ID docs/why-denied.md gives it: the cases an STS answer
 * (or its absence) can produce, checked against the SigV4-verifying STS peer and, for answers the
 * peer does not give, against scripted bodies.
 */
import { strict as assert } from "node:assert";
import { STSError, stsErrorReason, Verifier } from "../../src/verify/mod.ts";
import { type PeerPrincipal, startStsPeer } from "../peers/sts_peer.ts";
import { presignToken } from "./fixtures.ts";

const ALICE: PeerPrincipal = {
  accessKeyId: "AKIAREASONSALICE0001",
  secretAccessKey: "alice-reasons-secret",
  arn: "arn:aws:iam::123456789012:user/alice",
  userId: "AIDAALICE",
  account: "123456789012",
};

Deno.test("stsErrorReason: each STS error code and status class", () => {
  const cases: [number, string | undefined, string, string][] = [
    [
      403,
      "SignatureDoesNotMatch",
      "The request signature we calculated…",
      "token.cluster_mismatch",
    ],
    [
      403,
      "SignatureDoesNotMatch",
      "Signature expired: 20260101T000000Z is now earlier",
      "token.expired",
    ],
    [403, "SignatureDoesNotMatch", "Signature not yet current: 2026…", "token.future"],
    [403, "InvalidClientTokenId", "", "sts.invalid_credentials"],
    [403, "ExpiredToken", "", "sts.expired_credentials"],
    [403, "AccessDenied", "", "sts.access_denied"],
    [403, "RegionDisabledException", "", "sts.region_disabled"],
    [500, "InternalFailure", "", "sts.unavailable"],
    [503, undefined, "<html>", "sts.unavailable"],
    [400, "ValidationError", "", "sts.error"],
    [404, undefined, "", "sts.error"],
  ];
  for (const [status, code, body, want] of cases) {
    assert.equal(stsErrorReason(status, code, body), want, `${status} ${code}`);
  }
});

Deno.test("the verifier's STS failures carry their reasons (peer, scripted bodies, no answer)", async () => {
  const peer = await startStsPeer({ principals: [ALICE] });
  try {
    const make = (clusterId: string, fetchFn?: typeof fetch) =>
      new Verifier({ clusterId, partition: "aws", stsEndpointOverride: peer.url, fetch: fetchFn });
    const token = await presignToken(ALICE, peer.url, "c1");
    const reason = (v: Verifier, t = token) =>
      v.verify(t).then(() => "authenticated", (e) => (e as STSError).reason);

    assert.equal(await reason(make("c1")), "authenticated");
    assert.equal(await reason(make("c2")), "token.cluster_mismatch");
    const unknown = await presignToken(
      { ...ALICE, accessKeyId: "AKIAUNKNOWN000000009" },
      peer.url,
      "c1",
    );
    assert.equal(await reason(make("c1"), unknown), "sts.invalid_credentials");
    peer.setFaults({ status: 502 });
    assert.equal(await reason(make("c1")), "sts.unavailable");
    peer.setFaults({ body: "<html>proxy login</html>", status: 200 });
    assert.equal(await reason(make("c1")), "sts.bad_response");
    peer.setFaults({});

    const scripted = (status: number, body: unknown) => () =>
      Promise.resolve(Response.json(body, { status }));
    assert.equal(
      await reason(make("c1", scripted(403, { Error: { Code: "AccessDenied" } }))),
      "sts.access_denied",
    );
    assert.equal(
      await reason(make("c1", scripted(403, { Error: { Code: "RegionDisabledException" } }))),
      "sts.region_disabled",
    );
    assert.equal(
      await reason(make("c1", scripted(400, { Error: { Code: "ValidationError" } }))),
      "sts.error",
    );
    const refused = () =>
      Promise.reject(new TypeError("error sending request: connection refused"));
    assert.equal(await reason(make("c1", refused)), "sts.unreachable");
  } finally {
    await peer.close();
  }
});
