/**
 * The internal port: every node-to-node frame travels between nodes' internal sockets, apart from
 * the client socket, as Redis Cluster's bus and Cassandra's storage port do, so a flood of client
 * requests cannot crowd out the fleet's own traffic, and operators can firewall the internal port
 * to the fleet.
 *
 * A node's identity stays its client address (`host:port`, what the fleet file lists, kvctl and
 * the ring use). Its internal address is derived from it, the client port plus
 * {@linkcode INTERNAL_PORT_OFFSET}, unless the fleet file (`internalAddresses`) or the node's
 * `--internal-port` says otherwise. {@linkcode InternalAddressBook} maps both ways: a destination's
 * identity to where its frames go, and a frame's source back to the identity handlers see.
 *
 * For any source that is not a known node (kvctl, the monitor, on ephemeral ports), the default
 * mapping is a rotation of the port numbers (1–65535), so an answer to it, mapped back, reaches
 * that same source.
 *
 * @module
 */
import { type Address, formatAddress, parseAddress } from "./transport.ts";

/** The internal port is the client port plus this, by default (as Redis Cluster's bus). */
export const INTERNAL_PORT_OFFSET = 10_000;
/** Largest client port whose default internal port exists (65535 − the offset). */
export const MAX_DEFAULT_CLIENT_PORT = 65_535 - INTERNAL_PORT_OFFSET;
/** Addresses remembered in each direction before the caches start over. */
const CACHE_SIZE = 4_096;

/**
 * The default internal port of client port `port` (port + 10000, wrapping past 65535 to 1).
 *
 * @example
 * ```ts
 * console.log(defaultInternalPort(4000)); // 14000
 * ```
 */
export function defaultInternalPort(port: number): number {
  return ((port - 1 + INTERNAL_PORT_OFFSET) % 65_535) + 1;
}

function defaultClientPort(internal: number): number {
  return ((internal - 1 - INTERNAL_PORT_OFFSET + 2 * 65_535) % 65_535) + 1;
}

/**
 * The internal address of a node whose identity is `client`, given its override if any (a port,
 * or `host:port`).
 *
 * @example
 * ```ts
 * console.log(internalAddressOf("10.0.0.1:4000")); // 10.0.0.1:14000
 * console.log(internalAddressOf("10.0.0.1:4000", 4100)); // 10.0.0.1:4100
 * ```
 */
export function internalAddressOf(client: Address, override?: number | string): Address {
  const hp = parseAddress(client);
  if (override === undefined) return formatAddress(hp.hostname, defaultInternalPort(hp.port));
  if (typeof override === "number") return formatAddress(hp.hostname, override);
  const o = parseAddress(override);
  return formatAddress(o.hostname, o.port);
}

/**
 * Maps node identities (client addresses) to internal addresses and back.
 *
 * @example
 * ```ts
 * const book = new InternalAddressBook({ "127.0.0.1:4001": 5001 });
 * console.log(book.toInternal("127.0.0.1:4000")); // 127.0.0.1:14000
 * console.log(book.toInternal("127.0.0.1:4001")); // 127.0.0.1:5001
 * console.log(book.toIdentity("127.0.0.1:5001")); // 127.0.0.1:4001
 * ```
 */
export class InternalAddressBook {
  #toInternal = new Map<Address, Address>();
  #toIdentity = new Map<Address, Address>();
  #overrides = new Map<Address, Address>();
  #reverse = new Map<Address, Address>();

  /** A book with `overrides`: identity → internal port or `host:port` (the others get the default). */
  constructor(overrides: Readonly<Record<Address, number | string>> = {}) {
    for (const [id, o] of Object.entries(overrides)) this.set(id, internalAddressOf(id, o));
  }

  /** Records that the node `identity` takes internal frames at `internal`. */
  set(identity: Address, internal: Address): void {
    const id = normal(identity), at = normal(internal);
    this.#overrides.set(id, at);
    this.#reverse.set(at, id);
    this.#toInternal.clear();
    this.#toIdentity.clear();
  }

  /** Where the internal frames for `identity` go. */
  toInternal(identity: Address): Address {
    let a = this.#toInternal.get(identity);
    if (a === undefined) {
      a = this.#overrides.get(normal(identity)) ?? rotate(identity, defaultInternalPort);
      if (this.#toInternal.size >= CACHE_SIZE) this.#toInternal.clear();
      this.#toInternal.set(identity, a);
    }
    return a;
  }

  /** The identity of the sender of a frame that came from `source`. */
  toIdentity(source: Address): Address {
    let a = this.#toIdentity.get(source);
    if (a === undefined) {
      a = this.#reverse.get(normal(source)) ?? rotate(source, defaultClientPort);
      if (this.#toIdentity.size >= CACHE_SIZE) this.#toIdentity.clear();
      this.#toIdentity.set(source, a);
    }
    return a;
  }
}

/** The same address, written the one way `formatAddress` writes it. */
function normal(a: Address): Address {
  try {
    const hp = parseAddress(a);
    return formatAddress(hp.hostname, hp.port);
  } catch {
    return a;
  }
}

function rotate(a: Address, f: (port: number) => number): Address {
  try {
    const hp = parseAddress(a);
    return formatAddress(hp.hostname, f(hp.port));
  } catch {
    return a; // not host:port (a simulated name): unchanged
  }
}
