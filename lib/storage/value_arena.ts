/**
 * Values kept in large append-only segments instead of one buffer each: a value
 * costs its bytes, not a JS object, an `ArrayBuffer` and a malloc'd backing store.
 *
 * A segment is never written again below its fill mark, so a view handed out by
 * {@linkcode ValueArena.view} keeps its bytes for as long as it is referenced, even
 * after the value is replaced: replacing appends, and the old bytes become garbage.
 * A segment whose values are all gone is dropped (the GC frees it once no view of
 * it is left). The owner compacts: when the segments hold more than 1.25 times the
 * live bytes it moves the live values out of the emptiest segments
 * ({@linkcode ValueArena.compactionTargets}), so replaced values' space comes back
 * at the price of copying some live ones (`deno task bench:churn` measures both).
 *
 * Values start at multiples of 4 (the key table keeps an offset / 4), and at most
 * `maxSegments` segments are held at once ({@linkcode ValueArena.canStore}).
 *
 * @module
 */

/** Default segment size: 1 MiB (values are at most 15,000 bytes). */
export const DEFAULT_SEGMENT_BYTES = 1 << 20;

const EMPTY = new Uint8Array(0);
/** Segment number of an empty value (nothing stored). */
export const NO_SEGMENT = -1;
/** Compaction starts when the segments hold more than this many times the live bytes (plus two segments). */
export const COMPACT_AT = 1.25;
/** A compaction pass picks segments until it would bring them down to this many times the live bytes. */
export const COMPACT_TO = 1.1;
/** Segments fuller than this share of live bytes are never compacted (moving them would cost too much). */
export const COMPACT_MAX_LIVE = 0.8;
/** Values start at multiples of this many bytes. */
export const VALUE_ALIGNMENT = 4;

/** What an arena has done since it was made: how much of the space values freed came back. */
export interface ArenaCounters {
  /** Bytes of values released (replaced, deleted, or moved out by compaction). */
  releasedBytes: number;
  /** Bytes of segments dropped (given back to the runtime) since the arena was made. */
  droppedBytes: number;
  /** Bytes of segments opened since the arena was made. */
  openedBytes: number;
}

/**
 * Append-only value segments with live-byte accounting.
 *
 * @example
 * ```ts
 * const arena = new ValueArena(1024);
 * const segment = arena.store(new Uint8Array([1, 2, 3]));
 * console.log(arena.view(segment, arena.lastOffset, 3)); // Uint8Array(3) [ 1, 2, 3 ]
 * ```
 */
export class ValueArena {
  /** Bytes per segment (a longer value gets a segment of its own length). */
  readonly segmentBytes: number;
  #segments: (Uint8Array | undefined)[] = [];
  #live: number[] = [];
  #freeNumbers: number[] = [];
  #current = NO_SEGMENT;
  #fill = 0;
  #liveBytes = 0;
  #allocated = 0;
  #maxSegments: number;
  #held = 0;
  #counters: ArenaCounters = { releasedBytes: 0, droppedBytes: 0, openedBytes: 0 };
  /** Offset of the value last stored by {@linkcode ValueArena.store}. */
  lastOffset = 0;

  #onDrop: (segment: number) => void;

  /**
   * Creates an empty arena of `segmentBytes` segments; `onDrop` hears of each segment dropped
   * (its number may then be reused by a new segment); segment numbers stay below `maxSegments`.
   */
  constructor(
    segmentBytes: number = DEFAULT_SEGMENT_BYTES,
    onDrop: (segment: number) => void = () => {},
    maxSegments: number = Number.MAX_SAFE_INTEGER,
  ) {
    this.#onDrop = onDrop;
    if (!Number.isInteger(segmentBytes) || segmentBytes < 1) {
      throw new RangeError(`Segment size must be a positive whole number of bytes, got ${segmentBytes}`);
    }
    this.segmentBytes = segmentBytes;
    this.#maxSegments = maxSegments;
  }

  /** Running totals (a copy). */
  get counters(): ArenaCounters {
    return { ...this.#counters };
  }

  /** Whether a value of `length` bytes can be stored without a segment number beyond the limit. */
  canStore(length: number): boolean {
    return length === 0 || this.#fits(length) || this.#held < this.#maxSegments;
  }

  #fits(length: number): boolean {
    return this.#current !== NO_SEGMENT && this.#fill + length <= this.#segments[this.#current]!.length;
  }

  /** Bytes of the values stored and not released. */
  get liveBytes(): number {
    return this.#liveBytes;
  }

  /** Bytes of the segments held. */
  get allocatedBytes(): number {
    return this.#allocated;
  }

  /** Copies `value` in; returns its segment number ({@linkcode NO_SEGMENT} when empty) and sets `lastOffset`. */
  store(value: Uint8Array): number {
    const length = value.length;
    this.lastOffset = 0;
    if (length === 0) return NO_SEGMENT;
    if (!this.#fits(length)) this.#open(Math.max(this.segmentBytes, length));
    const segment = this.#current, offset = this.#fill;
    this.#segments[segment]!.set(value, offset);
    this.#fill += (length + VALUE_ALIGNMENT - 1) & -VALUE_ALIGNMENT;
    this.#live[segment] += length;
    this.#liveBytes += length;
    this.lastOffset = offset;
    return segment;
  }

  /** A view of a stored value (valid as long as it is referenced). */
  view(segment: number, offset: number, length: number): Uint8Array {
    return segment === NO_SEGMENT ? EMPTY : this.#segments[segment]!.subarray(offset, offset + length);
  }

  /** Marks a stored value's bytes garbage; drops its segment once nothing in it is live. */
  release(segment: number, length: number): void {
    if (segment === NO_SEGMENT) return;
    this.#live[segment] -= length;
    this.#liveBytes -= length;
    this.#counters.releasedBytes += length;
    if (this.#live[segment] === 0 && segment !== this.#current) this.#drop(segment);
  }

  /** Whether the segments hold more than {@linkcode COMPACT_AT} × the live bytes (plus two segments of slack). */
  get needsCompaction(): boolean {
    return this.#allocated > COMPACT_AT * this.#liveBytes + 2 * this.segmentBytes;
  }

  /**
   * Segments worth compacting, or none: when {@linkcode ValueArena.needsCompaction}, the emptiest
   * segments (but the current one, and none over {@linkcode COMPACT_MAX_LIVE} live) until their
   * garbage brings the segments down to {@linkcode COMPACT_TO} × the live bytes. The owner moves their
   * values ({@linkcode ValueArena.store} a copy, then {@linkcode ValueArena.release} the old one),
   * which drops them.
   */
  compactionTargets(): Set<number> {
    const targets = new Set<number>();
    if (!this.needsCompaction) return targets;
    const candidates: number[] = [];
    for (let s = 0; s < this.#segments.length; s++) {
      const seg = this.#segments[s];
      if (seg && s !== this.#current && this.#live[s] < COMPACT_MAX_LIVE * seg.length) candidates.push(s);
    }
    candidates.sort((a, b) => this.#live[a] / this.#segments[a]!.length - this.#live[b] / this.#segments[b]!.length);
    let excess = this.#allocated - COMPACT_TO * this.#liveBytes;
    for (const s of candidates) {
      if (excess <= 0) break;
      targets.add(s);
      excess -= this.#segments[s]!.length - this.#live[s];
    }
    return targets;
  }

  #open(bytes: number): void {
    const previous = this.#current;
    if (this.#held >= this.#maxSegments) throw new RangeError(`Value arena is full: ${this.#held} segments held`);
    const segment = this.#freeNumbers.pop() ?? this.#segments.length; // below #held + 1: every lower number is held
    this.#segments[segment] = new Uint8Array(bytes);
    this.#held++;
    this.#counters.openedBytes += bytes;
    this.#live[segment] = 0;
    this.#allocated += bytes;
    this.#current = segment;
    this.#fill = 0;
    if (previous !== NO_SEGMENT && this.#live[previous] === 0) this.#drop(previous);
  }

  #drop(segment: number): void {
    this.#allocated -= this.#segments[segment]!.length;
    this.#counters.droppedBytes += this.#segments[segment]!.length;
    this.#held--;
    this.#segments[segment] = undefined;
    this.#freeNumbers.push(segment);
    this.#onDrop(segment);
  }
}
