/**
 * Freshness of internal frames: each frame carries its sender's time and a nonce (a random
 * session id and a sequence number within it), covered by the tag. A receiver drops a frame whose
 * time is outside its window around its own clock ("stale"), or whose nonce it has seen
 * ("replay"), so a captured frame cannot be replayed, now or later.
 *
 * Memory is bounded: per session, the highest sequence seen and a bitmap of the
 * {@linkcode REPLAY_WINDOW_FRAMES} below it (as IPsec's and DTLS's anti-replay windows); a session
 * is forgotten once its newest frame is older than the time window (every frame of it would be
 * stale by then), and the sessions held are capped ({@linkcode MAX_SESSIONS}). Only senders
 * holding the cluster key make sessions: the guard runs after the tag is checked.
 *
 * @module
 */

/** Default freshness window (ms): frames more than this far from the receiver's clock are dropped. */
export const DEFAULT_FRESHNESS_WINDOW_MS = 30_000;
/** Sequence numbers below a session's highest that are still told apart (older ones count as replays). */
export const REPLAY_WINDOW_FRAMES = 1_024;
/** Sessions remembered at most; beyond it the oldest is forgotten (and counted). */
export const MAX_SESSIONS = 16_384;
/** Sessions checked for expiry per new session (amortised sweep). */
const SWEEP_PER_INSERT = 4;

const WORDS = REPLAY_WINDOW_FRAMES / 32;

interface Session {
  /** Highest sequence seen. */
  high: number;
  /** Sender time of the newest frame (for expiry). */
  newest: number;
  /** Bit s % WINDOW set: sequence s seen (for s in (high − WINDOW, high]). */
  bits: Uint32Array;
}

/** What the guard decided about one frame. */
export type FreshnessVerdict = "fresh" | "stale" | "replay";

/** Counters of a {@linkcode FreshnessGuard}. */
export interface FreshnessStats {
  /** Frames dropped as replays (a nonce seen before, or too far behind its session). */
  replays: number;
  /** Frames dropped for a time outside the window. */
  stale: number;
  /** Offset (ms, sender minus receiver) of the last stale frame; 0 before any. */
  lastSkewMs: number;
  /** Sessions forgotten early because {@linkcode MAX_SESSIONS} were held. */
  evicted: number;
}

/**
 * Remembers the nonces of the fresh frames it passed.
 *
 * @example
 * ```ts
 * const guard = new FreshnessGuard(30_000);
 * console.log(guard.check(1_000, 7, 1, 1_000)); // "fresh"
 * console.log(guard.check(1_000, 7, 1, 1_000)); // "replay"
 * console.log(guard.check(1_000, 7, 2, 40_000)); // "stale"
 * ```
 */
export class FreshnessGuard {
  /** Window (ms) around the receiver's clock. */
  readonly windowMs: number;
  /** Counters. */
  readonly stats: FreshnessStats = { replays: 0, stale: 0, lastSkewMs: 0, evicted: 0 };
  #sessions = new Map<number, Session>();

  /** A guard with a window of `windowMs` (ms, at least 1). */
  constructor(windowMs: number = DEFAULT_FRESHNESS_WINDOW_MS) {
    if (!(windowMs >= 1)) throw new RangeError(`Freshness window must be at least 1 ms, got ${windowMs}`);
    this.windowMs = windowMs;
  }

  /** Sessions held now. */
  get sessions(): number {
    return this.#sessions.size;
  }

  /**
   * Decides about a frame stamped `time` with nonce (`session`, `sequence`) received at `now`,
   * and remembers the nonce when fresh.
   */
  check(time: number, session: number, sequence: number, now: number): FreshnessVerdict {
    const skew = time - now;
    if (skew > this.windowMs || skew < -this.windowMs) {
      this.stats.stale++;
      this.stats.lastSkewMs = skew;
      return "stale";
    }
    let s = this.#sessions.get(session);
    if (s === undefined) {
      s = { high: 0, newest: time, bits: new Uint32Array(WORDS) };
      this.#insert(session, s, now);
    }
    if (sequence > s.high) {
      this.#advance(s, sequence);
    } else if (sequence <= s.high - REPLAY_WINDOW_FRAMES || this.#seen(s, sequence)) {
      this.stats.replays++;
      return "replay";
    }
    s.bits[(sequence % REPLAY_WINDOW_FRAMES) >>> 5] |= 1 << (sequence & 31);
    if (time > s.newest) s.newest = time;
    return "fresh";
  }

  #seen(s: Session, sequence: number): boolean {
    return (s.bits[(sequence % REPLAY_WINDOW_FRAMES) >>> 5] & (1 << (sequence & 31))) !== 0;
  }

  // Moves the session's high mark to `sequence`, clearing the bits of the sequences passed over.
  #advance(s: Session, sequence: number): void {
    if (sequence - s.high >= REPLAY_WINDOW_FRAMES) s.bits.fill(0);
    else {
      for (let q = s.high + 1; q <= sequence; q++) {
        s.bits[(q % REPLAY_WINDOW_FRAMES) >>> 5] &= ~(1 << (q & 31));
      }
    }
    s.high = sequence;
  }

  // Adds a session. First looks at a few of the oldest held: an expired one is forgotten, a live one
  // goes to the back (so the sweep moves on); when still full, the oldest is forgotten, counted.
  #insert(id: number, s: Session, now: number): void {
    const sessions = this.#sessions;
    let looked = 0;
    for (const [key, old] of sessions) {
      if (looked++ >= SWEEP_PER_INSERT) break;
      sessions.delete(key);
      if (now - old.newest <= this.windowMs) sessions.set(key, old);
    }
    if (sessions.size >= MAX_SESSIONS) {
      for (const key of sessions.keys()) {
        sessions.delete(key);
        this.stats.evicted++;
        break;
      }
    }
    sessions.set(id, s);
  }
}
