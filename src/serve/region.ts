/**
 * The server's "instance region", used by the verifier's fallback host check for regions newer than
 * the built-in endpoint data (docs/verification.md#host-allowlist). The Go tool asks EC2 instance
 * metadata only; this port also reads `AWS_REGION` / `AWS_DEFAULT_REGION` (port decision 21), so
 * the fallback works off EC2 too.
 *
 * @module
 */

/** Options of {@link resolveServerRegion}. */
export interface RegionOptions {
  /** Environment lookup (defaults to `Deno.env.get`). */
  env?: (name: string) => string | undefined;
  /** fetch used for instance metadata. */
  fetch?: typeof fetch;
  /** How long to wait for instance metadata; default 1 s. */
  timeoutMs?: number;
  /** Metadata endpoint; default `AWS_EC2_METADATA_SERVICE_ENDPOINT` or `http://169.254.169.254`. */
  imdsEndpoint?: string;
}

/** Where the region came from, for the startup log. */
export interface ResolvedRegion {
  /** The region, or `""` when none could be found. */
  region: string;
  /** `env`, `imds` or `none`. */
  source: "env" | "imds" | "none";
  /** Why instance metadata gave nothing (when it was asked). */
  detail?: string;
}

async function imdsRegion(
  base: string,
  doFetch: typeof fetch,
  timeoutMs: number,
): Promise<string> {
  const signal = AbortSignal.timeout(timeoutMs);
  const tokenResponse = await doFetch(`${base}/latest/api/token`, {
    method: "PUT",
    headers: { "x-aws-ec2-metadata-token-ttl-seconds": "60" },
    signal,
  });
  const token = await tokenResponse.text();
  if (!tokenResponse.ok) throw new Error(`IMDS token request returned ${tokenResponse.status}`);
  const response = await doFetch(`${base}/latest/meta-data/placement/region`, {
    headers: { "x-aws-ec2-metadata-token": token },
    signal,
  });
  const body = (await response.text()).trim();
  if (!response.ok) throw new Error(`IMDS region request returned ${response.status}`);
  return body;
}

/**
 * Finds the server region: `AWS_REGION`, then `AWS_DEFAULT_REGION`, then EC2 instance metadata
 * (IMDSv2, skipped when `AWS_EC2_METADATA_DISABLED=true`). Never throws.
 */
export async function resolveServerRegion(options: RegionOptions = {}): Promise<ResolvedRegion> {
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  for (const name of ["AWS_REGION", "AWS_DEFAULT_REGION"]) {
    const value = env(name)?.trim();
    if (value) return { region: value, source: "env" };
  }
  if (env("AWS_EC2_METADATA_DISABLED")?.toLowerCase() === "true") {
    return { region: "", source: "none", detail: "AWS_EC2_METADATA_DISABLED is set" };
  }
  const base = (options.imdsEndpoint ?? env("AWS_EC2_METADATA_SERVICE_ENDPOINT") ??
    "http://169.254.169.254").replace(/\/+$/, "");
  try {
    const region = await imdsRegion(base, options.fetch ?? fetch, options.timeoutMs ?? 1000);
    if (/^[a-z0-9-]+$/.test(region)) return { region, source: "imds" };
    return { region: "", source: "none", detail: "instance metadata returned no region" };
  } catch (err) {
    return { region: "", source: "none", detail: (err as Error).message };
  }
}
