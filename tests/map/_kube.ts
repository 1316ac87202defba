/**
 * A real kube-apiserver (helper E's harness) plus the calls the mapping tests make against it.
 * Requests go through `KubeClient` (Deno fetch): the library's undici transport aborts the
 * process when the API server restarts.
 *
 * @module
 */

import { KubeClient, kubeClientFor } from "../../src/map/kube.ts";
import { type KubeApiServer, startKubeApiServer } from "../peers/kube_apiserver.ts";
import { waitFor } from "./_helpers.ts";

/** A running API server and an admin client for it. */
export interface Kube {
  /** The harness. */
  server: KubeApiServer;
  /** Admin client. */
  client: KubeClient;
  /** Stop client and server. */
  stop(): Promise<void>;
}

/** Start kube-apiserver + etcd. */
export async function startKube(): Promise<Kube> {
  const server = await startKubeApiServer();
  const client = await kubeClientFor({ kubeconfig: server.kubeconfigPath, master: "" });
  return {
    server,
    client,
    async stop() {
      await client.close();
      await server.stop();
    },
  };
}

const CM = "/api/v1/namespaces/kube-system/configmaps";

/** Create or replace `kube-system/aws-auth` with `data`. */
export async function putAwsAuth(c: KubeClient, data: Record<string, string>): Promise<void> {
  const body = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "aws-auth", namespace: "kube-system" },
    data,
  };
  try {
    await c.request("PUT", `${CM}/aws-auth`, body);
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode !== 404) throw e;
    await c.request("POST", CM, body);
  }
}

/** Delete `kube-system/aws-auth`. */
export async function deleteAwsAuth(c: KubeClient): Promise<void> {
  await c.request("DELETE", `${CM}/aws-auth`);
}

const CRD_PATH = "/apis/iamauthenticator.k8s.aws/v1alpha1/iamidentitymappings";

/** Install the IAMIdentityMapping CRD (as deploy/iamidentitymapping.yaml defines it). */
export async function installCrd(c: KubeClient): Promise<void> {
  await c.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: "iamidentitymappings.iamauthenticator.k8s.aws" },
    spec: {
      group: "iamauthenticator.k8s.aws",
      scope: "Cluster",
      names: {
        plural: "iamidentitymappings",
        singular: "iamidentitymapping",
        kind: "IAMIdentityMapping",
        categories: ["all"],
      },
      versions: [{
        name: "v1alpha1",
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: {
          openAPIV3Schema: {
            type: "object",
            properties: {
              spec: {
                type: "object",
                required: ["arn", "username"],
                properties: {
                  arn: { type: "string" },
                  username: { type: "string" },
                  groups: { type: "array", items: { type: "string" } },
                },
              },
              status: {
                type: "object",
                properties: { canonicalARN: { type: "string" }, userID: { type: "string" } },
              },
            },
          },
        },
      }],
    },
  });
  await waitFor("CRD served", async () => {
    try {
      await c.request("GET", CRD_PATH);
      return true;
    } catch {
      return false;
    }
  }, 30_000);
}

/** The spec of an IAMIdentityMapping. */
export interface MappingSpec {
  arn: string;
  username: string;
  groups?: string[];
}

/** Create or replace an IAMIdentityMapping (retrying conflicts with the status writer). */
export async function putMapping(c: KubeClient, name: string, spec: MappingSpec): Promise<void> {
  const path = `${CRD_PATH}/${name}`;
  for (let attempt = 1;; attempt++) {
    let existing: { metadata: { resourceVersion: string } } | undefined;
    try {
      existing = await c.request("GET", path);
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode !== 404) throw e;
    }
    const body = {
      apiVersion: "iamauthenticator.k8s.aws/v1alpha1",
      kind: "IAMIdentityMapping",
      metadata: {
        name,
        ...(existing ? { resourceVersion: existing.metadata.resourceVersion } : {}),
      },
      spec,
    };
    try {
      if (existing) await c.request("PUT", path, body);
      else await c.request("POST", CRD_PATH, body);
      return;
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode !== 409 || attempt >= 5) throw e;
    }
  }
}

/** Delete an IAMIdentityMapping. */
export async function deleteMapping(c: KubeClient, name: string): Promise<void> {
  await c.request("DELETE", `${CRD_PATH}/${name}`);
}

/** Names of all IAMIdentityMappings. */
export async function listMappings(c: KubeClient): Promise<string[]> {
  const list = await c.request<{ items: { metadata: { name: string } }[] }>("GET", CRD_PATH);
  return list.items.map((i) => i.metadata.name);
}

/** Get one IAMIdentityMapping. */
export function getMapping(
  c: KubeClient,
  name: string,
): Promise<{ metadata: { uid: string }; status?: { canonicalARN?: string } }> {
  return c.request("GET", `${CRD_PATH}/${name}`);
}
