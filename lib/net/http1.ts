/**
 * The HTTP/1.1 wire format for {@linkcode listenHttp} (`./http_listener.ts`): one request head
 * parsed from bytes, the request body as a bounded stream (content-length or chunked), and a
 * `Response` written back (chunked, or without a body for HEAD and 1xx/204/304). Deliberately small:
 * no trailers, no upgrades, no pipelining beyond one request after another on a connection.
 *
 * @module
 */

/** A parsed request head. */
export interface RequestHead {
  /** Method, upper case as sent. */
  method: string;
  /** Request target (origin form `/path?query`, or an absolute URL). */
  target: string;
  /** "HTTP/1.1" or "HTTP/1.0". */
  version: string;
  /** Header fields in order (names lower case). */
  headers: [string, string][];
}

/** Header fields of one request head, at most. */
export const MAX_HEADER_FIELDS = 100;

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const latin1 = new TextDecoder("latin1");
const encoder = new TextEncoder();

/**
 * Index just past the blank line ending a request head in `buf[0..length)`, or -1.
 *
 * @example
 * ```ts
 * const b = new TextEncoder().encode("GET / HTTP/1.1\r\n\r\nrest");
 * console.log(headEnd(b, b.length)); // 18
 * ```
 */
export function headEnd(buf: Uint8Array, length: number): number {
  for (let i = 3; i < length; i++) {
    if (buf[i] === 10 && buf[i - 1] === 13 && buf[i - 2] === 10 && buf[i - 3] === 13) return i + 1;
  }
  return -1;
}

/**
 * Parses a request head (bytes up to and including the blank line); a string says what is wrong.
 *
 * @example
 * ```ts
 * const h = parseHead(new TextEncoder().encode("GET /x HTTP/1.1\r\nHost: a\r\n\r\n"));
 * console.log(typeof h === "string" ? h : h.headers); // [["host", "a"]]
 * ```
 */
export function parseHead(bytes: Uint8Array): RequestHead | string {
  const lines = latin1.decode(bytes).split("\r\n");
  const [method, target, version, extra] = lines[0].split(" ");
  if (extra !== undefined || !method || !target || !TOKEN.test(method)) return "malformed request line";
  if (version !== "HTTP/1.1" && version !== "HTTP/1.0") return "unsupported HTTP version";
  const headers: [string, string][] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line === "") continue;
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon) : "";
    if (!TOKEN.test(name)) return "malformed header field";
    if (headers.length >= MAX_HEADER_FIELDS) return "too many header fields";
    headers.push([name.toLowerCase(), line.slice(colon + 1).trim()]);
  }
  return { method, target, version, headers };
}

/** Reads more bytes of a connection into a caller's buffer: null at the end of the stream. */
export type ReadMore = () => Promise<Uint8Array | null>;

/**
 * The request body as a stream: `length` bytes (content-length), or chunked (`length` = "chunked").
 * `leftover` are bytes already read past the head; `done(rest)` is called once the body ended with
 * the bytes read past it (the next request), or with null when the body was not read to its end.
 */
export function bodyStream(
  length: number | "chunked",
  leftover: Uint8Array,
  readMore: ReadMore,
  done: (rest: Uint8Array | null) => void,
): ReadableStream<Uint8Array> {
  let pending = leftover;
  let remaining = length === "chunked" ? 0 : length; // bytes left in the current chunk / body
  let finished = false;
  const fill = async (): Promise<boolean> => {
    const more = await readMore();
    if (more === null) return false;
    pending = pending.length === 0 ? more : concat(pending, more);
    return true;
  };
  /** Reads one CRLF-terminated line of a chunked body (at most 1 KiB). */
  const line = async (): Promise<string | null> => {
    for (;;) {
      const i = pending.indexOf(10);
      if (i > 0 && pending[i - 1] === 13) {
        const text = latin1.decode(pending.subarray(0, i - 1));
        pending = pending.subarray(i + 1);
        return text;
      }
      if (pending.length > 1024 || !(await fill())) return null;
    }
  };
  return new ReadableStream<Uint8Array>({
    pull: async (controller) => {
      if (remaining === 0 && length === "chunked") {
        const size = await line();
        const hex = size?.split(";")[0].trim() ?? "";
        if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) return controller.error(new TypeError("malformed chunked body"));
        const n = parseInt(hex, 16);
        if (n === 0) {
          for (let fields = 0;; fields++) { // trailers: skipped, as many as header fields at most
            const trailer = await line();
            if (trailer === "") break;
            if (trailer === null || fields >= MAX_HEADER_FIELDS) {
              return controller.error(new TypeError("malformed chunked trailer"));
            }
          }
          finished = true;
          controller.close();
          return done(pending);
        }
        remaining = n;
      }
      if (remaining === 0) {
        finished = true;
        controller.close();
        return done(pending);
      }
      if (pending.length === 0 && !(await fill())) return controller.error(new TypeError("body ended early"));
      const take = Math.min(remaining, pending.length);
      controller.enqueue(pending.slice(0, take));
      pending = pending.subarray(take);
      remaining -= take;
      if (remaining === 0 && length === "chunked" && (await line()) !== "") {
        controller.error(new TypeError("malformed chunked body"));
      }
    },
    cancel: () => {
      if (!finished) done(null);
    },
  });
}

/** Statuses that never carry a body. */
function bodiless(status: number): boolean {
  return status < 200 || status === 204 || status === 304;
}

/** Reason phrases of the statuses a server here sends (others go without one, which HTTP/1.1 allows). */
const REASONS: Record<number, string> = {
  200: "OK",
  202: "Accepted",
  204: "No Content",
  304: "Not Modified",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  408: "Request Timeout",
  409: "Conflict",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** Response headers this layer sets itself. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "content-length"]);

/**
 * Whether `res` is an event stream, whose body ends only when its connection does: it is written
 * without chunk framing, each chunk as it is in one write, and its connection is not kept alive.
 * Framed, each event cost three writes per client (or a copy), and at 200 clients the allocation
 * of those writes grew the monitor's heap by 50 MiB a minute (tests/flood/flood_suite.ts).
 *
 * @example
 * ```ts
 * const res = new Response("", { headers: { "content-type": "text/event-stream" } });
 * console.log(endsWithConnection(res)); // true
 * ```
 */
export function endsWithConnection(res: Response): boolean {
  return res.headers.get("content-type")?.startsWith("text/event-stream") ?? false;
}

/**
 * Writes `res` to the connection: head, then the body chunked (HTTP/1.1), or until close (1.0,
 * and event streams: {@linkcode endsWithConnection}). `write` writes all of its bytes (and may time
 * out by throwing). Returns when the body is sent.
 */
export async function writeResponse(
  res: Response,
  head: { method: string; version: string; keepAlive: boolean },
  write: (bytes: Uint8Array) => Promise<void>,
): Promise<void> {
  const noBody = head.method === "HEAD" || bodiless(res.status);
  const untilClose = endsWithConnection(res);
  const chunked = !noBody && head.version === "HTTP/1.1" && !untilClose;
  let text = `HTTP/1.1 ${res.status} ${res.statusText || REASONS[res.status] || ""}\r\n`;
  for (const [name, value] of res.headers) {
    if (!HOP_BY_HOP.has(name)) text += `${name}: ${value}\r\n`;
  }
  if (!noBody && res.body === null) text += "content-length: 0\r\n";
  else if (chunked) text += "transfer-encoding: chunked\r\n";
  text += head.keepAlive && !untilClose ? "connection: keep-alive\r\n\r\n" : "connection: close\r\n\r\n";
  const start = encoder.encode(text);
  if (noBody || res.body === null) {
    await res.body?.cancel();
    return await write(start);
  }
  const reader = res.body.getReader();
  let first: Uint8Array | null = start;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (value.length === 0) continue;
      if (chunked && value.length >= SHARED_CHUNK_BYTES) {
        // A large chunk (an event sent to every live client, say) is written as it is, not copied per client.
        const size = encoder.encode(`${value.length.toString(16)}\r\n`);
        await write(first ? concat(first, size) : size);
        await write(value);
        await write(CRLF);
      } else {
        const framed = chunked ? frameChunk(value) : value;
        await write(first ? concat(first, framed) : framed);
      }
      first = null;
    }
    const end = chunked ? encoder.encode("0\r\n\r\n") : new Uint8Array(0);
    await write(first ? concat(first, end) : end);
  } catch (e) {
    await reader.cancel(e).catch(() => {});
    throw e;
  }
}

/** Chunks at least this large are written without copying (three writes instead of one). */
const SHARED_CHUNK_BYTES = 256;
const CRLF = new Uint8Array([13, 10]);

function frameChunk(data: Uint8Array): Uint8Array {
  const size = encoder.encode(`${data.length.toString(16)}\r\n`);
  const out = new Uint8Array(size.length + data.length + 2);
  out.set(size);
  out.set(data, size.length);
  out[out.length - 2] = 13;
  out[out.length - 1] = 10;
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * A short plain-text response written straight to the connection (400, 413, 431, 503) before closing it.
 *
 * @example
 * ```ts
 * console.log(new TextDecoder().decode(plainResponse(400, "Bad Request", "bad")).split("\r\n")[0]); // HTTP/1.1 400 Bad Request
 * ```
 */
export function plainResponse(status: number, reason: string, body: string): Uint8Array {
  const b = encoder.encode(body + "\n");
  return encoder.encode(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${b.length}\r\n` +
      `connection: close\r\n\r\n${body}\n`,
  );
}
