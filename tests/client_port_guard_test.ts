import assert from "node:assert/strict";
import { VirtualClock } from "../lib/base/clock.ts";
import { MemoryNetwork } from "../lib/net/memory_network.ts";
import { startNode } from "../lib/roles/start_node.ts";
import { parseFleet } from "../lib/config/fleet_file.ts";
import { ClusterKeyring } from "../lib/wire/keyring.ts";
import { Command, encodeRequest, ErrorCode } from "../lib/wire/client_protocol.ts";
import {
  checkDestructiveProof,
  DESTRUCTIVE_PROOF_WINDOW_MS,
  PROOF_REQUEST_BYTES,
  proveDestructive,
} from "../lib/wire/destructive_proof.ts";
import { MAX_CACHED_RESENDS, ReplyBudget } from "../lib/node/reply_budget.ts";
import { sourcePrefix } from "../lib/net/source_networks.ts";
import { clientGuardSettings } from "../lib/cli/client_guard_flags.ts";
import { UsageError } from "../lib/base/cli_args.ts";
import { StatsCollector } from "../lib/monitoring/agent/stats.ts";
import type { RunningNode } from "../lib/roles/start_node.ts";

/** The stats the node reports (as the page and /metrics get them). */
function collect(running: RunningNode) {
  return new StatsCollector(running.context, running.members, { system: false, sources: running.stats }).collect();
}

const KEY_A = "ab".repeat(32), KEY_B = "cd".repeat(32);
const SELF = "10.0.0.1:4000";

Deno.test("destructive proof: made with a key of the ring, for one node and one command, within the window", () => {
  const a = ClusterKeyring.fromHex([KEY_A]), b = ClusterKeyring.fromHex([KEY_B]);
  const now = 1_800_000_000_000;
  const req = proveDestructive(a, Command.Wipeout, SELF, now);
  assert.equal(req.length, PROOF_REQUEST_BYTES);
  assert.equal(checkDestructiveProof(a, req, SELF, now), undefined);
  assert.equal(checkDestructiveProof(a, req, SELF, now + DESTRUCTIVE_PROOF_WINDOW_MS), undefined, "edge of the window");
  assert.equal(checkDestructiveProof(a, req, SELF, now + DESTRUCTIVE_PROOF_WINDOW_MS + 1), "stale");
  assert.equal(checkDestructiveProof(a, req, SELF, now - DESTRUCTIVE_PROOF_WINDOW_MS - 1), "stale", "from the future");
  assert.equal(checkDestructiveProof(b, req, SELF, now), "badProof", "another cluster's key");
  assert.equal(checkDestructiveProof(a, req, "10.0.0.2:4000", now), "badProof", "made for another node");
  assert.equal(checkDestructiveProof(undefined, req, SELF, now), "unproven", "a node without a key");
  // Rotation: a ring with the new key first still accepts a proof made with the old one.
  assert.equal(checkDestructiveProof(ClusterKeyring.fromHex([KEY_B, KEY_A]), req, SELF, now), undefined);
  for (let i = 0; i < PROOF_REQUEST_BYTES; i++) {
    const bent = req.slice();
    bent[i] ^= 1;
    assert.notEqual(checkDestructiveProof(a, bent, SELF, now), undefined, `byte ${i} flipped`);
  }
  assert.equal(checkDestructiveProof(a, req.subarray(0, 17), SELF, now), "unproven", "the 17-byte request");
  assert.throws(() => proveDestructive(a, Command.Get, SELF, now), RangeError);
});

/** A node (simulated network) with a keyed fleet file, and senders at any address. */
async function keyedNode(extra: Parameters<typeof startNode>[0] = {}, fleetNodes = [SELF, "10.0.0.2:4000"]) {
  const clock = new VirtualClock(1_800_000_000_000);
  const net = new MemoryNetwork(clock, { seed: 7 });
  const fleet = parseFleet(`clusterKey: "${KEY_A}"\nnodes: ${JSON.stringify(fleetNodes)}\n`, "nodes.yaml");
  const running = await startNode({
    transport: net.createTransport(SELF),
    clock,
    fleet,
    destructiveFrom: ["loopback"],
    trustedClients: ["loopback"],
    ...extra,
  });
  const replies: { from: string; id: number; code: number; bytes: number }[] = [];
  const senders = new Map<string, ReturnType<typeof net.createTransport>>();
  const sender = (from: string) => {
    let t = senders.get(from);
    if (!t) {
      senders.set(from, t = net.createTransport(from));
      t.onReceive((d) => replies.push({ from, id: d[0], code: d[16], bytes: d.length }));
    }
    return t;
  };
  const send = (from: string, packet: Uint8Array) => {
    sender(from).send(packet, SELF);
    clock.advance(50);
  };
  const close = () => {
    for (const t of senders.values()) t.close();
    running.close();
  };
  return { clock, running, replies, send, sender, close };
}

function plain(id: number, command: number): Uint8Array {
  const p = new Uint8Array(17);
  p[0] = id;
  p[16] = command;
  return p;
}

Deno.test("node: shutdown/wipeout from the fleet host's address need a proof; one proof works once, not late", async () => {
  const s = await keyedNode();
  const ring = ClusterKeyring.fromHex([KEY_A]);
  let shutdowns = 0;
  try {
    s.running.store.force("ab".repeat(32), { value: new Uint8Array([1]), version: { t: 1, n: "n" }, tombstone: false });
    // The fleet's other host (now untrusted by default) and a stranger, unproven: refused, counted.
    s.send("10.0.0.2:5000", plain(1, Command.Wipeout));
    s.send("10.0.0.2:5000", plain(2, Command.Shutdown));
    s.send("198.51.100.7:5000", plain(3, Command.Wipeout));
    assert.deepEqual(s.replies.map((r) => r.code), [4, 4, 4]);
    assert.equal(s.running.store.size, 1);
    assert.equal(s.running.node.counters.refusedDestructive, 3);
    assert.equal(s.running.destructiveGuard!.stats.unproven, 3);
    // A forged proof (another key) and a proof made for another node: refused.
    s.send(
      "198.51.100.7:5000",
      proveDestructive(ClusterKeyring.fromHex([KEY_B]), Command.Wipeout, SELF, s.clock.now()),
    );
    s.send("198.51.100.7:5000", proveDestructive(ring, Command.Wipeout, "10.0.0.2:4000", s.clock.now()));
    assert.equal(s.running.destructiveGuard!.stats.badProof, 2);
    assert.equal(s.running.store.size, 1, "every key intact");
    // A proof made with the cluster key: works from anywhere.
    const proven = proveDestructive(ring, Command.Wipeout, SELF, s.clock.now());
    s.send("198.51.100.7:5000", proven);
    assert.equal(s.replies.at(-1)!.code, ErrorCode.Success);
    assert.equal(s.running.store.size, 0);
    // Replayed at once: the cached reply (the same bytes), nothing runs again.
    s.running.store.force("cd".repeat(32), { value: new Uint8Array([2]), version: { t: 2, n: "n" }, tombstone: false });
    s.send("203.0.113.9:6000", proven);
    assert.equal(s.running.store.size, 1, "a replay within the reply cache's life does nothing");
    // Replayed once the reply cache forgot it, within the window: refused as replayed.
    s.clock.advance(6_000);
    s.running.node.replyCache.expire(s.clock.now());
    s.send("203.0.113.9:6000", proven);
    assert.equal(s.replies.at(-1)!.code, ErrorCode.InternalFailure);
    assert.equal(s.running.destructiveGuard!.stats.replayed, 1);
    // Replayed after the window: refused as stale.
    s.clock.advance(DESTRUCTIVE_PROOF_WINDOW_MS);
    s.running.node.replyCache.expire(s.clock.now());
    s.send("203.0.113.9:6000", proven);
    assert.equal(s.replies.at(-1)!.code, ErrorCode.InternalFailure);
    assert.equal(s.running.destructiveGuard!.stats.stale, 1);
    assert.equal(s.running.store.size, 1, "the key written after the wipeout survived both replays");
    const stats = await collect(s.running);
    assert.equal(stats.refused_destructive_replayed.value, 1);
    assert.equal(stats.refused_destructive_stale.value, 1);
    assert.equal(stats.destructive_proven.value, 1);
    s.running.store.force("ef".repeat(32), { value: new Uint8Array([3]), version: { t: 3, n: "n" }, tombstone: false });
    // Key rotation (what SIGHUP does): a proof made with the new key is accepted, and one with the old key still.
    s.running.destructiveGuard!.auth = ClusterKeyring.fromHex([KEY_B, KEY_A]);
    for (const k of [KEY_B, KEY_A]) {
      s.send("198.51.100.7:5001", proveDestructive(ClusterKeyring.fromHex([k]), Command.Wipeout, SELF, s.clock.now()));
      assert.equal(s.replies.at(-1)!.code, ErrorCode.Success, `a proof made with key ${k.slice(0, 2)}…`);
    }
    // Loopback (the course's tester) needs no proof.
    s.send("127.0.0.1:7000", plain(9, Command.Shutdown));
    assert.equal(s.replies.at(-1)!.code, ErrorCode.Success);
    shutdowns++;
  } finally {
    s.close();
  }
  assert.equal(shutdowns, 1);
});

Deno.test("reply budget: bytes per /24 (or /56) and burst, trusted exempt, bounded table, cached re-sends capped", () => {
  const clock = new VirtualClock(0);
  const b = new ReplyBudget(clock, (a) => a.startsWith("127."), { bytesPerSecond: 10_000, burstBytes: 20_000 });
  assert.equal(sourcePrefix("192.0.2.9:1"), sourcePrefix("192.0.2.200:7"));
  assert.notEqual(sourcePrefix("192.0.2.9:1"), sourcePrefix("192.0.3.9:1"));
  assert.equal(sourcePrefix("[2001:db8:0:ab00::1]:1"), sourcePrefix("[2001:db8:0:abff::2]:1"), "same /56");
  assert.notEqual(sourcePrefix("[2001:db8:0:100::1]:1"), sourcePrefix("[2001:db8:0:200::1]:1"));
  assert.equal(sourcePrefix("[::ffff:192.0.2.1]:1"), sourcePrefix("192.0.2.1:1"));
  let sent = 0;
  for (let i = 0; i < 100; i++) if (b.charge(`192.0.2.${i}:9`, 1_000)) sent += 1_000;
  assert.equal(sent, 20_000, "the burst, shared by the /24");
  assert.ok(b.charge("192.0.3.1:9", 1_000), "another /24 has its own");
  clock.advance(1_000);
  sent = 0;
  for (let i = 0; i < 100; i++) if (b.charge("192.0.2.1:9", 1_000)) sent += 1_000;
  assert.equal(sent, 10_000, "a second refills bytesPerSecond");
  assert.equal(b.allowsRequest("192.0.2.1:9"), false, "an empty bucket takes no request");
  for (let i = 0; i < 1_000; i++) assert.ok(b.charge("127.0.0.1:5", 15_000), "loopback is trusted");
  assert.ok(b.stats.dropped >= 80 + 90 + 1);
  const id = new Uint8Array(16).fill(3);
  let resent = 0;
  for (let i = 0; i < 10; i++) if (b.allowsResend("192.0.4.1:1", id)) resent++;
  assert.equal(resent, MAX_CACHED_RESENDS);
  assert.equal(b.stats.resendsDropped, 10 - MAX_CACHED_RESENDS);
  assert.ok(b.allowsResend("127.0.0.1:1", id), "no cap for trusted clients");
  // Bounded: a flood of prefixes keeps the table at its size; busy buckets are never forgotten.
  const small = new ReplyBudget(clock, () => false, { bytesPerSecond: 1_000, burstBytes: 1_000, maxPrefixes: 64 });
  assert.ok(small.charge("198.51.100.1:1", 1_000), "the victim's burst");
  for (let i = 0; i < 5_000; i++) small.charge(`10.${i >> 8}.${i & 255}.1:1`, 1);
  assert.ok(small.prefixes <= 64);
  assert.equal(small.charge("198.51.100.1:1", 100), false, "the victim's empty bucket was not forgotten");
});

Deno.test("node with --trusted-clients none: 20,000 gets of a 15,000-byte value in 2 s send at most budget x 2 s + burst", async () => {
  const budget = 1024 * 1024;
  for (const sameId of [false, true]) {
    const s = await keyedNode(
      { trustedClients: ["none"], replyBudget: { bytesPerSecond: budget, burstBytes: budget } },
      [
        SELF,
      ],
    );
    try {
      const key = new Uint8Array(32).fill(7);
      s.send("127.0.0.1:9000", encodeRequest(new Uint8Array(16).fill(1), Command.Put, key, new Uint8Array(15_000)));
      assert.equal(s.replies.at(-1)?.code, ErrorCode.Success, "the value is stored");
      const start = s.clock.now(), before = s.replies.length, flooder = s.sender("192.0.2.66:9999");
      for (let i = 0; i < 20_000; i++) {
        const id = new Uint8Array(16);
        new DataView(id.buffer).setUint32(4, sameId ? 1 : i + 2);
        flooder.send(encodeRequest(id, Command.Get, key), SELF);
        if (i % 100 === 99) s.clock.advance(10); // 20,000 in 2 s
      }
      s.clock.advance(50);
      const seconds = (s.clock.now() - start) / 1000;
      const bytes = s.replies.slice(before).reduce((n, r) => n + r.bytes, 0);
      const limit = budget * seconds + budget;
      const st = await collect(s.running);
      console.log(
        `${sameId ? "one id" : "distinct ids"}: ${bytes} bytes sent back in ${seconds} s (limit ${limit}); ` +
          `reply_budget_dropped ${st.reply_budget_dropped.value}, reply_resends_dropped ${st.reply_resends_dropped.value}`,
      );
      assert.ok(bytes > 0 && bytes <= limit, `${bytes} bytes within ${limit}`);
      assert.ok((st.reply_budget_dropped.value as number) + (st.reply_resends_dropped.value as number) > 19_000);
      if (sameId) assert.ok((st.reply_resends_dropped.value as number) > 0);
    } finally {
      s.close();
    }
  }
});

Deno.test("node flags: --trusted-clients, --reply-budget, --allow-destructive-from and their errors", () => {
  const d = clientGuardSettings({}, undefined);
  assert.deepEqual([d.destructiveFrom, d.trustedClients, d.replyBudgetBytes], [
    ["loopback"],
    ["loopback"],
    1024 * 1024,
  ]);
  const fleet = parseFleet(
    `trustedClients: [10.0.0.0/8]\ndestructiveCommandsFrom: [none]\nnodes: ["127.0.0.1:4000"]\n`,
    "nodes.yaml",
  );
  const f = clientGuardSettings({}, fleet);
  assert.deepEqual([f.destructiveFrom, f.trustedClients], [["none"], ["10.0.0.0/8"]]);
  assert.deepEqual(clientGuardSettings({ "trusted-clients": "none" }, fleet).trustedClients, ["none"], "the flag wins");
  assert.throws(() => clientGuardSettings({ "trusted-clients": "everyone" }, undefined), UsageError);
  assert.throws(() => clientGuardSettings({ "reply-budget": "lots" }, undefined), /is not a size/);
  assert.throws(() => clientGuardSettings({ "reply-budget": "1KiB" }, undefined), /below the smallest budget/);
});
