/**
 * Golden tests of `explain`'s human output: the exact text a denied user reads. A fixed clock
 * (for the client and the STS peer) and placeholders for the peer's port and the temporary
 * directory make it byte-stable. `UPDATE_GOLDEN=1 deno test -A tests/explain/golden_test.ts`
 * rewrites the files after a deliberate change; review the diff.
 */
import assert from "node:assert/strict";
import { generateToken } from "../../src/sign/mod.ts";
import { type PeerPrincipal, startStsPeer } from "../peers/sts_peer.ts";
import { credentialsOf, explainWith, normalizePort, tempDir } from "./_helpers.ts";

const NOW = new Date("2026-03-04T05:06:07Z");
const ACCT = "111122223333";
const ALICE: PeerPrincipal = {
  accessKeyId: "AKIAGOLDENALICE00001",
  secretAccessKey: "alice-golden-secret",
  arn: `arn:aws:iam::${ACCT}:user/alice`,
  userId: "AIDAALICE",
  account: ACCT,
};
const JANE: PeerPrincipal = {
  accessKeyId: "ASIAGOLDENJANE000002",
  secretAccessKey: "jane-golden-secret",
  sessionToken: "jane-golden-session-token",
  arn: `arn:aws:sts::${ACCT}:assumed-role/Developer/jane@example.com`,
  userId: "AROADEVELOPER:jane@example.com",
  account: ACCT,
};
const CONFIG = `clusterID: prod
server:
  mapUsers:
  - userarn: arn:aws:iam::${ACCT}:user/alice
    username: alice
    groups: [system:masters]
  mapRoles:
  - rolearn: arn:aws:iam::${ACCT}:role/Developers
    username: dev:{{SessionName}}
    groups: [developers]
  - rolearn: arn:aws:iam::444455556666:role/Developer
    username: dev:{{SessionName}}
`;

async function check(name: string, actual: string): Promise<void> {
  const path = new URL(`./golden/${name}.txt`, import.meta.url);
  if (Deno.env.get("UPDATE_GOLDEN") === "1") await Deno.writeTextFile(path, actual);
  assert.equal(actual, await Deno.readTextFile(path));
}

Deno.test("golden: explain's human output", async (t) => {
  const peer = await startStsPeer({ principals: [ALICE, JANE], now: () => NOW });
  await using dir = await tempDir();
  const config = await dir.file("server.yaml", CONFIG);
  const run = async (args: string[], p?: PeerPrincipal) => {
    const r = await explainWith(args, {
      stsUrl: peer.url,
      env: p ? credentialsOf(p) : {},
      now: () => NOW,
    });
    return { ...r, text: normalizePort(r.stdout, peer.url).replaceAll(dir.path, "<dir>") };
  };
  try {
    await t.step("authenticated", async () => {
      const r = await run(["-i", "prod", "-c", config], ALICE);
      assert.equal(r.code, 0);
      await check("authenticated", r.text);
    });
    await t.step("denied: a role mapped in another account, with a similar name", async () => {
      const r = await run(["-i", "prod", "-c", config], JANE);
      assert.equal(r.code, 1);
      await check("not_mapped", r.text);
    });
    await t.step("denied: a pasted token minted for another cluster", async () => {
      const token = (await generateToken({
        clusterId: "staging",
        credentials: ALICE,
        endpoint: peer.url,
        signingRegion: "us-east-1",
        now: NOW,
      })).token;
      const r = await run(["-t", token, "-c", config]);
      assert.equal(r.code, 1);
      await check("cluster_mismatch", r.text);
    });
    await t.step("inconclusive: no mapping source", async () => {
      const r = await run(["-i", "prod"], JANE);
      assert.equal(r.code, 2);
      await check("no_mapping_source", r.text);
    });
  } finally {
    await peer.close();
  }
});
