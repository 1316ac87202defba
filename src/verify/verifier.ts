/**
 * The token verifier the webhook and the `verify` command share: local checks, then the one
 * STS call.
 *
 * @module
 */

import type { PartitionId } from "../aws/mod.ts";
import { checkStsHost, parseStsOverride, type StsOverride } from "./host_check.ts";
import type { Identity } from "./identity.ts";
import { callSts as callStsWith, type SetDeadline, type StsObserver } from "./sts.ts";
import { type CheckedToken, checkToken as checkTokenWith } from "./token.ts";

/** Verifier settings: the server's policy, never anything a client sends. */
export interface VerifierOptions {
  /** The server's cluster ID, sent to STS as `x-k8s-aws-id`; a token signed for another fails. */
  clusterId: string;
  /** The partition tokens must point into. */
  partition: PartitionId;
  /** The server's region (IMDS, `AWS_REGION`), for the `sts.<region>` fallback; `""` = none. */
  instanceRegion?: string;
  /** origin (scheme://host[:port]) of AWS_ENDPOINT_URL_STS, accepted as an extra STS host */
  stsEndpointOverride?: string;
  /** Injected `fetch`; default the global one. */
  fetch?: typeof fetch;
  /** Injected clock; default `new Date()`. */
  now?: () => Date;
  /** Deadline of the STS exchange in ms; default 10000 (the Go tool's client timeout). */
  timeoutMs?: number;
  /** How that deadline is armed; default one `setTimeout` per call. */
  setDeadline?: SetDeadline;
  /** Largest STS answer read, in bytes; default 65536. */
  maxResponseBytes?: number;
  /** Metric hooks. */
  observer?: StsObserver;
  /** Sees the status and headers of every STS answer (never the body). */
  onStsAnswer?: (status: number, headers: Headers) => void;
}

const ACCEPTED_HOST_CACHE_SIZE = 256;

/** Default deadline of the STS exchange: the Go tool's HTTP client timeout. */
export const DEFAULT_STS_TIMEOUT_MS = 10_000;

/** Verifies `k8s-aws-v1.` tokens against STS. Holds no per-token state. */
export class Verifier {
  readonly #o: VerifierOptions;
  readonly #override: StsOverride | undefined;
  readonly #checkHost: (host: string) => string;

  /**
   * @throws {Error} when the cluster ID is empty or not a valid header value, or the override
   * is not an http(s) URL: configuration mistakes that must stop the server at startup.
   */
  constructor(o: VerifierOptions) {
    if (o.clusterId === "") {
      throw new Error("a cluster ID is required to verify tokens; pass -i/--cluster-id");
    }
    if (!/^[\x20-\x7e]+$/.test(o.clusterId) || o.clusterId.trim() !== o.clusterId) {
      throw new Error(
        "the cluster ID must be printable ASCII without leading or trailing spaces",
      );
    }
    this.#o = o;
    this.#override = o.stsEndpointOverride ? parseStsOverride(o.stsEndpointOverride) : undefined;
    const hostOptions = { partition: o.partition, instanceRegion: o.instanceRegion ?? "" };
    // Accepted hosts are remembered, as in the Go verifier, but boundedly: the aws partition
    // admits unboundedly many syntactically valid region names.
    const accepted = new Map<string, string>();
    this.#checkHost = (host) => {
      const known = accepted.get(host);
      if (known !== undefined) return known;
      const region = checkStsHost(host, hostOptions);
      if (accepted.size < ACCEPTED_HOST_CACHE_SIZE) accepted.set(host, region);
      return region;
    };
  }

  /**
   * All local checks; no network.
   *
   * @throws {FormatError} naming the first failed check.
   */
  checkToken(token: string): CheckedToken {
    return checkTokenWith(token, {
      now: this.#o.now?.() ?? new Date(),
      checkHost: this.#checkHost,
      overrideOrigin: this.#override?.origin,
      overrideRegion: this.#override?.stsRegion,
    });
  }

  /**
   * The STS call for a checked token.
   *
   * @throws {STSThrottling} when STS throttles; {@link STSError} for any other failure.
   */
  callSts(t: CheckedToken): Promise<Identity> {
    return callStsWith(t, {
      clusterId: this.#o.clusterId,
      fetch: this.#o.fetch ?? fetch,
      timeoutMs: this.#o.timeoutMs ?? DEFAULT_STS_TIMEOUT_MS,
      setDeadline: this.#o.setDeadline,
      maxResponseBytes: this.#o.maxResponseBytes ?? 65_536,
      observer: this.#o.observer,
      onAnswer: this.#o.onStsAnswer,
    });
  }

  /**
   * Local checks, then STS.
   *
   * @throws {FormatError} | {STSError} | {STSThrottling}
   */
  verify(token: string): Promise<Identity> {
    try {
      return this.callSts(this.checkToken(token));
    } catch (e) {
      return Promise.reject(e);
    }
  }
}
