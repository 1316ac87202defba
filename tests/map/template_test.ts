import assert from "node:assert/strict";
import {
  INSTANCE_ID_SESSION,
  renderMapping,
  renderTemplate,
  type TemplateContext,
} from "../../src/map/template.ts";

const ctx: TemplateContext = {
  accountId: "123456789012",
  sessionName: "alice@example.com",
  accessKeyId: "ASIAKEY",
};

Deno.test("placeholders render", async () => {
  const cases: [string, string][] = [
    ["kubernetes-admin", "kubernetes-admin"],
    ["aws:{{AccountID}}:instance:{{SessionName}}", "aws:123456789012:instance:alice-example.com"],
    ["{{SessionNameRaw}}", "alice@example.com"],
    ["{{AccessKeyID}}", "ASIAKEY"],
    ["{{Session}}", "{{Session}}"],
    ["{{AccountID}}{{AccountID}}", "123456789012123456789012"],
    ["{{ AccountID }}", "{{ AccountID }}"],
  ];
  for (const [tpl, want] of cases) assert.equal(await renderTemplate(tpl, ctx), want, tpl);
});

Deno.test("renderMapping: without the EC2 lookup the result is immediate, empty groups left out", () => {
  const out = renderMapping("u-{{SessionName}}", ["{{AccountID}}", "", "static"], ctx);
  // Not a promise: the review path renders a mapping on every review.
  assert.deepEqual(out, {
    username: "u-alice-example.com",
    groups: ["123456789012", "static"],
  });
});

Deno.test("renderMapping: with the EC2 lookup, in order, the first failure named", async () => {
  const lookups: string[] = [];
  const node = {
    ...ctx,
    sessionName: "i-0123456789abcdef0",
    privateDnsName: (id: string) => {
      lookups.push(id);
      return Promise.resolve("ip-10-0-0-1.ec2.internal");
    },
  };
  const out = renderMapping("system:node:{{EC2PrivateDNSName}}", ["nodes", "{{AccountID}}"], node);
  assert.ok(out instanceof Promise);
  assert.deepEqual(await out, {
    username: "system:node:ip-10-0-0-1.ec2.internal",
    groups: ["nodes", "123456789012"],
  });
  assert.deepEqual(lookups, ["i-0123456789abcdef0"]);
  // A static username with a group that needs the lookup: the group's template is named.
  await assert.rejects(
    Promise.resolve(renderMapping("{{SessionName}}", ["x:{{EC2PrivateDNSName}}"], ctx)),
    {
      message:
        'error rendering group template "x:{{EC2PrivateDNSName}}": SessionName did not contain an instance id',
    },
  );
});

Deno.test("one pass: inserted text is never expanded again (case 41)", async () => {
  const evil = { ...ctx, sessionName: "{{AccessKeyID}}", accessKeyId: "AKIAVICTIM" };
  assert.equal(await renderTemplate("u-{{SessionNameRaw}}", evil), "u-{{AccessKeyID}}");
  assert.equal(
    (renderMapping("u-{{SessionNameRaw}}", [], evil) as { username: string }).username,
    "u-{{AccessKeyID}}",
  );
  assert.equal(await renderTemplate("u-{{SessionName}}", evil), "u-{{AccessKeyID}}");
  const evil2 = { ...ctx, sessionName: "{{AccountID}}", accountId: "{{SessionNameRaw}}" };
  assert.equal(
    await renderTemplate("{{AccountID}}/{{SessionNameRaw}}", evil2),
    "{{SessionNameRaw}}/{{AccountID}}",
  );
});

Deno.test("EC2PrivateDNSName needs an instance-id session name (case 40)", async () => {
  const lookups: string[] = [];
  const withEc2 = (sessionName: string): TemplateContext => ({
    ...ctx,
    sessionName,
    privateDnsName: (id) => {
      lookups.push(id);
      return Promise.resolve(`ip-10-0-0-1.${id}.internal`);
    },
  });
  assert.equal(
    await renderTemplate("system:node:{{EC2PrivateDNSName}}", withEc2("i-0123456789abcdef0")),
    "system:node:ip-10-0-0-1.i-0123456789abcdef0.internal",
  );
  assert.equal(
    await renderTemplate("{{EC2PrivateDNSName}}", withEc2("i-01234567")),
    "ip-10-0-0-1.i-01234567.internal",
  );
  for (
    const bad of [
      "alice",
      "i-0123",
      "i-0123456789abcdef01",
      "i-0123456789abcdef0x",
      "xi-01234567",
      "i-01234567\n",
      "i-0123-567",
    ]
  ) {
    await assert.rejects(
      renderTemplate("{{EC2PrivateDNSName}}", withEc2(bad)),
      /^Error: SessionName did not contain an instance id$/,
      bad,
    );
  }
  assert.deepEqual(lookups, ["i-0123456789abcdef0", "i-01234567"]);
  assert.ok(INSTANCE_ID_SESSION.test("i-abcdefgh"));
  await assert.rejects(
    renderTemplate("{{EC2PrivateDNSName}}", { ...ctx, sessionName: "i-01234567" }),
    /no EC2 client/,
  );
});
