import assert from "node:assert/strict";
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

Deno.test("text format is logrus-like and respects the level", () => {
  const lines: string[] = [];
  const log = configureLogging({
    format: "text",
    verbosity: "info",
    write: (l) => lines.push(l),
  });
  log.debug("hidden");
  log.info("access granted", { username: "alice", groups: ["a", "b"], latencyMs: 1.5 });
  assert.equal(lines.length, 1);
  assert.match(
    lines[0]!,
    /^time="[^"]+" level=info msg="access granted" groups="\[a b\]" latencyMs=1\.5 username=alice\n$/,
  );
});

Deno.test("text format: keys sorted whatever their order, undefined left out, values quoted", () => {
  const lines: string[] = [];
  const log = configureLogging({ format: "text", verbosity: "info", write: (l) => lines.push(l) });
  log.info("m", { a: 1, b: "x y", c: undefined, d: "" });
  log.info("m", { d: "", c: undefined, b: "x y", a: 1 });
  log.info("m", { err: new Error('boom "q"'), obj: { k: 1 } });
  const fields = (l: string) => l.slice(l.indexOf(" msg="));
  assert.equal(fields(lines[0]!), ' msg=m a=1 b="x y" d=""\n');
  assert.equal(fields(lines[1]!), fields(lines[0]!));
  assert.equal(fields(lines[2]!), ' msg=m err="boom \\"q\\"" obj="{\\"k\\":1}"\n');
  assert.match(lines[0]!, /^time="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z" level=info /);
});

Deno.test("levels: below the verbosity nothing is written; errors are written at once", () => {
  const seen: [string, boolean][] = [];
  const write = (l: string, urgent: boolean) => seen.push([l.match(/level=(\w+)/)![1]!, urgent]);
  const warnOnly = configureLogging({ format: "text", verbosity: "warn", write });
  warnOnly.debug("d");
  warnOnly.info("i");
  warnOnly.warn("w");
  warnOnly.error("e");
  assert.deepEqual(seen, [["warning", false], ["error", true]]);
  seen.length = 0;
  const all = configureLogging({ format: "text", verbosity: "trace", write });
  all.debug("d");
  all.info("i");
  assert.deepEqual(seen, [["debug", false], ["info", false]]);
  seen.length = 0;
  const quiet = configureLogging({ format: "text", verbosity: "panic", write });
  quiet.error("e");
  quiet.warn("w");
  assert.deepEqual(seen, []);
});

Deno.test("json format: one object per line; unknown format warns and uses text", () => {
  const lines: string[] = [];
  const log = configureLogging({
    format: "json",
    verbosity: "debug",
    write: (l) => lines.push(l),
  });
  log.warn("access denied", { error: "x", cause: new Error("y"), skipped: undefined });
  assert.equal(lines.length, 1);
  assert.ok(lines[0]!.endsWith("}\n"));
  const obj = JSON.parse(lines[0]!);
  assert.equal(obj.level, "warning");
  assert.equal(obj.msg, "access denied");
  assert.equal(obj.error, "x");
  assert.equal(obj.cause, "y");
  assert.equal("skipped" in obj, false);
  assert.equal(typeof obj.time, "string");
  const lines2: string[] = [];
  configureLogging({ format: "xml", verbosity: "info", write: (l) => lines2.push(l) });
  assert.match(
    lines2[0]!,
    /level=warning msg="Unknown log format specified \(xml\), will use default text formatter instead\."/,
  );
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
