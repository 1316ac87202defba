/**
 * ARN parsing and canonicalization, with the Go tool's rules and error texts
 * (https://github.com/kubernetes-sigs/aws-iam-authenticator/blob/v0.7.18/pkg/arn/arn.go;
 * docs/mapping.md#canonical-arns-and-role-paths).
 *
 * Mappings are matched against a *canonical* ARN: an STS assumed-role session
 * (`arn:aws:sts::1:assumed-role/Admin/alice`) stands for its role (`arn:aws:iam::1:role/Admin`).
 *
 * @module
 */

import { isPartitionId } from "./partitions.ts";

/** The kinds of principal an authenticating identity can be. */
export type ArnType = "ROLE" | "USER" | "ROOT" | "FEDERATED_USER" | "ASSUMED_ROLE";

/** The six sections of an ARN; `resource` keeps any further `:` characters. */
export interface Arn {
  /** e.g. `aws`, `aws-cn`. */
  partition: string;
  /** e.g. `iam`, `sts`. */
  service: string;
  /** Empty for IAM and STS principals. */
  region: string;
  /** The 12-digit account ID. */
  accountId: string;
  /** e.g. `role/path/Name`, `assumed-role/Name/session`. */
  resource: string;
}

/** An ARN that is malformed or does not name an identity; the message says which and why. */
export class ArnError extends Error {
  /** @param message what is wrong with the ARN */
  constructor(message: string) {
    super(message);
    this.name = "ArnError";
  }
}

/**
 * Split an ARN into its sections, as the AWS SDK's `arn.Parse` does.
 *
 * @throws {ArnError} `arn: invalid prefix` or `arn: not enough sections`.
 */
export function parseArn(arn: string): Arn {
  if (!arn.startsWith("arn:")) throw new ArnError("arn: invalid prefix");
  const sections = splitN(arn, ":", 6);
  if (sections.length !== 6) throw new ArnError("arn: not enough sections");
  const [, partition, service, region, accountId, resource] = sections as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  return { partition, service, region, accountId, resource };
}

function parseIdentityArn(arn: string): Arn {
  let parsed: Arn;
  try {
    parsed = parseArn(arn);
  } catch (e) {
    throw new ArnError(`arn '${arn}' is invalid: '${(e as Error).message}'`);
  }
  if (!isPartitionId(parsed.partition)) {
    throw new ArnError(`arn '${arn}' does not have a recognized partition`);
  }
  return parsed;
}

/**
 * The principal type of an identity ARN and the ARN mappings match against: an assumed-role
 * session becomes its role (keeping any middle parts as a path, dropping the session name);
 * users, roles, root and federated users are returned unchanged. No case folding.
 *
 * @throws {ArnError} with the Go tool's message when the ARN is malformed or names no identity.
 */
export function canonicalizeArn(arn: string): { type: ArnType; canonical: string } {
  const parsed = parseIdentityArn(arn);
  const parts = parsed.resource.split("/");
  const resourceType = parts[0];
  switch (parsed.service) {
    case "sts":
      if (resourceType === "federated-user") return { type: "FEDERATED_USER", canonical: arn };
      if (resourceType === "assumed-role") {
        if (parts.length < 3) throw new ArnError(`assumed-role arn '${arn}' does not have a role`);
        const role = parts.slice(1, -1).join("/");
        return {
          type: "ASSUMED_ROLE",
          canonical: `arn:${parsed.partition}:iam::${parsed.accountId}:role/${role}`,
        };
      }
      throw new ArnError(`unrecognized resource ${parsed.resource} for service sts`);
    case "iam":
      if (resourceType === "role") return { type: "ROLE", canonical: arn };
      if (resourceType === "user") return { type: "USER", canonical: arn };
      if (resourceType === "root") return { type: "ROOT", canonical: arn };
      throw new ArnError(`unrecognized resource ${parsed.resource} for service iam`);
    default:
      throw new ArnError(
        `service ${parsed.service} in arn ${arn} is not a valid service for identities`,
      );
  }
}

/**
 * Drop the path of a role ARN (`role/path/to/Name` -> `role/Name`); other ARNs are returned
 * unchanged. STS never puts the path into an assumed-role ARN, so a configured role with a path
 * can only match once the path is gone.
 *
 * @throws {ArnError} when the ARN is malformed or its partition is unknown.
 */
export function stripPath(arn: string): string {
  const parsed = parseIdentityArn(arn);
  const parts = parsed.resource.split("/");
  if (parts[0] !== "role" || parts.length <= 2) return arn;
  const name = parts[parts.length - 1];
  return `arn:${parsed.partition}:${parsed.service}::${parsed.accountId}:role/${name}`;
}

const REGEX_SPECIALS = /[\\.+()|[\]{}^$]/g;

function sectionPattern(section: string): RegExp {
  const body = section.replace(REGEX_SPECIALS, "\\$&").replaceAll("*", ".*").replaceAll("?", ".?");
  return new RegExp(`^${body}$`);
}

function arnSections(value: string, what: string): string[] {
  if (!value.startsWith("arn:")) throw new ArnError(`could not parse ${what}: invalid prefix`);
  const sections = splitN(value, ":", 6);
  if (sections.length !== 6) throw new ArnError(`could not parse ${what}: not enough sections`);
  return sections;
}

/**
 * IAM `ArnLike` matching, section by section, with `*` for any run of characters and `?` for
 * at most one (the Go tool's reading). Case-sensitive.
 *
 * @throws {ArnError} when either side is not a six-section ARN.
 */
export function arnLike(arn: string, pattern: string): boolean {
  const actual = arnSections(arn, "input arn");
  const wanted = arnSections(pattern, "ArnLike string");
  return wanted.every((section, i) => sectionPattern(section).test(actual[i] as string));
}

/** Go's `strings.SplitN`: at most `n` pieces, the last one keeping the remaining separators. */
function splitN(value: string, sep: string, n: number): string[] {
  const out: string[] = [];
  let rest = value;
  while (out.length < n - 1) {
    const at = rest.indexOf(sep);
    if (at < 0) break;
    out.push(rest.slice(0, at));
    rest = rest.slice(at + sep.length);
  }
  out.push(rest);
  return out;
}
