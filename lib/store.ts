/**
 * In-memory versioned key store with exact byte accounting and a capacity limit.
 *
 * @module
 */
import { compareVersions, type Version } from "./hlc.ts";

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
  /** Called after an entry is set. */
  set(key: string, entry: Entry): void;
  /** Called after an entry is deleted outright (tombstone collected, wipeout of one key). */
  delete(key: string): void;
  /** Called after every entry was deleted. */
  clear(): void;
}

/** Bytes charged for a stored key. */
export const KEY_BYTES = 32;

/** Outcome of applying a write. */
export type ApplyResult = "applied" | "stale" | "full";

/**
 * A map of hex keys to versioned entries. Bytes charged: 32 per key plus the
 * value length; a write that would exceed `capacity` is refused whole.
 *
 * @example
 * ```ts
 * const store = new MemoryStore(1024);
 * store.apply("00", { value: new Uint8Array(10), version: { t: 1, n: "a" }, tombstone: false });
 * console.log(store.bytes); // 42
 * ```
 */
export class MemoryStore {
  /** Capacity in bytes. */
  readonly capacity: number;
  #map = new Map<string, Entry>();
  #bytes = 0;
  #live = 0;
  /** Receives every change (persistence). */
  listener?: StoreListener;

  /** Creates a store that holds at most `capacity` bytes. */
  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** Bytes in use (keys + values, tombstones charged for their key). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Number of live (non-tombstone) keys. */
  get liveKeys(): number {
    return this.#live;
  }

  /** Number of entries including tombstones. */
  get size(): number {
    return this.#map.size;
  }

  /** The entry for `key`, including tombstones. */
  getEntry(key: string): Entry | undefined {
    return this.#map.get(key);
  }

  /** The live value for `key`, or undefined if absent or removed. */
  getValue(key: string): Uint8Array | undefined {
    const e = this.#map.get(key);
    return e && !e.tombstone ? e.value : undefined;
  }

  /** Applies `entry` if it is newer than what is stored (last writer wins). */
  apply(key: string, entry: Entry): ApplyResult {
    const old = this.#map.get(key);
    if (old && compareVersions(entry.version, old.version) <= 0) return "stale";
    return this.#set(key, entry, old);
  }

  /** Stores `entry` regardless of versions (used by single-node writes and loading). */
  force(key: string, entry: Entry): ApplyResult {
    return this.#set(key, entry, this.#map.get(key));
  }

  #set(key: string, entry: Entry, old: Entry | undefined): ApplyResult {
    const newBytes = KEY_BYTES + (entry.tombstone ? 0 : entry.value.length);
    const oldBytes = old ? KEY_BYTES + (old.tombstone ? 0 : old.value.length) : 0;
    if (this.#bytes - oldBytes + newBytes > this.capacity && newBytes > oldBytes) return "full";
    // Copy so the entry never aliases a packet buffer.
    const stored: Entry = {
      value: entry.tombstone ? EMPTY : entry.value.slice(),
      version: entry.version,
      tombstone: entry.tombstone,
    };
    this.#map.set(key, stored);
    this.#bytes += newBytes - oldBytes;
    this.#live += (entry.tombstone ? 0 : 1) - (old && !old.tombstone ? 1 : 0);
    this.listener?.set(key, stored);
    return "applied";
  }

  /** Deletes `key` outright (no tombstone). */
  delete(key: string): boolean {
    const old = this.#map.get(key);
    if (!old) return false;
    this.#map.delete(key);
    this.#bytes -= KEY_BYTES + (old.tombstone ? 0 : old.value.length);
    if (!old.tombstone) this.#live--;
    this.listener?.delete(key);
    return true;
  }

  /** Deletes every entry. */
  clear(): void {
    this.#map.clear();
    this.#bytes = 0;
    this.#live = 0;
    this.listener?.clear();
  }

  /** Iterates over all entries, tombstones included. */
  entries(): IterableIterator<[string, Entry]> {
    return this.#map.entries();
  }

  /** Deletes tombstones whose version time is older than `beforeT` (HLC units); returns how many. */
  collectTombstones(beforeT: number): number {
    let n = 0;
    for (const [k, e] of this.#map) {
      if (e.tombstone && e.version.t < beforeT) {
        this.delete(k);
        n++;
      }
    }
    return n;
  }
}

const EMPTY = new Uint8Array(0);
