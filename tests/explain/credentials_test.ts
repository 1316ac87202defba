import assert from "node:assert/strict";
import { credentialSource, maskKeyId } from "../../src/explain/mod.ts";
import type { Profile } from "../../src/sign/mod.ts";

const PROFILE: Profile = {
  name: "dev",
  exists: true,
  settings: {},
  files: ["/home/u/.aws/config", "/home/u/.aws/credentials"],
};

Deno.test("maskKeyId keeps the first and last four characters only", () => {
  assert.equal(maskKeyId("AKIAIOSFODNN7EXAMPLE"), "AKIA…MPLE");
  assert.equal(maskKeyId("SHORT"), "…");
});

Deno.test("credentialSource names each provider family, with the profile and its files", () => {
  const cases: [string, string, string][] = [
    ["EnvConfigCredentials", "environment", "the environment (AWS_ACCESS_KEY_ID)"],
    [
      "SharedConfigCredentials: /home/u/.aws/credentials",
      "profile",
      "profile dev in /home/u/.aws/config and /home/u/.aws/credentials, static keys",
    ],
    [
      "SSOProvider",
      "sso",
      "profile dev in /home/u/.aws/config and /home/u/.aws/credentials, IAM Identity Center (SSO)",
    ],
    [
      "ProcessProvider",
      "credential_process",
      "profile dev in /home/u/.aws/config and /home/u/.aws/credentials, credential_process",
    ],
    ["WebIdentityCredentials", "web_identity", "web identity (AssumeRoleWithWebIdentity)"],
    ["EC2RoleProvider", "instance_role", "the EC2 instance role (IMDS)"],
    ["EndpointCredentials", "container", "the container credentials endpoint (ECS/EKS)"],
  ];
  for (const [source, kind, text] of cases) {
    assert.deepEqual(
      credentialSource({ accessKeyId: "AKIAX", secretAccessKey: "s", source }, PROFILE),
      { kind, text },
      source,
    );
  }
});
