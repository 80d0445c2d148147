/** SWIM settings: the presets, overrides and clear errors, and the Lifeguard suspicion timeout. */
import assert from "node:assert/strict";
import {
  LAN_CONFIG,
  probeTiming,
  resolveSwimConfig,
  retransmitLimit,
  suspicionBounds,
  type SwimConfig,
  WAN_CONFIG,
} from "../../lib/membership/swim_config.ts";
import { remainingSuspicionMs } from "../../lib/membership/swim_suspicion.ts";

Deno.test("config: presets, overrides and clear errors", () => {
  assert.equal(resolveSwimConfig("lan").probeIntervalMs, LAN_CONFIG.probeIntervalMs);
  assert.ok(WAN_CONFIG.probeTimeoutMs > LAN_CONFIG.probeTimeoutMs);
  assert.ok(WAN_CONFIG.suspicionMult > LAN_CONFIG.suspicionMult);
  assert.equal(resolveSwimConfig("wan", { probeIntervalMs: 4_000 }).probeIntervalMs, 4_000);
  assert.throws(() => resolveSwimConfig("moon"), { name: "TypeError", message: /lan.*wan/ });
  assert.throws(() => resolveSwimConfig("lan", { probeIntervalMS: 5 } as Partial<SwimConfig>), {
    name: "TypeError",
    message: /probeIntervalMS/,
  });
  assert.throws(() => resolveSwimConfig("lan", { indirectChecks: -1 }), {
    name: "RangeError",
    message: /indirectChecks/,
  });
  assert.throws(() => resolveSwimConfig("lan", { probeTimeoutMs: 5_000 }), { name: "RangeError" });
  // memberlist formulas, with the probe interval sized above 10 members (÷ √log10 n)
  assert.deepEqual(suspicionBounds(LAN_CONFIG, 5), [4_000, 24_000]);
  assert.deepEqual(probeTiming(LAN_CONFIG, 10), { intervalMs: 1_000, timeoutMs: 500 });
  assert.deepEqual(probeTiming(LAN_CONFIG, 100), { intervalMs: 707, timeoutMs: 353 });
  assert.deepEqual(probeTiming(WAN_CONFIG, 10_000), { intervalMs: 2_500, timeoutMs: 1_500 });
  assert.deepEqual(suspicionBounds(LAN_CONFIG, 100), [5_656, 33_936]);
  assert.equal(retransmitLimit(LAN_CONFIG, 50), 8);
});

Deno.test("Lifeguard suspicion: timeout shrinks from max to min with confirmations", () => {
  const [min, max] = [4_000, 24_000];
  const t0 = remainingSuspicionMs(0, 2, 0, min, max);
  const t1 = remainingSuspicionMs(1, 2, 0, min, max);
  const t2 = remainingSuspicionMs(2, 2, 0, min, max);
  assert.equal(t0, max);
  assert.ok(t1 < t0 && t1 > t2, `${t1} should lie between ${t2} and ${t0}`);
  assert.equal(t2, min);
  assert.equal(remainingSuspicionMs(0, 0, 1_000, min, max), min - 1_000, "no confirmations expected: min timeout");
});
