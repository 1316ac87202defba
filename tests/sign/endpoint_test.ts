import assert from "node:assert/strict";
import { type Profile, resolveStsEndpoint } from "../../src/sign/mod.ts";

const none: Profile = { name: "default", exists: false, settings: {}, files: [] };
const env = (m: Record<string, string>) => (n: string) => m[n];

Deno.test("regional hosts, global, partitions, FIPS and dual-stack", () => {
  const cases: [string, Record<string, string>, string, string][] = [
    ["us-west-2", {}, "https://sts.us-west-2.amazonaws.com", "us-west-2"],
    ["aws-global", {}, "https://sts.amazonaws.com", "us-east-1"],
    ["cn-northwest-1", {}, "https://sts.cn-northwest-1.amazonaws.com.cn", "cn-northwest-1"],
    ["us-gov-east-1", {}, "https://sts.us-gov-east-1.amazonaws.com", "us-gov-east-1"],
    ["us-iso-east-1", {}, "https://sts.us-iso-east-1.c2s.ic.gov", "us-iso-east-1"],
    [
      "us-west-2",
      { AWS_USE_FIPS_ENDPOINT: "true" },
      "https://sts-fips.us-west-2.amazonaws.com",
      "us-west-2",
    ],
    [
      "us-west-2",
      { AWS_USE_DUALSTACK_ENDPOINT: "TRUE" },
      "https://sts.us-west-2.api.aws",
      "us-west-2",
    ],
    [
      "us-west-2",
      { AWS_USE_FIPS_ENDPOINT: "false" },
      "https://sts.us-west-2.amazonaws.com",
      "us-west-2",
    ],
  ];
  for (const [region, e, url, signing] of cases) {
    assert.deepEqual(resolveStsEndpoint(region, env(e), none), { url, signingRegion: signing });
  }
});

Deno.test("overrides: AWS_ENDPOINT_URL_STS > AWS_ENDPOINT_URL > profile endpoint_url", () => {
  const p: Profile = {
    name: "p",
    exists: true,
    settings: { endpoint_url: "https://p.example" },
    files: ["config"],
  };
  assert.equal(resolveStsEndpoint("eu-west-1", env({}), p).url, "https://p.example");
  assert.equal(
    resolveStsEndpoint("eu-west-1", env({ AWS_ENDPOINT_URL: "https://all.example/" }), p).url,
    "https://all.example",
  );
  const both = env({
    AWS_ENDPOINT_URL: "https://all.example",
    AWS_ENDPOINT_URL_STS: "http://127.0.0.1:9",
  });
  assert.deepEqual(resolveStsEndpoint("eu-west-1", both, p), {
    url: "http://127.0.0.1:9",
    signingRegion: "eu-west-1",
  });
  assert.equal(
    resolveStsEndpoint(
      "eu-west-1",
      env({ AWS_ENDPOINT_URL_STS: "https://x", AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: "true" }),
      p,
    )
      .url,
    "https://sts.eu-west-1.amazonaws.com",
  );
  assert.throws(
    () => resolveStsEndpoint("eu-west-1", env({ AWS_ENDPOINT_URL_STS: "not a url" }), none),
    /absolute URL/,
  );
  assert.throws(
    () => resolveStsEndpoint("eu-west-1", env({ AWS_ENDPOINT_URL_STS: "ftp://x" }), none),
    /http or https/,
  );
});
