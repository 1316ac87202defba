import assert from "node:assert/strict";
import { ssoArnLike } from "../../src/config/mod.ts";
import { arnLike } from "../../src/aws/mod.ts";
import { ssoPrefix, ssoSuffixMatches } from "../../src/map/sso.ts";

const PATTERN = ssoArnLike({
  permissionSetName: "ViewOnlyAccess",
  accountId: "012345678912",
  partition: "",
});

function matches(subject: string): boolean {
  const prefix = ssoPrefix(PATTERN);
  return subject.startsWith(prefix) && ssoSuffixMatches(subject.slice(prefix.length));
}

Deno.test("prefix matching agrees with ArnLike on real SSO role ARNs", () => {
  for (
    const subject of [
      "arn:aws:iam::012345678912:role/awsreservedsso_viewonlyaccess_abcdef0123456789",
      "arn:aws:iam::012345678912:role/awsreservedsso_viewonlyaccess_0123456789abcdef",
      "arn:aws:iam::012345678912:role/awsreservedsso_viewonlyaccessx_0123456789abcdef",
      "arn:aws:iam::112345678912:role/awsreservedsso_viewonlyaccess_0123456789abcdef",
      "arn:aws-cn:iam::012345678912:role/awsreservedsso_viewonlyaccess_0123456789abcdef",
      "arn:aws:iam::012345678912:role/viewonlyaccess_0123456789abcdef",
    ]
  ) {
    assert.equal(matches(subject), arnLike(subject, PATTERN), subject);
  }
});

Deno.test("stricter than ArnLike where the Go tool over-matched", () => {
  // Permission set "ViewOnlyAccess" must not cover "ViewOnlyAccess_Extra" or an empty suffix.
  for (
    const subject of [
      "arn:aws:iam::012345678912:role/awsreservedsso_viewonlyaccess_extra_0123456789abcdef",
      "arn:aws:iam::012345678912:role/awsreservedsso_viewonlyaccess_",
      "arn:aws:iam::012345678912:role/awsreservedsso_viewonlyaccess_x/y",
    ]
  ) {
    assert.equal(arnLike(subject, PATTERN), true, subject);
    assert.equal(matches(subject), false, subject);
  }
});
