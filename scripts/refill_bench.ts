/**
 * How long the cluster takes to refill a node that comes back empty (no
 * --data-dir): starts N in-memory node processes on loopback, writes K keys,
 * restarts one node (a new process, empty; `--leave` lets it leave first, as a
 * rolling restart does, otherwise it is killed with SIGKILL), and measures
 * from the moment the new process listens until it reports caught up (view
 * query 0x62) and until it holds every key it owns. Progress (keys to go) is
 * printed once a second.
 *
 * ```sh
 * deno task bench:refill                       # 5 nodes, 100,000 keys of 100 bytes
 * deno task bench:refill --keys 20000 --leave
 * ```
 *
 * @module
 */
import { InternalAddressBook } from "../lib/net/internal_address.ts";
import { parseFlags, parseInteger, runCli } from "../lib/base/cli_args.ts";
import { KVClient } from "../lib/client/client.ts";
import { ClusterKeyring } from "../lib/wire/keyring.ts";
import { ClusterDebugClient } from "../lib/replication/debug_queries.ts";
import { askView } from "../lib/replication/catch_up.ts";
import { keyPositionHex, Ring } from "../lib/replication/ring.ts";
import { Rpc } from "../lib/wire/rpc.ts";
import { realClock } from "../lib/base/clock.ts";
import { UdpTransport } from "../lib/net/udp_transport.ts";
import { toHex } from "../lib/base/bytes.ts";
import { toKey } from "../lib/client/keys.ts";
import { freeUdpPorts, type RoleProcess, startNodeProcess } from "../lib/roles/process_launcher.ts";

const HELP = `Usage: deno task bench:refill [--nodes 5] [--keys 100000] [--value-size 100] [--leave]

Measures how long an empty restarted node takes to hold its data again.
  --nodes N         node processes (default 5)
  --keys K          keys written before the restart (default 100000)
  --value-size B    bytes per value (default 100)
  --leave           stop the node with SIGTERM (it leaves the membership) instead of SIGKILL
  -h, --help        show this help
`;

async function main(): Promise<number> {
  const { values } = parseFlags("bench:refill", Deno.args, {
    nodes: { type: "string" },
    keys: { type: "string" },
    "value-size": { type: "string" },
    leave: { type: "boolean" },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const n = values.nodes ? parseInteger(values.nodes, "--nodes", 3, 20) : 5;
  const count = values.keys ? parseInteger(values.keys, "--keys", 1, 10_000_000) : 100_000;
  const size = values["value-size"] ? parseInteger(values["value-size"], "--value-size", 1, 15_000) : 100;
  const dir = await Deno.makeTempDir({ prefix: "kvstore-refill-" });
  const ports = freeUdpPorts(n);
  const addresses = ports.map((p) => `127.0.0.1:${p}`);
  const key = toHex(crypto.getRandomValues(new Uint8Array(32)));
  await Deno.writeTextFile(
    `${dir}/nodes.yaml`,
    `name: refill\nclusterKey: ${key}\nnodes:\n${addresses.map((a) => `  - ${a}\n`).join("")}`,
  );
  const args = ["--config", `${dir}/nodes.yaml`, "--max-bytes", "1GiB"];
  const procs: RoleProcess[] = await Promise.all(ports.map((p) => startNodeProcess(p, args)));
  const auth = ClusterKeyring.fromHex([key]);
  const transport = await UdpTransport.listen("127.0.0.1", 0);
  const rpc = new Rpc(transport, realClock, { auth, addresses: new InternalAddressBook() });
  transport.onReceive((d, from) => rpc.receive(d, from));
  const debug = await ClusterDebugClient.open("127.0.0.1", auth);
  try {
    // Members first, then the keys (8 writers per node).
    for (;;) {
      const views = await Promise.all(addresses.map((a) => askView(rpc, a, a, undefined, true)));
      if (views.every((v) => v?.alive?.length === n)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const value = new Uint8Array(size).fill(0x61);
    const t0 = performance.now();
    const clients = await Promise.all(addresses.map((a) => KVClient.connect(a, { timeoutMs: 300, retries: 5 })));
    let next = 0;
    await Promise.all(Array.from({ length: 8 * n }, async (_, w) => {
      for (let i = next++; i < count; i = next++) await clients[w % n].put(`refill-${i}`, value);
    }));
    for (const c of clients) c.close();
    console.log(
      `wrote ${count.toLocaleString("en-US")} keys of ${size} B in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    const victim = n - 1;
    const ring = new Ring(addresses, 256);
    let owned = 0;
    for (let i = 0; i < count; i++) {
      const h = toHex(toKey(`refill-${i}`));
      if (ring.preferenceListAt(keyPositionHex(h), 3).includes(addresses[victim])) owned++;
    }
    await new Promise((r) => setTimeout(r, 2_000)); // background replica writes settle
    procs[victim].kill(values.leave ? "SIGTERM" : "SIGKILL");
    await procs[victim].exited();
    procs[victim] = await startNodeProcess(ports[victim], args);
    const start = performance.now();
    console.log(
      `restarted ${addresses[victim]} empty (${values.leave ? "after a graceful leave" : "killed"}); it owns ${
        owned.toLocaleString("en-US")
      } keys`,
    );
    let caughtUpAt: number | undefined, fullAt: number | undefined, lastPrint = 0;
    while (fullAt === undefined || caughtUpAt === undefined) {
      const v = await askView(rpc, addresses[victim], addresses[victim]);
      const stats = await debug.stats(addresses[victim]).catch(() => undefined);
      const held = Number(stats?.keys ?? 0);
      const secs = (performance.now() - start) / 1000;
      if (v?.catchUp.caughtUp && caughtUpAt === undefined) caughtUpAt = secs;
      if (held >= owned && fullAt === undefined) fullAt = secs;
      if (secs - lastPrint >= 1) {
        lastPrint = secs;
        console.log(
          `  ${secs.toFixed(1)} s: ${v?.catchUp.phase ?? "no answer"}, keys to go ${
            v?.catchUp.keysToGo ?? "?"
          }, holds ${held.toLocaleString("en-US")} of ${owned.toLocaleString("en-US")}`,
        );
      }
      if (secs > 600) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    console.log(
      `holds every key it owns after ${fullAt?.toFixed(2)} s; reports caught up after ${caughtUpAt?.toFixed(2)} s ` +
        `(${n} nodes, ${count.toLocaleString("en-US")} keys of ${size} B, ${owned.toLocaleString("en-US")} owned)`,
    );
    return 0;
  } finally {
    debug.close();
    rpc.close();
    transport.close();
    await Promise.all(procs.map((p) => p.stop("SIGTERM")));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) await runCli(main);
