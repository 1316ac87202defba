/**
 * The three error classes of the Go verifier. The HTTP handler maps them to statuses
 * (`STSThrottling` → 429, `STSError` → 403 `sts_error`, anything else → 403 `invalid_token`),
 * and their message prefixes are what operators grep for in logs.
 *
 * @module
 */

/** The token is malformed or fails a local check; no request was sent to STS. */
export class FormatError extends Error {
  /** @param reason what is wrong with the token, without the token itself */
  constructor(reason: string) {
    super(`input token was not properly formatted: ${reason}`);
    this.name = "FormatError";
  }
}

/** STS was asked and did not confirm the identity (or answered something unusable). */
export class STSError extends Error {
  /** @param reason why the STS call failed, never containing the presigned URL */
  constructor(reason: string) {
    super(`sts getCallerIdentity failed: ${reason}`);
    this.name = "STSError";
  }
}

/** STS throttled the call; the webhook answers 429 so the API server retries later. */
export class STSThrottling extends Error {
  /** @param reason the STS throttling response, never containing the presigned URL */
  constructor(reason: string) {
    super(`sts getCallerIdentity was throttled: ${reason}`);
    this.name = "STSThrottling";
  }
}
