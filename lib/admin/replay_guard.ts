/**
 * Replay protection: the ids of commands a node has seen, kept until they
 * expire (an expired command is rejected anyway, so its id can be forgotten).
 * Ids of commands the node acted on are written to a state file before it
 * acts, so a restarted node never acts twice; the commands themselves are
 * kept there too, so a restarted node still hands them to peers that missed
 * them (even when every node restarted).
 *
 * @module
 */
import type { SignedCommand } from "./command.ts";

/**
 * Name of the state file inside the state directory.
 *
 * @example
 * ```ts
 * console.log(`/srv/kv/${STATE_FILE}`);
 * ```
 */
export const STATE_FILE = ".kvstore-admin-state.json";

/**
 * Seen and acted-on command ids with their expiry.
 *
 * @example
 * ```ts
 * const g = new ReplayGuard(100);
 * g.see("ab".repeat(16), Date.now() + 60_000);
 * console.log(g.has("ab".repeat(16))); // true
 * ```
 */
export class ReplayGuard {
  #seen = new Map<string, number>();
  #acted = new Map<string, number>();
  #bodies = new Map<string, SignedCommand>();
  #max: number;
  #file?: string;
  #writing: Promise<void> = Promise.resolve();

  /** Creates a guard remembering at most `max` ids; `stateDir` makes acted-on ids durable. */
  constructor(max: number, stateDir?: string) {
    this.#max = max;
    if (stateDir) this.#file = `${stateDir.replace(/\/+$/, "")}/${STATE_FILE}`;
  }

  /** The state file, if durable. */
  get file(): string | undefined {
    return this.#file;
  }

  /**
   * Loads acted-on ids and kept commands from the state file (sync, at start). A
   * missing file is an empty state; an unreadable one throws so the node does not
   * risk acting twice. Returns the unexpired commands kept.
   */
  load(now: number): SignedCommand[] {
    if (!this.#file) return [];
    let text: string;
    try {
      text = Deno.readTextFileSync(this.#file);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return [];
      throw new Error(`cannot read admin state ${this.#file}: ${(e as Error).message}`);
    }
    let data: { acted?: Record<string, number>; commands?: SignedCommand[] };
    try {
      data = JSON.parse(text);
    } catch {
      throw new Error(`admin state ${this.#file} is not valid JSON; move it away to start fresh`);
    }
    for (const [id, exp] of Object.entries(data.acted ?? {})) {
      if (typeof exp === "number" && exp > now) {
        this.#acted.set(id, exp);
        this.#seen.set(id, exp);
      }
    }
    for (const c of Array.isArray(data.commands) ? data.commands : []) {
      const exp = c?.c?.expiresAt;
      if (typeof c?.c?.id === "string" && typeof exp === "number" && exp > now) {
        this.#bodies.set(c.c.id, c);
        this.#seen.set(c.c.id, exp);
      }
    }
    return [...this.#bodies.values()];
  }

  /** Whether `id` was seen (and has not expired since). */
  has(id: string): boolean {
    return this.#seen.has(id);
  }

  /** Whether the node acted on `id`. */
  acted(id: string): boolean {
    return this.#acted.has(id);
  }

  /** Whether a new id can be remembered (after pruning expired ones). */
  hasRoom(now: number): boolean {
    if (this.#seen.size < this.#max) return true;
    this.prune(now);
    return this.#seen.size < this.#max;
  }

  /** Writes the state file now (no-op without a state dir). */
  save(): Promise<void> {
    return this.#persist();
  }

  /** Remembers `id` until `expiresAt`. */
  see(id: string, expiresAt: number): void {
    this.#seen.set(id, expiresAt);
  }

  /** Keeps an accepted command in the state file (written with the next change). */
  keep(command: SignedCommand): void {
    this.#bodies.set(command.c.id, command);
    this.#seen.set(command.c.id, command.c.expiresAt);
  }

  /** Records that the node acts on `id`; resolves once durable (when there is a state dir). */
  markActed(id: string, expiresAt: number): Promise<void> {
    this.#seen.set(id, expiresAt);
    this.#acted.set(id, expiresAt);
    return this.#persist();
  }

  /** Forgets ids whose command has expired. */
  prune(now: number): void {
    for (const [id, exp] of this.#seen) if (exp <= now) this.#seen.delete(id);
    let changed = false;
    for (const [id, c] of this.#bodies) {
      if (c.c.expiresAt <= now) {
        this.#bodies.delete(id);
        changed = true;
      }
    }
    for (const [id, exp] of this.#acted) {
      if (exp <= now) {
        this.#acted.delete(id);
        changed = true;
      }
    }
    if (changed) this.#persist().catch(() => {});
  }

  /** Number of ids remembered. */
  get size(): number {
    return this.#seen.size;
  }

  #persist(): Promise<void> {
    const file = this.#file;
    if (!file) return Promise.resolve();
    const next = this.#writing.then(async () => {
      const tmp = `${file}.tmp`;
      const data = { acted: Object.fromEntries(this.#acted), commands: [...this.#bodies.values()] };
      await Deno.writeTextFile(tmp, JSON.stringify(data));
      await Deno.rename(tmp, file);
    });
    this.#writing = next.catch(() => {});
    return next;
  }
}
