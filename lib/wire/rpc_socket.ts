/**
 * An RPC endpoint on a UDP socket of its own (an ephemeral port): how kvctl, the monitor and tests
 * query nodes (`monitoring/fleet/dump.ts` FleetQueryClient, `replication/debug_queries.ts`
 * ClusterDebugClient). Sending, awaiting the reply, the timeout and the retries are the endpoint's
 * (`rpc.ts`); this adds the socket, and closes both together.
 *
 * @module
 */
import { realClock } from "../base/clock.ts";
import { InternalAddressBook } from "../net/internal_address.ts";
import { UdpTransport } from "../net/udp_transport.ts";
import type { FrameAuth } from "./frame.ts";
import { Rpc } from "./rpc.ts";
import type { AddressMap } from "./rpc_types.ts";

/**
 * A client socket for internal queries: frames tagged with `auth`, sent to each node's internal
 * address. A query client extends it with its queries over {@linkcode RpcSocket.rpc}; its `open`
 * then makes one of its own kind.
 *
 * @example
 * ```ts ignore
 * const socket = await RpcSocket.open("127.0.0.1", keyring);
 * const reply = await socket.rpc.call("127.0.0.1:4000", command, {}, undefined, { timeoutMs: 300, retries: 2 });
 * socket.close();
 * ```
 */
export class RpcSocket {
  /** The endpoint: call, cast. */
  readonly rpc: Rpc;
  #transport: UdpTransport;

  /** An endpoint on `transport` (bound already); use {@linkcode RpcSocket.open}. */
  constructor(transport: UdpTransport, auth: FrameAuth | undefined, addresses: AddressMap) {
    this.#transport = transport;
    this.rpc = new Rpc(transport, realClock, { auth, addresses });
    transport.onReceive((d, from) => this.rpc.receive(d, from));
  }

  /**
   * Opens a socket on an ephemeral port of `host`. Queries go to each node's internal address
   * (`addresses`: by default the client port + 10000, as `net/internal_address.ts` derives it).
   */
  static async open<T extends RpcSocket>(
    this: new (transport: UdpTransport, auth: FrameAuth | undefined, addresses: AddressMap) => T,
    host = "127.0.0.1",
    auth?: FrameAuth,
    addresses: AddressMap = new InternalAddressBook(),
  ): Promise<T> {
    return new this(await UdpTransport.listen(host, 0), auth, addresses);
  }

  /** Closes the endpoint and the socket. */
  close(): void {
    this.rpc.close();
    this.#transport.close();
  }
}
