/**
 * The kvctl side of admin commands: building and signing commands, handing
 * them to a node, serving a pushed file's chunks as its first source, and
 * asking nodes for their results. Works over any transport (UDP for kvctl,
 * the in-memory network in simulations).
 *
 * @module
 */
import type { Clock } from "../base/clock.ts";
import { Rpc, type RpcOptions, RpcTimeoutError } from "../wire/rpc.ts";
import { InternalAddressBook } from "../net/internal_address.ts";
import type { Address, Transport } from "../net/transport.ts";
import { toHex } from "../base/bytes.ts";
import { encodeJsonPayload } from "../wire/envelope.ts";
import { frameSize, MAX_FRAME_BYTES } from "../wire/frame.ts";
import { type CommandBody, type PushSpec, type RunSpec, signCommand, type SignedCommand } from "./command.ts";
import { type AdminConfig, DEFAULT_ADMIN_CONFIG } from "./config.ts";
import { AdminCommand, type NodeResult, parseAdminHeader } from "./protocol.ts";
import { type ChunkStore, MemoryChunkStore } from "./chunk_store.ts";
import type { BuiltManifest } from "./manifest.ts";
import { Transfer } from "./transfer.ts";
import { NodeResultSchema } from "./monitor/results_store.ts";

/**
 * Raised when no node accepted a command; the message says why.
 *
 * @example
 * ```ts
 * const e = new SubmitError("no node answered");
 * console.log(e.name); // "SubmitError"
 * ```
 */
export class SubmitError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "SubmitError";
  }
}

/** Submit attempts per node: the first try and its retries (timeouts 300, 600, 1200, 2400 ms). */
const SUBMIT_TIMEOUT_MS = 300;
const SUBMIT_RETRIES = 3;

/**
 * Why `signed` cannot be handed to a node in one datagram (undefined: it can). Checked by
 * {@linkcode AdminClient.submit} before anything is sent, and by kvctl to give a usage error.
 *
 * @example
 * ```ts ignore
 * const why = submitSizeError(signed); // "the signed command is 70,412 bytes, …"
 * ```
 */
export function submitSizeError(signed: SignedCommand): string | undefined {
  let bytes: number;
  try {
    bytes = frameSize(1, encodeJsonPayload(signed).length, true);
  } catch (e) {
    return `the command cannot be encoded: ${(e as Error).message}`;
  }
  if (bytes <= MAX_FRAME_BYTES) return undefined;
  return `the signed command is ${bytes.toLocaleString("en-US")} bytes, more than one UDP datagram holds ` +
    `(${MAX_FRAME_BYTES.toLocaleString("en-US")} bytes)`;
}

/** Fields of a new command besides its kind-specific part. */
export interface NewCommand {
  /** Which nodes act (default all). */
  selector?: string;
  /** Lifetime in ms from now (default 1 h). */
  lifetimeMs?: number;
  /** Issue time (default now). */
  now?: number;
}

/**
 * A fresh random command id.
 *
 * @example
 * ```ts
 * console.log(newCommandId().length); // 32
 * ```
 */
export function newCommandId(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(16)));
}

/**
 * Builds and signs a command.
 *
 * @example
 * ```ts ignore
 * const signed = await createCommand(privateKey, { run: { script: "uptime", timeoutMs: 60_000 } });
 * ```
 */
export async function createCommand(
  privateKey: CryptoKey,
  what: { run: RunSpec } | { push: PushSpec },
  options: NewCommand = {},
): Promise<SignedCommand> {
  const now = options.now ?? Date.now();
  const body: CommandBody = {
    v: 1,
    id: newCommandId(),
    kind: "run" in what ? "run" : "push",
    issuedAt: now,
    expiresAt: now + (options.lifetimeMs ?? 3_600_000),
    selector: options.selector ?? "all",
    ...what,
  };
  return await signCommand(privateKey, body);
}

/**
 * An admin endpoint for kvctl (or a test) on a transport.
 *
 * @example
 * ```ts ignore
 * const client = new AdminClient(await UdpTransport.listen("0.0.0.0", 0), realClock);
 * await client.submit(signed, ["127.0.0.1:4000"]);
 * client.close();
 * ```
 */
export class AdminClient {
  /** Internal RPC endpoint (also answers chunk requests). */
  readonly rpc: Rpc;
  /** The transport it listens on. */
  readonly transport: Transport;
  #clock: Clock;
  #config: AdminConfig;
  #files = new Map<string, Transfer>();

  /** Creates the endpoint (it answers chunk requests for files it serves). */
  constructor(transport: Transport, clock: Clock, config: Partial<AdminConfig> = {}, rpc: RpcOptions = {}) {
    this.transport = transport;
    this.#clock = clock;
    this.#config = { ...DEFAULT_ADMIN_CONFIG, ...config };
    // Nodes take internal frames at their internal port (by default the client port + 10000).
    this.rpc = new Rpc(transport, clock, { addresses: new InternalAddressBook(), ...rpc });
    transport.onReceive((data, from) => this.rpc.receive(data, from));
    this.rpc.handle(AdminCommand.Chunk, async (m) => {
      const h = parseAdminHeader("chunk", m.header);
      const t = h && this.#files.get(h.id);
      const bytes = t ? await t.serve(h.i) : undefined;
      return h && bytes ? { header: { id: h.id, i: h.i }, body: bytes } : { header: { missing: true } };
    });
    this.rpc.handle(AdminCommand.Have, (m) => {
      const id = parseAdminHeader("id", m.header)?.id;
      const t = id ? this.#files.get(id) : undefined;
      return {
        header: t ? { state: t.state, count: t.count, total: t.total, have: t.bitmap() } : { state: "unknown" },
      };
    });
  }

  /**
   * Hands `signed` to the first of `nodes` that answers; resolves with that node.
   * A node that rejects the command (bad signature, expired, no key) stops the attempt.
   * Raises {@linkcode SubmitError} saying which failure it was: a command too large for one
   * datagram (nothing is sent), datagrams the operating system refused to send, or no reply.
   */
  async submit(signed: SignedCommand, nodes: Address[]): Promise<Address> {
    const tooBig = submitSizeError(signed);
    if (tooBig) {
      throw new SubmitError(`${tooBig}; nothing was sent: make the script smaller, or copy big files with kvctl push`);
    }
    const sendErrors = () => (this.transport as { sendErrors?: number }).sendErrors ?? 0;
    const unreachable: Address[] = [];
    const unsent: Address[] = [];
    for (const node of nodes) {
      const errorsBefore = sendErrors();
      let reply;
      try {
        reply = await this.rpc.call(node, AdminCommand.Submit, signed, undefined, {
          timeoutMs: SUBMIT_TIMEOUT_MS,
          retries: SUBMIT_RETRIES,
        });
      } catch (e) {
        if (!(e instanceof RpcTimeoutError)) {
          throw new SubmitError(`could not send the command to ${node}: ${(e as Error).message}`);
        }
        // The transport counts datagrams the socket refused (EMSGSIZE, no route, broadcast address…).
        (sendErrors() > errorsBefore ? unsent : unreachable).push(node);
        continue;
      }
      const h = parseAdminHeader("ok", reply.header);
      if (h?.ok === true) return node;
      throw new SubmitError(`${node} rejected the command (${String(h?.reason)}): ${String(h?.message)}`);
    }
    const parts: string[] = [];
    if (unsent.length > 0) {
      parts.push(
        `could not send the command to ${unsent.join(", ")}: the operating system refused the datagram ` +
          `(no route to that address from here?)`,
      );
    }
    if (unreachable.length > 0) {
      let waitMs = 0;
      for (let i = 0, t = SUBMIT_TIMEOUT_MS; i <= SUBMIT_RETRIES; i++, t *= 2) waitMs += t;
      parts.push(`no node answered: tried ${unreachable.join(", ")} (no reply within ${waitMs / 1000} s each)`);
    }
    if (parts.length === 0) throw new SubmitError("no node to send the command to; pass --node or --config");
    throw new SubmitError(`${parts.join("; ")}; ${unreachable.length > 0 ? "are they running? " : ""}check --node`);
  }

  /** Serves the chunks of a pushed file from `store` (kvctl push keeps this up until the nodes have it). */
  serve(id: string, spec: PushSpec, manifest: BuiltManifest, store: ChunkStore): Transfer {
    const t = new Transfer({
      id,
      spec,
      store,
      rpc: this.rpc,
      clock: this.#clock,
      random: Math.random,
      config: this.#config,
      peers: () => [],
      seeded: manifest.pieces,
    });
    this.#files.set(id, t);
    return t;
  }

  /** Serves bytes held in memory (tests). */
  serveBytes(id: string, spec: PushSpec, manifest: BuiltManifest, bytes: Uint8Array): Transfer {
    return this.serve(id, spec, manifest, new MemoryChunkStore(spec.path, bytes));
  }

  /** Chunks served so far for `id`. */
  served(id: string): number {
    return this.#files.get(id)?.stats.served ?? 0;
  }

  /** A node's result for a command (null: none yet; undefined: no answer, or not a valid result). */
  async status(node: Address, id: string): Promise<NodeResult | null | undefined> {
    try {
      const reply = await this.rpc.call(node, AdminCommand.Status, { id }, undefined, { timeoutMs: 300, retries: 2 });
      const result = (reply.header as { result?: unknown } | null)?.result ?? null;
      if (result === null) return null;
      const parsed = NodeResultSchema.safeParse(result);
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * A node's admin counters plus its gossip state as `gossip_*` (`gossip_hot`: rumors it still
   * pushes; `gossip_pushPulls`: exchanges started). Undefined: no answer.
   */
  async stats(node: Address): Promise<Record<string, number> | undefined> {
    try {
      const reply = await this.rpc.call(node, AdminCommand.Stats, {}, undefined, { timeoutMs: 300, retries: 2 });
      const h = parseAdminHeader("statsReply", reply.header);
      if (!h) return undefined;
      const out = { ...h.stats };
      for (const [k, v] of Object.entries(h.gossip)) out[`gossip_${k}`] = v;
      return out;
    } catch {
      return undefined;
    }
  }

  /** Stops serving and closes the transport. */
  close(): void {
    for (const t of this.#files.values()) t.close();
    this.#files.clear();
    this.rpc.close();
    this.transport.close();
  }
}
