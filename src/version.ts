/**
 * Build information. The release script replaces these two constants when it stamps a build;
 * a plain checkout reports `unversioned` and no commit, as the Go tool does without ldflags.
 *
 * @module
 */

/** Version string of this build. */
export const VERSION = "unversioned";

/** Git commit of this build, empty when unknown. */
export const COMMIT = "";
