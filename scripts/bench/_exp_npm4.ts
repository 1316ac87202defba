if (Deno.args[0] === "never") {
 await import("yaml"); await import("aws4fetch"); await import("@aws-sdk/client-sts"); await import("@aws-sdk/credential-providers");
}
