/**
 * A throwaway certificate authority for the test peers, written with openssl: a CA, and leaf
 * certificates signed by it (ECDSA P-256: fast to generate). A leaf signed by a CA is what real
 * endpoints present; rustls (Deno's fetch) refuses a self-signed certificate used as its own
 * server certificate.
 *
 * @module
 */

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/** Extensions of a TLS server certificate for 127.0.0.1 (and `names`). */
export function serverExt(names: readonly string[] = ["IP:127.0.0.1", "DNS:localhost"]): string {
  return `subjectAltName=${names.join(",")}\nextendedKeyUsage=serverAuth\n` +
    "keyUsage=critical,digitalSignature\n";
}

/** Extensions of a TLS client certificate. */
export const CLIENT_EXT = "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n";

/** Runs openssl in `dir`; throws with its stderr when it fails. */
export async function openssl(dir: string, args: readonly string[]): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args: [...args],
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `openssl ${args.join(" ")} failed (exit ${out.code}): ${
        new TextDecoder().decode(out.stderr)
      }`,
    );
  }
}

/** Writes `ca.key` and `ca.crt` (subject `/CN=cn`) into `dir`. */
export async function writeCa(dir: string, cn: string, days = 3): Promise<void> {
  await openssl(dir, [
    "req",
    "-x509",
    ...EC_KEY,
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    String(days),
    "-subj",
    `/CN=${cn}`,
  ]);
}

/** Writes `<name>.key` and `<name>.crt` for `subj`, signed by the CA in `dir`, with `ext`. */
export async function writeLeaf(
  dir: string,
  name: string,
  subj: string,
  ext: string,
  days = 3,
): Promise<void> {
  await Deno.writeTextFile(`${dir}/${name}.ext`, ext);
  await openssl(dir, [
    "req",
    ...EC_KEY,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    subj,
  ]);
  await openssl(dir, [
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    String(days),
    "-extfile",
    `${name}.ext`,
    "-out",
    `${name}.crt`,
  ]);
}

/**
 * A throwaway CA and a server leaf for 127.0.0.1 signed by it, valid for a day, in `dir`
 * (`ca.crt`, `leaf.crt`, `leaf.key`); returns the PEM texts.
 */
export async function writeCaAndLeaf(
  dir: string,
): Promise<{ ca: string; cert: string; key: string }> {
  await writeCa(dir, "ca", 1);
  await writeLeaf(dir, "leaf", "/CN=sts", serverExt(), 1);
  const read = (f: string) => Deno.readTextFile(`${dir}/${f}`);
  return { ca: await read("ca.crt"), cert: await read("leaf.crt"), key: await read("leaf.key") };
}
