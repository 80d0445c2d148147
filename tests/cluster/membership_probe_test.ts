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

/** A prober of one silent target with three helpers; the nacks arrive `nackAtMs` after the probe started. */
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
  const table = {
    nextSuspectToProbe: () => undefined,
    nextProbeTarget: () => TARGET,
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
  const prober = new Prober({
    self: "10.0.0.1:4000",
    table,
    config,
    random,
    timers: new TimerGroup(clock, random),
    stats: newSwimStats(),
    send: (to, command) => void sent.push({ to, command, at: clock.now() - t0 }),
    withRumors: (header) => ({ ...header, u: [] }),
    nextSeq: () => ++seq,
  });
  prober.tick();
  const probeSeq = seq;
  if (nackAtMs !== undefined) {
    clock.setTimeout(() => {
      for (const _ of HELPERS) prober.onNack(probeSeq);
    }, nackAtMs);
  }
  clock.advance(config.probeIntervalMs + 2 * config.probeTimeoutMs);
  assert.deepEqual(
    sent.filter((s) => s.command === MembershipCommand.PingReq).map((s) => s.to).sort(),
    HELPERS,
    "the three helpers were asked",
  );
  const pingReqAt = sent.filter((s) => s.command === MembershipCommand.PingReq).map((s) => s.at);
  return { awareness: prober.awareness, suspected, pingReqAt, suspectedAt };
}

Deno.test("prober: a failed probe raises awareness by the missing nacks; nacks up to a probe timeout late count", () => {
  const config = resolveSwimConfig("lan");
  const none = failedProbe(undefined);
  assert.deepEqual(none.suspected, [TARGET], "suspected at the end of the probe");
  assert.equal(none.awareness, 3, "three helpers, no nack: raised by 3");
  assert.equal(failedProbe(config.probeTimeoutMs + 100).awareness, 0, "nacks in time");
  const late = failedProbe(config.probeIntervalMs + 200);
  assert.deepEqual(late.suspected, [TARGET], "the suspicion does not wait for late nacks");
  assert.equal(late.awareness, 0, "nacks 200 ms after the probe's end still count");
  assert.equal(failedProbe(config.probeIntervalMs + config.probeTimeoutMs + 100).awareness, 3, "later ones do not");
});

Deno.test("prober: above 10 live members the probe interval and timeout shrink by √log10(n)", () => {
  const config = resolveSwimConfig("lan");
  const small = failedProbe(undefined, 10);
  assert.deepEqual(small.pingReqAt, [500, 500, 500]);
  assert.equal(small.suspectedAt, config.probeIntervalMs);
  const large = failedProbe(undefined, 100);
  assert.deepEqual(large.pingReqAt, [353, 353, 353], "indirect probes after 500 / √2 ms");
  assert.equal(large.suspectedAt, 707, "suspected after 1,000 / √2 ms");
});
