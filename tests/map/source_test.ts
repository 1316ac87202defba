import assert from "node:assert/strict";
import { ProblemReporter, SectionedSource } from "../../src/map/source.ts";
import { identity, recordingLogger, recordingMetrics } from "./_helpers.ts";

const ACCT = "123456789012";
const role = (name: string, username: string) => ({
  location: `roles[${name}]`,
  index: 0,
  value: { roleArn: `arn:aws:iam::${ACCT}:role/${name}`, username, groups: [], userId: "" },
});

Deno.test("problems are logged and counted once until they change", () => {
  const logger = recordingLogger();
  const metrics = recordingMetrics();
  const r = new ProblemReporter("EKSConfigMap", logger, metrics);
  const p1 = {
    location: "key mapRoles line 3",
    message: "bad",
    rule: "entry.type" as const,
    line: 3,
    column: 5,
  };
  r.report([p1]);
  r.report([p1]);
  assert.equal(logger.lines.length, 1);
  // The rule ID and position travel as log fields, as validate reports them.
  assert.deepEqual(logger.lines[0]?.fields, {
    source: "EKSConfigMap",
    location: "key mapRoles line 3",
    error: "bad",
    rule: "entry.type",
    line: 3,
    column: 5,
  });
  assert.equal(metrics.counts["mappingLoadErrors:EKSConfigMap"], 1);
  r.report([]);
  r.report([p1]);
  assert.equal(metrics.counts["mappingLoadErrors:EKSConfigMap"], 2);
});

Deno.test("a section that cannot be read keeps its last good entries; clear empties all", () => {
  const s = new SectionedSource(
    new ProblemReporter("DynamicFile", recordingLogger(), recordingMetrics()),
    {},
  );
  const admin = identity(`arn:aws:sts::${ACCT}:assumed-role/Admin/x`);
  s.apply({
    roles: [role("Admin", "v1")],
    users: [],
    accounts: [ACCT],
    problems: [],
    warnings: [],
  });
  s.apply({
    roles: undefined,
    users: [],
    accounts: [],
    problems: [{ location: "x", message: "bad", rule: "entry.type" }],
    warnings: [],
  });
  assert.equal(s.store.lookup(admin)?.username, "v1");
  assert.equal(s.store.isAccountAllowed(ACCT), false);
  s.apply({ roles: [role("Admin", "v2")], problems: [], warnings: [] });
  assert.equal(s.store.lookup(admin)?.username, "v2");
  s.clear();
  assert.equal(s.store.lookup(admin), undefined);
});
