/**
 * Who besides its owner can change a file that decides who is who? The server config
 * (`--config`, whose `mapRoles` / `mapUsers` the MountedFile backend serves), the DynamicFile
 * (`server.dynamicfilepath`) and the backend-mode file (`server.dynamicBackendModePath`) map AWS
 * identities to Kubernetes users: whoever can write one of them can map themselves to
 * `system:masters`. {@linkcode checkFileSafety} finds such a file, or a directory that holds it,
 * that group or others can write; the server logs each finding as a warning
 * ({@linkcode fileSafetyWarning}) and sets a gauge, and any other command that looks at local
 * mapping files (`validate`) can report the same findings through the same two functions.
 *
 * Which directories are checked: the one that holds the path as configured (whoever can write it
 * can rename another file, or a symbolic link, over the configured name), and, when the path is a
 * symbolic link, the one that holds the file it resolves to. Kubernetes mounts a ConfigMap as
 * `<dir>/<key>` -> `..data/<key>` -> `..<timestamp>/<key>`, so that covers the mount directory
 * and the timestamped directory. Directories further up are not checked: inside a container
 * they belong to the image, and a check that always fires there would teach operators to ignore it.
 *
 * One exception: the directory of a ConfigMap, Secret, projected or downward-API volume is
 * created `0777` by kubelet (operators cannot change that) but mounted read-only, and its host
 * side lies under kubelet's private pod directory. Such a directory (a read-only mount whose
 * source is a `kubernetes.io~configmap|secret|projected|downward-api` volume, from
 * `/proc/self/mountinfo`) is not reported. The file's own mode (the volume's `defaultMode`) still is.
 *
 * On Windows `Deno.stat` reports no mode, so nothing is reported there.
 *
 * @module
 */

/** What {@linkcode checkFileSafety} needs to know about one path. */
export interface FileModeInfo {
  /** Mode bits (type and permissions), `null` where the platform has none (Windows). */
  mode: number | null;
  /** Whether the path itself is a symbolic link (`lstat` only). */
  isSymlink: boolean;
  /** Whether it is a directory. */
  isDirectory: boolean;
}

/**
 * The file-system calls of the check; tests replace them to control modes. Each may throw
 * `Deno.errors.NotFound`.
 */
export interface FileSafetyFs {
  /** `stat`: follows symbolic links. */
  stat(path: string): Promise<FileModeInfo>;
  /** `lstat`: the path itself. */
  lstat(path: string): Promise<FileModeInfo>;
  /** The canonical absolute path, symbolic links resolved. */
  realPath(path: string): Promise<string>;
  /** Reads a text file (`/proc/self/mountinfo`; a failure means "no mount information"). */
  readTextFile(path: string): Promise<string>;
}

/** The real file system. */
export const DENO_FILE_SAFETY_FS: FileSafetyFs = {
  stat: (p) => Deno.stat(p),
  lstat: (p) => Deno.lstat(p),
  realPath: (p) => Deno.realPath(p),
  readTextFile: (p) => Deno.readTextFile(p),
};

/** One path that others can write (or, for {@linkcode checkMode}, access). */
export interface FileSafetyFinding {
  /** The path that is too open: the checked file itself, or a directory that holds it. */
  path: string;
  /** Whether {@linkcode FileSafetyFinding.path} is the checked file or a directory holding it. */
  kind: "file" | "directory";
  /** The checked path, as given. */
  file: string;
  /** Permission bits of {@linkcode FileSafetyFinding.path} (`mode & 0o7777`). */
  mode: number;
  /** {@linkcode FileSafetyFinding.mode} as four octal digits, e.g. `"0666"`. */
  octal: string;
  /** Members of the owning group can write it. */
  groupWritable: boolean;
  /** Anyone can write it. */
  worldWritable: boolean;
  /** One sentence: what to do about it. */
  fix: string;
}

/** Four octal digits, as `ls` and `chmod` users read modes. */
export function octalMode(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, "0");
}

/** `chmod go-w PATH`: the classes and permissions of `excess` (bits of 0o077) to remove. */
function chmodFix(path: string, excess: number): string {
  const classes = `${excess & 0o070 ? "g" : ""}${excess & 0o007 ? "o" : ""}`;
  const bits = excess | (excess >> 3);
  const perms = `${bits & 0o4 ? "r" : ""}${bits & 0o2 ? "w" : ""}${bits & 0o1 ? "x" : ""}`;
  return `chmod ${classes}-${perms} ${path}`;
}

function finding(
  path: string,
  kind: "file" | "directory",
  file: string,
  mode: number,
  fix: string,
): FileSafetyFinding {
  return {
    path,
    kind,
    file,
    mode: mode & 0o7777,
    octal: octalMode(mode),
    groupWritable: (mode & 0o020) !== 0,
    worldWritable: (mode & 0o002) !== 0,
    fix,
  };
}

/** The directory that holds `path` (`.` for a bare name, `/` at the root; trailing slashes ignored). */
export function parentDir(path: string): string {
  const trimmed = path.length > 1 ? path.replace(/\/+$/, "") : path;
  const at = trimmed.lastIndexOf("/");
  if (at < 0) return ".";
  if (at === 0) return "/";
  return trimmed.slice(0, at);
}

async function statOrUndefined(
  fs: FileSafetyFs,
  op: "stat" | "lstat",
  path: string,
): Promise<FileModeInfo | undefined> {
  try {
    return await fs[op](path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) {
      return undefined;
    }
    throw e;
  }
}

/** One line of `/proc/self/mountinfo`, the fields the check uses. */
export interface MountInfo {
  /** Where it is mounted. */
  mountPoint: string;
  /** The directory of the source file system that appears there. */
  root: string;
  /** Mounted read-only (mount or super-block option `ro`). */
  readOnly: boolean;
}

function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Parses `/proc/self/mountinfo` (proc(5)); lines that do not fit are skipped. */
export function parseMountInfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split("\n")) {
    const fields = line.split(" ");
    const dash = fields.indexOf("-");
    if (fields.length < 6 || dash < 6) continue;
    const options = fields[5]!.split(",");
    const superOptions = (fields[dash + 3] ?? "").split(",");
    out.push({
      root: unescapeMountField(fields[3]!),
      mountPoint: unescapeMountField(fields[4]!),
      readOnly: options.includes("ro") || superOptions.includes("ro"),
    });
  }
  return out;
}

/** The mount that holds `realPath` (the last listed of the longest matching mount points). */
function mountOf(realPath: string, mounts: readonly MountInfo[]): MountInfo | undefined {
  let best: MountInfo | undefined;
  for (const m of mounts) {
    const p = m.mountPoint;
    const inside = p === "/" || realPath === p ||
      realPath.startsWith(p.endsWith("/") ? p : p + "/");
    if (inside && (best === undefined || p.length >= best.mountPoint.length)) best = m;
  }
  return best;
}

const KUBELET_API_VOLUME = /\/volumes\/kubernetes\.io~(configmap|secret|projected|downward-api)\//;

/**
 * Whether `realDir` is on a read-only kubelet ConfigMap / Secret / projected / downward-API
 * volume (whose directory kubelet creates `0777`; see the module doc).
 */
function onKubeletApiVolume(realDir: string, mounts: readonly MountInfo[]): boolean {
  const m = mountOf(realDir, mounts);
  return m !== undefined && m.readOnly && KUBELET_API_VOLUME.test(m.root + "/");
}

/**
 * Finds the ways group or others can change `path`: the file itself (links followed) and the
 * directories that hold it (see the module doc for which). A path that does not exist yields no
 * file finding, but its directory is still checked (anyone who can write the directory can
 * create the file). Never throws for a missing path; other file-system errors are thrown.
 *
 * ```ts
 * for (const f of await checkFileSafety("/etc/aws-iam-authenticator/config.yaml")) {
 *   console.warn(fileSafetyWarning("config file", f));
 * }
 * ```
 *
 * @param path the file, as configured
 * @param fs file-system calls to use instead of the real ones (tests pass `stat` / `lstat` to
 * control modes; the calls not given are the real ones)
 * @returns one finding per path that is too open, the file first (empty when the file is safe)
 */
export async function checkFileSafety(
  path: string,
  fs: Partial<FileSafetyFs> = {},
): Promise<FileSafetyFinding[]> {
  return await check(path, { ...DENO_FILE_SAFETY_FS, ...fs });
}

async function check(path: string, fs: FileSafetyFs): Promise<FileSafetyFinding[]> {
  const out: FileSafetyFinding[] = [];
  let mounts: MountInfo[] | undefined;
  const kubelet = async (dir: string): Promise<boolean> => {
    if (mounts === undefined) {
      try {
        mounts = parseMountInfo(await fs.readTextFile("/proc/self/mountinfo"));
      } catch {
        mounts = [];
      }
    }
    let real: string;
    try {
      real = await fs.realPath(dir);
    } catch {
      return false;
    }
    return onKubeletApiVolume(real, mounts);
  };

  const file = await statOrUndefined(fs, "stat", path);
  const link = await statOrUndefined(fs, "lstat", path);
  const dirs = [parentDir(path)];
  if (link?.isSymlink && file !== undefined) {
    const target = parentDir(await fs.realPath(path));
    const first = await fs.realPath(dirs[0]!).catch(() => dirs[0]!);
    if (target !== first) dirs.push(target);
  }

  if (file?.mode != null && (file.mode & 0o022) !== 0) {
    const fix = await kubelet(parentDir(path))
      ? `set defaultMode: 0644 (decimal 420) on the volume that mounts ${path}`
      : `run ${chmodFix(path, file.mode & 0o022)}`;
    out.push(finding(path, "file", path, file.mode, fix));
  }
  for (const dir of dirs) {
    const info = await statOrUndefined(fs, "stat", dir);
    if (info?.mode == null || (info.mode & 0o022) === 0) continue;
    if (await kubelet(dir)) continue;
    const move = `move ${path} into a directory that only its owner can write`;
    // chmod on a shared sticky directory (/tmp) is no fix: anyone may still create the file there.
    const fix = info.mode & 0o1000
      ? `${move[0]!.toUpperCase()}${move.slice(1)} (${dir} is shared)`
      : `run ${chmodFix(dir, info.mode & 0o022)}, or ${move}`;
    out.push(finding(dir, "directory", path, info.mode, fix));
  }
  return out;
}

/**
 * A finding when group or others have any of the permissions in `mask` on `path` (links
 * followed): `0o077` for a private directory or key ("looser than 0700 / 0600"), `0o022` for a
 * file only its owner may change. `undefined` when the path is fine or missing, or on Windows.
 */
export async function checkMode(
  path: string,
  mask: number,
  fs: Pick<FileSafetyFs, "stat"> = DENO_FILE_SAFETY_FS,
): Promise<FileSafetyFinding | undefined> {
  let info: FileModeInfo;
  try {
    info = await fs.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) {
      return undefined;
    }
    throw e;
  }
  if (info.mode === null || (info.mode & mask) === 0) return undefined;
  const kind = info.isDirectory ? "directory" : "file";
  return finding(path, kind, path, info.mode, `run ${chmodFix(path, info.mode & mask)}`);
}

function writers(f: FileSafetyFinding): string {
  if (f.groupWritable && f.worldWritable) return "group and others";
  return f.worldWritable ? "others" : "group";
}

/**
 * The warning for a finding of {@linkcode checkFileSafety}: names the file, the path that is too
 * open with its mode, the risk and the fix, in one line.
 *
 * @param label what the file is, e.g. `"DynamicFile"` or `"config file"`
 */
export function fileSafetyWarning(label: string, f: FileSafetyFinding): string {
  const risk = "map themselves to any Kubernetes user or group, system:masters included";
  if (f.kind === "file") {
    return `${label} ${f.file} is writable by ${writers(f)} (mode ${f.octal}): ` +
      `anyone who can write it can ${risk}; ${f.fix}`;
  }
  return `${label} ${f.file} is in ${f.path}, which is writable by ${writers(f)} ` +
    `(mode ${f.octal}): anyone who can write that directory can replace the file and ${risk}; ` +
    `${f.fix}`;
}
