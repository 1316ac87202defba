/**
 * The three error classes of the Go verifier, each carrying the catalogue ID of its reason
 * (src/reasons). The HTTP handler maps them to statuses (`STSThrottling` -> 429, `STSError` ->
 * 403 `sts_error`, anything else -> 403 `invalid_token`) and reports the reason; their message
 * prefixes are what operators grep for in logs.
 *
 * @module
 */

import type { Denial, ReasonId } from "../reasons/mod.ts";

/** The token is malformed or fails a local check; no request was sent to STS. */
export class FormatError extends Error implements Denial {
  /** Why the token is refused (a `token.*` catalogue ID). */
  readonly reason: ReasonId;
  /**
   * @param reason the catalogue ID of the failed check
   * @param detail what is wrong with the token, without the token itself
   */
  constructor(reason: ReasonId, detail: string) {
    super(`input token was not properly formatted: ${detail}`);
    this.name = "FormatError";
    this.reason = reason;
  }
}

/** STS was asked and did not confirm the identity (or answered something unusable). */
export class STSError extends Error implements Denial {
  /** Why STS did not confirm the identity (an `sts.*` or `token.*` catalogue ID). */
  readonly reason: ReasonId;
  /**
   * @param reason the catalogue ID of the failure
   * @param detail why the STS call failed, never containing the presigned URL
   */
  constructor(reason: ReasonId, detail: string) {
    super(`sts getCallerIdentity failed: ${detail}`);
    this.name = "STSError";
    this.reason = reason;
  }
}

/** STS throttled the call; the webhook answers 429 so the API server retries later. */
export class STSThrottling extends Error implements Denial {
  /** Always `sts.throttled`. */
  readonly reason: ReasonId = "sts.throttled";
  /** @param detail the STS throttling response, never containing the presigned URL */
  constructor(detail: string) {
    super(`sts getCallerIdentity was throttled: ${detail}`);
    this.name = "STSThrottling";
  }
}
