import assert from "node:assert/strict";
import {
  readTokenCache,
  tokenCacheEnabled,
  tokenCacheFile,
  type TokenCacheKey,
  tokenCacheKeyText,
  writeTokenCache,
} from "../../src/sign/mod.ts";

const KEY: TokenCacheKey = {
  clusterId: "c",
  region: "us-west-2",
  profile: "default",
  roleArn: "",
  externalId: "",
  sessionName: "",
  forwardSessionName: false,
  endpoint: "https://sts.us-west-2.amazonaws.com",
  envAccessKeyId: "AKIA1",
};

async function inTemp(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "token_cache_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("every key field selects a different file and key text (security case 50)", () => {
  const base = tokenCacheFile("/d", KEY);
  assert.match(base, /^\/d\/token-[0-9a-f]{16}\.json$/);
  const variants: Partial<TokenCacheKey>[] = [
    { clusterId: "c2" },
    { region: "eu-west-1" },
    { profile: "dev" },
    { roleArn: "arn:aws:iam::1:role/r" },
    { externalId: "x" },
    { sessionName: "s" },
    { forwardSessionName: true },
    { endpoint: "http://127.0.0.1:1" },
    { envAccessKeyId: "AKIA2" },
  ];
  const seen = new Set([base]);
  const texts = new Set([tokenCacheKeyText(KEY)]);
  for (const v of variants) {
    const f = tokenCacheFile("/d", { ...KEY, ...v });
    assert.ok(!seen.has(f), JSON.stringify(v));
    seen.add(f);
    const t = tokenCacheKeyText({ ...KEY, ...v });
    assert.ok(!texts.has(t), JSON.stringify(v));
    texts.add(t);
  }
  // Field boundaries cannot be shifted to collide.
  assert.notEqual(
    tokenCacheKeyText({ ...KEY, clusterId: "a", region: "bc" }),
    tokenCacheKeyText({ ...KEY, clusterId: "ab", region: "c" }),
  );
});

Deno.test("write then read: 0600 file in a 0700 dir, reused until one minute before expiry", async () => {
  await inTemp(async (dir) => {
    const path = tokenCacheFile(`${dir}/cache`, KEY);
    const exp = new Date("2026-01-01T00:14:00Z");
    await writeTokenCache(path, KEY, { token: "k8s-aws-v1.abc", expiration: exp });
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(`${dir}/cache`)).mode! & 0o777, 0o700);
    const hit = readTokenCache(path, KEY, new Date("2026-01-01T00:12:59Z"));
    assert.equal(hit.status, "hit");
    if (hit.status === "hit") {
      assert.equal(hit.token.token, "k8s-aws-v1.abc");
      assert.equal(hit.token.expiration.getTime(), exp.getTime());
    }
    assert.equal(readTokenCache(path, KEY, new Date("2026-01-01T00:13:00Z")).status, "expired");
    assert.equal(readTokenCache(`${path}.nope`, KEY, new Date(0)).status, "miss");
    // A file under this name that was written for another key is not used.
    assert.equal(
      readTokenCache(path, { ...KEY, roleArn: "arn:aws:iam::1:role/x" }, new Date(0)).status,
      "miss",
    );
    // No temporary files are left behind.
    assert.deepEqual([...Deno.readDirSync(`${dir}/cache`)].length, 1);
  });
});

Deno.test("malformed or foreign cache files are not used", async () => {
  await inTemp(async (dir) => {
    const path = `${dir}/token-x.json`;
    const now = new Date("2026-01-01T00:00:00Z");
    for (
      const body of [
        "{",
        '{"token":"Bearer x","expirationTimestamp":"2026-01-01T00:14:00Z"}',
        '{"token":"k8s-aws-v1.a"}',
        '{"token":"k8s-aws-v1.a","expirationTimestamp":"soon"}',
      ]
    ) {
      await Deno.writeTextFile(path, body, { mode: 0o600 });
      assert.equal(readTokenCache(path, KEY, now).status, "invalid", body);
    }
    await Deno.writeTextFile(
      path,
      '{"token":"k8s-aws-v1.a","expirationTimestamp":"2026-01-01T00:14:00Z"}',
    );
    await Deno.chmod(path, 0o644);
    const r = readTokenCache(path, KEY, now);
    assert.equal(r.status, "not-private");
  });
});

Deno.test("enabled by the flag or AWS_IAM_AUTHENTICATOR_TOKEN_CACHE", () => {
  const env = (v?: string) => (n: string) =>
    n === "AWS_IAM_AUTHENTICATOR_TOKEN_CACHE" ? v : undefined;
  assert.equal(tokenCacheEnabled(true, env()), true);
  assert.equal(tokenCacheEnabled(false, env("1")), true);
  assert.equal(tokenCacheEnabled(false, env("true")), true);
  assert.equal(tokenCacheEnabled(false, env("0")), false);
  assert.equal(tokenCacheEnabled(false, env()), false);
});

Deno.test("a link planted at the token file is replaced, not written through; new dirs are 0700", async () => {
  await inTemp(async (dir) => {
    const path = tokenCacheFile(`${dir}/a/b`, KEY);
    await Deno.mkdir(`${dir}/a/b`, { recursive: true });
    await Deno.chmod(`${dir}/a/b`, 0o755);
    await Deno.writeTextFile(`${dir}/victim`, "keep");
    await Deno.symlink(`${dir}/victim`, path);
    const exp = new Date("2026-01-01T00:14:00Z");
    await writeTokenCache(path, KEY, { token: "k8s-aws-v1.abc", expiration: exp });
    assert.equal(await Deno.readTextFile(`${dir}/victim`), "keep");
    const info = await Deno.lstat(path);
    assert.ok(info.isFile && !info.isSymlink);
    assert.equal(info.mode! & 0o7777, 0o600);
    // An existing directory keeps the mode its owner gave it; new ones (parents too) are 0700.
    assert.equal((await Deno.stat(`${dir}/a/b`)).mode! & 0o7777, 0o755);
    await writeTokenCache(tokenCacheFile(`${dir}/x/y`, KEY), KEY, {
      token: "k8s-aws-v1.abc",
      expiration: exp,
    });
    assert.equal((await Deno.stat(`${dir}/x`)).mode! & 0o7777, 0o700);
    assert.equal((await Deno.stat(`${dir}/x/y`)).mode! & 0o7777, 0o700);
  });
});
