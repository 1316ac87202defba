/**
 * One step of `deno task bench:memory`: a TLS `Deno.serve` that answers "ok", after loading the
 * layers named on the command line, in order, so that the resident memory of each layer shows
 * as the difference between two runs. Not a server to run.
 *
 * Usage: deno run -A scripts/bench/memory_probe.ts <stateDir> idle | [layer…]
 * `idle`: no server, only a timer (the runtime alone). Layers: `node` (Node compatibility,
 * through `node:crypto` as the identity cache loads it), `prom` (prom-client's files and process
 * collectors, as the server loads them), `yaml` (the module; `yaml-parse=FILE` also
 * parses FILE), `server` (every module the server loads at start: src/serve/mod.ts). Prints
 * `ready` on stderr once listening.
 *
 * @module
 */

const [stateDir, ...layers] = Deno.args;
if (stateDir === undefined) throw new Error("usage: memory_probe.ts <stateDir> idle | [layer…]");
const ready = () => void Deno.stderr.writeSync(new TextEncoder().encode("ready\n"));

async function load(layer: string): Promise<void> {
  if (layer === "node") {
    await import("node:crypto");
  } else if (layer === "prom") {
    const prom = await import("../../src/serve/prom_client.ts");
    prom.registerProcessCollectors(new prom.Registry());
  } else if (layer === "yaml") {
    await import("yaml");
  } else if (layer.startsWith("yaml-parse=")) {
    const yaml = await import("yaml");
    yaml.parse(await Deno.readTextFile(layer.slice("yaml-parse=".length)));
  } else if (layer === "server") {
    await import("../../src/serve/mod.ts");
  } else {
    throw new Error(`unknown layer ${layer}`);
  }
}

if (layers[0] === "idle") {
  setInterval(() => {}, 1 << 30);
  ready();
} else {
  for (const layer of layers) await load(layer);
  Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: await Deno.readTextFile(`${stateDir}/cert.pem`),
    key: await Deno.readTextFile(`${stateDir}/key.pem`),
    onListen: ready,
  }, () => new Response("ok"));
}
