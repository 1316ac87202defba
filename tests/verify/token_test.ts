import { strict as assert } from "node:assert";
import { FormatError, Verifier } from "../../src/verify/mod.ts";
import { AMZ_DATE, b64url, BASE_URL, SIGNED_AT, spyFetch, tokenOf } from "./fixtures.ts";

const NOW = new Date(SIGNED_AT.getTime() + 60_000);

function verifier(partition: "aws" | "aws-cn" | "aws-us-gov" = "aws", now = NOW) {
  const spy = spyFetch();
  const v = new Verifier({ clusterId: "c1", partition, now: () => now, fetch: spy.fetch });
  return { v, spy };
}

/** Replaces one exact piece of the base URL (the piece must exist). */
function mut(find: string, replace: string): string {
  assert.ok(BASE_URL.includes(find), `fixture does not contain ${find}`);
  return BASE_URL.replace(find, replace);
}

const P = "input token was not properly formatted: ";

interface Row {
  /** Security case number (docs/security.md) and what the row is. */
  name: string;
  token: string;
  partition?: "aws" | "aws-cn" | "aws-us-gov";
  /** Exact message, or a pattern for it. */
  msg: string | RegExp;
}

const url = (u: string) => tokenOf(u);
const HOSTED = (host: string) => url(mut("sts.us-west-2.amazonaws.com", host));
/** The base query with one more parameter appended. */
const PLUS = (extra: string) => url(BASE_URL + "&" + extra);

const rows: Row[] = [
  // Envelope
  {
    name: "1 token longer than 4096 bytes",
    token: "k8s-aws-v1." + "A".repeat(4086),
    msg: P + "token is too large",
  },
  {
    name: "1 multi-byte characters count as bytes",
    token: "k8s-aws-v1." + "é".repeat(2043),
    msg: P + "token is too large",
  },
  {
    name: "2 prefix k8s-aws-v2.",
    token: "k8s-aws-v2." + b64url(BASE_URL),
    msg: P + 'token is missing expected "k8s-aws-v1." prefix',
  },
  {
    name: "2 prefix upper case",
    token: "K8S-AWS-V1." + b64url(BASE_URL),
    msg: P + 'token is missing expected "k8s-aws-v1." prefix',
  },
  {
    name: "2 leading space",
    token: " " + tokenOf(BASE_URL),
    msg: P + 'token is missing expected "k8s-aws-v1." prefix',
  },
  {
    name: "3 '=' padding",
    token: "k8s-aws-v1.QUJD=",
    msg: P + "illegal base64 data at input byte 4",
  },
  {
    name: "3 standard alphabet '+'",
    token: "k8s-aws-v1.aHR0cHM6+y9z",
    msg: P + "illegal base64 data at input byte 8",
  },
  {
    name: "3 standard alphabet '/'",
    token: "k8s-aws-v1.aHR0cHM6/y9z",
    msg: P + "illegal base64 data at input byte 8",
  },
  {
    name: "3 CR/LF inside the base64",
    token: "k8s-aws-v1.aHR0\r\ncHM6",
    msg: P + "illegal base64 data at input byte 4",
  },
  {
    name: "3 impossible length",
    token: "k8s-aws-v1.aHR0c",
    msg: P + "illegal base64 data at input byte 4",
  },
  {
    name: "4 NUL in the URL",
    token: url(BASE_URL.replace("Action", "Act\0ion")),
    msg: P + "pre-signed URL has a byte that is not printable ASCII at offset 40",
  },
  { name: "4 CR LF in the URL", token: url(BASE_URL + "\r\nX: y"), msg: /not printable ASCII/ },
  {
    name: "4 non-UTF-8 byte",
    token: "k8s-aws-v1." + b64url("https://sts.us-west-2.amazonaws.com/\xff"),
    msg: /not printable ASCII at offset 36/,
  },
  {
    name: "4 space",
    token: url(BASE_URL.replace("?", " ?")),
    msg: /not printable ASCII at offset 36/,
  },
  {
    name: "4 no scheme",
    token: url(":ab:cd.af:/asda"),
    msg: P + "could not parse pre-signed URL: missing protocol scheme",
  },
  // URL structure
  {
    name: "5 scheme http",
    token: url(BASE_URL.replace("https:", "http:")),
    msg: P + 'unexpected scheme "http" in pre-signed URL',
  },
  {
    name: "5 scheme upper case",
    token: url(BASE_URL.replace("https:", "HTTPS:")),
    msg: P + 'unexpected scheme "HTTPS" in pre-signed URL',
  },
  {
    name: "6 userinfo",
    token: HOSTED("user@sts.us-west-2.amazonaws.com"),
    msg: P + "unexpected user information in pre-signed URL",
  },
  {
    name: "6 sts.amazonaws.com@evil.com",
    token: HOSTED("sts.amazonaws.com@evil.com"),
    msg: P + "unexpected user information in pre-signed URL",
  },
  {
    name: "7 fragment",
    token: url(BASE_URL + "#frag"),
    msg: P + "unexpected fragment in pre-signed URL",
  },
  {
    name: "8 port 443",
    token: HOSTED("sts.us-west-2.amazonaws.com:443"),
    msg: P + 'unexpected hostname "sts.us-west-2.amazonaws.com:443" in pre-signed URL',
  },
  {
    name: "8 port 8443",
    token: HOSTED("sts.us-west-2.amazonaws.com:8443"),
    msg: P + 'unexpected hostname "sts.us-west-2.amazonaws.com:8443" in pre-signed URL',
  },
  {
    name: "8 global with port",
    token: HOSTED("sts.amazonaws.com:443"),
    msg: P + 'unexpected hostname "sts.amazonaws.com:443" in pre-signed URL',
  },
  {
    name: "9 trailing dot",
    token: HOSTED("sts.us-west-2.amazonaws.com."),
    msg: P + 'unexpected hostname "sts.us-west-2.amazonaws.com." in pre-signed URL',
  },
  {
    name: "9 global trailing dot",
    token: HOSTED("sts.amazonaws.com."),
    msg: P + 'unexpected hostname "sts.amazonaws.com." in pre-signed URL',
  },
  {
    name: "10 suffix attack",
    token: HOSTED("sts.us-west-2.amazonaws.com.evil.com"),
    msg: P + 'unexpected hostname "sts.us-west-2.amazonaws.com.evil.com" in pre-signed URL',
  },
  {
    name: "11 mixed case host",
    token: HOSTED("STS.us-west-2.amazonaws.com"),
    msg: P + 'unexpected hostname "STS.us-west-2.amazonaws.com" in pre-signed URL',
  },
  {
    name: "11 upper-case domain",
    token: HOSTED("sts.us-west-2.AMAZONAWS.COM"),
    msg: /unexpected hostname/,
  },
  {
    name: "11 IDN look-alike (Cyrillic a)",
    token: "k8s-aws-v1." + b64url(unescape(encodeURIComponent(mut("amazonaws", "amazon\u0430ws")))),
    msg: /not printable ASCII/,
  },
  {
    name: "11 punycode look-alike",
    token: HOSTED("sts.us-west-2.xn--amazonws-5vf.com"),
    msg: /unexpected hostname/,
  },
  {
    name: "11 IPv4 literal",
    token: HOSTED("52.94.0.1"),
    msg: P + 'unexpected hostname "52.94.0.1" in pre-signed URL',
  },
  {
    name: "11 IPv6 literal",
    token: HOSTED("[::1]"),
    msg: /could not parse region for pre-signed URL \[::1\], invalid host format/,
  },
  {
    name: "11 empty host",
    token: HOSTED(""),
    msg: P + "could not parse region for pre-signed URL , host is empty",
  },
  {
    name: "12 percent-encoded host",
    token: HOSTED("sts.us-west-2.amazonaws%2Ecom"),
    msg: /unexpected hostname/,
  },
  {
    name: "12 percent-encoded dot before region",
    token: HOSTED("sts%2Eus-west-2.amazonaws.com"),
    msg: /invalid host format|unexpected hostname/,
  },
  {
    name: "13 backslash confusion",
    token: url(BASE_URL.replace("sts.us-west-2.amazonaws.com", "evil.com\\@sts.amazonaws.com")),
    msg: P + "unexpected user information in pre-signed URL",
  },
  {
    name: "13 backslash as path",
    token: url(BASE_URL.replace("amazonaws.com/", "amazonaws.com\\")),
    msg: /unexpected hostname/,
  },
  {
    name: "14 China host with partition aws",
    token: HOSTED("sts.cn-north-1.amazonaws.com.cn"),
    msg: P + "partition {aws} does not support hostname sts.cn-north-1.amazonaws.com.cn",
  },
  {
    name: "14 GovCloud host with partition aws",
    token: HOSTED("sts.us-gov-west-1.amazonaws.com"),
    msg: P + "partition {aws} does not support hostname sts.us-gov-west-1.amazonaws.com",
  },
  {
    name: "14 commercial host with partition aws-us-gov",
    partition: "aws-us-gov",
    token: BASE_URL_TOKEN(),
    msg: P + "partition {aws-us-gov} does not support hostname sts.us-west-2.amazonaws.com",
  },
  {
    name: "14 global with partition aws-cn",
    partition: "aws-cn",
    token: HOSTED("sts.amazonaws.com"),
    msg: P + "global endpoint unsupported in partition aws-cn",
  },
  {
    name: "15 empty region label",
    token: HOSTED("sts..amazonaws.com"),
    msg: P + "invalid region identifier format provided: ",
  },
  {
    name: "15 region label -x-",
    token: HOSTED("sts.-x-.amazonaws.com"),
    msg: P + "invalid region identifier format provided: -x-",
  },
  {
    name: "15 not a region (Go accepts it)",
    token: HOSTED("sts.not-a-region.amazonaws.com"),
    msg: P + 'unexpected hostname "sts.not-a-region.amazonaws.com" in pre-signed URL',
  },
  {
    name: "15 two labels",
    token: HOSTED("amazonaws.com"),
    msg: P +
      "could not parse region for pre-signed URL amazonaws.com, invalid host format: amazonaws.com",
  },
  {
    name: "16 path /x",
    token: url(mut(".com/?", ".com/x?")),
    msg: P + "unexpected path in pre-signed URL",
  },
  {
    name: "16 path //",
    token: url(mut(".com/?", ".com//?")),
    msg: P + "unexpected path in pre-signed URL",
  },
  {
    name: "16 path /%2e%2e/",
    token: url(mut(".com/?", ".com/%2e%2e/?")),
    msg: P + "unexpected path in pre-signed URL",
  },
  {
    name: "16 empty path (WHATWG would add /)",
    token: url(mut(".com/?", ".com?")),
    msg: P + "unexpected path in pre-signed URL",
  },
  // Query parameters
  {
    name: "18 CVE-2022-2385 credential",
    token: PLUS("x-amz-credential=AKIAVICTIM%2F20260101%2Fus-west-2%2Fsts%2Faws4_request"),
    msg: P + 'duplicate query parameter found: "x-amz-credential"',
  },
  {
    name: "19 Action/action",
    token: PLUS("action=GetCallerIdentity"),
    msg: P + 'duplicate query parameter found: "action"',
  },
  {
    name: "19 SignedHeaders case variant",
    token: PLUS("x-amz-signedheaders=host%3Bx-k8s-aws-id"),
    msg: P + 'duplicate query parameter found: "x-amz-signedheaders"',
  },
  {
    name: "19 Date case variant",
    token: PLUS("x-amz-date=" + AMZ_DATE),
    msg: P + 'duplicate query parameter found: "x-amz-date"',
  },
  {
    name: "19 Expires case variant",
    token: PLUS("X-AMZ-EXPIRES=60"),
    msg: P + 'duplicate query parameter found: "X-AMZ-EXPIRES"',
  },
  {
    name: "19 lower-case key alone (STS ignores it)",
    token: url(mut("Action=", "action=")),
    msg: P + 'non-whitelisted query parameter "action"',
  },
  {
    name: "20 exact duplicate Action",
    token: PLUS("Action=GetCallerIdentity"),
    msg: P + "query parameter with multiple values not supported",
  },
  {
    name: "20 exact duplicate credential",
    token: PLUS("X-Amz-Credential=AKIAVICTIM%2Fx"),
    msg: P + "query parameter with multiple values not supported",
  },
  {
    name: "21 %41ction next to Action",
    token: PLUS("%41ction=AssumeRole"),
    msg: P + "query parameter with multiple values not supported",
  },
  {
    name: "21 %41ction alone",
    token: url(mut("Action=", "%41ction=")),
    msg: P + 'non-whitelisted query parameter "%41ction"',
  },
  {
    name: "22 X-Amz-User-Agent",
    token: PLUS("X-Amz-User-Agent=x"),
    msg: P + 'non-whitelisted query parameter "X-Amz-User-Agent"',
  },
  {
    name: "22 X-Amz-Content-Sha256",
    token: PLUS("X-Amz-Content-Sha256=UNSIGNED-PAYLOAD"),
    msg: P + 'non-whitelisted query parameter "X-Amz-Content-Sha256"',
  },
  {
    name: "22 RoleArn",
    token: PLUS("RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fx"),
    msg: P + 'non-whitelisted query parameter "RoleArn"',
  },
  {
    name: "22 DurationSeconds",
    token: PLUS("DurationSeconds=900"),
    msg: P + 'non-whitelisted query parameter "DurationSeconds"',
  },
  { name: "22 empty key", token: PLUS("=x"), msg: P + 'non-whitelisted query parameter ""' },
  {
    name: "23 Action AssumeRole",
    token: url(mut("GetCallerIdentity", "AssumeRole")),
    msg: P + "unexpected action parameter in pre-signed URL",
  },
  {
    name: "23 Action lower case",
    token: url(mut("GetCallerIdentity", "getcalleridentity")),
    msg: P + "unexpected action parameter in pre-signed URL",
  },
  {
    name: "23 Action trailing space",
    token: url(mut("GetCallerIdentity", "GetCallerIdentity%20")),
    msg: P + "unexpected action parameter in pre-signed URL",
  },
  {
    name: "23 Action %00",
    token: url(mut("GetCallerIdentity", "GetCallerIdentity%00")),
    msg: P + "unexpected action parameter in pre-signed URL",
  },
  {
    name: "23 Action missing",
    token: url(mut("Action=GetCallerIdentity&", "")),
    msg: P + "unexpected action parameter in pre-signed URL",
  },
  {
    name: "PD4 Version missing",
    token: url(mut("&Version=2011-06-15", "")),
    msg: P + "unexpected version parameter in pre-signed URL",
  },
  {
    name: "PD4 Version other",
    token: url(mut("2011-06-15", "2011-06-16")),
    msg: P + "unexpected version parameter in pre-signed URL",
  },
  {
    name: "PD4 algorithm missing",
    token: url(mut("&X-Amz-Algorithm=AWS4-HMAC-SHA256", "")),
    msg: P + "unexpected X-Amz-Algorithm parameter in pre-signed URL",
  },
  {
    name: "PD4 algorithm other",
    token: url(mut("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1")),
    msg: P + "unexpected X-Amz-Algorithm parameter in pre-signed URL",
  },
  {
    name: "24 x-k8s-aws-id not signed",
    token: url(mut("host%3Bx-k8s-aws-id", "host")),
    msg: P + "client did not sign the x-k8s-aws-id header in the pre-signed URL",
  },
  {
    name: "24 x-k8s-aws-idx",
    token: url(mut("host%3Bx-k8s-aws-id", "host%3Bx-k8s-aws-idx")),
    msg: P + "client did not sign the x-k8s-aws-id header in the pre-signed URL",
  },
  {
    name: "24 x-k8s-aws-id2",
    token: url(mut("host%3Bx-k8s-aws-id", "host%3Bx-k8s-aws-id2")),
    msg: P + "client did not sign the x-k8s-aws-id header in the pre-signed URL",
  },
  {
    name: "24 trailing space",
    token: url(mut("host%3Bx-k8s-aws-id", "host%3Bx-k8s-aws-id%20")),
    msg: P + "client did not sign the x-k8s-aws-id header in the pre-signed URL",
  },
  {
    name: "24 SignedHeaders missing",
    token: url(mut("&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id", "")),
    msg: P + "client did not sign the x-k8s-aws-id header in the pre-signed URL",
  },
  {
    name: "25 Expires -1",
    token: url(mut("X-Amz-Expires=60", "X-Amz-Expires=-1")),
    msg: P + "invalid X-Amz-Expires parameter in pre-signed URL: -1",
  },
  {
    name: "25 Expires 901",
    token: url(mut("X-Amz-Expires=60", "X-Amz-Expires=901")),
    msg: P + "invalid X-Amz-Expires parameter in pre-signed URL: 901",
  },
  {
    name: "25 Expires abc",
    token: url(mut("X-Amz-Expires=60", "X-Amz-Expires=abc")),
    msg: P + "invalid X-Amz-Expires parameter in pre-signed URL: 0",
  },
  {
    name: "25 Expires +60 (Go Atoi accepts it)",
    token: url(mut("X-Amz-Expires=60", "X-Amz-Expires=%2B60")),
    msg: P + "invalid X-Amz-Expires parameter in pre-signed URL: 60",
  },
  {
    name: "25 Expires 60.0",
    token: url(mut("X-Amz-Expires=60", "X-Amz-Expires=60.0")),
    msg: P + "invalid X-Amz-Expires parameter in pre-signed URL: 0",
  },
  {
    name: "25 Expires 0x3c",
    token: url(mut("X-Amz-Expires=60", "X-Amz-Expires=0x3c")),
    msg: P + "invalid X-Amz-Expires parameter in pre-signed URL: 0",
  },
  {
    name: "25 Expires 60x (parseInt would say 60)",
    token: url(mut("X-Amz-Expires=60", "X-Amz-Expires=60x")),
    msg: P + "invalid X-Amz-Expires parameter in pre-signed URL: 0",
  },
  {
    name: "25 Expires Arabic-Indic digits",
    token: url(mut("X-Amz-Expires=60", "X-Amz-Expires=%D9%A6%D9%A0")),
    msg: P + "invalid X-Amz-Expires parameter in pre-signed URL: 0",
  },
  {
    name: "25 Expires 0060 (four digits)",
    token: url(mut("X-Amz-Expires=60", "X-Amz-Expires=0060")),
    msg: P + "invalid X-Amz-Expires parameter in pre-signed URL: 60",
  },
  {
    name: "25 Expires missing",
    token: url(mut("&X-Amz-Expires=60", "")),
    msg: P + "invalid X-Amz-Expires parameter in pre-signed URL: 0",
  },
  {
    name: "26 Date missing",
    token: url(mut(`&X-Amz-Date=${AMZ_DATE}`, "")),
    msg: P + "X-Amz-Date parameter must be present in pre-signed URL",
  },
  {
    name: "26 Date empty",
    token: url(mut(`X-Amz-Date=${AMZ_DATE}`, "X-Amz-Date=")),
    msg: P + "X-Amz-Date parameter must be present in pre-signed URL",
  },
  {
    name: "26 Date wrong format",
    token: url(mut(AMZ_DATE, "2026-01-01T00%3A00%3A00Z")),
    msg:
      /^input token was not properly formatted: error parsing X-Amz-Date parameter 2026-01-01T00:00:00Z into format 20060102T150405Z: /,
  },
  {
    name: "26 Date 31 February",
    token: url(mut(AMZ_DATE, "20260231T000000Z")),
    msg: /error parsing X-Amz-Date parameter 20260231T000000Z into format 20060102T150405Z/,
  },
  {
    name: "26 Date hour 24",
    token: url(mut(AMZ_DATE, "20260101T240000Z")),
    msg: /error parsing X-Amz-Date parameter/,
  },
  {
    name: "26 Date without Z",
    token: url(mut(AMZ_DATE, "20260101T000000")),
    msg: /error parsing X-Amz-Date parameter/,
  },
  {
    name: "26 Date older than 15 minutes",
    token: url(mut(AMZ_DATE, "20251231T234459Z")),
    msg: P + "X-Amz-Date parameter is expired (15 minute expiration) 2025-12-31 23:44:59 +0000 UTC",
  },
  {
    name: "26 Date far in the future",
    token: url(mut(AMZ_DATE, "20270101T000000Z")),
    msg: P +
      "X-Amz-Date parameter is in the future (more than 5 minutes ahead of this server's clock) 2027-01-01 00:00:00 +0000 UTC",
  },
  {
    name: "27 ';' separator",
    token: url(mut("&Version", ";Version")),
    msg: P + "malformed query parameter",
  },
  {
    name: "27 bad escape",
    token: url(mut("us-west-2%2Fsts", "us-west-2%2Gsts")),
    msg: P + "malformed query parameter",
  },
  {
    name: "27 '+' (form-encoded space)",
    token: url(mut("Version=2011-06-15", "Version=2011-06-15+")),
    msg: P + "malformed query parameter",
  },
  {
    name: "27 invalid UTF-8 escape",
    token: url(mut("Version=2011-06-15", "Version=%FF")),
    msg: P + "malformed query parameter",
  },
  {
    name: "28 Credential missing",
    token: url(BASE_URL.replace(/&X-Amz-Credential=[^&]*/, "")),
    msg: P + "X-Amz-Credential parameter must be present in pre-signed URL",
  },
  {
    name: "28 Credential empty",
    token: url(BASE_URL.replace(/X-Amz-Credential=[^&]*/, "X-Amz-Credential=")),
    msg: P + "X-Amz-Credential parameter must be present in pre-signed URL",
  },
  {
    name: "28 Signature missing",
    token: url(BASE_URL.replace(/&X-Amz-Signature=[^&]*/, "")),
    msg: P + "X-Amz-Signature parameter must be present in pre-signed URL",
  },
  {
    name: "28 Signature empty",
    token: url(BASE_URL.replace(/X-Amz-Signature=[^&]*/, "X-Amz-Signature")),
    msg: P + "X-Amz-Signature parameter must be present in pre-signed URL",
  },
  // Holes in the Go tool (v0.7.18)
  {
    name: "51 sts.global.attacker.example",
    token: HOSTED("sts.global.attacker.example"),
    msg:
      /^input token was not properly formatted: could not parse region for pre-signed URL sts.global.attacker.example, /,
  },
  {
    name: "51 x.global.evil.com:8443",
    token: HOSTED("x.global.evil.com:8443"),
    msg:
      /^input token was not properly formatted: could not parse region for pre-signed URL x.global.evil.com:8443, /,
  },
  {
    name: "51 sts.global.amazonaws.com",
    token: HOSTED("sts.global.amazonaws.com"),
    msg: /could not parse region for pre-signed URL sts.global.amazonaws.com/,
  },
  {
    name: "52 query then WHATWG-only characters",
    token: url(BASE_URL + "&X-Amz-Signature2='"),
    msg: P + "malformed query parameter",
  },
];

function BASE_URL_TOKEN(): string {
  return tokenOf(BASE_URL);
}

/**
 * The reason ID (docs/why-denied.md) each failed check must carry, from the words of its message:
 * an independent statement of which check is which, so a check that reports the wrong reason
 * fails here.
 */
function expectedReason(message: string): string {
  const rules: [RegExp, string][] = [
    [/too large/, "token.too_large"],
    [/prefix/, "token.prefix"],
    [/illegal base64|not printable/, "token.encoding"],
    [/hostname|region|partition|global endpoint/, "token.sts_host"],
    [
      /scheme|user information|unexpected path|fragment|could not parse|canonical form/,
      "token.url",
    ],
    [/action parameter|version parameter/, "token.action"],
    [/x-k8s-aws-id/, "token.cluster_unsigned"],
    [/is expired/, "token.expired"],
    [/in the future/, "token.future"],
    [/query parameter|X-Amz-/, "token.query"],
  ];
  const hit = rules.find(([re]) => re.test(message));
  assert.ok(hit, `no reason rule for ${message}`);
  return hit[1];
}

for (const row of rows) {
  Deno.test(`rejects before any network call: ${row.name}`, async () => {
    const { v, spy } = verifier(row.partition);
    assert.throws(() => v.checkToken(row.token), (e: unknown) => {
      assert.ok(e instanceof FormatError, `expected FormatError, got ${e}`);
      if (typeof row.msg === "string") assert.equal(e.message, row.msg);
      else assert.match(e.message, row.msg);
      assert.equal(e.reason, expectedReason(e.message.slice(P.length)), e.message);
      return true;
    });
    await assert.rejects(v.verify(row.token), FormatError);
    assert.equal(spy.calls, 0, "the verifier reached the network");
  });
}

Deno.test("error messages never contain the token or the signature", () => {
  const { v } = verifier();
  for (const row of rows) {
    try {
      v.checkToken(row.token);
    } catch (e) {
      const m = (e as Error).message;
      assert.ok(!m.includes("4f5a2c0d8e5b1a7f6c3e"), `${row.name}: message has the signature`);
      assert.ok(!m.includes("FwoGZXIvYXdz"), `${row.name}: message has the session token`);
      assert.ok(!m.includes(row.token.slice(11, 40)), `${row.name}: message has the token`);
    }
  }
});

Deno.test("exactly 4096 bytes is not too large", () => {
  const { v } = verifier();
  const t = "k8s-aws-v1." + "A".repeat(4085);
  assert.equal(t.length, 4096);
  assert.throws(() => v.checkToken(t), (e: Error) => !e.message.includes("too large"));
});

Deno.test("17 positive cases: regional, FIPS, dual-stack, global are accepted", () => {
  const { v } = verifier();
  for (
    const host of [
      "sts.us-west-2.amazonaws.com",
      "sts-fips.us-east-1.amazonaws.com",
      "sts.us-east-1.api.aws",
      "sts-fips.us-east-1.api.aws",
      "sts.amazonaws.com",
    ]
  ) {
    const u = mut("sts.us-west-2.amazonaws.com", host);
    const t = v.checkToken(tokenOf(u));
    assert.equal(t.url, u);
    assert.equal(t.host, host);
  }
  assert.equal(v.checkToken(BASE_URL_TOKEN()).stsRegion, "us-west-2");
  assert.equal(v.checkToken(HOSTED("sts.amazonaws.com")).stsRegion, "global");
});

Deno.test("the checked token carries what STS and the identity need", () => {
  const { v } = verifier();
  const t = v.checkToken(BASE_URL_TOKEN());
  assert.deepEqual(t, {
    url: BASE_URL,
    host: "sts.us-west-2.amazonaws.com",
    stsRegion: "us-west-2",
    accessKeyId: "ASIAEXAMPLEEXAMPLE00",
    signedAt: SIGNED_AT,
    expiresAt: new Date(SIGNED_AT.getTime() + 15 * 60_000),
  });
});

Deno.test("Go-compatible leniencies that are still safe: empty segments, 0 and 900 expiry, no session token", () => {
  const { v } = verifier();
  assert.equal(v.checkToken(url(BASE_URL + "&&")).url, BASE_URL + "&&");
  v.checkToken(url(mut("X-Amz-Expires=60", "X-Amz-Expires=0")));
  v.checkToken(url(mut("X-Amz-Expires=60", "X-Amz-Expires=900")));
  v.checkToken(url(BASE_URL.replace(/&X-Amz-Security-Token=[^&]*/, "")));
  v.checkToken(url(mut("host%3Bx-k8s-aws-id", "host%3BX-K8S-AWS-ID")));
  // Parameter order does not matter.
  const [base, q] = BASE_URL.split("?") as [string, string];
  v.checkToken(url(base + "?" + q.split("&").reverse().join("&")));
});

Deno.test("expiry edges: exactly 15 minutes valid, +1 s expired; 5 minutes ahead valid, +1 s refused", () => {
  const at = (ms: number) => verifier("aws", new Date(SIGNED_AT.getTime() + ms)).v;
  assert.ok(at(15 * 60_000).checkToken(BASE_URL_TOKEN()));
  assert.throws(
    () => at(15 * 60_000 + 1000).checkToken(BASE_URL_TOKEN()),
    (e: FormatError) => e.reason === "token.expired" && /is expired/.test(e.message),
  );
  assert.throws(() => at(15 * 60_000 + 1).checkToken(BASE_URL_TOKEN()), /is expired/);
  assert.ok(at(-5 * 60_000).checkToken(BASE_URL_TOKEN()));
  assert.throws(() => at(-5 * 60_000 - 1000).checkToken(BASE_URL_TOKEN()), /in the future/);
  assert.ok(at(0).checkToken(BASE_URL_TOKEN()));
});

Deno.test("52 what is fetched is byte for byte what was validated, and WHATWG keeps it", () => {
  const { v } = verifier();
  const variants = [
    BASE_URL,
    mut("X-Amz-Security-Token=", "X-Amz-Security-Token=%7E%2a"),
    mut("sts.us-west-2.amazonaws.com", "sts.amazonaws.com"),
    BASE_URL + "&",
  ];
  for (const u of variants) {
    const t = v.checkToken(tokenOf(u));
    assert.equal(t.url, u);
    assert.equal(new URL(t.url).href, u);
    assert.equal(new Request(t.url).url, u);
  }
});

Deno.test("the STS endpoint override is accepted by exact origin only", () => {
  const spy = spyFetch();
  const v = new Verifier({
    clusterId: "c1",
    partition: "aws",
    now: () => NOW,
    fetch: spy.fetch,
    stsEndpointOverride: "http://127.0.0.1:4566/",
  });
  const on = (origin: string) =>
    tokenOf(BASE_URL.replace("https://sts.us-west-2.amazonaws.com", origin));
  const t = v.checkToken(on("http://127.0.0.1:4566"));
  assert.equal(t.host, "127.0.0.1:4566");
  assert.equal(t.stsRegion, "custom");
  assert.throws(() => v.checkToken(on("http://127.0.0.1:4567")), /unexpected scheme "http"/);
  assert.throws(() => v.checkToken(on("https://127.0.0.1:4566")), /unexpected hostname/);
  assert.throws(() => v.checkToken(on("http://localhost:4566")), /unexpected scheme/);
  // The regular hosts stay accepted.
  v.checkToken(BASE_URL_TOKEN());
  assert.equal(spy.calls, 0);

  const vpce = new Verifier({
    clusterId: "c1",
    partition: "aws",
    now: () => NOW,
    stsEndpointOverride: "https://vpce-0abc.sts.eu-west-1.vpce.amazonaws.com",
  });
  const tv = vpce.checkToken(on("https://vpce-0abc.sts.eu-west-1.vpce.amazonaws.com"));
  assert.equal(tv.stsRegion, "eu-west-1");
});

Deno.test("configuration errors are refused at construction", () => {
  assert.throws(() => new Verifier({ clusterId: "", partition: "aws" }), /cluster ID is required/);
  assert.throws(() => new Verifier({ clusterId: "a\nb", partition: "aws" }), /printable ASCII/);
  assert.throws(
    () => new Verifier({ clusterId: "c", partition: "aws", stsEndpointOverride: "ftp://x" }),
    /http or https/,
  );
  assert.throws(
    () => new Verifier({ clusterId: "c", partition: "aws", stsEndpointOverride: "not a url" }),
    /not an absolute URL/,
  );
});
