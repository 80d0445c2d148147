/**
 * Signed admin commands: canonical bytes, the checks a node makes before acting on one (signature,
 * form, lifetime, the rules of a rolling restart), and selectors.
 */
import assert from "node:assert/strict";
import {
  canonicalJson,
  checkCommand,
  type CommandBody,
  commandBytes,
  pieceCount,
  signCommand,
} from "../../lib/admin/command.ts";
import { matchesSelector, selectorError } from "../../lib/admin/selector.ts";
import { DEFAULT_ADMIN_CONFIG } from "../../lib/admin/config.ts";
import { generateAdminKeys, importAdminPrivateKey, importAdminPublicKey } from "../../lib/admin/keys.ts";
import { toHex } from "../../lib/base/bytes.ts";
import { ID, ORDER } from "./rollout_results.ts";

const cfg = DEFAULT_ADMIN_CONFIG;

function body(overrides: Partial<CommandBody> = {}): CommandBody {
  return {
    v: 1,
    id: "ab".repeat(16),
    kind: "run",
    issuedAt: 1_000_000,
    expiresAt: 2_000_000,
    selector: "all",
    run: { script: "echo hi", timeoutMs: 1000 },
    ...overrides,
  };
}

Deno.test("canonical bytes: key order does not matter, every field does", () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [1, { f: 2, e: 3 }], c: "x" } }),
    '{"a":{"c":"x","d":[1,{"e":3,"f":2}]},"b":1}',
  );
  const base = toHex(commandBytes(body()));
  const b = body();
  const reordered = JSON.parse(JSON.stringify(Object.fromEntries(Object.entries(b).reverse()))) as CommandBody;
  assert.notEqual(JSON.stringify(reordered), JSON.stringify(b));
  assert.equal(toHex(commandBytes(reordered)), base);
  for (const change of [{ selector: "x" }, { expiresAt: 2_000_001 }, { run: { script: "echo ho", timeoutMs: 1000 } }]) {
    assert.notEqual(toHex(commandBytes(body(change))), base, JSON.stringify(change));
  }
});

Deno.test("checkCommand: good, and each kind of bad", async () => {
  const keys = await generateAdminKeys();
  const priv = await importAdminPrivateKey(keys.privateKeyFile);
  const pub = await importAdminPublicKey(keys.publicKey);
  const now = 1_500_000;
  const ok = await checkCommand(await signCommand(priv, body()), pub, now, cfg);
  assert.equal(ok.ok, true);
  const reason = async (raw: unknown, at = now) => {
    const r = await checkCommand(raw, pub, at, cfg);
    return r.ok ? "ok" : r.reason;
  };
  const good = await signCommand(priv, body());
  assert.equal(await reason({ ...good, c: { ...good.c, extra: 1 } }), "malformed");
  assert.equal(await reason({ ...good, c: { ...good.c, kind: "push" } }), "malformed");
  assert.equal(
    await reason(await signCommand(priv, body({ run: { script: "x".repeat(49 * 1024), timeoutMs: 1 } }))),
    "malformed",
  );
  assert.equal(await reason("nonsense"), "malformed");
  assert.equal(await reason({ c: good.c }), "unsigned");
  assert.equal(await reason({ ...good, s: "!!!" }), "signature");
  assert.equal(await reason({ ...good, c: { ...good.c, issuedAt: 1_000_001 } }), "signature");
  assert.equal(await reason(good, 2_000_000), "expired");
  assert.equal(await reason(await signCommand(priv, body({ issuedAt: now + cfg.maxClockSkewMs + 1 }))), "expired");
  assert.equal(
    await reason(await signCommand(priv, body({ expiresAt: 1_000_000 + cfg.maxLifetimeMs + 1 }))),
    "expired",
  );
  const noKey = await checkCommand(good, undefined, now, cfg);
  assert.equal(noKey.ok ? "ok" : noKey.reason, "nokey");
  const push = body({
    kind: "push",
    run: undefined,
    push: { path: "a", mode: 0o644, size: 100_000, sha256: "0".repeat(64), chunkSize: 1024, pieces: ["0".repeat(64)] },
  });
  assert.equal(pieceCount(100_000, 1024), 4);
  assert.equal(await reason(await signCommand(priv, push)), "malformed", "piece count must match the size");
});

Deno.test("selectors: all, lists, globs", () => {
  assert.ok(matchesSelector("all", "10.0.0.1:4000"));
  assert.ok(matchesSelector("10.0.0.1:4000, 10.0.0.2:4000", "10.0.0.2:4000"));
  assert.ok(!matchesSelector("10.0.0.1:4000", "10.0.0.11:4000"));
  assert.ok(matchesSelector("10.0.0.*", "10.0.0.11:4000"));
  assert.ok(matchesSelector("*:4001", "127.0.0.1:4001"));
  assert.ok(!matchesSelector("*:4001", "127.0.0.1:40011"));
  assert.ok(matchesSelector("127.0.0.1:400?", "127.0.0.1:4003"));
  assert.equal(selectorError("10.0.0.1:4000"), null);
  assert.match(selectorError("a;rm")!, /characters/);
  assert.match(selectorError(" ")!, /empty/);
});

Deno.test("command checks: a restart needs its order; an order needs a restart; no node twice", async () => {
  const keys = await generateAdminKeys();
  const priv = await importAdminPrivateKey(keys.privateKeyFile);
  const pub = await importAdminPublicKey(keys.publicKey);
  const body = (run: CommandBody["run"]): CommandBody => ({
    v: 1,
    id: ID,
    kind: "run",
    issuedAt: 1_000_000,
    expiresAt: 2_000_000,
    selector: "all",
    run,
  });
  const check = async (run: CommandBody["run"]) => {
    const r = await checkCommand(await signCommand(priv, body(run)), pub, 1_500_000, DEFAULT_ADMIN_CONFIG);
    return r.ok ? "ok" : r.message;
  };
  const base = { script: "true", timeoutMs: 1_000 };
  assert.equal(await check({ ...base, restart: true, rollout: { order: ORDER, budgetMs: 60_000 } }), "ok");
  assert.equal(
    await check({
      ...base,
      restart: true,
      rollout: { order: ORDER },
      program: { path: "bin/k.js", sha256: "0".repeat(64) },
    }),
    "ok",
  );
  assert.match(await check({ ...base, restart: true }), /rollout order/);
  assert.match(await check({ ...base, rollout: { order: ORDER } }), /needs restart/);
  assert.match(await check({ ...base, restart: true, rollout: { order: [ORDER[0], ORDER[0]] } }), /twice/);
  assert.match(await check({ ...base, restart: true, rollout: { order: ["not an address"] } }), /rollout/);
});
