/**
 * A real etcd + kube-apiserver on loopback for end-to-end tests.
 *
 * The binaries come from `scripts/kube/build.sh`, which `deno task test` and `deno task e2e` run
 * through `scripts/test_setup.ts` when they are missing (cached under
 * `~/.cache/aws-iam-authenticator-e2e/bin`, or `$AIA_E2E_CACHE/bin`). Every call to
 * {@link startKubeApiServer} gets its own temporary directory, certificates, free ports and etcd
 * data, so test files can run side by side.
 *
 * @module
 */

import { CLIENT_EXT, serverExt, writeCa, writeLeaf } from "./test_ca.ts";
import { freePort } from "./ports.ts";

/** Paths of the two binaries the e2e suite runs. */
export interface KubeBinaries {
  /** Absolute path of the `etcd` binary. */
  etcd: string;
  /** Absolute path of the `kube-apiserver` binary. */
  kubeApiServer: string;
}

/** Options for {@link startKubeApiServer}. */
export interface StartKubeApiServerOptions {
  /**
   * Path of a webhook kubeconfig (the one `main.ts server` generates); passed as
   * `--authentication-token-webhook-config-file` with webhook version v1.
   */
  webhookKubeconfig?: string;
  /**
   * Extra kube-apiserver flags, appended last so they override the defaults (for example
   * `--authentication-token-webhook-cache-ttl=2m` to turn the review cache back on).
   */
  extraArgs?: string[];
  /** How long to wait for `/readyz` (default 120 s: the first start on a busy box is slow). */
  readyTimeoutMs?: number;
}

/** A running etcd + kube-apiserver pair. */
export interface KubeApiServer {
  /** Admin kubeconfig (client certificate in `system:masters`). */
  kubeconfigPath: string;
  /** `https://127.0.0.1:PORT` */
  server: string;
  /** PEM file of the CA that signed the serving certificate and the admin client certificate. */
  caCertPath: string;
  /** The temporary directory holding certificates, etcd data and logs; removed by `stop()`. */
  dir: string;
  /** Path of the kube-apiserver log (stderr), for diagnostics. */
  apiServerLogPath: string;
  /**
   * Stops kube-apiserver (SIGTERM) and starts it again on the same port with the same etcd,
   * certificates and flags; resolves when `/readyz` answers again.
   */
  restartApiServer(): Promise<void>;
  /**
   * Writes a kubeconfig for another user: a client certificate with CN `name` and O `groups`,
   * signed by the cluster CA, with no RBAC rights of its own (tests grant what they need).
   * Resolves to the kubeconfig's path.
   */
  userKubeconfig(name: string, groups?: string[]): Promise<string>;
  /** Stops kube-apiserver and etcd and removes the temporary directory. Safe to call twice. */
  stop(): Promise<void>;
}

/** Thrown when the binaries built by `scripts/kube/build.sh` are not in the cache. */
export class KubeBinariesMissingError extends Error {
  /** @param missing the absolute paths that do not exist */
  constructor(missing: string[]) {
    super(
      `The e2e suite needs a real etcd and kube-apiserver, but ${missing.join(" and ")} ` +
        `${missing.length === 1 ? "does" : "do"} not exist. ` +
        `\`deno task test\` and \`deno task e2e\` build them before the tests run; for a single ` +
        `test file run \`deno run -A scripts/test_setup.ts test\` (or \`bash scripts/kube/build.sh\`) ` +
        `once (5 to 8 minutes on 2 cores; the binaries are cached under $AIA_E2E_CACHE/bin, ` +
        `default ~/.cache/aws-iam-authenticator-e2e/bin).`,
    );
    this.name = "KubeBinariesMissingError";
  }
}

/** Where `scripts/kube/build.sh` puts the binaries (keep in step with that script). */
export function kubeBinaryDir(): string {
  const cache = Deno.env.get("AIA_E2E_CACHE") ??
    `${Deno.env.get("HOME") ?? "/root"}/.cache/aws-iam-authenticator-e2e`;
  return `${cache}/bin`;
}

/** Paths of the cached binaries, whether or not they exist. */
export function kubeBinaryPaths(): KubeBinaries {
  const dir = kubeBinaryDir();
  return { etcd: `${dir}/etcd`, kubeApiServer: `${dir}/kube-apiserver` };
}

/** Resolves the binaries, or throws {@link KubeBinariesMissingError} telling how to build them. */
export async function requireKubeBinaries(): Promise<KubeBinaries> {
  const paths = kubeBinaryPaths();
  const missing: string[] = [];
  for (const p of [paths.etcd, paths.kubeApiServer]) {
    try {
      const st = await Deno.stat(p);
      if (!st.isFile) missing.push(p);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) missing.push(p);
      else throw e;
    }
  }
  if (missing.length > 0) throw new KubeBinariesMissingError(missing);
  return paths;
}

/** True when both binaries are present. */
export async function kubeBinariesAvailable(): Promise<boolean> {
  try {
    await requireKubeBinaries();
    return true;
  } catch (e) {
    if (e instanceof KubeBinariesMissingError) return false;
    throw e;
  }
}

async function run(cmd: string, args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (exit ${out.code}): ${new TextDecoder().decode(out.stderr)}`,
    );
  }
}

/** Certificates for one cluster, written with openssl (ECDSA P-256: fast to generate). */
async function writeCerts(dir: string): Promise<void> {
  await writeCa(dir, "aia-e2e-ca");
  await writeLeaf(
    dir,
    "apiserver",
    "/CN=kube-apiserver",
    serverExt([
      "IP:127.0.0.1",
      "IP:10.0.0.1",
      "DNS:localhost",
      "DNS:kubernetes",
      "DNS:kubernetes.default",
      "DNS:kubernetes.default.svc",
    ]),
  );
  await userCert(dir, "admin", "aia-e2e-admin", ["system:masters"]);
  await run("openssl", [
    "genpkey",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-out",
    "sa.key",
  ], dir);
  // --service-account-key-file reads public keys (or PKCS#1/SEC1 private keys), not PKCS#8.
  await run("openssl", ["pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub"], dir);
}

/** A client certificate for `cn` in groups `orgs`, signed by the CA in `dir`. */
async function userCert(dir: string, file: string, cn: string, orgs: string[]): Promise<void> {
  const subj = [...orgs.map((o) => `/O=${o}`), `/CN=${cn}`].join("");
  await writeLeaf(dir, file, subj, CLIENT_EXT);
}

/** Writes a kubeconfig for the admin client certificate. */
function adminKubeconfig(server: string, dir: string): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: aia-e2e",
    "  cluster:",
    `    server: ${server}`,
    `    certificate-authority: ${dir}/ca.crt`,
    "users:",
    "- name: aia-e2e-admin",
    "  user:",
    `    client-certificate: ${dir}/admin.crt`,
    `    client-key: ${dir}/admin.key`,
    "contexts:",
    "- name: aia-e2e",
    "  context:",
    "    cluster: aia-e2e",
    "    user: aia-e2e-admin",
    "current-context: aia-e2e",
    "",
  ].join("\n");
}

/**
 * Copies a child's stdout and stderr into `path` (appending) as they arrive; resolves when both
 * streams end. Writes go straight to the file (not through `FsFile.writable`, whose writes only
 * became visible to readers at close) so a log can be read while the process runs.
 */
export async function copyOutputToFile(
  child: Deno.ChildProcess,
  path: string,
): Promise<void> {
  const file = await Deno.open(path, { create: true, append: true });
  const pump = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s) {
      let off = 0;
      while (off < chunk.length) off += await file.write(chunk.subarray(off));
    }
  };
  try {
    await Promise.all([pump(child.stdout), pump(child.stderr)]);
  } finally {
    file.close();
  }
}

/**
 * Kills a child with SIGKILL if this Deno process dies without stopping it (a test run killed by
 * a timeout or Ctrl-C): a `sh` whose stdin is a pipe only this process writes to waits on
 * `read`, which returns at EOF, i.e. when this process is gone. `release()` disarms it.
 */
export class OrphanGuard {
  readonly #sh: Deno.ChildProcess;

  /** @param pid the process to kill when this one dies */
  constructor(pid: number) {
    this.#sh = new Deno.Command("sh", {
      args: ["-c", 'read _ignored; kill -9 "$1" 2>/dev/null', "aia-orphan-guard", String(pid)],
      stdin: "piped",
      stdout: "null",
      stderr: "null",
    }).spawn();
  }

  /** Disarms the guard (the child was stopped normally). */
  async release(): Promise<void> {
    try {
      this.#sh.kill("SIGKILL");
    } catch {
      // already gone
    }
    await this.#sh.status;
    await this.#sh.stdin.close().catch(() => {});
  }
}

/** A child process whose stderr (and stdout) is copied into a log file. */
class LoggedProcess {
  readonly #child: Deno.ChildProcess;
  readonly #copies: Promise<unknown>;
  readonly #guard: OrphanGuard;
  readonly status: Promise<Deno.CommandStatus>;
  #exited = false;

  constructor(cmd: string, args: string[], logPath: string) {
    this.#child = new Deno.Command(cmd, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#guard = new OrphanGuard(this.#child.pid);
    this.#copies = copyOutputToFile(this.#child, logPath);
    this.status = this.#child.status.then((s) => {
      this.#exited = true;
      return s;
    });
    live.add(this);
  }

  get exited(): boolean {
    return this.#exited;
  }

  killNow(): void {
    if (this.#exited) return;
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; waits for the exit and the log copy. */
  async stop(graceMs = 8000): Promise<void> {
    if (!this.#exited) {
      try {
        this.#child.kill("SIGTERM");
      } catch {
        // raced with its exit
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const killed = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          this.killNow();
          resolve();
        }, graceMs);
      });
      await Promise.race([this.status, killed]);
      clearTimeout(timer);
    }
    await this.status;
    await this.#guard.release();
    await this.#copies;
    live.delete(this);
  }
}

// Processes still running when the test process exits are killed (here on a normal exit, by
// OrphanGuard on any other), so a failed run does not leave an apiserver eating the shared CPUs.
const live = new Set<LoggedProcess>();
globalThis.addEventListener("unload", () => {
  for (const p of live) p.killNow();
});

async function tail(path: string, lines = 40): Promise<string> {
  try {
    const text = await Deno.readTextFile(path);
    return text.split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(
  what: string,
  proc: LoggedProcess,
  logPath: string,
  timeoutMs: number,
  probe: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exited) {
      const st = await proc.status;
      throw new Error(
        `${what} exited with code ${st.code} before it was ready; last log lines:\n${await tail(
          logPath,
        )}`,
      );
    }
    try {
      if (await probe()) return;
    } catch {
      // not listening yet
    }
    await sleep(150);
  }
  throw new Error(
    `${what} was not ready after ${timeoutMs} ms; last log lines:\n${await tail(logPath)}`,
  );
}

/**
 * Starts etcd and kube-apiserver on 127.0.0.1 (free ports, a fresh temporary directory) with
 * RBAC authorization, an admin client certificate in `system:masters`, and optionally the token
 * webhook. Resolves once `/readyz` is OK and the `kube-system` namespace exists.
 *
 * The webhook's review cache is off (`--authentication-token-webhook-cache-ttl=0s`); pass
 * `extraArgs` to change it. kube-apiserver still caches every successful token authentication
 * for 10 s (built in, no flag), so a test that expects a change to show must log in with a token
 * that never succeeded (tokens change every second).
 */
export async function startKubeApiServer(
  opts: StartKubeApiServerOptions = {},
): Promise<KubeApiServer> {
  const bins = await requireKubeBinaries();
  const dir = await Deno.makeTempDir({ prefix: "aia-kube-" });
  const readyTimeoutMs = opts.readyTimeoutMs ?? 120_000;
  let etcd: LoggedProcess | undefined;
  let apiserver: LoggedProcess | undefined;
  let client: Deno.HttpClient | undefined;
  let stopped = false;

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    client?.close();
    await apiserver?.stop();
    await etcd?.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };

  try {
    await writeCerts(dir);
    const etcdPort = freePort();
    const peerPort = freePort();
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const etcdLog = `${dir}/etcd.log`;
    etcd = new LoggedProcess(bins.etcd, [
      "--name=aia-e2e",
      `--data-dir=${dir}/etcd-data`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=aia-e2e=http://127.0.0.1:${peerPort}`,
      // Test data is throwaway; skipping fsync keeps etcd from stalling on a busy disk.
      "--unsafe-no-fsync",
      "--log-level=warn",
    ], etcdLog);
    await waitFor("etcd", etcd, etcdLog, 30_000, async () => {
      const r = await fetch(`${etcdUrl}/health`);
      const body = await r.text();
      return r.ok && body.includes('"health":"true"');
    });

    const port = freePort();
    const server = `https://127.0.0.1:${port}`;
    const ca = await Deno.readTextFile(`${dir}/ca.crt`);
    client = Deno.createHttpClient({
      caCerts: [ca],
      cert: await Deno.readTextFile(`${dir}/admin.crt`),
      key: await Deno.readTextFile(`${dir}/admin.key`),
    });
    const kubeconfigPath = `${dir}/admin.kubeconfig`;
    await Deno.writeTextFile(kubeconfigPath, adminKubeconfig(server, dir));
    const args = [
      `--etcd-servers=${etcdUrl}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${port}`,
      `--tls-cert-file=${dir}/apiserver.crt`,
      `--tls-private-key-file=${dir}/apiserver.key`,
      `--client-ca-file=${dir}/ca.crt`,
      `--service-account-key-file=${dir}/sa.pub`,
      `--service-account-signing-key-file=${dir}/sa.key`,
      "--service-account-issuer=https://kubernetes.default.svc",
      "--service-cluster-ip-range=10.0.0.0/24",
      "--authorization-mode=RBAC",
      `--cert-dir=${dir}/cert-dir`,
      "--enable-priority-and-fairness=false",
      "--profiling=false",
    ];
    if (opts.webhookKubeconfig !== undefined) {
      args.push(
        `--authentication-token-webhook-config-file=${opts.webhookKubeconfig}`,
        "--authentication-token-webhook-version=v1",
        "--authentication-token-webhook-cache-ttl=0s",
      );
    }
    args.push(...(opts.extraArgs ?? []));
    const apiLog = `${dir}/kube-apiserver.log`;
    const httpClient = client;
    const startApiServer = async () => {
      apiserver = new LoggedProcess(bins.kubeApiServer, args, apiLog);
      await waitFor("kube-apiserver", apiserver, apiLog, readyTimeoutMs, async () => {
        const r = await fetch(`${server}/readyz`, { client: httpClient });
        await r.body?.cancel();
        if (!r.ok) return false;
        // The system namespaces controller creates kube-system just after start; tests that
        // write aws-auth need it.
        const ns = await fetch(`${server}/api/v1/namespaces/kube-system`, { client: httpClient });
        await ns.body?.cancel();
        return ns.ok;
      });
    };
    await startApiServer();
    return {
      kubeconfigPath,
      server,
      caCertPath: `${dir}/ca.crt`,
      dir,
      apiServerLogPath: apiLog,
      async userKubeconfig(name: string, groups: string[] = []) {
        const file = `user-${name.replace(/[^a-zA-Z0-9-]/g, "_")}`;
        await userCert(dir, file, name, groups);
        const path = `${dir}/${file}.kubeconfig`;
        await Deno.writeTextFile(
          path,
          adminKubeconfig(server, dir)
            .replace(`${dir}/admin.crt`, `${dir}/${file}.crt`)
            .replace(`${dir}/admin.key`, `${dir}/${file}.key`)
            .replaceAll("aia-e2e-admin", name),
        );
        return path;
      },
      async restartApiServer() {
        if (stopped) throw new Error("restartApiServer() called after stop()");
        await apiserver?.stop();
        await startApiServer();
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
