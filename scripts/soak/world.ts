/**
 * Who takes part in a soak: the AWS principals the STS peer knows, what the static config maps,
 * which principals the mapping churn moves around, and the server config. Everything the oracle
 * knows about identities comes from here, written out by hand rather than computed by the
 * server's code, so a bug there cannot hide in both.
 *
 * @module
 */

import type { PeerPrincipal } from "../../tests/peers/sts_peer.ts";
import type { BackendState, SourceName } from "./mapping_model.ts";

/** The account of most principals. */
export const ACCOUNT = "111122223333";
/** An account the MountedFile config auto-maps (`mapAccounts`). */
export const AUTO_ACCOUNT = "222233334444";
/** An account nothing maps, unless the churn adds it to a `mapAccounts`. */
export const STRANGER_ACCOUNT = "444455556666";
/** The cluster ID the server serves. */
export const CLUSTER_ID = "soak.example.com";
/** Another cluster's ID: tokens signed for it must be refused. */
export const FOREIGN_CLUSTER_ID = "other.example.com";

/** What part a principal plays. */
export type PrincipalRole = "static" | "churn" | "probe" | "unknown";

/** A principal of the soak: the STS peer's record plus what the oracle needs. */
export interface SoakPrincipal extends PeerPrincipal {
  /** Short name used in records and reports. */
  name: string;
  /** Its part. */
  role: PrincipalRole;
  /** The canonical ARN mappings are matched against (an assumed role's role ARN). */
  canonicalArn: string;
  /** The session name (`""` for users). */
  sessionName: string;
  /** The probe's source (probes only). */
  probeOf?: SourceName;
}

function keyId(prefix: "AKIA" | "ASIA", name: string): string {
  const body = name.toUpperCase().replace(/[^A-Z0-9]/g, "").padEnd(16, "X").slice(0, 16);
  return prefix + body;
}

function user(name: string, account: string, role: PrincipalRole): SoakPrincipal {
  const arn = `arn:aws:iam::${account}:user/${name}`;
  return {
    name,
    role,
    accessKeyId: keyId("AKIA", name),
    secretAccessKey: `soak/${name}/secret/0000000000000000000000000000`,
    arn,
    userId: `AIDA${name.toUpperCase().replace(/[^A-Z0-9]/g, "").padEnd(17, "0").slice(0, 17)}`,
    account,
    canonicalArn: arn,
    sessionName: "",
  };
}

function session(
  name: string,
  roleName: string,
  sessionName: string,
  role: PrincipalRole,
): SoakPrincipal {
  const roleId = `AROA${
    roleName.toUpperCase().replace(/[^A-Z0-9]/g, "").padEnd(17, "0").slice(0, 17)
  }`;
  return {
    name,
    role,
    accessKeyId: keyId("ASIA", name),
    secretAccessKey: `soak/${name}/secret/0000000000000000000000000000`,
    sessionToken: `soak-session-token-${name}-000000000000000000000000`,
    arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${roleName}/${sessionName}`,
    userId: `${roleId}:${sessionName}`,
    account: ACCOUNT,
    canonicalArn: `arn:aws:iam::${ACCOUNT}:role/${roleName}`,
    sessionName,
  };
}

/** Every principal the STS peer knows, plus one it does not (`unknown`). */
export const PRINCIPALS: readonly SoakPrincipal[] = [
  user("static-alice", ACCOUNT, "static"),
  session("static-admin", "StaticAdmin", "ops@corp", "static"),
  user("churn-u0", ACCOUNT, "churn"),
  user("churn-u1", ACCOUNT, "churn"),
  user("churn-u2", ACCOUNT, "churn"),
  user("churn-u3", ACCOUNT, "churn"),
  session("churn-r0", "ChurnRole0", "dev@corp", "churn"),
  session("churn-r1", "ChurnRole1", "ci-17", "churn"),
  user("churn-auto", AUTO_ACCOUNT, "churn"),
  user("churn-stranger", STRANGER_ACCOUNT, "churn"),
  { ...user("probe-dyn", ACCOUNT, "probe"), probeOf: "dyn" },
  { ...user("probe-cm", ACCOUNT, "probe"), probeOf: "cm" },
  { ...user("probe-crd", ACCOUNT, "probe"), probeOf: "crd" },
  user("unknown-key", ACCOUNT, "unknown"),
];

/** A principal by name. */
export function principal(name: string): SoakPrincipal {
  const p = PRINCIPALS.find((x) => x.name === name);
  if (p === undefined) throw new Error(`no soak principal ${name}`);
  return p;
}

/** Principals whose mappings the churn edits. */
export const CHURN_TARGETS: readonly SoakPrincipal[] = PRINCIPALS.filter((p) => p.role === "churn");

/** The principal probing a source: its username names the version of the source in force. */
export function probeOf(source: SourceName): SoakPrincipal {
  return PRINCIPALS.find((p) => p.probeOf === source)!;
}

/** The username a probe sees under version `n` of its source. */
export function probeUsername(source: SourceName, n: number): string {
  return `probe-${source}-v${n}`;
}

/** The MountedFile mappings of the config file (never change). */
export const STATIC_STATE: BackendState = {
  entries: new Map([
    [principal("static-alice").canonicalArn.toLowerCase(), {
      username: "alice",
      groups: ["static-users"],
    }],
    [principal("static-admin").canonicalArn.toLowerCase(), {
      username: "admin:{{SessionName}}",
      groups: ["system:masters"],
    }],
    // A churn target mapped statically too: MountedFile is first, so the churn never wins.
    [principal("churn-u0").canonicalArn.toLowerCase(), {
      username: "u0-static",
      groups: ["static"],
    }],
  ]),
  accounts: [AUTO_ACCOUNT],
};

/** Reserved username prefixes per source (`server.reservedPrefixConfig`). */
export const RESERVED: Readonly<Record<"static" | SourceName, readonly string[]>> = {
  static: [],
  dyn: ["system:"],
  cm: ["eks:"],
  crd: ["system:"],
};

/** The server's config file. */
export function configYaml(o: {
  port: number;
  healthPort: number;
  stateDir: string;
  kubeconfigOut: string;
  dynamicFile: string;
  kube: boolean;
}): string {
  const q = (s: string) => JSON.stringify(s);
  const modes = o.kube
    ? ["MountedFile", "DynamicFile", "EKSConfigMap", "CRD"]
    : ["MountedFile", "DynamicFile"];
  const lines = [
    `clusterID: ${q(CLUSTER_ID)}`,
    "server:",
    "  address: 127.0.0.1",
    "  hostname: 127.0.0.1",
    `  port: ${o.port}`,
    `  healthPort: ${o.healthPort}`,
    `  stateDir: ${q(o.stateDir)}`,
    `  generateKubeconfig: ${q(o.kubeconfigOut)}`,
    `  backendMode: [${modes.join(", ")}]`,
    `  dynamicfilepath: ${q(o.dynamicFile)}`,
    "  reservedPrefixConfig:",
    `    - backendMode: DynamicFile`,
    `      usernamePrefixReserveList: ${JSON.stringify(RESERVED.dyn)}`,
    `    - backendMode: EKSConfigMap`,
    `      usernamePrefixReserveList: ${JSON.stringify(RESERVED.cm)}`,
    `    - backendMode: CRD`,
    `      usernamePrefixReserveList: ${JSON.stringify(RESERVED.crd)}`,
    "  mapUsers:",
    `    - userarn: ${q(principal("static-alice").arn)}`,
    "      username: alice",
    "      groups: [static-users]",
    `    - userarn: ${q(principal("churn-u0").arn)}`,
    "      username: u0-static",
    "      groups: [static]",
    "  mapRoles:",
    `    - rolearn: ${q(principal("static-admin").canonicalArn)}`,
    '      username: "admin:{{SessionName}}"',
    "      groups: [system:masters]",
    `  mapAccounts: [${q(AUTO_ACCOUNT)}]`,
    "",
  ];
  return lines.join("\n");
}
