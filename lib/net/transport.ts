/**
 * Datagram transport seam: real UDP in production, an in-memory network in simulations.
 *
 * Addresses are strings `host:port` (IPv6 as `[::1]:port`), so they can key maps.
 *
 * @module
 */

/** A `host:port` address string. */
export type Address = string;

/**
 * Called for each datagram received. `data` is the handler's own: no other
 * receiver sees it and the transport never writes to it again, so the handler may
 * keep it (or views into it) as long as it likes.
 */
export type DatagramHandler = (data: Uint8Array, from: Address) => void;

/** Sends and receives datagrams. */
export interface Transport {
  /** The address this transport receives on. */
  readonly address: Address;
  /** Sends one datagram; never throws (a failed send is a lost datagram). */
  send(data: Uint8Array, to: Address): void;
  /** Sets the handler for received datagrams (replaces any earlier one). */
  onReceive(handler: DatagramHandler): void;
  /** Stops receiving and releases the socket. */
  close(): void;
  /** Resolves when every datagram sent so far has left (optional). */
  flush?(): Promise<void>;
  /**
   * Runs `fn` after the datagrams that arrived together have been handled (optional; without it,
   * batching flushes at the end of the turn).
   */
  afterBurst?(fn: () => void): void;
}

/** A parsed address. */
export interface HostPort {
  /** Host name or IP literal (without IPv6 brackets). */
  hostname: string;
  /** Port number. */
  port: number;
}

/**
 * Parses `host:port` (or `[v6]:port`); throws `TypeError` with a clear message if malformed.
 *
 * @example
 * ```ts
 * console.log(parseAddress("127.0.0.1:4000")); // { hostname: "127.0.0.1", port: 4000 }
 * ```
 */
export function parseAddress(address: string): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:\[\]]+)):(\d{1,5})$/.exec(address.trim());
  if (!m) throw new TypeError(`Invalid address "${address}": expected host:port, for example 127.0.0.1:4000`);
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw new RangeError(`Invalid port in "${address}": must be 1-65535`);
  return { hostname: m[1] ?? m[2], port };
}

/**
 * Formats a host and port as an address string.
 *
 * @example
 * ```ts
 * console.log(formatAddress("::1", 80)); // "[::1]:80"
 * ```
 */
export function formatAddress(hostname: string, port: number): Address {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}
