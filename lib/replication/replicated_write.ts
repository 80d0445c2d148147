/**
 * One replicated write (put or remove) as a request-state object: it sends the entry to the key's
 * owners, counts their answers, replaces an owner that does not answer with a stand-in (which keeps
 * a hint), and resolves once: OK after W acks, FULL/FAIL once W acks can no longer come, or the
 * answer of a reissue when an owner held a newer version than the coordinator's clock produced.
 *
 * Invariants (asserted, `base/assert.ts`): 1 ≤ W ≤ owners; acks + full answers ≤ replicas asked;
 * replica calls pending ≥ 0; one resolution per request; a reissued version is newer than the one
 * an owner held (a client's later write is never silently older).
 *
 * @module
 */
import { assert } from "../base/assert.ts";
import { toHex } from "../base/bytes.ts";
import type { ExecResult } from "../node/executor.ts";
import type { Address } from "../net/transport.ts";
import { compareVersions, type Version } from "../storage/hlc.ts";
import type { Entry } from "../storage/store.ts";
import type { PayloadWriter } from "../wire/frame.ts";
import { type Coordinator, FAIL, FULL, MISSING, OK } from "./coordinator.ts";
import { decodeReplicaPutReply, replicaPutWriter } from "./replica_codec.ts";
import { type PutStatus, ReplicaCommand } from "./replica_protocol.ts";

/**
 * The state of one write from its first send to its resolution.
 *
 * @example
 * ```ts ignore
 * const result = new WriteRequest(coordinator, key, entry, false, true, position, owners).run();
 * ```
 */
export class WriteRequest {
  readonly #c: Coordinator;
  readonly #key: Uint8Array;
  readonly #entry: Entry;
  readonly #remove: boolean;
  readonly #mayReissue: boolean;
  readonly #position: number;
  readonly #owners: readonly Address[];
  readonly #w: number;
  #asked = 0;
  #pending = 0;
  #acks = 0;
  #full = 0;
  #existed = false;
  #newer: Version | undefined;
  #started = false;
  #result: ExecResult | Promise<ExecResult> | undefined;
  #resolve: ((r: ExecResult | Promise<ExecResult>) => void) | undefined;
  #plain: PayloadWriter | undefined; // made on the first send to another node
  #standIns: Address[] | undefined; // read at the first failure

  /** A write of `entry` under `key` (at ring `position`) to `owners`; `mayReissue` once at most. */
  constructor(
    c: Coordinator,
    key: Uint8Array,
    entry: Entry,
    remove: boolean,
    mayReissue: boolean,
    position: number,
    owners: readonly Address[],
  ) {
    this.#c = c;
    this.#key = key;
    this.#entry = entry;
    this.#remove = remove;
    this.#mayReissue = mayReissue;
    this.#position = position;
    this.#owners = owners;
    this.#w = Math.min(c.deps.config.w, owners.length);
    assert(this.#w >= 1 && this.#w <= owners.length, "1 <= W <= owners of the key");
  }

  /** Sends to every owner; the result, or a promise of it when replicas must answer first. */
  run(): ExecResult | Promise<ExecResult> {
    for (const o of this.#owners) this.#send(o);
    this.#started = true;
    this.#decide();
    return this.#result ?? new Promise((r) => this.#resolve = r);
  }

  /** Applies the write here, or sends it to `to` (as a hint for `hintFor` when standing in). */
  #send(to: Address, hintFor?: Address): void {
    this.#asked++;
    if (to === this.#c.deps.self) return this.#applyHere(hintFor);
    const { rpc, stats } = this.#c.deps;
    this.#pending++;
    stats.pendingReplicaWrites++;
    // One writer per destination kind: the value is copied into each datagram, nowhere else.
    const payload = hintFor
      ? replicaPutWriter(this.#key, this.#entry, false, hintFor)
      : (this.#plain ??= replicaPutWriter(this.#key, this.#entry, this.#remove));
    rpc.request(to, ReplicaCommand.Put, payload, this.#c.callOptions, (reply) => {
      try {
        this.#onReply(to, hintFor, reply);
      } catch (e) {
        this.#failOn(e);
      }
    });
  }

  #applyHere(hintFor: Address | undefined): void {
    const { replica, store } = this.#c.deps;
    if (hintFor) this.#c.handoff.record(toHex(this.#key), hintFor);
    const r = this.#remove && !hintFor
      ? replica.remove(this.#key, this.#entry)
      : { status: replica.apply(this.#key, this.#entry), existed: false };
    // The held version matters only to a stale write (the store builds an entry per read).
    this.#answer(r.status, r.existed, r.status === "stale" ? store.getEntry(this.#key)?.version : undefined);
  }

  #onReply(to: Address, hintFor: Address | undefined, reply: Uint8Array | undefined): void {
    const { stats } = this.#c.deps;
    this.#pending--;
    stats.pendingReplicaWrites--;
    assert(this.#pending >= 0, "replica writes pending >= 0");
    if (reply === undefined) return this.#replace(hintFor ?? to);
    const r = decodeReplicaPutReply(reply);
    if (typeof r !== "string") return this.#answer(r.status, r.existed, r.held);
    stats.rejectedReplicaMessages++;
    this.#decide();
  }

  /** An owner (or a stand-in for `owner`) did not answer: ask the next stand-in, if any. */
  #replace(owner: Address): void {
    const standIn = this.#c.closed()
      ? undefined
      : (this.#standIns ??= this.#c.standInsAt(this.#position, this.#owners)).shift();
    if (standIn) {
      this.#c.deps.stats.standIns++;
      this.#send(standIn, owner);
    }
    this.#decide();
  }

  #answer(status: PutStatus, existed: boolean, held: Version | undefined): void {
    if (status === "full") this.#full++;
    else this.#acks++;
    assert(this.#acks + this.#full <= this.#asked, "answers never above the replicas asked");
    this.#existed ||= existed;
    if (status === "stale" && held && compareVersions(held, this.#entry.version) > 0) {
      if (!this.#newer || compareVersions(held, this.#newer) > 0) this.#newer = held;
    }
    this.#decide();
  }

  /** Resolves once enough answers are in (or can no longer come). */
  #decide(): void {
    if (this.#result || !this.#started) return;
    if (this.#acks >= this.#w && this.#newer && this.#mayReissue) this.#finish(this.#reissue(this.#newer));
    else if (this.#acks >= this.#w) this.#finish(this.#remove && !this.#existed ? MISSING : OK);
    else if (this.#acks + this.#pending < this.#w) this.#finish(this.#full > 0 ? FULL : FAIL);
  }

  /** An owner held `newer`: the clock observes it and the write goes out once more, newer still. */
  #reissue(newer: Version): ExecResult | Promise<ExecResult> {
    const { replica, stats } = this.#c.deps;
    replica.hlc.observe(newer);
    stats.reissued++;
    const version = replica.hlc.next();
    assert(compareVersions(version, newer) > 0, "a reissued write's version is above the one an owner held");
    return this.#c.write(this.#key, { ...this.#entry, version }, this.#remove, false);
  }

  #finish(result: ExecResult | Promise<ExecResult>): void {
    assert(this.#result === undefined, "one resolution per write");
    this.#result = result;
    const { stats } = this.#c.deps;
    if (result === OK || result === MISSING) stats.writesOk++;
    else if (!(result instanceof Promise)) stats.writesFailed++; // a reissue counts itself
    this.#resolve?.(result);
  }

  /** A step threw (a broken invariant): the write fails, once; it is counted where it was thrown. */
  #failOn(_error: unknown): void {
    if (this.#result !== undefined) return;
    this.#result = FAIL;
    this.#c.deps.stats.writesFailed++;
    this.#resolve?.(FAIL);
  }
}
