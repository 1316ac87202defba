/**
 * The webhook kubeconfig the API server reads (`--authentication-token-webhook-config-file`), byte
 * for byte as the Go tool writes it
 * (https://github.com/kubernetes-sigs/aws-iam-authenticator/blob/v0.7.18/pkg/config/kubeconfig/kubeconfig.go),
 * so a switch from the Go server needs no change on the API server side.
 *
 * It is written with mode 0644 (kube-apiserver may run as another user; whoever could write it
 * could point kube-apiserver at a webhook of their own), and missing directories are created
 * 0755, whatever the umask.
 *
 * @module
 */

import { ensureDir, writeFileAtomic } from "./write_file_atomic.ts";

/** `host:port` with an IPv6 literal in brackets, as Go's `net.JoinHostPort`. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

function base64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** Renders the kubeconfig text: the CA data is base64 of the PEM certificate (not of the DER). */
export function renderWebhookKubeconfig(certPem: string, hostname: string, port: number): string {
  return `
clusters:
  - name: aws-iam-authenticator
    cluster:
      certificate-authority-data: ${base64(certPem)}
      server: https://${joinHostPort(hostname, port)}/authenticate
# user refers to the API server client
users:
  - name: apiserver
current-context: webhook
contexts:
- name: webhook
  context:
    cluster: aws-iam-authenticator
    user: apiserver
`;
}

/**
 * Writes the kubeconfig (mode 0644, through a new file renamed over `path`, so a symbolic link
 * planted there is replaced rather than followed), creating missing directories 0755. Throws
 * an error naming the path and the flag that sets it when the file cannot be written.
 */
export async function writeWebhookKubeconfig(path: string, text: string): Promise<void> {
  const slash = path.lastIndexOf("/");
  try {
    if (slash > 0) await ensureDir(path.slice(0, slash), 0o755);
    await writeFileAtomic(path, text, 0o644);
  } catch (err) {
    throw new Error(
      `could not write the webhook kubeconfig ${path} ` +
        `(--generate-kubeconfig / server.generateKubeconfig): ${(err as Error).message}`,
    );
  }
}
