import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import { generateKeyPair } from "../../src/serve/certs.ts";
import { createHandler } from "../../src/serve/handler.ts";
import { silentLogger } from "../../src/serve/logging.ts";
import { createServerMetrics } from "../../src/serve/metrics.ts";
import { ReviewCache } from "../../src/serve/review_cache.ts";
import { listen, type ListenOptions } from "../../src/serve/server.ts";
import { Verifier } from "../../src/verify/mod.ts";
import { generateToken } from "../../src/sign/mod.ts";
import { freePort } from "../peers/ports.ts";
import { startStsPeer } from "../peers/sts_peer.ts";
import { httpsRequest, postTokenReview } from "./https_client.ts";

const ALICE = {
  accessKeyId: "AKIAALICEEXAMPLE0001",
  secretAccessKey: "alice-secret",
  arn: "arn:aws:iam::123456789012:user/alice",
  userId: "AIDAALICEEXAMPLE",
  account: "123456789012",
};

async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir();
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function options(dir: string, extra: Partial<ListenOptions> = {}): ListenOptions {
  return {
    address: "127.0.0.1",
    port: 0,
    hostname: "127.0.0.1",
    healthPort: 0,
    stateDir: `${dir}/state`,
    generateKubeconfig: `${dir}/out/kubeconfig.yaml`,
    kubeconfigPregenerated: false,
    handler: () => new Response("hello"),
    logger: silentLogger,
    ...extra,
  };
}

/** The CA and URL the API server would use, read back from the generated kubeconfig. */
async function fromKubeconfig(path: string): Promise<{ ca: string; url: string }> {
  const doc = parseYaml(await Deno.readTextFile(path));
  const cluster = doc.clusters[0].cluster;
  return { ca: atob(cluster["certificate-authority-data"]), url: cluster.server };
}

Deno.test("HTTPS round trip with the kubeconfig's CA, through the real verifier and STS peer", async () => {
  const peer = await startStsPeer({ principals: [ALICE] });
  try {
    await withTempDir(async (dir) => {
      const metrics = createServerMetrics({ processMetrics: false });
      const verifier = new Verifier({
        clusterId: "test-cluster",
        partition: "aws",
        stsEndpointOverride: peer.url,
        observer: metrics.sts,
      });
      const cache = new ReviewCache(verifier);
      const handler = createHandler({
        verify: (t) => cache.verify(t),
        map: (id) => {
          if (id.canonicalArn !== ALICE.arn) throw new Error("identity is not mapped");
          return { username: "alice", groups: ["devs"] };
        },
        logger: silentLogger,
        observeReview: (o, s) => metrics.observeReview(o, s),
        metrics,
      });
      const server = await listen(options(dir, { handler }));
      try {
        const { url, ca } = await fromKubeconfig(server.kubeconfigPath);
        const review = (_c: unknown, u: string, t: string) => postTokenReview(u, ca, t);
        const client = undefined;
        assert.equal(url, `https://127.0.0.1:${server.addr.port}/authenticate`);
        assert.equal(url, server.url);

        const token = await generateToken({
          clusterId: "test-cluster",
          credentials: { accessKeyId: ALICE.accessKeyId, secretAccessKey: ALICE.secretAccessKey },
          endpoint: peer.url,
          signingRegion: "us-east-1",
          now: new Date(),
        });
        const ok = await review(client, url, token.token);
        assert.equal(ok.status, 200);
        const user = (ok.body.status as { user: Record<string, unknown> }).user;
        assert.equal(user.username, "alice");
        assert.equal(user.uid, "aws-iam-authenticator:123456789012:AIDAALICEEXAMPLE");
        assert.deepEqual(user.groups, ["devs"]);

        // HTTP/1.1 clients get the same answer (as one chunk; see respond in handler.ts).
        const h1 = await httpsRequest(url, ca, {
          method: "POST",
          http1: true,
          body: JSON.stringify({
            apiVersion: "authentication.k8s.io/v1",
            kind: "TokenReview",
            spec: { token: token.token },
          }),
        });
        assert.equal(h1.status, 200);
        assert.equal(h1.contentType, "application/json; charset=UTF-8");
        assert.deepEqual(JSON.parse(h1.body), ok.body);

        // The second review of the same token is answered from the cache: no STS request.
        const before = peer.requestCount;
        assert.equal((await review(client, url, token.token)).status, 200);
        assert.equal(peer.requestCount, before);

        // A token minted for another cluster fails at STS (the signed header differs).
        const other = await generateToken({
          clusterId: "other-cluster",
          credentials: { accessKeyId: ALICE.accessKeyId, secretAccessKey: ALICE.secretAccessKey },
          endpoint: peer.url,
          signingRegion: "us-east-1",
          now: new Date(),
        });
        assert.equal((await review(client, url, other.token)).status, 200);

        // Throttling at STS becomes 429.
        peer.setFaults({ throttle: true });
        const fresh = await generateToken({
          clusterId: "test-cluster",
          credentials: { accessKeyId: ALICE.accessKeyId, secretAccessKey: ALICE.secretAccessKey },
          endpoint: peer.url,
          signingRegion: "us-east-1",
          now: new Date(Date.now() - 60_000), // a different X-Amz-Date: a different token, not a cache hit
        });
        assert.equal((await review(client, url, fresh.token)).status, 429);
        // STS answering garbage is a denial, and the server keeps serving.
        peer.setFaults({ status: 200, body: "<html>not json</html>" });
        assert.equal((await review(client, url, fresh.token)).status, 200);
        peer.setFaults({});
        assert.equal((await review(client, url, fresh.token)).status, 200);

        const health = await httpsRequest(`https://127.0.0.1:${server.addr.port}/healthz`, ca);
        assert.equal(health.body, "ok");
        const text = (await httpsRequest(`https://127.0.0.1:${server.addr.port}/metrics`, ca)).body;
        assert.match(
          text,
          /aws_iam_authenticator_sts_responses_total\{ResponseCode="200",StsRegion="custom"\} 3/,
        );
        assert.match(text, /aws_iam_authenticator_sts_throttling_total\{StsRegion="[^"]*"\} 1/);
        assert.match(text, /authenticate_latency_seconds_count\{result="success"\} 4/);
      } finally {
        await server.shutdown();
      }
    });
  } finally {
    await peer.close();
  }
});

Deno.test("the key pair is reused across restarts and a pregenerated kubeconfig is left alone", async () => {
  await withTempDir(async (dir) => {
    const first = await listen(options(dir));
    const kubeconfig = await Deno.readTextFile(first.kubeconfigPath);
    await first.shutdown();
    await Deno.writeTextFile(first.kubeconfigPath, "# operator's own\n");
    const second = await listen(options(dir, { kubeconfigPregenerated: true }));
    try {
      assert.equal(second.certPem, first.certPem);
      assert.equal(await Deno.readTextFile(second.kubeconfigPath), "# operator's own\n");
      assert.ok(kubeconfig.startsWith("\nclusters:\n"));
    } finally {
      await second.shutdown();
    }
  });
});

Deno.test("health listener binds the server's address and answers ok to anything", async () => {
  await withTempDir(async (dir) => {
    const healthPort = freePort();
    const server = await listen(options(dir, { healthPort }));
    try {
      assert.deepEqual(server.healthAddr, { hostname: "127.0.0.1", port: healthPort });
      for (const path of ["/", "/healthz", "/anything"]) {
        const res = await fetch(`http://127.0.0.1:${healthPort}${path}`, { method: "POST" });
        assert.equal(res.status, 200);
        assert.equal(await res.text(), "ok");
      }
    } finally {
      await server.shutdown();
    }
  });
});

Deno.test("busy ports and an unwritable state dir are clear startup errors", async () => {
  await withTempDir(async (dir) => {
    const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (taken.addr as Deno.NetAddr).port;
    try {
      await assert.rejects(
        listen(options(dir, { port })),
        new RegExp(
          `cannot listen for the webhook on 127\\.0\\.0\\.1:${port}: the port is already in use \\(--port / server\\.port\\)`,
        ),
      );
      await assert.rejects(
        listen(options(dir, { healthPort: port })),
        /cannot listen for the health check on 127\.0\.0\.1:\d+: the port is already in use \(--health-port \/ server\.healthPort; 0 disables it\)/,
      );
    } finally {
      taken.close();
    }
    await Deno.writeTextFile(`${dir}/file`, "");
    await assert.rejects(
      listen(options(dir, { stateDir: `${dir}/file/state` })),
      /state dir .*--state-dir \/ server\.stateDir/,
    );
  });
});

Deno.test("a key pair only the TLS stack can reject stops startup with advice", async () => {
  await withTempDir(async (dir) => {
    const a = await generateKeyPair("127.0.0.1", "127.0.0.1");
    const b = await generateKeyPair("127.0.0.1", "127.0.0.1");
    const lines = a.certPem.trim().split("\n");
    const mid = Math.floor(lines.length / 2);
    // Same length and shape, different bytes: the DER outline holds, the contents do not.
    lines[mid] = lines[mid]!.replace(/[A-Za-z]/g, (c) => (c === "A" ? "B" : "A"));
    for (
      const [what, cert, key] of [
        ["another pair's key", a.certPem, b.keyPem],
        ["a damaged certificate", lines.join("\n") + "\n", a.keyPem],
      ]
    ) {
      await Deno.mkdir(`${dir}/state`, { recursive: true });
      await Deno.writeTextFile(`${dir}/state/cert.pem`, cert!);
      await Deno.writeTextFile(`${dir}/state/key.pem`, key!, { mode: 0o600 });
      await assert.rejects(
        listen(options(dir)),
        /cannot use the TLS key pair in .*state: .*delete cert\.pem and key\.pem/,
        what,
      );
    }
  });
});

Deno.test("shutdown waits for in-flight requests, then refuses new connections", async () => {
  await withTempDir(async (dir) => {
    let release!: () => void;
    const gate = new Promise<void>((r) => release = r);
    let started!: () => void;
    const inFlight = new Promise<void>((r) => started = r);
    const server = await listen(options(dir, {
      handler: async () => {
        started();
        await gate;
        return new Response("finished");
      },
    }));
    const pending = httpsRequest(server.url, server.certPem, { method: "POST", body: "{}" });
    await inFlight;
    const stopping = server.shutdown();
    setTimeout(release, 100);
    const res = await pending;
    assert.equal(res.body, "finished");
    await stopping;
    await server.finished;
    await assert.rejects(
      httpsRequest(server.url, server.certPem, { method: "POST", body: "{}" }),
      /curl failed: .*(refused|connect)/i,
    );
  });
});

Deno.test("shutdown gives up on requests that outlast the timeout", async () => {
  await withTempDir(async (dir) => {
    let release!: () => void;
    const gate = new Promise<void>((r) => release = r);
    let started!: () => void;
    const inFlight = new Promise<void>((r) => started = r);
    const server = await listen(options(dir, {
      shutdownTimeoutMs: 100,
      handler: async () => {
        started();
        await gate;
        return new Response("late");
      },
    }));
    const pending = httpsRequest(server.url, server.certPem, { method: "POST", body: "{}" })
      .then((r) => r.body, () => "failed");
    await inFlight;
    const t0 = performance.now();
    await server.shutdown();
    assert.ok(performance.now() - t0 < 5_000);
    release();
    await pending;
    await server.finished;
  });
});

Deno.test("STS down: reviews are denied, counted, and the server keeps serving", async () => {
  const deadUrl = `http://127.0.0.1:${freePort()}`;
  await withTempDir(async (dir) => {
    const metrics = createServerMetrics({ processMetrics: false });
    const verifier = new Verifier({
      clusterId: "test-cluster",
      partition: "aws",
      stsEndpointOverride: deadUrl,
      observer: metrics.sts,
    });
    const cache = new ReviewCache(verifier);
    const handler = createHandler({
      verify: (t) => cache.verify(t),
      map: () => ({ username: "never", groups: [] }),
      logger: silentLogger,
      observeReview: (o, s) => metrics.observeReview(o, s),
      metrics,
    });
    const server = await listen(options(dir, { handler }));
    try {
      const token = await generateToken({
        clusterId: "test-cluster",
        credentials: { accessKeyId: ALICE.accessKeyId, secretAccessKey: ALICE.secretAccessKey },
        endpoint: deadUrl,
        signingRegion: "us-east-1",
        now: new Date(),
      });
      const denied = await postTokenReview(server.url, server.certPem, token.token);
      assert.equal(denied.status, 200);
      assert.deepEqual(denied.body.status, {
        user: {},
        error: "sts.unreachable: sts getCallerIdentity failed: error during GET: fetch failed on " +
          "custom endpoint. Check that the server can reach the STS endpoint (network, proxy, VPC " +
          "endpoint, DNS).",
      });
      const base = `https://127.0.0.1:${server.addr.port}`;
      assert.equal((await httpsRequest(`${base}/healthz`, server.certPem)).body, "ok");
      const text = (await httpsRequest(`${base}/metrics`, server.certPem)).body;
      assert.match(
        text,
        /aws_iam_authenticator_sts_connection_failures_total\{StsRegion="custom"\} 1/,
      );
      assert.match(text, /authenticate_latency_seconds_count\{result="sts_error"\} 1/);
    } finally {
      await server.shutdown();
    }
  });
});
