import { strict as assert } from "node:assert";
import { mintTokens } from "../../scripts/lib/mint_tokens.ts";
import { cpuMicros, peakRssMb, rssMb } from "../../scripts/lib/proc_stats.ts";
import { startServerProcess } from "../../scripts/lib/server_process.ts";
import { freePort } from "../peers/ports.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("startServerProcess: ready on its listening line, the pid is the server's, SIGTERM exits 0", async () => {
  const dir = await Deno.makeTempDir({ prefix: "aia-server-process-" });
  try {
    const health = freePort();
    await Deno.writeTextFile(
      `${dir}/config.yaml`,
      `clusterID: c1\nserver:\n  address: 127.0.0.1\n  hostname: 127.0.0.1\n  port: 0\n` +
        `  healthPort: ${health}\n  stateDir: ${dir}/state\n  generateKubeconfig: ${dir}/kubeconfig\n`,
    );
    const server = await startServerProcess({
      entry: `${ROOT}main.ts`,
      args: ["server", "--config", `${dir}/config.yaml`],
      logPath: `${dir}/server.log`,
      stdoutPath: `${dir}/stdout.log`,
      health: true,
      env: { AWS_REGION: "us-east-1", AWS_EC2_METADATA_DISABLED: "true" },
    });
    assert.match(server.address, /^127\.0\.0\.1:\d+$/);
    assert.equal(server.healthAddress, `127.0.0.1:${health}`);
    // The pid is the deno process itself (sh exec'd it), so /proc figures are the server's.
    const cmdline = await Deno.readTextFile(`/proc/${server.pid}/cmdline`);
    assert.match(cmdline, /main\.ts\0server/);
    assert.ok((await rssMb(server.pid)) > 10);
    assert.ok((await peakRssMb(server.pid)) >= (await rssMb(server.pid)) - 1);
    assert.ok((await cpuMicros(server.pid)) > 0);
    const res = await fetch(`http://127.0.0.1:${health}/healthz`);
    assert.equal(await res.text(), "ok");
    const status = await server.stop("SIGTERM");
    assert.equal(status.code, 0);
    assert.ok(Number.isNaN(await rssMb(server.pid)), "gone after stop");
    assert.match(await Deno.readTextFile(`${dir}/server.log`), /server stopped/);
    // stdout (the version line; V8's --trace-gc) went to its own file, not into the log.
    assert.match(await Deno.readTextFile(`${dir}/stdout.log`), /^Authenticator Version: /);
    assert.doesNotMatch(await Deno.readTextFile(`${dir}/server.log`), /Authenticator Version/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("startServerProcess: a server that cannot start fails with its log", async () => {
  const dir = await Deno.makeTempDir({ prefix: "aia-server-process-" });
  try {
    await Deno.writeTextFile(`${dir}/config.yaml`, "server:\n  port: 0\n");
    await assert.rejects(
      startServerProcess({
        entry: `${ROOT}main.ts`,
        args: ["server", "--config", `${dir}/config.yaml`],
        logPath: `${dir}/server.log`,
      }),
      /exited; log:\n[^]*cluster ID cannot be empty/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("startServerProcess: another executable (the Go tool's binary) is run with the args, same readiness", async () => {
  const dir = await Deno.makeTempDir({ prefix: "aia-server-process-" });
  try {
    // Stands in for `aws-iam-authenticator server --config FILE`: logs like logrus, then serves.
    const fake = `${dir}/fake-authenticator`;
    await Deno.writeTextFile(
      fake,
      "#!/bin/sh\n" +
        `[ "$1 $2" = "server --config" ] || { echo "unexpected args: $*" >&2; exit 2; }\n` +
        `echo 'time="2026-01-01T00:00:00Z" level=info msg="listening on 127.0.0.1:4242"' >&2\n` +
        "exec sleep 60\n",
    );
    await Deno.chmod(fake, 0o755);
    const server = await startServerProcess({
      entry: "/not/used/main.ts",
      executable: fake,
      args: ["server", "--config", `${dir}/config.yaml`],
      logPath: `${dir}/server.log`,
    });
    assert.equal(server.address, "127.0.0.1:4242");
    // exec'd by sh, then by the script: the pid is the serving process. The script logs before
    // its own exec, so the readiness line can come while that exec is still under way.
    let cmdline = "";
    for (let i = 0; i < 100 && !cmdline.startsWith("sleep\0"); i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 20));
      cmdline = await Deno.readTextFile(`/proc/${server.pid}/cmdline`);
    }
    assert.match(cmdline, /^sleep\0/);
    await server.stop("SIGTERM");
    await assert.rejects(
      startServerProcess({
        entry: "/not/used/main.ts",
        executable: fake,
        args: ["version"],
        logPath: `${dir}/server2.log`,
      }),
      /fake-authenticator version exited; log:\n[^]*unexpected args: version/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mintTokens: one distinct token per principal per whole second", async () => {
  const p = (n: number) => ({ accessKeyId: `AKIAMINT${n}`, secretAccessKey: `s${n}` });
  const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
  const tokens = await mintTokens([p(1), p(2)], [at(0), at(1)], {
    clusterId: "c1",
    endpoint: "http://127.0.0.1:1",
  });
  assert.equal(tokens.length, 4);
  assert.equal(new Set(tokens).size, 4);
  for (const t of tokens) assert.match(t, /^k8s-aws-v1\./);
});
