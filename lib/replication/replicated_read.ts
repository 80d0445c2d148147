/**
 * One replicated read as a request-state object: it asks R of the key's owners (this node first
 * when it is one), asks the others when one of the R fails or before answering "not found",
 * replaces owners that do not answer with stand-ins, resolves once with the newest version among
 * the replies, and repairs the owners that answered an older one (or none) when all have answered.
 *
 * Invariants (asserted, `base/assert.ts`): 1 ≤ R ≤ owners; replies ≤ replicas asked; replica calls
 * pending ≥ 0; one resolution per request. The answer is the newest reply, and a repair sends it
 * only to owners that answered an older one (by construction: `#newest`, `#repair`).
 *
 * @module
 */
import { assert } from "../base/assert.ts";
import type { ExecResult } from "../node/executor.ts";
import type { Address } from "../net/transport.ts";
import { compareVersions } from "../storage/hlc.ts";
import type { Entry } from "../storage/store.ts";
import { ErrorCode } from "../wire/client_protocol.ts";
import type { PayloadWriter } from "../wire/frame.ts";
import { type Coordinator, FAIL, MISSING } from "./coordinator.ts";
import { decodeReplicaGetReply, replicaPutWriter } from "./replica_codec.ts";
import { ReplicaCommand } from "./replica_protocol.ts";

/**
 * The state of one read from its first question to its repair.
 *
 * @example
 * ```ts ignore
 * const result = new ReadRequest(coordinator, key, position, owners).run();
 * ```
 */
export class ReadRequest {
  readonly #c: Coordinator;
  readonly #key: Uint8Array;
  readonly #position: number;
  readonly #owners: readonly Address[];
  readonly #r: number;
  readonly #replies = new Map<Address, Entry | undefined>();
  readonly #unasked: Address[];
  #asked = 0;
  #pending = 0;
  #started = false;
  #repaired = false;
  #result: ExecResult | undefined;
  #resolve: ((r: ExecResult) => void) | undefined;
  #standIns: Address[] | undefined; // read at the first failure once every owner was asked

  /** A read of `key` (at ring `position`) from `owners`. */
  constructor(c: Coordinator, key: Uint8Array, position: number, owners: readonly Address[]) {
    this.#c = c;
    this.#key = key;
    this.#position = position;
    this.#owners = owners;
    this.#r = Math.min(c.deps.config.r, owners.length);
    assert(this.#r >= 1 && this.#r <= owners.length, "1 <= R <= owners of the key");
    // This node first (its copy costs no datagram), then the preference list.
    const self = c.deps.self;
    this.#unasked = owners.includes(self) ? [self, ...owners.filter((o) => o !== self)] : owners.slice();
  }

  /** Asks R owners; the result, or a promise of it when replicas must answer first. */
  run(): ExecResult | Promise<ExecResult> {
    for (const o of this.#unasked.splice(0, this.#r)) this.#ask(o);
    this.#started = true;
    this.#decide();
    return this.#result ?? new Promise((res) => this.#resolve = res);
  }

  #ask(to: Address): void {
    this.#asked++;
    const { self, rpc, replica } = this.#c.deps;
    if (to === self) {
      this.#replies.set(self, replica.read(this.#key));
      return;
    }
    this.#pending++;
    rpc.request(to, ReplicaCommand.Get, this.#key, this.#c.callOptions, (reply) => {
      try {
        this.#onReply(to, reply);
      } catch (e) {
        this.#failOn(e);
      }
    });
  }

  #onReply(to: Address, reply: Uint8Array | undefined): void {
    const { replica, stats } = this.#c.deps;
    this.#pending--;
    assert(this.#pending >= 0, "replica reads pending >= 0");
    if (reply === undefined) return this.#replace();
    const e = decodeReplicaGetReply(reply);
    if (typeof e === "string") stats.rejectedReplicaMessages++;
    else {
      if (e) replica.hlc.observe(e.version);
      this.#replies.set(to, e && !replica.expired(e) ? e : undefined);
      assert(this.#replies.size <= this.#asked, "replies never above the replicas asked");
    }
    this.#decide();
  }

  /** A replica did not answer: ask an owner not asked yet, else the next stand-in. */
  #replace(): void {
    const c = this.#c;
    const owner = c.closed() ? undefined : this.#unasked.shift();
    const standIn = c.closed() || owner ? undefined : (this.#standIns ??= c.standInsAt(this.#position, this.#owners))
      .shift();
    if (owner) this.#ask(owner);
    else if (standIn) {
      c.deps.stats.standIns++;
      this.#ask(standIn);
    }
    this.#decide();
  }

  #decide(): void {
    if (!this.#started) return;
    if (!this.#result) this.#decideAnswer();
    if (this.#pending === 0) this.#repair();
  }

  #decideAnswer(): void {
    const enough = this.#replies.size >= this.#r;
    const e = enough ? this.#newest() : undefined;
    // "Not found" waits for every owner: right after a ring change the new owners are
    // empty until repair moves the key, and the one that still holds it may answer last.
    if (enough && !e && this.#pending === 0 && this.#unasked.length > 0) {
      for (const o of this.#unasked.splice(0)) this.#ask(o);
      if (this.#pending > 0) return;
    }
    const { stats } = this.#c.deps;
    if (enough && (e || this.#pending === 0)) {
      stats.readsOk++;
      this.#finish(e && !e.tombstone ? { code: ErrorCode.Success, value: e.value } : MISSING);
    } else if (this.#replies.size + this.#pending < this.#r) {
      stats.readsFailed++;
      this.#finish(FAIL);
    }
  }

  #newest(): Entry | undefined {
    let best: Entry | undefined;
    for (const e of this.#replies.values()) if (e && (!best || compareVersions(e.version, best.version) > 0)) best = e;
    return best;
  }

  #finish(result: ExecResult): void {
    assert(this.#result === undefined, "one resolution per read");
    this.#result = result;
    this.#resolve?.(result);
  }

  /** Sends the newest entry to every owner that answered with an older one or none (once). */
  #repair(): void {
    const best = this.#newest();
    if (!best || this.#repaired || this.#c.closed()) return;
    this.#repaired = true;
    const { self, rpc, replica, stats } = this.#c.deps;
    let payload: PayloadWriter | undefined;
    for (const o of this.#owners) {
      if (!this.#replies.has(o)) continue;
      const e = this.#replies.get(o);
      if (e && compareVersions(e.version, best.version) >= 0) continue;
      stats.readRepairs++;
      if (o === self) {
        replica.apply(this.#key, best);
        continue;
      }
      payload ??= replicaPutWriter(this.#key, best, false);
      rpc.castRaw(o, ReplicaCommand.Put, payload);
    }
  }

  /** A step threw (a broken invariant): the read fails, once; it is counted where it was thrown. */
  #failOn(_error: unknown): void {
    if (this.#result !== undefined) return;
    this.#result = FAIL;
    this.#c.deps.stats.readsFailed++;
    this.#resolve?.(FAIL);
  }
}
