import { strict as assert } from "node:assert";

const SCRIPT = new URL("../../scripts/bench_server.ts", import.meta.url).pathname;

async function benchArgsError(args: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, ...args],
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  assert.notEqual(out.code, 0);
  return new TextDecoder().decode(out.stderr);
}

Deno.test("bench:server refuses --go-tool without --sts-host, and --sts-host over plain HTTP", async () => {
  // Refused before any load: the Go tool verifies only tokens for AWS STS host names.
  assert.match(
    await benchArgsError(["--go-tool", "/bin/true", "--sts", "tls"]),
    /--go-tool needs --sts-host \(the Go tool calls only AWS STS host names/,
  );
  assert.match(
    await benchArgsError(["--sts-host", "sts.us-east-1.amazonaws.com"]),
    /--sts-host needs --sts tls or --sts tls-http1/,
  );
  assert.match(
    await benchArgsError([
      "--go-tool",
      "/bin/true",
      "--sts",
      "tls",
      "--sts-host",
      "sts.us-east-1.amazonaws.com",
      "--reference",
    ]),
    /cannot be combined with --reference/,
  );
});

Deno.test("bench:server refuses an unknown --client", async () => {
  assert.match(await benchArgsError(["--client", "h3"]), /--client must be one of wrk, h2, not h3/);
});
