/**
 * The Go tool's `--cache` credential file cache, file-compatible with it
 * (https://github.com/kubernetes-sigs/aws-iam-authenticator/blob/v0.7.18/pkg/filecache/filecache.go):
 * the same path, YAML layout, 0600 mode, and `flock` locking (shared to read, exclusive to write,
 * tried every 250 ms for up to 1 s), so a user can switch tools and keep the cache.
 *
 * It caches the *base* credentials (before any AssumeRole), keyed by cluster ID, profile and
 * role ARN, and only credentials that can expire.
 *
 * Modes do not depend on the umask: a file created here is set to 0600 and directories created
 * here to 0700 explicitly. Unlike the Go tool, a symbolic link at the cache path is neither read
 * nor written through (the cache is then not used, with a warning).
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

/** An error that makes the cache unusable; the caller reports `unable to use cache: ...`. */
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
    // lstat, not stat: a link is refused below rather than followed (same one call).
    info = await Deno.lstat(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      throw new CacheError(`couldn't stat cache file: ${e instanceof Error ? e.message : e}`);
    }
    deps.warn(`Cache file ${path} does not exist.`);
  }
  if (info) {
    if (info.isSymlink) {
      throw new CacheError(
        `cache file ${path} is a symbolic link, which is neither read nor written (replace it ` +
          `with a regular file, or set AWS_IAM_AUTHENTICATOR_CACHE_FILE to the file itself)`,
      );
    }
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

/**
 * Creates `dir` and its missing parents with mode 0700, set explicitly on each (mkdir alone
 * leaves the umask's mark). Existing directories are left as they are. The token cache uses it
 * too.
 */
export async function makePrivateDir(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let cur = dir; cur !== "" && cur !== "/" && cur !== ".";) {
    try {
      await Deno.stat(cur);
      break;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    missing.push(cur);
    const at = cur.lastIndexOf("/");
    cur = at < 0 ? "." : cur.slice(0, at);
  }
  for (const d of missing.reverse()) {
    try {
      await Deno.mkdir(d, { mode: 0o700 });
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) continue;
      throw e;
    }
    if (Deno.build.os !== "windows") await Deno.chmod(d, 0o700);
  }
}

/**
 * Opens the cache file to update it in place. In place, not through a new file renamed over it:
 * the lock is taken on the file itself (as the Go tool does), and a rename would leave a waiting
 * writer holding the lock of a file no longer at the path. So a link planted at the path is
 * refused instead: a new file is created exclusively (which never follows a link) and set to 0600
 * explicitly; an existing one is opened only when `lstat` says it is a regular file and the
 * opened descriptor is that same file.
 */
async function openForUpdate(path: string): Promise<Deno.FsFile> {
  for (let attempt = 0; attempt < 3; attempt++) {
    let before: Deno.FileInfo;
    try {
      before = await Deno.lstat(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      let file: Deno.FsFile;
      try {
        file = await Deno.open(path, { read: true, write: true, createNew: true, mode: 0o600 });
      } catch (e) {
        if (e instanceof Deno.errors.AlreadyExists) continue;
        throw e;
      }
      if (Deno.build.os !== "windows") await Deno.chmod(path, 0o600);
      return file;
    }
    if (before.isSymlink) throw new Error("it is a symbolic link, which is not followed");
    if (!before.isFile) throw new Error("it is not a regular file");
    const file = await Deno.open(path, { read: true, write: true });
    const opened = await file.stat();
    if (opened.ino !== before.ino || opened.dev !== before.dev) {
      file.close();
      throw new Error("it was replaced while being opened");
    }
    if (opened.mode !== null && (opened.mode & 0o777) !== 0o600 && Deno.build.os !== "windows") {
      await Deno.chmod(path, 0o600);
    }
    return file;
  }
  throw new Error("it keeps being created and removed by someone else");
}

async function writeEntry(path: string, key: CacheKey, c: Credentials, deps: CacheDeps) {
  const dir = path.slice(0, Math.max(path.lastIndexOf("/"), 0)) || ".";
  try {
    await makePrivateDir(dir);
  } catch {
    // The open below reports the real problem.
  }
  let file: Deno.FsFile;
  try {
    file = await openForUpdate(path);
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
