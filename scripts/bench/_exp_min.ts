const m = await import("../../src/cli/token.ts");
Deno.exit(await m.main(Deno.args));
