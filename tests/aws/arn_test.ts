import assert from "node:assert/strict";
import { ArnError, arnLike, canonicalizeArn, parseArn, stripPath } from "../../src/aws/mod.ts";

Deno.test("parseArn splits six sections and keeps colons in the resource", () => {
  assert.deepEqual(parseArn("arn:aws:iam::123456789012:role/a:b"), {
    partition: "aws",
    service: "iam",
    region: "",
    accountId: "123456789012",
    resource: "role/a:b",
  });
  assert.throws(() => parseArn("arm:aws:iam::1:role/x"), /^ArnError: arn: invalid prefix$/);
  assert.throws(() => parseArn("arn:aws:iam"), /arn: not enough sections/);
});

const canonicalCases: Array<[string, string, string]> = [
  // [input, type, canonical]
  ["arn:aws:iam::123456789012:role/Admin", "ROLE", "arn:aws:iam::123456789012:role/Admin"],
  [
    "arn:aws:iam::123456789012:role/path/to/Admin",
    "ROLE",
    "arn:aws:iam::123456789012:role/path/to/Admin",
  ],
  ["arn:aws:iam::123456789012:user/Alice", "USER", "arn:aws:iam::123456789012:user/Alice"],
  [
    "arn:aws:iam::123456789012:user/path/Alice",
    "USER",
    "arn:aws:iam::123456789012:user/path/Alice",
  ],
  ["arn:aws:iam::123456789012:root", "ROOT", "arn:aws:iam::123456789012:root"],
  [
    "arn:aws:sts::123456789012:federated-user/Bob",
    "FEDERATED_USER",
    "arn:aws:sts::123456789012:federated-user/Bob",
  ],
  [
    "arn:aws:sts::123456789012:assumed-role/Admin/alice",
    "ASSUMED_ROLE",
    "arn:aws:iam::123456789012:role/Admin",
  ],
  [
    "arn:aws:sts::123456789012:assumed-role/Org/Team/Admin/Session",
    "ASSUMED_ROLE",
    "arn:aws:iam::123456789012:role/Org/Team/Admin",
  ],
  [
    "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_View_abc/u@x.com",
    "ASSUMED_ROLE",
    "arn:aws:iam::123456789012:role/AWSReservedSSO_View_abc",
  ],
  [
    "arn:aws-cn:sts::123456789012:assumed-role/R/s",
    "ASSUMED_ROLE",
    "arn:aws-cn:iam::123456789012:role/R",
  ],
  [
    "arn:aws-us-gov:sts::123456789012:assumed-role/R/s",
    "ASSUMED_ROLE",
    "arn:aws-us-gov:iam::123456789012:role/R",
  ],
  [
    "arn:aws-iso:sts::123456789012:assumed-role/R/s",
    "ASSUMED_ROLE",
    "arn:aws-iso:iam::123456789012:role/R",
  ],
  ["arn:aws-iso-b:iam::123456789012:role/R", "ROLE", "arn:aws-iso-b:iam::123456789012:role/R"],
  ["arn:aws-iso-e:iam::123456789012:user/U", "USER", "arn:aws-iso-e:iam::123456789012:user/U"],
  ["arn:aws-iso-f:iam::123456789012:root", "ROOT", "arn:aws-iso-f:iam::123456789012:root"],
  [
    "arn:aws-eusc:sts::123456789012:assumed-role/R/s",
    "ASSUMED_ROLE",
    "arn:aws-eusc:iam::123456789012:role/R",
  ],
  [
    "arn:aws:iam::123456789012:role/aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS",
    "ROLE",
    "arn:aws:iam::123456789012:role/aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS",
  ],
];

for (const [input, type, canonical] of canonicalCases) {
  Deno.test(`canonicalizeArn(${input})`, () => {
    assert.deepEqual(canonicalizeArn(input), { type, canonical });
  });
}

const canonicalErrors: Array<[string, string]> = [
  ["arn", "arn 'arn' is invalid: 'arn: invalid prefix'"],
  ["arn:aws:iam", "arn 'arn:aws:iam' is invalid: 'arn: not enough sections'"],
  [
    "arn:aws-xx:iam::123456789012:role/R",
    "arn 'arn:aws-xx:iam::123456789012:role/R' does not have a recognized partition",
  ],
  [
    "arn:aws:sts::123456789012:assumed-role/R",
    "assumed-role arn 'arn:aws:sts::123456789012:assumed-role/R' does not have a role",
  ],
  ["arn:aws:sts::123456789012:role/R", "unrecognized resource role/R for service sts"],
  ["arn:aws:iam::123456789012:group/G", "unrecognized resource group/G for service iam"],
  [
    "arn:aws:iam::123456789012:instance-profile/P",
    "unrecognized resource instance-profile/P for service iam",
  ],
  [
    "arn:aws:s3::123456789012:bucket",
    "service s3 in arn arn:aws:s3::123456789012:bucket is not a valid service for identities",
  ],
];

for (const [input, message] of canonicalErrors) {
  Deno.test(`canonicalizeArn rejects ${input}`, () => {
    assert.throws(() => canonicalizeArn(input), (e: unknown) => {
      assert.ok(e instanceof ArnError);
      assert.equal(e.message, message);
      return true;
    });
  });
}

Deno.test("stripPath keeps only the role name and leaves other ARNs alone", () => {
  assert.equal(
    stripPath("arn:aws:iam::123456789012:role/path/for/this-role/matt"),
    "arn:aws:iam::123456789012:role/matt",
  );
  assert.equal(
    stripPath("arn:aws:iam::123456789012:role/matt"),
    "arn:aws:iam::123456789012:role/matt",
  );
  assert.equal(
    stripPath("arn:aws:iam::123456789012:user/path/u"),
    "arn:aws:iam::123456789012:user/path/u",
  );
  assert.equal(
    stripPath("arn:aws:sts::123456789012:assumed-role/R/s"),
    "arn:aws:sts::123456789012:assumed-role/R/s",
  );
  assert.throws(() => stripPath("arn:aws:iam"), /not enough sections/);
  assert.throws(
    () => stripPath("arn:nope:iam::1:role/a/b"),
    /does not have a recognized partition/,
  );
});

Deno.test("arnLike matches per section with * and ?", () => {
  const pattern = "arn:aws:iam::012345678912:role/awsreservedsso_viewonlyaccess_*";
  assert.equal(
    arnLike("arn:aws:iam::012345678912:role/awsreservedsso_viewonlyaccess_abcdefg", pattern),
    true,
  );
  assert.equal(
    arnLike("arn:aws:iam::012345678913:role/awsreservedsso_viewonlyaccess_abcdefg", pattern),
    false,
  );
  assert.equal(
    arnLike("arn:aws:iam::012345678912:role/AWSReservedSSO_ViewOnlyAccess_abc", pattern),
    false,
    "case-sensitive",
  );
  assert.equal(arnLike("arn:aws:iam::1:role/a.b", "arn:*:iam:*:*:role/*"), true);
  assert.equal(
    arnLike("arn:aws:iam::1:role/axb", "arn:aws:iam::1:role/a.b"),
    false,
    "dot is literal",
  );
  assert.equal(
    arnLike("arn:aws:iam::1:role/ab", "arn:aws:iam::1:role/a?b"),
    true,
    "? is zero-or-one",
  );
  assert.equal(arnLike("arn:aws:iam::1:role/a(b", "arn:aws:iam::1:role/a(b"), true);
  assert.throws(() => arnLike("nope", pattern), /could not parse input arn: invalid prefix/);
  assert.throws(
    () => arnLike("arn:aws:iam::1:role/x", "arn:aws"),
    /could not parse ArnLike string: not enough sections/,
  );
});
