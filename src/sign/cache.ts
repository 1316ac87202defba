/**
 * The Go tool's `--cache` credential file cache, file-compatible with it
 * (https://github.com/kubernetes-sigs/aws-iam-authenticator/blob/v0.7.18/pkg/filecache/filecache.go):
 * the same path, YAML layout, 0600 mode, and `flock` locking (shared to read, exclusive to write,
 * tried every 250 ms for up to 1 s), so a user can switch tools and keep the cache.
 *
 * It caches the *base* credentials (before any AssumeRole), keyed by cluster ID, profile and
 * role ARN, and only credentials that can expire.
 *
 * @module
 */

import type { Credentials } from "./credentials.ts";

type YamlModule = typeof import("yaml");

/** The cache file path: `AWS_IAM_AUTHENTICATOR_CACHE_FILE`, else under `~/.kube/cache`. */
export function cacheFilePath(env: (n: string) => string | undefined): string {
  const override = env("AWS_IAM_AUTHENTICATOR_CACHE_FILE");
  if (override) return override;
  const home = env("HOME") || env("USERPROFILE") || "";
  return `${home}/.kube/cache/aws-iam-authenticator/credentials.yaml`;
}

/** The directory holding the cache file (the token cache lives there too). */
export function cacheDir(env: (n: string) => string | undefined): string {
  const p = cacheFilePath(env);
  const i = p.lastIndexOf("/");
  return i <= 0 ? (i === 0 ? "/" : ".") : p.slice(0, i);
}

/** Clock, sleep and logging for the cache; tests replace them. */
export interface CacheDeps {
  /** The clock. */
  now: () => Date;
  /** Waits between lock attempts. */
  sleep: (ms: number) => Promise<void>;
  /** Warning log (the Go tool logs these at warning level and carries on). */
  warn: (msg: string) => void;
}

/** One entry as the Go tool writes it (yaml.v2, lower-cased field names). */
interface CacheEntry {
  accesskeyid: string;
  secretaccesskey: string;
  sessiontoken: string;
  source: string;
  canexpire: boolean;
  expires: string;
  accountid: string;
}

type CacheDoc = { clusters: Record<string, Record<string, Record<string, CacheEntry>>> };

/** An error that makes the cache unusable; the caller reports `unable to use cache: …`. */
export class CacheError extends Error {
  /** The file exists but group or others have permissions on it. */
  readonly notPrivate: boolean;
  /** @param message the Go tool's wording; @param notPrivate see {@linkcode notPrivate} */
  constructor(message: string, notPrivate = false) {
    super(message);
    this.name = "CacheError";
    this.notPrivate = notPrivate;
  }
}

const LOCK_RETRY_MS = 250;
const LOCK_TIMEOUT_MS = 1000;

async function lockWithRetry(
  file: Deno.FsFile,
  exclusive: boolean,
  deps: CacheDeps,
): Promise<boolean> {
  const start = deps.now().getTime();
  while (true) {
    if (await file.tryLock(exclusive)) return true;
    if (deps.now().getTime() - start + LOCK_RETRY_MS > LOCK_TIMEOUT_MS) return false;
    await deps.sleep(LOCK_RETRY_MS);
  }
}

async function readLocked(path: string, file: Deno.FsFile): Promise<CacheDoc> {
  let text: string;
  try {
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(16384);
    while (true) {
      const n = await file.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    const all = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
    let off = 0;
    for (const c of chunks) {
      all.set(c, off);
      off += c.length;
    }
    text = new TextDecoder().decode(all);
  } catch (e) {
    throw new CacheError(`unable to open file ${path}: ${e instanceof Error ? e.message : e}`);
  }
  const yaml = await import("yaml") as YamlModule;
  let doc: unknown;
  try {
    doc = yaml.parse(text);
  } catch (e) {
    const msg = (e instanceof Error ? e.message : String(e)).split("\n")[0];
    throw new CacheError(`unable to parse file ${path}: ${msg}`);
  }
  const clusters = (doc as { clusters?: unknown } | null)?.clusters;
  if (clusters === undefined || clusters === null) return { clusters: {} };
  if (typeof clusters !== "object" || Array.isArray(clusters)) {
    throw new CacheError(`unable to parse file ${path}: clusters is not a mapping`);
  }
  return { clusters: clusters as CacheDoc["clusters"] };
}

function parseExpires(s: unknown): Date | undefined {
  if (s instanceof Date) return s;
  if (typeof s !== "string") return undefined;
  // Go writes nanoseconds; Date.parse wants at most milliseconds.
  const t = Date.parse(s.replace(/(\.\d{3})\d+/, "$1"));
  return Number.isNaN(t) ? undefined : new Date(t);
}

/** RFC 3339 with nanosecond precision trimmed as Go does, in local time with its offset. */
export function rfc3339NanoLocal(d: Date): string {
  const offMin = -d.getTimezoneOffset();
  const local = new Date(d.getTime() + offMin * 60_000);
  let s = local.toISOString().slice(0, 19);
  const ms = d.getTime() % 1000;
  if (ms !== 0) s += "." + String((ms + 1000) % 1000).padStart(3, "0").replace(/0+$/, "");
  if (offMin === 0) return s + "Z";
  const a = Math.abs(offMin);
  return s + (offMin < 0 ? "-" : "+") + String(Math.floor(a / 60)).padStart(2, "0") + ":" +
    String(a % 60).padStart(2, "0");
}

function entryToCredentials(e: CacheEntry | undefined): Credentials | undefined {
  if (!e || typeof e !== "object" || !e.accesskeyid || !e.secretaccesskey) return undefined;
  const c: Credentials = {
    accessKeyId: String(e.accesskeyid),
    secretAccessKey: String(e.secretaccesskey),
    source: e.source ? String(e.source) : "",
  };
  if (e.sessiontoken) c.sessionToken = String(e.sessiontoken);
  if (e.accountid) c.accountId = String(e.accountid);
  if (e.canexpire) {
    // An expiring entry without a readable expiry is treated as already expired.
    c.expiration = parseExpires(e.expires) ?? new Date(0);
  }
  return c;
}

/**
 * A credential provider wrapped in the file cache. Build it with {@linkcode openCredentialCache}
 * before resolving credentials, as the Go tool does.
 */
export interface CredentialCache {
  /** Returns cached credentials that have not expired, else calls `provider` and caches. */
  retrieve(provider: () => Promise<Credentials>): Promise<Credentials>;
}

/** Cache key: cluster ID, profile (`AWS_PROFILE` or `default`) and role ARN (may be `""`). */
export interface CacheKey {
  /** Cluster ID. */
  clusterId: string;
  /** Profile name. */
  profile: string;
  /** Role ARN given with `-r`, or `""`. */
  roleArn: string;
}

/**
 * Opens the cache: checks the file is private, reads it under a shared lock and picks the entry
 * for `key`. A missing file is a warning, not an error.
 *
 * @throws {CacheError} when the cache cannot be used (the caller warns and goes on uncached)
 */
export async function openCredentialCache(
  path: string,
  key: CacheKey,
  deps: CacheDeps,
): Promise<CredentialCache> {
  let cached: Credentials | undefined;
  let info: Deno.FileInfo | undefined;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      throw new CacheError(`couldn't stat cache file: ${e instanceof Error ? e.message : e}`);
    }
    deps.warn(`Cache file ${path} does not exist.`);
  }
  if (info) {
    if (info.mode !== null && (info.mode & 0o077) !== 0) {
      throw new CacheError(`cache file ${path} is not private (run: chmod 600 ${path})`, true);
    }
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true });
    } catch (e) {
      throw new CacheError(`unable to open file ${path}: ${e instanceof Error ? e.message : e}`);
    }
    try {
      if (!(await lockWithRetry(file, false, deps))) {
        throw new CacheError(`unable to read lock file ${path}: timed out after 1s`);
      }
      const doc = await readLocked(path, file);
      cached = entryToCredentials(doc.clusters[key.clusterId]?.[key.profile]?.[key.roleArn]);
    } finally {
      file.close();
    }
  }
  return {
    async retrieve(provider) {
      if (cached && (!cached.expiration || cached.expiration.getTime() > deps.now().getTime())) {
        return cached;
      }
      const fresh = await provider();
      if (!fresh.expiration) {
        deps.warn("Unable to cache credential: credential doesn't support expiration");
        return fresh;
      }
      await writeEntry(path, key, fresh, deps);
      return fresh;
    },
  };
}

async function writeEntry(path: string, key: CacheKey, c: Credentials, deps: CacheDeps) {
  const dir = path.slice(0, Math.max(path.lastIndexOf("/"), 0)) || ".";
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  } catch {
    // The open below reports the real problem.
  }
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
  } catch (e) {
    deps.warn(`Unable to write lock file ${path}: ${e instanceof Error ? e.message : e}`);
    return;
  }
  try {
    if (!(await lockWithRetry(file, true, deps))) {
      deps.warn(`Unable to write lock file ${path}: timed out after 1s`);
      return;
    }
    let doc: CacheDoc;
    try {
      doc = await readLocked(path, file);
    } catch {
      doc = { clusters: {} };
    }
    const byProfile = (doc.clusters[key.clusterId] ??= {});
    const byRole = (byProfile[key.profile] ??= {});
    byRole[key.roleArn] = {
      accesskeyid: c.accessKeyId,
      secretaccesskey: c.secretAccessKey,
      sessiontoken: c.sessionToken ?? "",
      source: c.source ?? "",
      canexpire: true,
      expires: rfc3339NanoLocal(c.expiration!),
      accountid: c.accountId ?? "",
    };
    const yaml = await import("yaml") as YamlModule;
    const data = new TextEncoder().encode(yaml.stringify(doc));
    await file.truncate(0);
    await file.seek(0, Deno.SeekMode.Start);
    let rest = data;
    while (rest.length) rest = rest.subarray(await file.write(rest));
  } catch (e) {
    deps.warn(`Unable to update cache file ${path}: ${e instanceof Error ? e.message : e}`);
  } finally {
    file.close();
  }
}
