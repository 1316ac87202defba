import "reflect-metadata";
import assert from "node:assert/strict";
import * as x509 from "@peculiar/x509";
import {
  CERT_VALIDITY_MS,
  checkCertificatePem,
  generateKeyPair,
  loadOrCreateKeyPair,
  pkcs8ToPkcs1,
  subjectAltNames,
} from "../../src/serve/certs.ts";

Deno.test("SAN rules of the Go tool's certificate", () => {
  assert.deepEqual(subjectAltNames("127.0.0.1", "127.0.0.1"), { ips: ["127.0.0.1"], dns: [] });
  assert.deepEqual(subjectAltNames("192.0.2.1", "example.com"), {
    ips: ["192.0.2.1"],
    dns: ["example.com"],
  });
  assert.deepEqual(subjectAltNames("::", "2001:db8::1:0"), { ips: ["2001:db8::1:0"], dns: [] });
  assert.deepEqual(subjectAltNames("0.0.0.0", "localhost"), { ips: [], dns: ["localhost"] });
  assert.deepEqual(subjectAltNames("::1", "0:0::1"), { ips: ["::1"], dns: [] });
  assert.deepEqual(subjectAltNames("127.0.0.1", "10.0.0.1"), {
    ips: ["127.0.0.1", "10.0.0.1"],
    dns: [],
  });
});

Deno.test("generated key pair has the Go tool's properties and is reused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const stateDir = `${dir}/state`;
    const now = new Date("2026-01-02T03:04:05Z");
    const pair = await loadOrCreateKeyPair({
      stateDir,
      address: "192.0.2.1",
      hostname: "example.com",
      now: () => now,
    });
    assert.equal(pair.generated, true);
    assert.equal(pair.certPath, `${stateDir}/cert.pem`);
    assert.match(pair.keyPem, /^-----BEGIN RSA PRIVATE KEY-----\n/);
    assert.match(pair.certPem, /^-----BEGIN CERTIFICATE-----\n/);
    assert.equal((await Deno.stat(pair.keyPath)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(pair.certPath)).mode! & 0o777, 0o644);
    assert.equal((await Deno.stat(stateDir)).mode! & 0o777, 0o700);
    assert.deepEqual(pair.warnings, []);

    const cert = new x509.X509Certificate(pair.certPem);
    assert.equal(cert.subject, "CN=aws-iam-authenticator");
    assert.equal(cert.issuer, "CN=aws-iam-authenticator");
    assert.equal(cert.notBefore.getTime(), Math.floor(now.getTime() / 1000) * 1000);
    assert.equal(cert.notAfter.getTime() - cert.notBefore.getTime(), CERT_VALIDITY_MS);
    assert.ok(cert.serialNumber.replace(/^00/, "").length <= 32);
    const alg = cert.publicKey.algorithm as RsaHashedKeyAlgorithm;
    assert.equal(alg.modulusLength, 2048);
    assert.ok(await cert.verify({ signatureOnly: true }));

    const bc = cert.getExtension(x509.BasicConstraintsExtension);
    assert.equal(bc?.ca, true);
    assert.equal(bc?.critical, true);
    const ku = cert.getExtension(x509.KeyUsagesExtension);
    assert.equal(
      ku?.usages,
      x509.KeyUsageFlags.keyEncipherment | x509.KeyUsageFlags.digitalSignature |
        x509.KeyUsageFlags.keyCertSign,
    );
    const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
    assert.deepEqual([...(eku?.usages ?? [])], [x509.ExtendedKeyUsage.serverAuth]);
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
    const names = san?.names.toJSON() ?? [];
    assert.deepEqual(
      names.map((n) => `${n.type}:${n.value}`).sort(),
      ["dns:example.com", "ip:192.0.2.1"],
    );

    // The PKCS#1 key is the private half of the certificate's public key.
    const der = Uint8Array.from(
      atob(pair.keyPem.replace(/-----[^-]+-----|\s/g, "")),
      (c) => c.charCodeAt(0),
    );
    assert.equal(der[0], 0x30);

    const again = await loadOrCreateKeyPair({
      stateDir,
      address: "10.9.9.9",
      hostname: "other.example",
    });
    assert.equal(again.generated, false);
    assert.equal(again.certPem, pair.certPem);
    assert.equal(again.keyPem, pair.keyPem);

    // A missing key means a new pair, overwriting the certificate.
    await Deno.remove(pair.keyPath);
    const fresh = await loadOrCreateKeyPair({ stateDir, address: "127.0.0.1", hostname: "x" });
    assert.equal(fresh.generated, true);
    assert.notEqual(fresh.certPem, pair.certPem);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("invalid existing files and an unwritable state dir give actionable errors", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/cert.pem`, "not a certificate");
    await Deno.writeTextFile(`${dir}/key.pem`, "not a key");
    await assert.rejects(
      loadOrCreateKeyPair({ stateDir: dir, address: "127.0.0.1", hostname: "localhost" }),
      /could not load the TLS certificate .*cert\.pem.*delete cert\.pem and key\.pem/,
    );
    const blocked = `${dir}/file`;
    await Deno.writeTextFile(blocked, "");
    await assert.rejects(
      loadOrCreateKeyPair({
        stateDir: `${blocked}/state`,
        address: "127.0.0.1",
        hostname: "localhost",
      }),
      /could not write the TLS key pair into the state dir .*file\/state \(--state-dir \/ server\.stateDir\)/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pkcs8ToPkcs1 extracts the inner RSAPrivateKey and rejects other DER", async () => {
  const keys = await crypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      hash: "SHA-256",
      modulusLength: 1024,
      publicExponent: new Uint8Array([1, 0, 1]),
    },
    true,
    ["sign"],
  );
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  const pkcs1 = pkcs8ToPkcs1(pkcs8);
  // RSAPrivateKey ::= SEQUENCE { version INTEGER 0, modulus, ... }
  assert.equal(pkcs1[0], 0x30);
  assert.ok(pkcs1.length < pkcs8.length);
  const tail = pkcs8.slice(pkcs8.length - pkcs1.length);
  assert.deepEqual(tail, pkcs1);
  assert.throws(() => pkcs8ToPkcs1(new Uint8Array([0x02, 0x01, 0x00])));
});

Deno.test("checkCertificatePem accepts a certificate and names what is wrong otherwise", async () => {
  const { certPem, keyPem } = await generateKeyPair("127.0.0.1", "localhost");
  checkCertificatePem(certPem);
  checkCertificatePem(`# comment\n${certPem}\n${certPem}`);
  assert.throws(() => checkCertificatePem("not a certificate"), /no PEM certificate found/);
  assert.throws(
    () => checkCertificatePem("-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----\n"),
    /no PEM certificate found/,
  );
  assert.throws(
    () => checkCertificatePem("-----BEGIN CERTIFICATE-----\nabcde\n-----END CERTIFICATE-----\n"),
    /not valid base64/,
  );
  // A private key's DER in certificate armor: a SEQUENCE, but not a Certificate's shape.
  const keyBody = keyPem.split("\n").filter((l) => l && !l.startsWith("-----")).join("\n");
  assert.throws(
    () =>
      checkCertificatePem(`-----BEGIN CERTIFICATE-----\n${keyBody}\n-----END CERTIFICATE-----\n`),
    /not an X\.509 certificate/,
  );
  // The certificate cut short: the outer length no longer fits.
  const lines = certPem.trim().split("\n");
  const cut = [...lines.slice(0, lines.length - 3), lines.at(-1)!].join("\n");
  assert.throws(() => checkCertificatePem(cut), /not an X\.509 certificate/);
});
