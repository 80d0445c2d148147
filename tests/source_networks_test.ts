import assert from "node:assert/strict";
import { KVClient } from "../lib/client/client.ts";
import { InternalFailureError } from "../lib/client/errors.ts";
import { freeUdpPorts, RoleProcess, startNodeProcess } from "../lib/roles/process_launcher.ts";
import { exitsWithin } from "./support/child_processes.ts";
import { LocalExecutor } from "../lib/node/executor.ts";
import { HybridLogicalClock } from "../lib/storage/hlc.ts";
import { VirtualClock } from "../lib/base/clock.ts";
import { MemoryNetwork } from "../lib/net/memory_network.ts";
import { KVNode } from "../lib/node/kv_node.ts";
import { ConfigError, parseFleet } from "../lib/config/fleet_file.ts";
import { Command, ErrorCode } from "../lib/wire/client_protocol.ts";
import { isSourceNetwork, SourceNetworks } from "../lib/net/source_networks.ts";
import { MemoryStore } from "../lib/storage/store.ts";

Deno.test("source networks: IPv4 and IPv6 blocks, bare addresses, mapped IPv4, words", () => {
  const n = SourceNetworks.parse(["10.1.0.0/16", "192.0.2.7", "2001:db8::/32", "::ffff:198.51.100.0/120"]);
  assert.ok(n.allows("10.1.255.3:4000"));
  assert.ok(!n.allows("10.2.0.1:4000"));
  assert.ok(n.allows("192.0.2.7:1") && !n.allows("192.0.2.8:1"));
  assert.ok(n.allows("[2001:db8:ffff::1]:4000") && !n.allows("[2001:db9::1]:4000"));
  assert.ok(n.allows("198.51.100.9:4000"), "a v4 address matches a v4-mapped v6 block");
  assert.ok(n.allows("[::ffff:10.1.0.1]:4000"), "a v4-mapped v6 sender matches a v4 block");
  assert.ok(!n.allows("127.0.0.1:4000"), "loopback only when listed");
  const loop = SourceNetworks.parse(["loopback"]);
  assert.ok(loop.allows("127.9.9.9:1") && loop.allows("[::1]:1") && !loop.allows("[::2]:1"));
  const fleet = SourceNetworks.parse(["fleet"], ["203.0.113.5", "node-a.example.org"]);
  assert.ok(fleet.allows("203.0.113.5:9") && fleet.allows("NODE-A.example.org:9") && !fleet.allows("203.0.113.6:9"));
  assert.ok(SourceNetworks.parse(["any"]).allows("198.18.0.1:1"));
  assert.ok(!SourceNetworks.parse(["loopback"]).allows("not an address"));
  for (const bad of ["10.0.0.0/33", "300.1.1.1", "10.0.0/8", "2001:db8::/129", "1::2::3", "everyone", "10.0.0.0/8/1"]) {
    assert.equal(isSourceNetwork(bad), false, bad);
    assert.throws(() => SourceNetworks.parse([bad]), /is not a source network/, bad);
  }
  assert.ok(isSourceNetwork("fe80::1") && isSourceNetwork("0.0.0.0/0") && isSourceNetwork("::/0"));
});

Deno.test("fleet file: destructiveCommandsFrom is checked, with the line of a bad entry", () => {
  const ok = parseFleet(`destructiveCommandsFrom: [loopback, 10.0.0.0/8]\nnodes: ["127.0.0.1:4000"]\n`, "nodes.yaml");
  assert.deepEqual(ok.destructiveCommandsFrom, ["loopback", "10.0.0.0/8"]);
  assert.throws(
    () =>
      parseFleet(`nodes: ["127.0.0.1:4000"]\ndestructiveCommandsFrom:\n  - loopback\n  - everywhere\n`, "nodes.yaml"),
    (e) => e instanceof ConfigError && /line 4/.test(e.message) && /CIDR block/.test(e.message),
  );
});

function request(id: number, command: number): Uint8Array {
  const p = new Uint8Array(17);
  p[0] = id;
  p[16] = command;
  return p;
}

Deno.test("node: shutdown and wipeout from a refused source answer 0x04, change nothing and are counted; allowed ones work", () => {
  const clock = new VirtualClock();
  const net = new MemoryNetwork(clock, { seed: 1 });
  const store = new MemoryStore(1 << 20);
  const transport = net.createTransport("10.0.0.1:4000");
  const allowed = SourceNetworks.parse(["loopback"]);
  let shutdowns = 0;
  const node = new KVNode({
    transport,
    clock,
    store,
    executor: new LocalExecutor(store, new HybridLogicalClock(clock, "n")),
    onShutdown: () => shutdowns++,
    allowDestructive: (from) => allowed.allows(from),
  });
  const stranger = net.createTransport("198.51.100.1:5000");
  const local = net.createTransport("127.0.0.1:5000");
  const got: [string, number, number][] = [];
  stranger.onReceive((d) => got.push(["stranger", d[0], d[16]]));
  local.onReceive((d) => got.push(["local", d[0], d[16]]));
  try {
    store.force("ab".repeat(32), { value: new Uint8Array([1]), version: { t: 1, n: "n" }, tombstone: false });
    stranger.send(request(1, Command.Wipeout), transport.address);
    stranger.send(request(2, Command.Shutdown), transport.address);
    stranger.send(request(1, Command.Wipeout), transport.address); // a retry: the cached 0x04, not counted again
    clock.advance(50);
    assert.deepEqual(got.sort(), [
      ["stranger", 1, ErrorCode.InternalFailure],
      ["stranger", 1, ErrorCode.InternalFailure],
      ["stranger", 2, ErrorCode.InternalFailure],
    ]);
    assert.equal(node.counters.refusedDestructive, 2);
    assert.equal(store.size, 1, "the store kept its key");
    assert.equal(shutdowns, 0);
    assert.equal(node.closed, false);
    got.length = 0;
    local.send(request(3, Command.Wipeout), transport.address);
    clock.advance(50);
    assert.deepEqual(got, [["local", 3, ErrorCode.Success]]);
    assert.equal(store.size, 0, "an allowed wipeout clears");
    local.send(request(4, Command.Shutdown), transport.address);
    clock.advance(50);
    assert.equal(node.counters.refusedDestructive, 2);
  } finally {
    stranger.close();
    local.close();
    node.close();
  }
});

Deno.test("node process: --allow-destructive-from decides who may wipe; a bad list is a usage error", async () => {
  const [port] = freeUdpPorts(1);
  const bad = new RoleProcess("bad", "node", ["--port", String(port), "--allow-destructive-from", "loopback,everyone"]);
  assert.equal((await exitsWithin(bad)).code, 2);
  assert.match(bad.output.join("\n"), /"everyone" is not a source network/);
  const node = await startNodeProcess(port, ["--allow-destructive-from", "192.0.2.0/24"]);
  const client = await KVClient.connect(`127.0.0.1:${port}`);
  try {
    await client.put("kept", "yes");
    await assert.rejects(client.wipeout(), InternalFailureError, "loopback is not in the list");
    assert.equal(new TextDecoder().decode(await client.get("kept")), "yes");
    await assert.rejects(client.shutdown(), InternalFailureError);
    assert.ok(await client.isAlive(), "still serving");
  } finally {
    client.close();
    await node.stop();
  }
});
