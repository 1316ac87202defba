/**
 * The whole token flow of `aws-iam-authenticator token` (docs/commands.md#token): token cache
 * lookup, region, endpoint, base credentials (optionally through the `--cache` file),
 * AssumeRole, presign.
 *
 * @module
 */

import { assumeRole } from "./assume_role.ts";
import { cacheDir, CacheError, cacheFilePath, openCredentialCache } from "./cache.ts";
import {
  configuredRegion,
  type Credentials,
  imdsRegion,
  loadProfile,
  type Profile,
  resolveCredentials,
  type SignDeps,
} from "./credentials.ts";
import { resolveStsEndpoint } from "./endpoint.ts";
import { generateToken, type Token } from "./presign.ts";
import {
  readTokenCache,
  tokenCacheFile,
  type TokenCacheKey,
  writeTokenCache,
} from "./token_cache.ts";

/** Options of one token request (the `token` command's flags, resolved). */
export interface TokenRequest {
  /** Cluster ID (required, non-empty). */
  clusterId: string;
  /** `--region`, or `""`. */
  region: string;
  /** `-r/--role`, or `""`. */
  roleArn: string;
  /** `-e/--external-id`, or `""`. */
  externalId: string;
  /** `-s/--session-name`, or `""`. */
  sessionName: string;
  /** `--forward-session-name`. */
  forwardSessionName: boolean;
  /** `--cache`: the Go tool's credential file cache. */
  cache: boolean;
  /** Token cache (port decision 16). */
  tokenCache: boolean;
}

/** Logging used by the flow (warnings for cache trouble, info for the region fallback). */
export interface GeneratorLog {
  /** Info level. */
  info(msg: string): void;
  /** Warning level. */
  warn(msg: string): void;
}

/** Effects of the flow; tests replace them. */
export interface GeneratorDeps extends SignDeps {
  /** Logger. */
  log: GeneratorLog;
  /** Sleep between cache lock attempts. */
  sleep: (ms: number) => Promise<void>;
}

/** The real process, logging through `log`. */
export function defaultGeneratorDeps(deps: SignDeps, log: GeneratorLog): GeneratorDeps {
  return { ...deps, log, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };
}

/**
 * Sees the intermediate results of the flow (`explain` reports them); `token` passes none. It
 * only ever receives credentials to describe them: it must never print their secrets.
 */
export interface TokenFlowObserver {
  /** The STS endpoint the token will be signed for, and the region it was chosen from. */
  endpoint?(url: string, signingRegion: string, region: string): void;
  /** The base credentials and the profile in effect. */
  credentials?(creds: Credentials, profile: Profile): void;
  /** The credentials of the role assumed with `-r`. */
  assumed?(creds: Credentials): void;
}

/** A user-facing failure of the token flow, printed as `could not get token: <message>`. */
export class TokenError extends Error {
  /** @param message what went wrong */
  constructor(message: string) {
    super(message);
    this.name = "TokenError";
  }
}

/** Produces a token for the request. */
export async function getToken(
  req: TokenRequest,
  deps: GeneratorDeps,
  observe?: TokenFlowObserver,
): Promise<Token> {
  if (req.clusterId === "") throw new TokenError("ClusterID is required");
  const profile = loadProfile(deps);
  const configured = configuredRegion(req.region, deps.env, profile);

  let tokenPath: string | undefined;
  let key: TokenCacheKey | undefined;
  if (req.tokenCache) {
    key = {
      clusterId: req.clusterId,
      region: configured ?? "",
      profile: profile.name,
      roleArn: req.roleArn,
      externalId: req.externalId,
      sessionName: req.sessionName,
      forwardSessionName: req.forwardSessionName,
      endpoint: resolveStsEndpoint(configured ?? "us-east-1", deps.env, profile).url,
      envAccessKeyId: deps.env("AWS_ACCESS_KEY_ID") || deps.env("AWS_ACCESS_KEY") ||
        profile.settings["aws_access_key_id"] || "",
    };
    tokenPath = tokenCacheFile(cacheDir(deps.env), key);
    const hit = readTokenCache(tokenPath, key, deps.now());
    if (hit.status === "hit") return hit.token;
    if (hit.status === "not-private") {
      throw new TokenError(`unable to use token cache: ${hit.reason} (remove the file)`);
    }
  }

  let region = configured;
  if (region === undefined) {
    try {
      region = await imdsRegion(deps);
    } catch (e) {
      deps.log.info(
        "failed to get region from IMDS for token generation, defaulting to us-east-1. imds error: " +
          (e instanceof Error ? e.message : String(e)),
      );
      region = "us-east-1";
    }
  }
  let endpoint;
  try {
    endpoint = resolveStsEndpoint(region, deps.env, profile);
  } catch (e) {
    throw new TokenError(e instanceof Error ? e.message : String(e));
  }
  observe?.endpoint?.(endpoint.url, endpoint.signingRegion, region);

  const provider = () => resolveCredentials(deps, profile, region);
  let creds: Credentials;
  try {
    if (req.cache) {
      let cache;
      try {
        cache = await openCredentialCache(cacheFilePath(deps.env), {
          clusterId: req.clusterId,
          profile: deps.env("AWS_PROFILE") || "default",
          roleArn: req.roleArn,
        }, { now: deps.now, sleep: deps.sleep, warn: (m) => deps.log.warn(m) });
      } catch (e) {
        if (!(e instanceof CacheError)) throw e;
        // A cache others can read leaks credentials; refuse rather than carry on (the issue's
        // bad-input rule; the Go tool only warns).
        if (e.notPrivate) throw new TokenError(`unable to use cache: ${e.message}`);
        deps.stderr(`unable to use cache: ${e.message}\n`);
      }
      creds = cache ? await cache.retrieve(provider) : await provider();
    } else {
      creds = await provider();
    }
    observe?.credentials?.(creds, profile);
    if (req.roleArn !== "") {
      creds = await assumeRole(creds, {
        roleArn: req.roleArn,
        externalId: req.externalId,
        sessionName: req.sessionName,
        forwardSessionName: req.forwardSessionName,
        endpoint,
        now: deps.now,
      });
      observe?.assumed?.(creds);
    }
  } catch (e) {
    throw new TokenError(e instanceof Error ? e.message : String(e));
  }

  const token = await generateToken({
    clusterId: req.clusterId,
    credentials: creds,
    endpoint: endpoint.url,
    signingRegion: endpoint.signingRegion,
    now: deps.now(),
  });
  if (tokenPath && key) {
    try {
      await writeTokenCache(tokenPath, key, token);
    } catch (e) {
      deps.log.warn(`unable to write token cache: ${e instanceof Error ? e.message : e}`);
    }
  }
  return token;
}
