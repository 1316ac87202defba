/**
 * Loopback port helpers shared by the tests and peers.
 *
 * @module
 */

/**
 * A TCP port on 127.0.0.1 that was free a moment ago (bind to 0, read, release): for a peer
 * that must be told its port up front, or for an address where nothing listens.
 */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}
