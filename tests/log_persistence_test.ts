import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { toHex } from "../lib/base/bytes.ts";
import { type LogRecord, readRecords, RecordKind, RecordWriter } from "../lib/storage/log_record.ts";
import { LogPersistence, SYNC_INTERVAL_MS } from "../lib/storage/log_persistence.ts";
import { startNode } from "../lib/roles/start_node.ts";
import { type Entry, MemoryStore } from "../lib/storage/store.ts";

const key = (i: number) => i.toString(16).padStart(64, "0");
const entry = (v: string, t: number, tombstone = false): Entry => ({
  value: new TextEncoder().encode(v),
  version: { t, n: "127.0.0.1:4000" },
  tombstone,
});

/** The store's contents as sorted [hex key, value text, time, tombstone] rows. */
function contents(store: MemoryStore): [string, string, number, boolean][] {
  return [...store.entries()]
    .map(([k, e]) =>
      [k, new TextDecoder().decode(e.value), e.version.t, e.tombstone] as [string, string, number, boolean]
    )
    .sort((a, b) => a[0] < b[0] ? -1 : 1);
}

function openStore(dir: string, options = {}): { log: LogPersistence; store: MemoryStore } {
  const store = new MemoryStore(1 << 28);
  const log = LogPersistence.open(dir, "off", options);
  try {
    log.loadInto(store);
  } catch (e) {
    log.close();
    throw e;
  }
  store.listener = log;
  return { log, store };
}

Deno.test("log records: set, tombstone, delete and clear read back; a cut or flipped record ends the read", () => {
  const w = new RecordWriter();
  const bytesKey = new Uint8Array(32).fill(0xab);
  w.set(bytesKey, entry("hello", 1.5 * 2 ** 40));
  w.set(key(7), { ...entry("", 9), tombstone: true });
  w.delete(key(8));
  w.clear();
  const got: LogRecord[] = [];
  assert.deepEqual(readRecords(w.bytes, 0, (r) => got.push(r)), { end: w.length, status: "complete" });
  assert.deepEqual(got.map((r) => r.kind), [RecordKind.Set, RecordKind.Set, RecordKind.Delete, RecordKind.Clear]);
  const [a, b, c] = got as Extract<LogRecord, { key: Uint8Array }>[];
  assert.equal(toHex(a.key), "ab".repeat(32));
  const ea = (a as Extract<LogRecord, { kind: 1 }>).entry;
  assert.deepEqual([new TextDecoder().decode(ea.value), ea.version, ea.tombstone], [
    "hello",
    { t: 1.5 * 2 ** 40, n: "127.0.0.1:4000" },
    false,
  ]);
  assert.equal((b as Extract<LogRecord, { kind: 1 }>).entry.tombstone, true);
  assert.equal(toHex(c.key), key(8));
  // A cut between records reads the whole ones; any other cut is "short"; any flipped byte is
  // "bad" or "short", never a wrong record.
  const boundaries = new Set<number>();
  for (let o = 0; o < w.length; o += 8 + new DataView(w.bytes.buffer).getUint32(o, true)) boundaries.add(o);
  for (let cut = 1; cut < w.length; cut++) {
    const r = readRecords(w.bytes.subarray(0, cut), 0, () => {});
    const want = boundaries.has(cut) ? "complete" : "short";
    assert.ok(r.status === want && r.end <= cut, `cut at ${cut}: ${JSON.stringify(r)}`);
  }
  for (let i = 0; i < w.length; i++) {
    const copy = w.bytes.slice();
    copy[i] ^= 0x40;
    const seen: LogRecord[] = [];
    const r = readRecords(copy, 0, (x) => seen.push(x));
    assert.notEqual(r.status, "complete", `byte ${i} flipped went unnoticed`);
    assert.ok(seen.length < 4);
  }
});

Deno.test("log persistence: what was committed is loaded again, in order, deletes and clears included", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kvstore-log-" });
  try {
    const first = openStore(dir);
    for (let i = 0; i < 100; i++) first.store.force(key(i), entry(`v${i}`, i + 1));
    first.log.commit();
    first.store.clear();
    for (let i = 0; i < 50; i++) first.store.force(new Uint8Array(32).fill(i), entry(`w${i}`, 1000 + i));
    first.store.delete(new Uint8Array(32).fill(3));
    first.store.force(key(1), entry("", 2000, true));
    first.log.commit();
    const expected = contents(first.store);
    first.log.close();
    const again = openStore(dir);
    assert.deepEqual(contents(again.store), expected);
    assert.equal(again.store.size, 50);
    again.log.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("log persistence: a write torn by a crash is cut off, and writing goes on after it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kvstore-log-" });
  try {
    const first = openStore(dir);
    first.store.force(key(1), entry("kept", 1));
    first.log.commit();
    first.log.close();
    const torn = new RecordWriter();
    torn.set(key(2), entry("torn", 2));
    const file = Deno.openSync(`${dir}/kvstore.log.0`, { append: true });
    file.writeSync(torn.bytes.subarray(0, torn.length - 5)); // the crash came mid-write
    file.close();
    const second = openStore(dir);
    assert.deepEqual(contents(second.store).map((r) => r[1]), ["kept"]);
    second.store.force(key(3), entry("after", 3));
    second.log.commit();
    second.log.close();
    const third = openStore(dir);
    assert.deepEqual(contents(third.store).map((r) => r[1]), ["kept", "after"]);
    third.log.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("log persistence: a damaged record before the end stops the load with a clear error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kvstore-log-" });
  try {
    const first = openStore(dir);
    for (let i = 0; i < 2_000; i++) first.store.force(key(i), entry("x".repeat(100), i + 1));
    first.log.commit();
    first.log.close();
    const bytes = Deno.readFileSync(`${dir}/kvstore.log.0`);
    bytes[200] ^= 0xff;
    Deno.writeFileSync(`${dir}/kvstore.log.0`, bytes);
    assert.throws(() => openStore(dir), /kvstore\.log\.0 is damaged at byte \d+ .*move the file away/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("log persistence: compaction writes a snapshot while writes go on, and removes the old files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kvstore-log-" });
  try {
    const { log, store } = openStore(dir, { compactMinLogBytes: 64 * 1024 });
    const done = log.nextCompaction();
    let round = 0;
    // Overwrites of 5,000 keys: the log outgrows the live data and a compaction starts.
    while (log.generation === 0) {
      for (let i = 0; i < 500; i++) store.force(key((round * 500 + i) % 5_000), entry(`r${round}`, ++round));
      log.commit();
    }
    // Writes, a delete and a clear of part of the keys while the snapshot is written.
    let t = 1e9;
    const writes = setInterval(() => {
      for (let i = 0; i < 50; i++) store.force(key(i * 7), entry(`during${t}`, ++t));
      store.delete(key(11));
      log.commit();
    }, 1);
    assert.equal(await done, 1);
    clearInterval(writes);
    store.force(key(99_999), entry("last", ++t));
    const expected = contents(store);
    log.close();
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(names, ["kvstore.log.1", "kvstore.snap.1"]);
    const again = openStore(dir);
    assert.deepEqual(contents(again.store), expected);
    again.log.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("log persistence: a crash during compaction loses nothing (old snapshot and both logs are replayed)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kvstore-log-" });
  const copy = await Deno.makeTempDir({ prefix: "kvstore-log-crash-" });
  try {
    const { log, store } = openStore(dir, { compactMinLogBytes: 32 * 1024 });
    for (let round = 0; log.generation === 0; round++) {
      for (let i = 0; i < 300; i++) store.force(key(i), entry(`r${round}`, round * 1000 + i + 1));
      log.commit();
    }
    store.force(key(5), entry("after the switch", 1e12));
    log.commit();
    // The files as a kill -9 now would leave them: an unfinished snapshot, both logs.
    for (const e of Deno.readDirSync(dir)) Deno.copyFileSync(`${dir}/${e.name}`, `${copy}/${e.name}`);
    const expected = contents(store);
    log.close();
    assert.ok([...Deno.readDirSync(copy)].some((e) => e.name.endsWith(".tmp")), "the snapshot was unfinished");
    const again = openStore(copy);
    assert.deepEqual(contents(again.store), expected);
    again.log.close();
    assert.ok(![...Deno.readDirSync(copy)].some((e) => e.name.endsWith(".tmp")), "the unfinished snapshot is removed");
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(copy, { recursive: true });
  }
});

Deno.test("data dir of the SQLite backend: its keys are imported into the log once, then served from it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kvstore-legacy-" });
  try {
    const db = new DatabaseSync(`${dir}/kvstore.db`);
    db.exec(
      "CREATE TABLE kv (key TEXT PRIMARY KEY, value BLOB NOT NULL, t INTEGER NOT NULL, node TEXT NOT NULL, tombstone INTEGER NOT NULL)",
    );
    const insert = db.prepare("INSERT INTO kv VALUES (?, ?, ?, ?, ?)");
    for (let i = 0; i < 20; i++) insert.run(key(i), new TextEncoder().encode(`old${i}`), i + 1, "a:1", 0);
    db.close();
    for (let start = 0; start < 2; start++) {
      const node = await startNode({ port: 0, dataDir: dir });
      try {
        assert.equal(node.loadedKeys, 20, `start ${start}`);
        assert.equal(new TextDecoder().decode(node.store.getValue(key(19))), "old19");
      } finally {
        node.close();
      }
    }
    const names = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.ok(names.includes("kvstore.db.imported") && !names.includes("kvstore.db"), names.join(" "));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("log persistence under batch: an idle log keeps no timer; a commit schedules one sync, which then ends", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kvstore-log-" });
  const store = new MemoryStore(1 << 20);
  const log = LogPersistence.open(dir, "batch");
  try {
    log.loadInto(store);
    store.listener = log;
    assert.equal(log.syncScheduled, false, "nothing written: no timer");
    store.force(key(1), entry("v", 1));
    log.commit();
    assert.equal(log.syncScheduled, true, "the first unsynced commit schedules a sync");
    store.force(key(2), entry("w", 2));
    log.commit();
    assert.equal(log.syncScheduled, true);
    const deadline = Date.now() + SYNC_INTERVAL_MS * 5;
    while (log.syncScheduled && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(log.syncScheduled, false, "the sync ran and left no timer behind");
  } finally {
    log.close();
    await Deno.remove(dir, { recursive: true });
  }
});
