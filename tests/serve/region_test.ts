import assert from "node:assert/strict";
import { resolveServerRegion } from "../../src/serve/region.ts";

function envOf(values: Record<string, string>): (name: string) => string | undefined {
  return (name) => values[name];
}

/** A fake instance-metadata endpoint: IMDSv2 token, then the region. */
function imds(region: string, calls: string[]): typeof fetch {
  return (input, init) => {
    const url = String(input);
    calls.push(`${init?.method ?? "GET"} ${url}`);
    if (url.endsWith("/latest/api/token")) return Promise.resolve(new Response("imds-token"));
    if (new Headers(init?.headers).get("x-aws-ec2-metadata-token") !== "imds-token") {
      return Promise.resolve(new Response("", { status: 401 }));
    }
    return Promise.resolve(new Response(region));
  };
}

Deno.test("AWS_REGION, then AWS_DEFAULT_REGION, win without asking instance metadata", async () => {
  const calls: string[] = [];
  const fetch = imds("eu-west-1", calls);
  assert.deepEqual(
    await resolveServerRegion({
      env: envOf({ AWS_REGION: "us-west-2", AWS_DEFAULT_REGION: "x" }),
      fetch,
    }),
    { region: "us-west-2", source: "env" },
  );
  assert.deepEqual(
    await resolveServerRegion({ env: envOf({ AWS_DEFAULT_REGION: "ap-south-1" }), fetch }),
    { region: "ap-south-1", source: "env" },
  );
  assert.deepEqual(calls, []);
});

Deno.test("instance metadata (IMDSv2) is asked otherwise", async () => {
  const calls: string[] = [];
  const result = await resolveServerRegion({
    env: envOf({ AWS_EC2_METADATA_SERVICE_ENDPOINT: "http://imds.test/" }),
    fetch: imds("eu-west-1\n", calls),
  });
  assert.deepEqual(result, { region: "eu-west-1", source: "imds" });
  assert.deepEqual(calls, [
    "PUT http://imds.test/latest/api/token",
    "GET http://imds.test/latest/meta-data/placement/region",
  ]);
});

Deno.test("no region: disabled metadata, unreachable metadata or garbage all give ''", async () => {
  const calls: string[] = [];
  const disabled = await resolveServerRegion({
    env: envOf({ AWS_EC2_METADATA_DISABLED: "true" }),
    fetch: imds("eu-west-1", calls),
  });
  assert.equal(disabled.region, "");
  assert.equal(calls.length, 0);
  const down = await resolveServerRegion({
    env: envOf({}),
    fetch: () => Promise.reject(new TypeError("connection refused")),
  });
  assert.deepEqual(down, { region: "", source: "none", detail: "connection refused" });
  const garbage = await resolveServerRegion({ env: envOf({}), fetch: imds("<html>", []) });
  assert.equal(garbage.region, "");
});
