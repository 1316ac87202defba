/**
 * Shared AWS primitives: partitions, STS hosts and ARNs. Both the token client (`sign/`) and
 * the verifier (`verify/`) build on these, so they agree on what a valid host or ARN is.
 *
 * @module
 */

export {
  type Arn,
  ArnError,
  arnLike,
  type ArnType,
  canonicalizeArn,
  parseArn,
  stripPath,
} from "./arn.ts";
export {
  type EndpointVariant,
  GLOBAL_REGION,
  GLOBAL_STS_HOST,
  isPartitionId,
  PARTITION_IDS,
  type PartitionId,
  type PartitionInfo,
  partitionInfo,
  partitionOfRegion,
  stsHostForRegion,
  stsRegionFromHost,
  stsSigningRegion,
} from "./partitions.ts";
