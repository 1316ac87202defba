import "reflect-metadata";
import assert from "node:assert/strict";
import * as x509 from "@peculiar/x509";
import { parse as parseYaml } from "yaml";
import { runInit } from "../../src/cli/init.ts";
import type { CliDeps } from "../../src/cli/cli_flags.ts";
import { runMain } from "./_main.ts";

function capture(env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const deps: CliDeps = {
    env: (n) => env[n],
    stdout: (s) => out.push(s),
    stderr: (s) => err.push(s),
    readTextFile: (p) => Deno.readTextFile(p),
    now: () => new Date(),
  };
  return { deps, out: () => out.join(""), err: () => err.join("") };
}

async function sans(certPath: string): Promise<string[]> {
  const cert = new x509.X509Certificate(await Deno.readTextFile(certPath));
  const ext = cert.getExtension(x509.SubjectAlternativeNameExtension);
  return (ext?.names.toJSON() ?? []).map((n) => `${n.type}:${n.value}`).sort();
}

Deno.test("init writes cert, key and kubeconfig to the configured paths, honouring --address", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const work = `${dir}/work`;
    await Deno.mkdir(work);
    const config = `${dir}/config.yaml`;
    await Deno.writeTextFile(
      config,
      `clusterID: init-test\nserver:\n  port: 4443\n  stateDir: ${dir}/state\n` +
        `  generateKubeconfig: ${dir}/etc/kubeconfig.yaml\n`,
    );
    // A separate process in its own working directory: test modules share one process, so
    // changing this one's directory would move every other test's relative paths.
    const run = await runMain(
      ["init", "-c", config, "--address", "10.1.2.3", "--hostname", "auth.example.com"],
      { cwd: work },
    );
    const io = { out: () => run.out, err: () => run.err };
    assert.equal(run.code, 0, io.err());
    assert.match(io.out(), /^Authenticator Version: "[^"]*", "[^"]*"\n$/);
    assert.match(io.err(), new RegExp(`certificate generated at ${dir}/state/cert\\.pem`));
    assert.match(io.err(), new RegExp(`key generated at ${dir}/state/key\\.pem`));
    assert.match(io.err(), new RegExp(`kubeconfig generated at ${dir}/etc/kubeconfig\\.yaml`));
    assert.match(
      io.err(),
      /configure your apiserver with `--authentication-token-webhook-config-file=.*\/etc\/kubeconfig\.yaml`/,
    );
    // Port decision 7: --address is an IP SAN. Port decision 19: nothing in the working dir.
    assert.deepEqual(await sans(`${dir}/state/cert.pem`), ["dns:auth.example.com", "ip:10.1.2.3"]);
    assert.equal((await Deno.stat(`${dir}/state/key.pem`)).mode! & 0o777, 0o600);
    assert.deepEqual([...Deno.readDirSync(work)], []);
    const kubeconfig = parseYaml(await Deno.readTextFile(`${dir}/etc/kubeconfig.yaml`));
    assert.equal(
      kubeconfig.clusters[0].cluster.server,
      "https://auth.example.com:4443/authenticate",
    );
    assert.equal(
      atob(kubeconfig.clusters[0].cluster["certificate-authority-data"]),
      await Deno.readTextFile(`${dir}/state/cert.pem`),
    );

    // A second run (with the legacy gate, which changes nothing now) reuses the key pair.
    const before = await Deno.readTextFile(`${dir}/state/cert.pem`);
    const again = capture();
    assert.equal(
      await runInit(["-c", config, "--feature-gates=ConfiguredInitDirectories=true"], again.deps),
      0,
      again.err(),
    );
    assert.equal(await Deno.readTextFile(`${dir}/state/cert.pem`), before);
    assert.match(again.err(), /loaded existing keypair/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("init without a cluster ID or with an unwritable state dir fails with exit 1", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const io = capture();
    assert.equal(await runInit([], io.deps), 1);
    assert.match(io.err(), /could not get config: cluster ID cannot be empty/);

    await Deno.writeTextFile(`${dir}/f`, "");
    const config = `${dir}/config.yaml`;
    await Deno.writeTextFile(config, `server:\n  stateDir: ${dir}/f/state\n`);
    const io2 = capture({ KUBERNETES_AWS_AUTHENTICATOR_CLUSTER_ID: "from-env" });
    assert.equal(await runInit(["-c", config], io2.deps), 1);
    assert.match(
      io2.err(),
      /could not initialize: could not write the TLS key pair into the state dir/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const mode = async (path: string) => (await Deno.stat(path)).mode! & 0o7777;

for (const umask of [0o000, 0o077]) {
  Deno.test(`init under umask ${umask.toString(8).padStart(4, "0")}: cert 0644, key 0600, kubeconfig 0644, new dirs 0700 / 0755`, async () => {
    const dir = await Deno.makeTempDir();
    try {
      const config = `${dir}/config.yaml`;
      await Deno.writeTextFile(
        config,
        `clusterID: init-modes\nserver:\n  stateDir: ${dir}/var/state\n` +
          `  generateKubeconfig: ${dir}/etc/k8s/kubeconfig.yaml\n`,
      );
      await Deno.chmod(config, 0o644);
      const run = await runMain(["init", "-c", config], { umask });
      assert.equal(run.code, 0, run.err);
      assert.equal(await mode(`${dir}/var/state/cert.pem`), 0o644);
      assert.equal(await mode(`${dir}/var/state/key.pem`), 0o600);
      assert.equal(await mode(`${dir}/etc/k8s/kubeconfig.yaml`), 0o644);
      // Directories init creates: the state dir (and its parents) private, the kubeconfig's
      // readable by kube-apiserver.
      assert.equal(await mode(`${dir}/var/state`), 0o700);
      assert.equal(await mode(`${dir}/var`), 0o700);
      assert.equal(await mode(`${dir}/etc/k8s`), 0o755);
      assert.equal(await mode(`${dir}/etc`), 0o755);
      assert.doesNotMatch(run.err, /level=warn/);
      // Nothing but the three files is left behind (no temporary files).
      assert.deepEqual([...Deno.readDirSync(`${dir}/var/state`)].map((e) => e.name).sort(), [
        "cert.pem",
        "key.pem",
      ]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("init into a pre-created state dir: links planted at the targets are replaced, loose modes reported", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const state = `${dir}/state`;
    await Deno.mkdir(state);
    await Deno.chmod(state, 0o755);
    await Deno.mkdir(`${dir}/etc`);
    await Deno.writeTextFile(`${dir}/victim`, "not yours\n");
    await Deno.symlink(`${dir}/victim`, `${state}/cert.pem`);
    await Deno.symlink(`${dir}/victim`, `${dir}/etc/kubeconfig.yaml`);
    const config = `${dir}/config.yaml`;
    await Deno.writeTextFile(
      config,
      `clusterID: init-links\nserver:\n  stateDir: ${state}\n` +
        `  generateKubeconfig: ${dir}/etc/kubeconfig.yaml\n`,
    );
    const run = await runMain(["init", "-c", config], { umask: 0o000 });
    assert.equal(run.code, 0, run.err);
    assert.equal(await Deno.readTextFile(`${dir}/victim`), "not yours\n");
    for (
      const [path, want] of [[`${state}/cert.pem`, 0o644], [`${dir}/etc/kubeconfig.yaml`, 0o644]]
    ) {
      const info = await Deno.lstat(path as string);
      assert.ok(info.isFile && !info.isSymlink, `${path} is a new regular file`);
      assert.equal(info.mode! & 0o7777, want);
    }
    assert.match(await Deno.readTextFile(`${state}/cert.pem`), /^-----BEGIN CERTIFICATE-----/);
    // The pre-existing state dir is left as the operator made it, and reported.
    assert.equal(await mode(state), 0o755);
    assert.ok(
      run.err.includes(
        `the state dir ${state} (--state-dir / server.stateDir) has mode 0755, looser than 0700: ` +
          `others can list it; run chmod go-rx ${state}`,
      ),
      run.err,
    );

    // Files an older version (or an operator) left too open are reported on reuse.
    await Deno.chmod(state, 0o777);
    await Deno.chmod(`${state}/cert.pem`, 0o666);
    await Deno.chmod(`${state}/key.pem`, 0o644);
    const again = await runMain(["init", "-c", config], { umask: 0o000 });
    assert.equal(again.code, 0, again.err);
    for (
      const line of [
        `the state dir ${state} (--state-dir / server.stateDir) has mode 0777, looser than 0700: ` +
        `anyone who can write it can replace the certificate and key the webhook serves; ` +
        `run chmod go-rwx ${state}`,
        `the TLS key ${state}/key.pem has mode 0644, looser than 0600: others can read or ` +
        `replace the webhook's private key; run chmod go-r ${state}/key.pem`,
        `the TLS certificate ${state}/cert.pem is writable by others (mode 0666): anyone who ` +
        `can write it can make the next webhook kubeconfig trust a certificate of their own; ` +
        `run chmod go-w ${state}/cert.pem`,
      ]
    ) {
      assert.ok(again.err.includes(line), `${line}\n---\n${again.err}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
