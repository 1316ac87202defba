/**
 * The opt-in token cache (port decision 16): a finished token is kept in a private file and
 * reused until one minute before its expiry, so repeated kubectl calls skip credential
 * resolution and signing. The hit path reads one small JSON file and loads no SDK or YAML.
 *
 * Files are `token-<64-bit hash of the key>.json` holding the full key, mode 0600, in the credential cache's directory
 * (created 0700). A file that is not private, not owned by the user, or malformed is ignored.
 *
 * @module
 */

import type { Token } from "./presign.ts";
// Already loaded with the generator on every `token` run: this adds no module to the hit path.
import { makePrivateDir } from "./cache.ts";

/** Everything that makes two token requests interchangeable. */
export interface TokenCacheKey {
  /** Cluster ID. */
  clusterId: string;
  /** Region as configured (flag, env or profile); `""` when only IMDS would tell. */
  region: string;
  /** Profile name. */
  profile: string;
  /** Role ARN (`-r`), or `""`. */
  roleArn: string;
  /** External ID (`-e`), or `""`. */
  externalId: string;
  /** Session name (`-s`), or `""`. */
  sessionName: string;
  /** `--forward-session-name`. */
  forwardSessionName: boolean;
  /** STS endpoint URL the token points at (overrides, FIPS, dual-stack). */
  endpoint: string;
  /**
   * Access key ID of static credentials (environment, else the profile's
   * `aws_access_key_id`), or `""`: switching keys must not reuse another identity's token.
   */
  envAccessKeyId: string;
}

/** How early before expiry a cached token stops being reused. */
export const TOKEN_CACHE_MARGIN_MS = 60_000;

/** Whether the token cache is on: the flag, or `AWS_IAM_AUTHENTICATOR_TOKEN_CACHE` true. */
export function tokenCacheEnabled(flag: boolean, env: (n: string) => string | undefined): boolean {
  const v = (env("AWS_IAM_AUTHENTICATOR_TOKEN_CACHE") ?? "").trim().toLowerCase();
  return flag || v === "1" || v === "true";
}

/** The canonical text of a key: stored in the file and compared on every read. */
export function tokenCacheKeyText(key: TokenCacheKey): string {
  return JSON.stringify([
    1,
    key.clusterId,
    key.region,
    key.profile,
    key.roleArn,
    key.externalId,
    key.sessionName,
    key.forwardSessionName,
    key.endpoint,
    key.envAccessKeyId,
  ]);
}

/**
 * FNV-1a, 64 bit. Only spreads keys over file names: a hit also requires the full key stored
 * in the file to match, so a collision can only cost a miss. (Synchronous and cheaper than
 * the first WebCrypto digest of a process, which is on the token-cache hit path.)
 */
function fnv1a64(text: string): string {
  let h = 0xcbf29ce484222325n;
  for (const b of new TextEncoder().encode(text)) {
    h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, "0");
}

/** The file that holds the token for `key` under `dir`. */
export function tokenCacheFile(dir: string, key: TokenCacheKey): string {
  return `${dir}/token-${fnv1a64(tokenCacheKeyText(key))}.json`;
}

/** Result of a cache lookup. */
export type TokenCacheLookup =
  | { status: "hit"; token: Token }
  | { status: "miss" | "expired" | "invalid" }
  | { status: "not-private"; reason: string };

function currentUid(): number | null {
  try {
    return Deno.uid();
  } catch {
    return null;
  }
}

/**
 * Reads the token cached for `key` if it is still good at `now` (more than one minute before
 * expiry). Synchronous: this is the whole work of a cache hit, and async file operations cost
 * more here than the reads themselves.
 */
export function readTokenCache(path: string, key: TokenCacheKey, now: Date): TokenCacheLookup {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true });
  } catch {
    return { status: "miss" };
  }
  let text: string;
  try {
    const info = file.statSync();
    if (info.mode !== null && (info.mode & 0o077) !== 0) {
      return { status: "not-private", reason: `token cache file ${path} is not private` };
    }
    const uid = currentUid();
    if (uid !== null && info.uid !== null && info.uid !== uid) {
      return { status: "not-private", reason: `token cache file ${path} is owned by another user` };
    }
    if (info.size > 64 * 1024) return { status: "invalid" };
    const buf = new Uint8Array(info.size);
    let off = 0;
    while (off < buf.length) {
      const n = file.readSync(buf.subarray(off));
      if (n === null) break;
      off += n;
    }
    text = new TextDecoder().decode(buf.subarray(0, off));
  } finally {
    file.close();
  }
  let doc: { key?: unknown; token?: unknown; expirationTimestamp?: unknown };
  try {
    doc = JSON.parse(text);
  } catch {
    return { status: "invalid" };
  }
  if (
    typeof doc?.token !== "string" || !doc.token.startsWith("k8s-aws-v1.") ||
    typeof doc.expirationTimestamp !== "string"
  ) {
    return { status: "invalid" };
  }
  const exp = Date.parse(doc.expirationTimestamp);
  if (Number.isNaN(exp)) return { status: "invalid" };
  if (doc.key !== tokenCacheKeyText(key)) return { status: "miss" };
  if (now.getTime() >= exp - TOKEN_CACHE_MARGIN_MS) return { status: "expired" };
  return { status: "hit", token: { token: doc.token, expiration: new Date(exp) } };
}

/**
 * Stores a token: written to a fresh 0600 temporary file (created exclusively, its mode set
 * explicitly whatever the umask) and renamed into place, so readers never see half a file, the
 * mode never passes through a wider one, and a link planted at the path is replaced, not
 * followed. A missing directory is created 0700 (set explicitly too).
 */
export async function writeTokenCache(
  path: string,
  key: TokenCacheKey,
  token: Token,
): Promise<void> {
  const dir = path.slice(0, path.lastIndexOf("/")) || "/";
  await makePrivateDir(dir);
  const tmp = `${path}.${crypto.randomUUID()}.tmp`;
  const body = JSON.stringify({
    key: tokenCacheKeyText(key),
    token: token.token,
    expirationTimestamp: token.expiration.toISOString(),
  });
  try {
    await Deno.writeTextFile(tmp, body, { createNew: true, mode: 0o600 });
    if (Deno.build.os !== "windows") await Deno.chmod(tmp, 0o600);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}
