/**
 * Shared pieces of the e2e suite: the identities the STS peer knows, the authenticator server as a
 * child process (`main.ts init` + `main.ts server`), kubectl with exec-plugin kubeconfigs.
 *
 * The flow of every e2e file:
 * 1. start the STS peer (in process, {@link startE2eStsPeer});
 * 2. `main.ts init` writes the serving certificate and the webhook kubeconfig
 *    ({@link Authenticator.init});
 * 3. start etcd + kube-apiserver with that webhook kubeconfig
 *    (`tests/peers/kube_apiserver.ts`);
 * 4. start `main.ts server` with the apiserver's admin kubeconfig (for the ConfigMap and CRD
 *    backends) and `AWS_ENDPOINT_URL_STS` pointing at the peer ({@link Authenticator.start});
 * 5. log in with kubectl.
 *
 * @module
 */

import { type PeerPrincipal, startStsPeer, type StsPeer } from "../peers/sts_peer.ts";
import { copyOutputToFile, OrphanGuard } from "../peers/kube_apiserver.ts";
import { freePort } from "../peers/ports.ts";

/** Project root (absolute, with a trailing slash). */
export const ROOT: string = new URL("../../", import.meta.url).pathname;
/** The CLI entry point every child process runs. */
export const MAIN: string = `${ROOT}main.ts`;
/**
 * `deno run` arguments before the script: the project's config (import map, lock file) named
 * explicitly, since the children run in temporary directories.
 */
export const DENO_RUN: readonly string[] = ["run", "--config", `${ROOT}deno.json`, "--quiet"];
/** The cluster ID the authenticator under test serves. */
export const CLUSTER_ID = "aia-e2e.example.com";
/** The account of every mapped identity. */
export const ACCOUNT = "111122223333";
/** Permissions of `deno task token` (kept in step with deno.json). */
const TOKEN_PERMS = [
  "--allow-env",
  "--allow-read",
  "--allow-write",
  "--allow-net",
  "--allow-run",
  "--allow-sys",
];

/** An IAM user: `arn:aws:iam::111122223333:user/alice`. */
export const ALICE: PeerPrincipal = {
  accessKeyId: "AKIAE2EALICE00000001",
  secretAccessKey: "e2e/alice/secret/key/0000000000000000000",
  arn: `arn:aws:iam::${ACCOUNT}:user/alice`,
  userId: "AIDAE2EALICE000000001",
  account: ACCOUNT,
};

/** An IAM user with no mapping in any backend until a test adds one. */
export const BOB: PeerPrincipal = {
  accessKeyId: "AKIAE2EBOB0000000001",
  secretAccessKey: "e2e/bob/secret/key/000000000000000000000",
  arn: `arn:aws:iam::${ACCOUNT}:user/bob`,
  userId: "AIDAE2EBOB00000000001",
  account: ACCOUNT,
};

/** A session of role `e2e-admin` (temporary credentials with a session token). */
export const ADMIN_SESSION: PeerPrincipal = {
  accessKeyId: "ASIAE2EADMIN00000001",
  secretAccessKey: "e2e/admin/secret/key/00000000000000000000",
  sessionToken: "e2e-admin-session-token-0000000000000000000000000000",
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/e2e-admin/carol-session`,
  userId: "AROAE2EADMIN000000001:carol-session",
  account: ACCOUNT,
};

/** A session of role `e2e-dev`, unmapped until a test maps the role. */
export const DEV_SESSION: PeerPrincipal = {
  accessKeyId: "ASIAE2EDEV000000001X",
  secretAccessKey: "e2e/dev/secret/key/000000000000000000000",
  sessionToken: "e2e-dev-session-token-00000000000000000000000000000",
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/e2e-dev/dave-session`,
  userId: "AROAE2EDEV0000000001:dave-session",
  account: ACCOUNT,
};

/** A valid AWS identity in another account that nothing maps. */
export const MALLORY: PeerPrincipal = {
  accessKeyId: "AKIAE2EMALLORY000001",
  secretAccessKey: "e2e/mallory/secret/key/00000000000000000",
  arn: "arn:aws:iam::444455556666:user/mallory",
  userId: "AIDAE2EMALLORY0000001",
  account: "444455556666",
};

/** Starts the STS peer knowing every identity above (on `port` when given, else ephemeral). */
export function startE2eStsPeer(port?: number): Promise<StsPeer> {
  return startStsPeer({ principals: [ALICE, BOB, ADMIN_SESSION, DEV_SESSION, MALLORY], port });
}

/** The outcome of a child process. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Environment for anything that talks to AWS: only the given principal, only the peer. */
export function awsEnv(p: PeerPrincipal, stsUrl: string): Record<string, string> {
  const env: Record<string, string> = {
    AWS_ACCESS_KEY_ID: p.accessKeyId,
    AWS_SECRET_ACCESS_KEY: p.secretAccessKey,
    AWS_REGION: "us-east-1",
    AWS_DEFAULT_REGION: "us-east-1",
    AWS_ENDPOINT_URL_STS: stsUrl,
    AWS_EC2_METADATA_DISABLED: "true",
    // Keep the machine's own AWS config out of the picture.
    AWS_CONFIG_FILE: "/dev/null",
    AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
  };
  if (p.sessionToken) env.AWS_SESSION_TOKEN = p.sessionToken;
  return env;
}

/** An exec-plugin user of a kubeconfig. */
export interface ExecSpec {
  command: string;
  args: string[];
  env: Record<string, string>;
}

/** `main.ts token -i <clusterId>` as an exec plugin, signing as `p` against the peer. */
export function tokenExec(p: PeerPrincipal, stsUrl: string, clusterId = CLUSTER_ID): ExecSpec {
  return {
    command: Deno.execPath(),
    args: [...DENO_RUN, ...TOKEN_PERMS, MAIN, "token", "-i", clusterId],
    env: { ...awsEnv(p, stsUrl), DENO_NO_UPDATE_CHECK: "1" },
  };
}

/** `aws eks get-token --cluster-name <clusterId>` (AWS CLI v1) as an exec plugin. */
export function awsCliExec(p: PeerPrincipal, stsUrl: string, clusterId = CLUSTER_ID): ExecSpec {
  return {
    command: "aws",
    args: ["eks", "get-token", "--cluster-name", clusterId, "--region", "us-east-1"],
    env: awsEnv(p, stsUrl),
  };
}

/** Writes a kubeconfig whose only user runs `exec`; returns its path. */
export async function writeExecKubeconfig(
  path: string,
  server: string,
  caCertPath: string,
  exec: ExecSpec,
): Promise<string> {
  const q = (s: string) => JSON.stringify(s);
  const lines = [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: e2e",
    "  cluster:",
    `    server: ${q(server)}`,
    `    certificate-authority: ${q(caCertPath)}`,
    "users:",
    "- name: iam",
    "  user:",
    "    exec:",
    "      apiVersion: client.authentication.k8s.io/v1beta1",
    `      command: ${q(exec.command)}`,
    "      interactiveMode: Never",
    "      provideClusterInfo: false",
    `      args: [${exec.args.map(q).join(", ")}]`,
    "      env:",
    ...Object.entries(exec.env).flatMap(([k, v]) => [
      `      - name: ${q(k)}`,
      `        value: ${q(v)}`,
    ]),
    "contexts:",
    "- name: e2e",
    "  context:",
    "    cluster: e2e",
    "    user: iam",
    "current-context: e2e",
    "",
  ];
  await Deno.writeTextFile(path, lines.join("\n"));
  return path;
}

const dec = new TextDecoder();

/** Runs a command to completion, feeding `stdin` when given. */
export async function runCommand(
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string>; stdin?: string; cwd?: string } = {},
): Promise<RunResult> {
  const child = new Deno.Command(cmd, {
    args,
    env: opts.env,
    cwd: opts.cwd,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const out = await child.output();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** kubectl against `kubeconfig` (with a private discovery cache next to it). */
export function kubectl(
  kubeconfig: string,
  args: string[],
  opts: { stdin?: string } = {},
): Promise<RunResult> {
  const cacheDir = kubeconfig.replace(/[^/]*$/, "") + ".kube-cache";
  return runCommand("kubectl", [
    `--kubeconfig=${kubeconfig}`,
    `--cache-dir=${cacheDir}`,
    "--request-timeout=60s",
    ...args,
  ], opts);
}

/** kubectl that must succeed; returns stdout. */
export async function kubectlOk(
  kubeconfig: string,
  args: string[],
  opts: { stdin?: string } = {},
): Promise<string> {
  const r = await kubectl(kubeconfig, args, opts);
  if (r.code !== 0) {
    throw new Error(`kubectl ${args.join(" ")} failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
  }
  return r.stdout;
}

/** Who kube-apiserver thinks the kubeconfig's user is. */
export interface WhoAmI {
  username: string;
  uid?: string;
  groups: string[];
  extra: Record<string, string[]>;
}

/**
 * `kubectl auth whoami -o json`: the user on success, or `{ error }` with kubectl's stderr
 * (an authentication failure reads `error: You must be logged in to the server (Unauthorized)`).
 */
export async function whoami(
  kubeconfig: string,
): Promise<{ user: WhoAmI; error?: undefined } | { user?: undefined; error: string }> {
  const r = await kubectl(kubeconfig, ["auth", "whoami", "-o", "json"]);
  if (r.code !== 0) return { error: r.stderr.trim() || `exit ${r.code}` };
  const review = JSON.parse(r.stdout) as { status?: { userInfo?: Partial<WhoAmI> } };
  const info = review.status?.userInfo ?? {};
  return {
    user: {
      username: info.username ?? "",
      uid: info.uid,
      groups: info.groups ?? [],
      extra: info.extra ?? {},
    },
  };
}

/** True when kubectl's stderr is the message of an HTTP 401 from kube-apiserver. */
export function isUnauthorized(error: string): boolean {
  return /\(Unauthorized\)/.test(error);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `probe` until it returns a value that is not `undefined` (informers and watches are
 * eventually consistent), else fails with the last observation.
 */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  opts: { timeoutMs?: number; intervalMs?: number; last?: () => string } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let lastError = "";
  while (true) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      lastError = e instanceof Error ? e.message : String(e);
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${what}${lastError ? `: ${lastError}` : ""}${
          opts.last ? `; last: ${opts.last()}` : ""
        }`,
      );
    }
    await sleep(opts.intervalMs ?? 300);
  }
}

/** How to run the authenticator under test. */
export interface AuthenticatorOptions {
  /** Ordered `server.backendMode`. */
  backendModes: string[];
  /** `server.mapRoles` / `mapUsers` / `mapAccounts` (MountedFile). */
  mapRoles?: { rolearn: string; username: string; groups?: string[] }[];
  mapUsers?: { userarn: string; username: string; groups?: string[] }[];
  mapAccounts?: string[];
  /** Cluster ID (default {@link CLUSTER_ID}). */
  clusterId?: string;
}

/**
 * The authenticator server as a child process, on a fixed free port and state directory so it can
 * be killed and started again under the same webhook kubeconfig.
 */
export class Authenticator {
  readonly dir: string;
  readonly port: number;
  readonly configPath: string;
  readonly webhookKubeconfig: string;
  readonly logPath: string;
  #child: Deno.ChildProcess | undefined;
  #copy: Promise<unknown> | undefined;
  #guard: OrphanGuard | undefined;

  private constructor(dir: string, port: number) {
    this.dir = dir;
    this.port = port;
    this.configPath = `${dir}/config.yaml`;
    this.webhookKubeconfig = `${dir}/webhook.kubeconfig`;
    this.logPath = `${dir}/server.log`;
  }

  /**
   * Writes the config and runs `main.ts init -c config.yaml`, which creates the serving
   * certificate and the webhook kubeconfig kube-apiserver needs before it starts.
   */
  static async init(opts: AuthenticatorOptions): Promise<Authenticator> {
    const dir = await Deno.makeTempDir({ prefix: "aia-e2e-auth-" });
    const a = new Authenticator(dir, freePort());
    const q = (s: string) => JSON.stringify(s);
    const list = (xs: string[] | undefined) => `[${(xs ?? []).map(q).join(", ")}]`;
    const lines = [
      `clusterID: ${q(opts.clusterId ?? CLUSTER_ID)}`,
      "server:",
      "  address: 127.0.0.1",
      "  hostname: 127.0.0.1",
      `  port: ${a.port}`,
      "  healthPort: 0",
      `  stateDir: ${q(`${dir}/state`)}`,
      `  generateKubeconfig: ${q(a.webhookKubeconfig)}`,
      `  backendMode: ${list(opts.backendModes)}`,
      "  mapRoles:",
      ...(opts.mapRoles ?? []).flatMap((m) => [
        `  - rolearn: ${q(m.rolearn)}`,
        `    username: ${q(m.username)}`,
        `    groups: ${list(m.groups)}`,
      ]),
      "  mapUsers:",
      ...(opts.mapUsers ?? []).flatMap((m) => [
        `  - userarn: ${q(m.userarn)}`,
        `    username: ${q(m.username)}`,
        `    groups: ${list(m.groups)}`,
      ]),
      `  mapAccounts: ${list(opts.mapAccounts)}`,
      "",
    ];
    await Deno.writeTextFile(a.configPath, lines.join("\n"));
    await Deno.mkdir(`${dir}/state`, { recursive: true });
    const r = await runCommand(Deno.execPath(), [
      ...DENO_RUN,
      "-A",
      MAIN,
      "init",
      "-c",
      a.configPath,
    ], {
      cwd: dir,
      env: { DENO_NO_UPDATE_CHECK: "1" },
    });
    if (r.code !== 0) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw new Error(`main.ts init failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
    }
    await Deno.stat(a.webhookKubeconfig).catch(() => {
      throw new Error(
        `main.ts init exited 0 but wrote no webhook kubeconfig at ${a.webhookKubeconfig}: ${r.stderr}`,
      );
    });
    return a;
  }

  /** Is the server process running? */
  get running(): boolean {
    return this.#child !== undefined;
  }

  /**
   * Starts `main.ts server -c config.yaml` (`--kubeconfig` for the ConfigMap/CRD backends) with
   * the STS override, and waits until the TLS port accepts connections.
   */
  async start(opts: { stsUrl: string; kubeconfig?: string }): Promise<void> {
    if (this.#child) throw new Error("authenticator already running");
    const args = [...DENO_RUN, "-A", MAIN, "server", "-c", this.configPath];
    if (opts.kubeconfig) args.push("--kubeconfig", opts.kubeconfig);
    const child = new Deno.Command(Deno.execPath(), {
      args,
      cwd: this.dir,
      env: {
        AWS_ENDPOINT_URL_STS: opts.stsUrl,
        AWS_REGION: "us-east-1",
        AWS_EC2_METADATA_DISABLED: "true",
        AWS_CONFIG_FILE: "/dev/null",
        AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
        DENO_NO_UPDATE_CHECK: "1",
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    this.#guard = new OrphanGuard(child.pid);
    this.#copy = copyOutputToFile(child, this.logPath);
    let exited = false;
    child.status.then(() => exited = true);
    try {
      // A TCP connect is the readiness probe: the certificate is a self-signed CA (as the Go
      // tool makes it), which Deno's TLS stack refuses as a server certificate
      // (CaUsedAsEndEntity) while kube-apiserver's Go client accepts it.
      await eventually("the authenticator's TLS port", async () => {
        if (exited) throw new Error("the server exited");
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: this.port });
        conn.close();
        return true;
      }, { timeoutMs: 60_000, intervalMs: 100 });
    } catch (e) {
      await this.stop();
      throw new Error(
        `${e instanceof Error ? e.message : e}; server log:\n${await this.log()}`,
      );
    }
  }

  /** The server's log so far. */
  async log(): Promise<string> {
    return await Deno.readTextFile(this.logPath).catch(() => "(no log)");
  }

  /** SIGKILL: the server dies without a chance to clean up. */
  async kill(): Promise<void> {
    await this.#signal("SIGKILL");
  }

  /** SIGTERM and wait (the server exits within 10 s by port decision 13). */
  async stop(): Promise<void> {
    await this.#signal("SIGTERM");
  }

  async #signal(sig: Deno.Signal): Promise<void> {
    const child = this.#child;
    if (!child) return;
    try {
      child.kill(sig);
    } catch {
      // already exited
    }
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // already exited
      }
    }, 15_000);
    await child.status;
    clearTimeout(timer);
    await this.#guard?.release();
    await this.#copy;
    this.#child = undefined;
  }

  /** Stops the server and removes its directory. */
  async dispose(): Promise<void> {
    await this.stop();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/**
 * `t.step` whose failure message carries the tail of the authenticator's log, so a failed e2e
 * step shows what the server saw.
 */
export function stepWithLog(
  t: Deno.TestContext,
  auth: Authenticator,
  name: string,
  fn: () => Promise<void>,
): Promise<boolean> {
  return t.step(name, async () => {
    try {
      await fn();
    } catch (e) {
      const log = (await auth.log()).split("\n").slice(-40).join("\n");
      if (e instanceof Error) {
        e.message += `\n--- authenticator log (last 40 lines) ---\n${log}`;
        throw e;
      }
      throw new Error(`${e}\n--- authenticator log (last 40 lines) ---\n${log}`);
    }
  });
}

/**
 * Waits until the wall clock enters a new second. Tokens are presigned with a one-second
 * `X-Amz-Date`, so tokens minted before and after this differ. That matters because
 * kube-apiserver caches every successful token authentication for 10 s (its built-in
 * `TokenSuccessCacheTTL`, no flag), on top of the webhook's own cache: a check that a change
 * took effect (a mapping edit, a dead authenticator) must use a token that never succeeded, or
 * kube-apiserver answers from that cache without asking the webhook. The `main.ts token` and
 * `aws eks get-token` tokens of one principal in one second are byte-identical too.
 */
export async function nextSecond(): Promise<void> {
  await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));
}
