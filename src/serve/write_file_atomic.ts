/**
 * How the server and `init` put files on disk (the key pair, the webhook kubeconfig): each file
 * gets exactly the mode asked for, whatever the umask and however the runtime treats `mode`, and
 * a symbolic link planted at the target path is replaced, never followed. Both matter because
 * the state dir and the kubeconfig directory are usually pre-created host paths other people
 * may be able to reach.
 *
 * Windows has no owner/group/other permission bits: there the files are written the same way but
 * modes are not set (docs/security.md#file-modes-and-files-others-can-write).
 *
 * @module
 */

import { parentDir } from "../config/mod.ts";

/** `chmod`, except on Windows, where permission bits for group and others do not exist. */
export async function setMode(path: string, mode: number): Promise<void> {
  if (Deno.build.os === "windows") return;
  try {
    await Deno.chmod(path, mode);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotSupported)) throw err;
  }
}

/**
 * Writes `data` to `path` with permission bits `mode`: into a new temporary file beside it
 * (created exclusively, so nothing planted at that name is followed), set to `mode` explicitly,
 * then renamed over `path` (which replaces a symbolic link at `path` instead of writing through
 * it, and never leaves half a file). The temporary file is removed on failure.
 */
export async function writeFileAtomic(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${crypto.randomUUID()}`;
  try {
    await Deno.writeTextFile(tmp, data, { createNew: true, mode });
    await setMode(tmp, mode);
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}

/**
 * Creates `dir` and its missing parents, each set to `mode` explicitly (`mkdir` alone leaves the
 * umask's mark on it). Directories that already exist are left as they are: the operator chose
 * their modes. Returns the directories this call created, outermost first.
 *
 * @throws {Error} when a component exists but is not a directory, or cannot be created.
 */
export async function ensureDir(dir: string, mode: number): Promise<string[]> {
  const missing: string[] = [];
  for (let cur = dir;;) {
    try {
      const info = await Deno.stat(cur);
      if (!info.isDirectory) throw new Deno.errors.NotADirectory(`${cur} is not a directory`);
      break;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    missing.push(cur);
    const parent = parentDir(cur);
    if (parent === cur) break;
    cur = parent;
  }
  const created: string[] = [];
  for (const d of missing.reverse()) {
    try {
      await Deno.mkdir(d, { mode });
    } catch (err) {
      // Someone else made it meanwhile: theirs, so its mode is theirs too.
      if (err instanceof Deno.errors.AlreadyExists) continue;
      throw err;
    }
    await setMode(d, mode);
    created.push(d);
  }
  return created;
}
