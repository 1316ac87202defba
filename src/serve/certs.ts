/**
 * The server's TLS key pair
 * (https://github.com/kubernetes-sigs/aws-iam-authenticator/blob/v0.7.18/pkg/config/certs/certs.go):
 * `<stateDir>/cert.pem` and `<stateDir>/key.pem`, generated on first start with the exact
 * properties of the Go tool (RSA 2048, PKCS#1 `RSA PRIVATE KEY`, self-signed CA certificate
 * valid 100 years, SANs from address and hostname) and reused afterwards, so the API server's
 * webhook kubeconfig stays valid across restarts.
 *
 * Modes: the key 0600, the certificate 0644 (the Go tool asks for 0666 and lets the umask cut
 * it down; here no umask can leave it writable by others), a state dir created here 0700. A
 * state dir looser than 0700, or an existing key or certificate others can change, is reported.
 *
 * @module
 */

import type * as X509 from "@peculiar/x509";
import { checkMode } from "../config/mod.ts";
import { ensureDir, writeFileAtomic } from "./write_file_atomic.ts";

type X509Module = typeof X509;

/**
 * `@peculiar/x509` (and the `reflect-metadata` it needs) is only loaded to generate a pair: a
 * server restarting on an existing pair does not load ~9 MB of certificate code it never runs.
 */
async function loadX509(): Promise<X509Module> {
  await import("reflect-metadata");
  return await import("@peculiar/x509");
}

/** The key pair the TLS listener uses. */
export interface KeyPair {
  /** PEM `CERTIFICATE`. */
  certPem: string;
  /** PEM private key (`RSA PRIVATE KEY` when generated here). */
  keyPem: string;
  /** Where the certificate lives. */
  certPath: string;
  /** Where the key lives. */
  keyPath: string;
  /** True when this call generated the pair, false when existing files were loaded. */
  generated: boolean;
  /**
   * Warnings for the caller to log: a state dir looser than 0700, an existing key others can
   * access, an existing certificate others can write. Each names the path, its mode and the fix.
   */
  warnings: string[];
}

/** Options of {@link loadOrCreateKeyPair}. */
export interface KeyPairOptions {
  /** Directory holding `cert.pem` and `key.pem`. */
  stateDir: string;
  /** The listen address (an IP SAN unless unspecified). */
  address: string;
  /** The name the API server uses to reach the server (IP or DNS SAN). */
  hostname: string;
  /** The clock (for NotBefore / NotAfter). */
  now?: () => Date;
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** Validity of a generated certificate: 100 × 365 days, as the Go tool. */
export const CERT_VALIDITY_MS = 100 * 365 * DAY_MS;

/** Whether a string is an IPv4 or IPv6 literal. */
export function isIpLiteral(value: string): boolean {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(value)) {
    return value.split(".").every((octet) => Number(octet) <= 255);
  }
  if (!value.includes(":")) return false;
  try {
    new URL(`http://[${value}]/`);
    return true;
  } catch {
    return false;
  }
}

/** Normalises an IP literal so equal addresses compare equal (`::1` == `0:0::1`). */
export function normalizeIp(ip: string): string {
  return ip.includes(":") ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : ip;
}

function isUnspecified(ip: string): boolean {
  return ip === "0.0.0.0" || (ip.includes(":") && normalizeIp(ip) === "::");
}

/** The Go tool's SANs: address as IP SAN unless unspecified; hostname as IP or DNS SAN. */
export function subjectAltNames(
  address: string,
  hostname: string,
): { ips: string[]; dns: string[] } {
  const ips: string[] = [];
  const dns: string[] = [];
  const addressIsIp = isIpLiteral(address);
  if (addressIsIp && !isUnspecified(address)) ips.push(normalizeIp(address));
  if (isIpLiteral(hostname)) {
    const host = normalizeIp(hostname);
    if (!(addressIsIp && host === normalizeIp(address))) ips.push(host);
  } else if (hostname !== "") {
    dns.push(hostname);
  }
  return { ips, dns };
}

function pem(type: string, der: Uint8Array): string {
  let b64 = "";
  const chunk = 0x8000;
  for (let i = 0; i < der.length; i += chunk) {
    b64 += String.fromCharCode(...der.subarray(i, i + chunk));
  }
  const body = btoa(b64).replace(/.{1,64}/g, "$&\n");
  return `-----BEGIN ${type}-----\n${body}-----END ${type}-----\n`;
}

/** One DER tag-length-value: where its content starts and ends. */
function readTlv(der: Uint8Array, offset: number): { tag: number; start: number; end: number } {
  const tag = der[offset];
  let lengthByte = der[offset + 1];
  if (tag === undefined || lengthByte === undefined) throw new Error("truncated DER");
  let start = offset + 2;
  let length = lengthByte;
  if (lengthByte & 0x80) {
    const count = lengthByte & 0x7f;
    length = 0;
    for (let i = 0; i < count; i++) {
      lengthByte = der[start + i];
      if (lengthByte === undefined) throw new Error("truncated DER");
      length = length * 256 + lengthByte;
    }
    start += count;
  }
  if (start + length > der.length) throw new Error("truncated DER");
  return { tag, start, end: start + length };
}

/** Extracts the PKCS#1 `RSAPrivateKey` from a PKCS#8 `PrivateKeyInfo` (what WebCrypto exports). */
export function pkcs8ToPkcs1(pkcs8: Uint8Array): Uint8Array {
  const outer = readTlv(pkcs8, 0);
  const version = readTlv(pkcs8, outer.start);
  const algorithm = readTlv(pkcs8, version.end);
  const key = readTlv(pkcs8, algorithm.end);
  if (outer.tag !== 0x30 || version.tag !== 0x02 || algorithm.tag !== 0x30 || key.tag !== 0x04) {
    throw new Error("not a PKCS#8 private key");
  }
  return pkcs8.slice(key.start, key.end);
}

function randomSerialHex(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let hex = "";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  // A DER INTEGER with the top bit set is negative; serials must be positive.
  return (bytes[0]! & 0x80) ? "00" + hex : hex;
}

/** Generates a new self-signed key pair with the Go tool's properties (no files written). */
export async function generateKeyPair(
  address: string,
  hostname: string,
  now: Date = new Date(),
): Promise<{ certPem: string; keyPem: string }> {
  const algorithm = {
    name: "RSASSA-PKCS1-v1_5",
    hash: "SHA-256",
    publicExponent: new Uint8Array([1, 0, 1]),
    modulusLength: 2048,
  };
  const x509 = await loadX509();
  const keys = await crypto.subtle.generateKey(algorithm, true, ["sign", "verify"]);
  const sans = subjectAltNames(address, hostname);
  const names: X509.JsonGeneralNames = [
    ...sans.dns.map((value) => ({ type: "dns" as const, value })),
    ...sans.ips.map((value) => ({ type: "ip" as const, value })),
  ];
  const extensions: X509.Extension[] = [
    new x509.KeyUsagesExtension(
      x509.KeyUsageFlags.keyEncipherment | x509.KeyUsageFlags.digitalSignature |
        x509.KeyUsageFlags.keyCertSign,
      true,
    ),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    new x509.BasicConstraintsExtension(true, undefined, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names));
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialHex(),
    name: "CN=aws-iam-authenticator",
    notBefore: now,
    notAfter: new Date(now.getTime() + CERT_VALIDITY_MS),
    signingAlgorithm: algorithm,
    keys,
    extensions,
  });
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  return {
    certPem: pem("CERTIFICATE", new Uint8Array(cert.rawData)),
    keyPem: pem("RSA PRIVATE KEY", pkcs8ToPkcs1(pkcs8)),
  };
}

function joinPath(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
      return false;
    }
    throw new Error(`cannot read the state dir (--state-dir / server.stateDir): ${err}`);
  }
}

const KEY_BLOCK = /-----BEGIN (RSA |EC |)PRIVATE KEY-----[\s\S]+-----END \1PRIVATE KEY-----/;
const CERT_BLOCK = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/;

/**
 * Checks that the first PEM certificate has the outer shape of an X.509 `Certificate`
 * (SEQUENCE of tbsCertificate SEQUENCE, algorithm SEQUENCE, signature BIT STRING) so a damaged
 * file gets a message naming it. The TLS stack parses the rest when the listener starts, and
 * the server turns a failure there into the same advice.
 */
export function checkCertificatePem(text: string): void {
  const m = CERT_BLOCK.exec(text);
  if (!m) throw new Error("no PEM certificate found");
  let der: Uint8Array;
  try {
    der = Uint8Array.from(atob(m[1]!.replace(/\s+/g, "")), (c) => c.charCodeAt(0));
  } catch {
    throw new Error("the PEM certificate is not valid base64");
  }
  try {
    const outer = readTlv(der, 0);
    const tbs = readTlv(der, outer.start);
    const algorithm = readTlv(der, tbs.end);
    const signature = readTlv(der, algorithm.end);
    if (
      outer.tag !== 0x30 || outer.end !== der.length || tbs.tag !== 0x30 ||
      algorithm.tag !== 0x30 || signature.tag !== 0x03 || signature.end !== outer.end
    ) {
      throw new Error("not an X.509 certificate");
    }
  } catch {
    throw new Error("the PEM certificate is not an X.509 certificate");
  }
}

const STATE_FLAG = "--state-dir / server.stateDir";

/** The warnings of {@link KeyPair.warnings}. */
async function stateWarnings(
  stateDir: string,
  certPath: string,
  keyPath: string,
): Promise<string[]> {
  const out: string[] = [];
  const dir = await checkMode(stateDir, 0o077);
  if (dir !== undefined) {
    const risk = dir.groupWritable || dir.worldWritable
      ? "anyone who can write it can replace the certificate and key the webhook serves"
      : "others can list it";
    out.push(
      `the state dir ${stateDir} (${STATE_FLAG}) has mode ${dir.octal}, looser than 0700: ` +
        `${risk}; ${dir.fix}`,
    );
  }
  const key = await checkMode(keyPath, 0o077);
  if (key !== undefined) {
    out.push(
      `the TLS key ${keyPath} has mode ${key.octal}, looser than 0600: others can read or ` +
        `replace the webhook's private key; ${key.fix}`,
    );
  }
  const cert = await checkMode(certPath, 0o022);
  if (cert !== undefined) {
    out.push(
      `the TLS certificate ${certPath} is writable by others (mode ${cert.octal}): anyone who ` +
        `can write it can make the next webhook kubeconfig trust a certificate of their own; ` +
        `${cert.fix}`,
    );
  }
  return out;
}

/**
 * Loads `<stateDir>/cert.pem` and `<stateDir>/key.pem` when both exist, else generates a new
 * pair and writes both (key 0600, certificate 0644, each through a new file renamed into place;
 * the state dir and missing parents are created 0700). Throws an error naming the path when the
 * directory is unwritable or an existing file is not valid PEM.
 */
export async function loadOrCreateKeyPair(options: KeyPairOptions): Promise<KeyPair> {
  const certPath = joinPath(options.stateDir, "cert.pem");
  const keyPath = joinPath(options.stateDir, "key.pem");
  if (await exists(certPath) && await exists(keyPath)) {
    const certPem = await Deno.readTextFile(certPath);
    const keyPem = await Deno.readTextFile(keyPath);
    try {
      checkCertificatePem(certPem);
    } catch (err) {
      throw new Error(
        `could not load the TLS certificate ${certPath}: ${(err as Error).message}; ` +
          `delete cert.pem and key.pem to have new ones generated`,
      );
    }
    if (!KEY_BLOCK.test(keyPem)) {
      throw new Error(
        `could not load the TLS key ${keyPath}: no PEM private key found; ` +
          `delete cert.pem and key.pem to have new ones generated`,
      );
    }
    const warnings = await stateWarnings(options.stateDir, certPath, keyPath);
    return { certPem, keyPem, certPath, keyPath, generated: false, warnings };
  }
  const now = options.now?.() ?? new Date();
  const { certPem, keyPem } = await generateKeyPair(options.address, options.hostname, now);
  try {
    await ensureDir(options.stateDir, 0o700);
    await writeFileAtomic(keyPath, keyPem, 0o600);
    await writeFileAtomic(certPath, certPem, 0o644);
  } catch (err) {
    throw new Error(
      `could not write the TLS key pair into the state dir ${options.stateDir} ` +
        `(${STATE_FLAG}): ${(err as Error).message}`,
    );
  }
  const warnings = await stateWarnings(options.stateDir, certPath, keyPath);
  return { certPem, keyPem, certPath, keyPath, generated: true, warnings };
}
