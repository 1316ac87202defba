/**
 * An HTTPS client for tests that trusts exactly one CA, as kube-apiserver does with the webhook
 * kubeconfig's `certificate-authority-data`.
 *
 * Why curl (OpenSSL) and not `Deno.createHttpClient({ caCerts })`: the server certificate is,
 * like the Go tool's, a self-signed certificate with `IsCA: true` used directly as the serving
 * certificate. Go's TLS client (kube-apiserver) and OpenSSL accept that; rustls/webpki, which
 * Deno's fetch uses, rejects it with `CaUsedAsEndEntity`.
 *
 * @module
 */

/** A response: status code and body text. */
export interface CurlResponse {
  /** HTTP status. */
  status: number;
  /** Response body. */
  body: string;
  /** Response content type. */
  contentType: string;
}

/** Sends one request with curl, verifying the server against `caPem` only. */
export async function httpsRequest(
  url: string,
  caPem: string,
  init: { method?: string; body?: string; http1?: boolean } = {},
): Promise<CurlResponse> {
  const caFile = await Deno.makeTempFile({ suffix: ".pem" });
  try {
    await Deno.writeTextFile(caFile, caPem);
    const args = [
      init.http1 ? "--http1.1" : "--http2",
      "-sS",
      "--cacert",
      caFile,
      "-X",
      init.method ?? "GET",
      "-o",
      "-",
      "-w",
      "\n%{http_code} %{content_type}",
    ];
    if (init.body !== undefined) {
      args.push("-H", "content-type: application/json", "--data-binary", "@-");
    }
    args.push(url);
    const child = new Deno.Command("curl", {
      args,
      stdin: init.body !== undefined ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    if (init.body !== undefined) {
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(init.body));
      await writer.close();
    }
    const out = await child.output();
    const text = new TextDecoder().decode(out.stdout);
    if (!out.success) {
      throw new Error(`curl failed: ${new TextDecoder().decode(out.stderr).trim()}`);
    }
    const cut = text.lastIndexOf("\n");
    const [code, ...type] = text.slice(cut + 1).split(" ");
    return { status: Number(code), body: text.slice(0, cut), contentType: type.join(" ") };
  } finally {
    await Deno.remove(caFile);
  }
}

/** POSTs a v1 TokenReview for `token`. */
export async function postTokenReview(
  url: string,
  caPem: string,
  token: string,
  apiVersion = "authentication.k8s.io/v1",
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await httpsRequest(url, caPem, {
    method: "POST",
    body: JSON.stringify({ apiVersion, kind: "TokenReview", spec: { token } }),
  });
  return { status: res.status, body: JSON.parse(res.body) };
}
