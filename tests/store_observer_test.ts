import assert from "node:assert/strict";
import { type Entry, MemoryStore, type StoreKey, type VersionObserver } from "../lib/storage/store.ts";

type Seen = [string, string | undefined, string | undefined] | ["cleared"];

/** Records what the store reports, as (key, before, after) with versions written t@n (+ "x" for a tombstone). */
class Recorder implements VersionObserver {
  seen: Seen[] = [];
  versionChanged(key: StoreKey, before: Entry | undefined, after: Entry | undefined): void {
    const v = (e?: Entry) => e && `${e.version.t}@${e.version.n}${e.tombstone ? "x" : ""}`;
    this.seen.push([typeof key === "string" ? key.slice(0, 2) : `${key[0]}`.padStart(2, "0"), v(before), v(after)]);
  }
  cleared(): void {
    this.seen.push(["cleared"]);
  }
}

const entry = (t: number, n = "a", tombstone = false, size = 1): Entry => ({
  value: new Uint8Array(tombstone ? 0 : size),
  version: { t, n },
  tombstone,
});

Deno.test("store: the version observer sees every set, overwrite, delete and clear, and nothing else", () => {
  const s = new MemoryStore(200);
  const r = new Recorder();
  s.observer = r;
  const k1 = "01".repeat(32), k2 = new Uint8Array(32).fill(2);
  assert.equal(s.apply(k1, entry(5)), "applied");
  assert.equal(s.apply(k1, entry(4)), "stale");
  assert.equal(s.apply(k1, entry(6, "b", true)), "applied");
  assert.equal(s.force(k1, entry(3)), "applied");
  assert.equal(s.apply(k2, entry(1, "a", false, 500)), "full");
  assert.equal(s.apply(k2, entry(1)), "applied");
  assert.equal(s.delete(k1), true);
  assert.equal(s.delete(k1), false);
  s.apply(k1, entry(7, "a", true));
  assert.equal(s.collectTombstones(8), 1);
  s.clear();
  assert.deepEqual(r.seen, [
    ["01", undefined, "5@a"],
    ["01", "5@a", "6@bx"],
    ["01", "6@bx", "3@a"],
    ["02", undefined, "1@a"],
    ["01", "3@a", undefined],
    ["01", undefined, "7@ax"],
    ["01", "7@ax", undefined],
    ["cleared"],
  ]);
});
