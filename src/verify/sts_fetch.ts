/**
 * The `fetch` the server sends its STS calls with: an HTTP client of its own that speaks
 * HTTP/1.1 only.
 *
 * Why not the global `fetch`: the runtime's HTTP client turns Nagle's algorithm on for its
 * connections (it sets `TCP_NODELAY` to 0, seen with `strace -f -e trace=setsockopt` on a
 * server under load). Over HTTP/2 every concurrent call shares one connection, so a call
 * written while an earlier call's bytes are not yet acknowledged is held back until that
 * acknowledgement, which comes with the earlier call's answer: one whole STS round trip later.
 * Against an STS that offers HTTP/2, reviews at 4 connections took about 21 ms more than the STS
 * round trip (docs/benchmarks.md#against-the-go-tool). Over HTTP/1.1 each call has a connection to
 * itself and leaves in one write, so Nagle never holds it, and the pool keeps the connections
 * open between calls. Against an STS that offers only HTTP/1.1, as AWS API endpoints generally
 * do, nothing changes.
 * Proxies (`HTTPS_PROXY`, `NO_PROXY`) and extra roots (`DENO_CERT`) apply as to the global fetch.
 *
 * @module
 */

/** Options of {@link createStsFetch}. */
export interface StsFetchOptions {
  /** PEM roots trusted in addition to the system's (tests' throwaway CAs). */
  caCerts?: string[];
}

/** A `fetch` bound to its own HTTP client, and the way to release the client. */
export interface StsFetch {
  /** `fetch` over the client's HTTP/1.1 connection pool. */
  readonly fetch: typeof fetch;
  /** Closes the client's pooled connections; call it once no call is in flight. */
  close(): void;
}

/** Creates the HTTP/1.1-only `fetch` for STS calls (see the module's documentation for why). */
export function createStsFetch(options: StsFetchOptions = {}): StsFetch {
  const client = Deno.createHttpClient({
    http1: true,
    http2: false,
    ...(options.caCerts === undefined ? {} : { caCerts: options.caCerts }),
  });
  return {
    fetch: (input, init) => fetch(input, { ...init, client }),
    close: () => client.close(),
  };
}
