/**
 * The manifest of a pushed file, built by the sender: its size, SHA-256, chunk
 * size and the hashes of its chunk-hash list pieces (each piece holds the
 * SHA-256 of up to `chunkSize / 32` chunks). Receivers check every piece
 * against the signed manifest and every chunk against its piece.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { sha256Hex } from "./chunk_store.ts";
import type { PushSpec } from "./command.ts";

/** A file's manifest and its chunk-hash pieces, computed by the sender. */
export interface BuiltManifest {
  /** The manifest fields except path and mode. */
  spec: Omit<PushSpec, "path" | "mode">;
  /** The chunk-hash list pieces (`spec.pieces[i]` is the SHA-256 of `pieces[i]`). */
  pieces: Uint8Array[];
}

/**
 * Reads a file once and builds its manifest.
 *
 * @example
 * ```ts ignore
 * const { spec, pieces } = await buildManifest("dist/kvstore-node", 32 * 1024);
 * ```
 */
export async function buildManifest(path: string, chunkSize: number): Promise<BuiltManifest> {
  const whole = createHash("sha256");
  const hashes: Uint8Array[] = [];
  let size = 0;
  let pending = new Uint8Array(0);
  using file = await Deno.open(path, { read: true });
  const buf = new Uint8Array(1024 * 1024);
  const take = (bytes: Uint8Array) => {
    hashes.push(new Uint8Array(createHash("sha256").update(bytes).digest()));
  };
  for (;;) {
    const n = await file.read(buf);
    if (n === null) break;
    const data = buf.subarray(0, n);
    whole.update(data);
    size += n;
    let joined = data;
    if (pending.length > 0) {
      joined = new Uint8Array(pending.length + n);
      joined.set(pending);
      joined.set(data, pending.length);
    }
    let o = 0;
    for (; o + chunkSize <= joined.length; o += chunkSize) take(joined.subarray(o, o + chunkSize));
    pending = joined.slice(o);
  }
  if (pending.length > 0) take(pending);
  return manifestFromHashes(size, chunkSize, whole.digest("hex"), hashes);
}

/**
 * Builds a manifest from bytes in memory (tests, simulations).
 *
 * @example
 * ```ts
 * const m = manifestOfBytes(new Uint8Array(100_000), 32_768);
 * console.log(m.spec.pieces.length); // 1
 * ```
 */
export function manifestOfBytes(bytes: Uint8Array, chunkSize: number): BuiltManifest {
  const hashes: Uint8Array[] = [];
  for (let o = 0; o < bytes.length; o += chunkSize) {
    hashes.push(new Uint8Array(createHash("sha256").update(bytes.subarray(o, o + chunkSize)).digest()));
  }
  return manifestFromHashes(bytes.length, chunkSize, sha256Hex(bytes), hashes);
}

function manifestFromHashes(size: number, chunkSize: number, sha256: string, hashes: Uint8Array[]): BuiltManifest {
  const perPiece = Math.floor(chunkSize / 32);
  const pieces: Uint8Array[] = [];
  for (let i = 0; i < hashes.length; i += perPiece) {
    const group = hashes.slice(i, i + perPiece);
    const piece = new Uint8Array(group.length * 32);
    group.forEach((h, k) => piece.set(h, k * 32));
    pieces.push(piece);
  }
  return { spec: { size, sha256, chunkSize, pieces: pieces.map(sha256Hex) }, pieces };
}
