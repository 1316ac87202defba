/**
 * `deno task bench:explain`: `explain --arn` against a server config with 10,000 mappings
 * (5,000 roles, 5,000 users), as a whole command (`deno run main.ts explain`, process start and
 * YAML parse included) and as the in-process step (build the backends, decide, find the closest
 * entries). Two questions: an ARN that matches (the last entry), and one that matches nothing
 * but has near entries (the slowest path: every entry is compared).
 *
 * Usage: deno task bench:explain [--entries 10000] [--runs 5]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { buildServerConfig } from "../src/config/mod.ts";
import { backendsFromConfig, explain } from "../src/explain/mod.ts";
import { configFromObject } from "../src/cli/cli_flags.ts";
import { defaultGeneratorDeps, defaultSignDeps } from "../src/sign/mod.ts";
import { parse as parseYaml } from "yaml";

const { values } = parseArgs({
  options: {
    entries: { type: "string", default: "10000" },
    runs: { type: "string", default: "5" },
  },
});
const ENTRIES = Number(values.entries);
const RUNS = Number(values.runs);
const ACCT = "111122223333";
const enc = new TextEncoder();
const print = (s: string) => Deno.stdout.writeSync(enc.encode(s + "\n"));

function configText(n: number): string {
  let roles = "";
  let users = "";
  for (let i = 0; i < n / 2; i++) {
    roles += `  - rolearn: arn:aws:iam::${ACCT}:role/team-${i}/Role${i}\n` +
      `    username: role-${i}:{{SessionName}}\n    groups: [group-${i % 50}]\n`;
    users += `  - userarn: arn:aws:iam::${ACCT}:user/user${i}\n    username: user-${i}\n` +
      `    groups: [group-${i % 50}]\n`;
  }
  return `clusterID: bench\nserver:\n  mapRoles:\n${roles}  mapUsers:\n${users}`;
}

function stats(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const median = s[Math.floor(s.length / 2)]!;
  return `median ${median.toFixed(1)} ms (min ${s[0]!.toFixed(1)}, max ${s.at(-1)!.toFixed(1)})`;
}

const dir = await Deno.makeTempDir({ prefix: "bench_explain_" });
try {
  const path = `${dir}/config.yaml`;
  const text = configText(ENTRIES);
  await Deno.writeTextFile(path, text);
  const last = ENTRIES / 2 - 1;
  const questions: [string, string][] = [
    ["matches (last role)", `arn:aws:sts::${ACCT}:assumed-role/Role${last}/bench`],
    ["matches nothing (near entries)", `arn:aws:iam::${ACCT}:user/user${last}x`],
  ];
  print(`explain --arn against ${ENTRIES} mappings (${(text.length / 1e6).toFixed(2)} MB YAML)`);

  // In process: what explain adds once the config is parsed.
  const config = buildServerConfig({ file: configFromObject(parseYaml(text)) });
  for (const [name, arn] of questions) {
    const times: number[] = [];
    let verdict = "";
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      const { backends } = await backendsFromConfig(config, path, {}, {
        readTextFile: (p) => Deno.readTextFile(p),
      });
      const report = await explain({
        clusterId: "",
        partition: "aws",
        region: "",
        roleArn: "",
        externalId: "",
        sessionName: "",
        forwardSessionName: false,
        arn,
        offline: true,
        backends,
        adminSource: "",
      }, {
        sign: defaultGeneratorDeps(defaultSignDeps(), { info() {}, warn() {} }),
        env: () => undefined,
        fetch,
        now: () => new Date(),
      });
      times.push(performance.now() - t0);
      verdict = report.verdict;
    }
    print(`  in process, ${name}: ${stats(times)} -> ${verdict}`);
  }

  // The whole command, as a user runs it.
  for (const [name, arn] of questions) {
    const times: number[] = [];
    let code = -1;
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "--quiet",
          new URL("../main.ts", import.meta.url).pathname,
          "explain",
          "--arn",
          arn,
          "-c",
          path,
        ],
        stdout: "null",
        stderr: "null",
      }).output();
      times.push(performance.now() - t0);
      code = out.code;
    }
    print(`  whole command, ${name}: ${stats(times)} -> exit ${code}`);
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
