/**
 * AWS partitions, regions and STS host names, as the AWS SDK's endpoint data resolves them.
 *
 * Both halves of the tool need the same table: the token client to pick the host it presigns
 * for, the verifier to decide which hosts a token may point at. Keeping one table means the two
 * can never disagree about what a valid STS host is.
 *
 * @module
 */

/** The eight AWS partitions the Go tool knows. */
export type PartitionId =
  | "aws"
  | "aws-cn"
  | "aws-us-gov"
  | "aws-iso"
  | "aws-iso-b"
  | "aws-iso-e"
  | "aws-iso-f"
  | "aws-eusc";

/** Every partition ID, in the order the Go tool lists them in its help text. */
export const PARTITION_IDS: readonly PartitionId[] = [
  "aws",
  "aws-cn",
  "aws-us-gov",
  "aws-iso",
  "aws-iso-b",
  "aws-iso-e",
  "aws-iso-f",
  "aws-eusc",
];

/** Endpoint facts about one partition. */
export interface PartitionInfo {
  /** The partition's ID, e.g. `aws-cn`. */
  readonly id: PartitionId;
  /** Region names that belong to this partition even when they are not listed. */
  readonly regionRegex: RegExp;
  /** Region names the SDK's endpoint data lists for this partition. */
  readonly regions: readonly string[];
  /** DNS suffix of regular endpoints, e.g. `amazonaws.com.cn`. */
  readonly dnsSuffix: string;
  /** DNS suffix of dual-stack endpoints, e.g. `api.aws`. */
  readonly dualStackDnsSuffix: string;
  /**
   * The domain the Go verifier's legacy endpoint data gives this partition (its host check in
   * https://github.com/kubernetes-sigs/aws-iam-authenticator/blob/v0.7.18/pkg/token/token.go): a
   * host's labels after the region must equal it or `verifierDualStackDomain`.
   */
  readonly verifierDomain: string;
  /** The dual-stack domain of the Go verifier's legacy data; `""` where it has none (ISO). */
  readonly verifierDualStackDomain: string;
}

const PARTITIONS: Readonly<Record<PartitionId, PartitionInfo>> = {
  "aws": {
    id: "aws",
    regionRegex: /^(us|eu|ap|sa|ca|me|af|il|mx)-\w+-\d+$/,
    regions: [
      "af-south-1",
      "ap-east-1",
      "ap-east-2",
      "ap-northeast-1",
      "ap-northeast-2",
      "ap-northeast-3",
      "ap-south-1",
      "ap-south-2",
      "ap-southeast-1",
      "ap-southeast-2",
      "ap-southeast-3",
      "ap-southeast-4",
      "ap-southeast-5",
      "ap-southeast-6",
      "ap-southeast-7",
      "aws-global",
      "ca-central-1",
      "ca-west-1",
      "eu-central-1",
      "eu-central-2",
      "eu-north-1",
      "eu-south-1",
      "eu-south-2",
      "eu-west-1",
      "eu-west-2",
      "eu-west-3",
      "il-central-1",
      "me-central-1",
      "me-south-1",
      "mx-central-1",
      "sa-east-1",
      "us-east-1",
      "us-east-2",
      "us-west-1",
      "us-west-2",
    ],
    dnsSuffix: "amazonaws.com",
    dualStackDnsSuffix: "api.aws",
    verifierDomain: "amazonaws.com",
    verifierDualStackDomain: "api.aws",
  },
  "aws-cn": {
    id: "aws-cn",
    regionRegex: /^cn-\w+-\d+$/,
    regions: ["cn-north-1", "cn-northwest-1"],
    dnsSuffix: "amazonaws.com.cn",
    dualStackDnsSuffix: "api.amazonwebservices.com.cn",
    verifierDomain: "amazonaws.com.cn",
    verifierDualStackDomain: "api.amazonwebservices.com.cn",
  },
  "aws-us-gov": {
    id: "aws-us-gov",
    regionRegex: /^us-gov-\w+-\d+$/,
    regions: ["us-gov-east-1", "us-gov-west-1"],
    dnsSuffix: "amazonaws.com",
    dualStackDnsSuffix: "api.aws",
    verifierDomain: "amazonaws.com",
    verifierDualStackDomain: "api.aws",
  },
  "aws-iso": {
    id: "aws-iso",
    regionRegex: /^us-iso-\w+-\d+$/,
    regions: ["us-iso-east-1", "us-iso-west-1"],
    dnsSuffix: "c2s.ic.gov",
    dualStackDnsSuffix: "api.aws.ic.gov",
    verifierDomain: "c2s.ic.gov",
    verifierDualStackDomain: "",
  },
  "aws-iso-b": {
    id: "aws-iso-b",
    regionRegex: /^us-isob-\w+-\d+$/,
    regions: ["us-isob-east-1", "us-isob-west-1"],
    dnsSuffix: "sc2s.sgov.gov",
    dualStackDnsSuffix: "api.aws.scloud",
    verifierDomain: "sc2s.sgov.gov",
    verifierDualStackDomain: "",
  },
  "aws-iso-e": {
    id: "aws-iso-e",
    regionRegex: /^eu-isoe-\w+-\d+$/,
    regions: ["eu-isoe-west-1"],
    dnsSuffix: "cloud.adc-e.uk",
    dualStackDnsSuffix: "api.cloud-aws.adc-e.uk",
    verifierDomain: "cloud.adc-e.uk",
    verifierDualStackDomain: "",
  },
  "aws-iso-f": {
    id: "aws-iso-f",
    regionRegex: /^us-isof-\w+-\d+$/,
    regions: ["us-isof-east-1", "us-isof-south-1"],
    dnsSuffix: "csp.hci.ic.gov",
    dualStackDnsSuffix: "api.aws.hci.ic.gov",
    verifierDomain: "csp.hci.ic.gov",
    verifierDualStackDomain: "",
  },
  "aws-eusc": {
    id: "aws-eusc",
    regionRegex: /^eusc-(de)-\w+-\d+$/,
    regions: ["eusc-de-east-1"],
    dnsSuffix: "amazonaws.eu",
    dualStackDnsSuffix: "api.amazonwebservices.eu",
    verifierDomain: "amazonaws.eu",
    verifierDualStackDomain: "api.amazonwebservices.eu",
  },
};

/** The global STS endpoint: the only host that signs for `us-east-1` without naming a region. */
export const GLOBAL_STS_HOST = "sts.amazonaws.com";

/** The pseudo-region that selects the global STS endpoint. */
export const GLOBAL_REGION = "aws-global";

/** Whether `value` names one of the eight partitions (case-sensitive, as the Go tool is). */
export function isPartitionId(value: string): value is PartitionId {
  return Object.hasOwn(PARTITIONS, value);
}

/** Endpoint facts of a partition. */
export function partitionInfo(id: PartitionId): PartitionInfo {
  return PARTITIONS[id];
}

/**
 * The partition a region belongs to, the way the AWS SDK decides it: a region listed by a
 * partition belongs to it; otherwise the first partition whose pattern matches; otherwise `aws`.
 */
export function partitionOfRegion(region: string): PartitionInfo {
  for (const id of PARTITION_IDS) {
    if (PARTITIONS[id].regions.includes(region)) return PARTITIONS[id];
  }
  for (const id of PARTITION_IDS) {
    if (PARTITIONS[id].regionRegex.test(region)) return PARTITIONS[id];
  }
  return PARTITIONS.aws;
}

/** Which variant of an STS endpoint to use. */
export interface EndpointVariant {
  /** FIPS 140 endpoint (`AWS_USE_FIPS_ENDPOINT`). */
  fips?: boolean;
  /** IPv4+IPv6 endpoint (`AWS_USE_DUALSTACK_ENDPOINT`). */
  dualStack?: boolean;
}

/**
 * The STS host the AWS SDK resolves for a region and endpoint variant.
 *
 * `aws-global` selects `sts.amazonaws.com`; its FIPS and dual-stack variants do not exist, so
 * they resolve to the `us-east-1` ones, which is what the global endpoint signs for.
 */
export function stsHostForRegion(region: string, variant: EndpointVariant = {}): string {
  const fips = variant.fips ?? false;
  const dualStack = variant.dualStack ?? false;
  if (region === GLOBAL_REGION) {
    if (!fips && !dualStack) return GLOBAL_STS_HOST;
    return stsHostForRegion("us-east-1", variant);
  }
  const p = partitionOfRegion(region);
  const suffix = dualStack ? p.dualStackDnsSuffix : p.dnsSuffix;
  if (fips && p.id === "aws-us-gov" && !dualStack) return `sts.${region}.amazonaws.com`;
  return `${fips ? "sts-fips" : "sts"}.${region}.${suffix}`;
}

/** The region a request to the given region's STS endpoint is signed for. */
export function stsSigningRegion(region: string): string {
  return region === GLOBAL_REGION ? "us-east-1" : region;
}

/**
 * The region label of an STS host (the Go tool's `getStsRegion`): `global` for exactly
 * `sts.amazonaws.com`, otherwise the host's second label.
 *
 * Unlike the Go tool (docs/security.md case 51, docs/verification.md#host-allowlist), a host whose
 * second label merely *is* `global` is refused here, so "global" can never stand for an attacker's
 * host.
 *
 * @throws {Error} when the host is empty, has fewer than three labels, or fakes `global`.
 */
export function stsRegionFromHost(host: string): string {
  if (host === "") throw new Error("host is empty");
  const labels = host.split(".");
  if (labels.length < 3) throw new Error(`invalid host format: ${host}`);
  if (host === GLOBAL_STS_HOST) return "global";
  const region = labels[1] as string;
  if (region === "global") {
    throw new Error(`the global STS endpoint is exactly ${GLOBAL_STS_HOST}, not ${host}`);
  }
  return region;
}
