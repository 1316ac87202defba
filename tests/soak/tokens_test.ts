import { strict as assert } from "node:assert";
import { mintToken } from "../../scripts/lib/mint_tokens.ts";
import { seededRng } from "../../scripts/soak/random.ts";
import {
  harmlessness,
  mutate,
  PREFIX,
  queryKey,
  tokenQueryKey,
  tokenUrl,
} from "../../scripts/soak/tokens.ts";
import { CLUSTER_ID, principal } from "../../scripts/soak/world.ts";
import { startStsPeer, type StsAnswerRecord } from "../../tests/peers/sts_peer.ts";

const ENDPOINT = "http://127.0.0.1:4566";

async function token(at = new Date("2026-01-02T03:04:05Z")): Promise<string> {
  return await mintToken(principal("static-admin"), at, {
    clusterId: CLUSTER_ID,
    endpoint: ENDPOINT,
  });
}

Deno.test("tokenUrl decodes; anything that is not base64url of ASCII is undefined", async () => {
  const t = await token();
  assert.match(tokenUrl(t)!, /^http:\/\/127\.0\.0\.1:4566\/\?Action=GetCallerIdentity&/);
  assert.equal(tokenUrl("k8s-aws-v1.a"), undefined, "length 1 mod 4");
  assert.equal(tokenUrl("k8s-aws-v1.ab+c"), undefined);
  assert.equal(tokenUrl(`K8S${t.slice(3)}`), undefined);
});

Deno.test("harmless mutations: unused low bits of the last character, lower-case hex escapes", async () => {
  // Find a token whose base64 length leaves unused bits (length mod 4 of 2 or 3).
  let t = await token();
  for (let s = 1; (t.length - PREFIX.length) % 4 === 0; s++) {
    t = await token(new Date(Date.UTC(2026, 0, 2, 3, 4, 5 + s)));
  }
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  // The lowest bit of the last character is never part of a byte (2 or 4 bits are unused).
  const flipped = alphabet[alphabet.indexOf(t.at(-1)!) ^ 1]!;
  assert.equal(harmlessness(t, t.slice(0, -1) + flipped), "same-url");
  // The highest is.
  const high = alphabet[alphabet.indexOf(t.at(-1)!) ^ 32]!;
  assert.equal(harmlessness(t, t.slice(0, -1) + high), undefined);
  const url = tokenUrl(t)!;
  const lower = url.replace("%2F", "%2f");
  const encode = (u: string) =>
    PREFIX + btoa(u).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
  assert.equal(harmlessness(t, encode(lower)), "hex-lowercase");
  assert.equal(harmlessness(t, encode(url.replace("Action=", "Actiom="))), undefined);
  assert.equal(harmlessness(t, "k8s-aws-v1.!!"), undefined);
});

Deno.test("mutate: one change, never the original, judged by harmlessness", async () => {
  const t = await token();
  const rng = seededRng(7);
  for (let i = 0; i < 300; i++) {
    const m = mutate(t, rng);
    assert.notEqual(m.token, t);
    assert.equal(m.harmless, harmlessness(t, m.token));
    if (m.where === "token") {
      assert.equal(m.token.length, t.length);
      assert.equal([...m.token].filter((c, j) => c !== t[j]).length, 1);
    }
  }
});

Deno.test("a token's query key is the key of the raw query the STS peer receives", async () => {
  const records: StsAnswerRecord[] = [];
  const p = principal("static-admin");
  const peer = await startStsPeer({
    principals: [p],
    transport: "tcp",
    onAnswer: (r) => records.push(r),
  });
  try {
    const t = await mintToken(p, new Date(), { clusterId: CLUSTER_ID, endpoint: peer.url });
    const res = await fetch(tokenUrl(t)!, { headers: { "x-k8s-aws-id": CLUSTER_ID } });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.equal(queryKey(records[0]!.query), tokenQueryKey(t));
    assert.equal(records[0]!.arn, p.arn);
  } finally {
    await peer.close();
  }
});
