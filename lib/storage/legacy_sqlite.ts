/**
 * Reading a data dir written by the SQLite backend of earlier versions (`kvstore.db`, through
 * `node:sqlite`), so that upgrading a durable node keeps its keys: the node loads the rows once,
 * writes them as a snapshot of its log (`log_persistence.ts`) and renames the database.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import type { MemoryStore } from "./store.ts";

/** Name of the legacy database in a data dir. */
export const LEGACY_DATABASE = "kvstore.db";

/**
 * Loads every row of `dir/kvstore.db` into `store`; returns how many, or `undefined` when there
 * is no such database. Once the rows are durable elsewhere, {@linkcode retireLegacySqlite}.
 *
 * @example
 * ```ts ignore
 * if (importLegacySqlite("/var/lib/kvstore", store) !== undefined) {
 *   log.snapshotNow();
 *   retireLegacySqlite("/var/lib/kvstore");
 * }
 * ```
 */
export function importLegacySqlite(dir: string, store: MemoryStore): number | undefined {
  const path = `${dir}/${LEGACY_DATABASE}`;
  try {
    Deno.statSync(path);
  } catch {
    return undefined;
  }
  const db = new DatabaseSync(path);
  let n = 0;
  try {
    const rows = db.prepare("SELECT key, value, t, node, tombstone FROM kv").iterate() as Iterable<{
      key: string;
      value: Uint8Array;
      t: number;
      node: string;
      tombstone: number;
    }>;
    for (const r of rows) {
      store.force(r.key, { value: r.value, version: { t: Number(r.t), n: r.node }, tombstone: r.tombstone === 1 });
      n++;
    }
  } finally {
    db.close();
  }
  return n;
}

/**
 * Renames `dir/kvstore.db` and its WAL files to `kvstore.db.imported*`, so they are not read again.
 *
 * @example
 * ```ts ignore
 * retireLegacySqlite("/var/lib/kvstore");
 * ```
 */
export function retireLegacySqlite(dir: string): void {
  const path = `${dir}/${LEGACY_DATABASE}`;
  for (const suffix of ["", "-wal", "-shm"]) {
    try {
      Deno.renameSync(path + suffix, `${path}.imported${suffix}`);
    } catch { /* no such file */ }
  }
}
