import assert from "node:assert/strict";
import {
  cacheDir,
  CacheError,
  cacheFilePath,
  type Credentials,
  openCredentialCache,
  rfc3339NanoLocal,
} from "../../src/sign/mod.ts";

function fakeClock(start: string) {
  let t = Date.parse(start);
  return {
    now: () => new Date(t),
    sleep: (ms: number) => {
      t += ms;
      return Promise.resolve();
    },
  };
}

async function inTemp(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "cache_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const KEY = { clusterId: "c1", profile: "default", roleArn: "arn:aws:iam::1:role/r" };

Deno.test("cache path: AWS_IAM_AUTHENTICATOR_CACHE_FILE, else ~/.kube/cache", () => {
  const env = (m: Record<string, string>) => (n: string) => m[n];
  assert.equal(
    cacheFilePath(env({ HOME: "/home/u" })),
    "/home/u/.kube/cache/aws-iam-authenticator/credentials.yaml",
  );
  assert.equal(cacheFilePath(env({ AWS_IAM_AUTHENTICATOR_CACHE_FILE: "/x/y.yaml" })), "/x/y.yaml");
  assert.equal(cacheDir(env({ AWS_IAM_AUTHENTICATOR_CACHE_FILE: "/x/y.yaml" })), "/x");
});

Deno.test("reads a file the Go tool wrote (nanoseconds, offsets) and serves it until expiry", async () => {
  await inTemp(async (dir) => {
    const path = `${dir}/credentials.yaml`;
    await Deno.writeTextFile(
      path,
      `clusters:
  c1:
    default:
      arn:aws:iam::1:role/r:
        accesskeyid: ASIAGO
        secretaccesskey: gosecret
        sessiontoken: gotoken
        source: SSOProvider
        canexpire: true
        expires: 2026-01-01T13:00:00.123456789+01:00
        accountid: ""
`,
      { mode: 0o600 },
    );
    await Deno.chmod(path, 0o600);
    const clock = fakeClock("2026-01-01T11:59:00Z");
    const warnings: string[] = [];
    const cache = await openCredentialCache(path, KEY, { ...clock, warn: (m) => warnings.push(m) });
    let calls = 0;
    const provider = (): Promise<Credentials> => {
      calls++;
      return Promise.resolve({
        accessKeyId: "ASIANEW",
        secretAccessKey: "n",
        sessionToken: "t",
        expiration: new Date("2026-01-01T13:00:00Z"),
        source: "ProcessProvider",
      });
    };
    const hit = await cache.retrieve(provider);
    assert.equal(hit.accessKeyId, "ASIAGO");
    assert.equal(hit.sessionToken, "gotoken");
    assert.equal(hit.expiration?.toISOString(), "2026-01-01T12:00:00.123Z");
    assert.equal(calls, 0);
    // Past the expiry the provider is called and the entry replaced.
    const later = fakeClock("2026-01-01T12:00:01Z");
    const cache2 = await openCredentialCache(path, KEY, {
      ...later,
      warn: (m) => warnings.push(m),
    });
    const fresh = await cache2.retrieve(provider);
    assert.equal(fresh.accessKeyId, "ASIANEW");
    assert.equal(calls, 1);
    const text = await Deno.readTextFile(path);
    assert.match(text, /accesskeyid: ASIANEW/);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.deepEqual(warnings, []);
  });
});

Deno.test("a cache file with group/other permissions is refused", async () => {
  await inTemp(async (dir) => {
    const path = `${dir}/credentials.yaml`;
    await Deno.writeTextFile(path, "clusters: {}\n");
    await Deno.chmod(path, 0o640);
    const err = await openCredentialCache(path, KEY, {
      ...fakeClock("2026-01-01T00:00:00Z"),
      warn: () => {},
    })
      .then(() => undefined, (e) => e);
    assert.ok(err instanceof CacheError);
    assert.equal(err.notPrivate, true);
    assert.match(err.message, /is not private/);
  });
});

Deno.test("a malformed cache file is reported with the Go tool's wording", async () => {
  await inTemp(async (dir) => {
    const path = `${dir}/credentials.yaml`;
    await Deno.writeTextFile(path, "clusters: [\n", { mode: 0o600 });
    await Deno.chmod(path, 0o600);
    await assert.rejects(
      openCredentialCache(path, KEY, { ...fakeClock("2026-01-01T00:00:00Z"), warn: () => {} }),
      new RegExp(`^CacheError: unable to parse file ${path}: `),
    );
  });
});

Deno.test("a held exclusive lock makes reading give up after 1 s of 250 ms tries", async () => {
  await inTemp(async (dir) => {
    const path = `${dir}/credentials.yaml`;
    await Deno.writeTextFile(path, "clusters: {}\n", { mode: 0o600 });
    await Deno.chmod(path, 0o600);
    // flock locks belong to the open file description, so a second open in this process
    // conflicts just like another process would.
    const holder = await Deno.open(path, { read: true, write: true });
    await holder.lock(true);
    try {
      const clock = fakeClock("2026-01-01T00:00:00Z");
      const slept: number[] = [];
      const err = await openCredentialCache(path, KEY, {
        now: clock.now,
        sleep: (ms) => {
          slept.push(ms);
          return clock.sleep(ms);
        },
        warn: () => {},
      }).then(() => undefined, (e) => e);
      assert.ok(err instanceof CacheError);
      assert.match(err.message, new RegExp(`^unable to read lock file ${path}`));
      assert.deepEqual(slept, [250, 250, 250, 250]);
    } finally {
      await holder.unlock();
      holder.close();
    }
  });
});

Deno.test("a held lock on write: the fresh credential is returned uncached with a warning", async () => {
  await inTemp(async (dir) => {
    const path = `${dir}/sub/credentials.yaml`;
    const warnings: string[] = [];
    const clock = fakeClock("2026-01-01T00:00:00Z");
    const cache = await openCredentialCache(path, KEY, { ...clock, warn: (m) => warnings.push(m) });
    assert.match(warnings[0]!, /Cache file .* does not exist\./);
    await Deno.mkdir(`${dir}/sub`, { mode: 0o700 });
    await Deno.writeTextFile(path, "", { mode: 0o600 });
    const holder = await Deno.open(path, { read: true });
    await holder.lock(false);
    try {
      const c = await cache.retrieve(() =>
        Promise.resolve({
          accessKeyId: "ASIAX",
          secretAccessKey: "s",
          expiration: new Date("2026-01-01T01:00:00Z"),
        })
      );
      assert.equal(c.accessKeyId, "ASIAX");
      assert.match(warnings.at(-1)!, /^Unable to write lock file /);
      assert.equal(await Deno.readTextFile(path), "");
    } finally {
      holder.close();
    }
  });
});

Deno.test("writes create the directory 0700 and keep other clusters' entries", async () => {
  await inTemp(async (dir) => {
    const path = `${dir}/deep/cache/credentials.yaml`;
    const clock = fakeClock("2026-01-01T00:00:00Z");
    const mk = (id: string) => () =>
      Promise.resolve({
        accessKeyId: id,
        secretAccessKey: "s",
        expiration: new Date("2026-01-01T01:00:00Z"),
      });
    await (await openCredentialCache(path, KEY, { ...clock, warn: () => {} })).retrieve(mk("A1"));
    await (await openCredentialCache(path, { ...KEY, clusterId: "c2", roleArn: "" }, {
      ...clock,
      warn: () => {},
    })).retrieve(mk("A2"));
    assert.equal((await Deno.stat(`${dir}/deep/cache`)).mode! & 0o777, 0o700);
    const text = await Deno.readTextFile(path);
    assert.match(text, /c1:\n {4}default:\n {6}arn:aws:iam::1:role\/r:\n {8}accesskeyid: A1/);
    assert.match(text, /c2:\n {4}default:\n {6}"":\n {8}accesskeyid: A2/);
  });
});

Deno.test("rfc3339NanoLocal trims fractional zeros like Go", () => {
  const d = new Date("2026-01-01T00:00:00.120Z");
  const s = rfc3339NanoLocal(d);
  assert.equal(Date.parse(s), d.getTime());
  assert.match(s, /\.12(Z|[+-]\d\d:\d\d)$/);
  assert.match(rfc3339NanoLocal(new Date("2026-01-01T00:00:00Z")), /:00(Z|[+-]\d\d:\d\d)$/);
});

Deno.test("locks interoperate with flock(2) held by another process (what the Go tool uses)", async () => {
  await inTemp(async (dir) => {
    const path = `${dir}/credentials.yaml`;
    await Deno.writeTextFile(path, "clusters: {}\n", { mode: 0o600 });
    await Deno.chmod(path, 0o600);
    const holder = new Deno.Command("python3", {
      args: [
        "-c",
        "import fcntl,sys,time\nf=open(sys.argv[1],'r+')\nfcntl.flock(f,fcntl.LOCK_EX)\n" +
        "print('locked',flush=True)\nsys.stdin.read()",
        path,
      ],
      stdin: "piped",
      stdout: "piped",
    }).spawn();
    const reader = holder.stdout.getReader();
    const first = await reader.read();
    assert.match(new TextDecoder().decode(first.value), /locked/);
    try {
      const err = await openCredentialCache(path, KEY, {
        ...fakeClock("2026-01-01T00:00:00Z"),
        warn: () => {},
      }).then(() => undefined, (e) => e);
      assert.ok(err instanceof CacheError);
      assert.match(err.message, /^unable to read lock file /);
    } finally {
      reader.releaseLock();
      await holder.stdin.close();
      await holder.stdout.cancel();
      await holder.status;
    }
    // Once the other process is gone the cache opens.
    await openCredentialCache(path, KEY, { ...fakeClock("2026-01-01T00:00:00Z"), warn: () => {} });
  });
});

const FRESH = () =>
  Promise.resolve({
    accessKeyId: "ASIAFRESH",
    secretAccessKey: "s",
    expiration: new Date("2026-01-01T01:00:00Z"),
  });

Deno.test("a symbolic link at the cache path is neither read nor written through", async () => {
  await inTemp(async (dir) => {
    const path = `${dir}/credentials.yaml`;
    const clock = fakeClock("2026-01-01T00:00:00Z");
    await Deno.writeTextFile(`${dir}/victim`, "clusters: {}\n", { mode: 0o600 });
    await Deno.symlink(`${dir}/victim`, path);
    await assert.rejects(
      openCredentialCache(path, KEY, { ...clock, warn: () => {} }),
      (e: unknown) =>
        e instanceof CacheError && !e.notPrivate &&
        e.message.startsWith(`cache file ${path} is a symbolic link, which is neither read nor`),
    );

    // A link planted between the read and the write (here: after a read of no file) is refused
    // as well, and so is a dangling one, whose target would otherwise be created.
    await Deno.remove(path);
    const warnings: string[] = [];
    const cache = await openCredentialCache(path, KEY, { ...clock, warn: (m) => warnings.push(m) });
    for (const target of [`${dir}/victim`, `${dir}/would-be-created`]) {
      await Deno.symlink(target, path);
      assert.equal((await cache.retrieve(FRESH)).accessKeyId, "ASIAFRESH");
      assert.equal(
        warnings.at(-1),
        `Unable to write lock file ${path}: it is a symbolic link, which is not followed`,
      );
      await Deno.remove(path);
    }
    assert.equal(await Deno.readTextFile(`${dir}/victim`), "clusters: {}\n");
    await assert.rejects(Deno.stat(`${dir}/would-be-created`), Deno.errors.NotFound);
  });
});

Deno.test("a cache file created here is 0600 and an existing owner-only one is set back to 0600", async () => {
  await inTemp(async (dir) => {
    const path = `${dir}/credentials.yaml`;
    const clock = fakeClock("2026-01-01T00:00:00Z");
    await (await openCredentialCache(path, KEY, { ...clock, warn: () => {} })).retrieve(FRESH);
    assert.equal((await Deno.stat(path)).mode! & 0o7777, 0o600);
    // Owner-only but not 0600 (not refused on read): written, and left 0600.
    await Deno.chmod(path, 0o400);
    const cache = await openCredentialCache(path, { ...KEY, clusterId: "c2" }, {
      ...clock,
      warn: () => {},
    });
    await cache.retrieve(FRESH);
    assert.equal((await Deno.stat(path)).mode! & 0o7777, 0o600);
    assert.match(await Deno.readTextFile(path), /c2:/);
  });
});
