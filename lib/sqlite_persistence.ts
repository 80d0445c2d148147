/**
 * Durable store backing on embedded SQLite (`node:sqlite`, WAL mode).
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { Entry, MemoryStore, StoreListener } from "./store.ts";

/**
 * Write-through persistence for a {@linkcode MemoryStore}: every change is
 * committed to `DIR/kvstore.db` before the node replies.
 *
 * @example
 * ```ts ignore
 * const p = SqlitePersistence.open("/var/lib/kvstore");
 * p.loadInto(store);
 * store.listener = p;
 * ```
 */
export class SqlitePersistence implements StoreListener {
  #db: DatabaseSync;
  #upsert: StatementSync;
  #del: StatementSync;

  private constructor(db: DatabaseSync) {
    this.#db = db;
    db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
    db.exec(
      "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL, t INTEGER NOT NULL, node TEXT NOT NULL, tombstone INTEGER NOT NULL)",
    );
    this.#upsert = db.prepare(
      "INSERT INTO kv (key, value, t, node, tombstone) VALUES (?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value, t=excluded.t, node=excluded.node, tombstone=excluded.tombstone",
    );
    this.#del = db.prepare("DELETE FROM kv WHERE key = ?");
  }

  /** Opens (creating if needed) the database in `dir`; throws a clear error if it cannot. */
  static open(dir: string): SqlitePersistence {
    try {
      Deno.mkdirSync(dir, { recursive: true });
      return new SqlitePersistence(new DatabaseSync(`${dir}/kvstore.db`));
    } catch (e) {
      throw new Error(`Cannot open data dir ${dir}: ${(e as Error).message}`);
    }
  }

  /** Loads every stored entry into `store`; returns how many. */
  loadInto(store: MemoryStore): number {
    const rows = this.#db.prepare("SELECT key, value, t, node, tombstone FROM kv").all() as {
      key: string;
      value: Uint8Array;
      t: number;
      node: string;
      tombstone: number;
    }[];
    for (const r of rows) {
      store.force(r.key, {
        value: new Uint8Array(r.value),
        version: { t: Number(r.t), n: r.node },
        tombstone: r.tombstone === 1,
      });
    }
    return rows.length;
  }

  set(key: string, e: Entry): void {
    this.#upsert.run(key, e.value, e.version.t, e.version.n, e.tombstone ? 1 : 0);
  }

  delete(key: string): void {
    this.#del.run(key);
  }

  clear(): void {
    this.#db.exec("DELETE FROM kv");
  }

  /** Closes the database. */
  close(): void {
    this.#db.close();
  }
}
