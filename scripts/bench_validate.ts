// deno-lint-ignore-file no-console -- a command-line benchmark reports on stdout
/**
 * `validate` benchmark: an `aws-auth` ConfigMap manifest with 10,000 entries (8,000 in
 * `mapRoles`, 2,000 in `mapUsers`, block literals, a few mistakes so findings are produced).
 *
 * Measures
 * - in process: read + parse (the server's `parseAwsAuth`) + lint + human report, median and
 *   max over runs after a warm-up;
 * - the whole command, `deno run main.ts validate FILE` as a user runs it, median and max of
 *   wall-clock runs (process start and module loading included).
 *
 * Run: `deno task bench:validate [--runs N]`. Target (issue 16): under 1 s.
 *
 * @module
 */

import { formatHuman, lint, readMappingSources, sortFindings } from "../src/validate/mod.ts";

const ROLES = 8_000;
const USERS = 2_000;
const ACCT = "123456789012";
const runsAt = Deno.args.indexOf("--runs");
const RUNS = runsAt >= 0 ? Number(Deno.args[runsAt + 1]) : 11;

function manifest(): string {
  let roles = "";
  for (let i = 0; i < ROLES; i++) {
    roles += `    - rolearn: arn:aws:iam::${ACCT}:role/team-${i % 50}/Role-${i}\n` +
      `      username: role-${i}:{{SessionName}}\n` +
      `      groups:\n        - group-${i % 100}\n        - developers\n`;
  }
  // A few mistakes, so the report has findings to format.
  roles +=
    `    - rolearn: arn:aws:sts::${ACCT}:assumed-role/Admin/alice\n      username: a-{{Session}}\n`;
  let users = "";
  for (let i = 0; i < USERS; i++) {
    users += `    - userarn: arn:aws:iam::${ACCT}:user/User-${i}\n      username: user-${i}\n` +
      `      groups: [group-${i % 100}]\n`;
  }
  users += `    - rolearn: arn:aws:iam::${ACCT}:role/Misplaced\n      username: m\n`;
  return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: aws-auth\n  namespace: kube-system\n" +
    `data:\n  mapRoles: |\n${roles}  mapUsers: |\n${users}  mapAccounts: |\n    - "${ACCT}"\n`;
}

function stats(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const med = s[Math.floor(s.length / 2)]!;
  return `median ${med.toFixed(0)} ms, min ${s[0]!.toFixed(0)} ms, max ${
    s[s.length - 1]!.toFixed(0)
  } ms (${s.length} runs)`;
}

const dir = await Deno.makeTempDir({ prefix: "bench-validate-" });
try {
  const path = `${dir}/aws-auth.yaml`;
  const text = manifest();
  await Deno.writeTextFile(path, text);
  console.log(
    `aws-auth manifest: ${ROLES + USERS + 2} entries, ${(text.length / 1024).toFixed(0)} KiB`,
  );

  const once = async () => {
    const t0 = performance.now();
    const read = await readMappingSources([{ path }]);
    const findings = sortFindings([...read.findings, ...lint(read.sources)]);
    const out = formatHuman(findings);
    return { ms: performance.now() - t0, findings: findings.length, bytes: out.length };
  };
  for (let i = 0; i < 3; i++) await once();
  const inProcess: number[] = [];
  let last = { findings: 0, bytes: 0 };
  for (let i = 0; i < RUNS; i++) {
    const r = await once();
    inProcess.push(r.ms);
    last = r;
  }
  console.log(
    `in process (read + parse + lint + report, ${last.findings} findings): ${stats(inProcess)}`,
  );

  const main = new URL("../main.ts", import.meta.url).pathname;
  const config = new URL("../deno.json", import.meta.url).pathname;
  const whole: number[] = [];
  for (let i = 0; i < Math.max(3, Math.ceil(RUNS / 2)); i++) {
    const t0 = performance.now();
    const o = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", "--config", config, main, "validate", path],
      stdout: "null",
      stderr: "piped",
    }).output();
    const ms = performance.now() - t0;
    if (o.code !== 1) {
      throw new Error(`validate exited ${o.code}: ${new TextDecoder().decode(o.stderr)}`);
    }
    whole.push(ms);
  }
  console.log(`whole command (deno run main.ts validate): ${stats(whole)}`);
  const worst = Math.max(...whole);
  console.log(worst < 1000 ? "target < 1 s: met" : "target < 1 s: MISSED");
} finally {
  await Deno.remove(dir, { recursive: true });
}
