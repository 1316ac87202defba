import assert from "node:assert/strict";
import { configuredRegion, imdsRegion } from "../../src/sign/credentials.ts";
import {
  CredentialsError,
  defaultSignDeps,
  envCredentials,
  loadProfile,
  parseIni,
  profileName,
  resolveCredentials,
  type SignDeps,
} from "../../src/sign/mod.ts";

function deps(env: Record<string, string>, files: Record<string, string>): SignDeps {
  return {
    ...defaultSignDeps(),
    env: (n) => env[n],
    readTextFileSync: (p) => {
      if (p in files) return files[p]!;
      throw new Deno.errors.NotFound(p);
    },
    fetch: () => Promise.reject(new Error("no network in this test")),
  };
}

Deno.test("parseIni: sections, comments, lower-cased keys, nested settings skipped", () => {
  const ini = parseIni(
    "# top\n[default]\nRegion = us-west-2 # trailing\n;c\n[profile dev]\ns3 =\n  max_concurrent_requests = 5\naws_access_key_id=AK\n",
  );
  assert.deepEqual(ini.get("default"), { region: "us-west-2" });
  assert.deepEqual(ini.get("profile dev"), { s3: "", aws_access_key_id: "AK" });
});

Deno.test("env credentials, including the legacy names and the session token", () => {
  assert.equal(envCredentials(() => undefined), undefined);
  assert.deepEqual(
    envCredentials((n) =>
      ({ AWS_ACCESS_KEY: "A", AWS_SECRET_KEY: "S", AWS_SESSION_TOKEN: "T" })[n]
    ),
    { accessKeyId: "A", secretAccessKey: "S", sessionToken: "T", source: "EnvConfigCredentials" },
  );
  assert.equal(profileName((n) => ({ AWS_DEFAULT_PROFILE: "x" })[n]), "x");
  assert.equal(profileName(() => undefined), "default");
});

Deno.test("profile merge: the credentials file wins over the config file", async () => {
  const d = deps({ AWS_PROFILE: "dev", HOME: "/h" }, {
    "/h/.aws/config":
      "[profile dev]\nregion = eu-west-1\naws_access_key_id = FROMCONFIG\naws_secret_access_key = c\n",
    "/h/.aws/credentials": "[dev]\naws_access_key_id = FROMCREDS\naws_secret_access_key = s\n",
  });
  const p = loadProfile(d);
  assert.equal(p.exists, true);
  assert.equal(p.settings.region, "eu-west-1");
  const c = await resolveCredentials(d, p, "eu-west-1");
  assert.equal(c.accessKeyId, "FROMCREDS");
  assert.equal(c.source, "SharedConfigCredentials: /h/.aws/credentials");
});

Deno.test("an explicit profile that no file defines is an error naming the fix", async () => {
  const d = deps(
    { AWS_PROFILE: "ghost", AWS_CONFIG_FILE: "/c", AWS_SHARED_CREDENTIALS_FILE: "/k" },
    {
      "/c": "[profile other]\n",
    },
  );
  const p = loadProfile(d);
  const err = await resolveCredentials(d, p, "us-east-1").then(() => undefined, (e) => e);
  assert.ok(err instanceof CredentialsError);
  assert.match(
    err.message,
    /^failed to get shared config profile, ghost \(define \[profile ghost\] in \/c/,
  );
});

Deno.test("region from EC2 instance metadata (IMDSv2 token, then placement/region)", async () => {
  const seen: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const u = new URL(req.url);
    seen.push(`${req.method} ${u.pathname}`);
    if (req.method === "PUT" && u.pathname === "/latest/api/token") {
      return new Response("imds-token");
    }
    if (u.pathname === "/latest/meta-data/placement/region") {
      return req.headers.get("x-aws-ec2-metadata-token") === "imds-token"
        ? new Response("ap-northeast-3")
        : new Response("", { status: 401 });
    }
    return new Response("", { status: 404 });
  });
  try {
    const d = deps(
      { AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://127.0.0.1:${server.addr.port}/` },
      {},
    );
    assert.equal(await imdsRegion({ ...d, fetch: (i, init) => fetch(i, init) }), "ap-northeast-3");
    assert.deepEqual(seen, ["PUT /latest/api/token", "GET /latest/meta-data/placement/region"]);
    await assert.rejects(
      imdsRegion(deps({ AWS_EC2_METADATA_DISABLED: "true" }, {})),
      /AWS_EC2_METADATA_DISABLED/,
    );
  } finally {
    await server.shutdown();
  }
});

Deno.test("configured region order: flag, AWS_REGION, AWS_DEFAULT_REGION, profile", () => {
  const p = { name: "default", exists: true, settings: { region: "from-profile" }, files: [] };
  const env = (m: Record<string, string>) => (n: string) => m[n];
  assert.equal(configuredRegion("flag", env({ AWS_REGION: "r" }), p), "flag");
  assert.equal(configuredRegion("", env({ AWS_REGION: "r", AWS_DEFAULT_REGION: "d" }), p), "r");
  assert.equal(configuredRegion("", env({ AWS_DEFAULT_REGION: "d" }), p), "d");
  assert.equal(configuredRegion("", env({}), p), "from-profile");
  assert.equal(configuredRegion("", env({}), { ...p, settings: {} }), undefined);
});
