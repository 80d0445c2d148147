/**
 * A small ustar (POSIX tar) writer and a streaming reader for the release
 * archive (`deno task release`): regular files and directories only. The
 * reader refuses what could escape the directory it extracts into (absolute
 * names, `..`, links, devices), repeated names, and archives over its limits;
 * it reads a `.tar.gz` through `DecompressionStream`, so a node unpacks an
 * archive without `tar` (and without permission to run programs).
 *
 * @module
 */
import { utf8Decoder, utf8Encoder } from "./bytes.ts";

/** Size of a tar block. */
const BLOCK = 512;

/** One member of an archive to write. */
export interface TarEntry {
  /** Relative path inside the archive (`runtime/deno`); directories end without a slash. */
  name: string;
  /** Permission bits (0o755, 0o644). */
  mode: number;
  /** File contents; absent for a directory. */
  data?: Uint8Array;
}

/**
 * Raised for an archive that is malformed or refused; the message says which entry and why.
 *
 * @example
 * ```ts
 * console.log(new TarError("bad").name); // "TarError"
 * ```
 */
export class TarError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "TarError";
  }
}

/**
 * Why `name` may not be extracted, or undefined when it is a plain relative path.
 *
 * @example
 * ```ts
 * console.log(unsafeTarName("../etc/passwd")); // "it climbs out with '..'"
 * console.log(unsafeTarName("runtime/deno")); // undefined
 * ```
 */
export function unsafeTarName(name: string): string | undefined {
  if (name === "") return "the name is empty";
  if (name.startsWith("/")) return "it is an absolute path";
  if (name.includes("\0") || name.includes("\\")) return "it holds a NUL or a backslash";
  const parts = name.replace(/\/$/, "").split("/");
  if (parts.some((p) => p === "..")) return "it climbs out with '..'";
  if (parts.some((p) => p === "" || p === ".")) return "it has an empty or '.' component";
  return undefined;
}

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, "0") + "\0";
}

/** The 512-byte ustar header of `e` (owner root, time 0, so builds are reproducible). */
function header(e: TarEntry): Uint8Array {
  const h = new Uint8Array(BLOCK);
  const put = (text: string, at: number, width: number) => {
    const b = utf8Encoder.encode(text);
    if (b.length > width) throw new TarError(`${e.name}: "${text}" does not fit the tar header (${width} bytes)`);
    h.set(b, at);
  };
  const dir = e.data === undefined;
  put(dir ? `${e.name}/` : e.name, 0, 100);
  put(octal(e.mode & 0o7777, 8), 100, 8);
  put(octal(0, 8), 108, 8); // uid
  put(octal(0, 8), 116, 8); // gid
  put(octal(e.data?.length ?? 0, 12), 124, 12);
  put(octal(0, 12), 136, 12); // mtime
  put("        ", 148, 8); // checksum placeholder
  put(dir ? "5" : "0", 156, 1);
  put("ustar\0" + "00", 257, 8);
  put("root", 265, 32);
  put("root", 297, 32);
  put(octal(checksum(h), 7) + " ", 148, 8);
  return h;
}

function checksum(h: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i];
  return sum;
}

/**
 * The tar archive of `entries`, as chunks (headers, contents, padding, the two end blocks).
 *
 * @example
 * ```ts
 * const parts = [...tarChunks([{ name: "a.txt", mode: 0o644, data: new Uint8Array([104, 105]) }])];
 * console.log(parts.reduce((n, p) => n + p.length, 0)); // 2048
 * ```
 */
export function* tarChunks(entries: readonly TarEntry[]): Generator<Uint8Array> {
  const seen = new Set<string>();
  for (const e of entries) {
    const why = unsafeTarName(e.name);
    if (why) throw new TarError(`cannot archive "${e.name}": ${why}`);
    if (seen.has(e.name)) throw new TarError(`cannot archive "${e.name}" twice`);
    seen.add(e.name);
    yield header(e);
    if (e.data && e.data.length > 0) {
      yield e.data;
      const pad = (BLOCK - e.data.length % BLOCK) % BLOCK;
      if (pad > 0) yield new Uint8Array(pad);
    }
  }
  yield new Uint8Array(2 * BLOCK);
}

/** Limits of {@linkcode extractTar}. */
export interface TarLimits {
  /** Most entries accepted. */
  maxEntries: number;
  /** Most bytes of file contents accepted in all. */
  maxBytes: number;
}

/**
 * Limits for a release archive: a handful of files, the Deno runtime the largest.
 *
 * @example
 * ```ts
 * console.log(RELEASE_TAR_LIMITS.maxEntries); // 64
 * ```
 */
export const RELEASE_TAR_LIMITS: TarLimits = { maxEntries: 64, maxBytes: 1 << 30 };

function field(h: Uint8Array, at: number, width: number): string {
  const b = h.subarray(at, at + width);
  const end = b.indexOf(0);
  return utf8Decoder.decode(end < 0 ? b : b.subarray(0, end));
}

function parseOctal(h: Uint8Array, at: number, width: number, what: string): number {
  const text = field(h, at, width).trim();
  if (!/^[0-7]{1,12}$/.test(text)) throw new TarError(`a tar header has a bad ${what} field "${text}"`);
  return parseInt(text, 8);
}

function parseHeader(h: Uint8Array): TarMember {
  const sum = parseOctal(h, 148, 8, "checksum");
  if (sum !== checksum(h)) throw new TarError("a tar header's checksum does not match (damaged archive)");
  const prefix = field(h, 345, 155);
  const raw = (prefix ? `${prefix}/` : "") + field(h, 0, 100);
  const type = String.fromCharCode(h[156] || 0x30);
  if (type !== "0" && type !== "5") {
    const what = type === "2" ? "a symbolic link" : type === "1" ? "a hard link" : `of type '${type}'`;
    throw new TarError(`"${raw}" is ${what}; only plain files and directories are extracted`);
  }
  const why = unsafeTarName(raw);
  if (why) throw new TarError(`refused to extract "${raw}": ${why}`);
  const size = parseOctal(h, 124, 12, "size");
  return { name: raw.replace(/\/$/, ""), mode: parseOctal(h, 100, 8, "mode") & 0o777, size, dir: type === "5" };
}

/** Reads exactly `n` bytes from a byte stream, keeping what it read beyond. */
class ByteReader {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buf: Uint8Array = new Uint8Array(0);

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  /** Up to `max` bytes (fewer only at the end of the stream; empty at the end). */
  async take(max: number): Promise<Uint8Array> {
    if (this.#buf.length === 0) {
      const r = await this.#reader.read();
      if (r.done) return new Uint8Array(0);
      this.#buf = r.value;
    }
    const out = this.#buf.subarray(0, max);
    this.#buf = this.#buf.subarray(out.length);
    return out;
  }

  /** Exactly `n` bytes; throws at a premature end. */
  async exactly(n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const part = await this.take(n - got);
      if (part.length === 0) throw new TarError("the archive ends in the middle of an entry (truncated)");
      out.set(part, got);
      got += part.length;
    }
    return out;
  }

  cancel(): void {
    this.#reader.cancel().catch(() => {});
  }
}

/** One member as the reader passes it on. */
export interface TarMember {
  /** Relative path (checked by {@linkcode unsafeTarName}). */
  name: string;
  /** Permission bits (0o777 at most). */
  mode: number;
  /** Size of the contents in bytes. */
  size: number;
  /** Whether it is a directory. */
  dir: boolean;
}

/**
 * Reads the tar stream `stream` member by member, refusing what {@linkcode extractTar} refuses;
 * `visit` gets each member and its contents (in pieces; what it leaves unread is skipped).
 * Resolves with the names read.
 *
 * @example
 * ```ts ignore
 * await walkTar(stream, RELEASE_TAR_LIMITS, async (m, data) => { for await (const _ of data); });
 * ```
 */
export async function walkTar(
  stream: ReadableStream<Uint8Array>,
  limits: TarLimits,
  visit: (member: TarMember, data: AsyncIterable<Uint8Array>) => Promise<void>,
): Promise<string[]> {
  const r = new ByteReader(stream);
  const names: string[] = [];
  let bytes = 0;
  try {
    for (;;) {
      const h = await r.exactly(BLOCK);
      if (h.every((b) => b === 0)) return names;
      const e = parseHeader(h);
      if (names.includes(e.name)) throw new TarError(`"${e.name}" appears twice in the archive`);
      if (names.length >= limits.maxEntries) throw new TarError(`more than ${limits.maxEntries} entries`);
      bytes += e.size;
      if (bytes > limits.maxBytes) throw new TarError(`more than ${limits.maxBytes} bytes of files`);
      names.push(e.name);
      const left = { bytes: e.size };
      await visit(e, contents(r, e.name, left));
      for await (const _ of contents(r, e.name, left)) { /* skip what the visitor did not read */ }
      await r.exactly((BLOCK - e.size % BLOCK) % BLOCK);
    }
  } finally {
    r.cancel();
  }
}

/** The next `left.bytes` bytes of `r`, in pieces of at most 1 MiB. */
async function* contents(r: ByteReader, name: string, left: { bytes: number }): AsyncGenerator<Uint8Array> {
  while (left.bytes > 0) {
    const part = await r.take(Math.min(left.bytes, 1 << 20));
    if (part.length === 0) throw new TarError(`"${name}" is cut short (truncated archive)`);
    left.bytes -= part.length;
    yield part;
  }
}

/**
 * Extracts the tar stream `stream` into the existing directory `dir` (a fresh, empty one: names
 * are refused rather than resolved, so nothing lands outside it). Resolves with the names written.
 *
 * @example
 * ```ts ignore
 * const file = await Deno.open("kvstore.tar.gz");
 * await extractTar(file.readable.pipeThrough(new DecompressionStream("gzip")), "/tmp/x", RELEASE_TAR_LIMITS);
 * ```
 */
export function extractTar(stream: ReadableStream<Uint8Array>, dir: string, limits: TarLimits): Promise<string[]> {
  return walkTar(stream, limits, async (e, data) => {
    const path = `${dir}/${e.name}`;
    if (e.dir) {
      await Deno.mkdir(path, { recursive: true, mode: 0o755 });
      return;
    }
    const slash = e.name.lastIndexOf("/");
    if (slash > 0) await Deno.mkdir(`${dir}/${e.name.slice(0, slash)}`, { recursive: true, mode: 0o755 });
    using out = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
    for await (const part of data) {
      for (let done = 0; done < part.length;) done += await out.write(part.subarray(done));
    }
    await Deno.chmod(path, e.mode & 0o755);
  });
}
