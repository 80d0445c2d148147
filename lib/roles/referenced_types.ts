/**
 * The types that the node API (`./node`) and the testing API (`./testing`) refer to, listed once
 * for both entry points: `deno doc --lint` checks that none is left out.
 *
 * @module
 */
export type { Address } from "../net/transport.ts";
export type { AdminAttachOptions } from "../admin/attach.ts";
export type { AdminConfig } from "../admin/config.ts";
export type { AdminService, ReceiveOutcome } from "../admin/service.ts";
export type { AdminStats } from "../admin/stats.ts";
export type { AgentOptions } from "../monitoring/agent/attach.ts";
export type { AntiEntropy } from "../replication/anti_entropy.ts";
export type { AntiEntropyResult } from "../replication/anti_entropy.ts";
export type { AntiEntropyRunOptions } from "../replication/anti_entropy.ts";
export type { ArenaCounters } from "../storage/value_arena.ts";
export type { ApplyResult } from "../storage/store.ts";
export type { CallOptions } from "../wire/rpc.ts";
export type { CatchUp } from "../replication/catch_up.ts";
export type { CatchUpConfig } from "../replication/catch_up.ts";
export type { CatchUpPhase } from "../replication/catch_up.ts";
export type { CatchUpStatus } from "../replication/catch_up.ts";
export type { ClusterOptions } from "./attach_cluster.ts";
export type { ClusterParts } from "./attach_cluster.ts";
export type { CommandBody } from "../admin/command.ts";
export type { CommandGossip } from "../admin/gossip.ts";
export type { CommandSummary } from "../admin/command.ts";
export type { DatagramHandler } from "../net/transport.ts";
export type { DestructiveGuard } from "../node/destructive_guard.ts";
export type { DestructiveGuardStats } from "../node/destructive_guard.ts";
export type { Entry } from "../storage/store.ts";
export type { ExecResult } from "../node/executor.ts";
export type { Executor } from "../node/executor.ts";
export type { FleetConfig } from "../config/fleet_file.ts";
export type { FleetOptions, FleetService, FleetSnapshot } from "../monitoring/fleet/attach.ts";
export type { FleetCounters, FleetGossip, FleetGossipDeps, FleetTableConfig } from "../monitoring/fleet/gossip.ts";
export type {
  FleetNodeView,
  FleetState,
  FleetTable,
  FleetTableLimits,
  TableEntry,
  Verdict,
} from "../monitoring/fleet/table.ts";
export type { FleetRow, RowState } from "../monitoring/fleet/row.ts";
export type { VersionEntry } from "../monitoring/fleet/protocol.ts";
export type { FrameAuth } from "../wire/frame.ts";
export type { FsyncPolicy } from "../storage/durability.ts";
export type { GossipStats } from "../admin/gossip.ts";
export type { HandoffResult } from "../replication/hinted_handoff.ts";
export type { HintedHandoff } from "../replication/hinted_handoff.ts";
export type { HybridLogicalClock } from "../storage/hlc.ts";
export type { InternalMessage } from "../wire/envelope.ts";
export type { JoinGate } from "../replication/join_gate.ts";
export type { JoinGateStats } from "../replication/join_gate.ts";
export type { KVNode } from "../node/kv_node.ts";
export type { LocalReplica } from "../replication/local_replica.ts";
export type { MemberCounts } from "../node/members.ts";
export type { MemberState } from "../membership/membership_codec.ts";
export type { MemberView } from "../node/members.ts";
export type { Departure } from "../node/members.ts";
export type { MemoryStore } from "../storage/store.ts";
export type { MonitoringAgent } from "../monitoring/agent/attach.ts";
export type { NodeConfig } from "../node/kv_node.ts";
export type { NodeContext } from "../node/context.ts";
export type { NodeCounters } from "../node/kv_node.ts";
export type { NodeReport } from "../monitoring/report.ts";
export type { GoneMember } from "../monitoring/report.ts";
export type { NodeResult } from "../admin/protocol.ts";
export type { Payload } from "../wire/frame.ts";
export type { PayloadWriter } from "../wire/frame.ts";
export type { Placement } from "../replication/placement.ts";
export type { ProgramSpec } from "../admin/command.ts";
export type { PushSpec } from "../admin/command.ts";
export type { PutStatus } from "../replication/replica_protocol.ts";
export type { ReplicaDeps } from "../replication/local_replica.ts";
export type { ReplyBudget } from "../node/reply_budget.ts";
export type { ReplyBudgetConfig } from "../node/reply_budget.ts";
export type { ReplyBudgetStats } from "../node/reply_budget.ts";
export type { RESULT_STATUSES } from "../admin/protocol.ts";
export type { RangeDigestDeps } from "../replication/range_digests.ts";
export type { RangeDigests } from "../replication/range_digests.ts";
export type { RawHandler } from "../wire/rpc.ts";
export type { Receipt } from "../admin/gossip.ts";
export type { RejectReason } from "../wire/frame.ts";
export type { Rejection } from "../admin/command.ts";
export type { ReplayGuard } from "../admin/replay_guard.ts";
export type { ReplicatedExecutor } from "../replication/replicated_executor.ts";
export type { ReplicationConfig } from "../replication/replication_config.ts";
export type { ReplicationStats } from "../replication/local_replica.ts";
export type { ReplyCache } from "../node/reply_cache.ts";
export type { ReplyCallback } from "../wire/rpc.ts";
export type { ReplyId } from "../node/reply_cache.ts";
export type { ReportSink } from "../monitoring/agent/report_sender.ts";
export type { Restarter } from "../admin/rollout_host.ts";
export type { RestartOptions } from "../admin/rollout_host.ts";
export type { ResultBase } from "../admin/rollout_host.ts";
export type { ResultSink } from "../admin/reporter.ts";
export type { ResultStatus } from "../admin/protocol.ts";
export type { Ring } from "../replication/ring.ts";
export type { Rollout } from "../admin/rollout.ts";
export type { RolloutInfo } from "../admin/protocol.ts";
export type { RolloutPhase } from "../admin/protocol.ts";
export type { RolloutSpec } from "../admin/command.ts";
export type { RoundEvent } from "../monitoring/agent/round_gossip.ts";
export type { RoundGossip } from "../monitoring/agent/round_gossip.ts";
export type { RoundGossipConfig } from "../monitoring/agent/round_gossip.ts";
export type { RoundHeader } from "../monitoring/round_message.ts";
export type { Rpc } from "../wire/rpc.ts";
export type { RpcAnswer } from "../wire/rpc.ts";
export type { RpcHandler } from "../wire/rpc.ts";
export type { RpcStats } from "../wire/rpc.ts";
export type { RunOutcome } from "../admin/runner.ts";
export type { RunRequest } from "../admin/runner.ts";
export type { RunSpec } from "../admin/command.ts";
export type { RunStatus } from "../admin/runner.ts";
export type { STATES } from "../membership/membership_codec.ts";
export type { ScriptExecutor } from "../admin/runner.ts";
export type { ServiceContext } from "../node/context.ts";
export type { SignedCommand } from "../admin/command.ts";
export type { Stat } from "../monitoring/report.ts";
export type { StatMap } from "../monitoring/report.ts";
export type { StatsSource } from "../monitoring/agent/stats.ts";
export type { StatsSources } from "../monitoring/agent/stats.ts";
export type { StoreKey } from "../storage/store.ts";
export type { StoreListener } from "../storage/store.ts";
export type { StoreMemory } from "../storage/store.ts";
export type { SwimConfig } from "../membership/swim_config.ts";
export type { Transfer } from "../admin/transfer.ts";
export type { TransferState } from "../admin/transfer.ts";
export type { TransferStats } from "../admin/transfer.ts";
export type { Transport } from "../net/transport.ts";
export type { Version } from "../storage/hlc.ts";
export type { VersionObserver } from "../storage/store.ts";
export type { ViewCount } from "../replication/catch_up.ts";
