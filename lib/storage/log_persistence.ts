/**
 * Durable storage as an append-only log of binary records (`log_record.ts`), with group
 * commit: the changes of a turn are encoded as they happen and written with one `write` when
 * the node commits, before any reply of that turn leaves (`KVNode`'s `durability` option), so
 * nothing acknowledged is missing after a kill. The fsync policy decides when the log reaches
 * the disk itself.
 *
 * Files in the data dir: `kvstore.snap.G` (every entry at some moment, complete only once renamed
 * from `.tmp`) and `kvstore.log.G` (the changes made since snapshot G began). Loading replays the
 * newest complete snapshot, then every log of its generation or later, in order; a record cut
 * short at a log's end (a crash mid-write) is cut off. When the logs outgrow the live data a
 * compaction starts generation G+1: new changes go to the new log while a cursor writes the
 * store's entries into the new snapshot a step at a time; once it is synced and renamed, the
 * older files are removed. A data dir of the SQLite backend used before (`kvstore.db`) is read
 * once and turned into a snapshot.
 *
 * @module
 */
import type { Durability, FsyncPolicy } from "./durability.ts";
import { type LogRecord, MAX_RECORD_BYTES, readRecords, RecordKind, RecordWriter } from "./log_record.ts";
import type { Entry, MemoryStore, StoreKey, StoreListener } from "./store.ts";

/** The `batch` policy's sync interval (ms): the window a power loss can take. */
export const SYNC_INTERVAL_MS = 1_000;
/** Logs smaller than this (bytes) are never compacted. */
export const COMPACT_MIN_LOG_BYTES = 64 * 1024 * 1024;
/** A compaction starts when the logs hold this many times the bytes of the live entries. */
export const COMPACT_LOG_RATIO = 2;
/** Compaction writes this many table records per step … */
export const COMPACT_RECORDS_PER_STEP = 1_024;
/** … one step every this many ms (about a tenth of a core while it runs). */
export const COMPACT_STEP_MS = 10;
/** Bytes of snapshot gathered before they are written. */
const SNAPSHOT_WRITE_BYTES = 256 * 1024;
/** Bytes read from a file at a time when loading. */
const READ_CHUNK_BYTES = 4 * 1024 * 1024;
/** Record overhead beside key and value, for the size of the live data. */
const RECORD_OVERHEAD_BYTES = 64;

/** Tunables of compaction (tests make it start early). */
export interface LogOptions {
  /** Logs smaller than this are never compacted (default {@linkcode COMPACT_MIN_LOG_BYTES}). */
  compactMinLogBytes?: number;
}

const LOG = /^kvstore\.log\.(\d+)$/, SNAP = /^kvstore\.snap\.(\d+)$/, SNAP_TMP = /^kvstore\.snap\.(\d+)\.tmp$/;

/**
 * Write-behind persistence for a {@linkcode MemoryStore}, committed once per turn.
 *
 * @example
 * ```ts ignore
 * const log = LogPersistence.open("/var/lib/kvstore", "batch");
 * log.loadInto(store);
 * store.listener = log; // changes are encoded; log.commit() writes them with one write
 * ```
 */
export class LogPersistence implements StoreListener, Durability {
  /** The sync policy in force. */
  readonly fsync: FsyncPolicy;
  readonly #dir: string;
  #gen: number;
  #file: Deno.FsFile;
  #fileBytes = 0; // bytes of the current log known to be whole records
  #logBytes = 0; // bytes of every log since the newest snapshot
  #staged = new RecordWriter();
  #unsynced = false;
  #syncTimer: ReturnType<typeof setTimeout> | undefined;
  #store: MemoryStore | undefined;
  #compaction: {
    gen: number;
    file: Deno.FsFile;
    out: RecordWriter;
    cursor: number;
    timer: ReturnType<typeof setInterval>;
  } | undefined;
  #closed = false;
  #compactMinLogBytes: number;
  #compacted: ((gen: number) => void)[] = [];
  /** Compactions finished since the log was opened. */
  compactions = 0;

  private constructor(dir: string, fsync: FsyncPolicy, gen: number, options: LogOptions) {
    this.#dir = dir;
    this.#compactMinLogBytes = options.compactMinLogBytes ?? COMPACT_MIN_LOG_BYTES;
    this.fsync = fsync;
    this.#gen = gen;
    this.#file = Deno.openSync(this.#path("log", gen), { read: true, write: true, create: true });
  }

  /**
   * Opens (creating if needed) the log in `dir`. Throws one clear error naming the directory
   * when it cannot be created, read or written (a read-only directory, a full disk).
   */
  static open(dir: string, fsync: FsyncPolicy = "batch", options: LogOptions = {}): LogPersistence {
    try {
      Deno.mkdirSync(dir, { recursive: true });
      const files = [...Deno.readDirSync(dir)].map((e) => e.name);
      const gens = (re: RegExp) => files.map((f) => re.exec(f)).filter((m) => m).map((m) => Number(m![1]));
      const newest = Math.max(0, ...gens(SNAP), ...gens(LOG));
      const log = new LogPersistence(dir, fsync, newest, options);
      log.#probeWritable();
      return log;
    } catch (e) {
      throw new Error(`Cannot use data dir ${dir}: ${(e as Error).message}; check that it exists and is writable`);
    }
  }

  /** Loads every stored entry into `store` (and keeps it for compaction); returns how many entries it holds. */
  loadInto(store: MemoryStore): number {
    this.#store = store;
    const names = [...Deno.readDirSync(this.#dir)].map((e) => e.name);
    const snapshots = names.map((f) => SNAP.exec(f)).filter((m) => m).map((m) => Number(m![1]));
    const from = snapshots.length ? Math.max(...snapshots) : -1;
    const apply = (r: LogRecord) => {
      if (r.kind === RecordKind.Set) store.force(r.key, r.entry);
      else if (r.kind === RecordKind.Delete) store.delete(r.key);
      else store.clear();
    };
    if (from >= 0) this.#replay(this.#path("snap", from), apply, false);
    const logs = names.map((f) => LOG.exec(f)).filter((m) => m).map((m) => Number(m![1]))
      .filter((g) => g >= from).sort((a, b) => a - b);
    for (const g of logs) {
      const bytes = this.#replay(this.#path("log", g), apply, g === this.#gen);
      this.#logBytes += bytes;
      if (g === this.#gen) this.#fileBytes = bytes;
    }
    this.#removeBefore(Math.max(from, 0), names);
    return store.size;
  }

  // Replays a file. A damaged or short record within the last record's reach of the current log's
  // end is a write torn by a crash (never acknowledged) and is cut off; anywhere else it is damage.
  #replay(path: string, apply: (r: LogRecord) => void, current: boolean): number {
    const file = current ? this.#file : Deno.openSync(path, { read: true });
    try {
      const size = file.statSync().size;
      file.seekSync(0, Deno.SeekMode.Start);
      let pending: Uint8Array = new Uint8Array(0), offset = 0;
      for (;;) {
        const chunk = new Uint8Array(READ_CHUNK_BYTES);
        const n = file.readSync(chunk);
        const buf = n === null ? pending : concat(pending, chunk.subarray(0, n));
        const r = readRecords(buf, 0, apply);
        offset += r.end;
        if (r.status === "complete" && n === null) break;
        if (r.status === "bad" || n === null) {
          if (!current || size - offset > MAX_RECORD_BYTES) throw damaged(path, offset);
          file.truncateSync(offset);
          break;
        }
        pending = buf.subarray(r.end);
      }
      if (current) file.seekSync(0, Deno.SeekMode.End);
      return offset;
    } finally {
      if (!current) file.close();
    }
  }

  /** Stages a set (encoded now: the entry's value may be a view of a datagram). */
  set(key: StoreKey, e: Entry): void {
    this.#staged.set(key, e);
  }

  /** Stages a delete. */
  delete(key: StoreKey): void {
    this.#staged.delete(key);
  }

  /** Stages a clear (staged changes before it are moot). */
  clear(): void {
    this.#staged.reset();
    this.#staged.clear();
  }

  /** Whether changes wait to be committed. */
  get dirty(): boolean {
    return this.#staged.length > 0;
  }

  /**
   * Writes the staged changes with one write (synced first under `always`). On failure (a full
   * disk) the log is cut back to its last whole record, the staged changes are dropped and the
   * error is thrown: the caller must not acknowledge them.
   */
  commit(): void {
    if (!this.dirty) return;
    const bytes = this.#staged.bytes;
    try {
      writeAll(this.#file, bytes);
      if (this.fsync === "always") this.#file.syncDataSync();
      else {
        this.#unsynced = true;
        this.#scheduleSync();
      }
    } catch (e) {
      this.#staged.reset();
      this.#cutBack();
      throw failure(e);
    }
    this.#fileBytes += bytes.length;
    this.#logBytes += bytes.length;
    this.#staged.reset();
    if (this.#compaction === undefined && this.#shouldCompact()) this.#startCompaction();
  }

  #cutBack(): void {
    try {
      this.#file.truncateSync(this.#fileBytes);
      this.#file.seekSync(0, Deno.SeekMode.End);
    } catch { /* the next commit cuts back again first */ }
  }

  #shouldCompact(): boolean {
    const store = this.#store;
    if (!store || this.#logBytes < this.#compactMinLogBytes) return false;
    return this.#logBytes > COMPACT_LOG_RATIO * (store.bytes + store.size * RECORD_OVERHEAD_BYTES);
  }

  #startCompaction(): void {
    const gen = this.#gen + 1;
    const file = Deno.openSync(this.#path("snap", gen) + ".tmp", { write: true, create: true, truncate: true });
    this.#switchLog(gen);
    const timer = setInterval(() => this.#compactStep(), COMPACT_STEP_MS);
    Deno.unrefTimer(timer);
    this.#compaction = { gen, file, out: new RecordWriter(), cursor: 0, timer };
  }

  #switchLog(gen: number): void {
    const next = Deno.openSync(this.#path("log", gen), { read: true, write: true, create: true, truncate: true });
    this.#syncIfNeeded();
    this.#file.close();
    this.#file = next;
    this.#gen = gen;
    this.#fileBytes = 0;
  }

  #compactStep(): void {
    const c = this.#compaction;
    if (!c || !this.#store) return;
    try {
      c.cursor = this.#store.scan(c.cursor, COMPACT_RECORDS_PER_STEP, (key, entry) => c.out.set(key, entry));
      if (c.out.length >= SNAPSHOT_WRITE_BYTES || c.cursor < 0) {
        writeAll(c.file, c.out.bytes);
        c.out.reset();
      }
      if (c.cursor < 0) this.#finishCompaction();
    } catch (e) {
      this.#abandonCompaction();
      console.error(`kvstore node: log compaction failed, trying again later: ${(e as Error).message}`);
    }
  }

  #finishCompaction(): void {
    const c = this.#compaction!;
    c.file.syncDataSync();
    c.file.close();
    clearInterval(c.timer);
    this.#compaction = undefined;
    Deno.renameSync(this.#path("snap", c.gen) + ".tmp", this.#path("snap", c.gen));
    this.#removeBefore(c.gen, [...Deno.readDirSync(this.#dir)].map((e) => e.name));
    this.#logBytes = this.#fileBytes;
    this.compactions++;
    for (const resolve of this.#compacted.splice(0)) resolve(c.gen);
  }

  /** Generation of the log being written (each compaction starts the next). */
  get generation(): number {
    return this.#gen;
  }

  /** Resolves with its generation when the next compaction has finished. */
  nextCompaction(): Promise<number> {
    return new Promise((resolve) => this.#compacted.push(resolve));
  }

  #abandonCompaction(): void {
    const c = this.#compaction;
    if (!c) return;
    clearInterval(c.timer);
    this.#compaction = undefined;
    try {
      c.file.close();
      Deno.removeSync(this.#path("snap", c.gen) + ".tmp");
    } catch { /* removed at the next start */ }
  }

  /**
   * Writes a snapshot of the whole store now (a store filled from elsewhere, such as the SQLite
   * backend of earlier versions, becomes durable here); later changes go to a new log.
   */
  snapshotNow(): void {
    this.#abandonCompaction();
    this.#startCompaction();
    while (this.#compaction) this.#compactStep();
  }

  /** Files of generations before `gen`, and unfinished snapshots, are no longer needed. */
  #removeBefore(gen: number, names: string[]): void {
    for (const name of names) {
      const m = LOG.exec(name) ?? SNAP.exec(name) ?? SNAP_TMP.exec(name);
      const stale = m && (Number(m[1]) < gen || (SNAP_TMP.test(name) && this.#compaction?.gen !== Number(m[1])));
      if (stale) Deno.removeSync(`${this.#dir}/${name}`);
    }
  }

  #probeWritable(): void {
    const size = this.#file.seekSync(0, Deno.SeekMode.End);
    this.#file.writeSync(new Uint8Array(1)); // fails now on a read-only or full disk, not at the first put
    this.#file.truncateSync(size);
    this.#file.seekSync(0, Deno.SeekMode.End);
  }

  /**
   * Whether a sync is scheduled (`batch`): one timer, armed by the first commit after a sync, so
   * an idle log keeps no timer and wakes nobody (docs/performance.md, "Idle node cost").
   */
  get syncScheduled(): boolean {
    return this.#syncTimer !== undefined;
  }

  // Under `batch`, syncs within SYNC_INTERVAL_MS of the first unsynced commit (again if it failed).
  #scheduleSync(): void {
    if (this.fsync !== "batch" || this.#syncTimer !== undefined || this.#closed) return;
    const timer = this.#syncTimer = setTimeout(() => {
      this.#syncTimer = undefined;
      this.#syncIfNeeded();
      if (this.#unsynced) this.#scheduleSync();
    }, SYNC_INTERVAL_MS);
    Deno.unrefTimer(timer);
  }

  #syncIfNeeded(): void {
    if (!this.#unsynced) return;
    try {
      this.#file.syncDataSync();
      this.#unsynced = false;
    } catch { /* the next interval tries again; commits report their own errors */ }
  }

  #path(kind: "log" | "snap", gen: number): string {
    return `${this.#dir}/kvstore.${kind}.${gen}`;
  }

  /** Commits what is staged, syncs, then closes the files. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#syncTimer !== undefined) clearTimeout(this.#syncTimer);
    this.#syncTimer = undefined;
    this.#abandonCompaction();
    try {
      this.commit();
      this.#syncIfNeeded();
    } finally {
      this.#file.close();
    }
  }
}

function writeAll(file: Deno.FsFile, bytes: Uint8Array): void {
  for (let o = 0; o < bytes.length;) o += file.writeSync(bytes.subarray(o));
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

// A full disk reads "full" (durabilityFailure answers 0x02 for it); anything else keeps its message.
function failure(e: unknown): Error {
  const message = (e as Error)?.message ?? String(e);
  return /No space left|ENOSPC|os error 28/i.test(message) ? new Error(`disk full: ${message}`) : e as Error;
}

function damaged(path: string, offset: number): Error {
  return new Error(
    `${path} is damaged at byte ${offset} (a record fails its checksum); move the file away to start without it`,
  );
}
