/**
 * The three output formats of `validate`: human text (`file:line:col: severity rule: message`
 * and the fix), a JSON report with a version field, and GitHub Actions workflow commands
 * (`::error file=...,line=...,col=...,title=...::...`), which GitHub shows as annotations on the pull
 * request's diff. Plus the `--list` table.
 *
 * @module
 */

import type { Finding } from "./finding.ts";
import type { MappingRow } from "./table.ts";

/** The version of the JSON report's shape; bumped only when a field changes meaning or goes. */
export const REPORT_VERSION = 1;

/** Counts of findings by severity. */
export interface Summary {
  /** Findings of severity `error`. */
  errors: number;
  /** Findings of severity `warning`. */
  warnings: number;
  /** Findings of severity `info`. */
  info: number;
}

/** Count findings by severity. */
export function summarize(findings: readonly Finding[]): Summary {
  const s: Summary = { errors: 0, warnings: 0, info: 0 };
  for (const f of findings) {
    if (f.severity === "error") s.errors++;
    else if (f.severity === "warning") s.warnings++;
    else s.info++;
  }
  return s;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** `file:line:col` (just `file` when the input has no lines). */
export function where(f: { file: string; line: number; column: number }): string {
  return f.line > 0 ? `${f.file}:${f.line}:${f.column}` : f.file;
}

/** Human text: one line per finding, its fix indented below, then a summary line. */
export function formatHuman(findings: readonly Finding[]): string {
  let out = "";
  for (const f of findings) {
    out += `${where(f)}: ${f.severity} ${f.rule}: ${f.message}\n    fix: ${f.fix}\n`;
  }
  const s = summarize(findings);
  out += findings.length === 0
    ? "no problems found\n"
    : `${plural(s.errors, "error")}, ${plural(s.warnings, "warning")}, ${s.info} info\n`;
  return out;
}

/** The JSON report (see docs/validate.md for the shape). */
export function formatJson(findings: readonly Finding[], exitCode: number): string {
  return JSON.stringify(
    { version: REPORT_VERSION, findings, summary: summarize(findings), exitCode },
    null,
    2,
  ) + "\n";
}

/** GitHub's escaping of a workflow command's message. */
function escapeData(s: string): string {
  return s.replaceAll("%", "%25").replaceAll("\r", "%0D").replaceAll("\n", "%0A");
}

/** GitHub's escaping of a workflow command's property value. */
function escapeProperty(s: string): string {
  return escapeData(s).replaceAll(":", "%3A").replaceAll(",", "%2C");
}

/** GitHub Actions workflow commands: `error`, `warning`, or `notice` for info. */
export function formatGithub(findings: readonly Finding[]): string {
  let out = "";
  for (const f of findings) {
    const level = f.severity === "info" ? "notice" : f.severity;
    const props = [`file=${escapeProperty(f.file)}`];
    if (f.line > 0) props.push(`line=${f.line}`, `col=${f.column}`);
    props.push(`title=${escapeProperty(f.rule)}`);
    out += `::${level} ${props.join(",")}::${escapeData(`${f.message}\nFix: ${f.fix}`)}\n`;
  }
  const s = summarize(findings);
  out += `${plural(s.errors, "error")}, ${plural(s.warnings, "warning")}, ${s.info} info\n`;
  return out;
}

/** The `--list` table: aligned columns. */
export function formatTable(rows: readonly MappingRow[]): string {
  const head = ["BACKEND", "KIND", "PATTERN", "USERNAME", "GROUPS", "DEFINED AT"];
  const cells = rows.map((r) => [
    r.backend,
    r.kind,
    r.pattern,
    r.username,
    r.groups.join(","),
    r.location,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) =>
    c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]!))).join("  ").trimEnd() + "\n";
  return line(head) + cells.map(line).join("") + `${plural(rows.length, "mapping")}\n`;
}
