/**
 * `deno task demo`: the whole path without AWS, in one command.
 *
 * Starts the SigV4-checking STS peer and `main.ts server` on loopback with an example mapping
 * (state under `.state/demo/`), mints a token with `main.ts token` using a peer principal's
 * credentials and `AWS_ENDPOINT_URL_STS` pointing at the peer, sends it to the webhook the way
 * kube-apiserver does (a TokenReview POST, trusting only the CA from the generated webhook
 * kubeconfig), prints who it mapped to or why it was denied, lets the denied user ask `explain`
 * why, has `validate` catch a broken `aws-auth` edit before it is applied, then stops everything.
 *
 * @module
 */

import { parse as parseYaml } from "yaml";
import { startStsPeer } from "../tests/peers/sts_peer.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const STATE = `${ROOT}.state/demo`;
const CLUSTER_ID = "demo-cluster";
const encoder = new TextEncoder();

function print(text = ""): void {
  Deno.stdout.writeSync(encoder.encode(text + "\n"));
}

const ADMIN = {
  accessKeyId: "AKIADEMOADMIN0000001",
  secretAccessKey: "demo-admin-secret",
  arn: "arn:aws:iam::111122223333:user/demo-admin",
  userId: "AIDADEMOADMIN",
  account: "111122223333",
};
const DEVELOPER = {
  accessKeyId: "ASIADEMODEVELOPER001",
  secretAccessKey: "demo-dev-secret",
  sessionToken: "demo-session-token",
  arn: "arn:aws:sts::111122223333:assumed-role/Developers/jane@example.com",
  userId: "AROADEMODEVELOPERS:jane@example.com",
  account: "111122223333",
};
const STRANGER = {
  accessKeyId: "AKIADEMOSTRANGER0001",
  secretAccessKey: "demo-stranger-secret",
  arn: "arn:aws:iam::999988887777:user/stranger",
  userId: "AIDADEMOSTRANGER",
  account: "999988887777",
};

const CONFIG = `clusterID: ${CLUSTER_ID}
server:
  address: 127.0.0.1
  hostname: 127.0.0.1
  port: 0
  healthPort: 0
  stateDir: ${STATE}/state
  generateKubeconfig: ${STATE}/kubeconfig.yaml
  mapUsers:
  - userarn: ${ADMIN.arn}
    username: demo-admin
    groups:
    - system:masters
  # Written with the wrong account: the stranger's user lives in 999988887777.
  - userarn: arn:aws:iam::111122223333:user/stranger
    username: stranger
  mapRoles:
  - rolearn: arn:aws:iam::111122223333:role/Developers
    username: dev:{{SessionName}}
    groups:
    - developers
`;

/** An edit of aws-auth with the two classic mistakes (see the validate step). */
const BROKEN_AWS_AUTH = `apiVersion: v1
kind: ConfigMap
metadata:
  name: aws-auth
  namespace: kube-system
data:
  mapRoles: |
    - rolearn: arn:aws:iam::111122223333:role/Developers
      username: dev:{{SessionName}}
     groups:
        - developers
  mapUsers: |
    - rolearn: arn:aws:iam::111122223333:role/Ops
      username: ops
`;

/** The environment kubectl would give the exec plugin: a peer principal's credentials. */
function credentialEnv(
  principal: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
  stsUrl: string,
): Record<string, string> {
  const env: Record<string, string> = {
    AWS_ACCESS_KEY_ID: principal.accessKeyId,
    AWS_SECRET_ACCESS_KEY: principal.secretAccessKey,
    AWS_ENDPOINT_URL_STS: stsUrl,
    AWS_REGION: "us-east-1",
    AWS_CONFIG_FILE: `${STATE}/no-aws-config`,
    AWS_SHARED_CREDENTIALS_FILE: `${STATE}/no-aws-credentials`,
  };
  if (principal.sessionToken) env.AWS_SESSION_TOKEN = principal.sessionToken;
  return env;
}

/** Runs `main.ts token` as kubectl would, with a peer principal's credentials in env. */
async function mintToken(
  principal: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
  stsUrl: string,
): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}main.ts`, "token", "-i", CLUSTER_ID],
    env: credentialEnv(principal, stsUrl),
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`token failed: ${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(new TextDecoder().decode(out.stdout)).status.token;
}

/** POSTs a TokenReview as kube-apiserver does, trusting only the kubeconfig's CA (curl/OpenSSL). */
async function tokenReview(
  kubeconfigPath: string,
  token: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const kubeconfig = parseYaml(await Deno.readTextFile(kubeconfigPath));
  const cluster = kubeconfig.clusters[0].cluster;
  const caFile = `${STATE}/ca.pem`;
  await Deno.writeTextFile(caFile, atob(cluster["certificate-authority-data"]));
  const body = JSON.stringify({
    kind: "TokenReview",
    apiVersion: "authentication.k8s.io/v1",
    metadata: { creationTimestamp: null },
    spec: { token },
    status: { user: {} },
  });
  const child = new Deno.Command("curl", {
    args: [
      "-sS",
      "--cacert",
      caFile,
      "-H",
      "content-type: application/json",
      "--data-binary",
      "@-",
      "-w",
      "\n%{http_code}",
      cluster.server,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(encoder.encode(body));
  await w.close();
  const out = await child.output();
  if (!out.success) throw new Error(`curl failed: ${new TextDecoder().decode(out.stderr)}`);
  const text = new TextDecoder().decode(out.stdout);
  const cut = text.lastIndexOf("\n");
  return { status: Number(text.slice(cut + 1)), body: JSON.parse(text.slice(0, cut)) };
}

async function main(): Promise<number> {
  await Deno.mkdir(STATE, { recursive: true });
  const configPath = `${STATE}/config.yaml`;
  await Deno.writeTextFile(configPath, CONFIG);

  const peer = await startStsPeer({ principals: [ADMIN, DEVELOPER, STRANGER] });
  print(`STS peer (checks SigV4 for real) on ${peer.url}`);

  const server = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}main.ts`, "server", "--config", configPath],
    env: { AWS_ENDPOINT_URL_STS: peer.url, AWS_REGION: "us-east-1", NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let log = "";
  const logDone = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of server.stderr) log += decoder.decode(chunk, { stream: true });
  })();
  try {
    const deadline = Date.now() + 30_000;
    let listening: RegExpMatchArray | null = null;
    while (!(listening = log.match(/listening on (\S+?)"/)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!listening) throw new Error(`the server did not start:\n${log}`);
    print(`authenticator server on https://${listening[1]}/authenticate`);
    print(`webhook kubeconfig: ${STATE}/kubeconfig.yaml`);
    print();

    for (
      const [label, principal] of [
        ["IAM user demo-admin", ADMIN],
        ["role Developers, session jane@example.com", DEVELOPER],
        ["IAM user stranger (its mapping names the wrong account)", STRANGER],
      ] as const
    ) {
      const token = await mintToken(principal, peer.url);
      const review = await tokenReview(`${STATE}/kubeconfig.yaml`, token);
      const status = review.body.status as {
        authenticated?: boolean;
        error?: string;
        user?: { username?: string; uid?: string; groups?: string[] };
      };
      print(`${label}`);
      print(`  token:  ${token.slice(0, 24)}… (${token.length} bytes, from main.ts token)`);
      if (status.authenticated) {
        print(`  HTTP ${review.status}: authenticated as "${status.user?.username}"`);
        print(`    uid:    ${status.user?.uid}`);
        print(`    groups: ${(status.user?.groups ?? []).join(", ") || "(none)"}`);
      } else {
        print(`  HTTP ${review.status}: denied`);
        print(`    status.error: ${status.error}`);
      }
      print();
    }

    // kubectl would only say "Unauthorized"; the stranger asks why, with the same credentials
    // and flags as the token command, against the server's config.
    print(
      "the stranger asks why: aws-iam-authenticator explain -i demo-cluster --config config.yaml",
    );
    const explained = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}main.ts`, "explain", "-i", CLUSTER_ID, "--config", configPath],
      env: { ...credentialEnv(STRANGER, peer.url), NO_COLOR: "1" },
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(explained.stdout);
    // The token URL line is long and says nothing new here.
    for (const line of text.trimEnd().split("\n")) {
      if (!line.trimStart().startsWith("URL: ")) print(`  ${line.replaceAll(`${STATE}/`, "")}`);
    }
    print(`  (exit ${explained.code}: 0 authenticated, 1 denied, 2 no verdict)`);
    print();

    // An administrator's edit of aws-auth, checked before `kubectl apply`: one line indented
    // one space short (the server would keep the last good mapRoles, silently), and a role put
    // under mapUsers (the server would drop it).
    const edit = `${STATE}/aws-auth.yaml`;
    await Deno.writeTextFile(edit, BROKEN_AWS_AUTH);
    print(
      "an aws-auth edit, checked before kubectl apply: aws-iam-authenticator validate aws-auth.yaml",
    );
    const validated = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}main.ts`, "validate", edit],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    for (const line of new TextDecoder().decode(validated.stdout).trimEnd().split("\n")) {
      print(`  ${line.replace(`${STATE}/`, "")}`);
    }
    print(`  (exit ${validated.code}: 0 clean, 1 errors, 2 could not read)`);
    print();
    return 0;
  } finally {
    server.kill("SIGTERM");
    const status = await server.status;
    await logDone;
    await peer.close();
    print(`server stopped (exit ${status.code}); its log is in ${STATE}/server.log`);
    await Deno.writeTextFile(`${STATE}/server.log`, log);
  }
}

if (import.meta.main) Deno.exit(await main());
