/**
 * The soak's oracle catches a broken server: a copy of the tree whose mapper gives identities
 * no backend maps a fixed username (a one-line patch, applied in a temporary directory; the
 * product has no switch for it) must be reported under invariant 1. Every other invariant has a
 * mutant of its own in `deno task soak:mutants` (docs/soak.md#how-the-oracle-was-checked).
 */

import { strict as assert } from "node:assert";
import { MUTANTS, runMutant } from "../../scripts/soak_mutants.ts";

Deno.test("soak: a server that maps unmapped identities to a fixed user is caught", async () => {
  const mutant = MUTANTS.find((m) => m.name === "unmapped-to-fixed-user")!;
  const { caught, result } = await runMutant(mutant, { durationS: 15, warmupS: 5 });
  assert.ok(caught, `not caught: ${JSON.stringify(result.violations.slice(0, 5))}`);
  const falseAccepts = result.violations.filter((v) => v.invariant === "1 false accept");
  assert.ok(falseAccepts.some((v) => v.detail.includes("ok:soak-fallback|")));
  // Only the unmapped identities were let in: everything else still held.
  assert.deepEqual(
    result.violations.filter((v) => !v.detail.includes("soak-fallback")),
    [],
  );
});
