import { strict as assert } from "node:assert";
import {
  type ChainBackend,
  MappingOracle,
  SourceTimeline,
} from "../../scripts/soak/mapping_model.ts";
import {
  answerOutcomes,
  type AnswerRecord,
  expectedUid,
  judge,
  type OracleContext,
  type ReviewRecord,
} from "../../scripts/soak/oracle.ts";
import { principal, STATIC_STATE } from "../../scripts/soak/world.ts";

const alice = principal("static-alice");
const admin = principal("static-admin");
const T0 = 1_000_000;

function ctx(answers: AnswerRecord[], mapping?: MappingOracle): OracleContext {
  const byKey = new Map<string, AnswerRecord[]>();
  for (const a of answers) byKey.set(a.queryKey, [...byKey.get(a.queryKey) ?? [], a]);
  const dyn = new SourceTimeline("dyn");
  dyn.add({
    n: 0,
    writeStart: 0,
    writeEnd: 1,
    state: { entries: new Map(), accounts: [] },
    deleted: false,
  });
  const staticBackend: ChainBackend = { name: "MountedFile", state: STATIC_STATE, reserved: [] };
  return {
    answers: byKey,
    lifetimes: [{ start: 0, end: Infinity }],
    mapping: mapping ??
      new MappingOracle(staticBackend, [{ timeline: dyn, reserved: ["system:"] }]),
    stsTimeoutMs: 10_000,
    latencyBoundMs: 15_000,
  };
}

function ok(arn: string, at = T0 + 5): AnswerRecord {
  return { queryKey: "k", status: 200, arn, arrivedAt: at, answeredAt: at + 1 };
}

function review(extra: Partial<ReviewRecord>): ReviewRecord {
  return {
    id: 1,
    kind: "fresh",
    principal: "static-alice",
    queryKey: "k",
    expiresAt: T0 + 600_000,
    t0: T0,
    t1: T0 + 20,
    lifetime: 0,
    ...extra,
  };
}

const granted = (p = alice, username = "alice", groups = ["static-users"]) => ({
  status: 200,
  authenticated: true,
  username,
  groups,
  uid: expectedUid(p),
  arn: p.arn,
});

Deno.test("answers lead to the reasons of docs/why-denied.md", () => {
  const a = (x: Partial<AnswerRecord>) =>
    answerOutcomes({ queryKey: "k", arrivedAt: 0, answeredAt: 1, ...x }, 10_000);
  assert.deepEqual(a({ fault: "throttle" }), ["429:sts.throttled"]);
  assert.deepEqual(a({ fault: "status", status: 503 }), ["deny:sts.unavailable"]);
  assert.deepEqual(a({ fault: "garbage", status: 200 }), ["deny:sts.bad_response"]);
  for (const f of ["reset", "hang", "spike"] as const) {
    assert.deepEqual(a({ fault: f }), ["deny:sts.unreachable"]);
  }
  assert.deepEqual(
    a({ status: 403, code: "SignatureDoesNotMatch", message: "The request signature" }),
    ["deny:token.cluster_mismatch"],
  );
  assert.deepEqual(
    a({ status: 403, code: "SignatureDoesNotMatch", message: "Signature expired: x" }),
    ["deny:token.expired"],
  );
  assert.deepEqual(a({ status: 403, code: "InvalidClientTokenId" }), [
    "deny:sts.invalid_credentials",
  ]);
  assert.deepEqual(a({ status: 400, code: "IncompleteSignature" }), ["deny:sts.error"]);
  assert.deepEqual(a({ status: 200, arn: alice.arn }), [`sts-ok:${alice.arn}`]);
  // An answer slower than the server's deadline may also have been given up on.
  assert.deepEqual(a({ status: 200, arn: alice.arn, answeredAt: 9500 }), [
    "deny:sts.unreachable",
    `sts-ok:${alice.arn}`,
  ]);
});

Deno.test("an authenticated review needs STS's word for that token and the mapping in force", () => {
  assert.equal(judge(review(granted()), ctx([ok(alice.arn)])), undefined);
  // A session: the mapping's template renders the session name.
  assert.equal(
    judge(
      review({
        principal: "static-admin",
        ...granted(admin, "admin:ops-corp", ["system:masters"]),
      }),
      ctx([ok(admin.arn)]),
    ),
    undefined,
  );
  // STS only throttled this token: authenticating it is a false accept.
  const throttled: AnswerRecord = {
    queryKey: "k",
    fault: "throttle",
    status: 400,
    arrivedAt: T0 + 5,
    answeredAt: T0 + 6,
  };
  assert.equal(judge(review(granted()), ctx([throttled]))?.invariant, "1 false accept");
  // A success given after the review ended cannot have been used.
  assert.equal(
    judge(review(granted()), ctx([ok(alice.arn, T0 + 50)]))?.invariant,
    "1 false accept",
  );
  // Another cluster's token never passes, whatever the peer said.
  assert.equal(
    judge(review({ kind: "foreign", ...granted() }), ctx([ok(alice.arn)]))?.invariant,
    "1 false accept",
  );
  // The answer names someone STS did not vouch for.
  assert.equal(
    judge(review({ ...granted(), uid: expectedUid(admin) }), ctx([ok(alice.arn)]))?.invariant,
    "1 false accept",
  );
  // An unmapped identity (nothing maps mallory) authenticated.
  const mallory = principal("churn-stranger");
  assert.equal(
    judge(review({ principal: mallory.name, ...granted(mallory, "x", []) }), ctx([ok(mallory.arn)]))
      ?.invariant,
    "1 false accept",
  );
  // Right identity, wrong groups.
  assert.equal(
    judge(review(granted(alice, "alice", ["system:masters"])), ctx([ok(alice.arn)]))?.invariant,
    "2 wrong user or groups",
  );
  // An expired token, even if cached.
  assert.equal(
    judge(review({ ...granted(), expiresAt: T0 - 10_000 }), ctx([ok(alice.arn, T0 - 60_000)]))
      ?.invariant,
    "1 false accept",
  );
  // A success from a previous server process was not cached by this one.
  const restarted = ctx([ok(alice.arn, T0 - 60_000)]);
  restarted.lifetimes = [{ start: 0, end: T0 - 30_000 }, { start: T0 - 20_000, end: Infinity }];
  assert.equal(
    judge(review({ ...granted(), lifetime: 1 }), restarted)?.invariant,
    "1 false accept",
  );
  assert.equal(judge(review({ ...granted(), lifetime: 0 }), restarted), undefined);
});

Deno.test("denials must name a cause; throttling is 429; every review is answered in time", () => {
  const deny = (reason: string, status = 200) => ({ status, reason, authenticated: false });
  const hang: AnswerRecord = {
    queryKey: "k",
    fault: "hang",
    arrivedAt: T0 + 2,
    answeredAt: T0 + 15_000,
  };
  assert.equal(
    judge(review({ ...deny("sts.unreachable"), t1: T0 + 10_050 }), ctx([hang])),
    undefined,
  );
  // The peer answered fine: an unreachable STS is not a cause.
  assert.equal(
    judge(review(deny("sts.unreachable")), ctx([ok(alice.arn)]))?.invariant,
    "3 denial reason without a cause",
  );
  const throttled: AnswerRecord = {
    queryKey: "k",
    fault: "throttle",
    status: 400,
    arrivedAt: T0 + 5,
    answeredAt: T0 + 6,
  };
  assert.equal(judge(review(deny("sts.throttled", 429)), ctx([throttled])), undefined);
  // A denial is HTTP 200 with status.error (port decision 22); the Go tool's 403 is not.
  assert.equal(
    judge(
      review({ kind: "expired", expiresAt: T0 - 60_000, ...deny("token.expired", 403) }),
      ctx([]),
    )
      ?.invariant,
    "3 denial reason without a cause",
  );
  assert.equal(
    judge(review(deny("sts.throttled", 200)), ctx([throttled]))?.invariant,
    "3 throttling not 429",
  );
  // A review may join a call the peer has answered and the server has not read yet.
  const justBefore = { ...throttled, arrivedAt: T0 - 100, answeredAt: T0 - 90 };
  assert.equal(judge(review(deny("sts.throttled", 429)), ctx([justBefore])), undefined);
  // But a failure is never cached: one from well before the review does not explain it.
  const earlier = { ...throttled, arrivedAt: T0 - 5000, answeredAt: T0 - 4990 };
  assert.equal(
    judge(review(deny("sts.throttled", 429)), ctx([earlier]))?.invariant,
    "3 throttling not 429",
  );
  // Mapping denials follow the identity STS named.
  const mallory = principal("churn-stranger");
  assert.equal(
    judge(review({ principal: mallory.name, ...deny("map.not_mapped") }), ctx([ok(mallory.arn)])),
    undefined,
  );
  assert.equal(
    judge(review(deny("map.not_mapped")), ctx([ok(alice.arn)]))?.invariant,
    "3 denial reason without a cause",
  );
  // Harmful mutations may be refused by any local token check.
  assert.equal(judge(review({ kind: "mutated", ...deny("token.query") }), ctx([])), undefined);
  assert.equal(
    judge(review({ kind: "fresh", ...deny("token.query") }), ctx([]))?.invariant,
    "3 denial reason without a cause",
  );
  assert.equal(judge(review({ transportError: "reset" }), ctx([]))?.invariant, "3 no answer");
  assert.equal(
    judge(review({ ...granted(), t1: T0 + 16_000 }), ctx([ok(alice.arn)]))?.invariant,
    "3 too slow",
  );
  // An expired token: token.expired, even with no STS call.
  assert.equal(
    judge(review({ kind: "expired", expiresAt: T0 - 60_000, ...deny("token.expired") }), ctx([])),
    undefined,
  );
});
