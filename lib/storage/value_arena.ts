/**
 * Values kept in large append-only segments instead of one buffer each: a value
 * costs its bytes, not a JS object, an `ArrayBuffer` and a malloc'd backing store.
 *
 * A segment is never written again below its fill mark, so a view handed out by
 * {@linkcode ValueArena.view} keeps its bytes for as long as it is referenced, even
 * after the value is replaced: replacing appends, and the old bytes become garbage.
 * A segment whose values are all gone is dropped (the GC frees it once no view of
 * it is left). The owner compacts: when garbage outweighs live bytes it moves the
 * live values out of the emptiest segments ({@linkcode ValueArena.compactionTargets}).
 *
 * @module
 */

/** Default segment size: 1 MiB (values are at most 15,000 bytes). */
export const DEFAULT_SEGMENT_BYTES = 1 << 20;

const EMPTY = new Uint8Array(0);
/** Segment number of an empty value (nothing stored). */
export const NO_SEGMENT = -1;

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
  /** Offset of the value last stored by {@linkcode ValueArena.store}. */
  lastOffset = 0;

  #onDrop: (segment: number) => void;

  /**
   * Creates an empty arena of `segmentBytes` segments; `onDrop` hears of each segment dropped
   * (its number may then be reused by a new segment).
   */
  constructor(segmentBytes: number = DEFAULT_SEGMENT_BYTES, onDrop: (segment: number) => void = () => {}) {
    this.#onDrop = onDrop;
    if (!Number.isInteger(segmentBytes) || segmentBytes < 1) {
      throw new RangeError(`Segment size must be a positive whole number of bytes, got ${segmentBytes}`);
    }
    this.segmentBytes = segmentBytes;
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
    if (this.#current === NO_SEGMENT || this.#fill + length > this.#segments[this.#current]!.length) {
      this.#open(Math.max(this.segmentBytes, length));
    }
    const segment = this.#current, offset = this.#fill;
    this.#segments[segment]!.set(value, offset);
    this.#fill += length;
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
    if (this.#live[segment] === 0 && segment !== this.#current) this.#drop(segment);
  }

  /** Whether the segments hold more than twice the live bytes (plus two segments of slack). */
  get needsCompaction(): boolean {
    return this.#allocated > 2 * this.#liveBytes + 2 * this.segmentBytes;
  }

  /**
   * Segments worth compacting, or none: when {@linkcode ValueArena.needsCompaction}, every
   * segment but the current one that is under half live. The owner moves their values
   * ({@linkcode ValueArena.store} a copy, then {@linkcode ValueArena.release} the old one),
   * which drops them.
   */
  compactionTargets(): Set<number> {
    const targets = new Set<number>();
    if (!this.needsCompaction) return targets;
    for (let s = 0; s < this.#segments.length; s++) {
      const seg = this.#segments[s];
      if (seg && s !== this.#current && this.#live[s] * 2 < seg.length) targets.add(s);
    }
    return targets;
  }

  #open(bytes: number): void {
    const previous = this.#current;
    const segment = this.#freeNumbers.pop() ?? this.#segments.length;
    this.#segments[segment] = new Uint8Array(bytes);
    this.#live[segment] = 0;
    this.#allocated += bytes;
    this.#current = segment;
    this.#fill = 0;
    if (previous !== NO_SEGMENT && this.#live[previous] === 0) this.#drop(previous);
  }

  #drop(segment: number): void {
    this.#allocated -= this.#segments[segment]!.length;
    this.#segments[segment] = undefined;
    this.#freeNumbers.push(segment);
    this.#onDrop(segment);
  }
}
