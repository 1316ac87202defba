/**
 * The runtime edge of the server: the TLS listener (`Deno.serve`), the plain-HTTP health
 * listener, the key pair and webhook kubeconfig on disk, and graceful shutdown. Everything about
 * requests lives in the pure handler; this file only binds it to sockets.
 *
 * @module
 */

import { loadOrCreateKeyPair } from "./certs.ts";
import type { RequestInfo } from "./handler.ts";
import { joinHostPort, renderWebhookKubeconfig, writeWebhookKubeconfig } from "./kubeconfig.ts";
import type { ServerLogger } from "./logging.ts";

/** Options of {@link listen}. */
export interface ListenOptions {
  /** Listen IP of the webhook (and of the health listener, port decision 14). */
  address: string;
  /** Webhook TLS port; 0 picks a free one. */
  port: number;
  /** Name written into the certificate SAN and the kubeconfig URL. */
  hostname: string;
  /** Plain-HTTP health port; 0 disables the health listener (port decision 20). */
  healthPort: number;
  /** Directory of `cert.pem` / `key.pem`. */
  stateDir: string;
  /** Where the webhook kubeconfig goes. */
  generateKubeconfig: string;
  /** Leave the kubeconfig alone (it was written by `init` or by hand). */
  kubeconfigPregenerated: boolean;
  /** The request handler. */
  handler: (req: Request, info?: RequestInfo) => Response | Promise<Response>;
  /** Startup and shutdown logs. */
  logger: ServerLogger;
  /** How long in-flight reviews get to finish on shutdown; default 10 s (port decision 13). */
  shutdownTimeoutMs?: number;
}

/** A listening server. */
export interface RunningServer {
  /** The bound webhook address (the real port when 0 was asked for). */
  readonly addr: { hostname: string; port: number };
  /** The bound health address, or undefined when disabled. */
  readonly healthAddr?: { hostname: string; port: number };
  /** The webhook URL the kubeconfig points at. */
  readonly url: string;
  /** Path of the webhook kubeconfig. */
  readonly kubeconfigPath: string;
  /** The CA (the self-signed certificate) clients must trust. */
  readonly certPem: string;
  /**
   * Stops accepting connections, lets in-flight requests finish (up to the shutdown timeout)
   * and resolves when both listeners are closed. Safe to call more than once.
   */
  shutdown(): Promise<void>;
  /** Resolves when the server has stopped. */
  readonly finished: Promise<void>;
}

function listenError(err: unknown, what: string, addr: string, flag: string): Error {
  if (err instanceof Deno.errors.AddrInUse) {
    return new Error(`cannot listen for ${what} on ${addr}: the port is already in use (${flag})`);
  }
  if (err instanceof Deno.errors.PermissionDenied || err instanceof Deno.errors.NotCapable) {
    return new Error(
      `cannot listen for ${what} on ${addr}: permission denied (${flag}; ports below 1024 need privileges)`,
    );
  }
  if (err instanceof Deno.errors.AddrNotAvailable) {
    return new Error(
      `cannot listen for ${what} on ${addr}: the address is not on this host (--address / server.address)`,
    );
  }
  return new Error(`cannot listen for ${what} on ${addr} (${flag}): ${(err as Error).message}`);
}

/**
 * Starts the server as docs/commands.md#server describes: loads or creates the key pair, binds the
 * TLS listener, writes the webhook kubeconfig (unless pregenerated) and binds the health listener.
 * Any failure closes what was already opened and throws an error an operator can act on.
 */
export async function listen(options: ListenOptions): Promise<RunningServer> {
  const log = options.logger;
  const keyPair = await loadOrCreateKeyPair({
    stateDir: options.stateDir,
    address: options.address,
    hostname: options.hostname,
  });
  if (keyPair.generated) {
    log.info("saving new key and certificate", {
      certpath: keyPair.certPath,
      keypath: keyPair.keyPath,
    });
    log.info("generated a new private key and certificate");
  } else {
    log.info("loaded existing keypair", { certpath: keyPair.certPath, keypath: keyPair.keyPath });
  }
  for (const warning of keyPair.warnings) log.warn(warning);

  const webhookAddr = joinHostPort(options.address, options.port);
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: options.address,
      port: options.port,
      cert: keyPair.certPem,
      key: keyPair.keyPem,
      onListen: () => {},
      onError: (err) => {
        log.error("request failed", { error: (err as Error)?.message ?? String(err) });
        return new Response("internal server error\n", { status: 500 });
      },
    }, options.handler);
  } catch (err) {
    if (
      err instanceof Deno.errors.InvalidData ||
      /certificate|private key|pem|keys may not be consistent|keymismatch/i.test(String(err))
    ) {
      throw new Error(
        `cannot use the TLS key pair in ${options.stateDir}: ${(err as Error).message}; ` +
          `delete cert.pem and key.pem to have new ones generated`,
      );
    }
    throw listenError(err, "the webhook", webhookAddr, "--port / server.port");
  }
  const addr = { hostname: server.addr.hostname, port: server.addr.port };
  const url = `https://${joinHostPort(options.hostname, addr.port)}/authenticate`;

  let health: Deno.HttpServer<Deno.NetAddr> | undefined;
  try {
    if (!options.kubeconfigPregenerated) {
      await writeWebhookKubeconfig(
        options.generateKubeconfig,
        renderWebhookKubeconfig(keyPair.certPem, options.hostname, addr.port),
      );
    }
    if (options.healthPort !== 0) {
      try {
        health = Deno.serve({
          hostname: options.address,
          port: options.healthPort,
          onListen: () => {},
        }, () => new Response("ok", { headers: { "content-type": "text/plain; charset=utf-8" } }));
      } catch (err) {
        throw listenError(
          err,
          "the health check",
          joinHostPort(options.address, options.healthPort),
          "--health-port / server.healthPort; 0 disables it",
        );
      }
    }
  } catch (err) {
    await server.shutdown();
    throw err;
  }

  log.info(`listening on ${joinHostPort(addr.hostname, addr.port)}`, { url });
  log.info(
    `reconfigure your apiserver with \`--authentication-token-webhook-config-file=${options.generateKubeconfig}\` to enable (assuming default hostPath mounts)`,
  );
  if (health !== undefined) {
    log.info(`health check listening on ${joinHostPort(health.addr.hostname, health.addr.port)}`);
  }

  const timeoutMs = options.shutdownTimeoutMs ?? 10_000;
  let stopping: Promise<void> | undefined;
  const finished = Promise.all([server.finished, health?.finished]).then(() => {});
  const shutdown = (): Promise<void> => {
    stopping ??= (async () => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const graceful = Promise.all([server.shutdown(), health?.shutdown()]).then(() => true);
      const deadline = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      });
      const clean = await Promise.race([graceful, deadline]);
      clearTimeout(timer);
      if (!clean) {
        log.warn(`in-flight requests did not finish within ${timeoutMs} ms; stopping anyway`);
      }
    })();
    return stopping;
  };

  return {
    addr,
    healthAddr: health === undefined
      ? undefined
      : { hostname: health.addr.hostname, port: health.addr.port },
    url,
    kubeconfigPath: options.generateKubeconfig,
    certPem: keyPair.certPem,
    shutdown,
    finished,
  };
}

/**
 * Resolves with the signal name on the first SIGTERM or SIGINT; a second signal calls
 * `onSecond` (the Go tool exits 1 then). Returns a function that removes the listeners.
 */
export function onShutdownSignal(
  onFirst: (signal: Deno.Signal) => void,
  onSecond: (signal: Deno.Signal) => void,
): () => void {
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGTERM", "SIGINT"];
  let seen = false;
  const listeners = signals.map((signal) => {
    const listener = () => {
      if (seen) onSecond(signal);
      else {
        seen = true;
        onFirst(signal);
      }
    };
    Deno.addSignalListener(signal, listener);
    return { signal, listener };
  });
  return () => {
    for (const { signal, listener } of listeners) Deno.removeSignalListener(signal, listener);
  };
}
