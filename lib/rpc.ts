/**
 * Request/reply over datagrams for internal messages: handlers by command,
 * calls with timeout and retries (same message id), replies routed by id.
 *
 * @module
 */
import type { Clock, TimerId } from "./clock.ts";
import { decodeInternal, encodeInternal, InternalCommand, type InternalMessage } from "./envelope.ts";
import type { Address, Transport } from "./transport.ts";
import { ID_LENGTH } from "./protocol.ts";

/** What a handler answers: a header and optional body, or nothing (no reply). */
export type RpcAnswer = { header: unknown; body?: Uint8Array } | undefined;

/** Handles one internal command. */
export type RpcHandler = (message: InternalMessage, from: Address) => RpcAnswer | Promise<RpcAnswer>;

/** Raised when a call gets no reply after all retries. */
export class RpcTimeoutError extends Error {
  /** Creates the error for a call to `to`. */
  constructor(to: Address, command: number) {
    super(`No reply from ${to} to internal command 0x${command.toString(16)}`);
    this.name = "RpcTimeoutError";
  }
}

/** Options of one call. */
export interface CallOptions {
  /** Timeout of the first attempt in ms (doubles each retry). Default 200. */
  timeoutMs?: number;
  /** Retries after the first attempt. Default 2. */
  retries?: number;
}

/**
 * Internal RPC endpoint over a transport.
 *
 * @example
 * ```ts ignore
 * rpc.handle(0x30, (m) => ({ header: { ok: true } }));
 * const reply = await rpc.call("127.0.0.1:4001", 0x30, { key: "00" });
 * ```
 */
export class Rpc {
  #send: (data: Uint8Array, to: Address) => void;
  #clock: Clock;
  #handlers = new Map<number, RpcHandler>();
  #pending = new Map<string, { reply: (m: InternalMessage) => void; cancel: () => void }>();
  #closed = false;
  /** Counters: malformed internal packets, unknown commands, handler errors. */
  readonly stats = { malformed: 0, unknown: 0, handlerErrors: 0, timeouts: 0 };

  /** Creates an endpoint sending through `transport`. */
  constructor(transport: Pick<Transport, "send">, clock: Clock) {
    this.#send = (d, to) => transport.send(d, to);
    this.#clock = clock;
  }

  /** Registers the handler of `command` (replacing any). */
  handle(command: number, handler: RpcHandler): void {
    this.#handlers.set(command, handler);
  }

  /** Sends a message that expects no reply. */
  cast(to: Address, command: number, header: unknown, body?: Uint8Array): void {
    this.#send(encodeInternal(newId(), command, header, body), to);
  }

  /** Sends a request and resolves with the reply; rejects with {@linkcode RpcTimeoutError}. */
  call(
    to: Address,
    command: number,
    header: unknown,
    body?: Uint8Array,
    options: CallOptions = {},
  ): Promise<InternalMessage> {
    const id = newId();
    const key = idKey(id);
    const packet = encodeInternal(id, command, header, body);
    const retries = options.retries ?? 2;
    let timeout = options.timeoutMs ?? 200;
    return new Promise((resolve, reject) => {
      let attempt = 0;
      let timer: TimerId = 0;
      const fire = () => {
        if (this.#closed) {
          this.#pending.delete(key);
          reject(new RpcTimeoutError(to, command));
          return;
        }
        this.#send(packet, to);
        timer = this.#clock.setTimeout(() => {
          if (attempt++ < retries) {
            timeout *= 2;
            fire();
          } else {
            this.#pending.delete(key);
            this.stats.timeouts++;
            reject(new RpcTimeoutError(to, command));
          }
        }, timeout);
      };
      this.#pending.set(key, {
        reply: (m) => {
          this.#clock.clearTimeout(timer);
          this.#pending.delete(key);
          resolve(m);
        },
        cancel: () => {
          this.#clock.clearTimeout(timer);
          this.#pending.delete(key);
          reject(new RpcTimeoutError(to, command));
        },
      });
      fire();
    });
  }

  /** Processes one received internal packet (command ≥ 0x20). Never throws. */
  receive(packet: Uint8Array, from: Address): void {
    const m = decodeInternal(packet);
    if (!m) {
      this.stats.malformed++;
      return;
    }
    if (m.command === InternalCommand.RpcReply) {
      this.#pending.get(idKey(m.id))?.reply(m);
      return;
    }
    const h = this.#handlers.get(m.command);
    if (!h) {
      this.stats.unknown++;
      return;
    }
    const id = m.id.slice();
    const answer = (a: RpcAnswer) => {
      if (a && !this.#closed) this.#send(encodeInternal(id, InternalCommand.RpcReply, a.header, a.body), from);
    };
    try {
      const r = h(m, from);
      if (r instanceof Promise) {
        r.then(answer, () => this.stats.handlerErrors++);
      } else answer(r);
    } catch {
      this.stats.handlerErrors++;
    }
  }

  /** Stops sending; pending calls are rejected with {@linkcode RpcTimeoutError} at once. */
  close(): void {
    this.#closed = true;
    for (const p of [...this.#pending.values()]) p.cancel();
  }
}

function newId(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(ID_LENGTH));
}

/** Map key for a 16-byte id. */
export function idKey(id: Uint8Array): string {
  return String.fromCharCode.apply(null, id as unknown as number[]);
}
