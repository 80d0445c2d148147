/**
 * Fuzzing the internal messages (0x20–0xFF): the envelope, membership (SWIM),
 * replication, monitoring-round and admin decoders directly, then whole nodes
 * of a 3-node simulated cluster fed random packets and mutations of real
 * recorded traffic. Checks: nothing throws out of a decoder or handler, no
 * handler fails on bad input, a packet the envelope rejects changes neither
 * the store nor the membership, and the cluster still works afterwards.
 *
 * Case count: FUZZ_CASES (CI: 100000 via `deno task test:fuzz`); replay with FUZZ_SEED.
 */
import assert from "node:assert/strict";
import {
  decodeJsonFrame,
  decodeJsonPayload,
  encodeJsonFrame,
  InternalCommand,
  type InternalMessage,
} from "../../lib/wire/envelope.ts";
import { encodeFrame, FRAME_HEADER_BYTES, readFrame, REJECT_REASONS } from "../../lib/wire/frame.ts";
import { toHex } from "../../lib/base/bytes.ts";
import { ClusterKeyring } from "../../lib/wire/keyring.ts";
import { newClusterKey } from "../../lib/wire/fleet_auth.ts";
import {
  decodeReplicaGet,
  decodeReplicaGetReply,
  decodeReplicaPut,
  decodeReplicaPutReply,
} from "../../lib/replication/replica_codec.ts";
import { decodeMembership, decodeUpdate } from "../../lib/membership/membership_codec.ts";
import { decodeEntries, decodeVersions, encodeEntries } from "../../lib/replication/replica_protocol.ts";
import * as rm from "../../lib/replication/replica_messages.ts";
import * as dm from "../../lib/replication/debug_messages.ts";
import { parseRoundHeader } from "../../lib/monitoring/round_message.ts";
import { type AdminHeaderKind, type AdminHeaders, headerId, parseAdminHeader } from "../../lib/admin/protocol.ts";
import { AdminClient, createCommand } from "../../lib/admin/client.ts";
import { generateAdminKeys, importAdminPrivateKey } from "../../lib/admin/keys.ts";
import type { RunOutcome, ScriptExecutor } from "../../lib/admin/runner.ts";
import type { FleetConfig } from "../../lib/config/fleet_file.ts";
import { Simulation } from "../../lib/testing/simulation.ts";
import { internalAddressOf } from "../../lib/net/internal_address.ts";
import { addr, SimCluster } from "../support/sim_cluster.ts";
import type { StoreListener } from "../../lib/storage/store.ts";
import { fuzzCases, Fuzzer, fuzzSeed } from "./fuzzer.ts";
import { decodeDigest, decodeRequest, decodeRows, FleetCommand } from "../../lib/monitoring/fleet/protocol.ts";
import { rowProblem } from "../../lib/monitoring/fleet/row.ts";
import { parseDumpPage } from "../../lib/monitoring/fleet/dump.ts";
import type { Swim } from "../../lib/membership/swim.ts";
import {
  AdminResults,
  parseCommandListJson,
  parseCommandRecordJson,
  recordJson,
} from "../../lib/admin/monitor/results_store.ts";

/** Mutates a JSON value: replace, drop or add a field somewhere inside. */
function mutateJson(f: Fuzzer, v: unknown, depth = 0): unknown {
  if (depth > 3 || f.chance(0.25)) return f.json();
  if (Array.isArray(v)) {
    const a = v.slice();
    if (a.length > 0 && f.chance(0.7)) a[f.int(a.length)] = mutateJson(f, a[f.int(a.length)], depth + 1);
    else if (f.chance(0.5)) a.push(f.json());
    else a.splice(f.int(a.length + 1), 1);
    return a;
  }
  if (v && typeof v === "object") {
    const o = { ...(v as Record<string, unknown>) };
    const keys = Object.keys(o);
    if (keys.length > 0 && f.chance(0.6)) {
      const k = f.pick(keys);
      if (f.chance(0.2)) delete o[k];
      else o[k] = mutateJson(f, o[k], depth + 1);
    } else o[f.pick(["s", "t", "u", "x", "k", "id", "i"])] = f.json();
    return o;
  }
  return f.json();
}

/** The messages of a recorded frame: command and payload. */
function messagesOf(frame: Uint8Array): { command: number; payload: Uint8Array }[] {
  const out: { command: number; payload: Uint8Array }[] = [];
  readFrame(frame, undefined, (command, _id, payload) => out.push({ command, payload }));
  return out;
}

/**
 * A well-formed frame around a mutated message of a recorded one: a JSON-family message with a
 * mutated header and/or body, or a binary payload with mutated bytes.
 */
function structured(f: Fuzzer, packet: Uint8Array, corpus: readonly Uint8Array[]): Uint8Array {
  const m = decodeJsonFrame(packet);
  if (!m) {
    const [first] = messagesOf(packet);
    if (!first) return f.mutate(packet, corpus);
    const command = f.chance(0.1) ? 0x20 + f.int(0x50) : first.command;
    return encodeFrame([{ command, callId: f.int(3), payload: f.mutate(first.payload, []) }]);
  }
  const header = f.chance(0.8) ? mutateJson(f, m.header) : m.header;
  const body = f.chance(0.4) ? f.mutate(m.body, []) : m.body;
  const command = f.chance(0.1) ? 0x20 + f.int(0x50) : m.command;
  return encodeJsonFrame(command, header, body);
}

/**
 * Every validator of the replication and debug headers on `header`: none throws, and what one
 * accepts holds its invariants (indices below their limit, counts non-negative, keys hex) and
 * survives its encoder unchanged.
 */
function parseReplicationHeaders(header: unknown, limit: number): void {
  const same = <T>(parsed: T, encode: (x: T) => unknown, parse: (h: unknown) => T | null) =>
    assert.deepEqual(parse(JSON.parse(JSON.stringify(encode(parsed)))), parsed);
  const below = (xs: number[]) => assert.ok(xs.every((x) => Number.isInteger(x) && x >= 0 && x < limit));
  const digestRequest = rm.parseDigestRequest(header);
  if (digestRequest) {
    assert.ok(Number.isSafeInteger(digestRequest.bucketCount) && digestRequest.bucketCount >= 1);
    same(digestRequest, rm.digestRequestHeader, rm.parseDigestRequest);
  }
  const digestReply = rm.parseDigestReply(header, limit);
  below(digestReply.differing);
  if (!digestReply.more) same(digestReply, rm.digestReplyHeader, (h) => rm.parseDigestReply(h, limit));
  const keysRequest = rm.parseKeysRequest(header, limit);
  if (keysRequest) {
    below(keysRequest.buckets);
    same(keysRequest, rm.keysRequestHeader, (h) => rm.parseKeysRequest(h, limit));
  }
  const keysReply = rm.parseKeysReply(header, limit);
  below(keysReply.want);
  assert.ok(keysReply.lack === undefined || (Number.isSafeInteger(keysReply.lack) && keysReply.lack >= 0));
  same(keysReply, rm.keysReplyHeader, (h) => rm.parseKeysReply(h, limit));
  const fetchRequest = rm.parseFetchRequest(header);
  if (fetchRequest) {
    assert.ok(fetchRequest.keys.length <= rm.MAX_FETCH_KEYS);
    assert.ok(fetchRequest.keys.every((k) => k === null || rm.isHexKey(k)));
    same(fetchRequest, rm.fetchRequestHeader, rm.parseFetchRequest);
  }
  const fetchReply = rm.parseFetchReply(header);
  if (fetchReply) same(fetchReply, rm.fetchReplyHeader, rm.parseFetchReply);
  const pushReply = rm.parsePushReply(header);
  if (pushReply) same(pushReply, rm.pushReplyHeader, rm.parsePushReply);
  const offerReply = rm.parseOfferReply(header, limit);
  below(offerReply.want);
  same(offerReply, rm.offerReplyHeader, (h) => rm.parseOfferReply(h, limit));
  const keysPageRequest = dm.parseKeysPageRequest(header);
  same(keysPageRequest, dm.keysPageRequestHeader, dm.parseKeysPageRequest);
  const keysPage = dm.parseKeysPage(header);
  if (keysPage) same(keysPage, dm.keysPageHeader, dm.parseKeysPage);
  const membersPage = dm.parseMembersPage(header);
  if (membersPage) {
    assert.ok(membersPage.more >= 0);
    const rounded = { ...membersPage, members: membersPage.members.map((m) => ({ ...m, forMs: Math.round(m.forMs) })) };
    same(rounded, dm.membersPageHeader, dm.parseMembersPage);
  }
  dm.parseReplicationDebugStats(header);
}

/** Random typed replication and debug headers, encoded: what the validators must accept as they are. */
function typedHeaders(f: Fuzzer, limit: number): { header: unknown; parse: (h: unknown) => unknown; value: unknown }[] {
  const idx = () => Array.from({ length: f.int(5) }, () => f.int(limit));
  const hex = () => Array.from(f.bytes(32), (b) => b.toString(16).padStart(2, "0")).join("");
  const word = () => f.int(0x1_0000_0000);
  const digestRequest = f.chance(0.5)
    ? { bucketCount: 1 + f.int(4096), totals: [word(), word()] as const }
    : { bucketCount: 1 + f.int(4096) };
  const keysPage = {
    keys: Array.from(
      { length: f.int(4) },
      () => ({ key: hex(), t: f.int(1e9), n: `n${f.int(9)}`, tombstone: f.chance(0.5) }),
    ),
    next: f.chance(0.5) ? hex() : null,
  };
  const members = {
    members: Array.from(
      { length: f.int(4) },
      () => ({ address: `10.0.0.${f.int(255)}:4000`, state: "alive", incarnation: f.int(9), forMs: f.int(1e6) }),
    ),
    more: f.int(3),
  };
  return [
    { header: rm.digestRequestHeader(digestRequest), parse: rm.parseDigestRequest, value: digestRequest },
    ...[{ differing: idx(), more: false }].map((v) => ({
      header: rm.digestReplyHeader(v),
      parse: (h: unknown) => rm.parseDigestReply(h, limit),
      value: v,
    })),
    ...[{ buckets: idx(), bucketCount: limit }].map((v) => ({
      header: rm.keysRequestHeader(v),
      parse: (h: unknown) => rm.parseKeysRequest(h, limit),
      value: v,
    })),
    ...[{ want: idx(), lack: f.int(1000) }].map((v) => ({
      header: rm.keysReplyHeader(v),
      parse: (h: unknown) => rm.parseKeysReply(h, limit),
      value: v,
    })),
    ...[{ keys: Array.from({ length: f.int(5) }, hex) }].map((v) => ({
      header: rm.fetchRequestHeader(v),
      parse: rm.parseFetchRequest,
      value: v,
    })),
    ...[{ done: 1 + f.int(500) }].map((v) => ({ header: rm.fetchReplyHeader(v), parse: rm.parseFetchReply, value: v })),
    ...[{ statuses: Array.from({ length: f.int(6) }, () => f.pick(["o", "s", "f"])).join("") }].map((v) => ({
      header: rm.pushReplyHeader(v),
      parse: rm.parsePushReply,
      value: v,
    })),
    ...[{ want: idx() }].map((v) => ({
      header: rm.offerReplyHeader(v),
      parse: (h: unknown) => rm.parseOfferReply(h, limit),
      value: v,
    })),
    { header: dm.keysPageHeader(keysPage), parse: dm.parseKeysPage, value: keysPage },
    { header: dm.membersPageHeader(members), parse: dm.parseMembersPage, value: members },
  ];
}

Deno.test("fuzz: replication and debug header codecs: typed values round-trip, mutated headers never throw and what passes holds", () => {
  const cases = fuzzCases(4_000);
  const f = new Fuzzer(fuzzSeed() + 5);
  let accepted = 0;
  for (let i = 0; i < cases; i++) {
    const limit = 1 + f.int(300);
    const typed = typedHeaders(f, limit);
    for (const { header, parse, value } of typed) {
      assert.deepEqual(parse(JSON.parse(JSON.stringify(header))), value, `case ${i}: ${JSON.stringify(header)}`);
    }
    const { header } = f.pick(typed);
    const mutated = f.chance(0.8) ? mutateJson(f, header) : f.json();
    parseReplicationHeaders(mutated, limit);
    if (rm.parseKeysRequest(mutated, limit) || rm.parseFetchRequest(mutated) || dm.parseKeysPage(mutated)) accepted++;
  }
  assert.ok(accepted > 0, "some mutated headers still pass (the invariants were checked on them)");
});

const ADMIN_HEADER_KINDS: readonly AdminHeaderKind[] = [
  "id",
  "chunk",
  "digest",
  "takeover",
  "hints",
  "known",
  "ok",
  "missing",
  "chunkReply",
  "haveReply",
  "statsReply",
];

/** What the admin header validator accepts holds its layout, and passes the validator again unchanged. */
function checkAdminHeader(kind: AdminHeaderKind, header: unknown, where: string): void {
  const h = parseAdminHeader(kind, header);
  if (h === undefined) return;
  const id = (x: unknown) => typeof x === "string" && /^[0-9a-f]{32}$/.test(x);
  if ("id" in h) assert.ok(id(h.id), `${where}: ${kind} id`);
  if ("i" in h) assert.ok(h.i !== undefined && Number.isInteger(h.i) && h.i >= 0, `${where}: chunk index`);
  if ("missing" in h) assert.equal(typeof h.missing, "boolean", `${where}: missing`);
  if ("have" in h) assert.equal(typeof h.have, "string", `${where}: have bitmap`);
  if ("stats" in h) {
    assert.ok(
      [h.stats, h.gossip].every((c) => Object.values(c).every((x) => typeof x === "number")),
      `${where}: counters`,
    );
  }
  if ("ids" in h) assert.ok(h.ids.every(id), `${where}: digest ids`);
  if ("src" in h) assert.ok(h.src.length <= 4 && h.src.every((a) => /^\S+:\d+$/.test(a)), `${where}: hints`);
  if ("token" in h) assert.equal(typeof h.token, "string", `${where}: token`);
  if ("known" in h) assert.equal(typeof h.known, "boolean", `${where}: known`);
  if ("ok" in h) {
    assert.equal(typeof h.ok, "boolean", `${where}: ok`);
    assert.ok([h.reason, h.message].every((x) => x === undefined || typeof x === "string"), `${where}: ok reason`);
  }
  assert.deepEqual(parseAdminHeader(kind, JSON.parse(JSON.stringify(h))), h, `${where}: ${kind} round trip`);
}

/** Random typed admin headers: what the validator must give back as they are. */
function typedAdminHeaders(f: Fuzzer): { [K in AdminHeaderKind]: AdminHeaders[K] } {
  const hex = (n: number) => Array.from(f.bytes(n), (b) => b.toString(16).padStart(2, "0")).join("");
  const pid = f.int(1 << 22);
  return {
    id: { id: hex(16) },
    chunk: { id: hex(16), i: f.int(1 << 20) },
    digest: { ids: Array.from({ length: f.int(6) }, () => hex(16)) },
    takeover: f.chance(0.5) ? { token: hex(4 + f.int(28)), pid } : { token: hex(4 + f.int(28)) },
    hints: { src: Array.from({ length: f.int(5) }, () => `10.0.${f.int(256)}.${f.int(256)}:${f.int(65536)}`) },
    known: { known: f.chance(0.5) },
    ok: f.chance(0.5) ? { ok: true } : { ok: false, reason: `r${f.int(9)}`, message: hex(f.int(8)) },
    missing: { missing: f.chance(0.5) },
    chunkReply: f.chance(0.5) ? { i: f.int(1 << 20), missing: false } : { missing: true },
    haveReply: f.chance(0.5) ? { state: "fetching", have: hex(f.int(8)) } : { state: "unknown" },
    statsReply: {
      stats: { received: f.int(100), chunks_served: f.int(9) },
      gossip: f.chance(0.5) ? { hot: f.int(3) } : {},
    },
  };
}

/** A command record as the monitor serves it, with `n` node results. */
function recordOf(f: Fuzzer, n: number): unknown {
  const id = Array.from(f.bytes(16), (b) => b.toString(16).padStart(2, "0")).join("");
  const store = new AdminResults();
  const command = { id, kind: "run" as const, selector: "all", issuedAt: 1_000, expiresAt: 2_000, script: "true" };
  for (let i = 0; i < n; i++) {
    const status = f.pick(["ok", "running", "failed", "waiting"] as const);
    store.accept({ id, node: `10.0.0.${i}:4000`, status, startedAt: 1_000 + i, stdout: "x", command }, 1_000 + i);
  }
  return JSON.parse(JSON.stringify(recordJson(store.get(id)!, true)));
}

Deno.test("fuzz: admin header codec: typed headers round-trip, mutated ones never throw and what passes holds its layout", () => {
  const cases = fuzzCases(4_000);
  const f = new Fuzzer(fuzzSeed() + 6);
  let accepted = 0;
  for (let i = 0; i < cases; i++) {
    const typed = typedAdminHeaders(f);
    for (const kind of ADMIN_HEADER_KINDS) {
      assert.deepEqual(
        parseAdminHeader(kind, JSON.parse(JSON.stringify(typed[kind]))),
        typed[kind],
        `case ${i}: ${kind}`,
      );
    }
    const mutated = f.chance(0.8) ? mutateJson(f, typed[f.pick(ADMIN_HEADER_KINDS)]) : f.json();
    for (const kind of ADMIN_HEADER_KINDS) {
      checkAdminHeader(kind, mutated, `case ${i}`);
      if (kind !== "hints" && parseAdminHeader(kind, mutated)) accepted++;
    }
  }
  assert.ok(accepted > 0, "some mutated headers still pass (their layout was checked)");
});

Deno.test("fuzz: the monitor's admin command JSON read back by kvctl: served records round-trip, mutated ones never throw", () => {
  const cases = fuzzCases(4_000);
  const f = new Fuzzer(fuzzSeed() + 7);
  let accepted = 0;
  for (let i = 0; i < cases; i++) {
    const record = recordOf(f, 1 + f.int(4));
    assert.deepEqual(parseCommandRecordJson(record), record, `case ${i}`);
    const mutated = f.chance(0.9) ? mutateJson(f, record) : f.json();
    const r = parseCommandRecordJson(mutated);
    if (r) {
      accepted++;
      assert.ok(
        /^[0-9a-f]{32}$/.test(r.id) && (r.results ?? []).every((x) => /^[0-9a-f]{32}$/.test(x.id)),
        `case ${i}`,
      );
      assert.deepEqual(parseCommandRecordJson(JSON.parse(JSON.stringify(r))), r, `case ${i}: round trip`);
    }
    parseCommandListJson(f.chance(0.5) ? { commands: [mutated] } : mutated);
  }
  assert.ok(accepted > 0, "some mutated records still pass");
});

class NoScripts implements ScriptExecutor {
  runs = 0;
  run(): Promise<RunOutcome> {
    this.runs++;
    return Promise.resolve({ status: "ok", exitCode: 0, durationMs: 1, stdout: "", stderr: "", truncatedBytes: 0 });
  }
}

/** A 3-node cluster with every subsystem, and the internal packets it sent while working. */
async function recordedCluster() {
  const keys = await generateAdminKeys();
  const privateKey = await importAdminPrivateKey(keys.privateKeyFile);
  const addresses = [0, 1, 2].map((i) => Simulation.address(i));
  const fleet = {
    name: "fuzz",
    nodes: addresses,
    adminPublicKey: keys.publicKey,
    preset: "lan",
    replication: { n: 3, w: 2, r: 2 },
  } as FleetConfig;
  // Virtual time in 10 ms ticks, each followed by a zero-delay timer (admin signatures verify asynchronously).
  const cluster = new SimCluster({
    seed: 3,
    time: { run: { tickMs: 10, settle: "macrotask" }, advance: { tickMs: 10, settle: "macrotask" } },
  });
  const corpus: Uint8Array[] = [];
  const reports: unknown[] = [];
  for (let i = 0; i < addresses.length; i++) {
    const r = await cluster.addNode({
      fleet,
      seeds: addresses,
      subsystemOptions: {
        monitoring: {
          system: false,
          sink: { send: (_u: string, rep: unknown) => (reports.push(rep), Promise.resolve()), close() {} },
        },
        admin: { executor: new NoScripts(), sink: null },
      },
    });
    const t = r.node.internalTransport!;
    const send = t.send.bind(t);
    t.send = (data, to) => {
      if (data.length > 17 && data[16] >= 0x20 && corpus.length < 5_000) corpus.push(data.slice());
      send(data, to);
    };
  }
  await cluster.advance(3_000);
  // Data traffic (replication), a monitoring round, and an admin command.
  const client = cluster.client(addresses[0], {}, "10.9.1.1:5000");
  for (let i = 0; i < 20; i++) await cluster.run(client.put(`key${i}`, `value${i}`));
  for (let i = 0; i < 20; i++) await cluster.run(client.get(`key${i}`));
  await cluster.run(client.remove("key0"));
  const monitor = cluster.transport("10.9.1.2:5000");
  monitor.send(
    encodeJsonFrame(InternalCommand.MonitoringBase, {
      r: "00112233aabbccdd",
      u: "http://monitor.test/api/report",
      j: 0,
      h: 0,
    }),
    internalAddressOf(addresses[1]),
  );
  const admin = cluster.track(new AdminClient(cluster.network.createTransport("10.9.1.3:5000"), cluster.clock));
  const signed = await createCommand(privateKey, { run: { script: "true", timeoutMs: 10_000 } }, {
    now: cluster.clock.now(),
  });
  await cluster.run(admin.submit(signed, [addresses[2]]));
  await cluster.advance(5_000);
  return { cluster, addresses, corpus, client };
}

Deno.test("fuzz: internal decoders (frame, membership, replication, round, admin, fleet table) never throw", async () => {
  const cases = fuzzCases(4_000);
  const f = new Fuzzer(fuzzSeed() + 2);
  const c = await recordedCluster();
  try {
    const messages = c.corpus.flatMap(messagesOf);
    const decoded = messages.map((m) => decodeJsonPayload(m.command, m.payload)).filter((m): m is InternalMessage =>
      m !== null
    );
    assert.ok(decoded.length > 100, `recorded ${decoded.length} internal JSON messages`);
    // The binary replica messages and their replies, by command, to mutate.
    const binary = messages.filter((m) => m.command === 0x30 || m.command === 0x31 || m.command === 0x20)
      .map((m) => m.payload);
    assert.ok(binary.length > 40, `recorded ${binary.length} binary replica payloads`);
    // The fleet table's binary messages (digest, request, rows), recorded from the nodes' gossip.
    const fleet = messages.filter((m) => m.command >= FleetCommand.Digest && m.command <= FleetCommand.Rows);
    for (const command of Object.values(FleetCommand)) {
      assert.ok(fleet.some((m) => m.command === command), `recorded fleet command 0x${command.toString(16)}`);
    }
    const fleetPayloads = fleet.map((m) => m.payload);
    const headers = decoded.map((m) => m.header);
    const commands = [...new Set(decoded.map((m) => m.command))];
    // Recorded traffic covers membership, replication, monitoring and admin commands.
    for (const base of [0x21, 0x30, 0x40, 0x50]) {
      assert.ok(commands.some((x) => x >= base && x < base + 16), `no recorded command in 0x${base.toString(16)}`);
    }
    const bodies = decoded.map((m) => m.body).filter((b) => b.length > 0);
    bodies.push(
      encodeEntries([{
        key: "ab".repeat(32),
        entry: { value: f.bytes(10), version: { t: 1, n: "n" }, tombstone: false },
      }]),
    );
    for (let i = 0; i < cases; i++) {
      const p = f.chance(0.3) ? f.bytes(f.length(2_000)) : f.mutate(f.pick(c.corpus), c.corpus);
      let total = 0;
      const reason = readFrame(p, undefined, (command, _id, payload) => {
        assert.ok(command <= 0xff && payload.length <= p.length - FRAME_HEADER_BYTES - 7, `case ${i}`);
        total += 7 + payload.length;
        const m = decodeJsonPayload(command, payload);
        if (m) assert.ok(m.body.length <= payload.length - 4, `case ${i}`);
      });
      if (reason === undefined) {
        assert.equal(total, p.length - FRAME_HEADER_BYTES, `case ${i}: messages cover the frame`);
      }
      const raw = f.chance(0.2) ? f.bytes(f.length(300)) : f.mutate(f.pick(binary), binary);
      for (const decode of [decodeReplicaPut, decodeReplicaPutReply, decodeReplicaGet, decodeReplicaGetReply]) {
        const d = decode(raw);
        if (d !== null && typeof d === "object" && "key" in d && d.key instanceof Uint8Array) {
          assert.equal(d.key.length, 32, `case ${i}`);
        }
      }
      const header = f.chance(0.5) ? mutateJson(f, f.pick(headers)) : f.json();
      const command = f.chance(0.8) ? f.pick(commands) : 0x20 + f.int(0xe0);
      decodeMembership(command, header);
      decodeUpdate(f.chance(0.5) ? header : mutateJson(f, [0, "10.0.0.1:4000", 1]));
      parseReplicationHeaders(header, f.int(300));
      parseRoundHeader(header);
      headerId(header);
      for (const kind of ADMIN_HEADER_KINDS) checkAdminHeader(kind, header, `case ${i}`);
      const body = f.chance(0.3) ? f.bytes(f.length(500)) : f.mutate(f.pick(bodies), bodies);
      const entries = decodeEntries(body);
      if (entries) { for (const e of entries) assert.ok(e.key.length === 64 && e.entry.value instanceof Uint8Array); }
      decodeVersions(body);
      const fp = f.chance(0.2) ? f.bytes(f.length(1_500)) : f.mutate(f.pick(fleetPayloads), fleetPayloads);
      const d = decodeDigest(fp);
      if (d) {
        for (const e of d.entries) assert.ok(e.hash >= d.lo && e.hash <= d.hi, `case ${i}: digest entry in range`);
      }
      decodeRequest(fp);
      for (const row of decodeRows(fp) ?? []) {
        assert.equal(rowProblem(row), undefined, `case ${i}: a decoded row is valid`);
      }
      const page = parseDumpPage(f.chance(0.5) ? header : mutateJson(f, { answeredBy: "a:1", at: 1, nodes: [] }));
      if (page) assert.ok(Array.isArray(page.snapshot.nodes), `case ${i}`);
    }
  } finally {
    c.cluster.close();
  }
});

Deno.test("fuzz: nodes fed random and mutated internal packets never fail, rejected ones change nothing, the cluster still works", async () => {
  const cases = fuzzCases(3_000);
  const f = new Fuzzer(fuzzSeed() + 3);
  const c = await recordedCluster();
  try {
    const target = c.cluster.node(c.addresses[1]);
    const { node, store, members } = target;
    let changes = 0;
    const inner = store.listener;
    const counting: StoreListener = {
      set: (k, e) => (changes++, inner?.set(k, e)),
      delete: (k) => (changes++, inner?.delete(k)),
      clear: () => (changes++, inner?.clear()),
    };
    store.listener = counting;
    const peers = [c.addresses[0], c.addresses[2], "10.66.0.1:4000"];
    let rejected = 0, accepted = 0;
    for (let i = 0; i < cases; i++) {
      const r = f.random();
      const p = r < 0.2
        ? f.bytes(17 + f.int(300))
        : r < 0.6
        ? structured(f, f.pick(c.corpus), c.corpus)
        : f.mutate(f.pick(c.corpus), c.corpus);
      if (p.length > 16 && p[16] < 0x20) p[16] |= 0x20; // client commands: see client_protocol_fuzz_test.ts
      const where = `case ${i}: ${p.length} B, command 0x${p[16]?.toString(16)} (FUZZ_SEED=${fuzzSeed()})`;
      const valid = p.length > 16 && readFrame(p, undefined, () => {}) === undefined;
      const changesBefore = changes;
      const aliveBefore = members.alive().join();
      node.rpc.receive(p, f.pick(peers)); // as the internal socket hands it on; a throw fails the test
      if (!valid) {
        rejected++;
        assert.equal(changes, changesBefore, `${where}: a rejected packet changed the store`);
        assert.equal(members.alive().join(), aliveBefore, `${where}: a rejected packet changed the membership`);
      } else accepted++;
      if (i % 50 === 49) await c.cluster.advance(5, { tickMs: 5 });
    }
    const st = node.rpc.stats;
    console.log(
      `internal fuzz: ${cases} packets; envelope rejected ${rejected}, accepted ${accepted} ` +
        `(malformed ${st.malformed}, unknown command ${st.unknown}, handler errors ${st.handlerErrors})`,
    );
    assert.ok(rejected > 0 && accepted > 0, `rejected ${rejected}, accepted ${accepted}`);
    assert.equal(node.rpc.stats.handlerErrors, 0, "no handler threw or rejected on bad input");
    console.log(`  fleet table: ${target.fleet!.gossip.counters.malformed} malformed fleet messages dropped`);
    // Let gossip sort out any rumors the mutations planted, then use the cluster.
    await c.cluster.advance(30_000);
    for (const a of c.addresses) {
      const alive = c.cluster.node(a).members.alive();
      for (const b of c.addresses) assert.ok(alive.includes(b), `${a} sees ${b} alive after the fuzzing`);
    }
    for (const a of c.addresses) {
      // Every real node's row reads ok (an unkeyed fleet's SWIM may still list a planted member as "waiting").
      const rows = c.cluster.node(a).fleet!.snapshot().nodes;
      const states = c.addresses.map((b) => rows.find((v) => v.node === b)?.state);
      assert.deepEqual(
        states,
        ["ok", "ok", "ok"],
        `${a}'s fleet table after the fuzzing (${c.cluster.node(a).members.alive().length} members alive)`,
      );
      const swim = c.cluster.node(a).members as Swim;
      for (const v of rows) assert.ok(swim.member(v.node), `${a} holds a row of ${v.node}, unknown to its SWIM`);
    }
    await c.cluster.run(c.client.put("after-fuzz", "still works"));
    const reader = c.cluster.client(c.addresses[2], {}, "10.9.1.9:5000");
    assert.equal(new TextDecoder().decode(await c.cluster.run(reader.get("after-fuzz"))), "still works");
    assert.equal(node.closed, false);
  } finally {
    c.cluster.close();
  }
});

Deno.test("fuzz: a keyed node rejects every mutated authentic frame before any handler sees it", async () => {
  const cases = fuzzCases(3_000);
  const f = new Fuzzer(fuzzSeed() + 4);
  const keyring = ClusterKeyring.fromHex([newClusterKey()]);
  const c = new SimCluster({ replicas: { auth: keyring } });
  const nodes = [addr(0), addr(1), addr(2)];
  c.startReplicas(nodes);
  const corpus: Uint8Array[] = [];
  const toTarget: Uint8Array[] = [];
  const deliver = c.network.deliver.bind(c.network);
  c.network.deliver = (data, from, to) => {
    if (nodes.includes(from) && nodes.includes(to) && corpus.length < 2_000) corpus.push(data.slice());
    if (to === addr(1) && data[16] >= 0x20 && toTarget.length < 2_000) toTarget.push(data.slice());
    deliver(data, from, to);
  };
  try {
    const client = c.client(addr(0));
    for (let i = 0; i < 30; i++) await c.run(client.put(`k${i}`, `v${i}`));
    for (let i = 0; i < 30; i++) await c.run(client.get(`k${i}`));
    assert.ok(corpus.length > 50, `recorded ${corpus.length} authentic frames`);
    const authentic = new Set(corpus.map(toHex));
    const target = c.replica(addr(1));
    const entries = () => [...target.store.entries()].map(([k, e]) => `${k}:${e.version.t}`).join();
    const before = entries();
    const stats = target.node.rpc.stats;
    let mutated = 0;
    for (let i = 0; i < cases; i++) {
      const p = f.mutate(f.pick(corpus), corpus);
      if (authentic.has(toHex(p))) continue; // unchanged, or another recorded frame
      mutated++;
      if (p.length > 16 && p[16] < 0x20) p[16] |= 0x20; // stay in the internal space
      const counters = target.node.counters;
      const rejected = REJECT_REASONS.reduce((n, r) => n + stats.rejected[r], 0) + counters.dropped;
      const handled = stats.unknown + stats.malformed + stats.handlerErrors;
      target.node.receive(p, f.pick(nodes));
      assert.equal(
        REJECT_REASONS.reduce((n, r) => n + stats.rejected[r], 0) + counters.dropped,
        rejected + 1,
        `case ${i}: a mutated frame was not rejected (FUZZ_SEED=${fuzzSeed()})`,
      );
      assert.equal(stats.unknown + stats.malformed + stats.handlerErrors, handled, `case ${i}: reached a handler`);
    }
    await c.advance(100);
    assert.ok(mutated > cases / 2, `${mutated} mutated frames`);
    // The new fields: every authentic frame the target took, played again, is a replay; one whose
    // time or nonce bytes were changed fails its tag.
    const replaysBefore = stats.rejected.replay, badTagBefore = stats.rejected.badTag;
    assert.ok(toTarget.length > 20, `recorded ${toTarget.length} frames to the target`);
    for (const frame of toTarget) target.node.receive(frame.slice(), f.pick(nodes));
    assert.equal(stats.rejected.replay - replaysBefore, toTarget.length, "every replay is dropped");
    for (const frame of toTarget.slice(0, 200)) {
      const p = frame.slice();
      p[f.pick([8, 9, 10, 11, 12, 13, 14, 15, 17, 18, 19, 20, 21, 22, 23, 24])] ^= 1 << f.int(8);
      target.node.receive(p, f.pick(nodes));
    }
    assert.equal(stats.rejected.badTag - badTagBefore, Math.min(200, toTarget.length), "time and nonce are tagged");
    await c.advance(100);
    assert.equal(entries(), before, "the store did not change");
  } finally {
    c.close();
  }
});
