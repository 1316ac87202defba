/**
 * The least a `token` built on aws4fetch can do: import it, presign GetCallerIdentity with the
 * static keys in the environment, print the token. `scripts/bench_token.ts` times it next to
 * the empty-script floor to show how much of `token`'s time the mandated signer takes by itself
 * (no flags, no profile files, no ExecCredential, no error handling).
 *
 * @module
 */

import { AwsV4Signer } from "aws4fetch";

const signer = new AwsV4Signer({
  method: "GET",
  url:
    "https://sts.us-west-2.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Expires=60",
  headers: { "x-k8s-aws-id": "bench" },
  accessKeyId: Deno.env.get("AWS_ACCESS_KEY_ID") ?? "",
  secretAccessKey: Deno.env.get("AWS_SECRET_ACCESS_KEY") ?? "",
  service: "sts",
  region: "us-west-2",
  signQuery: true,
});
const signed = await signer.sign();
Deno.stdout.writeSync(new TextEncoder().encode(`k8s-aws-v1.${btoa(signed.url.toString())}\n`));
