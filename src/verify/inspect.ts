/**
 * What a token says about itself, for people: `explain` shows it next to the verdict of the
 * verifier's own checks ({@link checkToken}). This decodes; it decides nothing, and it never
 * returns the signature or the session token.
 *
 * @module
 */

import { TOKEN_PREFIX } from "./token.ts";

/** The readable parts of a token; every field is absent when the token does not carry it. */
export interface TokenFacts {
  /** The decoded presigned URL with `X-Amz-Signature` and `X-Amz-Security-Token` redacted. */
  url?: string;
  /** `host[:port]` the token would be sent to. */
  host?: string;
  /** `Action` and `Version`. */
  action?: string;
  /** `Version`. */
  version?: string;
  /** The access key ID of `X-Amz-Credential`. */
  accessKeyId?: string;
  /** The region of the credential scope (what the signature is scoped to). */
  signingRegion?: string;
  /** The service of the credential scope (`sts`). */
  signingService?: string;
  /** `X-Amz-SignedHeaders`, split. */
  signedHeaders?: string[];
  /** `X-Amz-Date` as written. */
  amzDate?: string;
  /** `X-Amz-Date` parsed, when it parses. */
  signedAt?: Date;
  /** `X-Amz-Expires` as written. */
  expires?: string;
  /** Whether the token was signed with temporary credentials (carries a session token). */
  temporaryCredentials: boolean;
}

const SECRET_PARAMS = new Set(["X-Amz-Signature", "X-Amz-Security-Token"]);

function decode(s: string): string | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 === 1) return undefined;
  try {
    return atob(
      s.replaceAll("-", "+").replaceAll("_", "/") + "==".slice(0, (4 - s.length % 4) % 4),
    );
  } catch {
    return undefined;
  }
}

/** Decodes what a token carries, as far as it can be decoded; never throws. */
export function inspectToken(token: string): TokenFacts {
  const out: TokenFacts = { temporaryCredentials: false };
  if (!token.startsWith(TOKEN_PREFIX)) return out;
  const url = decode(token.slice(TOKEN_PREFIX.length));
  if (url === undefined || !/^[\x21-\x7e]*$/.test(url)) return out;
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)[^?#]*(?:\?([^#]*))?/.exec(url);
  if (!m) return out;
  out.host = m[1];
  const query = m[2] ?? "";
  const kept: string[] = [];
  for (const part of query.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const key = eq < 0 ? part : part.slice(0, eq);
    let value = eq < 0 ? "" : part.slice(eq + 1);
    try {
      value = decodeURIComponent(value);
    } catch {
      // Shown as written.
    }
    if (SECRET_PARAMS.has(key)) {
      if (key === "X-Amz-Security-Token") out.temporaryCredentials = true;
      kept.push(`${key}=<redacted>`);
      continue;
    }
    kept.push(part);
    switch (key) {
      case "Action":
        out.action = value;
        break;
      case "Version":
        out.version = value;
        break;
      case "X-Amz-Credential": {
        const [keyId, _date, region, service] = value.split("/");
        out.accessKeyId = keyId;
        out.signingRegion = region;
        out.signingService = service;
        break;
      }
      case "X-Amz-SignedHeaders":
        out.signedHeaders = value.split(";");
        break;
      case "X-Amz-Date": {
        out.amzDate = value;
        const d = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
        if (d) {
          const t = Date.UTC(+d[1]!, +d[2]! - 1, +d[3]!, +d[4]!, +d[5]!, +d[6]!);
          if (!Number.isNaN(t)) out.signedAt = new Date(t);
        }
        break;
      }
      case "X-Amz-Expires":
        out.expires = value;
        break;
    }
  }
  const queryAt = url.indexOf("?");
  out.url = queryAt < 0 ? url : url.slice(0, queryAt + 1) + kept.join("&");
  return out;
}
