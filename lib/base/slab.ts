/**
 * Bump allocation of small byte arrays out of shared slabs, for the datagram
 * hot path. In Deno every `new Uint8Array(n)` gets its own malloc'd backing
 * store (~200 ns, plus sweeping by the GC); a view into a slab costs a tenth of
 * that. Regions are handed out once and never reused, so a view stays valid
 * as long as it is referenced (the slab is freed by the GC when no view of it
 * is left).
 *
 * @module
 */

/** Default slab size: 256 KiB. */
export const DEFAULT_SLAB_BYTES = 256 * 1024;

/**
 * Hands out fresh, zero-filled byte arrays that are views into shared slabs.
 * Arrays larger than a quarter slab get their own buffer.
 *
 * Note: `array.buffer` of a returned view is the whole slab; use
 * `byteOffset`/`byteLength` (as every codec here does) when wrapping it.
 *
 * @example
 * ```ts
 * const slab = new SlabAllocator();
 * const a = slab.alloc(17);
 * const b = slab.copy(new Uint8Array([1, 2, 3]));
 * console.log(a.length, b[2]); // 17 3
 * ```
 */
export class SlabAllocator {
  readonly slabBytes: number;
  #slab: Uint8Array;
  #offset = 0;

  /** Creates an allocator whose slabs are `slabBytes` long. */
  constructor(slabBytes: number = DEFAULT_SLAB_BYTES) {
    if (!Number.isInteger(slabBytes) || slabBytes < 64) {
      throw new RangeError(`Slab size must be a whole number of at least 64 bytes, got ${slabBytes}`);
    }
    this.slabBytes = slabBytes;
    this.#slab = new Uint8Array(slabBytes);
  }

  /** A zero-filled array of `length` bytes that nothing else will write to. */
  alloc(length: number): Uint8Array {
    if (length > this.slabBytes >> 2) return new Uint8Array(length);
    if (this.#offset + length > this.slabBytes) {
      this.#slab = new Uint8Array(this.slabBytes);
      this.#offset = 0;
    }
    const start = this.#offset;
    // Keep regions 8-byte aligned so DataView reads of whole fields stay cheap.
    this.#offset = (start + length + 7) & ~7;
    return this.#slab.subarray(start, start + length);
  }

  /** A private copy of `bytes`. */
  copy(bytes: Uint8Array): Uint8Array {
    const out = this.alloc(bytes.length);
    out.set(bytes);
    return out;
  }
}
