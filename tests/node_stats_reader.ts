/**
 * Reads a node's own counters the way the monitor does: a round message (0x40) whose report URL
 * is a local HTTP endpoint; the node answers by POSTing its stats there. (The debug query 0x60–0x6F
 * reports only the store and replication counters, not the request path's rejects.)
 */
import { defaultInternalPort } from "../lib/net/internal_address.ts";
import assert from "node:assert/strict";
import { toHex } from "../lib/base/bytes.ts";
import { encodeJsonFrame } from "../lib/wire/envelope.ts";
import { MonitoringCommand, signRound } from "../lib/monitoring/round_message.ts";
import type { NodeReport, StatMap } from "../lib/monitoring/report.ts";
import type { FrameAuth } from "../lib/wire/frame.ts";

/** Stats of a node by round message; for a keyed node give its keyring and WebCrypto key. */
export class NodeStatsReader {
  #reports = new Map<string, (r: NodeReport) => void>();
  #server: Deno.HttpServer<Deno.NetAddr>;
  #socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  #auth?: { frames: FrameAuth; rounds: CryptoKey };

  constructor(auth?: { frames: FrameAuth; rounds: CryptoKey }) {
    this.#auth = auth;
    this.#server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
      const report = await req.json() as NodeReport;
      this.#reports.get(report.round)?.(report);
      return new Response("ok");
    });
  }

  /** The stats `port`'s node (on `host`) reports for a fresh round (the round message is resent if lost). */
  async stats(port: number, attempts = 5, waitMs = 1_000, host = "127.0.0.1"): Promise<StatMap> {
    const url = `http://127.0.0.1:${this.#server.addr.port}/api/report`;
    for (let i = 0; i < attempts; i++) {
      const round = toHex(crypto.getRandomValues(new Uint8Array(8)));
      const { promise, resolve } = Promise.withResolvers<NodeReport | null>();
      this.#reports.set(round, resolve);
      const timer = setTimeout(() => resolve(null), waitMs);
      try {
        const header = await signRound(this.#auth?.rounds, { r: round, u: url, j: 0, h: 0 });
        const packet = encodeJsonFrame(MonitoringCommand.Round, header, undefined, this.#auth?.frames);
        // Round messages go to the node's internal port.
        await this.#socket.send(packet, { transport: "udp", hostname: host, port: defaultInternalPort(port) });
        const report = await promise;
        if (report) return report.stats;
      } finally {
        clearTimeout(timer);
        this.#reports.delete(round);
      }
    }
    throw new Error(`node on port ${port} sent no stats report for ${attempts} round messages`);
  }

  async close(): Promise<void> {
    this.#socket.close();
    await this.#server.shutdown();
  }
}

/** The number a stat holds (fails the test if it is missing or not a number). */
export function counterOf(stats: StatMap, name: string): number {
  const v = stats[name]?.value;
  assert.equal(typeof v, "number", `stat ${name} in ${JSON.stringify(stats)}`);
  return v as number;
}
