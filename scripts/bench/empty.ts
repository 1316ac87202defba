// Intentionally empty: `scripts/bench_token.ts` times `deno run` of this file as the startup floor.
