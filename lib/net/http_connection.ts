/**
 * One HTTP/1.1 connection of {@linkcode listenHttp} (`./http_listener.ts`): request heads read up
 * to a size limit, each request handed to the handler with its body as a stream, the response
 * written with a write timeout, the connection kept alive when the request body was read to its end.
 *
 * @module
 */
import {
  bodyStream,
  endsWithConnection,
  headEnd,
  parseHead,
  plainResponse,
  type RequestHead,
  writeResponse,
} from "./http1.ts";
import type { RefusalReason } from "./refusals.ts";
import { concatBytes } from "../base/bytes.ts";

/** Bytes read from a connection at a time. */
const READ_BYTES = 2_048;

/** One accepted connection. */
export interface Slot {
  /** The socket. */
  conn: Deno.Conn;
  /** Set once the listener closed it. */
  closed: boolean;
}

/** What {@linkcode serveConnection} needs from its listener. */
export interface ConnectionHooks {
  /** Answers one request. */
  handler: (req: Request, info: { remoteAddr: Deno.NetAddr }) => Response | Promise<Response>;
  /** The client's address. */
  remoteAddr: Deno.NetAddr;
  /** The listener's address (for a request without a Host header). */
  localAddr: Deno.NetAddr;
  /** Largest request head (bytes). */
  maxHeaderBytes: number;
  /** The connection now waits for a (first or next) request head. */
  waiting(first: boolean): void;
  /** A write to the client starts (true) or ends (false). */
  writing(on: boolean): void;
  /** A complete head arrived: the connection is busy with a request. */
  active(): void;
  /** Closes the connection, counting `reason` if given. */
  shut(reason?: RefusalReason): void;
}

const CONTINUE = new TextEncoder().encode("HTTP/1.1 100 Continue\r\n\r\n");

/** Serves requests on one connection, one after another, until it closes or is not kept alive. */
export async function serveConnection(slot: Slot, h: ConnectionHooks): Promise<void> {
  const io = connectionIo(slot.conn, h);
  let pending: Uint8Array | null = new Uint8Array(0);
  for (let first = true; !slot.closed && pending !== null; first = false) {
    h.waiting(first);
    const read = await readHead(io, pending);
    if (read === null) return;
    pending = await serveRequest(io, read.bytes, read.end);
  }
}

/** Reading, writing and refusing on one connection. */
interface ConnectionIo {
  hooks: ConnectionHooks;
  /** The next bytes from the client, or null at its end (or on an error). */
  readMore(): Promise<Uint8Array | null>;
  /** Writes all of `bytes`, under the listener's write timeout. */
  write(bytes: Uint8Array): Promise<void>;
  /** Answers with a plain error and closes the connection, counting `reason`; resolves with null. */
  refuse(status: number, text: string, body: string, reason: RefusalReason): Promise<null>;
}

/** The reader, writer and refusal of one connection. */
function connectionIo(conn: Deno.Conn, h: ConnectionHooks): ConnectionIo {
  const buf = new Uint8Array(READ_BYTES);
  const readMore = async () => {
    try {
      const n = await conn.read(buf);
      return n === null ? null : buf.slice(0, n);
    } catch {
      return null;
    }
  };
  const write = async (bytes: Uint8Array) => {
    h.writing(true); // the listener's sweep closes it if this write waits past the write timeout
    try {
      for (let o = 0; o < bytes.length;) o += await conn.write(bytes.subarray(o));
    } finally {
      h.writing(false);
    }
  };
  const refuse = async (status: number, text: string, body: string, reason: RefusalReason) => {
    h.active();
    await write(plainResponse(status, text, body)).catch(() => {});
    h.shut(reason);
    return null;
  };
  return { hooks: h, readMore, write, refuse };
}

/**
 * Reads until `pending` holds a complete request head; resolves with the bytes and where the head
 * ends, or null when the client left or the head grew past the limit (refused with 431).
 */
async function readHead(io: ConnectionIo, pending: Uint8Array): Promise<{ bytes: Uint8Array; end: number } | null> {
  let end: number;
  while ((end = headEnd(pending, pending.length)) < 0) {
    if (pending.length > io.hooks.maxHeaderBytes) {
      return await io.refuse(431, "Request Header Fields Too Large", "request head too large", "header_too_large");
    }
    const more = await io.readMore();
    if (more === null) return null;
    pending = pending.length === 0 ? more : concatBytes(pending, more);
  }
  return { bytes: pending, end };
}

/**
 * Answers the request whose head is `pending[0, end)`; resolves with the bytes after it when the
 * connection stays open for another, or null when it ends.
 */
async function serveRequest(io: ConnectionIo, pending: Uint8Array, end: number): Promise<Uint8Array | null> {
  const h = io.hooks;
  h.active();
  const head = parseHead(pending.subarray(0, end));
  if (typeof head === "string") return await io.refuse(400, "Bad Request", head, "bad_request");
  const framing = bodyFraming(head);
  const url = requestUrl(head, h.localAddr);
  if (typeof framing === "object" || url === null) {
    const why = typeof framing === "object" ? framing.error : "bad request target";
    return await io.refuse(400, "Bad Request", why, "bad_request");
  }
  let next: Uint8Array | null | undefined = framing === 0 ? pending.subarray(end) : undefined;
  let body: ReadableStream<Uint8Array> | null = null;
  if (framing !== 0) {
    if (
      header(head, "expect")?.toLowerCase() === "100-continue" &&
      !(await io.write(CONTINUE).then(() => true, () => false))
    ) return null;
    body = bodyStream(framing, pending.subarray(end), io.readMore, (rest) => next = rest);
  }
  let req: Request;
  try {
    req = new Request(url, { method: head.method, headers: head.headers, body, duplex: "half" } as RequestInit);
  } catch (e) {
    return await io.refuse(400, "Bad Request", (e as Error).message, "bad_request");
  }
  let res: Response;
  try {
    res = await h.handler(req, { remoteAddr: h.remoteAddr });
  } catch {
    res = new Response("internal error\n", { status: 500 });
  }
  const connection = header(head, "connection")?.toLowerCase();
  const wanted = head.version === "HTTP/1.1" ? connection !== "close" : connection === "keep-alive";
  // A body not read to its end ends the connection, and so does an event stream's response.
  const keepAlive = wanted && next instanceof Uint8Array && !endsWithConnection(res);
  try {
    await writeResponse(res, { method: head.method, version: head.version, keepAlive }, io.write);
  } catch {
    return null;
  }
  return keepAlive ? next as Uint8Array : null;
}

/** The first value of header `name`. */
function header(head: RequestHead, name: string): string | undefined {
  return head.headers.find(([k]) => k === name)?.[1];
}

/** How the request body is framed: its length (0 = none), "chunked", or why it cannot be read. */
function bodyFraming(head: RequestHead): number | "chunked" | { error: string } {
  const te = header(head, "transfer-encoding");
  const cl = header(head, "content-length");
  let framing: number | "chunked" = 0;
  if (te !== undefined) {
    if (cl !== undefined) return { error: "both content-length and transfer-encoding" };
    if (te.toLowerCase() !== "chunked") return { error: "unsupported transfer-encoding" };
    framing = "chunked";
  } else if (cl !== undefined) {
    if (!/^\d{1,15}$/.test(cl)) return { error: "malformed content-length" };
    framing = Number(cl);
  }
  if (framing !== 0 && (head.method === "GET" || head.method === "HEAD")) {
    return { error: `a ${head.method} request has no body` };
  }
  return framing;
}

/** The request's URL from its target and Host header (the listener's address without one). */
function requestUrl(head: RequestHead, local: Deno.NetAddr): string | null {
  try {
    if (/^https?:\/\//i.test(head.target)) return new URL(head.target).href;
    if (!head.target.startsWith("/")) return null;
    const host = header(head, "host") ??
      `${local.hostname.includes(":") ? `[${local.hostname}]` : local.hostname}:${local.port}`;
    return new URL(`http://${host}${head.target}`).href;
  } catch {
    return null;
  }
}
