import assert from "node:assert/strict";
import {
  joinHostPort,
  renderWebhookKubeconfig,
  writeWebhookKubeconfig,
} from "../../src/serve/kubeconfig.ts";

const PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

Deno.test("kubeconfig text is exactly the Go tool's", () => {
  const expected = "\nclusters:\n  - name: aws-iam-authenticator\n    cluster:\n" +
    `      certificate-authority-data: ${btoa(PEM)}\n` +
    "      server: https://localhost:21362/authenticate\n" +
    "# user refers to the API server client\nusers:\n  - name: apiserver\n" +
    "current-context: webhook\ncontexts:\n- name: webhook\n  context:\n" +
    "    cluster: aws-iam-authenticator\n    user: apiserver\n";
  assert.equal(renderWebhookKubeconfig(PEM, "localhost", 21362), expected);
});

Deno.test("IPv6 hosts are bracketed", () => {
  assert.equal(joinHostPort("2001:db8::1:0", 1234), "[2001:db8::1:0]:1234");
  assert.match(
    renderWebhookKubeconfig(PEM, "2001:db8::1:0", 1234),
    /server: https:\/\/\[2001:db8::1:0\]:1234\/authenticate\n/,
  );
});

Deno.test("writing creates the directory and names the flag on failure", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeWebhookKubeconfig(`${dir}/a/b/kubeconfig.yaml`, "x");
    assert.equal(await Deno.readTextFile(`${dir}/a/b/kubeconfig.yaml`), "x");
    await Deno.writeTextFile(`${dir}/f`, "");
    await assert.rejects(
      writeWebhookKubeconfig(`${dir}/f/kubeconfig.yaml`, "x"),
      /--generate-kubeconfig \/ server\.generateKubeconfig/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
