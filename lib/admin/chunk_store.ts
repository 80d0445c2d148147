/**
 * Where the bytes of a pushed file live while they arrive and after: a temp
 * file next to the target, renamed atomically once the whole file checks out
 * (production), or memory (simulations, and as the origin's source view).
 *
 * @module
 */
import { createHash } from "node:crypto";

/** Positional storage of one file. */
export interface ChunkStore {
  /** Writes `bytes` at `offset`. */
  write(offset: number, bytes: Uint8Array): Promise<void>;
  /** Reads `length` bytes at `offset`. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Checks the whole file's SHA-256, sets the mode and makes the file appear at its path atomically. */
  finish(sha256: string, mode: number): Promise<void>;
  /** Releases resources; an unfinished temp file is removed. */
  close(): void;
}

/**
 * SHA-256 (hex) of bytes, synchronous.
 *
 * @example
 * ```ts
 * console.log(sha256Hex(new Uint8Array(0)).slice(0, 8)); // "e3b0c442"
 * ```
 */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Raised when an assembled file does not match its manifest.
 *
 * @example
 * ```ts
 * const e = new IntegrityError("hash mismatch");
 * console.log(e.name); // "IntegrityError"
 * ```
 */
export class IntegrityError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "IntegrityError";
  }
}

/**
 * A file being assembled at `path` through a temp file in the same directory.
 * Operations on the descriptor are serialized (no positional I/O in Deno).
 *
 * @example
 * ```ts ignore
 * const store = await FileChunkStore.create("/srv/app/bin", "ab12", 1024);
 * await store.write(0, bytes);
 * await store.finish(sha256, 0o755); // /srv/app/bin appears, complete
 * ```
 */
export class FileChunkStore implements ChunkStore {
  /** Final path. */
  readonly path: string;
  /** Temp file the bytes go to until finished. */
  readonly tempPath: string;
  #file: Deno.FsFile;
  #queue: Promise<unknown> = Promise.resolve();
  #finished = false;
  #closed = false;

  private constructor(path: string, tempPath: string, file: Deno.FsFile) {
    this.path = path;
    this.tempPath = tempPath;
    this.#file = file;
  }

  /** Creates the temp file for `path` (directories are created as needed). */
  static async create(path: string, id: string, size: number): Promise<FileChunkStore> {
    const slash = path.lastIndexOf("/");
    const dir = slash > 0 ? path.slice(0, slash) : ".";
    const base = path.slice(slash + 1);
    await Deno.mkdir(dir, { recursive: true });
    const tempPath = `${dir}/.${base}.kvstore-${id.slice(0, 12)}.part`;
    const file = await Deno.open(tempPath, { read: true, write: true, create: true, truncate: true });
    try {
      await file.truncate(size);
    } catch (e) {
      file.close();
      throw e;
    }
    return new FileChunkStore(path, tempPath, file);
  }

  /** Opens an existing complete file as a read-only source (kvctl push's origin). */
  static async source(path: string): Promise<FileChunkStore> {
    const file = await Deno.open(path, { read: true });
    const store = new FileChunkStore(path, path, file);
    store.#finished = true;
    return store;
  }

  #serial<T>(op: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(() => {
      if (this.#closed) throw new Error(`${this.path}: store closed`);
      return op();
    });
    this.#queue = next.catch(() => {});
    return next;
  }

  write(offset: number, bytes: Uint8Array): Promise<void> {
    return this.#serial(async () => {
      await this.#file.seek(offset, Deno.SeekMode.Start);
      let done = 0;
      while (done < bytes.length) done += await this.#file.write(bytes.subarray(done));
    });
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    return this.#serial(async () => {
      await this.#file.seek(offset, Deno.SeekMode.Start);
      const out = new Uint8Array(length);
      let got = 0;
      while (got < length) {
        const n = await this.#file.read(out.subarray(got));
        if (n === null) break;
        got += n;
      }
      return got === length ? out : out.subarray(0, got);
    });
  }

  finish(sha256: string, mode: number): Promise<void> {
    return this.#serial(async () => {
      await this.#file.seek(0, Deno.SeekMode.Start);
      const hash = createHash("sha256");
      const buf = new Uint8Array(1024 * 1024);
      for (;;) {
        const n = await this.#file.read(buf);
        if (n === null) break;
        hash.update(buf.subarray(0, n));
      }
      const got = hash.digest("hex");
      if (got !== sha256) throw new IntegrityError(`assembled file has SHA-256 ${got}, manifest says ${sha256}`);
      await this.#file.sync();
      await Deno.chmod(this.tempPath, mode);
      await Deno.rename(this.tempPath, this.path);
      this.#finished = true;
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#file.close();
    } catch { /* already closed */ }
    if (!this.#finished) Deno.remove(this.tempPath).catch(() => {});
  }
}

/**
 * A file held in memory (simulations; files handed to tests through `files`).
 *
 * @example
 * ```ts
 * const files = new Map<string, Uint8Array>();
 * const s = new MemoryChunkStore("a/b", 3, files);
 * await s.write(0, new Uint8Array([1, 2, 3]));
 * ```
 */
export class MemoryChunkStore implements ChunkStore {
  /** Key in the files map. */
  readonly path: string;
  #bytes: Uint8Array;
  #files?: Map<string, Uint8Array>;

  /** Creates a store of `size` bytes; on finish the bytes are put in `files` under `path`. */
  constructor(path: string, size: number | Uint8Array, files?: Map<string, Uint8Array>) {
    this.path = path;
    this.#bytes = typeof size === "number" ? new Uint8Array(size) : size;
    this.#files = files;
  }

  write(offset: number, bytes: Uint8Array): Promise<void> {
    this.#bytes.set(bytes, offset);
    return Promise.resolve();
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    return Promise.resolve(this.#bytes.slice(offset, offset + length));
  }

  finish(sha256: string, _mode: number): Promise<void> {
    const got = sha256Hex(this.#bytes);
    if (got !== sha256) {
      return Promise.reject(new IntegrityError(`assembled file has SHA-256 ${got}, manifest says ${sha256}`));
    }
    this.#files?.set(this.path, this.#bytes);
    return Promise.resolve();
  }

  close(): void {}
}
