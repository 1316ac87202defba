/**
 * The platform's ceiling for `deno task bench:server --reference`: the least a TLS webhook on
 * `Deno.serve` can do per review and still call STS. It decodes the token's presigned URL,
 * sends it to the STS peer with `fetch`, and answers a TokenReview naming the ARN, with the
 * same single-chunk body as the real handler. No token checks, no timeouts, no cache, no
 * mapping, no metrics, no logs, and no imports (it reads the server's `cert.pem` and `key.pem`,
 * which the benchmark makes sure exist): NOT a server to run, only a yardstick for how much of
 * the real server's time per review, and of its memory, is the runtime's.
 *
 * Usage: deno run -A scripts/bench/reference_server.ts <stateDir> <clusterId>
 * (prints `msg="listening on HOST:PORT"` on stderr, as the real server does).
 *
 * @module
 */

const [stateDir, clusterId] = Deno.args;
if (stateDir === undefined || clusterId === undefined) {
  throw new Error("usage: reference_server.ts <stateDir> <clusterId>");
}
const pair = {
  certPem: Deno.readTextFileSync(`${stateDir}/cert.pem`),
  keyPem: Deno.readTextFileSync(`${stateDir}/key.pem`),
};
const encoder = new TextEncoder();
// HTTP/1.1 to STS, as the server's STS client (src/verify/sts_fetch.ts): over HTTP/2 the
// runtime's client holds each call behind the previous answer's ACK (Nagle is left on).
const client = Deno.createHttpClient({ http2: false });

function presignedUrl(token: string): string {
  const b64 = token.slice("k8s-aws-v1.".length).replaceAll("-", "+").replaceAll("_", "/");
  return atob(b64 + "==".slice(0, (4 - (b64.length % 4)) % 4));
}

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  cert: pair.certPem,
  key: pair.keyPem,
  onListen: ({ hostname, port }) => {
    Deno.stderr.writeSync(encoder.encode(`msg="listening on ${hostname}:${port}"\n`));
  },
}, async (req) => {
  const review = await req.json();
  const res = await fetch(presignedUrl(review.spec.token), {
    headers: { "x-k8s-aws-id": clusterId, accept: "application/json" },
    client,
  });
  const answer = await res.json();
  const arn = answer?.GetCallerIdentityResponse?.GetCallerIdentityResult?.Arn;
  const bytes = encoder.encode(JSON.stringify({
    apiVersion: review.apiVersion,
    kind: "TokenReview",
    status: res.ok ? { authenticated: true, user: { username: String(arn) } } : { user: {} },
  }));
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
  return new Response(body, {
    status: res.ok ? 200 : 403,
    headers: { "content-type": "application/json" },
  });
});
