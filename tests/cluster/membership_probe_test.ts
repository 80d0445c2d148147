/**
 * The prober's Lifeguard awareness: a failed probe raises it by the helpers' nacks that did not come,
 * counting those that come within a probe timeout after the probe ended (on a slow machine or path a
 * nack arrives late; the helper and the path still work, so this node is not the one to blame).
 */
import assert from "node:assert/strict";
import { VirtualClock } from "../../lib/base/clock.ts";
import { seededRandom } from "../../lib/base/random.ts";
import type { Address } from "../../lib/net/transport.ts";
import { MembershipCommand } from "../../lib/membership/membership_codec.ts";
import type { MemberTable } from "../../lib/membership/membership_table.ts";
import { resolveSwimConfig } from "../../lib/membership/swim_config.ts";
import { Prober } from "../../lib/membership/swim_probe.ts";
import { newSwimStats } from "../../lib/membership/swim_stats.ts";
import { TimerGroup } from "../../lib/membership/swim_timers.ts";

const TARGET = "10.0.0.9:4000";
const HELPERS = ["10.0.0.2:4000", "10.0.0.3:4000", "10.0.0.4:4000"];

/** A prober of one silent target with three helpers, ticked as SWIM ticks it; the nacks arrive `nackAtMs` after the probe started. */
function failedProbe(
  nackAtMs: number | undefined,
  liveCount = 5,
): { awareness: number; suspected: Address[]; pingReqAt: number[]; suspectedAt: number } {
  const clock = new VirtualClock();
  const t0 = clock.now();
  const random = seededRandom(1);
  const config = resolveSwimConfig("lan");
  const suspected: Address[] = [];
  let suspectedAt = -1;
  let probed = false;
  const table = {
    nextSuspectToProbe: () => undefined,
    nextProbeTarget: () => probed ? undefined : (probed = true, TARGET),
    liveCount,
    get: () => ({ address: TARGET, state: "alive", incarnation: 0, since: 0 }),
    aliveOthers: () => [...HELPERS, TARGET],
    suspectFromProbe: (a: Address) => {
      suspected.push(a);
      suspectedAt = clock.now() - t0;
    },
  } as unknown as MemberTable;
  let seq = 0;
  const sent: { to: Address; command: number; at: number }[] = [];
  const timers = new TimerGroup(clock, random);
  const prober = new Prober({
    self: "10.0.0.1:4000",
    table,
    config,
    random,
    timers,
    stats: newSwimStats(),
    send: (to, command) => void sent.push({ to, command, at: clock.now() - t0 }),
    withRumors: (header) => ({ ...header, u: [] }),
    nextSeq: () => ++seq,
  });
  const { intervalMs, timeoutMs } = prober.timing();
  prober.tick();
  clock.setTimeout(() => prober.tick(), intervalMs); // SWIM's next tick
  const probeSeq = seq;
  if (nackAtMs !== undefined) {
    clock.setTimeout(() => {
      for (const _ of HELPERS) prober.onNack(probeSeq);
    }, nackAtMs);
  }
  clock.advance(3 * intervalMs + 2 * timeoutMs);
  timers.stop();
  assert.deepEqual(
    sent.filter((s) => s.command === MembershipCommand.PingReq).map((s) => s.to).sort(),
    HELPERS,
    "the three helpers were asked",
  );
  const pingReqAt = sent.filter((s) => s.command === MembershipCommand.PingReq).map((s) => s.at);
  return { awareness: prober.awareness, suspected, pingReqAt, suspectedAt };
}

Deno.test("prober: a failed probe raises awareness by the missing nacks; nacks up to a probe timeout late count", () => {
  const { probeIntervalMs: interval, probeTimeoutMs: timeout } = resolveSwimConfig("lan");
  const end = 2 * interval - timeout; // ping-reqs at the next tick, then interval - timeout for their answers
  const none = failedProbe(undefined);
  assert.deepEqual(none.suspected, [TARGET], "suspected at the end of the probe");
  assert.equal(none.suspectedAt, end);
  assert.equal(none.awareness, 3, "three helpers, no nack: raised by 3");
  assert.equal(failedProbe(interval + 100).awareness, 0, "nacks in time");
  const late = failedProbe(end + 200);
  assert.deepEqual(late.suspected, [TARGET], "the suspicion does not wait for late nacks");
  assert.equal(late.awareness, 0, "nacks 200 ms after the probe's end still count");
  assert.equal(failedProbe(end + timeout + 100).awareness, 3, "later ones do not");
});

Deno.test("prober: above 10 live members the probe interval and timeout shrink by √log10(n)", () => {
  const small = failedProbe(undefined, 10);
  assert.deepEqual(small.pingReqAt, [1000, 1000, 1000], "indirect probes at the next tick");
  assert.equal(small.suspectedAt, 1500);
  const large = failedProbe(undefined, 100);
  assert.deepEqual(large.pingReqAt, [707, 707, 707], "indirect probes at the next tick, 1,000 / √2 ms");
  assert.equal(large.suspectedAt, 707 + (707 - 353), "suspected 707 - 353 ms later");
});

Deno.test("prober: an ack, even after the probe timeout, settles the probe with no timer armed and no ping-req", () => {
  const clock = new VirtualClock();
  const random = seededRandom(1);
  const config = resolveSwimConfig("lan");
  let armed = 0;
  const counting = new Proxy(clock, {
    get(target, key) {
      if (key === "setTimeout") return (fn: () => void, ms: number) => (armed++, target.setTimeout(fn, ms));
      const v = Reflect.get(target, key);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  const suspected: Address[] = [];
  const table = {
    nextSuspectToProbe: () => undefined,
    nextProbeTarget: () => TARGET,
    liveCount: 5,
    get: () => ({ address: TARGET, state: "alive", incarnation: 0, since: 0 }),
    aliveOthers: () => [...HELPERS, TARGET],
    suspectFromProbe: (a: Address) => void suspected.push(a),
  } as unknown as MemberTable;
  let seq = 0;
  const sent: number[] = [];
  const timers = new TimerGroup(counting, random);
  const prober = new Prober({
    self: "10.0.0.1:4000",
    table,
    config,
    random,
    timers,
    stats: newSwimStats(),
    send: (_to, command) => void sent.push(command),
    withRumors: (header) => ({ ...header, u: [] }),
    nextSeq: () => ++seq,
  });
  for (let tick = 0; tick < 5; tick++) {
    prober.tick();
    // The ack comes after the probe timeout but before the next tick (a slow path, a busy target).
    clock.advance(config.probeTimeoutMs + 100);
    prober.onAck(seq);
    clock.advance(config.probeIntervalMs - config.probeTimeoutMs - 100);
  }
  prober.tick();
  assert.equal(armed, 0, "no timer waits for an ack");
  assert.deepEqual(sent.filter((c) => c !== MembershipCommand.Ping), [], "no ping-req");
  assert.deepEqual(suspected, []);
  assert.equal(prober.awareness, 0);
});
