/**
 * The kvctl side of admin commands: building and signing commands, handing
 * them to a node, serving a pushed file's chunks as its first source, and
 * asking nodes for their results. Works over any transport (UDP for kvctl,
 * the in-memory network in simulations).
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import { Rpc } from "../rpc.ts";
import type { Address, Transport } from "../transport.ts";
import { toHex } from "../bytes.ts";
import { type CommandBody, type PushSpec, type RunSpec, signCommand, type SignedCommand } from "./command.ts";
import { type AdminConfig, DEFAULT_ADMIN_CONFIG } from "./config.ts";
import { AdminCommand, headerId, headerIndex, type NodeResult } from "./protocol.ts";
import { type ChunkStore, MemoryChunkStore } from "./chunk_store.ts";
import { type BuiltManifest, Transfer } from "./transfer.ts";

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
  constructor(transport: Transport, clock: Clock, config: Partial<AdminConfig> = {}) {
    this.transport = transport;
    this.#clock = clock;
    this.#config = { ...DEFAULT_ADMIN_CONFIG, ...config };
    this.rpc = new Rpc(transport, clock);
    transport.onReceive((data, from) => this.rpc.receive(data, from));
    this.rpc.handle(AdminCommand.Chunk, async (m) => {
      const id = headerId(m.header), i = headerIndex(m.header);
      const t = id ? this.#files.get(id) : undefined;
      const bytes = t && i !== undefined ? await t.serve(i) : undefined;
      return bytes ? { header: { id, i }, body: bytes } : { header: { missing: true } };
    });
    this.rpc.handle(AdminCommand.Have, (m) => {
      const id = headerId(m.header);
      const t = id ? this.#files.get(id) : undefined;
      return {
        header: t ? { state: t.state, count: t.count, total: t.total, have: t.bitmap() } : { state: "unknown" },
      };
    });
  }

  /**
   * Hands `signed` to the first of `nodes` that answers; resolves with that node.
   * A node that rejects the command (bad signature, expired, no key) stops the attempt.
   */
  async submit(signed: SignedCommand, nodes: Address[]): Promise<Address> {
    const unreachable: Address[] = [];
    for (const node of nodes) {
      let reply;
      try {
        reply = await this.rpc.call(node, AdminCommand.Submit, signed, undefined, { timeoutMs: 300, retries: 3 });
      } catch {
        unreachable.push(node);
        continue;
      }
      const h = reply.header as { ok?: unknown; reason?: unknown; message?: unknown } | null;
      if (h?.ok === true) return node;
      throw new SubmitError(`${node} rejected the command (${String(h?.reason)}): ${String(h?.message)}`);
    }
    throw new SubmitError(`no node answered: tried ${unreachable.join(", ")}; are they running? check --node`);
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

  /** A node's result for a command (null: none yet; undefined: no answer). */
  async status(node: Address, id: string): Promise<NodeResult | null | undefined> {
    try {
      const reply = await this.rpc.call(node, AdminCommand.Status, { id }, undefined, { timeoutMs: 300, retries: 2 });
      return ((reply.header as { result?: NodeResult | null } | null)?.result) ?? null;
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
      const h = reply.header as { stats?: Record<string, number>; gossip?: Record<string, number> } | null;
      if (!h?.stats) return undefined;
      const out = { ...h.stats };
      for (const [k, v] of Object.entries(h.gossip ?? {})) out[`gossip_${k}`] = v;
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
