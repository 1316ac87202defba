import assert from "node:assert/strict";
import { ensureDir, writeFileAtomic } from "../../src/serve/write_file_atomic.ts";

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "write_file_atomic_" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const names = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

Deno.test("writeFileAtomic: the asked mode, whatever the old file's, and no leftovers", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/cert.pem`;
    await writeFileAtomic(path, "one", 0o644);
    assert.equal(await Deno.readTextFile(path), "one");
    assert.equal((await Deno.stat(path)).mode! & 0o7777, 0o644);
    // An existing file others could write is replaced by a new one with the asked mode.
    await Deno.chmod(path, 0o666);
    await writeFileAtomic(path, "two", 0o600);
    assert.equal(await Deno.readTextFile(path), "two");
    assert.equal((await Deno.stat(path)).mode! & 0o7777, 0o600);
    assert.deepEqual(names(dir), ["cert.pem"]);
  });
});

Deno.test("writeFileAtomic replaces a symbolic link at the target instead of writing through it", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/victim`, "keep");
    await Deno.symlink(`${dir}/victim`, `${dir}/kubeconfig.yaml`);
    await Deno.symlink(`${dir}/nowhere`, `${dir}/dangling`);
    await writeFileAtomic(`${dir}/kubeconfig.yaml`, "new", 0o644);
    await writeFileAtomic(`${dir}/dangling`, "new", 0o644);
    assert.equal(await Deno.readTextFile(`${dir}/victim`), "keep");
    assert.ok(!(await Deno.lstat(`${dir}/kubeconfig.yaml`)).isSymlink);
    assert.ok(!(await Deno.lstat(`${dir}/dangling`)).isSymlink);
    assert.deepEqual(names(dir), ["dangling", "kubeconfig.yaml", "victim"]);
  });
});

Deno.test("writeFileAtomic: a failed rename leaves no temporary file", async () => {
  await withDir(async (dir) => {
    // rename(2) of a file over a non-empty directory fails.
    await Deno.mkdir(`${dir}/target/inner`, { recursive: true });
    await assert.rejects(writeFileAtomic(`${dir}/target`, "x", 0o644));
    assert.deepEqual(names(dir), ["target"]);
  });
});

Deno.test("ensureDir: sets the mode on each directory it creates, leaves existing ones alone", async () => {
  await withDir(async (dir) => {
    await Deno.chmod(dir, 0o711);
    const created = await ensureDir(`${dir}/a/b/c`, 0o755);
    assert.deepEqual(created, [`${dir}/a`, `${dir}/a/b`, `${dir}/a/b/c`]);
    for (const d of created) assert.equal((await Deno.stat(d)).mode! & 0o7777, 0o755);
    assert.equal((await Deno.stat(dir)).mode! & 0o7777, 0o711);
    await Deno.chmod(`${dir}/a/b`, 0o777);
    assert.deepEqual(await ensureDir(`${dir}/a/b/d`, 0o700), [`${dir}/a/b/d`]);
    assert.equal((await Deno.stat(`${dir}/a/b`)).mode! & 0o7777, 0o777);
    assert.deepEqual(await ensureDir(`${dir}/a/b/d`, 0o700), []);
    await Deno.writeTextFile(`${dir}/file`, "");
    await assert.rejects(ensureDir(`${dir}/file`, 0o700), Deno.errors.NotADirectory);
    await assert.rejects(ensureDir(`${dir}/file/sub`, 0o700), Deno.errors.NotADirectory);
  });
});
