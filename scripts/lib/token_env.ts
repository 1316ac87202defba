/**
 * The environment the token benchmarks give every timed process: static keys (the fast path
 * every kubectl call of a static-key user takes), no shared profile files, no instance metadata,
 * and the Deno cache this process already has (not a new one under the temporary HOME).
 *
 * @module
 */

/** The default Deno cache directory of this OS, when `DENO_DIR` is not set. */
function defaultDenoDir(): string | undefined {
  const home = Deno.env.get("HOME");
  if (home === undefined) return undefined;
  return Deno.build.os === "darwin" ? `${home}/Library/Caches/deno` : `${home}/.cache/deno`;
}

/** Environment of a timed `token` process whose HOME is `home`. */
export function tokenEnv(home: string): Record<string, string> {
  const env: Record<string, string> = {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: home,
    AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE",
    AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    AWS_REGION: "us-west-2",
    AWS_DEFAULT_REGION: "us-west-2",
    AWS_CONFIG_FILE: `${home}/none`,
    AWS_SHARED_CREDENTIALS_FILE: `${home}/none`,
    AWS_EC2_METADATA_DISABLED: "true",
    NO_COLOR: "1",
    DENO_NO_UPDATE_CHECK: "1",
  };
  const denoDir = Deno.env.get("DENO_DIR") ?? defaultDenoDir();
  if (denoDir !== undefined) env.DENO_DIR = denoDir;
  return env;
}
