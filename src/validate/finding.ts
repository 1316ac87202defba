/**
 * What `validate` reports: one finding per problem, with the file position, the rule ID from
 * the catalogue (`config/rules.ts`, shared with the server's logs), the severity, a message and
 * the catalogue's fix sentence.
 *
 * @module
 */

import { type BackendMode, type RuleId, RULES, type Severity } from "../config/mod.ts";
import type { FilePos } from "./positions.ts";

/** One finding. The JSON report carries exactly these fields (see docs/validate.md). */
export interface Finding {
  /** The file (or cluster object, e.g. `ConfigMap kube-system/aws-auth data.mapRoles`). */
  file: string;
  /** 1-based line; 0 when the input has no lines (a cluster object). */
  line: number;
  /** 1-based column; 0 when unknown. */
  column: number;
  /** The rule ID. */
  rule: RuleId;
  /** The rule's severity. */
  severity: Severity;
  /** What is wrong here. */
  message: string;
  /** How to fix it (the rule's fix sentence). */
  fix: string;
  /** The ARN, account ID or username the finding is about, as written. */
  subject?: string;
  /** The backend the entry belongs to. */
  backend?: BackendMode;
}

/** A finding for `rule` at `at`. */
export function finding(
  at: FilePos,
  rule: RuleId,
  message: string,
  extra: { subject?: string; backend?: BackendMode } = {},
): Finding {
  const r = RULES[rule];
  const f: Finding = {
    file: at.file,
    line: at.line,
    column: at.column,
    rule,
    severity: r.severity,
    message,
    fix: r.fix,
  };
  if (extra.subject !== undefined) f.subject = extra.subject;
  if (extra.backend !== undefined) f.backend = extra.backend;
  return f;
}

const SEVERITY_ORDER: Readonly<Record<Severity, number>> = { error: 0, warning: 1, info: 2 };

/** Findings in file, line, column order (severity, then rule, for ties). */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  return [...findings].sort((a, b) =>
    a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.column - b.column ||
      SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] ||
      (a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : 0)
  );
}
