import assert from "node:assert/strict";
import { reset } from "@logtape/logtape";
import { configureLogging, parseLogVerbosity, redactSecrets } from "../../src/serve/logging.ts";

Deno.test("verbosity names follow logrus", () => {
  assert.equal(parseLogVerbosity("INFO"), "info");
  assert.equal(parseLogVerbosity("warn"), "warning");
  assert.equal(parseLogVerbosity("panic"), "fatal");
  assert.equal(parseLogVerbosity("trace"), "trace");
  assert.throws(
    () => parseLogVerbosity("loud"),
    /^Error: Invalid log level "loud"\. Valid values are: panic, fatal, error, warning, info, debug, trace$/,
  );
});

Deno.test("text format is logrus-like and respects the level", async () => {
  const lines: string[] = [];
  const log = await configureLogging({
    format: "text",
    verbosity: "info",
    write: (l) => lines.push(l),
  });
  try {
    log.debug("hidden");
    log.info("access granted", { username: "alice", groups: ["a", "b"], latencyMs: 1.5 });
    assert.equal(lines.length, 1);
    assert.match(
      lines[0]!,
      /^time="[^"]+" level=info msg="access granted" groups="\[a b\]" latencyMs=1\.5 username=alice\n$/,
    );
  } finally {
    await reset();
  }
});

Deno.test("json format: one object per line; unknown format warns and uses text", async () => {
  const lines: string[] = [];
  const log = await configureLogging({
    format: "json",
    verbosity: "debug",
    write: (l) => lines.push(l),
  });
  try {
    log.warn("access denied", { error: "x" });
    const obj = JSON.parse(lines[0]!);
    assert.equal(obj.level, "warning");
    assert.equal(obj.msg, "access denied");
    assert.equal(obj.error, "x");
    assert.equal(typeof obj.time, "string");
  } finally {
    await reset();
  }
  const lines2: string[] = [];
  await configureLogging({ format: "xml", verbosity: "info", write: (l) => lines2.push(l) });
  try {
    assert.match(
      lines2[0]!,
      /level=warning msg="Unknown log format specified \(xml\), will use default text formatter instead\."/,
    );
  } finally {
    await reset();
  }
});

Deno.test("redactSecrets removes tokens, URLs and signature parameters", () => {
  const token = "k8s-aws-v1.aHR0cHM6Ly9zdHMuYW1hem9uYXdzLmNvbS8_QWN0aW9u";
  const text = redactSecrets(
    `bad ${token} at https://sts.amazonaws.com/?X-Amz-Signature=abc and ?x-amz-credential=AKIA/x`,
    "rawtoken",
  );
  assert.equal(text.includes(token), false);
  assert.equal(text.includes("sts.amazonaws.com/?"), false);
  assert.equal(text.includes("AKIA/x"), false);
  assert.equal(redactSecrets("my rawtoken here", "rawtoken"), "my <token> here");
});
