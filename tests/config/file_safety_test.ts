import assert from "node:assert/strict";
import {
  checkFileSafety,
  checkMode,
  DENO_FILE_SAFETY_FS,
  type FileModeInfo,
  type FileSafetyFs,
  fileSafetyWarning,
  parseMountInfo,
} from "../../src/config/mod.ts";

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "file_safety_" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a file or its directory that group or others can write is a finding, with its fix", async () => {
  await withDir(async (dir) => {
    const file = `${dir}/mapping.json`;
    await Deno.writeTextFile(file, "{}");
    await Deno.chmod(file, 0o644);
    await Deno.chmod(dir, 0o755);
    assert.deepEqual(await checkFileSafety(file), []);

    await Deno.chmod(file, 0o666);
    assert.deepEqual(await checkFileSafety(file), [{
      path: file,
      kind: "file",
      file,
      mode: 0o666,
      octal: "0666",
      groupWritable: true,
      worldWritable: true,
      fix: `run chmod go-w ${file}`,
    }]);
    await Deno.chmod(file, 0o620);
    const [groupOnly] = await checkFileSafety(file);
    assert.equal(groupOnly?.fix, `run chmod g-w ${file}`);
    assert.equal(groupOnly?.worldWritable, false);

    await Deno.chmod(file, 0o600);
    await Deno.chmod(dir, 0o757);
    assert.deepEqual(await checkFileSafety(file), [{
      path: dir,
      kind: "directory",
      file,
      mode: 0o757,
      octal: "0757",
      groupWritable: false,
      worldWritable: true,
      fix: `run chmod o-w ${dir}, or move ${file} into a directory that only its owner can write`,
    }]);

    // A missing file: anyone who can write the directory can create it.
    await Deno.remove(file);
    assert.deepEqual((await checkFileSafety(file)).map((f) => f.path), [dir]);
    await Deno.chmod(dir, 0o700);
    assert.deepEqual(await checkFileSafety(file), []);

    // A shared sticky directory (/tmp): chmod is no fix there.
    await Deno.chmod(dir, 0o1777);
    const [sticky] = await checkFileSafety(file);
    assert.equal(sticky?.octal, "1777");
    assert.equal(
      sticky?.fix,
      `Move ${file} into a directory that only its owner can write (${dir} is shared)`,
    );
    await Deno.chmod(dir, 0o700);
  });
});

Deno.test("a ConfigMap-style ..data link: the file it resolves to and that file's directory are checked", async () => {
  await withDir(async (dir) => {
    // kubelet's layout: <dir>/config.yaml -> ..data/config.yaml, ..data -> ..2024_01_01/
    await Deno.mkdir(`${dir}/..2024_01_01`);
    await Deno.writeTextFile(`${dir}/..2024_01_01/config.yaml`, "server: {}\n");
    await Deno.symlink("..2024_01_01", `${dir}/..data`);
    await Deno.symlink("..data/config.yaml", `${dir}/config.yaml`);
    await Deno.chmod(dir, 0o755);
    await Deno.chmod(`${dir}/..2024_01_01`, 0o755);
    await Deno.chmod(`${dir}/..2024_01_01/config.yaml`, 0o644);
    const path = `${dir}/config.yaml`;
    assert.deepEqual(await checkFileSafety(path), []);

    // stat follows the links: the mode reported is the real file's.
    await Deno.chmod(`${dir}/..2024_01_01/config.yaml`, 0o666);
    await Deno.chmod(`${dir}/..2024_01_01`, 0o777);
    const found = await checkFileSafety(path);
    const real = await Deno.realPath(`${dir}/..2024_01_01`);
    assert.deepEqual(found.map((f) => [f.kind, f.path, f.octal]), [
      ["file", path, "0666"],
      ["directory", real, "0777"],
    ]);
  });
});

/** A fake file system: modes by path, symlinks by path, and a mountinfo text. */
function fakeFs(
  modes: Record<string, number | null>,
  mountinfo: string | undefined,
  links: Record<string, string> = {},
): FileSafetyFs {
  const info = (p: string, link: boolean): FileModeInfo => {
    if (link && links[p] !== undefined) {
      return { mode: 0o120777, isSymlink: true, isDirectory: false };
    }
    const target = links[p] ?? p;
    if (!(target in modes)) throw new Deno.errors.NotFound(`no ${p}`);
    const mode = modes[target]!;
    return { mode, isSymlink: false, isDirectory: mode !== null && (mode & 0o40000) !== 0 };
  };
  return {
    stat: (p) => Promise.resolve(info(p, false)),
    lstat: (p) => Promise.resolve(info(p, true)),
    realPath: (p) => Promise.resolve(links[p] ?? p),
    readTextFile: (p) => {
      assert.equal(p, "/proc/self/mountinfo");
      return mountinfo === undefined
        ? Promise.reject(new Deno.errors.NotFound(p))
        : Promise.resolve(mountinfo);
    },
  };
}

const ROOT_MOUNT = "22 1 259:1 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p1 rw\n";
const configMapMount = (opts: string, root: string) =>
  `1510 1490 259:1 ${root} /etc/aws-iam-authenticator ${opts} - ext4 /dev/nvme0n1p1 rw\n`;
const KUBELET_ROOT =
  "/var/lib/kubelet/pods/0b9c1e1e-1111-2222-3333-444455556666/volumes/kubernetes.io~configmap/config";

Deno.test("a kubelet ConfigMap volume's 0777 directory is not reported; its file's mode is", async () => {
  const modes = {
    "/etc/aws-iam-authenticator": 0o40777,
    "/etc/aws-iam-authenticator/config.yaml": 0o100644,
  };
  const path = "/etc/aws-iam-authenticator/config.yaml";
  const kubelet = ROOT_MOUNT + configMapMount("ro,relatime", KUBELET_ROOT);
  assert.deepEqual(await checkFileSafety(path, fakeFs(modes, kubelet)), []);

  // defaultMode 0666: the file is reported, and the fix is the volume's defaultMode.
  const loose = { ...modes, [path]: 0o100666 };
  const [file, ...rest] = await checkFileSafety(path, fakeFs(loose, kubelet));
  assert.deepEqual(rest, []);
  assert.equal(file?.kind, "file");
  assert.equal(file?.fix, `set defaultMode: 0644 (decimal 420) on the volume that mounts ${path}`);

  // The same directory as a writable mount, a read-only hostPath mount (others on the host can
  // write it), or without mount information: reported.
  for (
    const mountinfo of [
      ROOT_MOUNT + configMapMount("rw,relatime", KUBELET_ROOT),
      ROOT_MOUNT + configMapMount("ro,relatime", "/etc/aws-iam-authenticator"),
      undefined,
    ]
  ) {
    const found = await checkFileSafety(path, fakeFs(modes, mountinfo));
    assert.deepEqual(found.map((f) => [f.kind, f.path, f.octal]), [
      ["directory", "/etc/aws-iam-authenticator", "0777"],
    ], String(mountinfo));
  }
});

Deno.test("no mode (Windows) means no finding", async () => {
  const fs = fakeFs({ "/c/cfg": null, "/c/cfg/config.yaml": null }, undefined);
  assert.deepEqual(await checkFileSafety("/c/cfg/config.yaml", fs), []);
  assert.equal(await checkMode("/c/cfg", 0o077, fs), undefined);
});

Deno.test("parseMountInfo reads mount point, root and ro from proc(5) lines", () => {
  const mounts = parseMountInfo(
    ROOT_MOUNT +
      "36 35 98:0 /mnt\\040one /mnt/two\\011x ro,noatime master:1 - ext3 /dev/root rw\n" +
      "37 35 98:0 / /data rw shared:2 - xfs /dev/sdb ro,attr2\n" +
      "not a mountinfo line\n",
  );
  assert.deepEqual(mounts, [
    { root: "/", mountPoint: "/", readOnly: false },
    { root: "/mnt one", mountPoint: "/mnt/two\tx", readOnly: true },
    { root: "/", mountPoint: "/data", readOnly: true },
  ]);
  // This machine's own table parses (the check reads it on Linux).
  if (Deno.build.os === "linux") {
    const own = parseMountInfo(Deno.readTextFileSync("/proc/self/mountinfo"));
    assert.ok(own.some((m) => m.mountPoint === "/"));
  }
});

Deno.test("checkMode: any of the masked bits is a finding naming the bits to remove", async () => {
  await withDir(async (dir) => {
    await Deno.chmod(dir, 0o755);
    const f = await checkMode(dir, 0o077);
    assert.equal(f?.kind, "directory");
    assert.equal(f?.octal, "0755");
    assert.equal(f?.fix, `run chmod go-rx ${dir}`);
    await Deno.chmod(dir, 0o700);
    assert.equal(await checkMode(dir, 0o077), undefined);
    assert.equal(await checkMode(`${dir}/missing`, 0o077), undefined);
    await Deno.writeTextFile(`${dir}/key.pem`, "k");
    await Deno.chmod(`${dir}/key.pem`, 0o664);
    assert.equal((await checkMode(`${dir}/key.pem`, 0o077))?.fix, `run chmod go-rw ${dir}/key.pem`);
    assert.equal((await checkMode(`${dir}/key.pem`, 0o022, DENO_FILE_SAFETY_FS))?.kind, "file");
  });
});

Deno.test("fileSafetyWarning names the file, the open path, its mode, the risk and the fix", () => {
  const base = {
    file: "/etc/a/m.json",
    groupWritable: true,
    worldWritable: true,
    fix: "run chmod go-w /etc/a/m.json",
  };
  assert.equal(
    fileSafetyWarning("DynamicFile", {
      ...base,
      path: "/etc/a/m.json",
      kind: "file",
      mode: 0o666,
      octal: "0666",
    }),
    "DynamicFile /etc/a/m.json is writable by group and others (mode 0666): anyone who can " +
      "write it can map themselves to any Kubernetes user or group, system:masters included; " +
      "run chmod go-w /etc/a/m.json",
  );
  assert.equal(
    fileSafetyWarning("config file", {
      ...base,
      path: "/etc/a",
      kind: "directory",
      mode: 0o757,
      octal: "0757",
      groupWritable: false,
      fix:
        "run chmod o-w /etc/a, or move /etc/a/m.json into a directory that only its owner can write",
    }),
    "config file /etc/a/m.json is in /etc/a, which is writable by others (mode 0757): anyone " +
      "who can write that directory can replace the file and map themselves to any Kubernetes " +
      "user or group, system:masters included; run chmod o-w /etc/a, or move /etc/a/m.json into " +
      "a directory that only its owner can write",
  );
});
