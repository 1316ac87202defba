/**
 * Runs `explain` in process, the way the CLI does, against the SigV4-checking STS peer: a
 * controlled environment (no shared AWS files, no instance metadata), an injected clock, and
 * captured output.
 */
import { runExplain } from "../../src/cli/explain.ts";
import { defaultGeneratorDeps, defaultSignDeps } from "../../src/sign/mod.ts";
import type { PeerPrincipal } from "../peers/sts_peer.ts";

/** What one run printed and returned. */
export interface ExplainRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@link explainWith}. */
export interface ExplainRunOptions {
  /** Environment on top of the isolated defaults. */
  env?: Record<string, string | undefined>;
  /** The clock of the client (signing, token checks, skew); default real time. */
  now?: () => Date;
  /** The peer's URL, used as `AWS_ENDPOINT_URL_STS`. */
  stsUrl?: string;
  /** Standard input (for `--mapping -`). */
  stdin?: string;
}

/** The environment of a principal's static credentials. */
export function credentialsOf(p: PeerPrincipal): Record<string, string> {
  const env: Record<string, string> = {
    AWS_ACCESS_KEY_ID: p.accessKeyId,
    AWS_SECRET_ACCESS_KEY: p.secretAccessKey,
  };
  if (p.sessionToken) env.AWS_SESSION_TOKEN = p.sessionToken;
  return env;
}

/** Runs `explain ARGS` in process. */
export async function explainWith(args: string[], o: ExplainRunOptions = {}): Promise<ExplainRun> {
  const env: Record<string, string | undefined> = {
    HOME: "/nonexistent-home",
    AWS_CONFIG_FILE: "/nonexistent/aws-config",
    AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/aws-credentials",
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_REGION: "us-east-1",
    ...(o.stsUrl ? { AWS_ENDPOINT_URL_STS: o.stsUrl } : {}),
    ...o.env,
  };
  const lookup = (name: string) => env[name];
  const now = o.now ?? (() => new Date());
  let stdout = "";
  let stderr = "";
  const code = await runExplain(args, {
    env: lookup,
    stdout: (s) => stdout += s,
    stderr: (s) => stderr += s,
    readTextFile: (p) => Deno.readTextFile(p),
    now,
  }, {
    now,
    readStdin: () => Promise.resolve(new TextEncoder().encode(o.stdin ?? "")),
    sign: (log) =>
      defaultGeneratorDeps({
        ...defaultSignDeps(),
        env: lookup,
        now,
        stderr: (s) => stderr += s,
        readLine: () => Promise.resolve(null),
      }, log),
  });
  return { code, stdout, stderr };
}

/** Replaces the peer's ephemeral port so output can be compared with a golden file. */
export function normalizePort(text: string, stsUrl: string): string {
  const port = new URL(stsUrl).port;
  return text.replaceAll(`127.0.0.1:${port}`, "127.0.0.1:PEER");
}

/** A temporary directory, removed when the `await using` scope ends. */
export interface TempDir extends AsyncDisposable {
  /** Its path. */
  path: string;
  /** Writes a file into it and returns the file's path. */
  file(name: string, text: string): Promise<string>;
}

/** Creates a {@link TempDir}. */
export async function tempDir(): Promise<TempDir> {
  const path = await Deno.makeTempDir({ prefix: "explain_test_" });
  return {
    path,
    async file(name, text) {
      await Deno.writeTextFile(`${path}/${name}`, text);
      return `${path}/${name}`;
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true });
    },
  };
}
