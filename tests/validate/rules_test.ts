/**
 * One case per rule of the catalogue: an input that breaks it, and the exact position the
 * finding must have. A rule without a case fails the last test, so every rule stays tested.
 */

import assert from "node:assert/strict";
import {
  type Finding,
  type Input,
  lint,
  readMappingSources,
  RULE_IDS,
  type RuleId,
} from "../../src/validate/mod.ts";

const A = "111122223333";

/** An aws-auth manifest with these data values (block literals). */
function awsAuth(data: Record<string, string>): string {
  let s =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: aws-auth\n  namespace: kube-system\ndata:\n";
  for (const [k, v] of Object.entries(data)) {
    s += `  ${k}: |\n${v.split("\n").filter((l) => l !== "").map((l) => `    ${l}\n`).join("")}`;
  }
  return s;
}
// Lines of awsAuth(): data values start on line 8 (line 7 is `  mapRoles: |`), column 5.

const ROLE = (name: string, extra = "") =>
  `- rolearn: arn:aws:iam::${A}:role/${name}\n  username: ${name.toLowerCase()}\n${extra}`;

/** A file written to disk with this mode (the case then reads every file from disk). */
interface OnDisk {
  text: string;
  mode: number;
}

interface Case {
  rule: RuleId;
  files: Record<string, string | Uint8Array | OnDisk>;
  /** `file:line:col` of the expected finding (`<dir>` stands for the files' directory on disk). */
  at: string;
  compat?: boolean;
  /** A part of the message. */
  says?: RegExp;
}

const CONFIG = (server: string) => `clusterID: c\nserver:\n${server}`;

const CASES: Case[] = [
  { rule: "input.unreadable", files: {}, at: "/nonexistent/aws-auth.yaml:1:1" },
  {
    rule: "input.binary",
    files: { "b.yaml": new Uint8Array([0x7f, 0x45, 0, 1]) },
    at: "b.yaml:1:1",
  },
  {
    rule: "input.too_large",
    files: { "big.yaml": new Uint8Array(16 * 1024 * 1024 + 1) },
    at: "big.yaml:1:1",
  },
  { rule: "input.too_deep", files: { "d.yaml": "a: " + "[".repeat(100) }, at: "d.yaml:1:67" },
  {
    rule: "input.unrecognized",
    files: { "d.yaml": "apiVersion: apps/v1\nkind: Deployment\n" },
    at: "d.yaml:1:1",
  },
  {
    rule: "file.writable",
    files: {
      "server.yaml": { text: CONFIG("  mapAccounts: []\n"), mode: 0o666 },
      "dynamic.json": { text: "{}", mode: 0o620 },
    },
    at: "<dir>/server.yaml:1:1",
    says: /config file .*server\.yaml is writable by (group and )?others \(mode 0666\).*chmod go-w/,
  },
  {
    rule: "syntax.yaml",
    files: { "a.yaml": awsAuth({ mapRoles: ROLE("A") }) + "  x: y: z\n" },
    at: "a.yaml:10:6",
    says: /Nested mappings/,
  },
  {
    // The YAML inside data.mapRoles: the position is in the file, not in the string.
    rule: "syntax.yaml",
    files: { "a.yaml": awsAuth({ mapRoles: `${ROLE("A")} - rolearn: x\n   username: y\n` }) },
    at: "a.yaml:10:6",
  },
  {
    rule: "syntax.json",
    files: { "d.json": '{\n  "mapRoles": [\n    {"rolearn": "x",}\n  ]\n}\n' },
    at: "d.json:3:21",
  },
  {
    rule: "syntax.aliases",
    files: {
      "a.yaml": "a: &a [1,1,1,1,1,1,1,1,1,1]\nb: &b [" + "*a,".repeat(10) + "]\nc: &c [" +
        "*b,".repeat(10) + "]\nd: [" + "*c,".repeat(200) + "]\n",
    },
    at: "a.yaml:1:1",
  },
  {
    rule: "config.invalid",
    files: { "c.yaml": CONFIG("  partition: mars\n") },
    at: "c.yaml:3:3",
    says: /invalid partition/,
  },
  {
    rule: "config.deprecated",
    files: { "c.yaml": CONFIG("  backendMode: [File]\n") },
    at: "c.yaml:3:3",
  },
  {
    rule: "config.reserved_prefix",
    files: {
      "c.yaml": CONFIG(
        "  reservedPrefixConfig:\n    - backendmode: Nope\n      usernamePrefixReserveList: [x]\n",
      ),
    },
    at: "c.yaml:4:7",
  },
  {
    rule: "key.unknown",
    files: { "a.yaml": awsAuth({ mapRoles: ROLE("A", "  grups: [a]\n") }) },
    at: "a.yaml:10:7",
    says: /did you mean "groups"/,
  },
  {
    rule: "key.unknown",
    files: { "c.yaml": CONFIG("  portt: 1\n") },
    at: "c.yaml:3:3",
    says: /did you mean "server.port"/,
  },
  {
    rule: "key.case",
    files: { "a.yaml": awsAuth({ maproles: ROLE("A") }) },
    at: "a.yaml:7:3",
  },
  {
    rule: "key.wrong_section",
    files: { "a.yaml": awsAuth({ mapUsers: ROLE("A") }) },
    at: "a.yaml:8:7",
    says: /rolearn/,
  },
  {
    rule: "entry.type",
    files: { "a.yaml": awsAuth({ mapRoles: ROLE("A", "  groups: admins\n") }) },
    at: "a.yaml:8:7",
    says: /expected a list of strings/,
  },
  {
    rule: "entry.type",
    files: {
      "a.yaml":
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: aws-auth\ndata:\n  mapRoles:\n    - rolearn: x\n",
    },
    at: "a.yaml:6:3",
    says: /must be a string/,
  },
  {
    rule: "entry.missing_arn",
    files: { "a.yaml": awsAuth({ mapRoles: "- username: a\n" }) },
    at: "a.yaml:8:7",
  },
  {
    rule: "entry.arn_and_sso",
    files: {
      "a.yaml": awsAuth({
        mapRoles: `${ROLE("A")}  sso: {permissionSetName: X, accountID: "${A}"}\n`,
      }),
    },
    at: "a.yaml:8:7",
  },
  {
    rule: "entry.sso_invalid",
    files: {
      "a.yaml": awsAuth({
        mapRoles: `- sso: {permissionSetName: "a b", accountID: "${A}"}\n  username: x\n`,
      }),
    },
    at: "a.yaml:8:7",
  },
  {
    rule: "entry.strict_mode",
    files: {
      "c.yaml": CONFIG(
        "  backendMode: [DynamicFile]\n  dynamicfilepath: d.json\n  dynamicfileUserIDStrict: true\n",
      ),
      "d.json": `{"mapRoles": [\n  {"rolearn": "arn:aws:iam::${A}:role/A", "username": "a"}\n]}\n`,
    },
    at: "d.json:2:3",
  },
  {
    rule: "entry.duplicate",
    files: { "a.yaml": awsAuth({ mapRoles: ROLE("A") + ROLE("A") }) },
    at: "a.yaml:10:7",
    says: /the first one \(a\.yaml:8:7\) wins/,
  },
  {
    rule: "entry.shadowed_by_sso",
    files: {
      "a.yaml": awsAuth({
        mapRoles: `- sso: {permissionSetName: Admin, accountID: "${A}"}\n  username: sso\n` +
          ROLE("AWSReservedSSO_Admin_0123456789abcdef"),
      }),
    },
    at: "a.yaml:10:16",
  },
  {
    rule: "entry.shadowed_by_backend",
    files: {
      "c.yaml": CONFIG(
        `  backendMode: [MountedFile, EKSConfigMap]\n  mapRoles:\n    - rolearn: arn:aws:iam::${A}:role/A\n      username: a\n`,
      ),
      "a.yaml": awsAuth({ mapRoles: ROLE("A") }),
    },
    at: "a.yaml:8:16",
    says: /mapped first by MountedFile \(c\.yaml:5:7\)/,
  },
  {
    rule: "arn.malformed",
    files: { "a.yaml": awsAuth({ mapRoles: "- rolearn: arn:aws:iam::bad\n  username: a\n" }) },
    at: "a.yaml:8:7",
  },
  {
    rule: "arn.wildcard",
    files: {
      "a.yaml": awsAuth({ mapRoles: `- rolearn: arn:aws:iam::${A}:role/*\n  username: x\n` }),
    },
    at: "a.yaml:8:16",
  },
  {
    rule: "arn.role_in_users",
    files: {
      "a.yaml": awsAuth({ mapUsers: `- userarn: arn:aws:iam::${A}:role/A\n  username: a\n` }),
    },
    at: "a.yaml:8:16",
  },
  {
    rule: "arn.user_in_roles",
    files: {
      "a.yaml": awsAuth({ mapRoles: `- rolearn: arn:aws:iam::${A}:user/bob\n  username: b\n` }),
    },
    at: "a.yaml:8:16",
  },
  {
    rule: "arn.assumed_role",
    files: {
      "a.yaml": awsAuth({
        mapRoles: `- rolearn: arn:aws:sts::${A}:assumed-role/Admin/alice\n  username: a\n`,
      }),
    },
    at: "a.yaml:8:16",
    says: /every session/,
  },
  {
    rule: "account.malformed",
    files: { "a.yaml": awsAuth({ mapAccounts: "- '12345'\n" }) },
    at: "a.yaml:8:7",
  },
  {
    rule: "account.malformed",
    files: { "c.yaml": CONFIG("  mapAccounts: [012345678901]\n") },
    at: "c.yaml:3:17",
    says: /lost leading zeros \(012345678901\?\)/,
  },
  {
    rule: "account.unquoted",
    files: { "a.yaml": awsAuth({ mapAccounts: "- 012345678901\n" }) },
    at: "a.yaml:8:7",
  },
  {
    rule: "account.unquoted",
    files: { "c.yaml": CONFIG("  mapAccounts: [111122223333]\n") },
    at: "c.yaml:3:17",
  },
  {
    rule: "username.empty",
    files: { "a.yaml": awsAuth({ mapRoles: `- rolearn: arn:aws:iam::${A}:role/A\n` }) },
    at: "a.yaml:8:7",
  },
  {
    rule: "username.reserved",
    files: {
      "c.yaml": CONFIG(
        "  backendMode: [EKSConfigMap]\n  reservedPrefixConfig:\n    - backendmode: EKSConfigMap\n      usernamePrefixReserveList: [eks-]\n",
      ),
      "a.yaml": awsAuth({ mapRoles: ROLE("A").replace("username: a", "username: eks-a") }),
    },
    at: "a.yaml:9:17",
  },
  {
    rule: "username.system",
    files: {
      "a.yaml": awsAuth({
        mapRoles: ROLE("A").replace("username: a", "username: system:serviceaccount:x:y"),
      }),
    },
    at: "a.yaml:9:17",
    says: /service account/,
  },
  {
    rule: "group.system",
    files: { "a.yaml": awsAuth({ mapRoles: ROLE("A", "  groups: [system:authenticated]\n") }) },
    at: "a.yaml:10:15",
  },
  {
    rule: "group.masters",
    files: { "a.yaml": awsAuth({ mapRoles: ROLE("A", "  groups:\n  - system:masters\n") }) },
    at: "a.yaml:11:7",
    says: /grant 1 of 1/,
  },
  {
    rule: "template.unknown",
    files: {
      "a.yaml": awsAuth({ mapRoles: ROLE("A").replace("username: a", "username: a-{{Session}}") }),
    },
    at: "a.yaml:9:17",
    says: /did you mean \{\{SessionName\}\}/,
  },
  {
    rule: "template.not_rendered",
    files: {
      "a.yaml": awsAuth({
        mapRoles: "- rolearn: arn:aws:iam::{{AccountID}}:role/A\n  username: a\n",
      }),
    },
    at: "a.yaml:8:16",
  },
  {
    rule: "template.no_session",
    files: {
      "a.yaml": awsAuth({
        mapUsers:
          `- userarn: arn:aws:iam::${A}:user/u\n  username: system:node:{{EC2PrivateDNSName}}\n`,
      }),
    },
    at: "a.yaml:9:17",
  },
  {
    rule: "compat.role_path",
    compat: true,
    files: { "a.yaml": awsAuth({ mapRoles: ROLE("team/A") }) },
    at: "a.yaml:8:16",
  },
  {
    rule: "compat.account_order",
    compat: true,
    files: {
      "c.yaml": CONFIG(`  backendMode: [MountedFile, EKSConfigMap]\n  mapAccounts: ["${A}"]\n`),
      "a.yaml": awsAuth({ mapRoles: ROLE("A") }),
    },
    at: "a.yaml:8:16",
  },
  {
    rule: "compat.duplicate_order",
    compat: true,
    files: {
      "a.yaml": awsAuth({ mapRoles: ROLE("A") + ROLE("A").replace("username: a", "username: b") }),
    },
    at: "a.yaml:8:7",
    says: /a\.yaml:10:7/,
  },
  {
    rule: "compat.sso",
    compat: true,
    files: {
      "a.yaml": awsAuth({
        mapRoles:
          `- sso: {permissionSetName: Admin, accountID: "${A}", partition: aws}\n  username: x\n`,
      }),
    },
    at: "a.yaml:8:12",
    says: /never matches/,
  },
  {
    rule: "compat.assumed_role",
    compat: true,
    files: {
      "a.yaml": awsAuth({
        mapRoles: `- rolearn: arn:aws:sts::${A}:assumed-role/Admin/alice\n  username: a\n`,
      }),
    },
    at: "a.yaml:8:16",
  },
];

/** Read and lint `files` as validate does. */
export async function check(
  files: Record<string, string | Uint8Array | OnDisk>,
  compat = false,
): Promise<Finding[]> {
  const onDisk = Object.values(files).some((v) => typeof v === "object" && "mode" in v);
  if (onDisk) return await checkOnDisk(files, compat);
  const inputs: Input[] = Object.entries(files).map(([name, v]) =>
    typeof v === "string" ? { name, text: v } : { name, bytes: v as Uint8Array }
  );
  if (Object.keys(files).length === 0) inputs.push({ path: "/nonexistent/aws-auth.yaml" });
  const read = await readMappingSources(inputs);
  return [...read.findings, ...lint(read.sources, compat ? { compat: "go" } : {})];
}

/** {@link check} with real files (modes set explicitly), reported with `<dir>` for their directory. */
async function checkOnDisk(
  files: Record<string, string | Uint8Array | OnDisk>,
  compat: boolean,
): Promise<Finding[]> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.chmod(dir, 0o700);
    const inputs: Input[] = [];
    for (const [name, v] of Object.entries(files)) {
      const path = `${dir}/${name}`;
      const on = typeof v === "object" && "mode" in v ? v : undefined;
      if (typeof v === "string" || on) await Deno.writeTextFile(path, on ? on.text : v as string);
      else await Deno.writeFile(path, v as Uint8Array);
      if (on) await Deno.chmod(path, on.mode);
      inputs.push({ path });
    }
    const read = await readMappingSources(inputs);
    return [...read.findings, ...lint(read.sources, compat ? { compat: "go" } : {})].map((f) => ({
      ...f,
      file: f.file.replace(dir, "<dir>"),
    }));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const pos = (f: Finding) => `${f.file}:${f.line}:${f.column}`;

for (const c of CASES) {
  Deno.test(`rule ${c.rule} at ${c.at}`, async () => {
    const findings = await check(c.files, c.compat);
    const hit = findings.find((f) => f.rule === c.rule && pos(f) === c.at);
    assert.ok(
      hit,
      `expected ${c.rule} at ${c.at}; got:\n${
        findings.map((f) => `${pos(f)} ${f.rule}: ${f.message}`).join("\n")
      }`,
    );
    if (c.says) assert.match(hit.message, c.says);
    if (c.compat) {
      // compat findings only with --compat go.
      const without = await check(c.files, false);
      assert.ok(!without.some((f) => f.rule === c.rule), `${c.rule} reported without --compat`);
    }
  });
}

Deno.test("every rule of the catalogue has a case here", () => {
  const tested = new Set(CASES.map((c) => c.rule));
  assert.deepEqual(RULE_IDS.filter((r) => !tested.has(r)), []);
});

Deno.test("a clean aws-auth has no findings", async () => {
  const findings = await check({
    "a.yaml": awsAuth({
      mapRoles:
        `- rolearn: arn:aws:iam::${A}:role/Node\n  username: system:node:{{EC2PrivateDNSName}}\n` +
        "  groups: [system:bootstrappers, system:nodes]\n" + ROLE("Dev", "  groups: [dev]\n"),
      mapUsers: `- userarn: arn:aws:iam::${A}:user/alice\n  username: alice\n`,
      mapAccounts: `- "${A}"\n`,
    }),
  }, true);
  assert.deepEqual(findings.map((f) => `${pos(f)} ${f.rule}`), []);
});

Deno.test("docs/validate.md lists every rule with its severity and fix", async () => {
  const { RULES } = await import("../../src/validate/mod.ts");
  const doc = await Deno.readTextFile(new URL("../../docs/validate.md", import.meta.url));
  for (const id of RULE_IDS) {
    const row = doc.split("\n").find((l) => l.startsWith(`| \`${id}\``));
    assert.ok(row, `docs/validate.md has no row for ${id}`);
    const cells = row.split(/(?<!\\)\|/).map((c) => c.trim().replaceAll("\\|", "|"));
    assert.equal(cells[2], RULES[id].severity, `${id}: severity differs in the docs`);
    assert.equal(cells[4], RULES[id].fix, `${id}: fix differs in the docs`);
  }
});
