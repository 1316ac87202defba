import { startKubeApiServer } from "../peers/kube_apiserver.ts";

Deno.test({ name: "probe3", sanitizeOps: false, sanitizeResources: false }, async () => {
  const kube = await startKubeApiServer();
  try {
    const dir = kube.dir;
    const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(`${dir}/ca.crt`)], cert: await Deno.readTextFile(`${dir}/admin.crt`), key: await Deno.readTextFile(`${dir}/admin.key`) });
    const t0 = Date.now();
    const p = (async () => {
      try {
        const res = await fetch(`${kube.server}/api/v1/namespaces/kube-system/configmaps?watch=true`, { client });
        for await (const c of res.body!) console.log(Date.now() - t0, "chunk", c.length);
        console.log(Date.now() - t0, "ended");
      } catch (e) { console.log(Date.now() - t0, "error", e); }
    })();
    await new Promise((r) => setTimeout(r, 1000));
    console.log(Date.now() - t0, "restarting");
    await kube.restartApiServer();
    console.log(Date.now() - t0, "restarted");
    await p;
    client.close();
  } finally {
    await kube.stop();
  }
});
