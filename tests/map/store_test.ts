import assert from "node:assert/strict";
import type { RoleMapping, UserMapping } from "../../src/config/mod.ts";
import { MappingStore } from "../../src/map/store.ts";
import { identity } from "./_helpers.ts";

const ACCT = "123456789012";

function role(roleArn: string, username = "u", extra: Partial<RoleMapping> = {}): RoleMapping {
  return { roleArn, username, groups: ["g"], userId: "", ...extra };
}
function user(userArn: string, username = "u", extra: Partial<UserMapping> = {}): UserMapping {
  return { userArn, username, groups: ["g"], userId: "", ...extra };
}
function sso(permissionSetName: string, accountId = ACCT, partition = ""): RoleMapping {
  return {
    roleArn: "",
    sso: { permissionSetName, accountId, partition },
    username: `sso-${permissionSetName}`,
    groups: [],
    userId: "",
  };
}
function build(roles: RoleMapping[], users: UserMapping[] = [], accounts: string[] = []) {
  return MappingStore.build(
    roles.map((value, i) => ({ location: `roles[${i}]`, value })),
    users.map((value, i) => ({ location: `users[${i}]`, value })),
    accounts,
  );
}

interface Row {
  name: string;
  roles?: RoleMapping[];
  users?: UserMapping[];
  arn: string;
  /** Expected username, or undefined for "not mapped". */
  want: string | undefined;
}

const rows: Row[] = [
  {
    name: "assumed role matches its role",
    roles: [role(`arn:aws:iam::${ACCT}:role/Admin`, "admin")],
    arn: `arn:aws:sts::${ACCT}:assumed-role/Admin/alice`,
    want: "admin",
  },
  {
    name: "role ARN comparison is case-insensitive",
    roles: [role(`arn:aws:iam::${ACCT}:role/admin`, "admin")],
    arn: `arn:aws:sts::${ACCT}:assumed-role/ADMIN/alice`,
    want: "admin",
  },
  {
    name: "configured role with a path matches (decision 10, case 37)",
    roles: [role(`arn:aws:iam::${ACCT}:role/team/ops/Admin`, "admin")],
    arn: `arn:aws:sts::${ACCT}:assumed-role/Admin/alice`,
    want: "admin",
  },
  {
    name: "configured assumed-role ARN is canonicalized to its role",
    roles: [role(`arn:aws:sts::${ACCT}:assumed-role/Admin/whatever`, "admin")],
    arn: `arn:aws:sts::${ACCT}:assumed-role/Admin/alice`,
    want: "admin",
  },
  {
    name: "identity whose canonical role keeps a path still matches the plain role",
    roles: [role(`arn:aws:iam::${ACCT}:role/Admin`, "admin")],
    arn: `arn:aws:sts::${ACCT}:assumed-role/Org/Team/Admin/alice`,
    want: "admin",
  },
  {
    name: "role of another account does not match",
    roles: [role(`arn:aws:iam::${ACCT}:role/Admin`, "admin")],
    arn: `arn:aws:sts::210987654321:assumed-role/Admin/alice`,
    want: undefined,
  },
  {
    name: "role of another partition does not match",
    roles: [role(`arn:aws:iam::${ACCT}:role/Admin`, "admin")],
    arn: `arn:aws-cn:sts::${ACCT}:assumed-role/Admin/alice`,
    want: undefined,
  },
  {
    name: "role name prefix does not match",
    roles: [role(`arn:aws:iam::${ACCT}:role/Admin`, "admin")],
    arn: `arn:aws:sts::${ACCT}:assumed-role/AdminX/alice`,
    want: undefined,
  },
  {
    name: "user matches case-insensitively",
    users: [user(`arn:aws:iam::${ACCT}:user/Alice`, "alice")],
    arn: `arn:aws:iam::${ACCT}:user/alice`,
    want: "alice",
  },
  {
    name: "user paths are significant (STS reports them)",
    users: [user(`arn:aws:iam::${ACCT}:user/Alice`, "alice")],
    arn: `arn:aws:iam::${ACCT}:user/division/Alice`,
    want: undefined,
  },
  {
    name: "user with a path matches the same path",
    users: [user(`arn:aws:iam::${ACCT}:user/division/Alice`, "alice")],
    arn: `arn:aws:iam::${ACCT}:user/division/Alice`,
    want: "alice",
  },
  {
    name: "root user mapping",
    users: [user(`arn:aws:iam::${ACCT}:root`, "root-user")],
    arn: `arn:aws:iam::${ACCT}:root`,
    want: "root-user",
  },
  {
    name: "federated user mapping",
    users: [user(`arn:aws:sts::${ACCT}:federated-user/Bob`, "bob")],
    arn: `arn:aws:sts::${ACCT}:federated-user/Bob`,
    want: "bob",
  },
  {
    name: "a role mapping is looked up before a user mapping of the same ARN",
    roles: [role(`arn:aws:iam::${ACCT}:user/Alice`, "from-roles")],
    users: [user(`arn:aws:iam::${ACCT}:user/Alice`, "from-users")],
    arn: `arn:aws:iam::${ACCT}:user/Alice`,
    want: "from-roles",
  },
  {
    name: "SSO role configured by its full aws-reserved path matches the session (case 37)",
    roles: [
      role(
        `arn:aws:iam::${ACCT}:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123456789abcdef`,
        "sso-admin",
      ),
    ],
    arn: `arn:aws:sts::${ACCT}:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice`,
    want: "sso-admin",
  },
  {
    name: "SSO permission set matches its generated role (case 37)",
    roles: [sso("ViewOnlyAccess")],
    arn: `arn:aws:sts::${ACCT}:assumed-role/AWSReservedSSO_ViewOnlyAccess_0123456789abcdef/alice`,
    want: "sso-ViewOnlyAccess",
  },
  {
    name: "SSO with explicit partition aws matches (decision 5)",
    roles: [sso("ViewOnlyAccess", ACCT, "aws")],
    arn: `arn:aws:sts::${ACCT}:assumed-role/AWSReservedSSO_ViewOnlyAccess_0123456789abcdef/alice`,
    want: "sso-ViewOnlyAccess",
  },
  {
    name: "SSO in aws-cn matches with partition aws-cn (decision 5)",
    roles: [sso("ViewOnlyAccess", ACCT, "aws-cn")],
    arn: `arn:aws-cn:sts::${ACCT}:assumed-role/AWSReservedSSO_ViewOnlyAccess_0123456789abcdef/a`,
    want: "sso-ViewOnlyAccess",
  },
  {
    name: "SSO in aws-cn does not match a mapping without partition (means aws)",
    roles: [sso("ViewOnlyAccess")],
    arn: `arn:aws-cn:sts::${ACCT}:assumed-role/AWSReservedSSO_ViewOnlyAccess_0123456789abcdef/a`,
    want: undefined,
  },
  {
    name: "SSO of another account does not match",
    roles: [sso("ViewOnlyAccess", "210987654321")],
    arn: `arn:aws:sts::${ACCT}:assumed-role/AWSReservedSSO_ViewOnlyAccess_0123456789abcdef/alice`,
    want: undefined,
  },
  {
    name: "SSO permission set that is a prefix of another does not match the other",
    roles: [sso("Admin")],
    arn: `arn:aws:sts::${ACCT}:assumed-role/AWSReservedSSO_Admin_ReadOnly_0123456789abcdef/a`,
    want: undefined,
  },
  {
    name: "first match in file order wins: SSO entry before exact entry",
    roles: [
      sso("Admin"),
      role(`arn:aws:iam::${ACCT}:role/AWSReservedSSO_Admin_0123456789abcdef`, "exact"),
    ],
    arn: `arn:aws:sts::${ACCT}:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice`,
    want: "sso-Admin",
  },
  {
    name: "first match in file order wins: exact entry before SSO entry",
    roles: [
      role(`arn:aws:iam::${ACCT}:role/AWSReservedSSO_Admin_0123456789abcdef`, "exact"),
      sso("Admin"),
    ],
    arn: `arn:aws:sts::${ACCT}:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice`,
    want: "exact",
  },
  {
    name: "duplicates: the first entry wins (decision 9)",
    roles: [
      role(`arn:aws:iam::${ACCT}:role/Admin`, "first"),
      role(`arn:aws:iam::${ACCT}:role/admin`, "second"),
    ],
    arn: `arn:aws:sts::${ACCT}:assumed-role/Admin/alice`,
    want: "first",
  },
  {
    name: "role path and plain role are duplicates too; the first wins",
    roles: [
      role(`arn:aws:iam::${ACCT}:role/p/Admin`, "first"),
      role(`arn:aws:iam::${ACCT}:role/Admin`, "second"),
    ],
    arn: `arn:aws:sts::${ACCT}:assumed-role/Admin/alice`,
    want: "first",
  },
  {
    name: "an invalid entry never matches, valid neighbours still do",
    roles: [role("arn:aws:iam::bogus", "bad"), role(`arn:aws:iam::${ACCT}:role/Admin`, "admin")],
    arn: `arn:aws:sts::${ACCT}:assumed-role/Admin/alice`,
    want: "admin",
  },
];

for (const row of rows) {
  Deno.test(`lookup: ${row.name}`, () => {
    const { store } = build(row.roles ?? [], row.users ?? []);
    const got = store.lookup(identity(row.arn));
    assert.equal(got?.username, row.want);
    if (got) assert.equal(got.identityArn, identity(row.arn).canonicalArn.toLowerCase());
  });
}

Deno.test("build reports duplicates as warnings with both locations", () => {
  const { warnings, problems } = build([
    role(`arn:aws:iam::${ACCT}:role/Admin`, "first"),
    role(`arn:aws:iam::${ACCT}:role/ADMIN`, "second"),
    sso("X"),
    sso("X"),
  ]);
  assert.deepEqual(problems, []);
  assert.equal(warnings.length, 2);
  assert.equal(warnings[0]?.location, "roles[1]");
  assert.match(warnings[0]?.message ?? "", /first one \(roles\[0\]\) wins/);
  assert.equal(warnings[1]?.location, "roles[3]");
});

Deno.test("build rejects invalid entries with the Go messages and their location", () => {
  const { problems, store } = build(
    [
      role(""),
      { ...sso("X"), roleArn: `arn:aws:iam::${ACCT}:role/A` },
      sso("X", "12345"),
      sso("bad name!"),
      sso("X", ACCT, "aws-mars"),
      role(`arn:aws:iam::${ACCT}:role/NoName`, ""),
      role(`arn:aws:iam::${ACCT}:group/G`),
    ],
    [user("")],
  );
  assert.deepEqual(problems.map((p) => [p.location, p.message]), [
    ["roles[0]", "one of rolearn or SSO must be supplied"],
    ["roles[1]", "only one of rolearn or SSO can be supplied"],
    ["roles[2]", "AccountID '12345' is not a valid AWS Account ID"],
    ["roles[3]", "PermissionSetName 'bad name!' is not a valid AWS SSO PermissionSet Name"],
    ["roles[4]", "partition 'aws-mars' is not a valid AWS partition"],
    ["roles[5]", "value for username must be supplied"],
    ["roles[6]", `unrecognized resource group/G for service iam`],
    ["users[0]", "value for userarn must be supplied"],
  ]);
  assert.equal(store.size, 0);
});

Deno.test("accounts: exact membership only (case 42)", () => {
  const { store } = build([], [], [ACCT]);
  assert.equal(store.isAccountAllowed(ACCT), true);
  assert.equal(store.isAccountAllowed("210987654321"), false);
  assert.equal(store.isAccountAllowed("23456789012"), false);
  assert.equal(store.isAccountAllowed(""), false);
});

Deno.test("strict user-id mode", async (t) => {
  const mk = (roles: RoleMapping[], users: UserMapping[] = []) =>
    MappingStore.build(
      roles.map((value, i) => ({ location: `roles[${i}]`, value })),
      users.map((value, i) => ({ location: `users[${i}]`, value })),
      [],
      { userIdStrict: true },
    );
  const id = identity(`arn:aws:sts::${ACCT}:assumed-role/Admin/alice`, { userId: "AROAADMIN" });

  await t.step("user id + matching ARN maps", () => {
    const { store } = mk([
      role(`arn:aws:iam::${ACCT}:role/Admin`, "admin", { userId: "AROAADMIN" }),
    ]);
    assert.equal(store.lookup(id)?.username, "admin");
  });
  await t.step("ARN with a path is stripped before the comparison", () => {
    const { store } = mk([
      role(`arn:aws:iam::${ACCT}:role/x/y/Admin`, "admin", { userId: "AROAADMIN" }),
    ]);
    assert.equal(store.lookup(id)?.username, "admin");
  });
  await t.step("user id with a different ARN is an error, not a match", () => {
    const { store } = mk([
      role(`arn:aws:iam::${ACCT}:role/Other`, "admin", { userId: "AROAADMIN" }),
    ]);
    assert.throws(() => store.lookup(id), /ARN does not match User ID/);
  });
  await t.step("malformed mapping ARN fails closed (case 39)", () => {
    const { store, problems } = mk([role("arn:aws:iam:bad", "admin", { userId: "AROAADMIN" })]);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!.message, /denied until it is fixed/);
    assert.throws(() => store.lookup(id), /ARN does not match User ID/);
  });
  await t.step("mapping without ARN matches on user id alone", () => {
    const r = mk([{ roleArn: "", username: "admin", groups: [], userId: "AROAADMIN" }]);
    assert.deepEqual(r.problems, []);
    assert.equal(r.store.lookup(id)?.username, "admin");
    const u = mk([], [user("", "alice", { userId: "AIDAALICE" })]);
    assert.deepEqual(u.problems, []);
    const alice = identity(`arn:aws:iam::${ACCT}:user/Alice`, { userId: "AIDAALICE" });
    assert.equal(u.store.lookup(alice)?.username, "alice");
  });
  await t.step("entries without user id are rejected", () => {
    const { problems } = mk([role(`arn:aws:iam::${ACCT}:role/Admin`)]);
    assert.match(problems[0]!.message, /value for userid must be supplied/);
  });
  await t.step("another user id is not mapped", () => {
    const { store } = mk([
      role(`arn:aws:iam::${ACCT}:role/Admin`, "admin", { userId: "AROAOTHER" }),
    ]);
    assert.equal(store.lookup(id), undefined);
  });
});
