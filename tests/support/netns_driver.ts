/**
 * Client-side steps of the namespace tests, run inside a namespace (`ip netns exec NS deno run -A
 * netns_driver.ts STEP …`); each prints one JSON line.
 *
 * - `put NODE COUNT`: stores keys k0 … k(COUNT-1) → `{"stored": n}`
 * - `count NODE COUNT`: gets them back → `{"present": n}`
 * - `send SOURCE_IP NODE HEX`: sends the datagram HEX from SOURCE_IP (any port), up to 4 times
 *   until a reply → `{"code": c}` or `{"code": null}`
 * - `stats NODE KEYHEX`: the node's stats, read the monitor's way → the stat map
 *
 * @module
 */
import { KVClient } from "../../lib/client/client.ts";
import { fromHex } from "../../lib/base/bytes.ts";
import { parseAddress } from "../../lib/net/transport.ts";
import { ClusterKeyring } from "../../lib/wire/keyring.ts";
import { importClusterKey } from "../../lib/wire/http_key.ts";
import { NodeStatsReader } from "../node_stats_reader.ts";

const [step, ...args] = Deno.args;

async function main(): Promise<unknown> {
  switch (step) {
    case "put":
    case "count": {
      const client = await KVClient.connect(args[0], { retries: 6 }); // the first ones wait for the down fleet host
      let n = 0;
      try {
        for (let i = 0; i < Number(args[1]); i++) {
          if (step === "put") {
            await client.put(`k${i}`, `value ${i}`);
            n++;
          } else if (
            new TextDecoder().decode(await client.get(`k${i}`).catch(() => new Uint8Array())) === `value ${i}`
          ) {
            n++;
          }
        }
      } finally {
        client.close();
      }
      return step === "put" ? { stored: n } : { present: n };
    }
    case "send": {
      const to = parseAddress(args[1]);
      const socket = Deno.listenDatagram({ transport: "udp", hostname: args[0], port: 0 });
      try {
        for (let attempt = 0; attempt < 4; attempt++) {
          await socket.send(fromHex(args[2]), { transport: "udp", hostname: to.hostname, port: to.port });
          let timer: ReturnType<typeof setTimeout> | undefined;
          const reply = await Promise.race([
            socket.receive().then(([d]) => d),
            new Promise<null>((r) => timer = setTimeout(() => r(null), 300 << attempt)),
          ]);
          clearTimeout(timer);
          if (reply) return { code: reply[16] };
        }
        return { code: null };
      } finally {
        socket.close();
      }
    }
    case "stats": {
      const reader = new NodeStatsReader({
        frames: ClusterKeyring.fromHex([args[1]]),
        rounds: await importClusterKey(args[1]),
      });
      try {
        const { hostname, port } = parseAddress(args[0]);
        return await reader.stats(port, 5, 1_000, hostname);
      } finally {
        await reader.close();
      }
    }
  }
  throw new Error(`unknown step ${step}`);
}

console.log(JSON.stringify(await main()));
Deno.exit(0);
