/**
 * Matching of IAM Identity Center (SSO) permission-set mappings
 * (docs/mapping.md#sso-permission-sets, port decision 5).
 *
 * An SSO mapping stands for the roles Identity Center generates for a permission set in an
 * account: `arn:<partition>:iam::<account>:role/AWSReservedSSO_<PermissionSet>_<16 hex>`
 * (STS reports the session without the `aws-reserved/sso.amazonaws.com/<region>/` path, and
 * the store strips role paths anyway). The Go tool matches the lower-cased canonical ARN with
 * `ArnLike(..., "arn:aws:iam::<account>:role/awsreservedsso_<ps>_*")`; since only the last
 * section carries a wildcard, that is a prefix test on the whole ARN, which is what this does.
 *
 * @module
 */

/** The literal prefix of an `ssoArnLike` pattern (everything before the trailing `*`). */
export function ssoPrefix(pattern: string): string {
  return pattern.endsWith("*") ? pattern.slice(0, -1) : pattern;
}

/**
 * Whether what follows the prefix can be Identity Center's random suffix. The Go tool's `*`
 * accepts anything, so permission set `Admin` also matched the roles of permission set
 * `Admin_ReadOnly`; the suffix is hex, so an underscore or slash means another permission set.
 */
export function ssoSuffixMatches(rest: string): boolean {
  return rest !== "" && !rest.includes("_") && !rest.includes("/");
}
