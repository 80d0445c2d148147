/**
 * The new process's side of a restart in place (see lib/admin/restart.ts):
 * bind the node's port, asking the old process for it when it is taken
 * (`--takeover TOKEN`), and say why when the start fails, so the old process
 * reports it instead of waiting in vain.
 *
 * @module
 */
import { realClock } from "../base/clock.ts";
import { Rpc } from "../wire/rpc.ts";
import { formatAddress } from "../net/transport.ts";
import { InternalAddressBook } from "../net/internal_address.ts";
import { UdpTransport } from "../net/udp_transport.ts";
import type { FrameAuth } from "../wire/frame.ts";
import { AdminCommand, parseAdminHeader } from "./protocol.ts";
import { takeoverErrorFile } from "./restart.ts";

/** Tunables of taking a port over. */
export interface TakeoverOptions {
  /** The token from `--takeover`. */
  token: string;
  /** Cluster keyring (the old process drops unauthenticated frames). */
  auth?: FrameAuth;
  /** Longest wait for the port once the old process agreed (ms). Default 15 s. */
  bindWaitMs?: number;
  /** Time between bind attempts (ms). Default 5. */
  bindRetryMs?: number;
}

function inUse(e: unknown): boolean {
  return e instanceof Error && /already in use/.test(e.message);
}

/** The address to reach the old process at: a wildcard bind is reached on loopback. */
function reachable(host: string, port: number): string {
  if (host === "0.0.0.0") return formatAddress("127.0.0.1", port);
  if (host === "::" || host === "[::]") return formatAddress("::1", port);
  return formatAddress(host, port);
}

/** A node's two sockets: the client port and the internal port (`net/internal_address.ts`). */
export interface NodeSockets {
  /** The client socket. */
  client: UdpTransport;
  /** The internal socket (node-to-node frames). */
  internal: UdpTransport;
}

/**
 * Binds the client socket `host:port` and the internal socket `internalHost:internalPort(port)`;
 * with `takeover`, ports held by this node's old process are asked for (at its internal port) and
 * waited for. Throws (one sentence) when a port cannot be had.
 *
 * @example
 * ```ts ignore
 * const { client, internal } = await bindTakingOver("127.0.0.1", 4000, "127.0.0.1", (p) => p + 10000, { token });
 * ```
 */
export async function bindTakingOver(
  host: string,
  port: number,
  internalHost: string,
  internalPort: (clientPort: number) => number,
  takeover?: TakeoverOptions,
): Promise<NodeSockets> {
  let client: UdpTransport | undefined;
  try {
    client = await UdpTransport.listen(host, port);
    return { client, internal: await UdpTransport.listen(internalHost, internalPort(client.port), "--internal-port") };
  } catch (e) {
    client?.close();
    if (!takeover || !inUse(e)) throw e;
  }
  await askOldProcess(host, port, internalHost, internalPort(port), takeover);
  const deadline = Date.now() + (takeover.bindWaitMs ?? 15_000);
  client = await bindWaiting(host, port, "--port", deadline, takeover);
  try {
    return {
      client,
      internal: await bindWaiting(internalHost, internalPort(port), "--internal-port", deadline, takeover),
    };
  } catch (e) {
    client.close();
    throw e;
  }
}

// Asks the process holding the ports (at its internal port) to hand them over.
async function askOldProcess(
  host: string,
  port: number,
  internalHost: string,
  internalPort: number,
  takeover: TakeoverOptions,
): Promise<void> {
  const loopback = host === "::" || host.includes(":") ? "::1" : "127.0.0.1";
  const client = await UdpTransport.listen(host === "0.0.0.0" || host === "::" ? loopback : host, 0);
  const old = reachable(host, port);
  const book = new InternalAddressBook({ [old]: reachable(internalHost, internalPort) });
  const rpc = new Rpc(client, realClock, { auth: takeover.auth, addresses: book });
  client.onReceive((data, from) => rpc.receive(data, from));
  try {
    const reply = await rpc.call(old, AdminCommand.Takeover, { token: takeover.token, pid: Deno.pid }, undefined, {
      timeoutMs: 300,
      retries: 4,
    }).catch(() => undefined);
    const h = reply && (parseAdminHeader("ok", reply.header) ?? { ok: false, reason: "a malformed answer" });
    if (!h) {
      throw new Error(`UDP ${old} is in use and the process there did not answer the takeover (not a KVStore node?)`);
    }
    if (h.ok !== true) throw new Error(`UDP ${old} is in use and the process there refused the takeover: ${h.reason}`);
  } finally {
    rpc.close();
    client.close();
  }
}

// Binds once the old process let go of the port, until `deadline`.
async function bindWaiting(
  host: string,
  port: number,
  flag: string,
  deadline: number,
  takeover: TakeoverOptions,
): Promise<UdpTransport> {
  for (;;) {
    try {
      return await UdpTransport.listen(host, port, flag);
    } catch (e) {
      if (!inUse(e) || Date.now() >= deadline) throw e;
    }
    await new Promise((r) => setTimeout(r, takeover.bindRetryMs ?? 5));
  }
}

/**
 * Tells the old process why this one could not start (best effort).
 *
 * @example
 * ```ts ignore
 * await reportTakeoverFailure("/srv/kv", token, "Invalid nodes.yaml: line 3 …");
 * ```
 */
export async function reportTakeoverFailure(stateDir: string, token: string, message: string): Promise<void> {
  try {
    await Deno.writeTextFile(takeoverErrorFile(stateDir, token), `${message}\n`);
  } catch { /* nothing more to do: the old process times out instead */ }
}
