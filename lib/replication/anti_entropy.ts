/**
 * Anti-entropy: replicas compare per-range digests and exchange what differs.
 *
 * For every pair of nodes that share preference lists, the keys both own are
 * split into `digestBuckets` contiguous ranges of the ring; a bucket's digest
 * combines a hash of (key, version, tombstone) of each entry (XOR and sum of
 * two 32-bit hashes, so it does not depend on order, and a write updates it
 * in place: `range_digests.ts`; an idle round reads no key). Each round a node sends
 * its digests to every replica peer; the peer answers with the buckets that
 * differ; the node lists its versions in those buckets; the peer answers which
 * it wants and which it holds newer (and how many in all, when they do not
 * all fit); the node pushes the former and fetches the latter. One round
 * therefore repairs both directions.
 *
 * @module
 */
import { compareVersions } from "../storage/hlc.ts";
import type { InternalMessage } from "../wire/envelope.ts";
import type { Rpc, RpcAnswer } from "../wire/rpc.ts";
import type { Entry } from "../storage/store.ts";
import type { Address } from "../net/transport.ts";
import { replicaCallOptions, type ReplicaDeps } from "./local_replica.ts";
import {
  batches,
  decodeEntries,
  decodeVersions,
  encodeEntries,
  encodeVersions,
  entrySize,
  type KeyedEntry,
  type KeyedVersion,
  ReplicaCommand,
  versionSize,
} from "./replica_protocol.ts";
import {
  digestReplyHeader,
  digestRequestHeader,
  fetchReplyHeader,
  fetchRequestHeader,
  keysReplyHeader,
  keysRequestHeader,
  MAX_FETCH_KEYS,
  parseDigestReply,
  parseDigestRequest,
  parseFetchReply,
  parseFetchRequest,
  parseKeysReply,
  parseKeysRequest,
} from "./replica_messages.ts";
import { bucketOf, keyPositionHex, type Ring } from "./ring.ts";
import { RangeDigests } from "./range_digests.ts";

/** Outcome of one anti-entropy round. */
export interface AntiEntropyResult {
  /** Peers whose digests were compared. */
  peers: number;
  /** Buckets that differed (summed over peers). */
  differingBuckets: number;
  /** Entries pushed to peers. */
  pushed: number;
  /** Entries fetched from peers. */
  fetched: number;
  /** Peers that did not answer (the round with them is retried next time). */
  failedPeers: number;
  /**
   * Entries the peers said they hold and this node lacks (or holds older), summed over peers,
   * less those fetched in this round: what is still to come (a key missing here is counted by
   * each peer that holds it).
   */
  behind: number;
  /** Entries the peers could not list in their answers for lack of room (fetched by a later round). */
  truncated: number;
}

/**
 * A peer did not compare digests (its table is for another placement, or another bucket count):
 * the pair is not known to be in sync, and the round counts the peer as failed.
 *
 * @example
 * ```ts
 * const e = new DigestMismatchError("10.0.0.2:4000", "placement");
 * console.log(e.message); // 10.0.0.2:4000 did not compare digests: placement
 * ```
 */
export class DigestMismatchError extends Error {
  /** Creates the error for `peer`, which answered `reason`. */
  constructor(peer: Address, reason: string) {
    super(`${peer} did not compare digests: ${reason}`);
    this.name = "DigestMismatchError";
  }
}

/** Options of one anti-entropy round. */
export interface AntiEntropyRunOptions {
  /**
   * Run even when this node holds nothing (normally peers holding its keys start the exchange):
   * a restarted empty node uses it to learn what it lacks and to fetch it.
   */
  evenIfEmpty?: boolean;
  /** Start a new round even if one is running (after it ends), so the result reflects the state from now on. */
  fresh?: boolean;
}

/**
 * Runs digest rounds with replica peers and answers theirs.
 *
 * @example
 * ```ts ignore
 * const ae = new AntiEntropy(deps);
 * ae.register(node.rpc);
 * const r = await ae.run();
 * console.log(r.pushed, r.fetched);
 * ```
 */
export class AntiEntropy {
  /** The digest tables, kept up to date on every write. */
  readonly ranges: RangeDigests;
  #deps: ReplicaDeps;
  #neighbours: { ring: Ring; n: number; peers: Address[] } | undefined;
  #running: Promise<AntiEntropyResult> | undefined;

  /** Creates anti-entropy for the node described by `deps`. */
  constructor(deps: ReplicaDeps) {
    this.#deps = deps;
    this.ranges = new RangeDigests(deps);
  }

  /** Registers the digest, keys and fetch handlers. */
  register(rpc: Rpc): void {
    rpc.handle(ReplicaCommand.Digest, (m, from) => this.#onDigest(m, from));
    rpc.handle(ReplicaCommand.Keys, (m, from) => this.#onKeys(m, from));
    rpc.handle(ReplicaCommand.Fetch, (m) => this.#onFetch(m));
  }

  /** Keys of the pair (self, peer) in `buckets` (all buckets when omitted), as this node sees the ring. */
  #pairVersions(peer: Address, buckets?: Set<number>): KeyedVersion[] {
    const { self, store, placement, replica, config } = this.#deps;
    const ring = placement.ring(), n = placement.n();
    const out: KeyedVersion[] = [];
    for (const [key, e] of store.entries()) {
      const pos = keyPositionHex(key);
      if (buckets && !buckets.has(bucketOf(pos, config.digestBuckets))) continue;
      if (replica.expired(e)) continue;
      const owners = ring.preferenceListAt(pos, n);
      if (owners.includes(self) && owners.includes(peer)) {
        out.push({ key, version: e.version, tombstone: e.tombstone });
      }
    }
    return out;
  }

  /**
   * Digest tables of every replica pair this node is part of, by peer: (XOR, sum) per bucket, then
   * the pair's total (`range_digests.ts`: kept up to date on each write, rebuilt when the ring
   * changes). Live: read them, do not keep or modify them.
   */
  digests(): Map<Address, Uint32Array> {
    return this.ranges.tables();
  }

  /** Deletes tombstones past their grace period, scanning the store only when some are held; returns how many. */
  collectExpired(): number {
    return this.ranges.collectExpired();
  }

  /** Detaches the digest tables from the store. */
  close(): void {
    this.ranges.close();
  }

  /** Peers sharing at least one preference list with this node. */
  peers(): Address[] {
    const { self, placement } = this.#deps;
    const ring = placement.ring(), n = placement.n();
    if (this.#neighbours?.ring !== ring || this.#neighbours.n !== n) {
      this.#neighbours = { ring, n, peers: [...ring.neighbours(self, n)].sort() };
    }
    return this.#neighbours.peers;
  }

  /** One round with every replica peer (concurrent calls share the running round). */
  run(options: AntiEntropyRunOptions = {}): Promise<AntiEntropyResult> {
    // A node without data has nothing to offer; peers holding its keys start the exchange.
    if (this.#deps.store.size === 0 && !options.evenIfEmpty) {
      return Promise.resolve({
        peers: 0,
        differingBuckets: 0,
        pushed: 0,
        fetched: 0,
        failedPeers: 0,
        behind: 0,
        truncated: 0,
      });
    }
    if (options.fresh && this.#running) {
      const again = () => this.run({ ...options, fresh: false });
      return this.#running.then(again, again);
    }
    this.#running ??= this.#run().finally(() => this.#running = undefined);
    return this.#running;
  }

  async #run(): Promise<AntiEntropyResult> {
    const { stats, clock } = this.#deps;
    const result: AntiEntropyResult = {
      peers: 0,
      differingBuckets: 0,
      pushed: 0,
      fetched: 0,
      failedPeers: 0,
      behind: 0,
      truncated: 0,
    };
    for (const peer of this.peers()) {
      try {
        await this.#syncWith(peer, result);
        result.peers++;
      } catch {
        result.failedPeers++; // peer unreachable or lossy: try again next round
      }
    }
    stats.antiEntropyRounds++;
    if (result.pushed === 0 && result.fetched === 0) stats.lastQuietRound = clock.now();
    return result;
  }

  async #syncWith(peer: Address, result: AntiEntropyResult): Promise<void> {
    const { rpc, config } = this.#deps;
    const options = replicaCallOptions(config);
    const bucketCount = config.digestBuckets;
    const mine = this.digests().get(peer) ?? new Uint32Array(2 * bucketCount + 2);
    const placement = this.ranges.placementFingerprint;
    // First the 16-byte total of the pair; the 8 B-per-bucket table only when the totals differ.
    const totals = [mine[2 * bucketCount], mine[2 * bucketCount + 1]] as const;
    let reply = parseDigestReply(
      (await rpc.call(
        peer,
        ReplicaCommand.Digest,
        digestRequestHeader({ bucketCount, totals, placement }),
        undefined,
        options,
      ))
        .header,
      bucketCount,
    );
    if (reply.more) {
      const table = new Uint8Array(mine.buffer.slice(0, 8 * bucketCount));
      const r = await rpc.call(
        peer,
        ReplicaCommand.Digest,
        digestRequestHeader({ bucketCount, placement }),
        table,
        options,
      );
      reply = parseDigestReply(r.header, bucketCount);
    }
    // Not compared (another ring, another bucket count): not "in sync"; the round counts the peer as failed.
    if (reply.error !== undefined) throw new DigestMismatchError(peer, reply.error);
    const diff = reply.differing;
    if (diff.length === 0) return;
    result.differingBuckets += diff.length;
    const budget = config.maxMessageBytes - 200;
    // Group whole buckets into messages that fit.
    const byBucket = new Map<number, KeyedVersion[]>(diff.map((b) => [b, []]));
    for (const v of this.#pairVersions(peer, new Set(diff))) {
      byBucket.get(bucketOf(keyPositionHex(v.key), config.digestBuckets))?.push(v);
    }
    const groups = batches(
      [...byBucket],
      ([, list]) => list.reduce((s, v) => s + versionSize(v), 0) + 8,
      budget,
    );
    for (const group of groups) {
      // An oversized bucket is truncated: the peer's answer still names what it holds beyond the
      // list, and the peer's own rounds (listing its keys to us) cover the other direction.
      const list = batches(group.flatMap(([, l]) => l), versionSize, budget)[0] ?? [];
      const header = keysRequestHeader({ buckets: group.map(([b]) => b), bucketCount: config.digestBuckets });
      const r = await rpc.call(peer, ReplicaCommand.Keys, header, encodeVersions(list), options);
      const { want, lack } = parseKeysReply(r.header, list.length);
      const newer = decodeVersions(r.body) ?? [];
      // How many the peer holds that this node lacks (all of them, listed or not; peers of older
      // versions do not say: then what they listed).
      const lacking = lack !== undefined && lack >= newer.length ? lack : newer.length;
      result.pushed += await this.#push(peer, want.map((i) => list[i]));
      const fetched = await this.#fetch(peer, newer);
      result.fetched += fetched;
      result.behind += Math.max(0, lacking - fetched);
      result.truncated += lacking - newer.length;
    }
  }

  /** Pushes the current entries of `versions` to `peer`; returns how many were sent. */
  async #push(peer: Address, versions: KeyedVersion[]): Promise<number> {
    const { rpc, store, config } = this.#deps;
    const items: KeyedEntry[] = [];
    for (const v of versions) {
      const e = store.getEntry(v.key);
      if (e) items.push({ key: v.key, entry: e });
    }
    for (const b of batches(items, entrySize, config.maxMessageBytes - 200)) {
      await rpc.call(peer, ReplicaCommand.Push, {}, encodeEntries(b), replicaCallOptions(config));
      this.#deps.stats.antiEntropyPushed += b.length;
    }
    return items.length;
  }

  /** Fetches `versions` from `peer` and applies them; returns how many were applied. */
  async #fetch(peer: Address, versions: KeyedVersion[]): Promise<number> {
    const { rpc, replica, config } = this.#deps;
    let keys = versions.map((v) => v.key);
    let count = 0;
    while (keys.length > 0) {
      const ask = keys.slice(0, MAX_FETCH_KEYS);
      const header = fetchRequestHeader({ keys: ask });
      const r = await rpc.call(peer, ReplicaCommand.Fetch, header, undefined, replicaCallOptions(config));
      const reply = parseFetchReply(r.header);
      const entries = decodeEntries(r.body);
      if (!entries || !reply) break;
      const done = reply.done;
      for (const { key, entry } of entries) {
        if (replica.apply(key, entry) === "ok") {
          count++;
          this.#deps.stats.antiEntropyFetched++;
          this.#deps.noteWrite(key);
        }
      }
      keys = keys.slice(Math.min(done, ask.length));
    }
    return count;
  }

  #onDigest(m: InternalMessage, from: Address): RpcAnswer {
    const B = this.#deps.config.digestBuckets;
    const request = parseDigestRequest(m.header);
    const wrongCount = digestReplyHeader({ differing: [], more: false, error: "bucket count" });
    if (request?.bucketCount !== B) return { header: wrongCount };
    const mine = this.digests().get(from);
    if (request.placement !== undefined && request.placement !== this.ranges.placementFingerprint) {
      this.#deps.stats.digestPlacementMismatches++;
      return { header: digestReplyHeader({ differing: [], more: false, error: "placement" }) };
    }
    if (m.body.length === 0) {
      const x = mine ? mine[2 * B] : 0, y = mine ? mine[2 * B + 1] : 0;
      const same = request.totals !== undefined && request.totals[0] === x && request.totals[1] === y;
      return { header: digestReplyHeader({ differing: [], more: !same }) };
    }
    if (m.body.length !== 8 * B) return { header: wrongCount };
    const theirs = new Uint32Array(m.body.slice().buffer);
    const d: number[] = [];
    for (let b = 0; b < B; b++) {
      const a1 = mine ? mine[2 * b] : 0, a2 = mine ? mine[2 * b + 1] : 0;
      if (a1 !== theirs[2 * b] || a2 !== theirs[2 * b + 1]) d.push(b);
    }
    return { header: digestReplyHeader({ differing: d, more: false }) };
  }

  #onKeys(m: InternalMessage, from: Address): RpcAnswer {
    const B = this.#deps.config.digestBuckets;
    const request = parseKeysRequest(m.header, B);
    const theirs = decodeVersions(m.body);
    if (!theirs || !request) return undefined;
    const buckets = new Set(request.buckets);
    const mine = new Map<string, KeyedVersion>();
    for (const v of this.#pairVersions(from, buckets)) mine.set(v.key, v);
    const store = this.#deps.store;
    const want: number[] = [];
    const seen = new Set<string>();
    theirs.forEach((v, i) => {
      seen.add(v.key);
      const cur = store.getEntry(v.key);
      if (!cur || compareVersions(cur.version, v.version) < 0) want.push(i);
    });
    const newer: KeyedVersion[] = [];
    let size = 0, lack = 0;
    const budget = this.#deps.config.maxMessageBytes - 200 - 8 * want.length;
    const consider = (v: KeyedVersion) => {
      lack++;
      const s = versionSize(v);
      if (size + s > budget) return;
      size += s;
      newer.push(v);
    };
    for (const v of theirs) {
      const cur = store.getEntry(v.key);
      if (cur && compareVersions(cur.version, v.version) > 0) {
        consider({ key: v.key, version: cur.version, tombstone: cur.tombstone });
      }
    }
    for (const [k, v] of mine) if (!seen.has(k)) consider(v);
    // `lack`: how many entries the asker lacks here in all (those listed and those left out for room).
    return { header: keysReplyHeader({ want, lack }), body: encodeVersions(newer) };
  }

  #onFetch(m: InternalMessage): RpcAnswer {
    const request = parseFetchRequest(m.header);
    if (!request) return undefined;
    const { replica, config } = this.#deps;
    const items: KeyedEntry[] = [];
    let size = 0, done = 0;
    for (const k of request.keys) {
      if (k === null) {
        done++;
        continue;
      }
      const e: Entry | undefined = replica.read(k);
      if (e) {
        const item = { key: k, entry: e };
        const s = entrySize(item);
        if (items.length > 0 && size + s > config.maxMessageBytes - 200) break;
        size += s;
        items.push(item);
      }
      done++;
    }
    return { header: fetchReplyHeader({ done }), body: encodeEntries(items) };
  }
}
