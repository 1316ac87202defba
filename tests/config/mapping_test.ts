import assert from "node:assert/strict";
import {
  decodeAccounts,
  decodeList,
  decodeRoleMapping,
  decodeUserMapping,
  MappingDecodeError,
  ssoArnLike,
  validateRoleMapping,
} from "../../src/config/mod.ts";

Deno.test("field names are matched case-insensitively (mapstructure / encoding/json)", () => {
  for (const key of ["rolearn", "roleARN", "RoleArn", "rOlEaRn"]) {
    const m = decodeRoleMapping(
      { [key]: "arn:aws:iam::1:role/R", USERNAME: "u", Groups: ["g"], UserID: "x" },
      "[0]",
      { weak: false },
    );
    assert.deepEqual(m, {
      roleArn: "arn:aws:iam::1:role/R",
      username: "u",
      groups: ["g"],
      userId: "x",
    });
  }
  const u = decodeUserMapping({ userARN: "arn:aws:iam::1:user/A", userName: "a" }, "[0]", {
    weak: false,
  });
  assert.deepEqual(u, { userArn: "arn:aws:iam::1:user/A", username: "a", groups: [], userId: "" });
  const s = decodeRoleMapping(
    { sso: { PermissionSetName: "P", accountid: "012345678901", PARTITION: "aws" }, username: "u" },
    "[0]",
    { weak: false },
  );
  assert.deepEqual(s.sso, { permissionSetName: "P", accountId: "012345678901", partition: "aws" });
});

Deno.test("strict decoding rejects wrong types; weak decoding coerces like viper", () => {
  assert.throws(
    () => decodeRoleMapping({ rolearn: 5 }, "[3]", { weak: false }),
    (e: unknown) =>
      e instanceof MappingDecodeError && e.message === "[3].rolearn: expected a string, got number",
  );
  assert.throws(
    () => decodeRoleMapping({ rolearn: "a", groups: "g" }, "[0]", { weak: false }),
    /expected a list of strings/,
  );
  const warnings: string[] = [];
  const weak = decodeRoleMapping({ rolearn: "a", groups: "g", username: 7 }, "[0]", {
    weak: true,
    warn: (m) => warnings.push(m),
  });
  assert.deepEqual(weak.groups, ["g"]);
  assert.equal(weak.username, "7");
  assert.equal(warnings.length, 1);
  assert.throws(
    () => decodeRoleMapping("str", "[0]", { weak: true }),
    /expected a mapping, got string/,
  );
});

Deno.test("decodeList keeps good entries and reports bad ones by index", () => {
  const errors: [number, string][] = [];
  const out = decodeList(
    [{ userarn: "a", username: "x" }, 5, { userarn: "b", username: "y" }],
    decodeUserMapping,
    { weak: false },
    (i, e) => errors.push([i, e.message]),
  );
  assert.deepEqual(out.map((e) => e.index), [0, 2]);
  assert.deepEqual(errors, [[1, "[1]: expected a mapping, got number"]]);
  assert.deepEqual(decodeList(null, decodeUserMapping, { weak: false }, () => {}), []);
  assert.throws(
    () => decodeList("x", decodeUserMapping, { weak: false }, () => {}),
    /expected a list, got string/,
  );
});

Deno.test("accounts keep their text; numbers are coerced with a warning", () => {
  const warnings: string[] = [];
  assert.deepEqual(
    decodeAccounts(["012345678901", 123456789012], { weak: false, warn: (m) => warnings.push(m) }),
    ["012345678901", "123456789012"],
  );
  assert.equal(warnings.length, 1);
  assert.throws(() => decodeAccounts({ a: 1 }, { weak: false }), /expected a list of account IDs/);
});

Deno.test("SSO pattern honours an explicit partition (decision 5)", () => {
  assert.equal(
    ssoArnLike({ permissionSetName: "ViewOnly", accountId: "012345678901", partition: "" }),
    "arn:aws:iam::012345678901:role/awsreservedsso_viewonly_*",
  );
  assert.equal(
    ssoArnLike({
      permissionSetName: "ViewOnly",
      accountId: "012345678901",
      partition: "aws-us-gov",
    }),
    "arn:aws-us-gov:iam::012345678901:role/awsreservedsso_viewonly_*",
  );
  validateRoleMapping({
    roleArn: "",
    sso: { permissionSetName: "ViewOnly", accountId: "012345678901", partition: "aws" },
    username: "u",
    groups: [],
    userId: "",
  });
});
