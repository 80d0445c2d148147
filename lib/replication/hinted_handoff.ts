/**
 * Hinted handoff: entries this node holds but does not own go to their owners.
 *
 * A node holds keys it does not own in two cases: it stood in for an owner
 * that did not answer a write (a *hint*, recorded with the intended owner), or
 * the membership changed and the key's preference list no longer includes it.
 * Both are handled the same way: every `handoffIntervalMs` (and soon after a
 * membership change) the node offers the versions it holds to the key's
 * current owners; each owner says which it lacks; those are pushed; once every
 * owner holds the version (or a newer one), the local copy is dropped. A copy
 * is never dropped before all owners confirmed it, so an owner that is down
 * gets the data when it is back (or its successor gets it once the membership
 * declares it dead).
 *
 * @module
 */
import { compareVersions, type Version } from "../storage/hlc.ts";
import type { Rpc, RpcAnswer } from "../wire/rpc.ts";
import type { InternalMessage } from "../wire/envelope.ts";
import type { Address } from "../net/transport.ts";
import { replicaCallOptions, type ReplicaDeps } from "./local_replica.ts";
import {
  batches,
  decodeVersions,
  encodeEntries,
  encodeVersions,
  entrySize,
  type KeyedEntry,
  type KeyedVersion,
  ReplicaCommand,
  versionSize,
} from "./replica_protocol.ts";
import { offerReplyHeader, parseOfferReply, parsePushReply } from "./replica_messages.ts";
import { keyPosition, keyPositionHex } from "./ring.ts";
import type { StoreKey } from "../storage/store.ts";

/** A key held for other owners: the version offered, and the owners yet to confirm it. */
interface PendingKey {
  version: Version;
  left: Set<Address>;
}

/** Outcome of one handoff run. */
export interface HandoffResult {
  /** Keys held here that this node does not own (before the run). */
  notOwned: number;
  /** Entries pushed to owners. */
  pushed: number;
  /** Local copies dropped because every owner holds them. */
  dropped: number;
}

/**
 * Hands entries to their owners and answers owners' offers.
 *
 * @example
 * ```ts ignore
 * const handoff = new HintedHandoff(deps);
 * handoff.register(node.rpc);
 * await handoff.run();
 * ```
 */
export class HintedHandoff {
  #deps: ReplicaDeps;
  #hints = new Map<string, Set<Address>>();
  #running: Promise<HandoffResult> | undefined;
  #notOwned = 0;
  #dirty = true;

  /** Creates the handoff of the node described by `deps`. */
  constructor(deps: ReplicaDeps) {
    this.#deps = deps;
  }

  /** Registers the offer handler. */
  register(rpc: Rpc): void {
    rpc.handle(ReplicaCommand.Offer, (m) => this.#onOffer(m));
  }

  /** Records that this node keeps `key` for `owner` (a stand-in's hint). */
  record(key: string, owner: Address): void {
    this.#dirty = true;
    let s = this.#hints.get(key);
    if (!s) this.#hints.set(key, s = new Set());
    s.add(owner);
  }

  /** Recorded hints plus keys found not owned by the last run (what still has to move). */
  get hintCount(): number {
    return Math.max(this.#hints.size, this.#notOwned);
  }

  /** Owners recorded for a hinted key (tests, debugging). */
  hintedOwners(key: string): Address[] {
    return [...this.#hints.get(key) ?? []];
  }

  /**
   * Notes that the store may hold keys this node does not own (the ring changed, or a
   * write for another owner arrived), so the next run scans the store.
   */
  markDirty(): void {
    this.#dirty = true;
  }

  /** Marks the handoff dirty if this node does not own `key`. */
  check(key: StoreKey): void {
    if (this.#dirty) return;
    const position = typeof key === "string" ? keyPositionHex(key) : keyPosition(key);
    if (!this.#deps.placement.ownersAt(position).includes(this.#deps.self)) this.#dirty = true;
  }

  /**
   * One pass over the store (concurrent calls share the running pass). Skipped while
   * nothing can have become misplaced since a pass that left no foreign key behind.
   */
  run(): Promise<HandoffResult> {
    if (this.#deps.store.size === 0) {
      this.#dirty = false;
      this.#notOwned = 0;
      this.#hints.clear();
    }
    if (!this.#dirty && this.#notOwned === 0 && this.#hints.size === 0) {
      return Promise.resolve({ notOwned: 0, pushed: 0, dropped: 0 });
    }
    this.#running ??= this.#run().finally(() => this.#running = undefined);
    return this.#running;
  }

  async #run(): Promise<HandoffResult> {
    this.#dirty = false;
    const { byOwner, pending } = this.#notOwnedByOwner();
    this.#notOwned = pending.size;
    const result: HandoffResult = { notOwned: pending.size, pushed: 0, dropped: 0 };
    for (const [owner, list] of byOwner) {
      try {
        result.pushed += await this.#handOffTo(owner, list, pending);
      } catch {
        // Owner unreachable: keep its keys; the next run tries again.
      }
    }
    result.dropped = this.#dropConfirmed(pending);
    this.#deps.stats.handedOff += result.dropped;
    this.#notOwned -= result.dropped;
    return result;
  }

  /**
   * The entries held here that this node does not own, listed per owner, and for each key the
   * owners yet to confirm its version. Expired tombstones are deleted on the way.
   */
  #notOwnedByOwner(): { byOwner: Map<Address, KeyedVersion[]>; pending: Map<string, PendingKey> } {
    const { self, store, placement, replica } = this.#deps;
    const ring = placement.ring();
    const n = placement.n();
    const byOwner = new Map<Address, KeyedVersion[]>();
    const pending = new Map<string, PendingKey>();
    const expired: string[] = [];
    for (const [key, e] of store.entries()) {
      const owners = ring.preferenceListAt(keyPositionHex(key), n);
      if (owners.includes(self)) {
        this.#hints.delete(key);
        continue;
      }
      if (replica.expired(e)) {
        expired.push(key);
        continue;
      }
      pending.set(key, { version: e.version, left: new Set(owners) });
      for (const o of owners) {
        let list = byOwner.get(o);
        if (!list) byOwner.set(o, list = []);
        list.push({ key, version: e.version, tombstone: e.tombstone });
      }
    }
    for (const k of expired) {
      store.delete(k);
      this.#hints.delete(k);
    }
    return { byOwner, pending };
  }

  /**
   * Offers `list` to `owner` in batches and pushes what it wants; marks each key the owner holds
   * (now or already) as confirmed by it in `pending`. Returns how many entries it accepted.
   */
  async #handOffTo(owner: Address, list: KeyedVersion[], pending: Map<string, PendingKey>): Promise<number> {
    const { store, rpc, config } = this.#deps;
    const options = replicaCallOptions(config);
    const budget = config.maxMessageBytes - 200;
    let pushed = 0;
    for (const batch of batches(list, versionSize, budget)) {
      const reply = await rpc.call(owner, ReplicaCommand.Offer, {}, encodeVersions(batch), options);
      const want = new Set(parseOfferReply(reply.header, batch.length).want);
      const toPush: KeyedEntry[] = [];
      batch.forEach((v, i) => {
        if (!want.has(i)) pending.get(v.key)?.left.delete(owner);
        else {
          const e = store.getEntry(v.key);
          if (e) toPush.push({ key: v.key, entry: e });
        }
      });
      for (const push of batches(toPush, entrySize, budget)) {
        const r = await rpc.call(owner, ReplicaCommand.Push, {}, encodeEntries(push), options);
        const s = parsePushReply(r.header)?.statuses;
        if (s === undefined) continue;
        push.forEach((p, i) => {
          if (s[i] !== "o" && s[i] !== "s") return;
          pushed++;
          const st = pending.get(p.key);
          if (st && compareVersions(p.entry.version, st.version) >= 0) st.left.delete(owner);
        });
      }
    }
    return pushed;
  }

  /** Deletes the keys every owner confirmed at the version offered; returns how many. */
  #dropConfirmed(pending: Map<string, PendingKey>): number {
    const { self, store, placement } = this.#deps;
    let dropped = 0;
    for (const [key, st] of pending) {
      if (st.left.size > 0) continue;
      const cur = store.getEntry(key);
      // Drop only the version every owner confirmed (a newer local write stays and is offered next run).
      if (cur && compareVersions(cur.version, st.version) === 0 && !placement.ownersHex(key).includes(self)) {
        store.delete(key);
        this.#hints.delete(key);
        dropped++;
      }
    }
    return dropped;
  }

  #onOffer(m: InternalMessage): RpcAnswer {
    const offered = decodeVersions(m.body);
    if (!offered) return undefined;
    const store = this.#deps.store;
    const want: number[] = [];
    offered.forEach((v, i) => {
      const cur = store.getEntry(v.key);
      if (!cur || compareVersions(cur.version, v.version) < 0) want.push(i);
    });
    return { header: offerReplyHeader({ want }) };
  }
}
