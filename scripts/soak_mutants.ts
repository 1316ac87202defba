/**
 * `deno task soak:mutants`: shows that every invariant of the soak can fail. Each mutant is a
 * copy of the server (`main.ts`, `src/`, `deno.json`, `deno.lock` in a temporary directory)
 * with one deliberate bug patched in, run under a short soak; the oracle must report the
 * invariant the bug breaks. A control run of the unpatched tree with the same settings must
 * report nothing. Nothing in the product knows about this: no switch, no environment variable.
 *
 * Options: `--only NAME[,NAME]` (run some mutants), `--duration 24` (seconds of load per run),
 * `--seed 1`, `--keep` (leave the temporary trees and run directories).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { defaultSoakOptions, runSoak, type SoakOptions, type SoakResult } from "./soak/run_soak.ts";

/** One deliberate bug. */
export interface Mutant {
  /** Short name. */
  name: string;
  /** What the bug does. */
  what: string;
  /** The invariant the oracle must then report (a prefix of its name). */
  breaks: string;
  /** The file patched, relative to the repository root. */
  file: string;
  /** Text that occurs exactly once in the file. */
  from: string;
  /** What replaces it. */
  to: string;
  /** Soak settings the bug needs to show (on top of the mutant defaults). */
  options?: Partial<SoakOptions>;
}

/** The mutants, one per way the server could let someone in, misreport, hang or leak. */
export const MUTANTS: readonly Mutant[] = [
  {
    name: "unmapped-to-fixed-user",
    what: "an identity no backend maps gets a fixed username instead of a denial",
    breaks: "1 false accept",
    file: "src/map/chain.ts",
    from: "  throw new NotMappedError();\n}",
    to: '  return { username: "soak-fallback", groups: [], identityArn: id.canonicalArn };\n}',
  },
  {
    name: "reserved-prefix-skipped",
    what: "the reserved-prefix check never refuses",
    breaks: "1 false accept",
    file: "src/map/chain.ts",
    from: "const refused = reserved.some((p) => username.startsWith(p));",
    to: "const refused = reserved.length < 0;",
  },
  {
    name: "cache-key-too-coarse",
    what: "the identity cache keys tokens by their first 211 characters (access key and date)",
    breaks: "1 false accept",
    file: "src/serve/review_cache.ts",
    from: "const key = tokenKey(token);",
    to: "const key = tokenKey(token.slice(0, 211));",
  },
  {
    name: "cache-ignores-expiry",
    what: "a cached identity is used for an hour after its token expired",
    breaks: "1 false accept",
    file: "src/serve/review_cache.ts",
    from: "if (this.#now() <= cached.expiresAtMs) {",
    to: "if (this.#now() <= cached.expiresAtMs + 3_600_000) {",
  },
  {
    name: "deletion-not-revoking",
    what: "deleting the DynamicFile keeps its mappings",
    breaks: "1 false accept",
    file: "src/map/dynamic_file.ts",
    from: "        this.source.clear();",
    to: "        void this.source;",
    options: { durationS: 40 },
  },
  {
    name: "groups-truncated",
    what: "only the first group of a mapping is passed on",
    breaks: "2 wrong user or groups",
    file: "src/map/chain.ts",
    from: 'if (rendered !== "") groups.push(rendered);',
    to: 'if (rendered !== "" && groups.length < 1) groups.push(rendered);',
  },
  {
    name: "throttling-as-denial",
    what: "a throttled STS call is answered as a plain denial instead of 429",
    breaks: "3 throttling not 429",
    file: "src/serve/handler.ts",
    from: 'json(outcome === "sts_throttling" ? 429 : DENIED, body)',
    to: "json(DENIED, body)",
  },
  {
    name: "sts-5xx-parsed",
    what: "a 5xx answer from STS is read as if it were an identity",
    breaks: "3 denial reason without a cause",
    file: "src/verify/sts.ts",
    from: "if (res.status !== 200) {",
    to: "if (res.status !== 200 && res.status < 500) {",
  },
  {
    name: "sts-host-unchecked",
    what: "any host in a token is taken for the STS endpoint override",
    breaks: "3 denial reason without a cause",
    file: "src/verify/token.ts",
    from: "if (o.overrideOrigin !== undefined && `${scheme}://${host}` === o.overrideOrigin) {",
    to: "if (o.overrideOrigin !== undefined) {",
  },
  {
    name: "exit-on-sigterm",
    what: "SIGTERM exits at once instead of finishing the reviews in flight",
    breaks: "3 no answer",
    file: "src/cli/server.ts",
    from: "      void server.close();",
    to: "      Deno.exit(0);",
    options: { processFaults: true },
  },
  {
    name: "memory-leak",
    what: "every review keeps 4 KiB alive forever",
    breaks: "4 memory grows",
    file: "src/serve/handler.ts",
    from: "const parsed = parseReview(body);",
    to: "const parsed = parseReview(body); " +
      "((globalThis as any).soakLeak ??= []).push(new Uint8Array(4096).fill(1));",
    options: { warmupS: 4 },
  },
  {
    name: "event-loop-blocked",
    what: "one review in a thousand blocks the event loop for 2 s",
    breaks: "4 event loop delayed",
    file: "src/serve/handler.ts",
    from: "const parsed = parseReview(body);",
    to: "const parsed = parseReview(body); if (Math.random() < 0.001) { " +
      "const until = Date.now() + 2000; while (Date.now() < until); }",
  },
];

const ROOT = new URL("../", import.meta.url).pathname;

/** A copy of the server's tree with the mutant's patch applied; returns its directory. */
export async function mutantTree(m: Mutant | undefined): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: `aia-mutant-${m?.name ?? "control"}-` });
  const cp = await new Deno.Command("cp", {
    args: ["-r", `${ROOT}src`, `${ROOT}main.ts`, `${ROOT}deno.json`, `${ROOT}deno.lock`, dir],
    stderr: "piped",
  }).output();
  if (!cp.success) throw new Error(`cp failed: ${new TextDecoder().decode(cp.stderr)}`);
  if (m !== undefined) {
    const path = `${dir}/${m.file}`;
    const text = await Deno.readTextFile(path);
    const count = text.split(m.from).length - 1;
    if (count !== 1) {
      throw new Error(
        `mutant ${m.name}: ${JSON.stringify(m.from)} occurs ${count} times in ${m.file}; ` +
          "update the mutant to the current code",
      );
    }
    await Deno.writeTextFile(path, text.replace(m.from, m.to));
  }
  return dir;
}

/** The soak settings of a mutant run: short, no kube-apiserver, no fuzzing, no restarts. */
export function mutantOptions(m: Mutant | undefined, base: Partial<SoakOptions> = {}): SoakOptions {
  return {
    ...defaultSoakOptions(),
    durationS: 24,
    kube: false,
    fuzzS: 0,
    processFaults: false,
    warmupS: 8,
    thresholds: { rssSlopeMbPerMin: 30, healthP99Ms: 1000, latencyBoundMs: 15_000 },
    ...base,
    ...m?.options,
    command: `soak of mutant ${m?.name ?? "control"}`,
  };
}

/** Runs one mutant (or the control, `undefined`) and says whether the oracle caught it. */
export async function runMutant(
  m: Mutant | undefined,
  base: Partial<SoakOptions> = {},
  keep = false,
): Promise<{ caught: boolean; result: SoakResult }> {
  const tree = await mutantTree(m);
  const dir = await Deno.makeTempDir({ prefix: `aia-mutant-run-${m?.name ?? "control"}-` });
  try {
    const result = await runSoak({ ...mutantOptions(m, base), root: tree, dir });
    const caught = m === undefined
      ? !result.ok
      : result.violations.some((v) => v.invariant.startsWith(m.breaks));
    return { caught, result };
  } finally {
    if (!keep) {
      await Deno.remove(tree, { recursive: true }).catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  }
}

const encoder = new TextEncoder();
function print(line: string): void {
  Deno.stdout.writeSync(encoder.encode(line + "\n"));
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      only: { type: "string" },
      duration: { type: "string" },
      seed: { type: "string", default: "1" },
      keep: { type: "boolean", default: false },
    },
  });
  const only = values.only?.split(",");
  const chosen = MUTANTS.filter((m) => only === undefined || only.includes(m.name));
  if (only !== undefined && chosen.length !== only.length) {
    throw new Error(`unknown mutant; known: ${MUTANTS.map((m) => m.name).join(", ")}`);
  }
  const base: Partial<SoakOptions> = { seed: Number(values.seed) };
  if (values.duration !== undefined) base.durationS = Number(values.duration);
  let failed = 0;
  print("control: the unpatched tree under the same settings must break nothing");
  const control = await runMutant(undefined, base, values.keep);
  print(
    `  ${control.caught ? "FAIL" : "ok  "} control: ${control.result.violations.length} violations`,
  );
  for (const v of control.result.violations.slice(0, 5)) {
    print(`       [${v.invariant}] ${v.detail}`);
  }
  if (control.caught) failed++;
  for (const m of chosen) {
    const { caught, result } = await runMutant(m, base, values.keep);
    const found = result.violations.filter((v) => v.invariant.startsWith(m.breaks));
    print(
      `  ${caught ? "ok  " : "MISS"} ${m.name}: ${m.what} -> ${m.breaks}: ` +
        `${found.length} of ${result.violations.length} violations`,
    );
    if (found[0]) print(`       e.g. ${found[0].detail}`);
    if (!caught) failed++;
  }
  print(failed === 0 ? "every invariant was seen to fail" : `${failed} runs went wrong`);
  return failed === 0 ? 0 : 1;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    print(`soak:mutants: ${e instanceof Error ? e.message : e}`);
    Deno.exit(2);
  }
}
