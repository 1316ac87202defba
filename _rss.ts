const r0 = Deno.memoryUsage().rss;
const mods = Deno.args;
for (const m of mods) { await import(m); console.log(m, ((Deno.memoryUsage().rss - r0)/1048576).toFixed(1), "MB cumulative"); }
console.log("total rss", (Deno.memoryUsage().rss/1048576).toFixed(1));
