/**
 * `deno bench tests/bench/replicated_request_bench.ts`: the coordinator's own cost of one
 * replicated write and read (issue 25, item 2), replicas answering at once through a fake RPC, so
 * only the request logic is measured. Baseline: the former closure-based `#write` and `get` of
 * `ReplicatedExecutor`, copied here; against them, `WriteRequest` and `ReadRequest`.
 *
 * @module
 */
import type { ExecResult } from "../../lib/node/executor.ts";
import type { Coordinator } from "../../lib/replication/coordinator.ts";
import { FAIL, FULL, MISSING, OK } from "../../lib/replication/coordinator.ts";
import { newReplicationStats } from "../../lib/replication/local_replica.ts";
import {
  decodeReplicaGetReply,
  decodeReplicaPutReply,
  encodeReplicaPutReply,
  replicaGetReplyWriter,
  replicaPutWriter,
} from "../../lib/replication/replica_codec.ts";
import { type PutStatus, ReplicaCommand } from "../../lib/replication/replica_protocol.ts";
import { ReadRequest } from "../../lib/replication/replicated_read.ts";
import { WriteRequest } from "../../lib/replication/replicated_write.ts";
import { DEFAULT_REPLICATION_CONFIG } from "../../lib/replication/replication_config.ts";
import { compareVersions, type Version } from "../../lib/storage/hlc.ts";
import type { Entry } from "../../lib/storage/store.ts";
import { ErrorCode } from "../../lib/wire/client_protocol.ts";
import type { PayloadWriter } from "../../lib/wire/frame.ts";

type Callback = (reply: Uint8Array | undefined) => void;
const queued: { command: number; callback: Callback }[] = [];
const entry: Entry = { value: new Uint8Array(100).fill(7), version: { t: 1, n: "a:1" }, tombstone: false };
const getReplyWriter = replicaGetReplyWriter(entry);
const GET_REPLY = new Uint8Array(getReplyWriter.size);
getReplyWriter.write(GET_REPLY, 0);
const PUT_REPLY = encodeReplicaPutReply("ok", false);
const stats = newReplicationStats();
const config = DEFAULT_REPLICATION_CONFIG;
const deps = {
  self: "a:1",
  rpc: {
    request: (_to: string, command: number, _p: unknown, _o: unknown, callback: Callback) =>
      queued.push({ command, callback }),
    castRaw: () => {},
  },
  store: { getEntry: () => entry },
  replica: {
    apply: (): PutStatus => "ok",
    remove: () => ({ status: "ok" as PutStatus, existed: true }),
    read: () => entry,
    expired: () => false,
    hlc: { observe: () => {}, next: (): Version => ({ t: 2, n: "a:1" }) },
  },
  config,
  stats,
};
const coordinator = {
  deps,
  callOptions: { timeoutMs: config.replicaTimeoutMs, retries: config.replicaRetries },
  handoff: { record: () => {} },
  closed: () => false,
  standInsAt: () => [],
  write: () => OK,
} as unknown as Coordinator;
const owners = ["a:1", "b:1", "c:1"];
const key = new Uint8Array(32).fill(3);

/** The replicas answer every queued call. */
function answerAll(): void {
  for (const { command, callback } of queued.splice(0)) {
    callback(command === ReplicaCommand.Get ? GET_REPLY : PUT_REPLY);
  }
}

// The former #write (closures over eight variables), with the executor's fields as these fakes.
function formerWrite(e: Entry, remove: boolean): ExecResult | Promise<ExecResult> {
  const { self, rpc } = deps;
  const w = Math.min(config.w, owners.length);
  let plain: PayloadWriter | undefined;
  const options = { timeoutMs: config.replicaTimeoutMs, retries: config.replicaRetries };
  let acks = 0, full = 0, pending = 0, existed = false, started = false;
  let newer: Version | undefined;
  let result: ExecResult | Promise<ExecResult> | undefined;
  let resolve: ((r: ExecResult | Promise<ExecResult>) => void) | undefined;
  const decide = () => {
    if (result || !started) return;
    if (acks >= w && newer) result = OK;
    else if (acks >= w) result = remove && !existed ? MISSING : OK;
    else if (acks + pending < w) result = full > 0 ? FULL : FAIL;
    else return;
    if (result === OK || result === MISSING) stats.writesOk++;
    else if (!(result instanceof Promise)) stats.writesFailed++;
    resolve?.(result);
  };
  const answer = (s: PutStatus, ex: boolean, held?: Version) => {
    if (s === "full") full++;
    else acks++;
    existed ||= ex;
    if (s === "stale" && held && compareVersions(held, e.version) > 0) {
      if (!newer || compareVersions(held, newer) > 0) newer = held;
    }
    decide();
  };
  const send = (to: string) => {
    if (to === self) {
      const r = { status: deps.replica.apply(), existed: false };
      answer(r.status, r.existed, undefined);
      return;
    }
    pending++;
    stats.pendingReplicaWrites++;
    const payload = plain ??= replicaPutWriter(key, e, remove);
    rpc.request(to, ReplicaCommand.Put, payload, options, (reply) => {
      pending--;
      stats.pendingReplicaWrites--;
      if (reply === undefined) return decide();
      const r = decodeReplicaPutReply(reply);
      if (typeof r === "string") decide();
      else answer(r.status, r.existed, r.held);
    });
  };
  for (const o of owners) send(o);
  started = true;
  decide();
  return result ?? new Promise((r) => resolve = r);
}

// The former #readRepair.
function formerRepair(owners: readonly string[], replies: Map<string, Entry | undefined>, best?: Entry): void {
  if (!best) return;
  let payload: PayloadWriter | undefined;
  for (const o of owners) {
    if (!replies.has(o)) continue;
    const e = replies.get(o);
    if (e && compareVersions(e.version, best.version) >= 0) continue;
    stats.readRepairs++;
    if (o === deps.self) {
      deps.replica.apply();
      continue;
    }
    payload ??= replicaPutWriter(key, best, false);
    deps.rpc.castRaw();
  }
}

// The former get (closures over the replies map and counters).
function formerGet(): ExecResult | Promise<ExecResult> {
  const { self, rpc } = deps;
  const r = Math.min(config.r, owners.length);
  const options = { timeoutMs: config.replicaTimeoutMs, retries: config.replicaRetries };
  const replies = new Map<string, Entry | undefined>();
  let pending = 0, started = false;
  let result: ExecResult | undefined;
  let resolve: ((r: ExecResult) => void) | undefined;
  const newest = (): Entry | undefined => {
    let best: Entry | undefined;
    for (const e of replies.values()) if (e && (!best || compareVersions(e.version, best.version) > 0)) best = e;
    return best;
  };
  const unasked = owners.includes(self) ? [self, ...owners.filter((o) => o !== self)] : owners.slice();
  // deno-lint-ignore prefer-const
  let ask: (to: string) => void;
  const decide = () => {
    if (!started) return;
    if (!result) {
      const e = replies.size >= r ? newest() : undefined;
      if (replies.size >= r && !e && pending === 0 && unasked.length > 0) {
        for (const o of unasked.splice(0)) ask(o);
        if (pending > 0) return;
      }
      if (replies.size >= r && (e || pending === 0)) {
        result = e && !e.tombstone ? { code: ErrorCode.Success, value: e.value } : MISSING;
        stats.readsOk++;
      } else if (replies.size + pending < r) result = FAIL;
      if (result) resolve?.(result);
    }
    if (pending === 0) formerRepair(owners, replies, newest());
  };
  ask = (to: string) => {
    if (to === self) {
      replies.set(self, deps.replica.read());
      return;
    }
    pending++;
    rpc.request(to, ReplicaCommand.Get, key, options, (reply) => {
      pending--;
      const e = reply && decodeReplicaGetReply(reply);
      if (e && typeof e !== "string") {
        deps.replica.hlc.observe();
        replies.set(to, !deps.replica.expired() ? e : undefined);
      }
      decide();
    });
  };
  for (const o of unasked.splice(0, r)) ask(o);
  started = true;
  decide();
  return result ?? new Promise((res) => resolve = res);
}

Deno.bench({
  name: "write: former closures",
  group: "write",
  baseline: true,
  fn: () => {
    formerWrite(entry, false);
    answerAll();
  },
});
Deno.bench({
  name: "write: WriteRequest",
  group: "write",
  fn: () => {
    new WriteRequest(coordinator, key, entry, false, true, 0, owners).run();
    answerAll();
  },
});
Deno.bench({
  name: "read: former closures",
  group: "read",
  baseline: true,
  fn: () => {
    formerGet();
    answerAll();
  },
});
Deno.bench({
  name: "read: ReadRequest",
  group: "read",
  fn: () => {
    new ReadRequest(coordinator, key, 0, owners).run();
    answerAll();
  },
});
