/**
 * Values kept in large segments instead of one buffer each: a value costs its
 * bytes, not a JS object, an `ArrayBuffer` and a malloc'd backing store.
 *
 * Values are appended to the open segment; a replaced value's bytes become
 * garbage. A segment whose values are all gone is dropped, and its buffer is
 * kept for the next segments (a quarter of the bytes held, at least {@linkcode SPARE_SEGMENTS}), so under
 * churn the same memory is written again instead of being freed to the garbage
 * collector and allocated anew: freed buffers wait for a GC, and malloc kept
 * what they had held resident (a node under overwrites held some 100 MiB more
 * than its segments). The owner compacts: when the segments hold more than 1.25
 * times the live bytes it moves the live values out of the emptiest segments
 * ({@linkcode ValueArena.compactionTargets}), which drops them.
 *
 * So a view from {@linkcode ValueArena.view} is valid only until the next
 * {@linkcode ValueArena.store}: whoever keeps a value longer copies it.
 *
 * Values start at multiples of 8 (the key table keeps an offset / 8), and at most
 * `maxSegments` segments are held at once ({@linkcode ValueArena.canStore}).
 *
 * @module
 */

/** Default segment size: 1 MiB (values are at most 15,000 bytes). */
export const DEFAULT_SEGMENT_BYTES = 1 << 20;
/**
 * Dropped segments whose buffers are kept for reuse: at least this many, and up to a quarter of
 * the bytes of the segments held (a compaction pass drops its segments in a burst).
 */
export const SPARE_SEGMENTS = 2;
/** Share of the held segments' bytes that spare buffers may reach. */
const SPARE_SHARE = 0.25;
/** Slack a compaction leaves: segments may hold this much more than the ratio allows. */
export const COMPACT_SLACK_BYTES = 4 << 20;

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
export const VALUE_ALIGNMENT = 8;

/** What an arena has done since it was made: how much of the space values freed came back. */
export interface ArenaCounters {
  /** Bytes of values released (replaced, deleted, or moved out by compaction). */
  releasedBytes: number;
  /** Bytes of segments dropped (given back to the runtime) since the arena was made. */
  droppedBytes: number;
  /** Bytes of segments opened since the arena was made. */
  openedBytes: number;
  /** Bytes of segments opened on the buffer of a dropped one (memory written again, not allocated). */
  reusedBytes: number;
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
  #spare: Uint8Array[] = [];
  #held = 0;
  #counters: ArenaCounters = { releasedBytes: 0, droppedBytes: 0, openedBytes: 0, reusedBytes: 0 };
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

  /** Bytes of the segments held (not counting spare buffers). */
  get allocatedBytes(): number {
    return this.#allocated;
  }

  /** Bytes of the dropped segments' buffers kept for reuse. */
  get spareBytes(): number {
    return this.#spare.length * this.segmentBytes;
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

  /** A view of a stored value, valid until the next {@linkcode ValueArena.store} (copy it to keep it). */
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

  /** Bytes of the segments written (the open segment's tail is not, so its pages are not resident). */
  get writtenBytes(): number {
    return this.#allocated - (this.#current === NO_SEGMENT ? 0 : this.#segments[this.#current]!.length - this.#fill);
  }

  /**
   * Whether the segments written hold more than {@linkcode COMPACT_AT} × the live bytes, plus
   * {@linkcode COMPACT_SLACK_BYTES} or two segments, whichever is less.
   */
  get needsCompaction(): boolean {
    const slack = Math.min(COMPACT_SLACK_BYTES, 2 * this.segmentBytes);
    return this.writtenBytes > COMPACT_AT * this.#liveBytes + slack;
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
    let excess = this.writtenBytes - COMPACT_TO * this.#liveBytes;
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
    const spare = bytes === this.segmentBytes ? this.#spare.pop() : undefined;
    this.#segments[segment] = spare ?? new Uint8Array(bytes);
    this.#held++;
    this.#counters.openedBytes += bytes;
    if (spare) this.#counters.reusedBytes += bytes;
    this.#live[segment] = 0;
    this.#allocated += bytes;
    this.#current = segment;
    this.#fill = 0;
    if (previous !== NO_SEGMENT && this.#live[previous] === 0) this.#drop(previous);
  }

  #drop(segment: number): void {
    const buffer = this.#segments[segment]!;
    this.#allocated -= buffer.length;
    this.#counters.droppedBytes += buffer.length;
    this.#held--;
    const room = Math.max(SPARE_SEGMENTS, Math.floor((SPARE_SHARE * this.#allocated) / this.segmentBytes));
    if (buffer.length === this.segmentBytes && this.#spare.length < room) this.#spare.push(buffer);
    this.#segments[segment] = undefined;
    this.#freeNumbers.push(segment);
    this.#onDrop(segment);
  }
}
