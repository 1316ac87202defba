type Sts = typeof import("@aws-sdk/client-sts");
const SPEC = "@aws-sdk/client-sts";
if (Deno.args[0] === "never") {
 const m = (await import(SPEC)) as Sts; console.log(m.STSClient);
}
