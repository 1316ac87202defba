/**
 * The report `explain` produces: one entry per step of the review, a verdict, and the two ways
 * to print it (lines for people, a stable JSON document for programs). The JSON shape is
 * documented in docs/explain.md; `apiVersion` changes if a field ever changes meaning.
 *
 * @module
 */

import { type ReasonId, reasonInfo } from "../reasons/mod.ts";

/** The steps of a review, in the order the server takes them. */
export type StepName = "credentials" | "token" | "sts" | "mapping";

/** `ok` ✔, `fail` ✘, `skipped` – (not run, and why is in the summary). */
export type StepStatus = "ok" | "fail" | "skipped";

/** One step of the report. */
export interface StepReport {
  /** Which step. */
  step: StepName;
  /** How it went. */
  status: StepStatus;
  /** The step's one line. */
  summary: string;
  /** Further lines (facts, the mapping trace, the closest entries). */
  details: string[];
  /** For a failed step: the catalogue reason. */
  reason?: ReasonId;
  /** For a failed step: what to do, in one sentence. */
  fix?: string;
  /** The step's facts, structured (see docs/explain.md). */
  facts: Record<string, unknown>;
}

/** What the server would do with this identity. */
export type Verdict = "authenticated" | "denied" | "inconclusive";

/** The whole report. */
export interface ExplainReport {
  /** `authenticated`, `denied`, or `inconclusive` when a step could not be evaluated. */
  verdict: Verdict;
  /** The reason of a denial (the first failed step's). */
  reason?: ReasonId;
  /** The steps that were walked, in order. */
  steps: StepReport[];
  /** The canonical ARN the server sees, once it is known. */
  canonicalArn?: string;
  /** The user the server would authenticate. */
  user?: { username: string; groups: string[] };
  /** The command that finishes the diagnosis where this run could not (an administrator's). */
  next?: string;
}

/** The version of the JSON document. */
export const EXPLAIN_API_VERSION = "explain.aws-iam-authenticator/v1";

/** The exit status of a report: 0 authenticated, 1 denied, 2 no verdict. */
export function exitCode(r: ExplainReport): number {
  return r.verdict === "authenticated" ? 0 : r.verdict === "denied" ? 1 : 2;
}

/** A failed step, its reason's fix unless a more specific one is given. */
export function failed(
  step: StepName,
  reason: ReasonId,
  summary: string,
  facts: Record<string, unknown>,
  details: string[] = [],
  fix = reasonInfo(reason).fix,
): StepReport {
  return { step, status: "fail", summary, details, reason, fix, facts };
}

const TITLES: Record<StepName, string> = {
  credentials: "Credentials",
  token: "Token",
  sts: "STS",
  mapping: "Mapping",
};

const MARKS: Record<StepStatus, string> = { ok: "✔", fail: "✘", skipped: "–" };

/** The report for people: one line per step, indented details, the fix of each ✘. */
export function formatHuman(r: ExplainReport): string {
  let out = "";
  for (const s of r.steps) {
    const reason = s.reason ? `${s.reason}: ` : "";
    out += `${MARKS[s.status]} ${TITLES[s.step]}: ${reason}${s.summary}\n`;
    for (const d of s.details) out += `    ${d}\n`;
    if (s.status === "fail" && s.fix) out += `    → ${s.fix}\n`;
  }
  if (r.verdict === "authenticated" && r.user) {
    const groups = r.user.groups.length > 0 ? r.user.groups.join(", ") : "(none)";
    out += `Verdict: authenticated as "${r.user.username}", groups ${groups}\n`;
  } else if (r.verdict === "denied") {
    out += `Verdict: denied (${r.reason})\n`;
  } else {
    out += "Verdict: inconclusive (see the steps above)\n";
  }
  if (r.canonicalArn !== undefined && r.verdict !== "authenticated") {
    out += `The server sees: ${r.canonicalArn}\n`;
  }
  if (r.next !== undefined) out += `An administrator can finish the diagnosis with:\n  ${r.next}\n`;
  return out;
}

/** The report as the documented JSON document (stable field names). */
export function formatJson(r: ExplainReport): string {
  return JSON.stringify(
    {
      apiVersion: EXPLAIN_API_VERSION,
      verdict: r.verdict,
      exitCode: exitCode(r),
      reason: r.reason ?? null,
      canonicalArn: r.canonicalArn ?? null,
      user: r.user ?? null,
      next: r.next ?? null,
      steps: r.steps.map((s) => ({
        step: s.step,
        status: s.status,
        reason: s.reason ?? null,
        summary: s.summary,
        fix: s.status === "fail" ? s.fix ?? null : null,
        details: s.details,
        facts: s.facts,
      })),
    },
    null,
    2,
  ) + "\n";
}
