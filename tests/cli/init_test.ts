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
