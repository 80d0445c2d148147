import assert from "node:assert/strict";
import { VirtualClock } from "../lib/base/clock.ts";
import { LocalExecutor } from "../lib/node/executor.ts";
import { HybridLogicalClock } from "../lib/storage/hlc.ts";
import { MemoryNetwork } from "../lib/net/memory_network.ts";
import { KVNode } from "../lib/node/kv_node.ts";
import type { Durability } from "../lib/storage/durability.ts";
import { Command, ErrorCode } from "../lib/wire/client_protocol.ts";
import { Rpc } from "../lib/wire/rpc.ts";
import { MemoryStore } from "../lib/storage/store.ts";

/** A durability that counts commits, and fails them while `failing` is set. */
class FakeDisk implements Durability {
  staged = 0;
  commits: number[] = [];
  failing: string | undefined;
  get dirty(): boolean {
    return this.staged > 0;
  }
  commit(): void {
    if (!this.dirty) return;
    const n = this.staged;
    this.staged = 0;
    if (this.failing) throw new Error(this.failing);
    this.commits.push(n);
  }
}

function put(id: number, key: string): Uint8Array {
  const p = new Uint8Array(52);
  p[0] = id;
  p[16] = Command.Put;
  new TextEncoder().encodeInto(key, p.subarray(17, 49));
  p[49] = 1;
  p[51] = 7;
  return p;
}

function setup() {
  const clock = new VirtualClock();
  const net = new MemoryNetwork(clock, { seed: 1 });
  const store = new MemoryStore(1 << 20);
  const disk = new FakeDisk();
  store.listener = { set: () => disk.staged++, delete: () => disk.staged++, clear: () => disk.staged++ };
  const transport = net.createTransport("10.0.0.1:4000");
  const node = new KVNode({
    transport,
    clock,
    store,
    executor: new LocalExecutor(store, new HybridLogicalClock(clock, "n")),
    durability: disk,
  });
  const client = net.createTransport("10.0.0.2:5000");
  const replies: [number, number][] = [];
  client.onReceive((d) => replies.push([d[0], d[16]]));
  return { clock, node, disk, client, replies, to: transport.address };
}

Deno.test("group commit: the puts of one turn commit together, and no reply leaves before the commit", () => {
  const { clock, node, disk, client, replies } = setup();
  try {
    // Three puts handled in one turn (as datagrams that arrive together are).
    for (let i = 1; i <= 3; i++) node.receive(put(i, `k${i}`), client.address);
    assert.deepEqual(disk.commits, [], "staged, not committed yet");
    clock.advance(20);
    assert.deepEqual(disk.commits, [3], "one transaction for the three");
    assert.deepEqual(replies.map(([, c]) => c), [0, 0, 0]);
  } finally {
    client.close();
    node.close();
  }
});

Deno.test("group commit: writes whose commit fails are answered 0x02 (full) or 0x04, and so are their retries", () => {
  const { clock, node, disk, client, replies, to } = setup();
  try {
    disk.failing = "database or disk is full";
    client.send(put(1, "a"), to);
    clock.advance(20);
    assert.deepEqual(replies, [[1, ErrorCode.OutOfSpace]]);
    client.send(put(1, "a"), to); // the same request again: the cached answer is the failure
    clock.advance(20);
    assert.deepEqual(replies.at(-1), [1, ErrorCode.OutOfSpace]);
    disk.failing = "disk I/O error";
    client.send(put(2, "b"), to);
    clock.advance(20);
    assert.deepEqual(replies.at(-1), [2, ErrorCode.InternalFailure]);
    disk.failing = undefined;
    client.send(put(3, "c"), to);
    clock.advance(20);
    assert.deepEqual(replies.at(-1), [3, ErrorCode.Success]);
  } finally {
    client.close();
    node.close();
  }
});

Deno.test("rpc: when the commit before sending fails, the turn's acks are dropped, not sent", () => {
  const clock = new VirtualClock();
  const net = new MemoryNetwork(clock, { seed: 2 });
  const ta = net.createTransport("10.0.0.1:4000"), tb = net.createTransport("10.0.0.2:4000");
  let failing = true;
  const a = new Rpc(ta, clock),
    b = new Rpc(tb, clock, {
      beforeSend: () => {
        if (failing) throw new Error("disk full");
      },
    });
  ta.onReceive((d, f) => a.receive(d, f));
  tb.onReceive((d, f) => b.receive(d, f));
  b.handleRaw(0x30, () => Uint8Array.of(1));
  const got: (number | undefined)[] = [];
  const record = (r: Uint8Array | undefined) => void got.push(r?.[0]);
  try {
    a.request(tb.address, 0x30, Uint8Array.of(0), { timeoutMs: 50, retries: 0 }, record);
    clock.advance(100);
    assert.deepEqual(got, [undefined], "no ack: the caller times out");
    assert.equal(b.stats.unsentAfterFailedCommit, 1);
    failing = false;
    a.request(tb.address, 0x30, Uint8Array.of(0), { timeoutMs: 50, retries: 0 }, record);
    clock.advance(100);
    assert.deepEqual(got, [undefined, 1]);
  } finally {
    a.close();
    b.close();
    ta.close();
    tb.close();
  }
});
