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
import { SlabAllocator } from "../base/slab.ts";

/** Size of the receive buffer: the largest UDP payload fits. */
export const RECEIVE_BUFFER_BYTES = 65_536;
/**
 * Receives kept waiting on the socket at most. Under load, datagrams that arrive together complete
 * several of them in one turn of the event loop, so their handlers run in that turn and what they
 * send to one peer leaves batched (see `rpc.ts`). Idle, one receive waits: every waiting receive
 * is woken for each datagram, which costs a lone request about 20 µs at 16 (measured).
 */
export const MAX_CONCURRENT_RECEIVES = 8;
/** Datagrams closer together than this (ms) add a receive, up to the maximum: the socket is busy. */
export const RECEIVE_GROW_GAP_MS = 0.02;
/** An extra receive whose datagram came this long (ms) after the one before ends: the burst is over. */
export const RECEIVE_SHRINK_GAP_MS = 0.5;
/**
 * Microtask hops after a handled datagram before the burst counts as over. A receive whose datagram
 * is already waiting completes within two hops (Deno polls the op at once), so with three the next
 * datagram of a burst is always handled before the burst ends.
 */
export const BURST_END_HOPS = 3;
/** Datagrams a burst holds at most: under steady load one never ends by itself, and what it queued must leave. */
export const BURST_MAX_DATAGRAMS = 8;
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
  #loops = new Set<Promise<void>>();
  #receiving = 0; // receives that have not decided to end (#loops drops them a turn later)
  #buffers: Uint8Array[] = [];
  #slab = new SlabAllocator();
  #lastReceiveAt = 0;
  #lastSend: Promise<void> = Promise.resolve();
  // Datagrams handled so far; a burst ends when this stops moving for BURST_END_HOPS hops.
  #handled = 0;
  #burstWatch = false;
  #burstStart = 0;
  #burstGeneration = 0;
  #afterBurst: (() => void)[] = [];
  /** Datagrams whose send failed (for example, host unreachable). */
  sendErrors = 0;
  /** The bound port. */
  readonly port: number;

  private constructor(conn: Deno.DatagramConn) {
    this.#conn = conn;
    const a = conn.addr as Deno.NetAddr;
    this.address = formatAddress(a.hostname, a.port);
    this.port = a.port;
    this.#startReceiving();
  }

  /**
   * Binds a UDP socket; port 0 picks a free port. Throws a clear error if the port is taken, naming
   * `flag` as the way to pick another.
   */
  static async listen(hostname: string, port: number, flag = "--port"): Promise<UdpTransport> {
    try {
      const conn = Deno.listenDatagram({ transport: "udp", hostname, port });
      return await Promise.resolve(new UdpTransport(conn));
    } catch (e) {
      if (e instanceof Deno.errors.AddrInUse) {
        throw new Error(
          `Cannot listen on UDP ${
            formatAddress(hostname, port)
          }: the port is already in use; pick another with ${flag}`,
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

  #startReceiving(): void {
    this.#receiving++;
    const loop = this.#receiveLoop().finally(() => this.#loops.delete(loop));
    this.#loops.add(loop);
  }

  async #receiveLoop(): Promise<void> {
    // A reused buffer per receive: `receive()` without one allocates (and zeroes) 64 KiB per
    // datagram, which halved throughput. Each datagram is copied out (into a slab: no malloc
    // per datagram), since handlers may keep it.
    const buffer = this.#buffers.pop() ?? new Uint8Array(RECEIVE_BUFFER_BYTES);
    const slab = this.#slab;
    try {
      await this.#receiveUntilQuiet(buffer, slab);
    } finally {
      this.#buffers.push(buffer);
    }
  }

  async #receiveUntilQuiet(buffer: Uint8Array, slab: SlabAllocator): Promise<void> {
    while (!this.#closed) {
      let got: [Uint8Array, Deno.Addr];
      try {
        got = await this.#conn.receive(buffer);
      } catch {
        if (this.#closed) return;
        continue; // e.g. ICMP port unreachable surfaced as an error: keep serving
      }
      const from = got[1] as Deno.NetAddr;
      if (this.#burstWatch && this.#handled - this.#burstStart >= BURST_MAX_DATAGRAMS) this.#endBurst();
      if (!this.#burstWatch) {
        this.#burstWatch = true;
        this.#burstStart = this.#handled;
        this.#watchBurst(++this.#burstGeneration, this.#handled + 1, BURST_END_HOPS);
      }
      try {
        this.#handled++;
        this.#handler(slab.copy(got[0]), this.#senderAddress(from.hostname, from.port));
      } catch (e) {
        console.error(`kvstore: datagram handler failed: ${(e as Error).message}`);
      }
      const now = performance.now(), gap = now - this.#lastReceiveAt;
      this.#lastReceiveAt = now;
      if (gap < RECEIVE_GROW_GAP_MS && this.#receiving < MAX_CONCURRENT_RECEIVES) this.#startReceiving();
      else if (gap > RECEIVE_SHRINK_GAP_MS && this.#receiving > 1) {
        this.#receiving--; // counted now, so two receives ending in one turn never leave none
        return;
      }
    }
  }

  /**
   * Runs `fn` once the datagrams arriving together have all been handled: at the end of the
   * current burst of receives, or in a microtask when no datagram is being handled. Sends made
   * while a burst is handled can so leave together (`rpc.ts` batches by this) without waiting
   * for anything that has not already arrived.
   */
  afterBurst(fn: () => void): void {
    if (this.#burstWatch) this.#afterBurst.push(fn);
    else queueMicrotask(fn);
  }

  // Ends the burst of `generation` once no datagram was handled for `hops` microtask hops.
  #watchBurst(generation: number, seen: number, hops: number): void {
    queueMicrotask(() => {
      if (generation !== this.#burstGeneration || !this.#burstWatch) return; // ended at its size limit
      if (this.#handled !== seen) return this.#watchBurst(generation, this.#handled, BURST_END_HOPS);
      if (hops > 1) return this.#watchBurst(generation, seen, hops - 1);
      this.#endBurst();
    });
  }

  #endBurst(): void {
    this.#burstWatch = false;
    const run = this.#afterBurst;
    this.#afterBurst = [];
    for (const fn of run) fn();
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

  /** Receives waiting on the socket now (1 when idle, up to {@linkcode MAX_CONCURRENT_RECEIVES} under load). */
  get receivers(): number {
    return this.#receiving;
  }

  /** Resolves when the receive loop has ended (after {@linkcode UdpTransport.close}). */
  get closed(): Promise<void> {
    return Promise.all([...this.#loops]).then(() => {});
  }
}
