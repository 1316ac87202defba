import assert from "node:assert/strict";
import { nearMisses } from "../../src/explain/mod.ts";
import type { StoreEntry } from "../../src/map/mod.ts";

function entry(kind: StoreEntry["kind"], arn: string, location = "f:1:1"): StoreEntry {
  return { kind, key: arn.toLowerCase(), arn, userId: "", username: "u", groups: [], location };
}

const ME = "arn:aws:iam::111122223333:role/Developer";

Deno.test("near misses: each way an entry can differ, closest first", () => {
  const got = nearMisses(ME, [{
    name: "MountedFile",
    entries: [
      entry("role", "arn:aws:iam::999988887777:role/Developer", "a"),
      entry("role", "arn:aws-cn:iam::111122223333:role/Developer", "b"),
      entry("user", "arn:aws:iam::111122223333:user/Developer", "c"),
      entry("role", "arn:aws:iam::111122223333:role/Develop", "d"),
      entry("role", "arn:aws:iam::111122223333:role/Unrelated", "e"),
    ],
  }]);
  assert.deepEqual(got.map((n) => [n.location, n.why]), [
    ["a", "another account (999988887777; you are in 111122223333)"],
    ["b", "another partition (aws-cn; you are in aws)"],
    ["c", "names an IAM user with your name, but you authenticate as an IAM role"],
    ["d", 'a similar name ("develop" vs "developer")'],
  ]);
});

Deno.test("near misses: an IAM user's path, and SSO permission sets", () => {
  const user = nearMisses("arn:aws:iam::111122223333:user/team/alice", [{
    name: "EKSConfigMap",
    entries: [entry("user", "arn:aws:iam::111122223333:user/alice", "x")],
  }]);
  assert.equal(
    user[0]?.why,
    'the user path differs: user ARNs keep their path, and yours is "/team/"',
  );

  const sso = nearMisses(
    "arn:aws:iam::111122223333:role/AWSReservedSSO_ReadOnly_0123456789abcdef",
    [{
      name: "MountedFile",
      entries: [
        entry("sso", "arn:aws:iam::111122223333:role/awsreservedsso_admin_*", "s1"),
        entry("sso", "arn:aws:iam::999988887777:role/awsreservedsso_readonly_*", "s2"),
      ],
    }],
  );
  assert.deepEqual(sso.map((n) => n.why), [
    'an SSO mapping for permission set "admin"; your session uses permission set "readonly"',
    "an SSO mapping of your permission set in another account (999988887777)",
  ]);
});

Deno.test("near misses: at most `limit`, none for an ARN that cannot be parsed", () => {
  const many = Array.from(
    { length: 20 },
    (_, i) => entry("role", `arn:aws:iam::${String(i).padStart(12, "9")}:role/Developer`),
  );
  assert.equal(nearMisses(ME, [{ name: "MountedFile", entries: many }]).length, 5);
  assert.deepEqual(nearMisses("nonsense", [{ name: "MountedFile", entries: many }]), []);
});
