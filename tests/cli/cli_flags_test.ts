import assert from "node:assert/strict";
import {
  type CliDeps,
  CliError,
  type CommandDef,
  configFromObject,
  FeatureGates,
  helpText,
  loadConfigFile,
  parseFlags,
  parseLogLevel,
  runCommand,
  Settings,
  UsageError,
} from "../../src/cli/cli_flags.ts";

const DEF: CommandDef = {
  name: "demo",
  short: "A demo command",
  flags: [
    {
      name: "role",
      short: "r",
      type: "string",
      usage: "role ARN",
      key: "role",
      env: "DEFAULT_ROLE",
    },
    { name: "token-only", type: "bool", usage: "only the token", key: "tokenOnly" },
    { name: "port", type: "int", default: 21362, usage: "port", key: "server.port" },
    {
      name: "backend-mode",
      type: "stringSlice",
      default: ["MountedFile"],
      usage: "modes",
      key: "server.backendMode",
    },
    { name: "sso", type: "stringToString", usage: "sso spec" },
  ],
  bindings: [{ key: "server.hostname", default: "localhost" }],
};

Deno.test("pflag syntaxes: long/short, =, attached, bool=false, slices, maps, --", () => {
  const p = parseFlags(DEF, [
    "-rarn:1",
    "--token-only",
    "--port=8080",
    "--backend-mode",
    "A,B",
    "--backend-mode=C",
    "--sso",
    "permissionSetName=x,accountID=1",
    "pos",
    "--",
    "--not-a-flag",
  ]);
  assert.equal(p.values.get("role"), "arn:1");
  assert.equal(p.values.get("token-only"), true);
  assert.equal(p.values.get("port"), 8080);
  assert.deepEqual(p.values.get("backend-mode"), ["A", "B", "C"]);
  assert.deepEqual(p.values.get("sso"), { permissionSetName: "x", accountID: "1" });
  assert.deepEqual(p.positionals, ["pos", "--not-a-flag"]);
  assert.deepEqual([...p.changed].sort(), ["backend-mode", "port", "role", "sso", "token-only"]);
  const q = parseFlags(DEF, ["--token-only=false", "-r=x", "-i", "cid", "-vdebug"]);
  assert.equal(q.values.get("token-only"), false);
  assert.ok(q.changed.has("token-only"));
  assert.equal(q.values.get("role"), "x");
  assert.equal(q.values.get("cluster-id"), "cid");
  assert.equal(q.values.get("log-verbosity"), "debug");
  assert.equal(parseFlags(DEF, ["-h"]).help, true);
  // pflag takes the next argument as a value even when it looks like a flag.
  assert.equal(parseFlags(DEF, ["--role", "--token-only"]).values.get("role"), "--token-only");
  assert.equal(parseFlags(DEF, ["-r", "-x"]).values.get("role"), "-x");
});

Deno.test("pflag error texts", () => {
  const cases: [string[], string][] = [
    [["--nope"], "unknown flag: --nope"],
    [["-q"], "unknown shorthand flag: 'q' in -q"],
    [["--role"], "flag needs an argument: --role"],
    [["-r"], "flag needs an argument: 'r' in -r"],
    [
      ["--port", "x"],
      'invalid argument "x" for "--port" flag: strconv.ParseInt: parsing "x": invalid syntax',
    ],
    [
      ["--token-only=yes"],
      'invalid argument "yes" for "--token-only" flag: strconv.ParseBool: parsing "yes": invalid syntax',
    ],
    [
      ["--sso", "novalue"],
      'invalid argument "novalue" for "--sso" flag: novalue must be formatted as key=value',
    ],
  ];
  for (const [argv, msg] of cases) {
    assert.throws(
      () => parseFlags(DEF, argv),
      (e) => e instanceof UsageError && e.message === msg,
      argv.join(" "),
    );
  }
});

Deno.test("viper precedence: changed flag > non-empty env > config file > default", () => {
  const cfg = configFromObject({ ROLE: "from-file", Server: { Port: 9000, backendMode: "A B" } });
  const env = (m: Record<string, string>) => (n: string) => m[n];
  const s1 = new Settings(DEF, parseFlags(DEF, []), env({}), cfg);
  assert.equal(s1.string("role"), "from-file");
  assert.equal(s1.source("role"), "config");
  assert.equal(s1.int("server.port"), 9000);
  assert.deepEqual(s1.stringSlice("server.backendMode"), ["A", "B"]);
  assert.equal(s1.string("server.hostname"), "localhost");
  const s2 = new Settings(DEF, parseFlags(DEF, []), env({ DEFAULT_ROLE: "from-env" }), cfg);
  assert.equal(s2.string("role"), "from-env");
  const s3 = new Settings(
    DEF,
    parseFlags(DEF, ["-r", "from-flag"]),
    env({ DEFAULT_ROLE: "from-env" }),
    cfg,
  );
  assert.equal(s3.string("role"), "from-flag");
  const s4 = new Settings(
    DEF,
    parseFlags(DEF, []),
    env({ DEFAULT_ROLE: "" }),
    configFromObject({}),
  );
  assert.equal(s4.string("role"), "");
  assert.equal(s4.source("role"), "default");
  assert.equal(s4.int("server.port"), 21362);
  assert.deepEqual(s4.stringSlice("server.backendMode"), ["MountedFile"]);
  const s5 = new Settings(
    DEF,
    parseFlags(DEF, []),
    env({ KUBERNETES_AWS_AUTHENTICATOR_CLUSTER_ID: "e" }),
    cfg,
  );
  assert.equal(s5.string("clusterid"), "e");
});

Deno.test("config source: dotted, case-insensitive keys", () => {
  const c = configFromObject({ server: { mapRoles: [{ rolearn: "x" }] }, clusterID: "id" });
  assert.deepEqual(c.get("SERVER.MAPROLES"), [{ rolearn: "x" }]);
  assert.equal(c.get("clusterid"), "id");
  assert.equal(c.has("server.nothing"), false);
  assert.equal(c.get("clusterID.deeper"), undefined);
});

Deno.test("config files: YAML and JSON by extension, viper's error wording", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/a.yaml`, "server:\n  Port: 1\n");
    assert.equal((await loadConfigFile(`${dir}/a.yaml`)).get("server.port"), 1);
    await Deno.writeTextFile(`${dir}/a.json`, '{"Server":{"port":2}}');
    assert.equal((await loadConfigFile(`${dir}/a.json`)).get("server.port"), 2);
    await Deno.writeTextFile(`${dir}/a.toml`, "x=1");
    await assert.rejects(loadConfigFile(`${dir}/a.toml`), (e) =>
      e instanceof CliError &&
      e.message ===
        `Can't read configuration file "${dir}/a.toml": Unsupported Config Type "toml"`);
    await assert.rejects(loadConfigFile(`${dir}/none.yaml`), (e) =>
      e instanceof CliError &&
      e.message ===
        `Can't read configuration file "${dir}/none.yaml": open ${dir}/none.yaml: no such file or directory`);
    await Deno.writeTextFile(`${dir}/b.json`, "{");
    await assert.rejects(loadConfigFile(`${dir}/b.json`), /While parsing config: /);
    await Deno.writeTextFile(`${dir}/c.yaml`, "- a list\n");
    await assert.rejects(loadConfigFile(`${dir}/c.yaml`), /top level must be a mapping/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("config syntax errors name file:line:col and the rule ID validate reports", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // One mis-indented line (the issue's example).
    await Deno.writeTextFile(
      `${dir}/m.yaml`,
      "clusterID: x\nserver:\n  port: 1\n  mapRoles: a: b\n",
    );
    await assert.rejects(loadConfigFile(`${dir}/m.yaml`), (e) =>
      e instanceof CliError &&
      e.message ===
        `Can't read configuration file "${dir}/m.yaml": While parsing config: ${dir}/m.yaml:4:13: syntax.yaml: Nested mappings are not allowed in compact mappings`);
    await Deno.writeTextFile(`${dir}/b.json`, '{\n  "server": {"port": 1,}\n}\n');
    await assert.rejects(
      loadConfigFile(`${dir}/b.json`),
      (e) =>
        e instanceof CliError &&
        e.message.startsWith(
          `Can't read configuration file "${dir}/b.json": While parsing config: ${dir}/b.json:2:24: syntax.json: `,
        ),
    );
    // Positions of keys, for start-up errors about them.
    await Deno.writeTextFile(`${dir}/ok.yaml`, "server:\n  mapRoles:\n    - rolearn: x\n");
    const src = await loadConfigFile(`${dir}/ok.yaml`);
    assert.deepEqual(src.locate?.("SERVER.maproles[0]"), { line: 3, column: 7 });
    await Deno.writeTextFile(`${dir}/ok.json`, '{"server": {\n "mapRoles": [{"rolearn": "x"}]}}');
    const json = await loadConfigFile(`${dir}/ok.json`);
    assert.equal(json.locate?.("server.mapRoles[0]"), undefined);
    await json.loadPositions?.();
    assert.deepEqual(json.locate?.("server.mapRoles[0]"), { line: 2, column: 15 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("feature gates: known gates, AllAlpha, unknown gate and bad value errors", () => {
  const g = new FeatureGates({ SSORoleMatch: "true" });
  assert.equal(g.enabled("SSORoleMatch"), true);
  assert.equal(g.enabled("ConfiguredInitDirectories"), false);
  assert.equal(new FeatureGates({ AllAlpha: "true" }).enabled("IAMIdentityMappingCRD"), true);
  assert.equal(
    new FeatureGates({ AllAlpha: "true", SSORoleMatch: "false" }).enabled("SSORoleMatch"),
    false,
  );
  assert.throws(() => new FeatureGates({ Foo: "true" }), /unrecognized feature gate: Foo/);
  assert.throws(
    () => new FeatureGates({ SSORoleMatch: "maybe" }),
    /invalid value of SSORoleMatch=maybe/,
  );
  assert.throws(
    () => new FeatureGates({ SSORoleMatch: "" }),
    /missing bool value for SSORoleMatch/,
  );
});

Deno.test("log levels parse like logrus", () => {
  assert.equal(parseLogLevel("WARN"), "warning");
  assert.equal(parseLogLevel("Debug"), "debug");
  assert.throws(() => parseLogLevel("x"), /^CliError: Invalid log level "x"/);
});

function capture(env: Record<string, string> = {}): CliDeps & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    env: (n) => env[n],
    stdout: (s) => out.push(s),
    stderr: (s) => err.push(s),
    readTextFile: (p) => Deno.readTextFile(p),
    now: () => new Date("2026-01-01T00:00:00Z"),
  };
}

Deno.test("runCommand: help on stdout, errors as one stderr line, log settings", async () => {
  const d = capture();
  assert.equal(await runCommand(DEF, ["--help"], () => 5, d), 0);
  assert.equal(d.out.join(""), helpText(DEF));
  assert.match(
    d.out.join(""),
    /^A demo command\n\nUsage:\n {2}aws-iam-authenticator demo \[flags\]\n\nFlags:\n/,
  );
  assert.match(d.out.join(""), /--port int +port \(default 21362\)/);
  assert.match(d.out.join(""), /Global Flags:\n {2}-i, --cluster-id ID /);

  const e = capture();
  assert.equal(await runCommand(DEF, ["--bad"], () => 0, e), 1);
  assert.deepEqual(e.err, [
    "Error: unknown flag: --bad. Run 'aws-iam-authenticator demo --help' for usage.\n",
  ]);
  assert.deepEqual(e.out, []);

  const l = capture({ AWS_IAM_AUTHENTICATOR_LOG_VERBOSITY: "debug" });
  assert.equal(
    await runCommand(DEF, ["-l", "json"], (ctx) => {
      ctx.log.debug("hello", { a: 1 });
      ctx.log.trace("hidden");
      return 3;
    }, l),
    3,
  );
  assert.deepEqual(l.err.map((s) => JSON.parse(s)), [{
    a: 1,
    level: "debug",
    msg: "hello",
    time: "2026-01-01T00:00:00Z",
  }]);

  const t = capture();
  await runCommand(DEF, ["-l", "xml"], (ctx) => {
    ctx.log.info("x y");
    return 0;
  }, t);
  assert.match(
    t.err[0]!,
    /^time="[^"]+" level=warning msg="Unknown log format specified \(xml\), will use default text formatter instead."\n$/,
  );
  assert.match(t.err[1]!, /^time="[^"]+" level=info msg="x y"\n$/);

  const c = capture();
  assert.equal(
    await runCommand(DEF, [], () => {
      throw new CliError("could not do it: because");
    }, c),
    1,
  );
  assert.deepEqual(c.err, ["could not do it: because\n"]);
});
