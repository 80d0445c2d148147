/**
 * The replica side of the replication protocol: what a node does when a
 * coordinator sends it a write (Put), asks for its copy (Get), or pushes a
 * batch during anti-entropy or read repair (Push).
 *
 * @module
 */
import type { InternalMessage } from "../envelope.ts";
import type { Rpc, RpcAnswer } from "../rpc.ts";
import type { Address } from "../transport.ts";
import type { HintedHandoff } from "./hinted_handoff.ts";
import type { LocalReplica, ReplicationStats } from "./local_replica.ts";
import { decodeEntries, encodeEntries, headerOf, isHexKey, ReplicaCommand } from "./replica_protocol.ts";

/**
 * Registers the replica-side handlers on `rpc`: writes are applied through `replica` (last writer wins; a
 * write carrying a hint for another owner is recorded in `handoff`), reads answer the held entry.
 *
 * @example
 * ```ts ignore
 * serveReplicaRequests(node.rpc, replica, handoff, stats, node.address);
 * ```
 */
export function serveReplicaRequests(
  rpc: Rpc,
  replica: LocalReplica,
  handoff: HintedHandoff,
  stats: ReplicationStats,
  self: Address,
): void {
  rpc.handle(ReplicaCommand.Put, (m: InternalMessage): RpcAnswer => {
    const entries = decodeEntries(m.body);
    if (!entries || entries.length !== 1) return undefined;
    const { key, entry } = entries[0];
    const h = headerOf(m.header);
    if (typeof h.hint === "string" && h.hint !== self) {
      stats.hintsAccepted++;
      handoff.record(key, h.hint);
    }
    const r = h.rm === 1 && entry.tombstone
      ? replica.remove(key, entry)
      : { status: replica.apply(key, entry), existed: false };
    if (r.status === "ok") handoff.check(key);
    const held = r.status === "stale" ? replica.store.getEntry(key)?.version : undefined;
    return { header: { s: r.status, ex: r.existed, v: held ? [held.t, held.n] : undefined } };
  });
  rpc.handle(ReplicaCommand.Get, (m: InternalMessage): RpcAnswer => {
    const k = headerOf(m.header).k;
    if (!isHexKey(k)) return undefined;
    const e = replica.read(k);
    return { header: {}, body: e ? encodeEntries([{ key: k, entry: e }]) : undefined };
  });
  rpc.handle(ReplicaCommand.Push, (m: InternalMessage): RpcAnswer => {
    const entries = decodeEntries(m.body);
    if (!entries) return undefined;
    let s = "";
    for (const { key, entry } of entries) {
      const status = replica.apply(key, entry);
      if (status === "ok") handoff.check(key);
      s += status[0];
    }
    return { header: { s } };
  });
}
