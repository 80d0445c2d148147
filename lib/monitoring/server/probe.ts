/**
 * Telling apart why a node is not responding. First an is-alive request
 * (client command 0x06) to its UDP port: an answer means the process runs but
 * its reports do not arrive. Otherwise a TCP connection attempt to the same
 * host and port: KVStore never listens on TCP, so "connection refused" proves
 * the host is up (its kernel answered) while the UDP port is silent, that is
 * the node process is down or the port is closed; no answer at all means the
 * host is down, unreachable or filtered. (Deno's UDP sockets are unconnected,
 * and Linux does not report ICMP port-unreachable on those, so the UDP reply
 * alone cannot show a closed port; see docs/monitoring.md.)
 *
 * @module
 */
import type { Clock, TimerId } from "../../base/clock.ts";
import { idKey } from "../../wire/client_protocol.ts";
import { Command, ErrorCode, HEADER_LENGTH, ID_LENGTH } from "../../wire/client_protocol.ts";
import { type Address, parseAddress, type Transport } from "../../net/transport.ts";

/** Outcome of a probe. */
export type ProbeResult = "answers" | "port_closed" | "silent";

/** A probe outcome with a sentence for the page. */
export interface ProbeOutcome {
  /** What was found. */
  result: ProbeResult;
  /** Explanation for people. */
  detail: string;
  /** When the probe finished (ms). */
  at: number;
}

/** TCP reachability of a host: refused (host up, nothing listening), open, or no answer. */
export type TcpProbe = (address: Address, timeoutMs: number) => Promise<"refused" | "open" | "timeout">;

/** Real TCP probe with `Deno.connect`. */
export const denoTcpProbe: TcpProbe = async (address, timeoutMs) => {
  const { hostname, port } = parseAddress(address);
  try {
    const conn = await Deno.connect({ hostname, port, signal: AbortSignal.timeout(timeoutMs) });
    conn.close();
    return "open";
  } catch (e) {
    return e instanceof Deno.errors.ConnectionRefused ? "refused" : "timeout";
  }
};

const DETAIL: Record<ProbeResult, string> = {
  answers: "the node answers is-alive on UDP but its reports do not arrive (check its monitor URL, cluster key, " +
    "and that it can reach the monitor over HTTP)",
  port_closed: "the host is up (TCP connection refused) but the UDP port does not answer: the node process is down " +
    "or the port is closed",
  silent: "no answer from the host at all: it is down, unreachable, or a firewall drops the traffic",
};

/**
 * Probes nodes through the monitor's UDP socket (for is-alive) and TCP.
 *
 * @example
 * ```ts ignore
 * const prober = new Prober(transport, realClock);
 * const outcome = await prober.probe("127.0.0.1:4000", 1000);
 * console.log(outcome.result);
 * ```
 */
export class Prober {
  #transport: Pick<Transport, "send">;
  #clock: Clock;
  #tcp: TcpProbe | null;
  #pending = new Map<string, { resolve: (ok: boolean) => void; timer: TimerId }>();
  #closed = false;

  /** Probes through `transport`; `tcp` = null skips the TCP step (simulations). */
  constructor(transport: Pick<Transport, "send">, clock: Clock, tcp: TcpProbe | null = denoTcpProbe) {
    this.#transport = transport;
    this.#clock = clock;
    this.#tcp = tcp;
  }

  /** Feeds a datagram received on the monitor's socket; true if it answered a probe. */
  receive(packet: Uint8Array): boolean {
    if (packet.length < HEADER_LENGTH) return false;
    const key = idKey(packet.subarray(0, ID_LENGTH));
    const p = this.#pending.get(key);
    if (!p) return false;
    this.#pending.delete(key);
    this.#clock.clearTimeout(p.timer);
    p.resolve(packet[ID_LENGTH] === ErrorCode.Success);
    return true;
  }

  /** Probes `address`, waiting at most `timeoutMs` for each step. */
  async probe(address: Address, timeoutMs: number): Promise<ProbeOutcome> {
    if (await this.#isAlive(address, timeoutMs)) return this.#outcome("answers");
    if (!this.#tcp || this.#closed) return this.#outcome("silent");
    const tcp = await this.#tcp(address, timeoutMs);
    return this.#outcome(tcp === "timeout" ? "silent" : "port_closed");
  }

  #outcome(result: ProbeResult): ProbeOutcome {
    return { result, detail: DETAIL[result], at: this.#clock.now() };
  }

  #isAlive(address: Address, timeoutMs: number): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    const id = crypto.getRandomValues(new Uint8Array(ID_LENGTH));
    const packet = new Uint8Array(HEADER_LENGTH);
    packet.set(id);
    packet[ID_LENGTH] = Command.IsAlive;
    return new Promise((resolve) => {
      const key = idKey(id);
      const timer = this.#clock.setTimeout(() => {
        this.#pending.delete(key);
        resolve(false);
      }, timeoutMs);
      this.#pending.set(key, { resolve, timer });
      this.#transport.send(packet, address);
    });
  }

  /** Ends pending probes (they resolve as not answering). */
  close(): void {
    this.#closed = true;
    for (const [key, p] of this.#pending) {
      this.#clock.clearTimeout(p.timer);
      this.#pending.delete(key);
      p.resolve(false);
    }
  }
}
