/**
 * The KVStore client: request ids, timeouts that double, retries with the
 * same id, typed errors per code.
 *
 * @module
 */
import { type Clock, realClock, type TimerId } from "../base/clock.ts";
import { errorForCode, KVTimeoutError, OverloadError } from "./errors.ts";
import { type KeyInput, toKey } from "./keys.ts";
import {
  Command,
  decodeReply,
  decodeU32Payload,
  decodeValuePayload,
  encodeRequest,
  ErrorCode,
  ID_LENGTH,
  type Reply,
} from "../wire/client_protocol.ts";
import { idKey } from "../wire/client_protocol.ts";
import type { Address, Transport } from "../net/transport.ts";
import { UdpTransport } from "../net/udp_transport.ts";
import { utf8Encoder } from "../base/bytes.ts";

/** Client retry policy (PROTOCOL.md defaults). */
export interface ClientOptions {
  /** First timeout in ms; doubles on each retry. Default 100. */
  timeoutMs: number;
  /** Retries after the first attempt, same request id. Default 3. */
  retries: number;
  /** Back-off before retrying an overload (0x03) reply, in ms; doubles. Default 50. */
  overloadBackoffMs: number;
}

/** Defaults from PROTOCOL.md: 100 ms, doubling, 3 retries. */
export const DEFAULT_CLIENT_OPTIONS: ClientOptions = { timeoutMs: 100, retries: 3, overloadBackoffMs: 50 };

/**
 * Talks to one KVStore node over UDP.
 *
 * @example
 * ```ts ignore
 * const client = await KVClient.connect("127.0.0.1:4000");
 * await client.put("greeting", "hello");
 * console.log(new TextDecoder().decode(await client.get("greeting")));
 * client.close();
 * ```
 */
export class KVClient {
  /** The node this client talks to. */
  readonly target: Address;
  /** The retry policy in force. */
  readonly options: ClientOptions;
  #transport: Transport;
  #clock: Clock;
  #pending = new Map<string, { reply: (r: Reply) => void; cancel: () => void }>();
  /** Count of attempts sent (first tries + retries), for progress and benchmarks. */
  attempts = 0;

  /** Creates a client on an existing transport (use {@linkcode KVClient.connect} for UDP). */
  constructor(transport: Transport, target: Address, options: Partial<ClientOptions> = {}, clock: Clock = realClock) {
    this.#transport = transport;
    this.target = target;
    this.options = { ...DEFAULT_CLIENT_OPTIONS };
    for (const [k, v] of Object.entries(options)) if (v !== undefined) Object.assign(this.options, { [k]: v });
    this.#clock = clock;
    transport.onReceive((data) => {
      const r = decodeReply(data);
      if (r) this.#pending.get(idKey(r.id))?.reply(r);
    });
  }

  /** Opens a UDP socket on an ephemeral port and returns a client for `target`. */
  static async connect(target: Address, options: Partial<ClientOptions> = {}): Promise<KVClient> {
    const host = target.startsWith("[") ? "::" : "0.0.0.0";
    return new KVClient(await UdpTransport.listen(host, 0), target, options);
  }

  /**
   * Sends one request, retrying with the same id, and resolves with the raw reply
   * (any code). Rejects with {@linkcode KVTimeoutError} when no reply comes.
   */
  request(command: number, key?: Uint8Array, value?: Uint8Array, id?: Uint8Array): Promise<Reply> {
    const rid = id ?? newRequestId();
    const packet = encodeRequest(rid, command, key, value);
    const k = idKey(rid);
    const { retries, overloadBackoffMs } = this.options;
    let timeout = this.options.timeoutMs;
    let backoff = overloadBackoffMs;
    let attempt = 0;
    return new Promise((resolve, reject) => {
      let timer: TimerId = 0;
      const send = () => {
        this.attempts++;
        this.#transport.send(packet, this.target);
        timer = this.#clock.setTimeout(onTimeout, timeout);
      };
      const onTimeout = () => {
        if (attempt++ >= retries) {
          this.#pending.delete(k);
          reject(new KVTimeoutError(this.target, attempt));
          return;
        }
        timeout *= 2;
        send();
      };
      this.#pending.set(k, {
        reply: (r) => {
          this.#clock.clearTimeout(timer);
          if (r.code === ErrorCode.Overload && attempt < retries) {
            attempt++;
            timer = this.#clock.setTimeout(send, backoff);
            backoff *= 2;
            return;
          }
          this.#pending.delete(k);
          resolve(r);
        },
        cancel: () => {
          this.#clock.clearTimeout(timer);
          this.#pending.delete(k);
          reject(new KVTimeoutError(this.target, attempt + 1));
        },
      });
      send();
    });
  }

  async #ok(command: number, key?: Uint8Array, value?: Uint8Array): Promise<Reply> {
    const r = await this.request(command, key, value);
    if (r.code === ErrorCode.Overload) throw new OverloadError();
    if (r.code !== ErrorCode.Success) throw errorForCode(r.code);
    return r;
  }

  /** Stores `value` (bytes or UTF-8 text) under `key`. */
  async put(key: KeyInput, value: Uint8Array | string): Promise<void> {
    const v = typeof value === "string" ? utf8Encoder.encode(value) : value;
    if (v.length > 15_000) throw new RangeError(`Value is ${v.length} bytes; the protocol allows at most 15,000`);
    await this.#ok(Command.Put, toKey(key), v);
  }

  /** Returns the value of `key`; throws `KeyNotFoundError` if absent. */
  async get(key: KeyInput): Promise<Uint8Array> {
    const r = await this.#ok(Command.Get, toKey(key));
    const v = decodeValuePayload(r.payload);
    if (!v) throw new TypeError(`Malformed get reply from ${this.target}`);
    return v.slice();
  }

  /** Removes `key`; throws `KeyNotFoundError` if absent. */
  async remove(key: KeyInput): Promise<void> {
    await this.#ok(Command.Remove, toKey(key));
  }

  /** Resolves true if the node answers is-alive, false on timeout. */
  async isAlive(): Promise<boolean> {
    try {
      await this.#ok(Command.IsAlive);
      return true;
    } catch (e) {
      if (e instanceof KVTimeoutError) return false;
      throw e;
    }
  }

  /** The node's process id. */
  async pid(): Promise<number> {
    return decodeU32Payload((await this.#ok(Command.GetPid)).payload) ?? 0;
  }

  /** How many members the node believes alive. */
  async membershipCount(): Promise<number> {
    return decodeU32Payload((await this.#ok(Command.GetMembershipCount)).payload) ?? 0;
  }

  /** Deletes every key on the node. */
  async wipeout(): Promise<void> {
    await this.#ok(Command.Wipeout);
  }

  /** Asks the node to stop at once (it replies first). */
  async shutdown(): Promise<void> {
    await this.#ok(Command.Shutdown);
  }

  /** Closes the socket; pending requests are rejected with {@linkcode KVTimeoutError}. */
  close(): void {
    for (const p of [...this.#pending.values()]) p.cancel();
    this.#transport.close();
  }
}

/** A fresh random 16-byte request id. */
export function newRequestId(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(ID_LENGTH));
}
