import assert from "node:assert/strict";
import { generateToken } from "../../src/sign/mod.ts";
import { startStsPeer } from "../peers/sts_peer.ts";
import { writeCaAndLeaf } from "../peers/test_ca.ts";
import { httpsRequest, postTokenReview } from "../serve/https_client.ts";
import { denoArgv } from "./_main.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

const PRINCIPALS = Array.from({ length: 6 }, (_, i) => ({
  accessKeyId: `AKIAUSER${String(i).padStart(12, "0")}`,
  secretAccessKey: `secret-${i}`,
  arn: `arn:aws:iam::123456789012:user/user${i}`,
  userId: `AIDAUSER${i}`,
  account: "123456789012",
}));

interface Spawned {
  child: Deno.ChildProcess;
  stderr: () => string;
  stdout: () => string;
  waitFor: (re: RegExp, timeoutMs?: number) => Promise<RegExpMatchArray>;
  status: Promise<Deno.CommandStatus>;
}

function spawnServer(args: string[], env: Record<string, string>, umask?: number): Spawned {
  const [exe, argv] = denoArgv(["run", "-A", MAIN, "server", ...args], umask);
  const child = new Deno.Command(exe, {
    args: argv,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let err = "";
  let out = "";
  const pump = async (stream: ReadableStream<Uint8Array>, add: (s: string) => void) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) add(decoder.decode(chunk, { stream: true }));
  };
  const pumps = Promise.all([
    pump(child.stderr, (s) => err += s),
    pump(child.stdout, (s) => out += s),
  ]);
  const status = pumps.then(() => child.status);
  return {
    child,
    stderr: () => err,
    stdout: () => out,
    status,
    async waitFor(re, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const m = err.match(re);
        if (m) return m;
        const done = await Promise.race([
          status.then(() => true),
          new Promise<false>((r) => setTimeout(() => r(false), 50)),
        ]);
        if (done) break;
      }
      const m = err.match(re);
      if (m) return m;
      throw new Error(`server did not log ${re}; stderr:\n${err}`);
    },
  };
}

/** One fresh token of each principal, for the STS at `endpoint`. */
function tokensFor(endpoint: string) {
  return Promise.all(PRINCIPALS.map((p) =>
    generateToken({
      clusterId: "cli-test",
      credentials: p,
      endpoint,
      signingRegion: "us-east-1",
      now: new Date(),
    })
  ));
}

async function writeConfig(dir: string, extra = ""): Promise<string> {
  const users = PRINCIPALS.map((p, i) =>
    `    - userarn: ${p.arn}\n      username: user${i}\n      groups: [devs]\n`
  ).join("");
  const path = `${dir}/config.yaml`;
  await Deno.writeTextFile(
    path,
    `clusterID: cli-test\nserver:\n  hostname: 127.0.0.1\n  port: 0\n  healthPort: 0\n` +
      `  stateDir: ${dir}/state\n  generateKubeconfig: ${dir}/kubeconfig.yaml\n${extra}` +
      `  mapUsers:\n${users}`,
  );
  return path;
}

Deno.test("SIGTERM with reviews in flight: they finish with 200, then the server exits 0", async () => {
  const peer = await startStsPeer({ principals: PRINCIPALS, latencyMs: 1500 });
  const dir = await Deno.makeTempDir();
  try {
    const config = await writeConfig(dir);
    const server = spawnServer(["--config", config], {
      AWS_ENDPOINT_URL_STS: peer.url,
      AWS_REGION: "us-east-1",
    });
    const [, port] = await server.waitFor(/listening on 127\.0\.0\.1:(\d+)/);
    assert.match(server.stdout(), /^Authenticator Version: "[^"]*", "[^"]*"\n/);
    const ca = await Deno.readTextFile(`${dir}/state/cert.pem`);
    const url = `https://127.0.0.1:${port}/authenticate`;

    const tokens = await tokensFor(peer.url);
    const reviews = tokens.map((t) => postTokenReview(url, ca, t.token));
    // Wait until every review has reached the STS peer (each is then held there for 1.5 s).
    const deadline = Date.now() + 10_000;
    while (peer.requestCount < PRINCIPALS.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(peer.requestCount, PRINCIPALS.length);
    const signalled = performance.now();
    server.child.kill("SIGTERM");
    const results = await Promise.all(reviews);
    assert.deepEqual(results.map((r) => r.status), PRINCIPALS.map(() => 200));
    assert.deepEqual(
      results.map((r) => (r.body.status as { user: { username: string } }).user.username),
      PRINCIPALS.map((_, i) => `user${i}`),
    );
    const status = await server.status;
    assert.equal(status.code, 0, server.stderr());
    assert.ok(performance.now() - signalled < 10_000);
    assert.match(server.stderr(), /received SIGTERM, shutting down/);
    assert.match(server.stderr(), /server stopped/);
    // No token reached the logs.
    for (const t of tokens) assert.equal(server.stderr().includes(t.token), false);
  } finally {
    await peer.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("STS calls go over HTTP/1.1 on kept-alive connections even when the STS offers HTTP/2", async () => {
  // Over HTTP/2 the runtime's client would send every call over one connection, where Nagle's
  // algorithm (which it leaves on) holds a call back until the previous answer arrives.
  const dir = await Deno.makeTempDir();
  const { cert, key } = await writeCaAndLeaf(dir);
  const peer = await startStsPeer({ principals: PRINCIPALS, latencyMs: 300, tls: { cert, key } });
  try {
    const config = await writeConfig(dir);
    const server = spawnServer(["--config", config], {
      AWS_ENDPOINT_URL_STS: peer.url,
      AWS_REGION: "us-east-1",
      DENO_CERT: `${dir}/ca.crt`,
    });
    try {
      const [, port] = await server.waitFor(/listening on 127\.0\.0\.1:(\d+)/);
      const ca = await Deno.readTextFile(`${dir}/state/cert.pem`);
      const url = `https://127.0.0.1:${port}/authenticate`;
      const batch = async () => {
        const tokens = await tokensFor(peer.url);
        const results = await Promise.all(tokens.map((t) => postTokenReview(url, ca, t.token)));
        assert.deepEqual(results.map((r) => r.status), PRINCIPALS.map(() => 200));
      };
      await batch();
      // Six calls in flight at once over HTTP/1.1: one connection each (HTTP/2 would be one).
      assert.equal(peer.requestCount, PRINCIPALS.length);
      assert.equal(peer.connectionCount, PRINCIPALS.length);
      // New tokens (the identity cache does not answer them): the same connections again.
      await new Promise((r) => setTimeout(r, 1100));
      await batch();
      assert.equal(peer.requestCount, 2 * PRINCIPALS.length);
      assert.equal(peer.connectionCount, PRINCIPALS.length);
    } finally {
      server.child.kill("SIGTERM");
      await server.status;
    }
  } finally {
    await peer.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("invalid config, taken port and bad log level are clear startup errors", async () => {
  const dir = await Deno.makeTempDir();
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const noCluster = spawnServer(["--state-dir", `${dir}/s`], { AWS_REGION: "us-east-1" });
    assert.equal((await noCluster.status).code, 1);
    assert.match(noCluster.stderr(), /could not get config: cluster ID cannot be empty/);

    const badMode = spawnServer(["-i", "x", "--backend-mode", "Nope"], {});
    assert.equal((await badMode.status).code, 1);
    assert.match(badMode.stderr(), /backend-mode \\?"Nope\\?" is not a valid mode/);

    const port = (taken.addr as Deno.NetAddr).port;
    const config = await writeConfig(dir);
    const busy = spawnServer(["--config", config, "--port", String(port)], {
      AWS_REGION: "us-east-1",
    });
    assert.equal((await busy.status).code, 1);
    assert.match(busy.stderr(), /the port is already in use \(--port \/ server\.port\)/);

    const level = spawnServer(["-i", "x", "-v", "loud"], {});
    assert.equal((await level.status).code, 1);
    assert.match(level.stderr(), /Invalid log level "loud"/);
  } finally {
    taken.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--log-format json writes one JSON object per line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = await writeConfig(dir);
    const server = spawnServer(["--config", config, "--log-format", "json"], {
      AWS_REGION: "us-east-1",
    });
    await server.waitFor(/listening on/);
    server.child.kill("SIGINT");
    assert.equal((await server.status).code, 0);
    const lines = server.stderr().trim().split("\n");
    for (const line of lines) {
      const obj = JSON.parse(line);
      assert.equal(typeof obj.level, "string");
      assert.equal(typeof obj.msg, "string");
    }
    assert.ok(lines.some((l) => JSON.parse(l).msg === "mapping IAM user"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("server under umask 0000: cert 0644, key 0600, kubeconfig 0644; mapping files others can write are warned about and in /metrics", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.chmod(dir, 0o755);
    const dyn = `${dir}/dynamic.json`;
    await Deno.writeTextFile(dyn, JSON.stringify({ mapUsers: [] }));
    await Deno.chmod(dyn, 0o666);
    const config = await writeConfig(
      dir,
      `  backendMode: [MountedFile, DynamicFile]\n  dynamicfilepath: ${dyn}\n`,
    );
    await Deno.chmod(config, 0o620);
    const server = spawnServer(["--config", config], { AWS_REGION: "us-east-1" }, 0o000);
    try {
      const [, port] = await server.waitFor(/listening on 127\.0\.0\.1:(\d+)/);
      const mode = async (p: string) => (await Deno.stat(p)).mode! & 0o7777;
      assert.equal(await mode(`${dir}/state/cert.pem`), 0o644);
      assert.equal(await mode(`${dir}/state/key.pem`), 0o600);
      assert.equal(await mode(`${dir}/state`), 0o700);
      assert.equal(await mode(`${dir}/kubeconfig.yaml`), 0o644);

      const err = server.stderr();
      assert.match(
        err,
        new RegExp(
          `level=warning msg="config file ${config} is writable by group \\(mode 0620\\): ` +
            `anyone who can write it can map themselves to any Kubernetes user or group, ` +
            `system:masters included; run chmod g-w ${config}"`,
        ),
      );
      assert.match(
        err,
        new RegExp(
          `level=warning msg="DynamicFile ${dyn} is writable by group and others \\(mode 0666\\)`,
        ),
      );
      // Warned, not refused.
      const ca = await Deno.readTextFile(`${dir}/state/cert.pem`);
      const metrics = await httpsRequest(`https://127.0.0.1:${port}/metrics`, ca);
      assert.equal(metrics.status, 200);
      const gauge = (path: string) =>
        metrics.body.split("\n").find((l) =>
          l.startsWith(`aws_iam_authenticator_mapping_file_writable_by_others{path="${path}"}`)
        );
      assert.equal(gauge(config)?.split(" ").at(-1), "1");
      assert.equal(gauge(dyn)?.split(" ").at(-1), "1");

      // chmod alone (no content change) is picked up for the DynamicFile.
      await Deno.chmod(dyn, 0o644);
      await server.waitFor(/DynamicFile is no longer writable by others/, 5000);
      const after = await httpsRequest(`https://127.0.0.1:${port}/metrics`, ca);
      assert.match(
        after.body,
        new RegExp(`mapping_file_writable_by_others\\{path="${dyn}"\\} 0`),
      );
    } finally {
      server.child.kill("SIGTERM");
      await server.status;
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("start-up errors carry the file:line:col and rule ID validate reports for the same problem", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cases = [
      // A mis-indented line: the YAML does not parse.
      `clusterID: x\nserver:\n  port: 0\n  mapRoles: a: b\n`,
      // A MountedFile entry without an ARN.
      `clusterID: x\nserver:\n  port: 0\n  healthPort: 0\n  stateDir: ${dir}/s\n  mapRoles:\n    - username: nobody\n`,
      // A config value the server refuses.
      `clusterID: x\nserver:\n  partition: mars\n`,
    ];
    for (const [i, text] of cases.entries()) {
      const path = `${dir}/c${i}.yaml`;
      await Deno.writeTextFile(path, text);
      const server = spawnServer(["--config", path], { AWS_REGION: "us-east-1" });
      assert.equal((await server.status).code, 1, server.stderr());
      const v = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", MAIN, "validate", "-o", "json", path],
        stdout: "piped",
      }).output();
      const report = JSON.parse(new TextDecoder().decode(v.stdout));
      const f = report.findings.find((x: { severity: string }) => x.severity === "error");
      assert.ok(f, JSON.stringify(report));
      const where = `${path}:${f.line}:${f.column}: ${f.rule}: `;
      assert.ok(
        server.stderr().replaceAll('\\"', '"').includes(where),
        `server stderr lacks ${where}:\n${server.stderr()}`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
