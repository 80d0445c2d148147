/**
 * Acceptance of the authenticated wire on a real node process: every internal message family,
 * sent from a socket without the cluster key and from one with a wrong key, changes nothing,
 * is answered by nothing and is counted as rejected; with the right key the same messages work.
 */
import { defaultInternalPort } from "../lib/net/internal_address.ts";
import assert from "node:assert/strict";
import { toHex } from "../lib/base/bytes.ts";
import { KVClient } from "../lib/client/client.ts";
import { KeyNotFoundError } from "../lib/client/errors.ts";
import { ClusterKeyring } from "../lib/wire/keyring.ts";
import { importClusterKey } from "../lib/wire/http_key.ts";
import { encodeJsonPayload } from "../lib/wire/envelope.ts";
import { createCommand } from "../lib/admin/client.ts";
import { generateAdminKeys, importAdminPrivateKey } from "../lib/admin/keys.ts";
import { replicaPutWriter } from "../lib/replication/replica_codec.ts";
import { freeUdpPorts, startNodeProcess } from "../lib/roles/process_launcher.ts";
import { toKey } from "../lib/client/keys.ts";
import { counterOf, NodeStatsReader } from "./node_stats_reader.ts";
import { newClusterKey } from "../lib/wire/fleet_auth.ts";
import { encodeFrame, type FrameAuth, type Payload, readFrame } from "../lib/wire/frame.ts";
import { sleep } from "./support/real_time.ts";

const json = (header: unknown) => encodeJsonPayload(header);

Deno.test("wire: every internal family from no key or a wrong key changes nothing, is never answered, is counted; the right key works", async () => {
  const [port] = freeUdpPorts(1);
  const address = `127.0.0.1:${port}`;
  const keyHex = newClusterKey();
  const right = ClusterKeyring.fromHex([keyHex]);
  const wrong = ClusterKeyring.fromHex([newClusterKey()]);
  const admin = await generateAdminKeys();
  const adminKey = await importAdminPrivateKey(admin.privateKeyFile);
  const dir = await Deno.makeTempDir({ prefix: "kvstore-wire-auth-" });
  await Deno.writeTextFile(
    `${dir}/nodes.yaml`,
    `name: wire-auth\nclusterKey: "${keyHex}"\nadminPublicKey: ${admin.publicKey}\nnodes:\n  - ${address}\n`,
  );
  const node = await startNodeProcess(port, ["--config", `${dir}/nodes.yaml`]);
  const client = await KVClient.connect(address, { timeoutMs: 200, retries: 5 });
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const answers: Uint8Array[] = [];
  const listening = (async () => {
    try {
      for (;;) answers.push((await socket.receive())[0]);
    } catch { /* closed */ }
  })();
  // Internal frames go to the node's internal port (client port + 10000).
  const target = { transport: "udp" as const, hostname: "127.0.0.1", port: defaultInternalPort(port) };
  const send = (command: number, payload: Payload, auth?: FrameAuth, callId = 7) =>
    socket.send(encodeFrame([{ command, callId, payload }], auth), target);
  /** Replies (0x20) to `callId` among the answers, decoded from the right-key frames. */
  const repliesTo = (callId: number) => {
    const out: Uint8Array[] = [];
    for (const a of answers) {
      readFrame(a, right, (c, id, p) => {
        if (c === 0x20 && id === callId) out.push(p);
      });
    }
    return out;
  };
  const settle = () => sleep(300);
  const reader = new NodeStatsReader({ frames: right, rounds: await importClusterKey(keyHex) });
  const stats = () => reader.stats(port);
  try {
    const evilKey = toKey("planted");
    const evil = replicaPutWriter(evilKey, {
      value: new TextEncoder().encode("evil"),
      version: { t: 9e15, n: "attacker" }, // far future: would make the key impossible to overwrite
      tombstone: false,
    }, false);
    const signed = await createCommand(adminKey, { run: { script: "true", timeoutMs: 1_000 } });
    // One message of every family: membership, replication, hand-off, anti-entropy, monitoring, admin, debug.
    const families: [string, number, Payload][] = [
      ["membership ping", 0x21, json({ s: 1, t: address })],
      ["membership gossip (a new member)", 0x27, json({ u: [[0, "127.0.0.1:9", 5]] })],
      ["membership push-pull (join)", 0x25, json({ s: 2, j: 1, p: 0, n: 1, m: [[0, "127.0.0.1:8", 1]] })],
      ["replica write", 0x30, evil],
      ["replica read", 0x31, evilKey],
      ["anti-entropy digest", 0x32, json({ b: 16 })],
      ["hand-off offer", 0x36, json({})],
      ["monitoring round", 0x40, json({ r: "00aa00bb00cc0000", u: "http://127.0.0.1:9/api/report", j: 0, h: 0 })],
      ["admin submit", 0x50, json(signed)],
      ["admin stats", 0x57, json({})],
      ["debug key list", 0x60, json({})],
      ["debug stats", 0x61, json({})],
    ];
    await client.put("kept", "value");
    const before = await stats();
    const membersBefore = await client.membershipCount();
    for (const auth of [undefined, wrong]) {
      for (const [, command, payload] of families) await send(command, payload, auth);
    }
    await settle();
    assert.deepEqual(answers.length, 0, "no datagram answers an unauthenticated or wrongly keyed message");
    await assert.rejects(client.get("planted"), KeyNotFoundError, "the replica write was not applied");
    assert.equal(new TextDecoder().decode(await client.get("kept")), "value");
    assert.equal(await client.membershipCount(), membersBefore, "no member was added");
    await send(0x56, json({ id: signed.c.id }), right, 99);
    await settle();
    const status = repliesTo(99);
    assert.equal(status.length, 1);
    assert.match(new TextDecoder().decode(status[0]), /"result":null/, "the admin command was not taken");
    const after = await stats();
    const grew = (name: string) => counterOf(after, name) - counterOf(before, name);
    assert.equal(grew("wire_rejected_unauthenticated"), families.length, "each keyless frame counted");
    assert.equal(grew("wire_rejected_bad_tag"), families.length, "each wrong-key frame counted");
    assert.equal(after.wire_auth.value, "on");

    // The right key: the same messages work.
    answers.length = 0;
    for (const [i, [, command, payload]] of families.entries()) await send(command, payload, right, 1_000 + i);
    await settle();
    const answered = (i: number) => repliesTo(1_000 + i).length > 0;
    const acks: number[] = [];
    for (const a of answers) readFrame(a, right, (c) => c === 0x22 && acks.push(c));
    assert.ok(acks.length > 0, "ping answered (SWIM ack)");
    assert.ok(answered(3) && answered(4), "replica write and read answered");
    assert.ok(answered(8) && answered(9), "admin submit and stats answered");
    const keyList = repliesTo(1_000 + 10);
    assert.equal(keyList.length, 1, "the debug key list answers with the key");
    assert.match(new TextDecoder().decode(keyList[0]), new RegExp(toHex(evilKey)), "an authenticated write applies");
    assert.ok(await client.membershipCount() > membersBefore, "an authenticated rumor adds the member it names");
  } finally {
    client.close();
    socket.close();
    await listening;
    await node.stop();
    await reader.close();
    await Deno.remove(dir, { recursive: true });
  }
});
