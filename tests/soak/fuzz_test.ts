import { strict as assert } from "node:assert";
import { type FuzzRecord, judgeFuzz } from "../../scripts/soak/fuzz.ts";

function rec(x: Partial<FuzzRecord>): FuzzRecord {
  return {
    case: "random-body",
    t0: 0,
    t1: 10,
    closed: false,
    gaveUp: false,
    authenticated: false,
    ...x,
  };
}

Deno.test("fuzz verdicts: the expected status, never a 5xx or a grant, closing only where allowed", () => {
  assert.equal(judgeFuzz(rec({ status: 400 }), 15_000), undefined);
  assert.equal(judgeFuzz(rec({ status: 500 }), 15_000), "HTTP 500");
  assert.equal(judgeFuzz(rec({ status: 200, authenticated: true }), 15_000), "authenticated");
  assert.equal(judgeFuzz(rec({ status: 403 }), 15_000), "HTTP 403, expected 400");
  // A denial is HTTP 200 (port decision 22): fine where the handler reviews a token, not elsewhere.
  assert.equal(judgeFuzz(rec({ case: "huge-header", status: 200 }), 15_000), undefined);
  assert.equal(judgeFuzz(rec({ status: 200 }), 15_000), "HTTP 200, expected 400");
  assert.equal(judgeFuzz(rec({ closed: true }), 15_000), "closed without an answer");
  assert.equal(judgeFuzz(rec({ case: "random-bytes", closed: true }), 15_000), undefined);
  assert.equal(judgeFuzz(rec({ case: "slow-body", status: 408, t1: 10_500 }), 15_000), undefined);
  assert.equal(judgeFuzz(rec({ case: "slow-body", gaveUp: true }), 15_000), "no answer in time");
  assert.equal(judgeFuzz(rec({ status: 400, t1: 20_000 }), 15_000), "answered after 20000 ms");
  // Reported, not judged: the runtime has no header timeout.
  assert.equal(judgeFuzz(rec({ case: "slow-headers", gaveUp: true }), 15_000), undefined);
});
