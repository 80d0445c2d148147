/**
 * The chaos suite's client: runs inside the client network namespace and is
 * driven by line commands on stdin (one JSON line answers each on stdout):
 *
 * - `members`: get-membership-count of every node (-1 when it does not answer)
 * - `load`: start the workload (writers own disjoint keys and write increasing
 *   sequence numbers; readers check every value read was written; some acked
 *   puts are replayed with the same request id to check at-most-once)
 * - `stop`: stop the workload and print its counts
 * - `verify`: read every key through every node and compare with what was acknowledged
 * - `exit`
 *
 * Usage (inside the namespace): deno run --allow-net chaos_client.ts '{"nodes":[…],…}'
 *
 * @module
 */
import { KVClient } from "../../lib/client/client.ts";
import { KVTimeoutError } from "../../lib/client/errors.ts";
import { toKey } from "../../lib/client/keys.ts";
import { Command, decodeValuePayload, ErrorCode } from "../../lib/wire/client_protocol.ts";
import type { Reply } from "../../lib/wire/client_protocol.ts";
import { sleep } from "../support/real_time.ts";

/** Workload shape. */
export interface ChaosClientConfig {
  /** Node addresses (`host:port`). */
  nodes: string[];
  /** Writer loops; each owns `keysPerWriter` keys. */
  writers: number;
  /** Keys per writer. */
  keysPerWriter: number;
  /** Reader loops. */
  readers: number;
  /** Pause between two operations of one loop (ms). */
  pauseMs: number;
  /** Replay every n-th acknowledged put with its request id. */
  replayEvery: number;
}

/** Counts of a load run. */
export interface LoadCounts {
  /** Requests sent (puts, gets, replays; retries not counted). */
  requests: number;
  /** Puts acknowledged with 0x00. */
  acked: number;
  /** Puts answered with an error code (not acknowledged). */
  refused: number;
  /** Requests with no reply after all retries. */
  timeouts: number;
  /** Gets that returned a value. */
  readsFound: number;
  /** Gets that returned a value never written to that key (must be 0). */
  invalidReads: number;
  /** Replays of an acknowledged put (same id, same node). */
  replays: number;
  /** Replays answered differently from the original (must be 0). */
  replayMismatches: number;
  /** Replies by code (hex). */
  codes: Record<string, number>;
}

/** Result of a verification pass. */
export interface VerifyCounts {
  /** Keys checked. */
  keys: number;
  /** Keys with an acknowledged write. */
  ackedKeys: number;
  /** Keys where some node returned no value or one older than the last acknowledged write (must be 0). */
  lost: number;
  /** Keys where the nodes do not all return the same value. */
  diverged: number;
  /** Reads that failed or timed out during verification. */
  unreadable: number;
  /** Values that were never written (must be 0). */
  invalid: number;
  /** Example problems (key: detail). */
  examples: string[];
}

const cfg = JSON.parse(Deno.args[0] ?? "{}") as ChaosClientConfig;
const enc = new TextEncoder();
const out = (line: unknown) => {
  const b = enc.encode(JSON.stringify(line) + "\n");
  for (let o = 0; o < b.length;) o += Deno.stdout.writeSync(b.subarray(o));
};

const clients = new Map<string, KVClient>();
for (const n of cfg.nodes) clients.set(n, await KVClient.connect(n, { timeoutMs: 100, retries: 3 }));
const pick = <T>(a: readonly T[]) => a[Math.floor(Math.random() * a.length)];

// Per key: every sequence number ever sent, and the last acknowledged one.
const keys: string[] = [];
for (let w = 0; w < cfg.writers; w++) for (let j = 0; j < cfg.keysPerWriter; j++) keys.push(`w${w}-k${j}`);
const attempted = new Map<string, Set<number>>(keys.map((k) => [k, new Set<number>()]));
const lastAcked = new Map<string, number>();
const counts: LoadCounts = {
  requests: 0,
  acked: 0,
  refused: 0,
  timeouts: 0,
  readsFound: 0,
  invalidReads: 0,
  replays: 0,
  replayMismatches: 0,
  codes: {},
};

function parseSeq(key: string, value: Uint8Array): number | null {
  const text = new TextDecoder().decode(value);
  const i = text.lastIndexOf(":");
  if (i < 0 || text.slice(0, i) !== key) return null;
  const n = Number(text.slice(i + 1));
  return Number.isInteger(n) ? n : null;
}

async function request(node: string, command: number, key: string, value?: string, id?: Uint8Array) {
  counts.requests++;
  try {
    const r = await clients.get(node)!.request(
      command,
      toKey(key),
      value === undefined ? undefined : enc.encode(value),
      id,
    );
    const hex = r.code.toString(16).padStart(2, "0");
    counts.codes[hex] = (counts.codes[hex] ?? 0) + 1;
    return r;
  } catch (e) {
    if (e instanceof KVTimeoutError) {
      counts.timeouts++;
      return null;
    }
    throw e;
  }
}

let running = false;

async function writer(w: number): Promise<void> {
  const mine = keys.slice(w * cfg.keysPerWriter, (w + 1) * cfg.keysPerWriter);
  const previous = new Map<string, { node: string; id: Uint8Array; seq: number; at: number; reply: Reply }>();
  let seq = 0;
  let n = 0;
  while (running) {
    const key = mine[n++ % mine.length];
    seq++;
    const node = pick(cfg.nodes);
    const id = crypto.getRandomValues(new Uint8Array(16));
    attempted.get(key)!.add(seq);
    const r = await request(node, Command.Put, key, `${key}:${seq}`, id);
    if (r && r.code === ErrorCode.Success) {
      counts.acked++;
      lastAcked.set(key, Math.max(lastAcked.get(key) ?? 0, seq));
      const prev = previous.get(key);
      // At-most-once: replay the previous acknowledged put of this key, same id, same node, soon after.
      if (prev && prev.node === node && performance.now() - prev.at < 2_000 && n % cfg.replayEvery === 0) {
        counts.replays++;
        const again = await request(node, Command.Put, key, `${key}:${prev.seq}`, prev.id);
        if (again && again.code !== prev.reply.code) counts.replayMismatches++;
      }
      previous.set(key, { node, id, seq, at: performance.now(), reply: r });
    } else if (r) counts.refused++;
    await sleep(cfg.pauseMs);
  }
}

async function reader(): Promise<void> {
  while (running) {
    const key = pick(keys);
    const r = await request(pick(cfg.nodes), Command.Get, key);
    if (r && r.code === ErrorCode.Success) {
      counts.readsFound++;
      const v = decodeValuePayload(r.payload);
      const s = v ? parseSeq(key, v) : null;
      if (s === null || !attempted.get(key)!.has(s)) counts.invalidReads++;
    }
    await sleep(cfg.pauseMs);
  }
}

async function members(): Promise<number[]> {
  return await Promise.all(cfg.nodes.map(async (n) => {
    try {
      return await clients.get(n)!.membershipCount();
    } catch {
      return -1;
    }
  }));
}

async function verify(): Promise<VerifyCounts> {
  const v: VerifyCounts = {
    keys: keys.length,
    ackedKeys: 0,
    lost: 0,
    diverged: 0,
    unreadable: 0,
    invalid: 0,
    examples: [],
  };
  const reader = async (node: string, key: string): Promise<number | "missing" | "error"> => {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const r = await clients.get(node)!.request(Command.Get, toKey(key));
        if (r.code === ErrorCode.NonExistentKey) return "missing";
        if (r.code !== ErrorCode.Success) continue;
        const value = decodeValuePayload(r.payload);
        const s = value ? parseSeq(key, value) : null;
        return s ?? -1;
      } catch { /* timeout: try again */ }
    }
    return "error";
  };
  for (let i = 0; i < keys.length; i += 20) {
    await Promise.all(
      keys.slice(i, i + 20).map(async (key) => {
        const acked = lastAcked.get(key);
        if (acked !== undefined) v.ackedKeys++;
        const seen = await Promise.all(cfg.nodes.map((n) => reader(n, key)));
        let lost = false, invalid = false;
        for (const s of seen) {
          if (s === "error") v.unreadable++;
          else if (s === -1 || (s !== "missing" && !attempted.get(key)!.has(s))) invalid = true;
          else if (acked !== undefined && (s === "missing" || s < acked)) lost = true;
        }
        const answered = seen.filter((s) => s !== "error");
        if (new Set(answered).size > 1) v.diverged++;
        if (lost) v.lost++;
        if (invalid) v.invalid++;
        if ((lost || invalid || new Set(answered).size > 1) && v.examples.length < 5) {
          v.examples.push(`${key}: last acked ${acked ?? "none"}, nodes returned ${seen.join(",")}`);
        }
      }),
    );
  }
  return v;
}

let loops: Promise<void>[] = [];
const progress = setInterval(() => {
  if (running) out({ type: "progress", ...counts });
}, 5_000);
const decoder = new TextDecoder();
let buf = "";
try {
  out({ type: "ready" });
  for await (const chunk of Deno.stdin.readable) {
    buf += decoder.decode(chunk, { stream: true });
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const cmd = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (cmd === "members") out({ type: "members", counts: await members() });
      else if (cmd === "load") {
        running = true;
        loops = [
          ...Array.from({ length: cfg.writers }, (_, w) => writer(w)),
          ...Array.from({ length: cfg.readers }, () => reader()),
        ];
        out({ type: "loading" });
      } else if (cmd === "stop") {
        running = false;
        await Promise.all(loops);
        out({ type: "load", counts });
      } else if (cmd === "verify") out({ type: "verify", counts: await verify() });
      else if (cmd === "exit") throw new Error("exit");
      else out({ type: "error", message: `unknown command ${cmd}` });
    }
  }
} catch (e) {
  if ((e as Error).message !== "exit") out({ type: "error", message: (e as Error).message });
} finally {
  running = false;
  clearInterval(progress);
  await Promise.all(loops);
  for (const c of clients.values()) c.close();
}
