/**
 * Release smoke test: the shipped artifact, on its own, does the job end to end.
 *
 * Artifact under test, in order of preference:
 * - `AIA_SMOKE_BINARY`: a release binary that already exists (the release workflow points it at
 *   the linux/amd64 binary it just built; `AIA_SMOKE_VERSION` / `AIA_SMOKE_COMMIT` then say
 *   what `version` must print);
 * - `DENORT_BIN` set: `deno task compile` builds the host binary with that runtime, and the
 *   binary runs;
 * - otherwise: `deno task bundle` builds the single-file bundle, which runs with `deno run`
 *   from a directory with no `deno.json`, no npm access, and exactly the permission set the
 *   compiled binary gets baked in.
 *
 * Flow: STS peer (checks SigV4 for real) ← `server` (config maps the peer's principal) ←
 * TokenReview over HTTPS trusting the certificate the server generated ← token from `token`.
 */
import assert from "node:assert/strict";
import { resolve } from "node:path";
import { startStsPeer } from "../peers/sts_peer.ts";
import { RUNTIME_PERMISSIONS } from "../../scripts/build_info.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const CLUSTER = "smoke-cluster";
const ACCOUNT = "111122223333";
const USER_ARN = `arn:aws:iam::${ACCOUNT}:user/smoke-alice`;
const USER_ID = "AIDASMOKEALICE0000001";
const ACCESS_KEY = "AKIASMOKEALICE000001";
const SECRET = "smoke/secret/key/for/the/release/test0000";
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/smoke-admin`;

/** How to run the artifact under test: a program and the arguments before the CLI's own. */
interface Artifact {
  cmd: string;
  prefix: string[];
  version: string;
  commit: string | undefined;
}

async function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string>; clearEnv?: boolean } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd: opts.cwd,
    env: opts.env,
    clearEnv: opts.clearEnv,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function buildArtifact(dir: string): Promise<Artifact> {
  const prebuilt = Deno.env.get("AIA_SMOKE_BINARY");
  if (prebuilt) {
    const version = Deno.env.get("AIA_SMOKE_VERSION");
    if (!version) {
      throw new Error("AIA_SMOKE_BINARY needs AIA_SMOKE_VERSION (what `version` must print).");
    }
    return {
      cmd: resolve(prebuilt),
      prefix: [],
      version,
      commit: Deno.env.get("AIA_SMOKE_COMMIT"),
    };
  }
  const version = "0.0.0-smoke.1";
  const commit = "5a0e5a0e5a0e5a0e5a0e5a0e5a0e5a0e5a0e5a0e";
  const stamp = ["--version", version, "--commit", commit];
  const denort = Deno.env.get("DENORT_BIN");
  if (denort) {
    const res = await run(Deno.execPath(), [
      "task",
      "--quiet",
      "compile",
      ...stamp,
      "--out-dir",
      `${dir}/dist`,
    ], {
      cwd: ROOT,
    });
    assert.equal(res.code, 0, res.stderr);
    const name = res.stdout.trim().split(/\s+/)[1]!;
    return { cmd: `${dir}/dist/${name}`, prefix: [], version, commit };
  }
  const output = `${dir}/dist/aws-iam-authenticator.js`;
  const res = await run(Deno.execPath(), [
    "task",
    "--quiet",
    "bundle",
    ...stamp,
    "--output",
    output,
  ], {
    cwd: ROOT,
  });
  assert.equal(res.code, 0, res.stderr);
  return {
    cmd: Deno.execPath(),
    // No config, lockfile, npm or remote modules: the file has to carry everything itself.
    prefix: [
      "run",
      ...RUNTIME_PERMISSIONS,
      "--no-config",
      "--no-lock",
      "--no-npm",
      "--no-remote",
      output,
    ],
    version,
    commit,
  };
}

/** A minimal environment: nothing from the developer's shell leaks into the artifact. */
function baseEnv(home: string): Record<string, string> {
  const env: Record<string, string> = {
    HOME: home,
    USERPROFILE: home,
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    NO_COLOR: "1",
    AWS_REGION: "us-east-1",
    AWS_EC2_METADATA_DISABLED: "true",
  };
  // The bundle runs under `deno run`: keep using the machine's Deno cache, not one in $HOME.
  const denoDir = Deno.env.get("DENO_DIR") ??
    (Deno.env.get("HOME") ? `${Deno.env.get("HOME")}/.cache/deno` : undefined);
  if (denoDir) env.DENO_DIR = denoDir;
  return env;
}

/** A running `server`: its stderr is drained continuously so the pipe never blocks it. */
class ServerProcess {
  #child: Deno.ChildProcess;
  #stderr = "";
  #stdout = "";
  #drained: Promise<void>;
  #onData: (() => void)[] = [];

  constructor(cmd: string, args: string[], env: Record<string, string>, cwd: string) {
    this.#child = new Deno.Command(cmd, {
      args,
      env,
      clearEnv: true,
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const drain = async (s: ReadableStream<Uint8Array>, into: "stderr" | "stdout") => {
      for await (const chunk of s.pipeThrough(new TextDecoderStream())) {
        if (into === "stderr") this.#stderr += chunk;
        else this.#stdout += chunk;
        for (const f of this.#onData.splice(0)) f();
      }
    };
    this.#drained = Promise.all([
      drain(this.#child.stderr, "stderr"),
      drain(this.#child.stdout, "stdout"),
    ]).then(() => {
      for (const f of this.#onData.splice(0)) f();
    });
  }

  get output(): string {
    return `--- stdout\n${this.#stdout}\n--- stderr\n${this.#stderr}`;
  }

  get stdout(): string {
    return this.#stdout;
  }

  /** Waits for the webhook's "listening on HOST:PORT" log line and returns the port. */
  async listeningPort(timeoutMs = 30_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    this.#child.status.then(() => (exited = true));
    while (true) {
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(this.#stderr);
      if (m) return Number(m[1]);
      if (exited || Date.now() > deadline) {
        throw new Error(`server did not start listening:\n${this.output}`);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((r) => this.#onData.push(r)),
        new Promise<void>((r) => (timer = setTimeout(r, 200))),
      ]);
      clearTimeout(timer);
    }
  }

  /** Sends SIGTERM and returns the exit code once the process and its pipes are done. */
  async stop(): Promise<number> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // Already exited; the status below says how.
    }
    const status = await this.#child.status;
    await this.#drained;
    return status.code;
  }
}

Deno.test("release smoke: token -> server -> STS peer through the shipped artifact", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "aia-smoke-" });
  const peer = await startStsPeer({
    principals: [{
      accessKeyId: ACCESS_KEY,
      secretAccessKey: SECRET,
      arn: USER_ARN,
      userId: USER_ID,
      account: ACCOUNT,
    }],
    roles: [{ arn: ROLE_ARN, roleId: "AROASMOKEADMIN000001" }],
  });
  let server: ServerProcess | undefined;
  try {
    const art = await buildArtifact(dir);
    const cli = (args: string[], env: Record<string, string>) =>
      run(art.cmd, [...art.prefix, ...args], { cwd: dir, env, clearEnv: true });
    const home = `${dir}/home`;
    await Deno.mkdir(`${home}/.aws`, { recursive: true });

    await t.step("version prints the stamped build information", async () => {
      const res = await cli(["version"], baseEnv(home));
      assert.equal(res.code, 0, res.stderr);
      if (art.commit !== undefined) {
        assert.equal(
          res.stdout,
          JSON.stringify({ Version: art.version, Commit: art.commit }) + "\n",
        );
      } else {
        assert.equal(JSON.parse(res.stdout).Version, art.version);
      }
    });

    await Deno.writeTextFile(
      `${dir}/config.yaml`,
      [
        `clusterID: ${CLUSTER}`,
        "server:",
        "  mapUsers:",
        `    - userARN: ${USER_ARN}`,
        "      username: alice",
        "      groups:",
        "        - system:masters",
        "        - smoke-devs",
        "  mapRoles:",
        `    - roleARN: ${ROLE_ARN}`,
        '      username: "admin:{{SessionName}}"',
        "      groups:",
        "        - system:masters",
        "",
      ].join("\n"),
    );
    const serverEnv = { ...baseEnv(home), AWS_ENDPOINT_URL_STS: peer.url };
    server = new ServerProcess(
      art.cmd,
      [
        ...art.prefix,
        "server",
        "--config",
        `${dir}/config.yaml`,
        "--state-dir",
        `${dir}/state`,
        "--generate-kubeconfig",
        `${dir}/webhook-kubeconfig.yaml`,
        "--address",
        "127.0.0.1",
        "--port",
        "0",
        "--health-port",
        "0",
      ],
      serverEnv,
      dir,
    );
    const port = await server.listeningPort();
    const certPem = await Deno.readTextFile(`${dir}/state/cert.pem`);

    await t.step(
      "the server prints its stamped version and writes the webhook kubeconfig",
      async () => {
        if (art.commit !== undefined) {
          assert.ok(
            server!.stdout.startsWith(`Authenticator Version: "${art.version}", "${art.commit}"\n`),
            server!.output,
          );
        }
        const kubeconfig = await Deno.readTextFile(`${dir}/webhook-kubeconfig.yaml`);
        // server.hostname defaults to localhost for `server` too
        // (docs/configuration.md#server-configuration-keys).
        assert.ok(
          kubeconfig.includes(`server: https://localhost:${port}/authenticate`),
          kubeconfig,
        );
        assert.ok(kubeconfig.includes(`certificate-authority-data: ${btoa(certPem)}`), kubeconfig);
      },
    );

    // curl (OpenSSL) rather than fetch: like kube-apiserver's Go client it accepts the
    // self-signed CA certificate the Go tool (and so this server) serves as the leaf, which
    // Deno's rustls refuses (CaUsedAsEndEntity).
    const review = async (token: string) => {
      const child = new Deno.Command("curl", {
        args: [
          "--silent",
          "--show-error",
          "--cacert",
          `${dir}/state/cert.pem`,
          "--header",
          "Content-Type: application/json",
          "--data-binary",
          "@-",
          "--write-out",
          "\n%{http_code}",
          `https://localhost:${port}/authenticate`,
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const w = child.stdin.getWriter();
      await w.write(
        new TextEncoder().encode(JSON.stringify({
          apiVersion: "authentication.k8s.io/v1",
          kind: "TokenReview",
          spec: { token },
        })),
      );
      await w.close();
      const out = await child.output();
      const text = new TextDecoder().decode(out.stdout);
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      const nl = text.lastIndexOf("\n");
      return { status: Number(text.slice(nl + 1)), body: JSON.parse(text.slice(0, nl)) };
    };
    const tokenEnv = {
      ...baseEnv(home),
      AWS_ACCESS_KEY_ID: ACCESS_KEY,
      AWS_SECRET_ACCESS_KEY: SECRET,
      AWS_ENDPOINT_URL_STS: peer.url,
    };

    await t.step("a token from `token` maps to the configured user", async () => {
      const res = await cli(["token", "-i", CLUSTER], tokenEnv);
      assert.equal(res.code, 0, res.stderr);
      const cred = JSON.parse(res.stdout);
      assert.equal(cred.kind, "ExecCredential");
      assert.match(cred.status.token, /^k8s-aws-v1\.[A-Za-z0-9_-]+$/);
      const before = peer.requestCount;
      const { status, body } = await review(cred.status.token);
      assert.equal(status, 200, JSON.stringify(body));
      assert.ok(peer.requestCount > before, "the server asked the STS peer");
      assert.equal(body.status.authenticated, true);
      assert.equal(body.status.user.username, "alice");
      assert.deepEqual(body.status.user.groups, ["system:masters", "smoke-devs"]);
      assert.equal(body.status.user.uid, `aws-iam-authenticator:${ACCOUNT}:${USER_ID}`);
      assert.deepEqual(body.status.user.extra.arn, [USER_ARN]);
    });

    await t.step("credentials from a profile in the shared credentials file work too", async () => {
      await Deno.writeTextFile(
        `${home}/.aws/credentials`,
        `[smoke]\naws_access_key_id = ${ACCESS_KEY}\naws_secret_access_key = ${SECRET}\n`,
      );
      const res = await cli(["token", "-i", CLUSTER, "--token-only"], {
        ...baseEnv(home),
        AWS_PROFILE: "smoke",
        AWS_ENDPOINT_URL_STS: peer.url,
      });
      assert.equal(res.code, 0, res.stderr);
      const { status, body } = await review(res.stdout.trim());
      assert.equal(status, 200, JSON.stringify(body));
      assert.equal(body.status.user.username, "alice");
    });

    // The AWS SDK path (loaded lazily, bundled like everything else) under the narrowed
    // permissions: AssumeRole is a header-signed STS call the peer checks too.
    await t.step("`token --role` assumes the role and maps the role session", async () => {
      const res = await cli(
        ["token", "-i", CLUSTER, "--token-only", "-r", ROLE_ARN, "-s", "smoke-session"],
        tokenEnv,
      );
      assert.equal(res.code, 0, res.stderr);
      const { status, body } = await review(res.stdout.trim());
      assert.equal(status, 200, JSON.stringify(body));
      assert.equal(body.status.user.username, "admin:smoke-session");
      assert.deepEqual(body.status.user.groups, ["system:masters"]);
      assert.deepEqual(body.status.user.extra.canonicalArn, [ROLE_ARN]);
    });

    await t.step("a token signed for another cluster is denied", async () => {
      const res = await cli(["token", "-i", "some-other-cluster", "--token-only"], tokenEnv);
      assert.equal(res.code, 0, res.stderr);
      const { status, body } = await review(res.stdout.trim());
      assert.equal(status, 200);
      assert.notEqual(body.status?.authenticated, true);
      assert.match(body.status?.error ?? "", /^token\.cluster_mismatch: /);
    });

    await t.step("SIGTERM stops the server cleanly", async () => {
      const code = await server!.stop();
      server = undefined;
      assert.equal(code, 0);
    });
  } finally {
    if (server) await server.stop();
    await peer.close();
    await Deno.remove(dir, { recursive: true });
  }
});
