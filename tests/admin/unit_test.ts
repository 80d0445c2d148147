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
import {
  AdminKeyError,
  generateAdminKeys,
  importAdminPrivateKey,
  importAdminPublicKey,
  publicKeyOf,
} from "../../lib/admin/keys.ts";
import { normalizePath, resolveTarget } from "../../lib/admin/paths.ts";
import { buildManifest, manifestOfBytes } from "../../lib/admin/manifest.ts";
import { BashExecutor } from "../../lib/admin/runner.ts";
import { ReplayGuard } from "../../lib/admin/replay_guard.ts";
import { ConfigError, parseFleet } from "../../lib/config/fleet_file.ts";
import { randomBytes, seededRandom } from "../../lib/base/random.ts";
import { toHex } from "../../lib/base/bytes.ts";

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

Deno.test("push targets stay inside the admin directory", () => {
  assert.equal(normalizePath("/a/./b//c/../d"), "/a/b/d");
  assert.equal(resolveTarget("/srv/kv", "bin/node"), "/srv/kv/bin/node");
  assert.equal(resolveTarget("/srv/kv/", "/srv/kv/x"), "/srv/kv/x");
  assert.equal(resolveTarget("data", "x/y"), "data/x/y");
  for (const bad of ["../etc/passwd", "a/../../x", "/etc/passwd", "/srv/kvx/a", "/srv/kv", "."]) {
    assert.throws(() => resolveTarget("/srv/kv", bad), /refused/, bad);
  }
});

Deno.test("manifest: streamed from a file equals the in-memory one; pieces cover every chunk hash", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const size of [0, 1, 1024, 1025, 100 * 1024 + 7, 2 * 1024 * 1024 + 3]) {
      const bytes = randomBytes(seededRandom(size), size);
      await Deno.writeFile(`${dir}/f`, bytes);
      const a = await buildManifest(`${dir}/f`, 1024);
      const b = manifestOfBytes(bytes, 1024);
      assert.deepEqual(a.spec, b.spec, `size ${size}`);
      assert.equal(a.spec.pieces.length, pieceCount(size, 1024));
      assert.equal(a.pieces.reduce((n, p) => n + p.length, 0), Math.ceil(size / 1024) * 32);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("keys: the key file gives back the printed public key; SPKI accepted; garbage rejected clearly", async () => {
  const keys = await generateAdminKeys();
  const priv = await importAdminPrivateKey(keys.privateKeyFile);
  assert.equal(await publicKeyOf(priv), keys.publicKey);
  const pub = await importAdminPublicKey(keys.publicKey);
  const spki = btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.exportKey("spki", pub))));
  await importAdminPublicKey(spki);
  await assert.rejects(importAdminPublicKey("AAAA"), AdminKeyError);
  await assert.rejects(importAdminPrivateKey("# x\nnot-a-key"), /kvctl keygen/);
  const fleet = parseFleet(`adminPublicKey: ${keys.publicKey}\nnodes: [127.0.0.1:4000]\n`, "n.yaml");
  assert.equal(fleet.adminPublicKey, keys.publicKey);
  assert.throws(
    () => parseFleet(`adminPublicKey: hello\nnodes: [127.0.0.1:4000]\n`, "n.yaml"),
    (e) => e instanceof ConfigError && /line 1.*adminPublicKey.*kvctl keygen/.test(e.message),
  );
});

Deno.test("replay guard: acted-on ids and commands survive a restart until they expire", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const g = new ReplayGuard(10, dir);
    const c = { c: body(), s: "sig" };
    g.keep(c);
    await g.markActed(c.c.id, c.c.expiresAt);
    const again = new ReplayGuard(10, dir);
    assert.deepEqual(again.load(1_500_000), [c]);
    assert.ok(again.has(c.c.id) && again.acted(c.c.id));
    const later = new ReplayGuard(10, dir);
    assert.deepEqual(later.load(2_000_000), []);
    assert.ok(!later.has(c.c.id), "expired ids are forgotten");
    await Deno.writeTextFile(`${dir}/.kvstore-admin-state.json`, "{not json");
    assert.throws(() => new ReplayGuard(10, dir).load(0), /not valid JSON/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bash executor: exit code, env, output cap", async () => {
  const ex = new BashExecutor();
  const r = await ex.run({
    id: "cafe",
    script: 'echo "id=$KVSTORE_COMMAND_ID x=$X"; echo oops >&2; head -c 5000 /dev/zero | tr "\\0" y; exit 7',
    timeoutMs: 10_000,
    maxOutputBytes: 100,
    env: { X: "1" },
  });
  assert.equal(r.status, "failed");
  assert.equal(r.exitCode, 7);
  assert.equal(r.stdout.length, 100);
  assert.ok(r.stdout.startsWith("id=cafe x=1\nyyy"));
  assert.equal(r.stderr, "oops\n");
  assert.equal(r.truncatedBytes, 12 + 5000 - 100);
});
