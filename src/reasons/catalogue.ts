/**
 * The one catalogue of reasons a review can be denied. The verifier and the mapper attach a
 * reason ID where they decide; the server logs it, puts it first in the TokenReview's
 * `status.error` and counts it in `aws_iam_authenticator_denials_total{reason}`; `explain` prints
 * the same ID with the same sentence; docs/why-denied.md is generated from this table
 * (`deno task docs:reasons`), so none of them can drift from the others.
 *
 * IDs are stable: dashboards and scripts match on them. Add new ones; never rename or reuse one.
 *
 * @module
 */

/** Who can act on a denial: the person at the keyboard, or a cluster administrator. */
export type Audience = "user" | "admin" | "operator";

/** One entry of the catalogue. */
export interface ReasonInfo {
  /** The step of the review where it is decided. */
  readonly step: "request" | "credentials" | "token" | "sts" | "mapping";
  /** A short title. */
  readonly title: string;
  /** What causes it, in one or two sentences. */
  readonly cause: string;
  /** What to do about it, in one sentence. */
  readonly fix: string;
  /** Who can fix it. */
  readonly audience: Audience;
  /** Only `explain` reports it (it is about the client side, which the server never sees). */
  readonly clientOnly?: boolean;
}

/** Every reason, keyed by its stable ID, in the order a review meets them. */
export const REASONS = {
  "request.method": {
    step: "request",
    title: "not a POST",
    cause: "Something other than a POST reached /authenticate.",
    fix: "Point only kube-apiserver's authentication webhook at this endpoint.",
    audience: "operator",
  },
  "request.body": {
    step: "request",
    title: "not a TokenReview",
    cause:
      "The request body is empty, is not JSON, is not a TokenReview of authentication.k8s.io/v1 or v1beta1, or has no spec.token.",
    fix:
      "Point only kube-apiserver's authentication webhook at this endpoint; a proxy in between may be rewriting the body.",
    audience: "operator",
  },
  "request.too_large": {
    step: "request",
    title: "request body too large",
    cause: "The request body is larger than 1 MiB.",
    fix: "Point only kube-apiserver's authentication webhook at this endpoint.",
    audience: "operator",
  },
  "request.timeout": {
    step: "request",
    title: "request body too slow",
    cause: "The client did not send the whole request body within the body timeout (10 s).",
    fix: "Check the network between kube-apiserver and this server.",
    audience: "operator",
  },
  "credentials.none": {
    step: "credentials",
    title: "no AWS credentials",
    cause: "No credentials were found in the environment, the shared files or the instance.",
    fix:
      "Set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, choose a profile with AWS_PROFILE, or log in (aws sso login).",
    audience: "user",
    clientOnly: true,
  },
  "credentials.expired": {
    step: "credentials",
    title: "AWS credentials expired",
    cause: "The temporary credentials the token would be signed with have already expired.",
    fix: "Refresh them (aws sso login, or your credential_process) and run kubectl again.",
    audience: "user",
    clientOnly: true,
  },
  "credentials.assume_role": {
    step: "credentials",
    title: "AssumeRole failed",
    cause: "The role given with -r/--role could not be assumed with your credentials.",
    fix:
      "Check the role ARN in your kubeconfig and that the role's trust policy allows your identity (and external ID).",
    audience: "user",
    clientOnly: true,
  },
  "clock.skew": {
    step: "sts",
    title: "this machine's clock is off",
    cause:
      "This machine's clock differs from STS's by more than the server tolerates, so the tokens it signs look expired or future-dated to the server.",
    fix:
      "Synchronize the clock (for example `timedatectl set-ntp true`, or w32tm /resync on Windows).",
    audience: "user",
    clientOnly: true,
  },
  "token.too_large": {
    step: "token",
    title: "token too large",
    cause: "The token is longer than 4096 bytes; no real presigned URL is.",
    fix: "Use a token from `aws-iam-authenticator token` or `aws eks get-token`.",
    audience: "user",
  },
  "token.prefix": {
    step: "token",
    title: "not an AWS IAM token",
    cause:
      'The bearer token does not start with "k8s-aws-v1.": it is another kind of token (a service account or OIDC token, a static token) or was cut.',
    fix:
      "Configure kubectl to get its token from `aws-iam-authenticator token` or `aws eks get-token` for this cluster.",
    audience: "user",
  },
  "token.encoding": {
    step: "token",
    title: "token is not valid base64url",
    cause:
      "The part after k8s-aws-v1. is not base64url of a printable URL: the token was cut or altered.",
    fix: "Get a fresh token; check that nothing (a shell, a proxy) rewrites it.",
    audience: "user",
  },
  "token.url": {
    step: "token",
    title: "token is not a presigned STS URL",
    cause:
      "The decoded token is not an https URL with path / and no user information or fragment, in the canonical form real signers produce.",
    fix: "Get a fresh token from `aws-iam-authenticator token` or `aws eks get-token`.",
    audience: "user",
  },
  "token.sts_host": {
    step: "token",
    title: "token points at a host that is not an STS endpoint",
    cause:
      "The presigned URL's host is not an STS endpoint of the server's partition (or its STS endpoint override), so the server refuses to send it anywhere.",
    fix:
      "Sign for a regional STS endpoint of the cluster's partition (set --region or AWS_REGION); if you use AWS_ENDPOINT_URL_STS, the server must be configured with the same endpoint.",
    audience: "user",
  },
  "token.query": {
    step: "token",
    title: "token's query is not a valid presigned request",
    cause:
      "A query parameter is missing, duplicated, misspelled or out of range (X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-Signature).",
    fix: "Get a fresh token from `aws-iam-authenticator token` or `aws eks get-token`.",
    audience: "user",
  },
  "token.action": {
    step: "token",
    title: "token is not a GetCallerIdentity request",
    cause: "The presigned request is not Action=GetCallerIdentity, Version=2011-06-15.",
    fix: "Get a fresh token from `aws-iam-authenticator token` or `aws eks get-token`.",
    audience: "user",
  },
  "token.cluster_unsigned": {
    step: "token",
    title: "token is not bound to a cluster",
    cause: "The x-k8s-aws-id header (the cluster ID) is not among the signed headers.",
    fix: "Get a token with a cluster ID: `aws-iam-authenticator token -i CLUSTER_ID`.",
    audience: "user",
  },
  "token.expired": {
    step: "token",
    title: "token expired",
    cause:
      "The token was signed more than 15 minutes ago (by the server's clock). kubectl caches tokens; a clock that is behind makes fresh tokens look old.",
    fix:
      "Run kubectl again for a fresh token; if it keeps happening, check this machine's clock and any token cache.",
    audience: "user",
  },
  "token.future": {
    step: "token",
    title: "token signed in the future",
    cause:
      "The token's X-Amz-Date is more than 5 minutes ahead of the server's clock: the signing machine's clock is ahead.",
    fix: "Synchronize the clock of the machine that signs tokens (or of the server).",
    audience: "user",
  },
  "token.cluster_mismatch": {
    step: "sts",
    title: "signature does not match (another cluster ID?)",
    cause:
      "STS rejected the signature. The cluster ID is a signed header that only STS can check, so this is most often a token minted for another cluster ID; otherwise the token was altered or signed with a wrong secret key.",
    fix:
      "Make the -i/--cluster-id in your kubeconfig equal the server's clusterID; if it already does, check the secret key of your credentials.",
    audience: "user",
  },
  "sts.invalid_credentials": {
    step: "sts",
    title: "access key not recognized",
    cause:
      "STS does not know the access key that signed the token, or its session token is invalid (InvalidClientTokenId): the key was deleted or deactivated, or belongs to another partition.",
    fix: "Use a current access key (aws sts get-caller-identity shows whether yours works).",
    audience: "user",
  },
  "sts.expired_credentials": {
    step: "sts",
    title: "signing credentials expired",
    cause: "The temporary credentials that signed the token have expired (ExpiredToken).",
    fix: "Refresh your AWS session (aws sso login, re-assume the role) and run kubectl again.",
    audience: "user",
  },
  "sts.access_denied": {
    step: "sts",
    title: "STS denied the call",
    cause: "STS answered AccessDenied for GetCallerIdentity (for example an explicit deny).",
    fix: "Check the policies (SCPs, permission boundaries, session policies) on your identity.",
    audience: "user",
  },
  "sts.region_disabled": {
    step: "sts",
    title: "STS region not enabled",
    cause: "STS is not activated in the region the token was signed for (RegionDisabledException).",
    fix: "Sign for another region (--region) or activate STS in that region for the account.",
    audience: "user",
  },
  "sts.throttled": {
    step: "sts",
    title: "STS throttled the call",
    cause:
      "STS answered Throttling; the server answers 429 and kube-apiserver retries the review later.",
    fix: "Retry; if it persists, reduce the rate of new tokens (or raise the STS quota).",
    audience: "operator",
  },
  "sts.unavailable": {
    step: "sts",
    title: "STS failed",
    cause: "STS answered with a server error (5xx).",
    fix: "Retry; check the AWS Health Dashboard for STS in that region.",
    audience: "operator",
  },
  "sts.unreachable": {
    step: "sts",
    title: "STS could not be reached",
    cause: "The call to STS failed before an answer: DNS, connection, TLS, or the 10 s timeout.",
    fix: "Check that the server can reach the STS endpoint (network, proxy, VPC endpoint, DNS).",
    audience: "operator",
  },
  "sts.bad_response": {
    step: "sts",
    title: "unusable STS answer",
    cause:
      "STS (or something in between, such as a proxy) answered 200 with a body that is not a well-formed GetCallerIdentity result.",
    fix: "Check for a proxy or endpoint override between the server and STS.",
    audience: "operator",
  },
  "sts.error": {
    step: "sts",
    title: "STS refused the call",
    cause: "STS answered with an error not listed above; the log has its status and error code.",
    fix: "Look up the STS error code in the server's log line for this review.",
    audience: "user",
  },
  "map.not_mapped": {
    step: "mapping",
    title: "identity not mapped",
    cause:
      "No backend maps this identity's canonical ARN, and its account is not auto-mapped (mapAccounts).",
    fix:
      "Ask an administrator to map the canonical ARN (an assumed role is mapped by its IAM role ARN, without the session).",
    audience: "admin",
  },
  "map.reserved_prefix": {
    step: "mapping",
    title: "username in a reserved prefix",
    cause:
      "The mapping renders a username that begins with a prefix reserved for its backend (server.reservedPrefixConfig).",
    fix: "Change the mapping's username so it does not begin with a reserved prefix.",
    audience: "admin",
  },
  "map.template": {
    step: "mapping",
    title: "username or group template failed",
    cause:
      "A template could not be rendered: {{EC2PrivateDNSName}} needs a session name that is an EC2 instance ID and a DescribeInstances lookup that succeeds.",
    fix:
      "Use {{EC2PrivateDNSName}} only for node roles assumed by instances, and check the server's EC2 permissions.",
    audience: "admin",
  },
  "map.empty_username": {
    step: "mapping",
    title: "mapping renders an empty username",
    cause: "The matching mapping's username template renders to an empty string.",
    fix: "Give the mapping a username that cannot render empty (not only {{SessionName}}).",
    audience: "admin",
  },
  "map.userid_mismatch": {
    step: "mapping",
    title: "ARN does not match the mapped user ID",
    cause:
      "In DynamicFile user-ID strict mode, the identity's unique ID is mapped to a different (or malformed) ARN.",
    fix: "Fix the entry's userarn/rolearn, or its userid, so both name the same principal.",
    audience: "admin",
  },
  "map.backend_error": {
    step: "mapping",
    title: "a mapping backend could not decide",
    cause:
      "A backend failed while looking the identity up, so the server denies rather than guess.",
    fix: "Read the server's log line for this review; it names the backend and its error.",
    audience: "admin",
  },
} as const satisfies Record<string, ReasonInfo>;

/** A stable reason ID. */
export type ReasonId = keyof typeof REASONS;

/** Every reason ID, in catalogue order. */
export const REASON_IDS: readonly ReasonId[] = Object.keys(REASONS) as ReasonId[];

/** The reasons the server can report (everything but the client-only ones). */
export const SERVER_REASON_IDS: readonly ReasonId[] = REASON_IDS.filter(
  (id) => !(REASONS[id] as ReasonInfo).clientOnly,
);

/** The catalogue entry of a reason. */
export function reasonInfo(id: ReasonId): ReasonInfo {
  return REASONS[id];
}

/** Whether a string is a known reason ID. */
export function isReasonId(s: string): s is ReasonId {
  return Object.hasOwn(REASONS, s);
}
