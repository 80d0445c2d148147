/**
 * In-memory versioned key store with exact byte accounting and a capacity limit.
 *
 * @module
 */
import { SlabAllocator } from "../base/slab.ts";
import type { Version } from "./hlc.ts";
import { KeyTable, MAX_NODE_INDEX, MAX_RECORD_VALUE_LENGTH, MAX_SEGMENT, MAX_VALUE_OFFSET } from "./key_table.ts";
import { segmentBytesFor } from "./segment_size.ts";
import { type ArenaCounters, ValueArena } from "./value_arena.ts";

/** A stored entry: a value or a tombstone, with the version that wrote it. */
export interface Entry {
  /** The value (empty for tombstones). */
  value: Uint8Array;
  /** Version of the write. */
  version: Version;
  /** True if this entry records a remove. */
  tombstone: boolean;
}

/** Receives every change so it can be made durable. */
export interface StoreListener {
  /**
   * Called after an entry is set (`key` as the caller gave it: bytes on the request path); the
   * entry's value is a view of the store, valid only during the call.
   */
  set(key: StoreKey, entry: Entry): void;
  /** Called after an entry is deleted outright (tombstone collected, wipeout of one key). */
  delete(key: StoreKey): void;
  /** Called after every entry was deleted. */
  clear(): void;
}

/**
 * Sees every change of a key's version, in order (replication keeps its anti-entropy digests with it;
 * the store does not know what they are).
 */
export interface VersionObserver {
  /**
   * `key` held `before` (undefined: absent) and now holds `after` (undefined: deleted outright).
   * Both are valid only during the call.
   */
  versionChanged(key: StoreKey, before: Entry | undefined, after: Entry | undefined): void;
  /** Every entry was deleted. */
  cleared(): void;
}

/**
 * A key: its 32 bytes (the request path keeps keys binary) or 64 hex digits (background
 * work, persistence, debug output).
 */
export type StoreKey = string | Uint8Array;

/** Bytes charged for a stored key. */
export const KEY_BYTES = 32;

/** Where a store's memory goes (see {@linkcode MemoryStore.memory}). */
export interface StoreMemory extends ArenaCounters {
  /** Bytes of the key records (48 a record, free ones included). */
  recordBytes: number;
  /** Bytes of the hash index (8 a slot). */
  indexBytes: number;
  /** Bytes of the values held. */
  liveValueBytes: number;
  /** Bytes of the value segments held (live values, garbage, and the open segment's tail). */
  segmentBytes: number;
  /** Bytes of live values compaction moved to another segment so that theirs could be dropped. */
  movedBytes: number;
}

/** Bytes of one key record in the table. */
const RECORD_BYTES = 48;
/** Bytes of one index slot. */
const INDEX_SLOT_BYTES = 8;

/** Outcome of applying a write. */
export type ApplyResult = "applied" | "stale" | "full";

/**
 * A map of hex keys (64 digits: 32-byte keys) to versioned entries. Bytes charged:
 * 32 per key plus the value length; a write that would exceed `capacity` is refused whole.
 *
 * Keys, versions, flags and where the value is live in a {@linkcode KeyTable} (one 48-byte
 * record per key); values are copied into a {@linkcode ValueArena}, which writes the memory of
 * replaced values again. So {@linkcode MemoryStore.getEntry} returns a copy of the value (cut
 * from a slab: cheap), which stays valid; the views the other reads give
 * ({@linkcode MemoryStore.getValue}, {@linkcode MemoryStore.entries}, {@linkcode MemoryStore.scan},
 * the listener's entries) are valid only until the store next changes. Entries are built on each read.
 *
 * @example
 * ```ts
 * const store = new MemoryStore(1024);
 * store.apply("00".repeat(32), { value: new Uint8Array(10), version: { t: 1, n: "a" }, tombstone: false });
 * console.log(store.bytes); // 42
 * ```
 */
export class MemoryStore {
  /** Capacity in bytes. */
  readonly capacity: number;
  #table = new KeyTable();
  // Where getEntry's copies of values are cut from (regions are never reused).
  #copies = new SlabAllocator();
  #arena: ValueArena;
  // A compaction pass in progress: segments still to empty (a dropped one leaves the set), cursor.
  #compactTargets: Set<number> | undefined;
  #compactCursor = 0;
  // Writes left before the arena is asked for targets again (it had none worth moving).
  #compactBackoff = 0;
  // Node ids of versions, by the index a table record holds.
  #nodes: string[] = [];
  #nodeIndex = new Map<string, number>();
  #bytes = 0;
  #live = 0;
  #changes = 0;
  #moved = 0;
  /** Receives every change (persistence). */
  listener?: StoreListener;
  /** Receives every version change (anti-entropy's range digests). */
  observer?: VersionObserver;

  /**
   * Creates a store that holds at most `capacity` bytes; `segmentBytes` sizes its value segments
   * (by default {@linkcode segmentBytesFor} the capacity, at most 64 MiB).
   */
  constructor(capacity: number, segmentBytes: number = segmentBytesFor(capacity)) {
    if (segmentBytes > MAX_VALUE_OFFSET) {
      throw new RangeError(`Value segments are at most ${MAX_VALUE_OFFSET} bytes, got ${segmentBytes}`);
    }
    this.capacity = capacity;
    this.#arena = this.#newArena(segmentBytes);
  }

  #newArena(segmentBytes?: number): ValueArena {
    this.#compactTargets = undefined;
    return new ValueArena(segmentBytes, (segment) => this.#compactTargets?.delete(segment), MAX_SEGMENT + 1);
  }

  /** Where the store's memory goes, and how much of the space values freed has come back. */
  memory(): StoreMemory {
    const arena = this.#arena;
    return {
      recordBytes: this.#table.capacity * RECORD_BYTES,
      indexBytes: this.#table.indexSlots * INDEX_SLOT_BYTES,
      liveValueBytes: arena.liveBytes,
      segmentBytes: arena.allocatedBytes,
      movedBytes: this.#moved,
      ...arena.counters,
    };
  }

  /** Bytes in use (keys + values, tombstones charged for their key). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Number of live (non-tombstone) keys. */
  get liveKeys(): number {
    return this.#live;
  }

  /** Counts every change (a set, a delete, a clear): an unchanged count means unchanged contents. */
  get changes(): number {
    return this.#changes;
  }

  /** Number of entries including tombstones. */
  get size(): number {
    return this.#table.size;
  }

  /** The entry for `key`, including tombstones; its value is a copy, valid after later writes. */
  getEntry(key: StoreKey): Entry | undefined {
    const table = this.#table;
    table.parseKey(key);
    const record = table.find();
    if (record < 0) return undefined;
    const entry = this.#entryAt(record);
    if (entry.value.length > 0) entry.value = this.#copies.copy(entry.value);
    return entry;
  }

  /**
   * The live value for `key`, or undefined if absent or removed: a view of the store, valid only
   * until the store next changes (the request path encodes it into the reply at once).
   */
  getValue(key: StoreKey): Uint8Array | undefined {
    const table = this.#table;
    table.parseKey(key);
    const record = table.find();
    return record < 0 || table.tombstone(record) ? undefined : this.#valueAt(record);
  }

  /** Applies `entry` if it is newer than what is stored (last writer wins). */
  apply(key: StoreKey, entry: Entry): ApplyResult {
    const table = this.#table;
    table.parseKey(key);
    const record = table.find();
    if (record >= 0 && this.#compareAt(record, entry.version) <= 0) return "stale";
    return this.#set(key, entry, record);
  }

  /** Stores `entry` regardless of versions (used by single-node writes and loading). */
  force(key: StoreKey, entry: Entry): ApplyResult {
    const table = this.#table;
    table.parseKey(key);
    return this.#set(key, entry, table.find());
  }

  // Stores `entry` for the parsed key, held at `record` (or −1).
  #set(key: StoreKey, entry: Entry, record: number): ApplyResult {
    const table = this.#table;
    const length = entry.tombstone ? 0 : entry.value.length;
    if (length > MAX_RECORD_VALUE_LENGTH) {
      throw new RangeError(`Cannot store a value of ${length} bytes: at most ${MAX_RECORD_VALUE_LENGTH}`);
    }
    const newBytes = KEY_BYTES + length;
    const wasLive = record >= 0 && !table.tombstone(record);
    const oldBytes = record < 0 ? 0 : KEY_BYTES + (wasLive ? table.length(record) : 0);
    if (this.#bytes - oldBytes + newBytes > this.capacity && newBytes > oldBytes) return "full";
    const arena = this.#arena;
    if (!arena.canStore(length)) return "full";
    const node = this.#nodeOf(entry.version.n);
    const before = this.observer && record >= 0 ? this.#entryAt(record) : undefined;
    if (record < 0) record = table.insert();
    else arena.release(table.segment(record), table.length(record));
    // Copied into the arena, so the entry never aliases a packet buffer.
    const segment = arena.store(entry.tombstone ? EMPTY : entry.value);
    table.setLocation(record, segment, arena.lastOffset, length);
    table.setTime(record, entry.version.t);
    table.setNode(record, node);
    table.setTombstone(record, entry.tombstone);
    this.#bytes += newBytes - oldBytes;
    this.#live += (entry.tombstone ? 0 : 1) - (wasLive ? 1 : 0);
    this.#changes++;
    this.listener?.set(key, {
      value: this.#valueAt(record),
      version: entry.version,
      tombstone: entry.tombstone,
    });
    this.observer?.versionChanged(key, before, entry);
    this.#compactStep();
    return "applied";
  }

  /** Deletes `key` outright (no tombstone). */
  delete(key: StoreKey): boolean {
    const table = this.#table;
    table.parseKey(key);
    const record = table.find();
    if (record < 0) return false;
    const before = this.observer ? this.#entryAt(record) : undefined;
    this.#deleteAt(record);
    this.listener?.delete(key);
    if (before) this.observer?.versionChanged(key, before, undefined);
    return true;
  }

  #deleteAt(record: number): void {
    const table = this.#table;
    const tombstone = table.tombstone(record);
    this.#bytes -= KEY_BYTES + (tombstone ? 0 : table.length(record));
    if (!tombstone) this.#live--;
    this.#arena.release(table.segment(record), table.length(record));
    table.remove(record);
    this.#changes++;
  }

  /** Deletes every entry. */
  clear(): void {
    this.#table.clear();
    this.#arena = this.#newArena(this.#arena.segmentBytes);
    this.#bytes = 0;
    this.#live = 0;
    this.#changes++;
    this.listener?.clear();
    this.observer?.cleared();
  }

  /**
   * Iterates over all entries, tombstones included. The store must not change during the iteration,
   * and the values are views, valid until it does.
   */
  *entries(): IterableIterator<[string, Entry]> {
    const table = this.#table;
    for (let record = 0; record < table.capacity; record++) {
      if (table.used(record)) yield [table.hexAt(record), this.#entryAt(record)];
    }
  }

  /**
   * Visits the entries of up to `max` table records from record `from` (tombstones included) and
   * returns the record to go on from, or −1 after the last. Unlike {@linkcode MemoryStore.entries}
   * the store may change between calls: records never move, so a pass that goes on across
   * changes sees every key that was there all along (keys added meanwhile may or may not be seen).
   * `key` and the entry's value are views of the store, valid only during the call.
   */
  scan(from: number, max: number, visit: (key: Uint8Array, entry: Entry) => void): number {
    const table = this.#table;
    const end = Math.min(table.capacity, from + max);
    for (let record = from; record < end; record++) {
      if (table.used(record)) visit(table.keyAt(record), this.#entryAt(record));
    }
    return end >= table.capacity ? -1 : end;
  }

  /** Deletes tombstones whose version time is older than `beforeT` (HLC units); returns how many. */
  collectTombstones(beforeT: number): number {
    if (this.#table.size === this.#live) return 0; // no tombstone: no scan (an idle node calls this every round)
    const old: string[] = [];
    const table = this.#table;
    for (let record = 0; record < table.capacity; record++) {
      if (table.used(record) && table.tombstone(record) && table.time(record) < beforeT) old.push(table.hexAt(record));
    }
    for (const key of old) this.delete(key);
    return old.length;
  }

  #entryAt(record: number): Entry {
    const table = this.#table;
    return {
      value: this.#valueAt(record),
      version: { t: table.time(record), n: this.#nodes[table.node(record)] },
      tombstone: table.tombstone(record),
    };
  }

  #valueAt(record: number): Uint8Array {
    const table = this.#table;
    return this.#arena.view(table.segment(record), table.offset(record), table.length(record));
  }

  // Compaction, a few records per write: when the arena holds more than 1.25 times the live bytes,
  // the values of its emptiest segments are moved out as a cursor passes over the table,
  // COMPACT_RECORDS_PER_WRITE records at each write, so no single write pays for the whole pass.
  // Records never move, so the pass sees every key that was there when it started.
  #compactStep(): void {
    const table = this.#table, arena = this.#arena;
    let targets = this.#compactTargets;
    if (!targets) {
      if (this.#compactBackoff > 0) return void this.#compactBackoff--;
      if (!arena.needsCompaction) return;
      targets = arena.compactionTargets();
      if (targets.size === 0) return void (this.#compactBackoff = COMPACT_BACKOFF_WRITES);
      this.#compactTargets = targets;
      this.#compactCursor = 0;
    }
    const end = Math.min(this.#compactCursor + COMPACT_RECORDS_PER_WRITE, table.capacity);
    for (let record = this.#compactCursor; record < end; record++) {
      if (!table.used(record)) continue;
      const segment = table.segment(record);
      if (!targets.has(segment)) continue;
      const length = table.length(record);
      if (!arena.canStore(length)) return void (this.#compactTargets = undefined); // at the segment limit: stop
      this.#moved += length;
      const moved = arena.store(arena.view(segment, table.offset(record), length));
      table.setLocation(record, moved, arena.lastOffset, length);
      arena.release(segment, length);
    }
    this.#compactCursor = end;
    if (end === table.capacity || targets.size === 0) this.#compactTargets = undefined;
  }

  // Orders `version` against the one held at `record`, as compareVersions(version, held) does.
  #compareAt(record: number, version: Version): number {
    const table = this.#table;
    const t = table.time(record);
    if (t !== version.t) return version.t - t;
    const n = this.#nodes[table.node(record)];
    return version.n < n ? -1 : version.n > n ? 1 : 0;
  }

  #nodeOf(id: string): number {
    let index = this.#nodeIndex.get(id);
    if (index === undefined) {
      if (this.#nodes.length > MAX_NODE_INDEX) {
        throw new RangeError(
          `Cannot store a version of node ${JSON.stringify(id)}: ${this.#nodes.length} node ids held`,
        );
      }
      index = this.#nodes.length;
      this.#nodes.push(id);
      this.#nodeIndex.set(id, index);
    }
    return index;
  }
}

const EMPTY = new Uint8Array(0);
/** Writes before the arena is asked again after it had no segment worth compacting (each ask visits every segment). */
const COMPACT_BACKOFF_WRITES = 1024;
/**
 * Table records a compaction pass covers per write (a pass over 2^20 records spans 2^15 writes).
 * At 8, a pass over 100,000 keys under overwrites let the segments reach 1.6 × the live values
 * before it ended (new values and moved ones pile up until the targets drop); at 32, 1.2 ×.
 */
const COMPACT_RECORDS_PER_WRITE = 32;
