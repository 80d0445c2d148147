/**
 * Issue 20: a node is no amplifier. A real node process with `--trusted-clients none` (so the test's
 * loopback source is budgeted like a stranger) gets 20,000 gets of a 15,000-byte value in about 2 s
 * from one source, once with distinct request ids and once under a single id: the bytes sent back
 * stay within the budget times the duration plus the burst, and the drops are counted.
 */
import assert from "node:assert/strict";
import { KVClient } from "../lib/client/client.ts";
import { toKey } from "../lib/client/keys.ts";
import { freeUdpPorts, startNodeProcess } from "../lib/roles/process_launcher.ts";
import { Command, encodeRequest } from "../lib/wire/client_protocol.ts";
import { counterOf, NodeStatsReader } from "./node_stats_reader.ts";
import { poll } from "./support/real_time.ts";

const GETS = 20_000;
const SECONDS = 2;
const BUDGET = 1024 * 1024; // the default, also the burst
const VALUE_BYTES = 15_000;

Deno.test("real node with --trusted-clients none: 20,000 gets of 15,000 bytes in 2 s get at most budget x duration + burst back", async () => {
  const reader = new NodeStatsReader();
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  let received = 0, replies = 0;
  const listening = (async () => {
    try {
      for (;;) {
        const [d] = await socket.receive();
        received += d.length;
        replies++;
      }
    } catch { /* closed */ }
  })();
  try {
    // Each case on a fresh node: the distinct-id flood fills the reply cache (64 MiB of 15 KB replies), and a
    // node with a full cache executes a repeated id anew each time (budgeted, but no longer a re-send).
    for (const sameId of [false, true]) {
      const [port] = freeUdpPorts(1);
      const node = await startNodeProcess(port, ["--trusted-clients", "none"]);
      const client = await KVClient.connect(`127.0.0.1:${port}`);
      try {
        await client.put("big", new Uint8Array(VALUE_BYTES).fill(9));
        const key = toKey("big");
        const target = { transport: "udp" as const, hostname: "127.0.0.1", port };
        const before = { received, replies };
        const start = performance.now();
        for (let i = 0; i < GETS; i++) {
          const id = new Uint8Array(16);
          new DataView(id.buffer).setUint32(0, sameId ? 7 : i + 1_000);
          new DataView(id.buffer).setUint32(4, sameId ? 0 : 1);
          await socket.send(encodeRequest(id, Command.Get, key), target);
          // Paced to GETS in SECONDS: sleep whenever ahead of schedule.
          const due = start + ((i + 1) * SECONDS * 1000) / GETS;
          const ahead = due - performance.now();
          if (ahead > 4) await new Promise((r) => setTimeout(r, ahead));
        }
        // The last replies: until nothing more arrives for 300 ms.
        let last = received;
        await poll(() => {
          const quiet = received === last;
          last = received;
          return quiet;
        }, { until: (q) => q, timeoutMs: 5_000, intervalMs: 300 });
        const seconds = (performance.now() - start) / 1000;
        const bytes = received - before.received;
        const limit = BUDGET * seconds + BUDGET;
        const stats = await reader.stats(port);
        console.log(
          `${sameId ? "one id      " : "distinct ids"}: ${GETS} gets (${GETS * 49} bytes) in ${
            seconds.toFixed(2)
          } s → ` +
            `${replies - before.replies} replies, ${bytes} bytes back (limit budget x duration + burst = ${
              Math.round(limit)
            }; ${(bytes / (GETS * 49)).toFixed(1)}x the request bytes, unbudgeted would be ${
              GETS * (VALUE_BYTES + 19)
            }); ` +
            `reply_budget_dropped ${counterOf(stats, "reply_budget_dropped")}, ` +
            `reply_resends_dropped ${counterOf(stats, "reply_resends_dropped")}`,
        );
        assert.ok(bytes > 0, "some gets are answered");
        assert.ok(bytes <= limit, `${bytes} bytes within ${limit}`);
        // Datagrams the kernel drops under the flood never reach the node; the others are dropped and counted.
        if (sameId) assert.ok(counterOf(stats, "reply_resends_dropped") > 0);
        else assert.ok(counterOf(stats, "reply_budget_dropped") > 0);
      } finally {
        client.close();
        await node.stop();
      }
    }
  } finally {
    socket.close();
    await listening;
    await reader.close();
  }
});
