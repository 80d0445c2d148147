/**
 * The replica side of the replication protocol: what a node does when a
 * coordinator sends it a write (Put), asks for its copy (Get), or pushes a
 * batch during anti-entropy or read repair (Push).
 *
 * @module
 */
import { toHex } from "../base/bytes.ts";
import type { InternalMessage } from "../wire/envelope.ts";
import type { Rpc, RpcAnswer } from "../wire/rpc.ts";
import type { Address } from "../net/transport.ts";
import type { HintedHandoff } from "./hinted_handoff.ts";
import type { LocalReplica, ReplicationStats } from "./local_replica.ts";
import { decodeEntries, ReplicaCommand } from "./replica_protocol.ts";
import { pushReplyHeader } from "./replica_messages.ts";
import { decodeReplicaGet, decodeReplicaPut, encodeReplicaPutReply, replicaGetReplyWriter } from "./replica_codec.ts";

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
  rpc.handleRaw(ReplicaCommand.Put, (payload) => {
    const put = decodeReplicaPut(payload);
    if (typeof put === "string") {
      stats.rejectedReplicaMessages++;
      return undefined;
    }
    const { key, entry } = put;
    if (put.hint !== undefined && put.hint !== self) {
      stats.hintsAccepted++;
      handoff.record(toHex(key), put.hint);
    }
    const r = put.remove ? replica.remove(key, entry) : { status: replica.apply(key, entry), existed: false };
    if (r.status === "ok") {
      handoff.check(key);
      stats.replicaWritesApplied++;
    }
    const held = r.status === "stale" ? replica.store.getEntry(key)?.version : undefined;
    return encodeReplicaPutReply(r.status, r.existed, held);
  });
  rpc.handleRaw(ReplicaCommand.Get, (payload) => {
    const key = decodeReplicaGet(payload);
    if (typeof key === "string") {
      stats.rejectedReplicaMessages++;
      return undefined;
    }
    return replicaGetReplyWriter(replica.read(key));
  });
  rpc.handle(ReplicaCommand.Push, (m: InternalMessage): RpcAnswer => {
    const entries = decodeEntries(m.body);
    if (!entries) return undefined;
    let s = "";
    for (const { key, entry } of entries) {
      const status = replica.apply(key, entry);
      if (status === "ok") {
        handoff.check(key);
        stats.entriesReceived++;
      }
      s += status[0];
    }
    return { header: pushReplyHeader({ statuses: s }) };
  });
}
