import assert from "node:assert/strict";
import {
  DEFAULT_EXEC_API_VERSION,
  execCredentialApiVersion,
  formatExecCredential,
  rfc3339Seconds,
} from "../../src/sign/mod.ts";

Deno.test("apiVersion follows KUBERNETES_EXEC_INFO with a v1beta1 fallback (case 47)", () => {
  assert.equal(execCredentialApiVersion(undefined), DEFAULT_EXEC_API_VERSION);
  assert.equal(execCredentialApiVersion(""), DEFAULT_EXEC_API_VERSION);
  assert.equal(execCredentialApiVersion("{bad"), DEFAULT_EXEC_API_VERSION);
  assert.equal(execCredentialApiVersion("null"), DEFAULT_EXEC_API_VERSION);
  assert.equal(execCredentialApiVersion('{"kind":"ExecCredential"}'), DEFAULT_EXEC_API_VERSION);
  assert.equal(execCredentialApiVersion('{"apiVersion":""}'), DEFAULT_EXEC_API_VERSION);
  assert.equal(execCredentialApiVersion('{"apiVersion":7}'), DEFAULT_EXEC_API_VERSION);
  assert.equal(
    execCredentialApiVersion('{"apiVersion":"client.authentication.k8s.io/v1"}'),
    "client.authentication.k8s.io/v1",
  );
});

Deno.test("compact JSON in the Go tool's field order, whole-second UTC expiry", () => {
  const s = formatExecCredential(
    { token: "k8s-aws-v1.x", expiration: new Date("2023-04-28T00:14:00.987Z") },
    "client.authentication.k8s.io/v1",
  );
  assert.equal(
    s,
    '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false},"status":{"expirationTimestamp":"2023-04-28T00:14:00Z","token":"k8s-aws-v1.x"}}',
  );
  assert.equal(rfc3339Seconds(new Date("2023-04-28T00:14:00Z")), "2023-04-28T00:14:00Z");
});
