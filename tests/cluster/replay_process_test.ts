/**
 * Acceptance of frame freshness on a real node process (a fleet file with a short `frameWindowMs`):
 * a captured internal frame (a members query 0x63, a replica write 0x30), played again from another
 * socket within the window and after it, is answered by nothing, changes nothing and is counted
 * (`wire_rejected_replay`, `wire_rejected_stale`); a frame stamped far from the node's clock is
 * dropped with a log line that says so, and its offset is a stat.
 */
import assert from "node:assert/strict";
import { toHex } from "../../lib/base/bytes.ts";
import { KVClient } from "../../lib/client/client.ts";
import { toKey } from "../../lib/client/keys.ts";
import { defaultInternalPort } from "../../lib/net/internal_address.ts";
import { replicaPutWriter } from "../../lib/replication/replica_codec.ts";
import { ClusterDebugClient, DEBUG_MEMBERS } from "../../lib/replication/debug_queries.ts";
import { freeUdpPorts, startNodeProcess } from "../../lib/roles/process_launcher.ts";
import { encodeJsonPayload } from "../../lib/wire/envelope.ts";
import { newClusterKey } from "../../lib/wire/fleet_auth.ts";
import { encodeFrame, type Payload } from "../../lib/wire/frame.ts";
import { importClusterKey } from "../../lib/wire/http_key.ts";
import { ClusterKeyring } from "../../lib/wire/keyring.ts";
import { counterOf, NodeStatsReader } from "../node_stats_reader.ts";
import { sleep, waitUntil } from "../support/real_time.ts";

/** The freshness window the test's fleet file sets (ms). */
const WINDOW_MS = 1_500;

Deno.test("replay: a captured members query and replica write, replayed within and after the window, get no answer, change nothing, are counted", async () => {
  const [port] = freeUdpPorts(1);
  const address = `127.0.0.1:${port}`;
  const keyHex = newClusterKey();
  const auth = ClusterKeyring.fromHex([keyHex]);
  const dir = await Deno.makeTempDir({ prefix: "kvstore-replay-" });
  await Deno.writeTextFile(
    `${dir}/nodes.yaml`,
    `name: replay\nclusterKey: "${keyHex}"\nframeWindowMs: ${WINDOW_MS}\nnodes:\n  - ${address}\n`,
  );
  const node = await startNodeProcess(port, ["--config", `${dir}/nodes.yaml`]);
  const client = await KVClient.connect(address, { timeoutMs: 200, retries: 5 });
  const dbg = await ClusterDebugClient.open("127.0.0.1", auth);
  const reader = new NodeStatsReader({ frames: auth, rounds: await importClusterKey(keyHex) });
  const internal = { transport: "udp" as const, hostname: "127.0.0.1", port: defaultInternalPort(port) };
  // The sender the frames are captured from, and the attacker who plays them again.
  const sender = listen(), attacker = listen();
  try {
    const before = await reader.stats(port);
    const key = toKey("replayed-write");
    const write: Payload = replicaPutWriter(key, {
      value: new TextEncoder().encode("written once"),
      version: { t: Date.now() * 65_536, n: "127.0.0.1:1" },
      tombstone: false,
    }, false);
    const captured = {
      members: encodeFrame([{ command: DEBUG_MEMBERS, callId: 11, payload: encodeJsonPayload({}) }], auth),
      write: encodeFrame([{ command: 0x30, callId: 12, payload: write }], auth),
    };
    // The genuine frames are answered and the write applies. One at a time: answers to frames that
    // arrive together leave batched in one datagram.
    for (const [i, frame] of Object.values(captured).entries()) {
      await sender.socket.send(frame, internal);
      await waitUntil(() => sender.answers.length > i, {
        timeoutMs: 5_000,
        what: () => `an answer to genuine frame ${i + 1}; node: ${node.output.join(" | ")}`,
      });
    }
    const held = async () => (await dbg.keys(address)).some((k) => k.key === toHex(key));
    assert.ok(await held(), "the genuine replica write applied");
    // Remove the key (wipeout from loopback), so a replayed write that applied would bring it back.
    assert.ok(await client.isAlive());
    await client.wipeout();
    assert.equal(await held(), false);

    const t0 = performance.now();
    for (const frame of Object.values(captured)) await attacker.socket.send(frame, internal);
    const within = await reader.stats(port);
    const withinMs = performance.now() - t0;
    await sleep(Math.max(0, WINDOW_MS + 500 - (performance.now() - t0)));
    for (const frame of Object.values(captured)) await attacker.socket.send(frame, internal);
    const after = await reader.stats(port);
    const grew = (s: typeof before, name: string) => counterOf(s, name) - counterOf(before, name);
    console.log(
      `replay: 2 captured frames played again ${withinMs.toFixed(0)} ms after (window ${WINDOW_MS} ms): ` +
        `wire_rejected_replay +${grew(within, "wire_rejected_replay")}; again after the window: ` +
        `wire_rejected_stale +${
          grew(after, "wire_rejected_stale")
        }; answers to the attacker ${attacker.answers.length}`,
    );
    assert.ok(withinMs < WINDOW_MS, `the replay within the window took ${withinMs} ms`);
    assert.equal(grew(within, "wire_rejected_replay"), 2, "both replays within the window counted");
    assert.equal(grew(after, "wire_rejected_stale"), 2, "both replays after the window counted");
    assert.equal(attacker.answers.length, 0, "no datagram answers a replay");
    assert.equal(await held(), false, "the replayed write did not apply");

    // Frames from outside the window are said loudly (one line per 10 s at most), not dropped silently.
    await waitUntil(
      () => node.output.some((l) => /internal frames from .* are dropped: their time is \d+\.\d s behind/.test(l)),
      { timeoutMs: 5_000, what: () => `the line about frames outside the window in: ${node.output.join(" | ")}` },
    );
    // A frame stamped a minute ahead (a sender whose clock is off): dropped, its offset a stat.
    const ahead = encodeFrame(
      [{ command: DEBUG_MEMBERS, callId: 13, payload: encodeJsonPayload({}) }],
      auth,
      Date.now() + 60_000,
    );
    await sender.socket.send(ahead, internal);
    const skewed = await reader.stats(port);
    assert.ok(counterOf(skewed, "wire_clock_skew") > 55_000, `wire_clock_skew ${counterOf(skewed, "wire_clock_skew")}`);
    assert.equal(sender.answers.length, 2, "the skewed frame was not answered");
  } finally {
    sender.close();
    attacker.close();
    client.close();
    dbg.close();
    await reader.close();
    await node.stop("SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});

/** A UDP socket on loopback that keeps what it receives. */
function listen() {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const answers: Uint8Array[] = [];
  const loop = (async () => {
    try {
      for (;;) answers.push((await socket.receive())[0]);
    } catch { /* closed */ }
  })();
  return {
    socket,
    answers,
    close: () => {
      socket.close();
      return loop;
    },
  };
}
