/**
 * Describing credentials without revealing them: where they came from, the access key ID with
 * its middle masked, and when they expire. Secrets never reach this module's output.
 *
 * @module
 */

import type { Credentials, Profile } from "../sign/mod.ts";

/** `AKIAIOSFODNN7EXAMPLE` → `AKIA…MPLE`: enough to tell keys apart, not enough to use one. */
export function maskKeyId(keyId: string): string {
  if (keyId.length <= 8) return "…";
  return `${keyId.slice(0, 4)}…${keyId.slice(-4)}`;
}

/** The provider families a user recognizes, by the names the credential chain reports. */
const SOURCES: readonly [RegExp, string, string][] = [
  [/^EnvConfigCredentials$/, "environment", "the environment (AWS_ACCESS_KEY_ID)"],
  [/^SharedConfigCredentials/, "profile", "static keys"],
  [/^SSOProvider$/, "sso", "IAM Identity Center (SSO)"],
  [/^ProcessProvider$/, "credential_process", "credential_process"],
  [/^WebIdentityCredentials$/, "web_identity", "web identity (AssumeRoleWithWebIdentity)"],
  [/^AssumeRoleProvider$/, "assume_role_profile", "a role_arn profile (AssumeRole)"],
  [/^EC2RoleProvider$/, "instance_role", "the EC2 instance role (IMDS)"],
  [/^EndpointCredentials$/, "container", "the container credentials endpoint (ECS/EKS)"],
];

/** Where credentials came from, as a stable kind and a sentence. */
export function credentialSource(
  creds: Credentials,
  profile: Profile,
): { kind: string; text: string } {
  const source = creds.source ?? "";
  const found = SOURCES.find(([re]) => re.test(source));
  const kind = found?.[1] ?? "other";
  let text = found?.[2] ?? (source || "the AWS SDK's default chain");
  // Everything but the environment and the instance/container roles comes from the profile.
  if (!["environment", "instance_role", "container", "web_identity"].includes(kind)) {
    const where = profile.files.length > 0 ? ` in ${profile.files.join(" and ")}` : "";
    text = `profile ${profile.name}${where}, ${text}`;
  }
  return { kind, text };
}

/** The facts of a set of credentials for the report (never a secret). */
export function credentialFacts(creds: Credentials): Record<string, unknown> {
  return {
    accessKeyId: maskKeyId(creds.accessKeyId),
    temporary: creds.sessionToken !== undefined && creds.sessionToken !== "",
    expiration: creds.expiration?.toISOString() ?? null,
  };
}

/** `12m 5s`, `2h 3m`, `45s` for a duration in milliseconds (negative: `… ago` is the caller's). */
export function duration(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}
