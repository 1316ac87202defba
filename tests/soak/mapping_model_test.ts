import { strict as assert } from "node:assert";
import {
  type BackendState,
  type ChainBackend,
  EMPTY_STATE,
  evaluateChain,
  MappingOracle,
  renderTemplate,
  SourceTimeline,
} from "../../scripts/soak/mapping_model.ts";

const ROLE = "arn:aws:iam::111122223333:role/Dev";
const USER = "arn:aws:iam::111122223333:user/alice";
const dev = { canonicalArn: ROLE, accountId: "111122223333", sessionName: "jane@corp" };
const alice = { canonicalArn: USER, accountId: "111122223333", sessionName: "" };
const stranger = {
  canonicalArn: "arn:aws:iam::444455556666:user/mallory",
  accountId: "444455556666",
  sessionName: "",
};

function state(entries: [string, string, string[]][], accounts: string[] = []): BackendState {
  return {
    entries: new Map(
      entries.map(([arn, username, groups]) => [arn.toLowerCase(), { username, groups }]),
    ),
    accounts,
  };
}

function backend(name: string, s: BackendState, reserved: string[] = []): ChainBackend {
  return { name, state: s, reserved };
}

Deno.test("templates: SessionName replaces @, SessionNameRaw and AccountID as they are", () => {
  assert.equal(
    renderTemplate("{{SessionName}}/{{SessionNameRaw}}/{{AccountID}}", dev),
    "jane-corp/jane@corp/111122223333",
  );
  assert.equal(renderTemplate("{{Other}}", dev), "{{Other}}");
});

Deno.test("chain: first explicit match wins, before any account; reserved prefixes per backend", () => {
  const first = backend("MountedFile", state([], ["111122223333"]));
  const second = backend(
    "DynamicFile",
    state([[ROLE, "dev:{{SessionName}}", ["g", "s:{{SessionName}}", ""]]]),
  );
  // An explicit mapping in a later backend beats account auto-mapping in an earlier one.
  assert.equal(evaluateChain([first, second], dev), "ok:dev:jane-corp|g,s:jane-corp");
  // Without an explicit mapping, the account maps to the canonical ARN, no groups.
  assert.equal(evaluateChain([first, second], alice), `ok:${USER}|`);
  assert.equal(evaluateChain([second], stranger), "deny:map.not_mapped");
  const reserved = backend("DynamicFile", state([[USER, "system:alice", []]]), ["system:"]);
  assert.equal(evaluateChain([reserved], alice), "deny:map.reserved_prefix");
  // The same username is fine in a backend that reserves nothing.
  assert.equal(
    evaluateChain([backend("CRD", state([[USER, "system:alice", []]]))], alice),
    "ok:system:alice|",
  );
  assert.equal(
    evaluateChain([backend("X", state([[USER, "{{SessionName}}", []]]))], alice),
    "deny:map.empty_username",
  );
  // Matching ignores case.
  assert.equal(
    evaluateChain([backend("X", state([[USER.toUpperCase(), "a", []]]))], alice),
    "ok:a|",
  );
});

function timeline(): SourceTimeline {
  const t = new SourceTimeline("dyn");
  t.add({ n: 0, writeStart: 0, writeEnd: 1, state: state([[USER, "v0", []]]), deleted: false });
  t.add({ n: 1, writeStart: 100, writeEnd: 101, state: state([[USER, "v1", []]]), deleted: false });
  t.add({ n: 2, writeStart: 200, writeEnd: 201, state: EMPTY_STATE, deleted: true });
  t.add({ n: 3, writeStart: 300, writeEnd: 301, state: state([[USER, "v3", []]]), deleted: false });
  return t;
}

Deno.test("timeline: a version is possible from its write until a probe saw a newer one", () => {
  const t = timeline();
  // No observation yet: every written version stays possible.
  assert.deepEqual(t.possible(150, 160).map((v) => v.n), [0, 1]);
  t.observe({ t0: 110, t1: 120, seen: 1 });
  assert.deepEqual(t.possible(150, 160).map((v) => v.n), [1]);
  assert.deepEqual(t.possible(115, 160).map((v) => v.n), [0, 1]);
  // "Not mapped" is the latest deletion written before the probe ended.
  t.observe({ t0: 205, t1: 210, seen: "unmapped" });
  assert.equal(t.attribute({ t0: 205, t1: 210, seen: "unmapped" }), 2);
  assert.deepEqual(t.possible(250, 260).map((v) => v.n), [2]);
  assert.deepEqual(t.possible(250, 350).map((v) => v.n), [2, 3]);
  assert.equal(t.seenAtLeast(2), true);
  assert.equal(t.seenAtLeast(3), false);
  assert.equal(t.attribute({ t0: 50, t1: 60, seen: "unmapped" }), undefined);
});

Deno.test("timeline: the reload window ends a version the probes never saw replaced", () => {
  const t = new SourceTimeline("dyn", 1000);
  t.add({ n: 0, writeStart: 0, writeEnd: 1, state: EMPTY_STATE, deleted: false });
  t.add({ n: 1, writeStart: 100, writeEnd: 101, state: EMPTY_STATE, deleted: true });
  assert.deepEqual(t.possible(1000, 1100).map((v) => v.n), [0, 1]);
  assert.deepEqual(t.possible(1102, 1200).map((v) => v.n), [1]);
  // A probe that saw the deletion earlier ends version 0 earlier.
  t.observe({ t0: 150, t1: 160, seen: "unmapped" });
  assert.deepEqual(t.possible(170, 180).map((v) => v.n), [1]);
});

Deno.test("timeline: reload latency bounds and regressions", () => {
  const t = timeline();
  t.observe({ t0: 102, t1: 104, seen: 0 });
  t.observe({ t0: 105, t1: 109, seen: 1 });
  const l = t.reloadLatencies();
  assert.deepEqual(l[0], { n: 1, deleted: false, atLeastMs: 1, atMostMs: 8 });
  assert.ok(Number.isNaN(l[2]!.atMostMs), "version 3 was never seen");
  assert.deepEqual(t.regressions(), []);
  // A probe that started after version 1 was seen, yet saw version 0: the mapping went back.
  t.observe({ t0: 150, t1: 151, seen: 0 });
  assert.equal(t.regressions().length, 1);
  assert.equal(t.regressions()[0]!.later.t0, 150);
});

Deno.test("oracle: outcomes over every combination of possible versions", () => {
  const a = timeline();
  const b = new SourceTimeline("cm");
  b.add({ n: 0, writeStart: 0, writeEnd: 1, state: state([[USER, "cm0", ["x"]]]), deleted: false });
  const oracle = new MappingOracle(backend("MountedFile", EMPTY_STATE), [
    { timeline: a, reserved: [] },
    { timeline: b, reserved: [] },
  ]);
  assert.deepEqual([...oracle.outcomes(alice, 10, 20)], ["ok:v0|"]);
  assert.deepEqual([...oracle.outcomes(alice, 150, 250)].sort(), ["ok:cm0|x", "ok:v0|", "ok:v1|"]);
  assert.deepEqual([...oracle.outcomes(stranger, 10, 20)], ["deny:map.not_mapped"]);
});
