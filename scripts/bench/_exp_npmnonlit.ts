if (Deno.args[0] === "never") await import(String("yaml"));
