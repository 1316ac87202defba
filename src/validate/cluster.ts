/**
 * Reads the mappings of a live cluster with the user's own kubeconfig: `kube-system/aws-auth`
 * and the cluster-scoped IAMIdentityMapping objects. Read-only (two GET requests), through the
 * server's `KubeClient` (Deno `fetch`); `@kubernetes/client-node` loads the kubeconfig and picks
 * the context, and is imported only here.
 *
 * @module
 */

import { CRD_GROUP, CRD_PLURAL, CRD_VERSION, type IAMIdentityMapping } from "../map/mod.ts";
import { KubeApiError, KubeClient } from "../map/mod.ts";
import { type Finding, finding } from "./finding.ts";
import { SourceText } from "./positions.ts";
import { addSections, finishCrd, type ReadResult, UNREADABLE_RULES } from "./read.ts";
import { type CrdSource, emptySources, type MappingSources } from "./sources.ts";

/** Where to read from. */
export interface ClusterInput {
  /** The kubeconfig path; empty for the default (`KUBECONFIG`, `~/.kube/config`). */
  kubeconfig: string;
  /** The context; empty for the kubeconfig's current context. */
  context: string;
}

const AWS_AUTH = "/api/v1/namespaces/kube-system/configmaps/aws-auth";
const MAPPINGS = `/apis/${CRD_GROUP}/${CRD_VERSION}/${CRD_PLURAL}`;

/** Adds the cluster's mapping sources (and findings) to `into`. */
export async function readCluster(
  input: ClusterInput,
  into: ReadResult = { sources: emptySources(), findings: [], unreadable: false },
): Promise<ReadResult> {
  const { sources, findings } = into;
  const k8s = await import("@kubernetes/client-node");
  const kc = new k8s.KubeConfig();
  const name = input.kubeconfig || "the default kubeconfig";
  const cluster = { EKSConfigMap: "read", CRD: "read" };
  const unreadable = (message: string, backend?: "EKSConfigMap" | "CRD") => {
    findings.push(finding({ file: name, line: 0, column: 0 }, "input.unreadable", message));
    if (backend === undefined) cluster.EKSConfigMap = cluster.CRD = message;
    else cluster[backend] = message;
  };
  try {
    if (input.kubeconfig !== "") kc.loadFromFile(input.kubeconfig);
    else kc.loadFromDefault();
    if (input.context !== "") {
      if (kc.getContextObject(input.context) === null) {
        throw new Error(`context "${input.context}" is not in the kubeconfig`);
      }
      kc.setCurrentContext(input.context);
    }
    if (kc.getCurrentCluster() === null) throw new Error("the kubeconfig names no cluster");
  } catch (e) {
    unreadable(`cannot load ${name}: ${(e as Error).message}`);
    return { ...into, unreadable: true, cluster };
  }
  const client = new KubeClient(kc, k8s);
  try {
    await readAwsAuth(client, sources, findings, (m) => unreadable(m, "EKSConfigMap"));
    await readMappings(client, sources, findings, (m) => unreadable(m, "CRD"));
  } finally {
    await client.close();
  }
  return {
    sources,
    findings,
    unreadable: findings.some((f) => UNREADABLE_RULES.has(f.rule)),
    cluster,
  };
}

function user(): string {
  return "the kubeconfig's user";
}

async function readAwsAuth(
  client: KubeClient,
  sources: MappingSources,
  findings: Finding[],
  unreadable: (m: string) => void,
): Promise<void> {
  let cm: { data?: Record<string, string> };
  try {
    cm = await client.request("GET", AWS_AUTH);
  } catch (e) {
    if (e instanceof KubeApiError && e.statusCode === 404) {
      findings.push(finding(
        { file: "ConfigMap kube-system/aws-auth", line: 0, column: 0 },
        "input.unrecognized",
        "the cluster has no kube-system/aws-auth ConfigMap; there was nothing to check there",
      ));
      return;
    }
    if (e instanceof KubeApiError && e.statusCode === 403) {
      unreadable(
        `${user()} may not read ConfigMap kube-system/aws-auth (RBAC: HTTP 403); ask for "get" on configmaps in kube-system, or have an administrator run validate`,
      );
      return;
    }
    unreadable(`cannot read ConfigMap kube-system/aws-auth: ${(e as Error).message}`);
    return;
  }
  const data = cm.data ?? {};
  // Positions are lines and columns inside each data value, named after the object and key.
  const texts = new Map<string, SourceText>();
  const textOf = (key: string) => {
    let t = texts.get(key);
    if (t === undefined) {
      t = new SourceText(`ConfigMap kube-system/aws-auth data.${key}`, data[key] ?? "");
      texts.set(key, t);
    }
    return t;
  };
  addSections(
    "ConfigMap kube-system/aws-auth",
    data,
    (section, inner) =>
      inner === undefined
        ? { file: `ConfigMap kube-system/aws-auth data.${section}`, line: 0, column: 0 }
        : textOf(section).pos(inner),
    findings,
    sources,
  );
}

async function readMappings(
  client: KubeClient,
  sources: MappingSources,
  findings: Finding[],
  unreadable: (m: string) => void,
): Promise<void> {
  let list: { items?: IAMIdentityMapping[] };
  try {
    list = await client.request("GET", MAPPINGS);
  } catch (e) {
    if (e instanceof KubeApiError && e.statusCode === 404) {
      findings.push(finding(
        { file: "IAMIdentityMapping", line: 0, column: 0 },
        "input.unrecognized",
        `the IAMIdentityMapping CRD (${CRD_PLURAL}.${CRD_GROUP}) is not installed; there were no mapping objects to check`,
      ));
      return;
    }
    if (e instanceof KubeApiError && e.statusCode === 403) {
      unreadable(
        `${user()} may not list IAMIdentityMapping objects (RBAC: HTTP 403); ask for "list" on ${CRD_PLURAL}.${CRD_GROUP}, or have an administrator run validate`,
      );
      return;
    }
    unreadable(`cannot list IAMIdentityMapping objects: ${(e as Error).message}`);
    return;
  }
  const objects = list.items ?? [];
  if (objects.length === 0) return;
  const source: CrdSource = {
    backend: "CRD",
    file: "cluster",
    objects: objects.map((object) => {
      const at = { file: `IAMIdentityMapping ${object.metadata?.name ?? ""}`, line: 0, column: 0 };
      return { object, at, field: () => at };
    }),
    roles: [],
    problems: [],
  };
  finishCrd(source, findings);
  sources.backends.CRD.push(source);
}
