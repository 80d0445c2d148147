/**
 * The reply budget: so that a node cannot be used as an amplifier against a
 * forged source address, the client replies sent to one source prefix (/24 for
 * IPv4, /56 for IPv6) are limited in bytes per second with a burst (a token
 * bucket per prefix, as DNS servers' response rate limiting does), and a
 * cached reply is re-sent for one request id at most
 * {@linkcode MAX_CACHED_RESENDS} times. Trusted clients (loopback by default)
 * are exempt; what is over budget is dropped and counted.
 *
 * Cost on the request path: a trusted sender is one `Map` lookup per request
 * (the sender seen last is remembered, so its reply costs a comparison).
 * Memory: at most `maxPrefixes` buckets, `maxAddresses` sender entries and
 * `maxResendIds` re-send counts.
 *
 * @module
 */
import type { Clock } from "../base/clock.ts";
import type { Address } from "../net/transport.ts";
import { sourcePrefix } from "../net/source_networks.ts";
import { idKey } from "../wire/client_protocol.ts";

/** Re-sends of one cached reply allowed to an untrusted source (a retrying client sends at most 4 times in all). */
export const MAX_CACHED_RESENDS = 4;

/** Tunables of the reply budget, with named defaults in {@linkcode DEFAULT_REPLY_BUDGET}. */
export interface ReplyBudgetConfig {
  /** Reply bytes per second to one source prefix. */
  bytesPerSecond: number;
  /** Bytes a prefix may receive at once after being quiet (the bucket's size). */
  burstBytes: number;
  /** Prefixes tracked at once; when every one is busy, a new prefix gets no reply. */
  maxPrefixes: number;
  /** Sender addresses remembered (each points at its prefix or says "trusted"); cleared when full. */
  maxAddresses: number;
  /** Request ids whose cache re-sends are counted; the oldest is forgotten when full. */
  maxResendIds: number;
  /** How long a re-send count is kept (ms): the reply cache's time to live. */
  resendWindowMs: number;
}

/** Defaults: 1 MiB/s per prefix with a 1 MiB burst; 16,384 prefixes, addresses and ids; 5 s re-send window. */
export const DEFAULT_REPLY_BUDGET: ReplyBudgetConfig = {
  bytesPerSecond: 1024 * 1024,
  burstBytes: 1024 * 1024,
  maxPrefixes: 16_384,
  maxAddresses: 16_384,
  maxResendIds: 16_384,
  resendWindowMs: 5_000,
};

/** Smallest reply (id and code): a prefix with fewer bytes left gets no answer at all. */
const MIN_REPLY_BYTES = 17;
/** Oldest prefixes looked at for one that may be forgotten (full again) when the table is full. */
const EVICTION_SCAN = 16;

/** One prefix's token bucket. */
interface Bucket {
  tokens: number;
  at: number;
  prefix: string;
  evicted: boolean;
}

/** What was dropped. */
export interface ReplyBudgetStats {
  /** Requests and replies dropped because their prefix was over budget (or the table was full). */
  dropped: number;
  /** Cached replies not re-sent because their id was re-sent {@linkcode MAX_CACHED_RESENDS} times already. */
  resendsDropped: number;
  /** Prefixes forgotten to make room (full buckets only). */
  evicted: number;
}

/**
 * Bytes-per-second budgets of client replies by source prefix.
 *
 * @example
 * ```ts
 * import { VirtualClock } from "../base/clock.ts";
 * const budget = new ReplyBudget(new VirtualClock(), () => false, { bytesPerSecond: 1000, burstBytes: 1000 });
 * console.log(budget.charge("192.0.2.1:9", 800), budget.charge("192.0.2.2:9", 800)); // true false (same /24)
 * ```
 */
export class ReplyBudget {
  /** Drops counted. */
  readonly stats: ReplyBudgetStats = { dropped: 0, resendsDropped: 0, evicted: 0 };
  /** Tunables in force. */
  readonly config: ReplyBudgetConfig;
  readonly #clock: Clock;
  readonly #trusted: (from: Address) => boolean;
  // Sender → its bucket, or null when trusted.
  #byAddress = new Map<Address, Bucket | null>();
  #byPrefix = new Map<string, Bucket>();
  #resends = new Map<string, { count: number; since: number }>();
  #lastFrom: Address | undefined;
  #lastBucket: Bucket | null | undefined;

  /** Creates a budget; `trusted` says which senders are exempt. */
  constructor(clock: Clock, trusted: (from: Address) => boolean, config: Partial<ReplyBudgetConfig> = {}) {
    this.#clock = clock;
    this.#trusted = trusted;
    this.config = { ...DEFAULT_REPLY_BUDGET, ...config };
    const c = this.config;
    if (!(c.bytesPerSecond > 0) || !(c.burstBytes >= MIN_REPLY_BYTES)) {
      throw new RangeError(
        `The reply budget must be above 0 bytes per second with a burst of at least ${MIN_REPLY_BYTES} bytes`,
      );
    }
  }

  /** Prefixes tracked now. */
  get prefixes(): number {
    return this.#byPrefix.size;
  }

  /** Whether a request from `from` may be worked on: its prefix has room for a reply (dropped and counted if not). */
  allowsRequest(from: Address): boolean {
    const bucket = this.#bucket(from);
    if (bucket === null) return true;
    if (bucket !== undefined && this.#refill(bucket) >= MIN_REPLY_BYTES) return true;
    this.stats.dropped++;
    return false;
  }

  /** Takes `bytes` from `from`'s budget: false (and counted) when they do not fit, and then nothing is taken. */
  charge(from: Address, bytes: number): boolean {
    const bucket = this.#bucket(from);
    if (bucket === null) return true;
    if (bucket !== undefined && this.#refill(bucket) >= bytes) {
      bucket.tokens -= bytes;
      return true;
    }
    this.stats.dropped++;
    return false;
  }

  /** Whether the cached reply of `id` may be sent to `from` once more (counted when not). */
  allowsResend(from: Address, id: Uint8Array): boolean {
    if (this.#bucket(from) === null) return true;
    const now = this.#clock.now(), key = idKey(id);
    let entry = this.#resends.get(key);
    if (!entry || now - entry.since > this.config.resendWindowMs) {
      if (entry) this.#resends.delete(key);
      else if (this.#resends.size >= this.config.maxResendIds) {
        this.#resends.delete(this.#resends.keys().next().value!);
      }
      this.#resends.set(key, entry = { count: 0, since: now });
    }
    if (++entry.count <= MAX_CACHED_RESENDS) return true;
    this.stats.resendsDropped++;
    return false;
  }

  // The sender's bucket; null when trusted; undefined when there is no room for its prefix.
  #bucket(from: Address): Bucket | null | undefined {
    if (from === this.#lastFrom && this.#lastBucket !== undefined && !this.#lastBucket?.evicted) {
      return this.#lastBucket;
    }
    let bucket = this.#byAddress.get(from);
    if (bucket === undefined || bucket?.evicted) {
      bucket = this.#resolve(from);
      if (bucket === undefined) return undefined;
      if (this.#byAddress.size >= this.config.maxAddresses) this.#byAddress.clear();
      this.#byAddress.set(from, bucket);
    }
    this.#lastFrom = from;
    this.#lastBucket = bucket;
    return bucket;
  }

  #resolve(from: Address): Bucket | null | undefined {
    if (this.#trusted(from)) return null;
    const prefix = sourcePrefix(from) ?? from;
    const known = this.#byPrefix.get(prefix);
    if (known) return known;
    if (this.#byPrefix.size >= this.config.maxPrefixes && !this.#evictOne()) return undefined;
    const bucket: Bucket = { tokens: this.config.burstBytes, at: this.#clock.now(), prefix, evicted: false };
    this.#byPrefix.set(prefix, bucket);
    return bucket;
  }

  // Forgets one of the oldest prefixes whose bucket is full again (forgetting it gives nothing away).
  #evictOne(): boolean {
    let scanned = 0;
    for (const bucket of this.#byPrefix.values()) {
      if (scanned++ >= EVICTION_SCAN) break;
      if (this.#refill(bucket) >= this.config.burstBytes) {
        bucket.evicted = true;
        this.#byPrefix.delete(bucket.prefix);
        this.stats.evicted++;
        return true;
      }
    }
    return false;
  }

  #refill(bucket: Bucket): number {
    const now = this.#clock.now();
    if (now > bucket.at) {
      bucket.tokens = Math.min(
        this.config.burstBytes,
        bucket.tokens + ((now - bucket.at) * this.config.bytesPerSecond) / 1000,
      );
      bucket.at = now;
    }
    return bucket.tokens;
  }
}
