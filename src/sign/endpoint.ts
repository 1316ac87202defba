/**
 * Which STS endpoint the token points at (and AssumeRole is sent to), as the AWS SDKs decide
 * it: an `AWS_ENDPOINT_URL_STS` / `AWS_ENDPOINT_URL` (or profile `endpoint_url`) override,
 * else the regional host with the FIPS and dual-stack variants.
 *
 * @module
 */

import { stsHostForRegion, stsSigningRegion } from "../aws/mod.ts";
import type { Profile } from "./credentials.ts";

/** The resolved STS endpoint. */
export interface StsEndpoint {
  /** Base URL, e.g. `https://sts.us-west-2.amazonaws.com`. */
  url: string;
  /** Region of the SigV4 credential scope. */
  signingRegion: string;
}

function truthy(v: string | undefined): boolean {
  return (v ?? "").trim().toLowerCase() === "true";
}

/**
 * Resolves the STS endpoint for `region`.
 * @throws {Error} when an override is not an absolute http(s) URL
 */
export function resolveStsEndpoint(
  region: string,
  env: (n: string) => string | undefined,
  profile: Profile,
): StsEndpoint {
  const signingRegion = stsSigningRegion(region);
  const ignore = truthy(env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")) ||
    truthy(profile.settings["ignore_configured_endpoint_urls"]);
  const override = ignore
    ? undefined
    : env("AWS_ENDPOINT_URL_STS") || env("AWS_ENDPOINT_URL") || profile.settings["endpoint_url"];
  if (override) {
    let u: URL;
    try {
      u = new URL(override);
    } catch {
      throw new Error(
        `invalid STS endpoint override "${override}": set AWS_ENDPOINT_URL_STS to an absolute URL such as https://sts.example.com`,
      );
    }
    if (u.protocol !== "https:" && u.protocol !== "http:") {
      throw new Error(
        `invalid STS endpoint override "${override}": the scheme must be http or https`,
      );
    }
    return { url: override.replace(/\/+$/, ""), signingRegion };
  }
  const fips = truthy(env("AWS_USE_FIPS_ENDPOINT")) ||
    truthy(profile.settings["use_fips_endpoint"]);
  const dualStack = truthy(env("AWS_USE_DUALSTACK_ENDPOINT")) ||
    truthy(profile.settings["use_dualstack_endpoint"]);
  return { url: `https://${stsHostForRegion(region, { fips, dualStack })}`, signingRegion };
}
