/**
 * A node's status server (`kvstore node --status-port N`): the page, `/api/nodes` and `/metrics`
 * from the node's own fleet table, on loopback unless an address is given. It serves through
 * the hardened listener of the monitor (`net/http_listener.ts`: connection cap, header and idle
 * timeouts, accept errors survived).
 *
 * @module
 */
import { type Clock, realClock } from "../base/clock.ts";
import { formatAddress } from "../net/transport.ts";
import type { FleetSnapshot } from "../monitoring/fleet/attach.ts";
import { type HttpListener, listenHttp } from "../net/http_listener.ts";
import { createNodeStatusApp } from "../monitoring/server/node_app.ts";

/** How to start a node's status server. */
export interface StatusServerOptions {
  /** Interface (default 127.0.0.1). */
  host?: string;
  /** TCP port (0 picks a free one). */
  port: number;
  /** The node's fleet table, read at every request. */
  read: () => FleetSnapshot;
  /** The fleet's name for the page. */
  name?: string;
  /** Time source (default real time). */
  clock?: Clock;
}

/** A running status server. */
export interface StatusServer {
  /** Base URL as bound (`http://127.0.0.1:PORT`). */
  url: string;
  /** Stops serving. */
  close(): Promise<void>;
}

/**
 * Starts a node's status server.
 *
 * @example
 * ```ts ignore
 * const s = await startStatusServer({ port: 0, read: () => running.fleet!.snapshot() });
 * console.log(s.url);
 * await s.close();
 * ```
 */
export function startStatusServer(options: StatusServerOptions): Promise<StatusServer> {
  const host = options.host ?? "127.0.0.1";
  const { app, close } = createNodeStatusApp(options.read, options.clock ?? realClock, options.name);
  let server: HttpListener;
  try {
    server = listenHttp({ hostname: host, port: options.port, name: "status", handler: app.fetch });
  } catch (e) {
    close();
    if (e instanceof Deno.errors.AddrInUse) {
      return Promise.reject(
        new Error(`Cannot serve the status page on ${formatAddress(host, options.port)}: the port is in use`),
      );
    }
    return Promise.reject(e);
  }
  const url = `http://${formatAddress(server.addr.hostname, server.addr.port)}`;
  return Promise.resolve({
    url,
    close: async () => {
      close();
      await server.close();
    },
  });
}
