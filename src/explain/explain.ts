/**
 * `explain`: walks the path a review takes through the server (credentials -> token -> STS ->
 * mapping) with the server's own code, and says at each step what it found and, when the step
 * fails, why and what to do.
 *
 * @module
 */

import { canonicalizeArn, parseArn, type PartitionId } from "../aws/mod.ts";
import type { Identity as MapIdentity } from "../map/mod.ts";
import { type ReasonId, reasonInfo, reasonOf } from "../reasons/mod.ts";
import {
  type Credentials,
  type GeneratorDeps,
  getToken,
  type Profile,
  type TokenRequest,
} from "../sign/mod.ts";
import {
  type CheckedToken,
  type Identity,
  inspectToken,
  MAX_FUTURE_SKEW_MS,
  Verifier,
} from "../verify/mod.ts";
import { credentialFacts, credentialSource, duration, maskKeyId } from "./credentials.ts";
import { type ExplainBackend, explainMapping, type RelevantFinding } from "./mapping.ts";
import { type ExplainReport, failed, type StepReport } from "./report.ts";

/** What to explain. */
export interface ExplainRequest {
  /** `-i`: the cluster ID the client signs for (`""` when not given). */
  clusterId: string;
  /** The server's `clusterID`, when its config was given (`--config`). */
  serverClusterId?: string;
  /** The server's partition. */
  partition: PartitionId;
  /** `token` flags: `--region`, `-r`, `-e`, `-s`, `--forward-session-name`. */
  region: string;
  /** `-r/--role`. */
  roleArn: string;
  /** `-e/--external-id`. */
  externalId: string;
  /** `-s/--session-name`. */
  sessionName: string;
  /** `--forward-session-name`. */
  forwardSessionName: boolean;
  /** `-t`: a pasted token instead of minting one. */
  token?: string;
  /** `--arn`: only the mapping question, no token and no STS call. */
  arn?: string;
  /** `--offline`: no STS call. */
  offline: boolean;
  /**
   * The mapping backends in the server's order; `undefined` when no source was given or
   * `mappingUnavailable` says why none could be read.
   */
  backends?: readonly ExplainBackend[];
  /** Why the mapping could not be read (for example RBAC forbids it). */
  mappingUnavailable?: string;
  /** Where the backends came from, shown first in the mapping step. */
  mappingNotes?: readonly string[];
  /** Problems of the mapping sources that concern an identity (by its canonical ARN). */
  findingsFor?: (canonicalArn: string) => RelevantFinding[];
  /** How an administrator reaches the mappings, for the closing hint (e.g. `--kubeconfig ...`). */
  adminSource: string;
}

/** The effects `explain` needs. */
export interface ExplainDeps {
  /** Minting: the `token` command's own dependencies. */
  sign: GeneratorDeps;
  /** Environment lookup (`AWS_ENDPOINT_URL_STS`). */
  env: (name: string) => string | undefined;
  /** HTTP for the STS call. */
  fetch: typeof fetch;
  /** The clock. */
  now: () => Date;
  /** Resolves `{{EC2PrivateDNSName}}` for the mapping step (absent: such templates fail). */
  privateDnsName?: (instanceId: string) => Promise<string>;
}

/** Something `explain` cannot work without (exit 2). */
export class ExplainError extends Error {
  /** @param message what is missing and how to provide it */
  constructor(message: string) {
    super(message);
    this.name = "ExplainError";
  }
}

/** How far the client clock may be behind before kubectl reuses tokens the server refuses. */
const MAX_BEHIND_MS = 60_000;

function skipped(step: StepReport["step"], summary: string): StepReport {
  return { step, status: "skipped", summary, details: [], facts: {} };
}

/** The identity the server would see for an ARN alone (`--arn`). */
export function identityFromArn(arn: string): MapIdentity {
  let canonical: string;
  try {
    canonical = canonicalizeArn(arn).canonical;
  } catch (e) {
    throw new ExplainError(
      `--arn ${JSON.stringify(arn)} is not an identity ARN: ${(e as Error).message}`,
    );
  }
  const parsed = parseArn(arn);
  const parts = parsed.resource.split("/");
  return {
    arn,
    canonicalArn: canonical,
    accountId: parsed.accountId,
    userId: "",
    sessionName: parsed.service === "sts" && parts[0] === "assumed-role" ? parts.at(-1)! : "",
    accessKeyId: "",
  };
}

interface Minted {
  token?: string;
  step: StepReport;
  base?: Credentials;
  assumed?: Credentials;
}

async function credentialsStep(req: ExplainRequest, deps: ExplainDeps): Promise<Minted> {
  let base: Credentials | undefined;
  let profile: Profile | undefined;
  let assumed: Credentials | undefined;
  let endpoint: { url: string; region: string } | undefined;
  const tokenReq: TokenRequest = {
    clusterId: req.clusterId,
    region: req.region,
    roleArn: req.roleArn,
    externalId: req.externalId,
    sessionName: req.sessionName,
    forwardSessionName: req.forwardSessionName,
    cache: false,
    tokenCache: false,
  };
  let token: string | undefined;
  let error: string | undefined;
  try {
    token = (await getToken(tokenReq, deps.sign, {
      endpoint: (url, _signing, region) => endpoint = { url, region },
      credentials: (c, p) => {
        base = c;
        profile = p;
      },
      assumed: (c) => assumed = c,
    })).token;
  } catch (e) {
    error = (e as Error).message;
  }
  const facts: Record<string, unknown> = {};
  const details: string[] = [];
  if (endpoint) {
    facts.stsEndpoint = endpoint.url;
    facts.region = endpoint.region;
  }
  if (base === undefined || profile === undefined) {
    facts.error = error;
    return {
      step: failed(
        "credentials",
        "credentials.none",
        `no usable AWS credentials: ${error ?? "none found"}`,
        facts,
      ),
    };
  }
  const source = credentialSource(base, profile);
  Object.assign(facts, { source: source.kind, profile: profile.name }, credentialFacts(base));
  const now = deps.now().getTime();
  const describe = (c: Credentials) =>
    `access key ${maskKeyId(c.accessKeyId)}` +
    (c.expiration
      ? c.expiration.getTime() > now
        ? `, expires in ${duration(c.expiration.getTime() - now)}`
        : `, expired ${duration(now - c.expiration.getTime())} ago`
      : c.sessionToken
      ? ", temporary"
      : ", long-term");
  const summary = `from ${source.text}, ${describe(base)}`;
  if (base.expiration !== undefined && base.expiration.getTime() <= now) {
    return { base, step: failed("credentials", "credentials.expired", summary, facts) };
  }
  if (req.roleArn !== "") {
    if (assumed === undefined) {
      facts.error = error;
      return {
        base,
        step: failed(
          "credentials",
          "credentials.assume_role",
          `could not assume ${req.roleArn}: ${error ?? "unknown error"}`,
          facts,
          [summary],
        ),
      };
    }
    facts.assumedRole = { roleArn: req.roleArn, ...credentialFacts(assumed) };
    details.push(`assumed ${req.roleArn}: ${describe(assumed)}`);
  }
  if (endpoint) details.push(`token signed for ${endpoint.url} (region ${endpoint.region})`);
  if (token === undefined) {
    facts.error = error;
    return { base, step: failed("credentials", "credentials.none", error ?? "", facts, details) };
  }
  return {
    token,
    base,
    assumed,
    step: { step: "credentials", status: "ok", summary, details, facts },
  };
}

/** Token facts and the verifier's local checks. */
function tokenStep(
  token: string,
  verifier: Verifier,
  req: ExplainRequest,
  minted: boolean,
  serverClusterId: string,
  now: Date,
): { step: StepReport; checked?: CheckedToken } {
  const t = inspectToken(token);
  // Key IDs are not secrets, but the report masks them everywhere alike.
  const url = t.url && t.accessKeyId
    ? t.url.replace(t.accessKeyId, maskKeyId(t.accessKeyId))
    : t.url;
  const facts: Record<string, unknown> = {
    url: url ?? null,
    host: t.host ?? null,
    signingRegion: t.signingRegion ?? null,
    signedHeaders: t.signedHeaders ?? null,
    amzDate: t.amzDate ?? null,
    accessKeyId: t.accessKeyId ? maskKeyId(t.accessKeyId) : null,
    clusterId: minted ? req.clusterId : null,
    serverClusterId,
  };
  const details: string[] = [];
  if (url) details.push(`URL: ${url}`);
  if (t.signedHeaders) details.push(`signed headers: ${t.signedHeaders.join(";")}`);
  if (t.signedAt) {
    const left = t.signedAt.getTime() + 15 * 60_000 - now.getTime();
    facts.secondsLeft = Math.round(left / 1000);
    details.push(
      `signed at ${t.signedAt.toISOString()} (X-Amz-Date ${t.amzDate}), ${
        left > 0 ? `${duration(left)} left` : `expired ${duration(-left)} ago`
      }`,
    );
  }
  details.push(
    minted
      ? `cluster ID: ${JSON.stringify(req.clusterId)} (signed as x-k8s-aws-id)`
      : `cluster ID: not in the token (it is a signed header only STS can check); the server expects ${
        JSON.stringify(serverClusterId)
      }`,
  );
  const where = `${t.host ?? "an unknown host"}${t.signingRegion ? ` (${t.signingRegion})` : ""}`;
  if (minted && req.clusterId !== serverClusterId) {
    return {
      step: failed(
        "token",
        "token.cluster_mismatch",
        `the token is signed for cluster ID ${
          JSON.stringify(req.clusterId)
        }, the server's clusterID is ${JSON.stringify(serverClusterId)}`,
        facts,
        details,
        `Use -i ${serverClusterId} in your kubeconfig's exec args (or KUBERNETES_AWS_AUTHENTICATOR_CLUSTER_ID).`,
      ),
    };
  }
  try {
    const checked = verifier.checkToken(token);
    details.push("every local check of the server's verifier passes");
    return {
      checked,
      step: { step: "token", status: "ok", summary: `for ${where}`, details, facts },
    };
  } catch (e) {
    const reason = reasonOf(e) ?? "token.url";
    facts.error = (e as Error).message;
    return { step: failed("token", reason, (e as Error).message, facts, details) };
  }
}

async function stsStep(
  checked: CheckedToken,
  verifier: Verifier,
  answer: { date?: string },
  minted: boolean,
  serverClusterId: string,
  now: () => Date,
): Promise<{ step: StepReport; identity?: Identity }> {
  let identity: Identity;
  try {
    identity = await verifier.callSts(checked);
  } catch (e) {
    const reason: ReasonId = reasonOf(e) ?? "sts.error";
    const facts = { error: (e as Error).message };
    let fix = reasonInfo(reason).fix;
    if (reason === "token.cluster_mismatch") {
      fix = minted
        ? `The token is signed for the server's cluster ID (${
          JSON.stringify(serverClusterId)
        }), so the signature itself is wrong: check the secret key of your credentials.`
        : `The token was most likely minted for another cluster ID: the server expects ${
          JSON.stringify(serverClusterId)
        } (pass it with -i in your kubeconfig).`;
    }
    return { step: failed("sts", reason, (e as Error).message, facts, [], fix) };
  }
  const facts: Record<string, unknown> = {
    ...identity,
    accessKeyId: maskKeyId(identity.accessKeyId),
  };
  const details = [
    `canonical ARN ${identity.canonicalArn}, account ${identity.accountId}`,
    `user ID ${identity.userId}${
      identity.sessionName ? `, session ${identity.sessionName}` : ""
    }, endpoint ${identity.stsEndpoint}`,
  ];
  const stsDate = answer.date ? Date.parse(answer.date) : NaN;
  if (!Number.isNaN(stsDate)) {
    const skew = now().getTime() - stsDate;
    facts.clockSkewSeconds = Math.round(skew / 1000);
    details.push(
      `clock: this machine is ${duration(skew)} ${skew >= 0 ? "ahead of" : "behind"} STS`,
    );
    if (skew > MAX_FUTURE_SKEW_MS || skew < -MAX_BEHIND_MS) {
      return {
        identity,
        step: failed(
          "sts",
          "clock.skew",
          `this machine's clock is ${duration(skew)} ${
            skew >= 0 ? "ahead of" : "behind"
          } STS; the server refuses tokens signed ${
            skew >= 0 ? "more than 5 minutes in the future" : "more than 15 minutes ago"
          }${skew < 0 ? ", and kubectl keeps using its tokens for 14 minutes" : ""}`,
          facts,
          details,
        ),
      };
    }
  }
  return {
    identity,
    step: { step: "sts", status: "ok", summary: identity.arn, details, facts },
  };
}

/** Runs every step that can run and returns the report. */
export async function explain(req: ExplainRequest, deps: ExplainDeps): Promise<ExplainReport> {
  const steps: StepReport[] = [];
  const report: ExplainReport = { verdict: "inconclusive", steps };
  const deny = (reason: ReasonId) => {
    report.verdict = "denied";
    report.reason = reason;
    return report;
  };
  let identity: MapIdentity | undefined;

  if (req.arn !== undefined) {
    identity = identityFromArn(req.arn);
    steps.push(skipped("credentials", "--arn given: the mapping question only"));
    steps.push(skipped("token", "--arn given: no token"));
    steps.push(skipped("sts", "--arn given: no STS call"));
  } else {
    const serverClusterId = req.serverClusterId ?? req.clusterId;
    if (serverClusterId === "") {
      throw new ExplainError(
        "explain needs the server's cluster ID: pass -i CLUSTER_ID (as in your kubeconfig) or --config with the server's config",
      );
    }
    let token = req.token;
    const minted = token === undefined;
    if (token === undefined) {
      if (req.clusterId === "") {
        throw new ExplainError(
          "explain mints a token as kubectl would: pass -i CLUSTER_ID, the cluster ID your kubeconfig passes to the token command",
        );
      }
      const c = await credentialsStep(req, deps);
      steps.push(c.step);
      if (c.step.status === "fail") {
        return c.step.reason === "credentials.expired" ? deny(c.step.reason) : report;
      }
      token = c.token!;
    } else {
      steps.push(skipped("credentials", "-t given: the token was signed by whoever minted it"));
    }
    const answer: { date?: string } = {};
    let verifier: Verifier;
    try {
      verifier = new Verifier({
        clusterId: serverClusterId,
        partition: req.partition,
        stsEndpointOverride: deps.env("AWS_ENDPOINT_URL_STS")?.trim() || undefined,
        fetch: deps.fetch,
        now: deps.now,
        onStsAnswer: (_status, headers) => answer.date = headers.get("date") ?? undefined,
      });
    } catch (e) {
      throw new ExplainError((e as Error).message);
    }
    const t = tokenStep(token, verifier, req, minted, serverClusterId, deps.now());
    steps.push(t.step);
    if (t.checked === undefined) return deny(t.step.reason!);
    if (req.offline) {
      steps.push(skipped("sts", "--offline: STS not called"));
    } else {
      const s = await stsStep(t.checked, verifier, answer, minted, serverClusterId, deps.now);
      steps.push(s.step);
      if (s.step.status === "fail") return deny(s.step.reason!);
      identity = s.identity;
    }
  }

  if (identity === undefined) {
    steps.push(skipped("mapping", "not evaluated: the identity is known only after STS answers"));
    return report;
  }
  report.canonicalArn = identity.canonicalArn;
  const adminCommand =
    `aws-iam-authenticator explain --arn ${identity.canonicalArn} ${req.adminSource}`;
  if (req.backends === undefined) {
    steps.push(
      skipped(
        "mapping",
        req.mappingUnavailable ??
          "not evaluated: no mapping source (pass --config, --mapping or --kubeconfig)",
      ),
    );
    if (req.arn === undefined) report.next = adminCommand;
    return report;
  }
  const m = await explainMapping(req.backends, identity, {
    privateDnsName: deps.privateDnsName,
    findings: req.findingsFor && (() => req.findingsFor!(identity.canonicalArn)),
  });
  m.step.details.unshift(...(req.mappingNotes ?? []));
  steps.push(m.step);
  if (m.step.status === "skipped") {
    if (req.arn === undefined) report.next = adminCommand;
    return report;
  }
  if (m.user === undefined) return deny(m.step.reason!);
  report.verdict = "authenticated";
  report.user = m.user;
  return report;
}
