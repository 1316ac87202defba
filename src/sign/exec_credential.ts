/**
 * The ExecCredential document kubectl reads from an exec plugin's stdout.
 *
 * @module
 */

import type { Token } from "./presign.ts";

/** The apiVersion used when `KUBERNETES_EXEC_INFO` does not name one. */
export const DEFAULT_EXEC_API_VERSION = "client.authentication.k8s.io/v1beta1";

/**
 * The apiVersion to answer with: the one in `KUBERNETES_EXEC_INFO` when it is JSON with a
 * non-empty string `apiVersion`, else v1beta1. (The Go tool answers with no apiVersion when
 * the JSON lacks one, which kubectl rejects; port decision 15.)
 */
export function execCredentialApiVersion(execInfo: string | undefined): string {
  if (!execInfo) return DEFAULT_EXEC_API_VERSION;
  try {
    const v = (JSON.parse(execInfo) as { apiVersion?: unknown } | null)?.apiVersion;
    return typeof v === "string" && v !== "" ? v : DEFAULT_EXEC_API_VERSION;
  } catch {
    return DEFAULT_EXEC_API_VERSION;
  }
}

/** RFC 3339 in UTC with whole seconds (`2023-04-28T00:14:00Z`). */
export function rfc3339Seconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Compact ExecCredential JSON in the Go tool's field order (no trailing newline). */
export function formatExecCredential(token: Token, apiVersion: string): string {
  return JSON.stringify({
    kind: "ExecCredential",
    apiVersion,
    spec: { interactive: false },
    status: { expirationTimestamp: rfc3339Seconds(token.expiration), token: token.token },
  });
}
