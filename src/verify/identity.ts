/**
 * The identity that a verified token proves, as the Go tool's `token.Identity` carries it.
 *
 * @module
 */

/** What STS said about the caller of a verified token, plus what the token itself revealed. */
export interface Identity {
  /** The raw ARN from STS, e.g. `arn:aws:sts::123456789012:assumed-role/Admin/alice`. */
  arn: string;
  /** The ARN mappings are matched against (assumed-role -> role), case kept. */
  canonicalArn: string;
  /** The 12-digit account that owns the principal. */
  accountId: string;
  /** The principal's unique ID (for assumed roles, the role ID without the session). */
  userId: string;
  /** The session name of an assumed-role principal, otherwise the empty string. */
  sessionName: string;
  /** The access key ID from the token's `X-Amz-Credential` (not from STS). */
  accessKeyId: string;
  /** The STS host (with port, if any) that the token was sent to. */
  stsEndpoint: string;
}
