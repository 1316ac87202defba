/**
 * The `token` command as kubectl runs it: a separate process with a controlled environment.
 * Credentials, roles and tokens are checked against the SigV4-verifying STS peer.
 */
import assert from "node:assert/strict";
import { freePort } from "../peers/ports.ts";
import { startStsPeer, type StsPeer } from "../peers/sts_peer.ts";
import { denoArgv } from "./_main.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const DENO_DIR = Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function withHome<T>(fn: (home: string) => Promise<T>): Promise<T> {
  const home = await Deno.makeTempDir({ prefix: "token_test_" });
  try {
    return await fn(home);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

/**
 * Runs `main.ts token ARGS` with only the given environment (plus PATH/DENO_DIR/HOME), under
 * `umask` when given.
 */
async function runToken(
  args: string[],
  env: Record<string, string>,
  home: string,
  stdin = "",
  umask?: number,
): Promise<Run> {
  const [exe, argv] = denoArgv([
    "run",
    "-A",
    "--quiet",
    MAIN,
    ...(args[0] === "--before" ? args.slice(1) : ["token", ...args]),
  ], umask);
  const cmd = new Deno.Command(exe, {
    args: argv,
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      DENO_DIR,
      HOME: home,
      AWS_CONFIG_FILE: `${home}/aws-config`,
      AWS_SHARED_CREDENTIALS_FILE: `${home}/aws-credentials`,
      AWS_EC2_METADATA_DISABLED: "true",
      NO_COLOR: "1",
      ...env,
    },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  });
  const child = cmd.spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(stdin));
  await w.close();
  const out = await child.output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

const STATIC = {
  AWS_ACCESS_KEY_ID: "AKIAEXAMPLESTATIC01",
  AWS_SECRET_ACCESS_KEY: "static-secret",
  AWS_REGION: "us-west-2",
};

function decodeToken(token: string): URL {
  assert.ok(token.startsWith("k8s-aws-v1."), token);
  const b64 = token.slice("k8s-aws-v1.".length);
  assert.ok(!b64.includes("="), "no padding");
  const bin = atob(b64.replace(/-/g, "+").replace(/_/g, "/"));
  return new URL(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))));
}

function credentialOf(u: URL): string[] {
  return (u.searchParams.get("X-Amz-Credential") ?? "").split("/");
}

/** One error line on stderr, nothing on stdout, exit 1. */
function assertFails(r: Run, pattern: RegExp) {
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stdout, "");
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, pattern);
}

async function verifyAtPeer(token: string, clusterId: string) {
  const res = await fetch(decodeToken(token), {
    headers: { "x-k8s-aws-id": clusterId, accept: "application/json" },
  });
  const body = await res.text();
  return { status: res.status, body };
}

Deno.test("static env credentials: compact v1beta1 ExecCredential, expiry now+14m", async () => {
  await withHome(async (home) => {
    const before = Date.now();
    const r = await runToken(["-i", "my-cluster"], STATIC, home);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    assert.ok(r.stdout.endsWith("}\n") && !r.stdout.slice(0, -1).includes("\n"));
    const ec = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(ec), ["kind", "apiVersion", "spec", "status"]);
    assert.equal(ec.kind, "ExecCredential");
    assert.equal(ec.apiVersion, "client.authentication.k8s.io/v1beta1");
    assert.deepEqual(ec.spec, { interactive: false });
    assert.match(ec.status.expirationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const exp = Date.parse(ec.status.expirationTimestamp);
    assert.ok(exp >= Math.floor(before / 1000) * 1000 + 14 * 60_000 - 1000);
    assert.ok(exp <= Date.now() + 14 * 60_000);
    const u = decodeToken(ec.status.token);
    assert.equal(u.host, "sts.us-west-2.amazonaws.com");
    assert.deepEqual(credentialOf(u).slice(0, 1).concat(credentialOf(u).slice(2)), [
      "AKIAEXAMPLESTATIC01",
      "us-west-2",
      "sts",
      "aws4_request",
    ]);
  });
});

Deno.test("KUBERNETES_EXEC_INFO: v1 and v1beta1 echoed; malformed or without apiVersion → v1beta1", async () => {
  await withHome(async (home) => {
    const cases: [string, string][] = [
      [
        '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}',
        "client.authentication.k8s.io/v1",
      ],
      [
        '{"apiVersion":"client.authentication.k8s.io/v1beta1"}',
        "client.authentication.k8s.io/v1beta1",
      ],
      ["{not json", "client.authentication.k8s.io/v1beta1"],
      ['{"kind":"ExecCredential","spec":{}}', "client.authentication.k8s.io/v1beta1"],
    ];
    for (const [info, want] of cases) {
      const r = await runToken(["-i", "c"], { ...STATIC, KUBERNETES_EXEC_INFO: info }, home);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).apiVersion, want, info);
    }
  });
});

Deno.test("--token-only prints the bare token; --region and aws-global pick the host", async () => {
  await withHome(async (home) => {
    const r = await runToken(["--token-only", "-i", "c", "--region", "eu-west-1"], STATIC, home);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^k8s-aws-v1\.[A-Za-z0-9_-]+\n$/);
    assert.equal(decodeToken(r.stdout.trim()).host, "sts.eu-west-1.amazonaws.com");
    const g = await runToken(["--token-only", "-i", "c", "--region=aws-global"], STATIC, home);
    const gu = decodeToken(g.stdout.trim());
    assert.equal(gu.host, "sts.amazonaws.com");
    assert.equal(credentialOf(gu)[2], "us-east-1");
    const fips = await runToken(["--token-only", "-i", "c"], {
      ...STATIC,
      AWS_USE_FIPS_ENDPOINT: "true",
    }, home);
    assert.equal(decodeToken(fips.stdout.trim()).host, "sts-fips.us-west-2.amazonaws.com");
    const ds = await runToken(["--token-only", "-i", "c"], {
      ...STATIC,
      AWS_USE_DUALSTACK_ENDPOINT: "true",
      AWS_REGION: "cn-north-1",
    }, home);
    assert.equal(
      decodeToken(ds.stdout.trim()).host,
      "sts.cn-north-1.api.amazonwebservices.com.cn",
    );
    const noRegion = await runToken(["--token-only", "-i", "c"], {
      AWS_ACCESS_KEY_ID: "AKIAEXAMPLESTATIC01",
      AWS_SECRET_ACCESS_KEY: "s",
    }, home);
    assert.equal(noRegion.code, 0, noRegion.stderr);
    // No region anywhere and IMDS disabled: us-east-1, with the Go tool's info line.
    assert.equal(decodeToken(noRegion.stdout.trim()).host, "sts.us-east-1.amazonaws.com");
    assert.match(noRegion.stderr, /failed to get region from IMDS for token generation/);
    // Global flags may come before the sub-command, as with cobra's persistent flags.
    const before = await runToken(
      ["--before", "-i", "c", "-v", "warning", "token", "--token-only"],
      STATIC,
      home,
    );
    assert.equal(before.code, 0, before.stderr);
    assert.match(before.stdout, /^k8s-aws-v1\./);
  });
});

Deno.test("bad input: one stderr line, exit 1, nothing on stdout", async () => {
  await withHome(async (home) => {
    assertFails(await runToken([], STATIC, home), /^Error: cluster ID not specified/);
    assertFails(
      await runToken(["-i", "c", "-s", "x", "--forward-session-name"], STATIC, home),
      /^Error: cannot specify both --forward-session-name and --session-name parameter/,
    );
    assertFails(
      await runToken(["-i", "c", "--bogus"], STATIC, home),
      /^Error: unknown flag: --bogus/,
    );
    assertFails(
      await runToken(["-i", "c", "-x"], STATIC, home),
      /^Error: unknown shorthand flag: 'x' in -x/,
    );
    assertFails(await runToken(["-i"], STATIC, home), /^Error: flag needs an argument: 'i' in -i/);
    assertFails(
      await runToken(["-i", "c", "--cache=maybe"], STATIC, home),
      /^Error: invalid argument "maybe" for "--cache" flag: strconv.ParseBool/,
    );
    assertFails(
      await runToken(["-i", "c", "-c", `${home}/missing.yaml`], STATIC, home),
      new RegExp(`^Can't read configuration file "${home}/missing.yaml": open .*no such file`),
    );
    await Deno.writeTextFile(`${home}/bad.yaml`, "clusterID: [unclosed\n");
    assertFails(
      await runToken(["-c", `${home}/bad.yaml`], STATIC, home),
      /^Can't read configuration file ".*bad.yaml": While parsing config: /,
    );
    assertFails(
      await runToken(["-i", "c", "-v", "loud"], STATIC, home),
      /^Invalid log level "loud". Valid values are: panic, fatal, error, warning, info, debug, trace$/,
    );
    assertFails(
      await runToken(["-i", "c", "--feature-gates", "Nope=true"], STATIC, home),
      /unrecognized feature gate: Nope/,
    );
    assertFails(
      await runToken(["-i", "c"], { AWS_PROFILE: "nosuch", AWS_REGION: "us-west-2" }, home),
      /^could not get token: failed to get shared config profile, nosuch/,
    );
  });
});

Deno.test("config file keys and viper precedence: flag > env > file", async () => {
  const peer = await startStsPeer({
    principals: [{
      accessKeyId: STATIC.AWS_ACCESS_KEY_ID,
      secretAccessKey: STATIC.AWS_SECRET_ACCESS_KEY,
      arn: "arn:aws:iam::111122223333:user/static",
      userId: "AIDASTATIC",
      account: "111122223333",
    }],
  });
  try {
    await withHome(async (home) => {
      const cfg = `${home}/cfg.yaml`;
      await Deno.writeTextFile(cfg, "clusterid: from-file\nRegion: eu-north-1\ntokenOnly: true\n");
      const env = { ...STATIC, AWS_ENDPOINT_URL_STS: peer.url };
      delete (env as Record<string, string>).AWS_REGION;
      const fromFile = await runToken(["-c", cfg], env, home);
      assert.equal(fromFile.code, 0, fromFile.stderr);
      const tok = fromFile.stdout.trim();
      assert.equal(credentialOf(decodeToken(tok))[2], "eu-north-1");
      assert.equal((await verifyAtPeer(tok, "from-file")).status, 200);
      assert.equal((await verifyAtPeer(tok, "other")).status, 403);
      const fromEnv = await runToken(["-c", cfg], {
        ...env,
        KUBERNETES_AWS_AUTHENTICATOR_CLUSTER_ID: "from-env",
      }, home);
      assert.equal((await verifyAtPeer(fromEnv.stdout.trim(), "from-env")).status, 200);
      const fromFlag = await runToken(["token-ignored-positional", "-c", cfg, "-i", "from-flag"], {
        ...env,
        KUBERNETES_AWS_AUTHENTICATOR_CLUSTER_ID: "from-env",
      }, home);
      assert.equal((await verifyAtPeer(fromFlag.stdout.trim(), "from-flag")).status, 200);
      // An explicit --token-only=false beats the file's tokenOnly: true.
      const json = await runToken(["-c", cfg, "--token-only=false"], env, home);
      assert.equal(JSON.parse(json.stdout).kind, "ExecCredential");
      const jcfg = `${home}/cfg.json`;
      await Deno.writeTextFile(jcfg, '{"clusterID":"json-id","region":"ap-south-1"}');
      const j = await runToken(["-c", jcfg, "--token-only"], env, home);
      assert.equal(credentialOf(decodeToken(j.stdout.trim()))[2], "ap-south-1");
      assert.equal((await verifyAtPeer(j.stdout.trim(), "json-id")).status, 200);
    });
  } finally {
    await peer.close();
  }
});

Deno.test("profiles from AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE", async () => {
  await withHome(async (home) => {
    await Deno.writeTextFile(
      `${home}/aws-config`,
      "[default]\nregion = us-east-2\n\n[profile dev]\nregion = eu-central-1 ; comment\n",
    );
    await Deno.writeTextFile(
      `${home}/aws-credentials`,
      "[default]\naws_access_key_id = AKIADEFAULT0000000\naws_secret_access_key = d\n" +
        "[dev]\naws_access_key_id=AKIADEV00000000000\naws_secret_access_key=x\naws_session_token=tok/en+\n",
    );
    const def = await runToken(["-i", "c", "--token-only"], {}, home);
    assert.equal(def.code, 0, def.stderr);
    const du = decodeToken(def.stdout.trim());
    assert.equal(credentialOf(du)[0], "AKIADEFAULT0000000");
    assert.equal(du.host, "sts.us-east-2.amazonaws.com");
    const dev = await runToken(["-i", "c", "--token-only"], { AWS_PROFILE: "dev" }, home);
    const devu = decodeToken(dev.stdout.trim());
    assert.equal(credentialOf(devu)[0], "AKIADEV00000000000");
    assert.equal(credentialOf(devu)[2], "eu-central-1");
    assert.equal(devu.searchParams.get("X-Amz-Security-Token"), "tok/en+");
    // Environment keys win over the profile.
    const env = await runToken(
      ["-i", "c", "--token-only"],
      { ...STATIC, AWS_PROFILE: "dev" },
      home,
    );
    assert.equal(credentialOf(decodeToken(env.stdout.trim()))[0], STATIC.AWS_ACCESS_KEY_ID);
  });
});

async function writeProcessScript(home: string, akid: string, expiresInMs: number) {
  const script = `${home}/cred-process.sh`;
  const exp = new Date(Date.now() + expiresInMs).toISOString();
  await Deno.writeTextFile(
    script,
    `#!/bin/sh\necho called >> ${home}/process-calls\n` +
      `echo '{"Version":1,"AccessKeyId":"${akid}","SecretAccessKey":"ps","SessionToken":"pst","Expiration":"${exp}"}'\n`,
  );
  await Deno.chmod(script, 0o755);
  await Deno.writeTextFile(
    `${home}/aws-config`,
    `[profile proc]\nregion = us-west-2\ncredential_process = ${script}\n`,
  );
}

async function processCalls(home: string): Promise<number> {
  try {
    return (await Deno.readTextFile(`${home}/process-calls`)).trim().split("\n").length;
  } catch {
    return 0;
  }
}

Deno.test("credential_process, and --cache in the Go tool's file format", async () => {
  await withHome(async (home) => {
    await writeProcessScript(home, "ASIAPROCESS0000001", 3600_000);
    const env = { AWS_PROFILE: "proc" };
    const r = await runToken(["-i", "c1", "--token-only", "--cache"], env, home);
    assert.equal(r.code, 0, r.stderr);
    const u = decodeToken(r.stdout.trim());
    assert.equal(credentialOf(u)[0], "ASIAPROCESS0000001");
    assert.equal(u.searchParams.get("X-Amz-Security-Token"), "pst");
    assert.match(r.stderr, /Cache file .*credentials.yaml does not exist/);
    assert.equal(await processCalls(home), 1);
    const path = `${home}/.kube/cache/aws-iam-authenticator/credentials.yaml`;
    const st = await Deno.stat(path);
    assert.equal(st.mode! & 0o777, 0o600);
    assert.equal(
      (await Deno.stat(`${home}/.kube/cache/aws-iam-authenticator`)).mode! & 0o777,
      0o700,
    );
    const text = await Deno.readTextFile(path);
    assert.match(
      text,
      /^clusters:\n {2}c1:\n {4}proc:\n {6}"": *\n {8}accesskeyid: ASIAPROCESS0000001\n {8}secretaccesskey: ps\n {8}sessiontoken: pst\n {8}source: ProcessProvider\n {8}canexpire: true\n {8}expires: \S+\n {8}accountid: ""\n$/,
    );
    // Second run: served from the cache, the process is not run again.
    const again = await runToken(["-i", "c1", "--token-only", "--cache"], env, home);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(credentialOf(decodeToken(again.stdout.trim()))[0], "ASIAPROCESS0000001");
    assert.equal(await processCalls(home), 1);
    // An expired entry is replaced.
    await Deno.writeTextFile(path, text.replace(/expires: \S+/, "expires: 2001-01-01T00:00:00Z"));
    await writeProcessScript(home, "ASIAPROCESS0000002", 3600_000);
    const third = await runToken(["-i", "c1", "--token-only", "--cache"], env, home);
    assert.equal(credentialOf(decodeToken(third.stdout.trim()))[0], "ASIAPROCESS0000002");
    assert.equal(await processCalls(home), 2);
    // A cache others can read is refused with a clear line.
    await Deno.chmod(path, 0o644);
    assertFails(
      await runToken(["-i", "c1", "--cache"], env, home),
      /^could not get token: unable to use cache: cache file .* is not private \(run: chmod 600 /,
    );
  });
});

Deno.test("container credentials (ECS) through the SDK chain", async () => {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    if (req.headers.get("authorization") !== "ecs-auth") return new Response("", { status: 401 });
    return Response.json({
      AccessKeyId: "ASIAECSCONTAINER001",
      SecretAccessKey: "ecs-secret",
      Token: "ecs-token",
      Expiration: new Date(Date.now() + 3600_000).toISOString(),
    });
  });
  try {
    await withHome(async (home) => {
      const r = await runToken(["-i", "c", "--token-only"], {
        AWS_REGION: "us-west-2",
        AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:${server.addr.port}/creds`,
        AWS_CONTAINER_AUTHORIZATION_TOKEN: "ecs-auth",
      }, home);
      assert.equal(r.code, 0, r.stderr);
      const u = decodeToken(r.stdout.trim());
      assert.equal(credentialOf(u)[0], "ASIAECSCONTAINER001");
      assert.equal(u.searchParams.get("X-Amz-Security-Token"), "ecs-token");
    });
  } finally {
    await server.shutdown();
  }
});

Deno.test("web identity (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN) against moto's STS", async () => {
  const port = freePort();
  const moto = new Deno.Command("moto_server", {
    args: ["-H", "127.0.0.1", "-p", String(port)],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 100; i++) {
      const ok = await fetch(`${url}/moto-api/`).then((r) => {
        r.body?.cancel();
        return true;
      }, () => false);
      if (ok) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await withHome(async (home) => {
      await Deno.writeTextFile(`${home}/web-identity-token`, "eyJhbGciOiJSUzI1NiJ9.e30.sig");
      const r = await runToken(["-i", "c", "--token-only"], {
        AWS_REGION: "us-west-2",
        AWS_WEB_IDENTITY_TOKEN_FILE: `${home}/web-identity-token`,
        AWS_ROLE_ARN: "arn:aws:iam::123456789012:role/IRSA",
        AWS_ROLE_SESSION_NAME: "pod-session",
        AWS_ENDPOINT_URL_STS: url,
      }, home);
      assert.equal(r.code, 0, r.stderr);
      const u = decodeToken(r.stdout.trim());
      // moto hands out temporary keys; the token is signed with them and points at the override.
      assert.match(credentialOf(u)[0]!, /^ASIA/);
      assert.ok(u.searchParams.get("X-Amz-Security-Token"));
      assert.equal(`${u.protocol}//${u.host}`, url);
    });
  } finally {
    moto.kill("SIGTERM");
    await moto.status;
  }
});

Deno.test("under umask 0000 --cache and --token-cache write 0600 files in new 0700 directories", async () => {
  await withHome(async (home) => {
    await writeProcessScript(home, "ASIAPROCESSUMASK01", 3600_000);
    const r = await runToken(
      ["-i", "c1", "--token-only", "--cache", "--token-cache"],
      { AWS_PROFILE: "proc" },
      home,
      "",
      0o000,
    );
    assert.equal(r.code, 0, r.stderr);
    const dir = `${home}/.kube/cache/aws-iam-authenticator`;
    const mode = async (p: string) => (await Deno.stat(p)).mode! & 0o7777;
    const files = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.equal(files.length, 2, files.join());
    assert.equal(files[0], "credentials.yaml");
    assert.match(files[1]!, /^token-[0-9a-f]{16}\.json$/);
    for (const f of files) assert.equal(await mode(`${dir}/${f}`), 0o600, f);
    for (const d of [`${home}/.kube`, `${home}/.kube/cache`, dir]) {
      assert.equal(await mode(d), 0o700, d);
    }
  });
});

Deno.test("--cache: a symbolic link at the cache path is not followed", async () => {
  await withHome(async (home) => {
    await writeProcessScript(home, "ASIAPROCESSLINK001", 3600_000);
    const dir = `${home}/.kube/cache/aws-iam-authenticator`;
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    await Deno.writeTextFile(`${home}/victim`, "clusters: {}\n", { mode: 0o600 });
    await Deno.symlink(`${home}/victim`, `${dir}/credentials.yaml`);
    const r = await runToken(
      ["-i", "c1", "--token-only", "--cache"],
      { AWS_PROFILE: "proc" },
      home,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(credentialOf(decodeToken(r.stdout.trim()))[0], "ASIAPROCESSLINK001");
    assert.match(
      r.stderr,
      /unable to use cache: cache file .*credentials\.yaml is a symbolic link, which is neither read nor written/,
    );
    assert.equal(await Deno.readTextFile(`${home}/victim`), "clusters: {}\n");
    assert.ok((await Deno.lstat(`${dir}/credentials.yaml`)).isSymlink);
  });
});

Deno.test("--cache does not write static credentials", async () => {
  await withHome(async (home) => {
    const r = await runToken(["-i", "c", "--cache"], STATIC, home);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Unable to cache credential: credential doesn't support expiration/);
    await assert.rejects(Deno.stat(`${home}/.kube/cache/aws-iam-authenticator/credentials.yaml`));
  });
});

Deno.test("--token-cache and AWS_IAM_AUTHENTICATOR_TOKEN_CACHE reuse a token in a 0600 file", async () => {
  await withHome(async (home) => {
    const a = await runToken(["-i", "c", "--token-only", "--token-cache"], STATIC, home);
    assert.equal(a.code, 0, a.stderr);
    const dir = `${home}/.kube/cache/aws-iam-authenticator`;
    const files = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.equal(files.length, 1);
    assert.match(files[0]!, /^token-[0-9a-f]{16}\.json$/);
    assert.equal((await Deno.stat(`${dir}/${files[0]}`)).mode! & 0o777, 0o600);
    await new Promise((r) => setTimeout(r, 1100));
    const b = await runToken(["-i", "c", "--token-only"], {
      ...STATIC,
      AWS_IAM_AUTHENTICATOR_TOKEN_CACHE: "1",
    }, home);
    assert.equal(b.stdout, a.stdout, "same token reused");
    const other = await runToken(["-i", "other", "--token-only", "--token-cache"], STATIC, home);
    assert.notEqual(other.stdout, a.stdout);
    const otherKey = await runToken(["-i", "c", "--token-only", "--token-cache"], {
      ...STATIC,
      AWS_ACCESS_KEY_ID: "AKIAOTHERKEY0000000",
    }, home);
    assert.equal(credentialOf(decodeToken(otherKey.stdout.trim()))[0], "AKIAOTHERKEY0000000");
    // Without the cache a fresh token is signed (a second later, so it differs).
    const fresh = await runToken(["-i", "c", "--token-only"], STATIC, home);
    assert.notEqual(fresh.stdout, a.stdout);
    // A token within a minute of expiry is not reused.
    const path = `${dir}/${files[0]}`;
    const doc = JSON.parse(await Deno.readTextFile(path));
    doc.expirationTimestamp = new Date(Date.now() + 59_000).toISOString();
    await Deno.writeTextFile(path, JSON.stringify(doc));
    const renewed = await runToken(["-i", "c", "--token-only", "--token-cache"], STATIC, home);
    assert.notEqual(renewed.stdout, a.stdout);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    await Deno.chmod(path, 0o640);
    assertFails(
      await runToken(["-i", "c", "--token-cache"], STATIC, home),
      /^could not get token: unable to use token cache: token cache file .* is not private/,
    );
  });
});

Deno.test("--token-cache: a new access key in the shared credentials file gets a new token", async () => {
  await withHome(async (home) => {
    const creds = `${home}/credentials`;
    const env = { AWS_REGION: "us-west-2", AWS_SHARED_CREDENTIALS_FILE: creds };
    const write = (id: string) =>
      Deno.writeTextFile(
        creds,
        `[default]\naws_access_key_id = ${id}\naws_secret_access_key = s\n`,
      );
    await write("AKIAFILEKEY00000001");
    const a = await runToken(["-i", "c", "--token-only", "--token-cache"], env, home);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(credentialOf(decodeToken(a.stdout.trim()))[0], "AKIAFILEKEY00000001");
    await write("AKIAFILEKEY00000002");
    const b = await runToken(["-i", "c", "--token-only", "--token-cache"], env, home);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(credentialOf(decodeToken(b.stdout.trim()))[0], "AKIAFILEKEY00000002");
  });
});

function rolePeer(): Promise<StsPeer> {
  return startStsPeer({
    principals: [
      {
        accessKeyId: "AKIABASEUSER0000001",
        secretAccessKey: "base-secret",
        arn: "arn:aws:iam::123456789012:user/base",
        userId: "AIDABASEUSER",
        account: "123456789012",
      },
      {
        accessKeyId: "ASIAFEDERATED000001",
        secretAccessKey: "fed-secret",
        sessionToken: "fed-token",
        arn: "arn:aws:sts::123456789012:assumed-role/SSOAdmin/alice@corp.example",
        userId: "AROAFEDERATED:alice@corp.example",
        account: "123456789012",
      },
    ],
    roles: [
      { arn: "arn:aws:iam::123456789012:role/Deployer", roleId: "AROADEPLOYER" },
      {
        arn: "arn:aws:iam::123456789012:role/Partner",
        roleId: "AROAPARTNER",
        externalId: "ext-123",
      },
    ],
  });
}

Deno.test("assume role: -r, -s, -e, DEFAULT_ROLE, --forward-session-name, denial", async () => {
  const peer = await rolePeer();
  try {
    await withHome(async (home) => {
      const base = {
        AWS_ACCESS_KEY_ID: "AKIABASEUSER0000001",
        AWS_SECRET_ACCESS_KEY: "base-secret",
        AWS_REGION: "us-west-2",
        AWS_ENDPOINT_URL_STS: peer.url,
      };
      const deployer = "arn:aws:iam::123456789012:role/Deployer";
      const r = await runToken(
        ["-i", "c", "--token-only", "-r", deployer, "-s", "ci-run"],
        base,
        home,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(credentialOf(decodeToken(r.stdout.trim()))[0]!, /^ASIA/);
      const who = await verifyAtPeer(r.stdout.trim(), "c");
      assert.equal(who.status, 200, who.body);
      assert.match(who.body, /assumed-role\/Deployer\/ci-run/);

      const viaEnv = await runToken(["-i", "c", "--token-only"], {
        ...base,
        DEFAULT_ROLE: deployer,
      }, home);
      const whoEnv = await verifyAtPeer(viaEnv.stdout.trim(), "c");
      assert.match(whoEnv.body, /assumed-role\/Deployer\/aws-go-sdk-\d+/);

      const partner = "arn:aws:iam::123456789012:role/Partner";
      assertFails(
        await runToken(["-i", "c", "-r", partner], base, home),
        /^could not get token: operation error STS: AssumeRole, https response error StatusCode: 403.*AccessDenied/,
      );
      const ok = await runToken(
        ["-i", "c", "--token-only", "-r", partner, "-e", "ext-123"],
        base,
        home,
      );
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(
        (await verifyAtPeer(ok.stdout.trim(), "c")).body,
        /assumed-role\/Partner\//,
      );

      const fed = {
        ...base,
        AWS_ACCESS_KEY_ID: "ASIAFEDERATED000001",
        AWS_SECRET_ACCESS_KEY: "fed-secret",
        AWS_SESSION_TOKEN: "fed-token",
      };
      const fwd = await runToken(
        ["-i", "c", "--token-only", "-r", deployer, "--forward-session-name"],
        fed,
        home,
      );
      assert.equal(fwd.code, 0, fwd.stderr);
      assert.match(
        (await verifyAtPeer(fwd.stdout.trim(), "c")).body,
        /assumed-role\/Deployer\/alice@corp.example/,
      );
      assertFails(
        await runToken(["-i", "c", "-r", "arn:aws:iam::123456789012:role/Missing"], base, home),
        /^could not get token: operation error STS: AssumeRole/,
      );
    });
  } finally {
    await peer.close();
  }
});

Deno.test("MFA prompt of a role profile goes to stderr; stdout carries only the credential", async () => {
  const peer = await rolePeer();
  try {
    await withHome(async (home) => {
      await Deno.writeTextFile(
        `${home}/aws-config`,
        "[profile base]\nregion = us-west-2\n" +
          "[profile mfa]\nregion = us-west-2\nsource_profile = base\n" +
          "role_arn = arn:aws:iam::123456789012:role/Deployer\n" +
          "mfa_serial = arn:aws:iam::123456789012:mfa/base\n",
      );
      await Deno.writeTextFile(
        `${home}/aws-credentials`,
        "[base]\naws_access_key_id = AKIABASEUSER0000001\naws_secret_access_key = base-secret\n",
      );
      const r = await runToken(
        ["-i", "c"],
        { AWS_PROFILE: "mfa", AWS_ENDPOINT_URL_STS: peer.url },
        home,
        "123456\n",
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /Assume Role MFA token code: /);
      const ec = JSON.parse(r.stdout);
      const who = await verifyAtPeer(ec.status.token, "c");
      assert.match(who.body, /assumed-role\/Deployer\//);
    });
  } finally {
    await peer.close();
  }
});

Deno.test("an SSO profile without a login says how to log in", async () => {
  await withHome(async (home) => {
    await Deno.writeTextFile(
      `${home}/aws-config`,
      "[profile sso]\nregion = us-west-2\nsso_start_url = https://example.awsapps.com/start\n" +
        "sso_region = us-east-1\nsso_account_id = 123456789012\nsso_role_name = Admin\n",
    );
    const r = await runToken(["-i", "c"], { AWS_PROFILE: "sso" }, home);
    assertFails(r, /^could not get token: .*sso login/i);
  });
});

async function selfSignedCert(dir: string): Promise<{ cert: string; key: string }> {
  const out = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      `${dir}/key.pem`,
      "-out",
      `${dir}/cert.pem`,
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return {
    cert: await Deno.readTextFile(`${dir}/cert.pem`),
    key: await Deno.readTextFile(`${dir}/key.pem`),
  };
}

Deno.test("kubectl execs `main.ts token` and sends the token as its bearer credential", async () => {
  const peer = await startStsPeer({
    principals: [{
      accessKeyId: STATIC.AWS_ACCESS_KEY_ID,
      secretAccessKey: STATIC.AWS_SECRET_ACCESS_KEY,
      arn: "arn:aws:iam::111122223333:user/kubectl-user",
      userId: "AIDAKUBECTL",
      account: "111122223333",
    }],
  });
  await withHome(async (home) => {
    const { cert, key } = await selfSignedCert(home);
    const seen: string[] = [];
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, cert, key, onListen: () => {} },
      (req) => {
        const auth = req.headers.get("authorization") ?? "";
        if (!auth.startsWith("Bearer ")) {
          return Response.json({ kind: "Status", code: 401 }, { status: 401 });
        }
        seen.push(auth.slice("Bearer ".length));
        return Response.json({ major: "1", minor: "30", gitVersion: "v1.30.0" });
      },
    );
    try {
      for (const apiVersion of ["v1", "v1beta1"]) {
        const kubeconfig = `${home}/kubeconfig-${apiVersion}`;
        const envList = Object.entries({
          ...STATIC,
          AWS_ENDPOINT_URL_STS: peer.url,
          HOME: home,
          DENO_DIR,
          AWS_CONFIG_FILE: `${home}/none`,
          AWS_SHARED_CREDENTIALS_FILE: `${home}/none`,
        }).map(([name, value]) => ({ name, value }));
        await Deno.writeTextFile(
          kubeconfig,
          JSON.stringify({
            apiVersion: "v1",
            kind: "Config",
            clusters: [{
              name: "c",
              cluster: {
                server: `https://127.0.0.1:${server.addr.port}`,
                "certificate-authority": `${home}/cert.pem`,
              },
            }],
            contexts: [{ name: "c", context: { cluster: "c", user: "u" } }],
            "current-context": "c",
            users: [{
              name: "u",
              user: {
                exec: {
                  apiVersion: `client.authentication.k8s.io/${apiVersion}`,
                  command: Deno.execPath(),
                  args: ["run", "-A", "--quiet", MAIN, "token", "-i", "e2e-cluster"],
                  env: envList,
                  interactiveMode: "Never",
                },
              },
            }],
          }),
        );
        const out = await new Deno.Command("kubectl", {
          args: ["--kubeconfig", kubeconfig, "get", "--raw", "/version"],
          env: { HOME: home },
          stdout: "piped",
          stderr: "piped",
        }).output();
        const stderr = new TextDecoder().decode(out.stderr);
        assert.equal(out.code, 0, stderr);
        assert.match(new TextDecoder().decode(out.stdout), /v1\.30\.0/);
      }
      assert.ok(seen.length >= 2, `kubectl made ${seen.length} authenticated requests`);
      for (const tok of seen) {
        const who = await verifyAtPeer(tok, "e2e-cluster");
        assert.equal(who.status, 200, who.body);
        assert.match(who.body, /user\/kubectl-user/);
      }
    } finally {
      await server.shutdown();
    }
  });
  await peer.close();
});

Deno.test("static credentials load no AWS SDK and no YAML parser", async () => {
  await withHome(async (home) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "-L", "debug", MAIN, "token", "-i", "c"],
      clearEnv: true,
      env: {
        ...STATIC,
        PATH: Deno.env.get("PATH") ?? "",
        DENO_DIR,
        HOME: home,
        AWS_CONFIG_FILE: `${home}/none`,
        AWS_SHARED_CREDENTIALS_FILE: `${home}/none`,
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0);
    const log = new TextDecoder().decode(out.stderr);
    // Deno's debug log names every module it evaluates.
    const modules = [...log.matchAll(/(?:ES module|script): (\S+?),/g)].map((m) => m[1]!);
    assert.ok(modules.some((m) => m.endsWith("/src/sign/presign.ts")), "log lists our modules");
    assert.ok(modules.some((m) => m.includes("/aws4fetch/")), "aws4fetch is loaded to sign");
    const heavy = modules.filter((m) => /@aws-sdk|@smithy|\/yaml\/|@kubernetes/.test(m));
    assert.deepEqual(heavy, []);
  });
});
