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
