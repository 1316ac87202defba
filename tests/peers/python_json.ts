/**
 * Runs a Python script (botocore, an independent SigV4 implementation) with a JSON document on
 * stdin and parses the JSON it prints. Shared AWS config files are hidden from it so that only
 * the credentials in the input sign.
 *
 * @module
 */

import assert from "node:assert/strict";

/** Runs `python3 -c script` with `input` as JSON on stdin; returns its parsed JSON stdout. */
export async function pythonJson(script: string, input: unknown): Promise<unknown> {
  const p = new Deno.Command("python3", {
    args: ["-c", script],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { AWS_CONFIG_FILE: "/dev/null", AWS_SHARED_CREDENTIALS_FILE: "/dev/null" },
  }).spawn();
  const w = p.stdin.getWriter();
  await w.write(new TextEncoder().encode(JSON.stringify(input)));
  await w.close();
  const out = await p.output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}
