/**
 * Base AWS credentials, region and profile settings for the token client.
 *
 * Static keys (from the environment or a profile's `aws_access_key_id`) are read here
 * directly, so the common case loads no AWS SDK module. Everything else -- `credential_process`,
 * SSO, web identity, `role_arn`/`source_profile` (with MFA), ECS and EC2 instance roles -- goes
 * through `@aws-sdk/credential-providers`, imported only on that path.
 *
 * @module
 */

type CredentialProviders = typeof import("@aws-sdk/credential-providers");

/** A set of AWS credentials. */
export interface Credentials {
  /** Access key ID. */
  accessKeyId: string;
  /** Secret access key. */
  secretAccessKey: string;
  /** Session token of temporary credentials. */
  sessionToken?: string;
  /** When temporary credentials stop working; absent for long-term keys. */
  expiration?: Date;
  /** Name of the provider that produced them (stored in the `--cache` file as `source`). */
  source?: string;
  /** Account ID when the provider reports it. */
  accountId?: string;
}

/** Process effects the credential code needs; tests replace them. */
export interface SignDeps {
  /** Environment lookup. */
  env: (name: string) => string | undefined;
  /**
   * Reads a small UTF-8 file (throws `Deno.errors.NotFound` when absent). Synchronous on
   * purpose: on the token path an async read costs more than the read itself.
   */
  readTextFileSync: (path: string) => string;
  /** HTTP client (EC2 instance metadata region lookup). */
  fetch: typeof fetch;
  /** The clock. */
  now: () => Date;
  /** Writes a prompt or warning to stderr. */
  stderr: (s: string) => void;
  /** Reads one line from stdin (MFA codes); null at end of input. */
  readLine: () => Promise<string | null>;
}

/** Reads one line from the process's stdin without buffering past it. */
export async function readStdinLine(): Promise<string | null> {
  const bytes: number[] = [];
  const buf = new Uint8Array(1);
  while (true) {
    const n = await Deno.stdin.read(buf);
    if (n === null) return bytes.length ? new TextDecoder().decode(new Uint8Array(bytes)) : null;
    if (buf[0] === 0x0a) break;
    bytes.push(buf[0]!);
  }
  return new TextDecoder().decode(new Uint8Array(bytes)).replace(/\r$/, "");
}

/** The real process. */
export function defaultSignDeps(): SignDeps {
  return {
    env: (n) => Deno.env.get(n),
    readTextFileSync: (p) => Deno.readTextFileSync(p),
    fetch: (input, init) => fetch(input, init),
    now: () => new Date(),
    stderr: (s) => {
      let b = new TextEncoder().encode(s);
      while (b.length) b = b.subarray(Deno.stderr.writeSync(b));
    },
    readLine: readStdinLine,
  };
}

/** One section of a shared config/credentials file: lower-cased keys to values. */
export type IniSection = Record<string, string>;

/**
 * Parses an AWS shared config/credentials file. Keys are lower-cased; indented lines
 * (nested `s3 =` style sub-settings) are skipped; `#` and `;` start comments.
 */
export function parseIni(text: string): Map<string, IniSection> {
  const out = new Map<string, IniSection>();
  let current: IniSection | undefined;
  for (const raw of text.split(/\r?\n/)) {
    if (/^\s*([#;].*)?$/.test(raw)) continue;
    const section = /^\s*\[([^\]]+)\]/.exec(raw);
    if (section) {
      const name = section[1]!.trim();
      current = out.get(name) ?? {};
      out.set(name, current);
      continue;
    }
    if (!current || /^\s/.test(raw)) continue;
    const eq = raw.indexOf("=");
    if (eq < 0) continue;
    const key = raw.slice(0, eq).trim().toLowerCase();
    let value = raw.slice(eq + 1).trim();
    const comment = /\s[#;]/.exec(value);
    if (comment) value = value.slice(0, comment.index).trim();
    current[key] = value;
  }
  return out;
}

/** The profile name in effect: `AWS_PROFILE`, else `AWS_DEFAULT_PROFILE`, else `default`. */
export function profileName(env: (n: string) => string | undefined): string {
  return env("AWS_PROFILE") || env("AWS_DEFAULT_PROFILE") || "default";
}

function homeDir(env: (n: string) => string | undefined): string {
  return env("HOME") || env("USERPROFILE") || "";
}

/** Where the shared config and credentials files are. */
export function sharedFilePaths(env: (n: string) => string | undefined): {
  config: string;
  credentials: string;
} {
  const expand = (p: string) => (p.startsWith("~/") ? homeDir(env) + p.slice(1) : p);
  return {
    config: expand(env("AWS_CONFIG_FILE") || `${homeDir(env)}/.aws/config`),
    credentials: expand(env("AWS_SHARED_CREDENTIALS_FILE") || `${homeDir(env)}/.aws/credentials`),
  };
}

function readOptional(deps: SignDeps, path: string): string | undefined {
  try {
    return deps.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.IsADirectory) {
      return undefined;
    }
    throw e;
  }
}

/** The merged settings of the active profile. */
export interface Profile {
  /** Profile name. */
  name: string;
  /** Whether any file defines it. */
  exists: boolean;
  /** The shared files that define it (config first), for messages. */
  files: string[];
  /** Settings (credentials file values override config file values, as the SDKs do). */
  settings: IniSection;
}

/** Loads the active profile from the shared files. */
export function loadProfile(deps: SignDeps): Profile {
  const name = profileName(deps.env);
  const paths = sharedFilePaths(deps.env);
  const configText = readOptional(deps, paths.config);
  const credText = readOptional(deps, paths.credentials);
  const settings: IniSection = {};
  const files: string[] = [];
  if (configText !== undefined) {
    const ini = parseIni(configText);
    const sec = name === "default"
      ? ini.get("default") ?? ini.get("profile default")
      : ini.get(`profile ${name}`);
    if (sec) {
      files.push(paths.config);
      Object.assign(settings, sec);
    }
  }
  if (credText !== undefined) {
    const sec = parseIni(credText).get(name);
    if (sec) {
      files.push(paths.credentials);
      Object.assign(settings, sec);
    }
  }
  return { name, exists: files.length > 0, settings, files };
}

/** Static credentials from `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (and the old aliases). */
export function envCredentials(env: (n: string) => string | undefined): Credentials | undefined {
  const accessKeyId = env("AWS_ACCESS_KEY_ID") || env("AWS_ACCESS_KEY");
  const secretAccessKey = env("AWS_SECRET_ACCESS_KEY") || env("AWS_SECRET_KEY");
  if (!accessKeyId || !secretAccessKey) return undefined;
  const expiration = env("AWS_CREDENTIAL_EXPIRATION");
  const out: Credentials = { accessKeyId, secretAccessKey, source: "EnvConfigCredentials" };
  const sessionToken = env("AWS_SESSION_TOKEN");
  if (sessionToken) out.sessionToken = sessionToken;
  if (expiration && !Number.isNaN(Date.parse(expiration))) out.expiration = new Date(expiration);
  const accountId = env("AWS_ACCOUNT_ID");
  if (accountId) out.accountId = accountId;
  return out;
}

const SDK_PROFILE_KEYS = [
  "role_arn",
  "credential_process",
  "sso_session",
  "sso_start_url",
  "sso_account_id",
  "web_identity_token_file",
  "credential_source",
];

/** Whether a profile needs the AWS SDK to produce credentials (anything but static keys). */
export function profileNeedsSdk(p: Profile): boolean {
  return SDK_PROFILE_KEYS.some((k) => p.settings[k]);
}

/** Static keys written in a profile, if that is all it needs. */
export function profileStaticCredentials(p: Profile, path: string): Credentials | undefined {
  if (profileNeedsSdk(p)) return undefined;
  const accessKeyId = p.settings["aws_access_key_id"];
  const secretAccessKey = p.settings["aws_secret_access_key"];
  if (!accessKeyId || !secretAccessKey) return undefined;
  const out: Credentials = {
    accessKeyId,
    secretAccessKey,
    source: `SharedConfigCredentials: ${path}`,
  };
  if (p.settings["aws_session_token"]) out.sessionToken = p.settings["aws_session_token"];
  if (p.settings["aws_account_id"]) out.accountId = p.settings["aws_account_id"];
  return out;
}

/** Error with a message the CLI prints after `could not get token: `. */
export class CredentialsError extends Error {
  /** @param message what is wrong and what to do about it */
  constructor(message: string) {
    super(message);
    this.name = "CredentialsError";
  }
}

/**
 * Resolves the base credentials with the standard chain: environment, the shared files'
 * active profile, then (through the AWS SDK) SSO, web identity, `credential_process`,
 * `role_arn` profiles, ECS and EC2 roles.
 *
 * @param region region for SDK calls the chain itself makes (SSO, profile role assumption)
 */
export async function resolveCredentials(
  deps: SignDeps,
  profile: Profile,
  region: string,
): Promise<Credentials> {
  const fromEnv = envCredentials(deps.env);
  if (fromEnv) return fromEnv;
  const explicit = Boolean(deps.env("AWS_PROFILE") || deps.env("AWS_DEFAULT_PROFILE"));
  if (explicit && !profile.exists) {
    throw new CredentialsError(
      `failed to get shared config profile, ${profile.name}` +
        ` (define [profile ${profile.name}] in ${sharedFilePaths(deps.env).config}` +
        ` or [${profile.name}] in ${sharedFilePaths(deps.env).credentials}, or change AWS_PROFILE)`,
    );
  }
  if (!deps.env("AWS_WEB_IDENTITY_TOKEN_FILE")) {
    const paths = sharedFilePaths(deps.env);
    const fromFile = profileStaticCredentials(profile, paths.credentials);
    if (fromFile) return fromFile;
  }
  return await sdkCredentials(deps, profile, region);
}

async function sdkCredentials(
  deps: SignDeps,
  profile: Profile,
  region: string,
): Promise<Credentials> {
  const { fromNodeProviderChain }: CredentialProviders = await import(
    "@aws-sdk/credential-providers"
  );
  const provider = fromNodeProviderChain({
    profile: profile.name,
    clientConfig: { region: region === "aws-global" ? "us-east-1" : region },
    mfaCodeProvider: async (serial: string) => {
      // The prompt goes to stderr: stdout is the credential channel kubectl reads.
      deps.stderr("Assume Role MFA token code: ");
      const line = await deps.readLine();
      if (line === null) {
        throw new CredentialsError(`no MFA code was entered for ${serial} (stdin was closed)`);
      }
      return line.trim();
    },
  });
  let c;
  try {
    c = await provider();
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (/Could not load credentials from any providers/.test(msg)) {
      throw new CredentialsError(
        "no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, " +
          "configure a profile (AWS_PROFILE), or run where an instance/container role is available",
      );
    }
    throw new CredentialsError(msg.split("\n")[0] ?? msg);
  }
  const out: Credentials = {
    accessKeyId: c.accessKeyId,
    secretAccessKey: c.secretAccessKey,
    source: sdkSourceName(c as { $source?: Record<string, unknown> }),
  };
  if (c.sessionToken) out.sessionToken = c.sessionToken;
  if (c.expiration) out.expiration = c.expiration;
  if (c.accountId) out.accountId = c.accountId;
  return out;
}

function sdkSourceName(c: { $source?: Record<string, unknown> }): string {
  const names = Object.keys(c.$source ?? {});
  const map: Record<string, string> = {
    CREDENTIALS_PROCESS: "ProcessProvider",
    CREDENTIALS_PROFILE_PROCESS: "ProcessProvider",
    CREDENTIALS_SSO: "SSOProvider",
    CREDENTIALS_PROFILE_SSO: "SSOProvider",
    CREDENTIALS_STS_ASSUME_ROLE: "AssumeRoleProvider",
    CREDENTIALS_PROFILE_SOURCE_PROFILE: "AssumeRoleProvider",
    CREDENTIALS_STS_ASSUME_ROLE_WEB_ID: "WebIdentityCredentials",
    CREDENTIALS_ENV_VARS_STS_WEB_ID_TOKEN: "WebIdentityCredentials",
    CREDENTIALS_PROFILE_STS_WEB_ID_TOKEN: "WebIdentityCredentials",
    CREDENTIALS_HTTP: "EndpointCredentials",
    CREDENTIALS_IMDS: "EC2RoleProvider",
  };
  for (const n of names) if (map[n]) return map[n];
  return names[0] ?? "";
}

/** The region of the client: flag, env, profile; undefined when only IMDS could tell. */
export function configuredRegion(
  flagRegion: string,
  env: (n: string) => string | undefined,
  profile: Profile,
): string | undefined {
  return flagRegion || env("AWS_REGION") || env("AWS_DEFAULT_REGION") ||
    profile.settings["region"] || undefined;
}

/**
 * The region from EC2 instance metadata (IMDSv2), with a short timeout so a laptop does not
 * wait. Honors `AWS_EC2_METADATA_DISABLED` and `AWS_EC2_METADATA_SERVICE_ENDPOINT`.
 *
 * @throws {Error} when metadata is disabled or unreachable
 */
export async function imdsRegion(deps: SignDeps, timeoutMs = 1000): Promise<string> {
  if ((deps.env("AWS_EC2_METADATA_DISABLED") ?? "").toLowerCase() === "true") {
    throw new Error(
      'access disabled to EC2 IMDS via client option, or "AWS_EC2_METADATA_DISABLED" environment variable',
    );
  }
  const base = (deps.env("AWS_EC2_METADATA_SERVICE_ENDPOINT") || "http://169.254.169.254")
    .replace(/\/+$/, "");
  const signal = AbortSignal.timeout(timeoutMs);
  const tokenRes = await deps.fetch(`${base}/latest/api/token`, {
    method: "PUT",
    headers: { "x-aws-ec2-metadata-token-ttl-seconds": "21600" },
    signal,
  });
  const token = await tokenRes.text();
  if (!tokenRes.ok) throw new Error(`IMDS token request failed with status ${tokenRes.status}`);
  const res = await deps.fetch(`${base}/latest/meta-data/placement/region`, {
    headers: { "x-aws-ec2-metadata-token": token },
    signal,
  });
  const body = (await res.text()).trim();
  if (!res.ok || body === "") {
    throw new Error(`IMDS region request failed with status ${res.status}`);
  }
  return body;
}
