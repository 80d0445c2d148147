/**
 * What the reply budget costs on the request path, measured in-process so that other load on
 * the machine cancels out: a node (no sockets: replies go to a counter) answers gets of a
 * 100-byte value, without a budget (the reference), with the default budget for a trusted
 * (loopback) client, and for a budgeted client within its budget. Rounds alternate (in turning
 * order); the time is the process's CPU time (user + system), so that other processes competing
 * for the cores count less; the median of each is printed with its ratio to the reference.
 *
 * Usage: deno task bench:guards [--requests N] [--rounds N]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { cpuUsage } from "node:process";
import { realClock } from "../lib/base/clock.ts";
import { KVNode } from "../lib/node/kv_node.ts";
import { LocalExecutor } from "../lib/node/executor.ts";
import { ReplyBudget } from "../lib/node/reply_budget.ts";
import { MemoryStore } from "../lib/storage/store.ts";
import { HybridLogicalClock } from "../lib/storage/hlc.ts";
import { SourceNetworks } from "../lib/net/source_networks.ts";
import type { DatagramHandler, Transport } from "../lib/net/transport.ts";
import { Command, encodeRequest } from "../lib/wire/client_protocol.ts";

const { values } = parseArgs({ options: { requests: { type: "string" }, rounds: { type: "string" } } });
const REQUESTS = Number(values.requests ?? 200_000);
const ROUNDS = Number(values.rounds ?? 7);

type Variant = "no budget" | "budget, trusted client" | "budget, budgeted client";

function makeNode(variant: Variant): { node: KVNode; deliver: (p: Uint8Array) => void; sent: () => number } {
  let handler: DatagramHandler = () => {};
  let bytes = 0;
  const transport: Transport = {
    address: "127.0.0.1:4000",
    send: (d) => void (bytes += d.length),
    onReceive: (h) => void (handler = h),
    close: () => {},
  };
  const store = new MemoryStore(64 << 20);
  const trusted = SourceNetworks.parse(["loopback"]);
  const budget = variant === "no budget"
    ? undefined
    : new ReplyBudget(realClock, (a) => trusted.allows(a), { bytesPerSecond: 1e12, burstBytes: 1e12 });
  const node = new KVNode({
    transport,
    clock: realClock,
    store,
    executor: new LocalExecutor(store, new HybridLogicalClock(realClock, "127.0.0.1:4000")),
    replyBudget: budget,
  });
  const from = variant === "budget, budgeted client" ? "192.0.2.1:5000" : "127.0.0.1:5000";
  return { node, deliver: (p) => handler(p, from), sent: () => bytes };
}

const key = new Uint8Array(32).fill(1);
const packets = Array.from({ length: 4096 }, (_, i) => {
  const id = new Uint8Array(16);
  new DataView(id.buffer).setUint32(0, i);
  return encodeRequest(id, Command.Get, key);
});

function round(variant: Variant): number {
  const { node, deliver, sent } = makeNode(variant);
  deliver(encodeRequest(new Uint8Array(16).fill(255), Command.Put, key, new Uint8Array(100)));
  const start = cpuUsage();
  for (let i = 0; i < REQUESTS; i++) {
    const p = packets[i & 4095];
    p[4] = i >> 12; // a fresh id each time (no reply-cache hit)
    p[5] = i >> 20;
    deliver(p.slice());
  }
  const used = cpuUsage(start);
  const ns = ((used.user + used.system) * 1e3) / REQUESTS;
  if (sent() < REQUESTS * 17) throw new Error(`${variant}: replies missing`);
  node.close();
  return ns;
}

const variants: Variant[] = ["no budget", "budget, trusted client", "budget, budgeted client"];
const times = new Map<Variant, number[]>(variants.map((v) => [v, []]));
for (const v of variants) round(v); // warm-up
// Each round in another order, so that what runs first (or after a collection) favours none.
for (let r = 0; r < ROUNDS; r++) {
  for (let i = 0; i < variants.length; i++) {
    const v = variants[(i + r) % variants.length];
    times.get(v)!.push(round(v));
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const reference = median(times.get("no budget")!);
console.log(`${REQUESTS} gets per round, ${ROUNDS} rounds, median CPU ns per request (in-process, no sockets):`);
for (const v of variants) {
  const m = median(times.get(v)!);
  console.log(`  ${v.padEnd(24)} ${m.toFixed(0).padStart(6)} ns  ${(100 * m / reference).toFixed(1)}% of no budget`);
}
