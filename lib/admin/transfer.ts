/**
 * Moving one pushed file between nodes. Its chunks (and the pieces of its
 * chunk-hash list, which come first in the index space) are pulled from peers
 * that have them with an adaptive window of parallel requests; every piece is
 * checked against the signed manifest and every chunk against its hash before
 * it is written. Any holder serves what it has, so nodes also pull from each
 * other while the file spreads.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { Clock, TimerId } from "../base/clock.ts";
import type { Random } from "../base/random.ts";
import type { Rpc } from "../wire/rpc.ts";
import type { Address } from "../net/transport.ts";
import { type ChunkStore, sha256Hex } from "./chunk_store.ts";
import { chunkCount, fromBase64, type PushSpec, toBase64 } from "./command.ts";
import type { AdminConfig } from "./config.ts";
import { AdminCommand, parseAdminHeader } from "./protocol.ts";

/** State of a transfer on this node. */
export type TransferState = "fetching" | "done" | "failed";

/** Options of a {@linkcode Transfer}. */
export interface TransferOptions {
  /** Command id. */
  id: string;
  /** The manifest. */
  spec: PushSpec;
  /** Where the bytes go. */
  store: ChunkStore;
  /** Internal RPC endpoint. */
  rpc: Rpc;
  /** Time source. */
  clock: Clock;
  /** Random source. */
  random: Random;
  /** Tunables. */
  config: AdminConfig;
  /** Candidate peers (alive members, self excluded). */
  peers: () => Address[];
  /** Called once when the file is complete and in place, or failed. */
  onEnd?: (state: TransferState, message: string) => void;
  /** Pieces already known (origin): the transfer starts complete. */
  seeded?: Uint8Array[];
}

interface Source {
  bitmap: Uint8Array | null;
  inflight: number;
  refreshing: boolean;
  lastRefresh: number;
  failures: number;
}

/** Counters of one transfer. */
export interface TransferStats {
  /** Chunks and pieces received and verified. */
  received: number;
  /** Chunks or pieces that failed their hash check. */
  bad: number;
  /** Requests that timed out. */
  timeouts: number;
  /** Chunks and pieces served to others. */
  served: number;
}

/**
 * One file on one node: downloading until complete, serving what it has.
 *
 * @example
 * ```ts ignore
 * const t = new Transfer({ id, spec, store, rpc, clock, random, config, peers: () => others });
 * t.start();
 * ```
 */
export class Transfer {
  /** Command id. */
  readonly id: string;
  /** The manifest. */
  readonly spec: PushSpec;
  /** Counters. */
  readonly stats: TransferStats = { received: 0, bad: 0, timeouts: 0, served: 0 };
  /** Addresses hinted as holders (the submitting kvctl). */
  readonly hints = new Set<Address>();
  #o: TransferOptions;
  #p: number;
  #n: number;
  #have: Uint8Array;
  #count = 0;
  #pieces: (Uint8Array | undefined)[];
  #inflight = new Set<number>();
  #order: number[] = [];
  #sources = new Map<Address, Source>();
  #window: number;
  #timer: TimerId | undefined;
  #state: TransferState = "fetching";
  #closed = false;
  #startedAt: number;

  /** Creates the transfer (call {@linkcode Transfer.start} to fetch). */
  constructor(options: TransferOptions) {
    this.#o = options;
    this.id = options.id;
    this.spec = options.spec;
    this.#p = options.spec.pieces.length;
    this.#n = chunkCount(options.spec.size, options.spec.chunkSize);
    this.#have = new Uint8Array(Math.ceil((this.#p + this.#n) / 8));
    this.#pieces = new Array(this.#p);
    this.#window = options.config.fetchWindow;
    this.#startedAt = options.clock.now();
    if (options.seeded) {
      options.seeded.forEach((p, i) => this.#pieces[i] = p);
      this.#have.fill(0xff);
      this.#count = this.total;
      this.#state = "done";
    }
  }

  /** Pieces plus chunks. */
  get total(): number {
    return this.#p + this.#n;
  }

  /** Pieces and chunks held. */
  get count(): number {
    return this.#count;
  }

  /** fetching, done or failed. */
  get state(): TransferState {
    return this.#state;
  }

  /** Base64 bitmap of what this node holds. */
  bitmap(): string {
    return toBase64(this.#have);
  }

  /** Starts fetching (no-op when complete). */
  start(): void {
    if (this.#state !== "fetching" || this.#closed) return;
    const pieces = shuffled(this.#o.random, Array.from({ length: this.#p }, (_, i) => i));
    const chunks = shuffled(this.#o.random, Array.from({ length: this.#n }, (_, i) => this.#p + i));
    this.#order = [...pieces, ...chunks];
    if (this.total === 0) {
      this.#complete();
      return;
    }
    this.#tick();
  }

  /** Serves index `i` if held. */
  async serve(i: number): Promise<Uint8Array | undefined> {
    if (i >= this.total || !this.#has(i) || this.#closed) return undefined;
    this.stats.served++;
    if (i < this.#p) return this.#pieces[i];
    const { chunkSize, size } = this.spec;
    const offset = (i - this.#p) * chunkSize;
    try {
      return await this.#o.store.read(offset, Math.min(chunkSize, size - offset));
    } catch {
      return undefined;
    }
  }

  /** Stops fetching and releases the store. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#o.store.close();
  }

  #has(i: number): boolean {
    return (this.#have[i >> 3] & (1 << (i & 7))) !== 0;
  }

  #tick(): void {
    if (this.#closed || this.#state !== "fetching") return;
    this.#refreshSources();
    this.#pump();
    this.#timer = this.#o.clock.setTimeout(() => this.#tick(), this.#o.config.haveRefreshMs);
  }

  #refreshSources(): void {
    const now = this.#o.clock.now();
    for (const [addr, s] of this.#sources) {
      if (s.failures >= 3 && !this.hints.has(addr)) this.#sources.delete(addr);
    }
    const want = this.#o.config.maxSources + this.hints.size;
    if (this.#sources.size < want) {
      const fresh = [...this.hints, ...shuffled(this.#o.random, this.#o.peers())];
      for (const a of fresh) {
        if (this.#sources.size >= want) break;
        if (!this.#sources.has(a)) {
          this.#sources.set(a, { bitmap: null, inflight: 0, refreshing: false, lastRefresh: -Infinity, failures: 0 });
        }
      }
    }
    for (const [addr, s] of this.#sources) {
      if (s.refreshing || now - s.lastRefresh < this.#o.config.haveRefreshMs) continue;
      s.refreshing = true;
      this.#o.rpc.call(addr, AdminCommand.Have, { id: this.id }, undefined, {
        timeoutMs: this.#o.config.rpcTimeoutMs,
        retries: 0,
      }).then((reply) => {
        const h = parseAdminHeader("haveReply", reply.header);
        s.lastRefresh = this.#o.clock.now();
        if (typeof h?.have === "string") {
          try {
            s.bitmap = fromBase64(h.have);
            s.failures = 0;
          } catch {
            s.failures++;
          }
        } else s.failures++;
      }, () => {
        s.lastRefresh = this.#o.clock.now();
        s.failures++;
      }).finally(() => {
        s.refreshing = false;
        this.#pump();
      });
    }
  }

  #pump(): void {
    if (this.#closed || this.#state !== "fetching") return;
    const holders = [...this.#sources.entries()].filter(([, s]) => s.bitmap !== null);
    if (holders.length === 0) return;
    const perSource = Math.ceil(this.#window / holders.length) + 1;
    let scanned = 0;
    let write = 0;
    const order = this.#order;
    for (let k = 0; k < order.length; k++) {
      const i = order[k];
      if (this.#has(i)) continue; // compact away what arrived
      order[write++] = i;
      if (this.#inflight.size >= Math.floor(this.#window) || scanned > 512) continue;
      if (this.#inflight.has(i)) continue;
      scanned++;
      if (i >= this.#p && !this.#pieces[Math.floor((i - this.#p) / (this.spec.chunkSize / 32))]) continue;
      // Peers first; the hinted origin (often a laptop on a slow uplink) only for what no peer has yet.
      let best: [Address, Source] | undefined;
      let bestHint: [Address, Source] | undefined;
      for (const h of holders) {
        const bm = h[1].bitmap!;
        if ((bm[i >> 3] & (1 << (i & 7))) === 0 || h[1].inflight >= perSource) continue;
        if (this.hints.has(h[0])) {
          if (!bestHint || h[1].inflight < bestHint[1].inflight) bestHint = h;
        } else if (!best || h[1].inflight < best[1].inflight) best = h;
      }
      best ??= bestHint;
      if (best) this.#request(i, best[0], best[1]);
    }
    order.length = write;
  }

  #request(i: number, addr: Address, source: Source): void {
    this.#inflight.add(i);
    source.inflight++;
    const cfg = this.#o.config;
    this.#o.rpc.call(addr, AdminCommand.Chunk, { id: this.id, i }, undefined, {
      timeoutMs: cfg.chunkTimeoutMs,
      retries: 0,
    }).then(async (reply) => {
      const h = parseAdminHeader("chunkReply", reply.header);
      if (!h || h.missing || h.i !== i) {
        if (source.bitmap) source.bitmap[i >> 3] &= ~(1 << (i & 7));
        return;
      }
      if (!this.#verify(i, reply.body)) {
        this.stats.bad++;
        if (source.bitmap) source.bitmap[i >> 3] &= ~(1 << (i & 7));
        return;
      }
      if (i < this.#p) this.#pieces[i] = reply.body.slice();
      else await this.#o.store.write((i - this.#p) * this.spec.chunkSize, reply.body);
      this.#have[i >> 3] |= 1 << (i & 7);
      this.#count++;
      this.stats.received++;
      this.#window = Math.min(cfg.maxFetchWindow, this.#window + 0.5);
    }, () => {
      this.stats.timeouts++;
      this.#window = Math.max(1, this.#window / 2);
    }).catch(() => {/* store closed or write failed: retried at the next tick */}).finally(() => {
      this.#inflight.delete(i);
      source.inflight--;
      if (this.#count === this.total) this.#complete();
      else this.#pump();
    });
  }

  #verify(i: number, body: Uint8Array): boolean {
    const { chunkSize, size } = this.spec;
    if (i < this.#p) return sha256Hex(body) === this.spec.pieces[i];
    const c = i - this.#p;
    const expectedLength = Math.min(chunkSize, size - c * chunkSize);
    if (body.length !== expectedLength) return false;
    const perPiece = chunkSize / 32;
    const piece = this.#pieces[Math.floor(c / perPiece)];
    if (!piece) return false;
    const at = (c % perPiece) * 32;
    const want = piece.subarray(at, at + 32);
    const got = createHash("sha256").update(body).digest();
    for (let k = 0; k < 32; k++) if (got[k] !== want[k]) return false;
    return true;
  }

  #complete(): void {
    if (this.#state !== "fetching" || this.#closed) return;
    this.#state = "done"; // stops pumping; reverted to failed below if the file does not check out
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    const secs = (this.#o.clock.now() - this.#startedAt) / 1000;
    this.#o.store.finish(this.spec.sha256, this.spec.mode).then(() => {
      const rate = secs > 0 ? ` (${(this.spec.size / 1048576 / secs).toFixed(1)} MiB/s)` : "";
      this.#o.onEnd?.("done", `wrote ${this.spec.size} bytes, SHA-256 verified, in ${secs.toFixed(2)} s${rate}`);
    }, (e) => {
      this.#state = "failed";
      this.#o.onEnd?.("failed", (e as Error).message);
    });
  }
}

function shuffled<T>(random: Random, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}
