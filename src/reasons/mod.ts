/**
 * Why a review is denied: the stable reason IDs that the verifier and the mapper attach to the
 * errors they throw, and that the server's log, its TokenReview `status.error`, its
 * `aws_iam_authenticator_denials_total` metric and the `explain` command all report.
 *
 * ```ts
 * import { reasonInfo, reasonOf } from "./mod.ts";
 * const id = reasonOf(err) ?? "map.backend_error";
 * console.log(`${id}: ${reasonInfo(id).fix}`);
 * ```
 *
 * @module
 */

export {
  type Audience,
  isReasonId,
  REASON_IDS,
  type ReasonId,
  type ReasonInfo,
  reasonInfo,
  REASONS,
  SERVER_REASON_IDS,
} from "./catalogue.ts";
export { type Denial, reasonOf } from "./denial.ts";
