import assert from "node:assert/strict";

// The README's first command: it must keep working and keep printing what the README shows.
Deno.test("deno task demo: maps the admin user and the developer role, denies the stranger and explains why", async () => {
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
  assert.match(
    out,
    /IAM user stranger \(its mapping names the wrong account\)\n[\s\S]*?HTTP 200: denied\n +status\.error: map\.not_mapped: identity arn:aws:iam::999988887777:user\/stranger is not mapped/,
  );
  // The denied user asks explain why, and is told which entry came closest and why it missed.
  assert.match(out, /the stranger asks why: aws-iam-authenticator explain/);
  assert.match(out, /✔ STS: arn:aws:iam::999988887777:user\/stranger/);
  assert.match(out, /✘ Mapping: map\.not_mapped: /);
  assert.match(
    out,
    /arn:aws:iam::111122223333:user\/stranger: another account \(111122223333; you are in 999988887777\)/,
  );
  assert.match(out, /\(exit 1: 0 authenticated, 1 denied, 2 no verdict\)/);
  // validate catches a broken aws-auth edit before it is applied, with positions and rule IDs.
  assert.match(
    out,
    /an aws-auth edit, checked before kubectl apply: aws-iam-authenticator validate/,
  );
  assert.match(out, /aws-auth\.yaml:10:5: error syntax\.yaml: /);
  assert.match(out, /aws-auth\.yaml:13:7: error key\.wrong_section: /);
  assert.match(out, /\(exit 1: 0 clean, 1 errors, 2 could not read\)/);
  assert.match(out, /server stopped \(exit 0\)/);
});
