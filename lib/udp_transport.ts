/**
 * Real UDP transport on `Deno.listenDatagram`.
 *
 * @module
 */
import {
  type Address,
  type DatagramHandler,
  formatAddress,
  type HostPort,
  parseAddress,
  type Transport,
} from "./transport.ts";
import { SlabAllocator } from "./slab.ts";

/** Size of the receive buffer: the largest UDP payload fits. */
export const RECEIVE_BUFFER_BYTES = 65_536;
/**
 * Receives kept waiting on the socket at once. Datagrams that arrive together complete several
 * of them in one turn of the event loop, so their handlers run in that turn and what they send to
 * one peer leaves batched (see `rpc.ts`); a lone datagram is handled as soon as it arrives.
 */
export const CONCURRENT_RECEIVES = 16;
/** Sender addresses remembered as strings (by port) before the cache starts over. */
const SENDER_CACHE_SIZE = 4_096;

/**
 * A {@linkcode Transport} over a real UDP socket.
 *
 * @example
 * ```ts
 * const t = await UdpTransport.listen("127.0.0.1", 0);
 * t.onReceive((data, from) => t.send(data, from)); // echo
 * t.close();
 * ```
 */
export class UdpTransport implements Transport {
  readonly address: Address;
  #conn: Deno.DatagramConn;
  #handler: DatagramHandler = () => {};
  #closed = false;
  #parsed = new Map<Address, Deno.NetAddr>();
  #loop: Promise<void>;
  #lastSend: Promise<void> = Promise.resolve();
  /** Datagrams whose send failed (for example, host unreachable). */
  sendErrors = 0;

  private constructor(conn: Deno.DatagramConn) {
    this.#conn = conn;
    const a = conn.addr as Deno.NetAddr;
    this.address = formatAddress(a.hostname, a.port);
    const slab = new SlabAllocator();
    this.#loop = Promise.all(Array.from({ length: CONCURRENT_RECEIVES }, () => this.#receiveLoop(slab))).then(() => {});
  }

  /** Binds a UDP socket; port 0 picks a free port. Throws a clear error if the port is taken. */
  static async listen(hostname: string, port: number): Promise<UdpTransport> {
    try {
      const conn = Deno.listenDatagram({ transport: "udp", hostname, port });
      return await Promise.resolve(new UdpTransport(conn));
    } catch (e) {
      if (e instanceof Deno.errors.AddrInUse) {
        throw new Error(
          `Cannot listen on UDP ${formatAddress(hostname, port)}: the port is already in use; pick another with --port`,
        );
      }
      if (e instanceof Deno.errors.AddrNotAvailable) {
        throw new Error(
          `Cannot listen on UDP ${formatAddress(hostname, port)}: that address is not on this host; check --host`,
        );
      }
      throw e;
    }
  }

  send(data: Uint8Array, to: Address): void {
    if (this.#closed) return;
    let addr = this.#parsed.get(to);
    if (!addr) {
      const hp: HostPort = parseAddress(to);
      addr = { transport: "udp", hostname: hp.hostname, port: hp.port };
      if (this.#parsed.size > 10_000) this.#parsed.clear();
      this.#parsed.set(to, addr);
    }
    this.#lastSend = this.#conn.send(data, addr).then(this.#sent, this.#sendFailed);
  }

  // Created once, not per datagram.
  #sent = (): void => {};
  #sendFailed = (): void => {
    this.sendErrors++;
  };

  /** Resolves when the datagrams sent so far have left the socket. */
  flush(): Promise<void> {
    return this.#lastSend;
  }

  onReceive(handler: DatagramHandler): void {
    this.#handler = handler;
  }

  async #receiveLoop(slab: SlabAllocator): Promise<void> {
    // One reused buffer: `receive()` without one allocates (and zeroes) 64 KiB per datagram,
    // which halved throughput. Each datagram is copied out (into a slab: no malloc per
    // datagram), since handlers may keep it.
    const buffer = new Uint8Array(RECEIVE_BUFFER_BYTES);
    while (!this.#closed) {
      let got: [Uint8Array, Deno.Addr];
      try {
        got = await this.#conn.receive(buffer);
      } catch {
        if (this.#closed) return;
        continue; // e.g. ICMP port unreachable surfaced as an error: keep serving
      }
      const from = got[1] as Deno.NetAddr;
      try {
        this.#handler(slab.copy(got[0]), this.#senderAddress(from.hostname, from.port));
      } catch (e) {
        console.error(`kvstore: datagram handler failed: ${(e as Error).message}`);
      }
    }
  }

  // The address string of a sender, formatted once per port and host: a node's clients send
  // from few ports, and a string made once also keeps its hash for the lookups that follow.
  #senders = new Map<number, { hostname: string; address: Address }>();

  #senderAddress(hostname: string, port: number): Address {
    const known = this.#senders.get(port);
    if (known !== undefined && known.hostname === hostname) return known.address;
    const address = formatAddress(hostname, port);
    if (this.#senders.size >= SENDER_CACHE_SIZE) this.#senders.clear();
    this.#senders.set(port, { hostname, address });
    return address;
  }

  /** Closes the socket and waits for the receive loop to end. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }

  /** Resolves when the receive loop has ended (after {@linkcode UdpTransport.close}). */
  get closed(): Promise<void> {
    return this.#loop;
  }
}
