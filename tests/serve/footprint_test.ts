/**
 * What the `server` command loads when it starts, read from the module graph (`deno info`):
 * only the static imports count, since dynamic ones load on the path that needs them. Every
 * module loaded at start stays in memory for the life of the process (docs/benchmarks.md#memory).
 */
import assert from "node:assert/strict";

const ROOT = new URL("../..", import.meta.url).pathname;

interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
}

/** The specifiers `entry` loads before any of its dynamic imports runs. */
async function staticGraph(entry: string): Promise<Set<string>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    roots: string[];
    modules: InfoModule[];
    redirects: Record<string, string>;
  };
  const bySpecifier = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const visit = (specifier: string) => {
    const s = info.redirects[specifier] ?? specifier;
    if (seen.has(s)) return;
    seen.add(s);
    for (const d of bySpecifier.get(s)?.dependencies ?? []) {
      if (d.code !== undefined && !d.isDynamic) visit(d.code.specifier);
    }
  };
  for (const root of info.roots) visit(root);
  return seen;
}

Deno.test("server start loads prom-client file by file, and no Kubernetes, AWS SDK or X.509 code", async () => {
  // `server` imports src/serve/mod.ts as it starts.
  const graph = [
    ...await staticGraph("src/cli/server.ts"),
    ...await staticGraph("src/serve/mod.ts"),
  ];
  assert.ok(graph.some((s) => s.endsWith("/src/serve/app.ts")));
  const npm = graph.filter((s) => s.startsWith("npm:"));
  // The package index would also load the Pushgateway (Node's http, https, zlib), the cluster
  // aggregator and the OpenTelemetry API.
  assert.deepEqual(npm.filter((s) => /^npm:\/?prom-client@[^/]+$/.test(s)), []);
  assert.ok(npm.some((s) => s.includes("prom-client@15.1.3/lib/registry.js")), npm.join("\n"));
  for (const pkg of ["@kubernetes/client-node", "@aws-sdk/", "@peculiar/x509", "@opentelemetry/"]) {
    assert.deepEqual(npm.filter((s) => s.includes(pkg)), [], pkg);
  }
});

Deno.test("the modules token and server load at start are Latin-1, which V8 stores at one byte a character", async () => {
  // One character above U+00FF, even in a JSDoc comment the emitted JavaScript keeps, makes V8
  // store the module's whole source (and the inline source map `deno run` appends) at two
  // bytes a character: 0.5 MB of an idle server's heap (docs/benchmarks.md#memory).
  const graph = new Set([
    ...await staticGraph("main.ts"),
    ...await staticGraph("src/cli/token.ts"),
    ...await staticGraph("src/cli/server.ts"),
    ...await staticGraph("src/serve/mod.ts"),
  ]);
  const local = [...graph].filter((s) => s.startsWith("file://"));
  assert.ok(local.some((s) => s.endsWith("/src/sign/mod.ts")), local.join("\n"));
  assert.ok(local.some((s) => s.endsWith("/src/serve/handler.ts")), local.join("\n"));
  const wide: string[] = [];
  for (const specifier of local) {
    const lines = (await Deno.readTextFile(new URL(specifier))).split("\n");
    lines.forEach((line, i) => {
      const c = [...line].find((ch) => ch.codePointAt(0)! > 0xff);
      if (c !== undefined) wide.push(`${specifier.slice(ROOT.length + 7)}:${i + 1}: ${c}`);
    });
  }
  assert.deepEqual(wide, [], "write these characters in ASCII (-> ... --)");
});
