if (Deno.args[0] === "never") {
 await import("@aws-sdk/client-sts");
}
