// The CRD backend against a real kube-apiserver: the IAMIdentityMapping CRD from deploy/,
// mapping objects -> logins, status.canonicalARN written back, deletion revokes. Also every
// manifest in deploy/ passes `kubectl apply --dry-run=server`, and the deploy/ RBAC grants the
// service account what the ConfigMap and CRD backends use.
import { strict as assert } from "node:assert";
import { parseAllDocuments } from "yaml";
import { type KubeApiServer, startKubeApiServer } from "../peers/kube_apiserver.ts";
import type { PeerPrincipal, StsPeer } from "../peers/sts_peer.ts";
import {
  ACCOUNT,
  ADMIN_SESSION,
  ALICE,
  Authenticator,
  eventually,
  isUnauthorized,
  kubectl,
  kubectlOk,
  nextSecond,
  ROOT,
  startE2eStsPeer,
  stepWithLog,
  tokenExec,
  type WhoAmI,
  whoami,
  writeExecKubeconfig,
} from "./harness.ts";

const CRD_NAME = "iamidentitymappings.iamauthenticator.k8s.aws";

interface Manifest {
  path: string;
  docs: { apiVersion?: string; kind?: string; metadata?: { name?: string; namespace?: string } }[];
}

/** Every YAML file under deploy/ that holds Kubernetes objects. */
async function deployManifests(): Promise<Manifest[]> {
  const out: Manifest[] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory) await walk(p);
      else if (/\.ya?ml$/.test(e.name)) {
        const docs = parseAllDocuments(await Deno.readTextFile(p))
          .map((d) => d.toJS() as Manifest["docs"][number] | null)
          .filter((d): d is Manifest["docs"][number] => d !== null && typeof d === "object");
        if (docs.some((d) => d.apiVersion && d.kind)) out.push({ path: p, docs });
      }
    }
  };
  await walk(`${ROOT}deploy`);
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

function mapping(name: string, arn: string, username: string, groups: string[]): string {
  return `apiVersion: iamauthenticator.k8s.aws/v1alpha1
kind: IAMIdentityMapping
metadata:
  name: ${name}
spec:
  arn: ${arn}
  username: ${JSON.stringify(username)}
  groups: ${JSON.stringify(groups)}
`;
}

Deno.test("e2e: CRD backend and deploy/ manifests against a real kube-apiserver", async (t) => {
  const manifests = await deployManifests();
  const crdFile = manifests.find((m) =>
    m.docs.some((d) => d.kind === "CustomResourceDefinition" && d.metadata?.name === CRD_NAME)
  );
  assert.ok(crdFile, `no manifest in deploy/ defines the CRD ${CRD_NAME}`);

  const sts: StsPeer = await startE2eStsPeer();
  const auth = await Authenticator.init({ backendModes: ["CRD"] });
  let kube: KubeApiServer | undefined;
  try {
    kube = await startKubeApiServer({ webhookKubeconfig: auth.webhookKubeconfig });
    const admin = kube.kubeconfigPath;
    await kubectlOk(admin, ["apply", "-f", crdFile.path]);
    await kubectlOk(admin, [
      "wait",
      "--for=condition=Established",
      "--timeout=60s",
      `crd/${CRD_NAME}`,
    ]);
    await auth.start({ stsUrl: sts.url, kubeconfig: admin });

    const kc = async (p: PeerPrincipal) =>
      await writeExecKubeconfig(
        `${auth.dir}/${p.accessKeyId}.kubeconfig`,
        kube!.server,
        kube!.caCertPath,
        tokenExec(p, sts.url),
      );
    const mapsTo = (p: PeerPrincipal, username: string) =>
      eventually<WhoAmI>(`${p.arn} to map to ${username}`, async () => {
        const r = await whoami(await kc(p));
        return r.user?.username === username ? r.user : undefined;
      });

    await stepWithLog(t, auth, "no mapping objects: a valid identity gets 401", async () => {
      const r = await whoami(await kc(ALICE));
      assert.ok(r.error !== undefined, `logged in as ${r.user?.username} with no mappings`);
      assert.ok(isUnauthorized(r.error), r.error);
    });

    await stepWithLog(
      t,
      auth,
      "IAMIdentityMapping objects -> logins map; status.canonicalARN is set",
      async () => {
        await kubectlOk(admin, ["apply", "-f", "-"], {
          stdin: mapping("alice", ALICE.arn, "alice-crd", ["e2e-readers"]) + "---\n" +
            mapping(
              "e2e-admin",
              // Upper case on purpose: the backend compares canonical ARNs case-insensitively.
              `arn:aws:iam::${ACCOUNT}:role/E2E-Admin`,
              "crd-admin:{{SessionName}}",
              ["e2e-admins"],
            ),
        });
        const a = await mapsTo(ALICE, "alice-crd");
        assert.deepEqual(a.groups.toSorted(), ["e2e-readers", "system:authenticated"]);
        const r = await mapsTo(ADMIN_SESSION, "crd-admin:carol-session");
        assert.deepEqual(r.groups.toSorted(), ["e2e-admins", "system:authenticated"]);
        const status = await eventually("status.canonicalARN on the role mapping", async () => {
          const v = await kubectlOk(admin, [
            "get",
            "iamidentitymapping",
            "e2e-admin",
            "-o",
            "jsonpath={.status.canonicalARN}",
          ]);
          return v === "" ? undefined : v;
        });
        assert.equal(status, `arn:aws:iam::${ACCOUNT}:role/e2e-admin`);
      },
    );

    await stepWithLog(t, auth, "editing and deleting a mapping object takes effect", async () => {
      await kubectlOk(admin, ["apply", "-f", "-"], {
        stdin: mapping("alice", ALICE.arn, "alice-crd-v2", ["e2e-readers"]),
      });
      await mapsTo(ALICE, "alice-crd-v2");
      await kubectlOk(admin, ["delete", "iamidentitymapping", "alice"]);
      await eventually("alice to be refused after her mapping is deleted", async () => {
        const r = await whoami(await kc(ALICE));
        return r.error !== undefined && isUnauthorized(r.error) ? true : undefined;
      });
      await nextSecond();
      const still = await whoami(await kc(ADMIN_SESSION));
      assert.equal(still.user?.username, "crd-admin:carol-session", still.error ?? "");
    });

    await stepWithLog(
      t,
      auth,
      "kube-apiserver restart: the informer relists and mappings stay correct",
      async () => {
        await kube!.restartApiServer();
        const r = await whoami(await kc(ADMIN_SESSION));
        assert.ok(r.user, `login right after the restart failed: ${r.error}`);
        assert.equal(r.user.username, "crd-admin:carol-session");
        // An object created after the restart arrives through the re-established watch.
        await kubectlOk(admin, ["apply", "-f", "-"], {
          stdin: mapping("alice", ALICE.arn, "alice-after-restart", ["e2e-readers"]),
        });
        await mapsTo(ALICE, "alice-after-restart");
      },
    );

    await stepWithLog(
      t,
      auth,
      "every manifest in deploy/ passes kubectl apply --dry-run=server",
      async () => {
        // kube-controller-manager is not running, so create the default service accounts that
        // the ServiceAccount admission plugin expects for pods, as its controller would.
        const namespaces = new Set(
          manifests.flatMap((m) => m.docs.map((d) => d.metadata?.namespace ?? "default")),
        );
        for (const ns of namespaces) {
          await kubectl(admin, ["create", "namespace", ns]);
          await kubectl(admin, ["create", "serviceaccount", "default", "-n", ns]);
        }
        assert.ok(manifests.length >= 3, `expected deploy/ manifests, found ${manifests.length}`);
        const failures: string[] = [];
        for (const m of manifests) {
          const r = await kubectl(admin, ["apply", "--dry-run=server", "-f", m.path]);
          if (r.code !== 0) failures.push(`${m.path}: ${r.stderr.trim()}`);
        }
        assert.deepEqual(failures, []);
      },
    );

    await stepWithLog(
      t,
      auth,
      "deploy/ RBAC grants the service account what the backends use",
      async () => {
        const rbacKinds = new Set([
          "ServiceAccount",
          "ClusterRole",
          "ClusterRoleBinding",
          "Role",
          "RoleBinding",
        ]);
        const rbac = manifests.flatMap((m) => m.docs).filter((d) => rbacKinds.has(d.kind ?? ""));
        const sa = rbac.find((d) => d.kind === "ServiceAccount");
        assert.ok(sa?.metadata?.name, "deploy/ defines no ServiceAccount for the authenticator");
        await kubectlOk(admin, ["apply", "-f", "-"], {
          stdin: JSON.stringify({ apiVersion: "v1", kind: "List", items: rbac }),
        });
        const as = `--as=system:serviceaccount:${
          sa.metadata.namespace ?? "default"
        }:${sa.metadata.name}`;
        const canI = async (...args: string[]) => {
          const r = await kubectl(admin, ["auth", "can-i", ...args, as]);
          return `${args.join(" ")}: ${r.stdout.trim()}`;
        };
        const answers = [
          await canI("list", "configmaps", "-n", "kube-system"),
          await canI("watch", "configmaps", "-n", "kube-system"),
          await canI("get", "configmaps/aws-auth", "-n", "kube-system"),
          await canI("list", `iamidentitymappings.iamauthenticator.k8s.aws`),
          await canI("watch", `iamidentitymappings.iamauthenticator.k8s.aws`),
          await canI(
            "update",
            `iamidentitymappings.iamauthenticator.k8s.aws`,
            "--subresource=status",
          ),
          await canI("create", "events", "-n", "default"),
        ];
        assert.deepEqual(answers, answers.map((a) => a.replace(/: .*$/, ": yes")));
      },
    );
  } finally {
    await auth.dispose();
    await kube?.stop();
    await sts.close();
  }
});
