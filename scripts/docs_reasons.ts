/**
 * `deno task docs:reasons`: writes docs/why-denied.md from the reason catalogue
 * (src/reasons/catalogue.ts), so the page lists exactly the IDs the server and `explain` report.
 * tests/docs/why_denied_test.ts fails when the committed page differs from what this renders.
 *
 * @module
 */

import { type ReasonId, reasonInfo, REASONS } from "../src/reasons/mod.ts";

const STEP_TITLES: Record<string, string> = {
  request: "The request (kube-apiserver → server)",
  credentials: "Your credentials (seen only by `explain`)",
  token: "The token (checked by the server before any network call)",
  sts: "STS (the one call that proves who signed the token)",
  mapping: "The mapping (who the identity becomes in Kubernetes)",
};

const WHO: Record<string, string> = {
  user: "you (the person running kubectl)",
  admin: "a cluster administrator (the mappings)",
  operator: "whoever runs the server",
};

const INTRO = `# Why was I denied?

kubectl only ever prints \`error: You must be logged in to the server (Unauthorized)\`. The reason
exists, and this project says it in four places, always with the same stable **reason ID**:

- **\`aws-iam-authenticator explain\`**, run by the person at the keyboard, walks the path the server
  walks (credentials, token, STS, mapping) and prints one line per step, ✔ or ✘, with what to do
  for each ✘ ([docs/explain.md](explain.md)). It needs no access to the cluster's logs:

  \`\`\`sh
  aws-iam-authenticator explain -i CLUSTER_ID           # same flags and environment as \`token\`
  aws-iam-authenticator explain -i CLUSTER_ID -r ROLE_ARN --kubeconfig ~/.kube/config
  \`\`\`

  When you cannot read the cluster's mappings, it ends with the exact ARN the server sees and the
  one command an administrator runs to finish the diagnosis
  (\`aws-iam-authenticator explain --arn ARN --kubeconfig …\`).
- **The server's log**: every denial's line carries \`reason=<ID>\` next to the Go tool's \`error\`
  text.
- **The TokenReview's \`status.error\`**, which kube-apiserver writes to its own log
  (\`Unable to authenticate the request … err="<ID>: …"\`): the reason ID first, then what happened
  and what to do. It never contains a token, a signature or a secret, and for accounts in
  \`server.scrubbedAccounts\` it does not name the identity.
- **The metric** \`aws_iam_authenticator_denials_total{reason="<ID>"}\`: every reason the server can
  report starts at 0.

IDs are stable: scripts and dashboards may match on them. New IDs may be added; none is renamed or
reused. This page is generated from \`src/reasons/catalogue.ts\` by \`deno task docs:reasons\`.
`;

/** The whole page, from the catalogue. */
export function renderWhyDenied(): string {
  const ids = Object.keys(REASONS) as ReasonId[];
  let out = INTRO + "\n## Every reason\n\n| reason ID | step | who can fix it | title |\n";
  out += "| --- | --- | --- | --- |\n";
  for (const id of ids) {
    const r = reasonInfo(id);
    const who = r.clientOnly ? `${r.audience} (explain only)` : r.audience;
    out += `| [\`${id}\`](#${anchor(id)}) | ${r.step} | ${who} | ${r.title} |\n`;
  }
  let step = "";
  for (const id of ids) {
    const r = reasonInfo(id);
    if (r.step !== step) {
      step = r.step;
      out += `\n## ${STEP_TITLES[step]}\n`;
    }
    out += `\n### ${id}\n\n**${capitalize(r.title)}.** ${r.cause}\n\n`;
    out += `- **Fix:** ${r.fix}\n`;
    out += `- **Who:** ${WHO[r.audience]}${
      r.clientOnly ? "; reported only by `explain`, the server never sees it" : ""
    }.\n`;
  }
  return out;
}

/** GitHub's heading anchor for a reason ID heading (`token.expired` → `tokenexpired`). */
function anchor(id: string): string {
  return id.toLowerCase().replace(/[^a-z0-9_ -]/g, "").replace(/ /g, "-");
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

if (import.meta.main) {
  const path = new URL("../docs/why-denied.md", import.meta.url);
  await Deno.writeTextFile(path, renderWhyDenied());
  Deno.stderr.writeSync(new TextEncoder().encode(`wrote ${path.pathname}\n`));
}
