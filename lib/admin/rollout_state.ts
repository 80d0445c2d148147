/**
 * What a node remembers of a rolling restart across its own restart: that it
 * restarted for command ID (so the new process knows it must catch up and
 * then pass the turn on) and the result it had reported (so its script's
 * output survives), in `STATE_DIR/.kvstore-rollout.json`, written
 * synchronously before the process hands its port over.
 *
 * @module
 */
import type { NodeResult } from "./protocol.ts";

/**
 * Name of the file inside the state directory.
 *
 * @example
 * ```ts
 * console.log(`/srv/kv/${ROLLOUT_FILE}`);
 * ```
 */
export const ROLLOUT_FILE = ".kvstore-rollout.json";

/** This node's part in one rollout, as remembered. */
export interface RolloutRecord {
  /** Command id. */
  id: string;
  /** Its position in the rollout order. */
  position: number;
  /** `restarting`: the old process handed over (or was about to); `back`: its turn is done. */
  phase: "restarting" | "back";
  /** When the restart began (ms since epoch). */
  restartedAt: number;
  /** When it was back (ms since epoch). */
  backAt?: number;
  /** The command's expiry: the record is dropped after it. */
  expiresAt: number;
  /** The result last reported for the command. */
  result: NodeResult;
}

/**
 * The records of one node.
 *
 * @example
 * ```ts ignore
 * const records = new RolloutRecords("/srv/kv");
 * records.load(Date.now());
 * records.put({ id, position: 2, phase: "restarting", restartedAt: Date.now(), expiresAt, result });
 * ```
 */
export class RolloutRecords {
  #file?: string;
  #records = new Map<string, RolloutRecord>();

  /** Records kept in `stateDir` (none: in memory only). */
  constructor(stateDir?: string) {
    if (stateDir) this.#file = `${stateDir.replace(/\/+$/, "")}/${ROLLOUT_FILE}`;
  }

  /** Reads the file (a missing or unreadable one is empty: the rollout then halts by its budget). */
  load(now: number): RolloutRecord[] {
    if (!this.#file) return [];
    try {
      const data = JSON.parse(Deno.readTextFileSync(this.#file)) as { records?: RolloutRecord[] };
      for (const r of Array.isArray(data.records) ? data.records : []) {
        if (typeof r?.id === "string" && typeof r.expiresAt === "number" && r.expiresAt > now && r.result) {
          this.#records.set(r.id, r);
        }
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        console.error(`admin: ignoring unreadable rollout state ${this.#file}: ${(e as Error).message}`);
      }
    }
    return [...this.#records.values()];
  }

  /** The record of command `id`. */
  get(id: string): RolloutRecord | undefined {
    return this.#records.get(id);
  }

  /** Stores (replaces) a record; on disk when this returns. */
  put(record: RolloutRecord): void {
    this.#records.set(record.id, record);
    this.#save();
  }

  /** Forgets a record. */
  delete(id: string): void {
    if (this.#records.delete(id)) this.#save();
  }

  /** Drops expired records. */
  prune(now: number): void {
    let changed = false;
    for (const [id, r] of this.#records) {
      if (r.expiresAt <= now) {
        this.#records.delete(id);
        changed = true;
      }
    }
    if (changed) this.#save();
  }

  #save(): void {
    if (!this.#file) return;
    const tmp = `${this.#file}.tmp`;
    try {
      Deno.writeTextFileSync(tmp, JSON.stringify({ records: [...this.#records.values()] }));
      Deno.renameSync(tmp, this.#file);
    } catch (e) {
      console.error(`admin: cannot write the rollout state ${this.#file}: ${(e as Error).message}`);
    }
  }
}
