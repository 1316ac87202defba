/**
 * Which hosts a token may send the verifier to (docs/verification.md#host-allowlist, port
 * decision 1).
 *
 * The verifier sends the presigned request to the host named in the token and trusts the
 * answer, so this allowlist *is* the authentication boundary: a host an attacker controls
 * would answer with any identity it likes. Every accepted host is therefore one that the AWS
 * SDK itself would resolve for a region of the configured partition (regional, FIPS,
 * dual-stack), the global endpoint `sts.amazonaws.com` (partition `aws` only, and only that
 * exact name, unlike the Go tool's `*.global.*`), the `sts.<instance region>` fallback for
 * regions newer than our data, or the exact origin the operator configured as
 * `AWS_ENDPOINT_URL_STS`.
 *
 * @module
 */

import {
  GLOBAL_REGION,
  GLOBAL_STS_HOST,
  type PartitionId,
  partitionInfo,
  partitionOfRegion,
  stsHostForRegion,
  stsRegionFromHost,
} from "../aws/mod.ts";
import { FormatError } from "./errors.ts";

/** The Go tool's region-label syntax (its host check in pkg/token/token.go). */
const REGION_LABEL_RE = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$/;

const VARIANTS = [
  { fips: false, dualStack: false },
  { fips: true, dualStack: false },
  { fips: false, dualStack: true },
  { fips: true, dualStack: true },
] as const;

/** The operator's STS endpoint override, reduced to what a token must match exactly. */
export interface StsOverride {
  /** `scheme://host[:port]` as the WHATWG URL serializes the origin (default port dropped). */
  origin: string;
  /** Label used for metrics: a region found in the host name, else `custom`. */
  stsRegion: string;
}

/**
 * Reduces an `AWS_ENDPOINT_URL_STS` value to its origin.
 *
 * @throws {Error} when the value is not an absolute `http:` or `https:` URL.
 */
export function parseStsOverride(value: string): StsOverride {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new Error(
      `the STS endpoint override "${value}" is not an absolute URL; set AWS_ENDPOINT_URL_STS to e.g. https://sts.us-east-1.amazonaws.com`,
    );
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") {
    throw new Error(
      `the STS endpoint override "${value}" must use http or https, not ${u.protocol}`,
    );
  }
  // The label is fixed at configuration time, so tokens cannot inflate metric cardinality.
  const region = u.hostname.split(".").find((l) =>
    l !== "" && partitionOfRegion(l).regionRegex.test(l)
  );
  return { origin: u.origin, stsRegion: region ?? "custom" };
}

/** Host-check settings: the server's policy, never anything from the token. */
export interface HostCheckOptions {
  /** The partition this server authenticates for. */
  partition: PartitionId;
  /** The region the server runs in (IMDS, `AWS_REGION`); `""` or unset when unknown. */
  instanceRegion?: string;
}

/**
 * Checks the `host[:port]` of a presigned URL (without scheme) and returns the STS region
 * label used for metrics and error texts.
 *
 * @throws {FormatError} with the Go tool's messages when the host is not an STS endpoint of
 * the configured partition.
 */
export function checkStsHost(host: string, o: HostCheckOptions): string {
  let region: string;
  try {
    region = stsRegionFromHost(host);
  } catch (e) {
    throw new FormatError(
      "token.sts_host",
      `could not parse region for pre-signed URL ${host}, ${(e as Error).message}`,
    );
  }
  if (region === "global") {
    // stsRegionFromHost answers "global" only for exactly sts.amazonaws.com.
    if (o.partition !== "aws") {
      throw new FormatError(
        "token.sts_host",
        `global endpoint unsupported in partition ${o.partition}`,
      );
    }
    return region;
  }
  if (!REGION_LABEL_RE.test(region)) {
    throw new FormatError("token.sts_host", `invalid region identifier format provided: ${region}`);
  }
  const regionPartition = partitionOfRegion(region);
  // Only regions the SDK data lists, or that match a partition's pattern: unlike the Go
  // tool, `sts.not-a-region.amazonaws.com` is not an STS endpoint.
  const knownRegion = region !== GLOBAL_REGION &&
    (regionPartition.regions.includes(region) || regionPartition.regionRegex.test(region));
  if (knownRegion && VARIANTS.some((v) => stsHostForRegion(region, v) === host)) {
    if (regionPartition.id !== o.partition) {
      throw new FormatError(
        "token.sts_host",
        `partition {${o.partition}} does not support hostname ${host}`,
      );
    }
    return region;
  }
  const ir = o.instanceRegion ?? "";
  if (ir !== "" && REGION_LABEL_RE.test(ir)) {
    const p = partitionInfo(o.partition);
    if (host === `sts.${ir}.${p.dnsSuffix}` || host === `sts.${ir}.${p.dualStackDnsSuffix}`) {
      return region;
    }
  }
  throw new FormatError("token.sts_host", `unexpected hostname "${host}" in pre-signed URL`);
}

/** Every host `checkStsHost` accepts for a partition's listed regions (for docs and tests). */
export function knownStsHosts(partition: PartitionId): string[] {
  const out = partition === "aws" ? [GLOBAL_STS_HOST] : [];
  for (const region of partitionInfo(partition).regions) {
    if (region === GLOBAL_REGION) continue;
    for (const v of VARIANTS) out.push(stsHostForRegion(region, v));
  }
  return [...new Set(out)];
}
