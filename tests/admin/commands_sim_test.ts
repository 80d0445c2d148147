/**
 * Admin commands (scripts and file pushes) spreading through simulated clusters: each node runs a command
 * exactly once, selectors, bad commands dropped and counted, pushes pulled from peers, push-pull alone, a
 * lying chunk source, a forged copy racing the genuine command.
 */
import assert from "node:assert/strict";
import { AdminClient, createCommand } from "../../lib/admin/client.ts";
import { signCommand, type SignedCommand } from "../../lib/admin/command.ts";
import { manifestOfBytes } from "../../lib/admin/manifest.ts";
import { randomBytes, seededRandom } from "../../lib/base/random.ts";
import { AdminSim, executionsOf } from "./admin_sim.ts";
import { makeKeys } from "./admin_keys.ts";

const RUN = { run: { script: "echo hi", timeoutMs: 60_000 } };

function sumStat(c: AdminSim, name: string): number {
  let n = 0;
  for (const r of c.nodes.values()) n += (r.admin!.stats as unknown as Record<string, number>)[name];
  return n;
}

Deno.test("sim: a signed command reaches 5 nodes and each runs it exactly once; resubmitting changes nothing", async () => {
  const keys = await makeKeys();
  const c = await AdminSim.create(5, keys.publicKey);
  try {
    const signed = await createCommand(keys.privateKey, RUN, { now: c.clock.now() });
    await c.run(c.admin.submit(signed, [c.addresses()[2]]));
    await c.until(() => executionsOf(c.executions, signed.c.id).nodes === 5, {
      limitMs: 10_000,
      what: "every node should run the command",
    });
    // Replays: to every node, several times, and let gossip + push-pull run for a while.
    for (const a of c.addresses()) await c.run(c.admin.submit(signed, [a]));
    await c.advance(10_050, { tickMs: 50 });
    const e = executionsOf(c.executions, signed.c.id);
    assert.equal(e.total, 5);
    assert.deepEqual(e.repeated, []);
    assert.ok(sumStat(c, "duplicates") >= 5, "replays are counted as duplicates");
    const status = await c.run(c.admin.status(c.addresses()[0], signed.c.id));
    assert.equal(status?.status, "ok");
    assert.equal(status?.stdout, `ran on ${c.addresses()[0]}\n`);
  } finally {
    c.close();
  }
});

Deno.test("sim: the selector limits who runs; everyone still relays", async () => {
  const keys = await makeKeys();
  const c = await AdminSim.create(6, keys.publicKey);
  try {
    const chosen = [c.addresses()[1], c.addresses()[4]];
    const signed = await createCommand(keys.privateKey, RUN, { now: c.clock.now(), selector: chosen.join(",") });
    await c.run(c.admin.submit(signed, [c.addresses()[0]]));
    await c.until(() => executionsOf(c.executions, signed.c.id).nodes === 2, { limitMs: 10_000, failAtLimit: false });
    await c.advance(5_050, { tickMs: 50 });
    const ran = [...c.executions].filter(([, m]) => m.has(signed.c.id)).map(([n]) => n).sort();
    assert.deepEqual(ran, chosen.sort());
    assert.equal(sumStat(c, "not_selected"), 4);
  } finally {
    c.close();
  }
});

Deno.test("sim: forged, tampered, unsigned, expired and replayed commands are dropped, counted, never run", async () => {
  const keys = await makeKeys();
  const other = await makeKeys();
  const c = await AdminSim.create(5, keys.publicKey);
  try {
    const now = c.clock.now();
    const forged = await createCommand(other.privateKey, RUN, { now });
    const good = await createCommand(keys.privateKey, RUN, { now });
    const tampered: SignedCommand = { c: { ...good.c, run: { script: "rm -rf /", timeoutMs: 60_000 } }, s: good.s };
    const unsigned = { c: (await createCommand(keys.privateKey, RUN, { now })).c, s: "" };
    const expired = await signCommand(keys.privateKey, {
      ...(await createCommand(keys.privateKey, RUN, { now })).c,
      issuedAt: now - 7_200_000,
      expiresAt: now - 3_600_000,
    });
    const badSig = { ...good, s: good.s.slice(0, -4) + "AAA=" };
    const cases: [string, SignedCommand, string][] = [
      ["forged", forged, "signature"],
      ["tampered", tampered, "signature"],
      ["bad signature", badSig, "signature"],
      ["unsigned", unsigned, "unsigned"],
      ["expired", expired, "expired"],
    ];
    for (const [name, cmd, reason] of cases) {
      for (const a of c.addresses()) {
        await assert.rejects(c.run(c.admin.submit(cmd, [a])), new RegExp(`\\(${reason}\\)`), name);
      }
      // Also injected as a peer rumor, which must not spread either.
      c.admin.rpc.cast(c.addresses()[0], 0x51, cmd);
    }
    await c.advance(10_050, { tickMs: 50 });
    for (const [name, cmd] of cases) assert.equal(executionsOf(c.executions, cmd.c.id).total, 0, name);
    assert.equal(sumStat(c, "rejected_signature"), 3 * 5 + 3);
    assert.equal(sumStat(c, "rejected_unsigned"), 5 + 1);
    assert.equal(sumStat(c, "rejected_expired"), 5 + 1);
    assert.equal(sumStat(c, "accepted"), 0);
    // Replayed after it ran, and replayed once it expired: still one run per node.
    await c.run(c.admin.submit(good, [c.addresses()[0]]));
    await c.until(() => executionsOf(c.executions, good.c.id).nodes === 5, { limitMs: 10_000, failAtLimit: false });
    for (const a of c.addresses()) await c.run(c.admin.submit(good, [a]));
    c.clock.advance(3_700_000);
    for (const a of c.addresses()) {
      await assert.rejects(c.run(c.admin.submit(good, [a])), /\(expired\)/);
    }
    await c.advance(5_050, { tickMs: 50 });
    assert.equal(executionsOf(c.executions, good.c.id).total, 5);
  } finally {
    c.close();
  }
});

Deno.test("sim: a pushed 1 MiB file arrives byte-identical on 8 nodes, pulled from peers", async () => {
  const keys = await makeKeys();
  const c = await AdminSim.create(8, keys.publicKey, { loss: 0.02 });
  try {
    const bytes = randomBytes(seededRandom(5), 1024 * 1024 + 123);
    const m = manifestOfBytes(bytes, 32 * 1024);
    const spec = { ...m.spec, path: "bin/tool", mode: 0o755 };
    const signed = await createCommand(keys.privateKey, { push: spec }, { now: c.clock.now() });
    c.admin.serveBytes(signed.c.id, spec, m, bytes);
    // Only the first node can reach kvctl: the other seven must pull every chunk from peers.
    c.network.partition([c.admin.transport.address], c.addresses().slice(1));
    await c.run(c.admin.submit(signed, [c.addresses()[0]]));
    const ms = await c.until(() => [...c.files.values()].every((f) => f.has("bin/tool")), {
      limitMs: 60_000,
      what: "every node should get the file",
    });
    for (const f of c.files.values()) assert.deepEqual(f.get("bin/tool"), bytes);
    const pieces = m.pieces.length + Math.ceil(bytes.length / (32 * 1024));
    const fromOrigin = c.admin.served(signed.c.id);
    assert.ok(fromOrigin >= pieces && fromOrigin < 2 * pieces, `origin served ${fromOrigin} (one copy is ${pieces})`);
    let fromPeers = 0;
    for (const r of c.nodes.values()) fromPeers += r.admin!.stats.chunks_served;
    assert.ok(fromPeers >= 7 * pieces, `peers served ${fromPeers}`);
    console.log(`  1 MiB to 8 nodes (7 only through peers) in ${ms} ms virtual; origin served ${fromOrigin} pieces`);
  } finally {
    c.close();
  }
});

Deno.test("sim: with rumors off, the push-pull backstop alone brings a command to every node", async () => {
  const keys = await makeKeys();
  const c = await AdminSim.create(20, keys.publicKey, { loss: 0.1, config: { fanout: 0 } });
  try {
    const signed = await createCommand(keys.privateKey, RUN, { now: c.clock.now() });
    await c.run(c.admin.submit(signed, [c.addresses()[0]]));
    const ms = await c.until(() => executionsOf(c.executions, signed.c.id).nodes === 20, {
      limitMs: 120_000,
      stepMs: 50,
      what: () => `only ${executionsOf(c.executions, signed.c.id).nodes} of 20 nodes got it`,
    });
    assert.equal(executionsOf(c.executions, signed.c.id).total, 20);
    assert.equal(sumStat(c, "accepted"), 20);
    console.log(`  push-pull only (2 s period, 10% loss): 20 nodes in ${(ms / 1000).toFixed(1)} s virtual`);
  } finally {
    c.close();
  }
});

Deno.test("sim: chunks from a lying source fail their hash check and are fetched again elsewhere", async () => {
  const keys = await makeKeys();
  const c = await AdminSim.create(6, keys.publicKey);
  const evil = new AdminClient(c.network.createTransport("10.9.9.66:5000"), c.clock);
  try {
    const bytes = randomBytes(seededRandom(9), 300 * 1024);
    const m = manifestOfBytes(bytes, 16 * 1024);
    const spec = { ...m.spec, path: "f.bin", mode: 0o644 };
    const signed = await createCommand(keys.privateKey, { push: spec }, { now: c.clock.now() });
    const lies = bytes.slice();
    for (let o = 0; o < lies.length; o += 4096) lies[o] ^= 0xff;
    evil.serveBytes(signed.c.id, spec, m, lies);
    c.admin.serveBytes(signed.c.id, spec, m, bytes);
    await c.run(evil.submit(signed, [c.addresses()[1]]));
    await c.run(c.admin.submit(signed, [c.addresses()[4]]));
    await c.until(() => [...c.files.values()].every((f) => f.has("f.bin")), {
      limitMs: 60_000,
      what: "every node should complete the file",
    });
    for (const f of c.files.values()) assert.deepEqual(f.get("f.bin"), bytes);
    assert.ok(evil.served(signed.c.id) > 0, "the liar was asked");
    assert.ok(sumStat(c, "chunks_bad") > 0, "its chunks were rejected");
    assert.equal(sumStat(c, "files_written"), 6);
  } finally {
    evil.close();
    c.close();
  }
});

Deno.test("sim: a forged copy racing the genuine command (same id) does not get the genuine one dropped", async () => {
  const keys = await makeKeys();
  const other = await makeKeys();
  const c = await AdminSim.create(3, keys.publicKey);
  try {
    const good = await createCommand(keys.privateKey, RUN, { now: c.clock.now() });
    const forged = await signCommand(other.privateKey, { ...good.c, run: { script: "evil", timeoutMs: 1000 } });
    // The forged copy's check is still running when the genuine one arrives.
    const admin = c.node(c.addresses()[0]).admin!;
    const first = admin.receive(forged, "10.9.9.66:5000");
    await Promise.resolve(); // the forged copy is now under check
    const second = admin.receive(good, "10.9.9.9:5000");
    assert.equal((await first).receipt, "rejected");
    assert.equal((await second).receipt, "new", "the genuine command is accepted once the forgery is rejected");
    await c.until(() => executionsOf(c.executions, good.c.id).nodes === 3, { limitMs: 10_000, failAtLimit: false });
    assert.equal(executionsOf(c.executions, good.c.id).total, 3);
    assert.equal(sumStat(c, "rejected_signature"), 1);
  } finally {
    c.close();
  }
});
