import assert from "node:assert/strict";

// The README's first command: it must keep working and keep printing what the README shows.
Deno.test("deno task demo: maps the admin user and the developer role, denies the stranger", async () => {
  const root = new URL("../..", import.meta.url).pathname;
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "demo"],
    cwd: root,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(o.stdout);
  assert.equal(o.code, 0, out + new TextDecoder().decode(o.stderr));
  assert.match(out, /IAM user demo-admin\n[\s\S]*?HTTP 200: authenticated as "demo-admin"/);
  assert.match(out, /uid: +aws-iam-authenticator:111122223333:AIDADEMOADMIN/);
  assert.match(out, /groups: system:masters/);
  assert.match(
    out,
    /role Developers, session jane@example\.com\n[\s\S]*?HTTP 200: authenticated as "dev:jane-example\.com"/,
  );
  assert.match(out, /unmapped IAM user in another account\n[\s\S]*?HTTP 403: denied/);
  assert.match(out, /server stopped \(exit 0\)/);
});
