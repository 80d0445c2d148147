/**
 * Phases of `deno task bench:scale`: the quiet window (idle CPU and RSS per node, false alarms), the
 * workload (every acknowledged write recorded), the readings of the kill (when each survivor declared
 * the killed dead, and whether any sees a survivor dead, from the member lists) and the key check (what
 * was lost, and whether by design: every owner of the key killed, from the ring the writes were placed on).
 *
 * @module
 */
import { KeyNotFoundError } from "../lib/client/errors.ts";
import { toKey } from "../lib/client/keys.ts";
import { DEFAULT_REPLICATION_CONFIG } from "../lib/replication/replication_config.ts";
import { Ring } from "../lib/replication/ring.ts";
import { type MemberList, pool, type ScaleFleet } from "./bench_scale_fleet.ts";
import { IdleReference } from "./idle_reference.ts";
import type { ProcessSample } from "./proc_stats.ts";

/** One row of the table. */
export interface Row {
  /** What was measured. */
  measure: string;
  /** The figure. */
  value: string;
  /** The bound or target, if any. */
  target: string;
  /** Whether the invariant held (undefined: a figure, not an invariant). */
  ok?: boolean;
}

/** A failed invariant. */
export interface Check {
  /** Which. */
  what: string;
  /** The figure that failed it. */
  detail: string;
}

/** What the quiet window measured. */
export interface IdleFigures {
  /** Median and max CPU per node, percent of one core. */
  cpuMedian: number;
  /** See cpuMedian. */
  cpuMax: number;
  /** Median and max RSS per node at the end of the window (MiB). */
  rssMedianMiB: number;
  /** See rssMedianMiB. */
  rssMaxMiB: number;
  /** Median per node at the end of the window of its own (anonymous) memory, MiB. */
  anonymousMedianMiB: number;
  /** Median per node of the mapped files' pages in its RSS (the deno executable's, shared by every node), MiB. */
  mappedMedianMiB: number;
  /** Median per node of its proportional set size (shared pages divided among the processes mapping them), MiB. */
  pssMedianMiB: number;
  /** Median and max wake-ups of a node's main thread per second (timers, datagrams, I/O). */
  wakeupsMedian: number;
  /** See wakeupsMedian. */
  wakeupsMax: number;
  /** The reference process over the same window (`idle_reference.ts`): CPU share, RSS and its anonymous part (MiB), wake-ups/s. */
  reference: { cpu: number; rssMiB: number; anonymousMiB: number; wakeups: number };
  /** Suspicions, deaths and refutations counted by all nodes together during the window. */
  alarms: { suspicions: number; deaths: number; refutes: number };
}

/** Puts in flight at once during the workload. */
const WORKLOAD_CONCURRENCY = 16;
/** Value bytes of a workload key (≈ 100 B). */
const VALUE_BYTES = 100;
/** Reads of one key tried (each through another survivor) before it counts as unanswered. */
const READ_ATTEMPTS = 6;

function quantile(xs: number[], q: number): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

const MIB = 2 ** 20;

/** CPU time `ns` used over `elapsedMs` as a percentage of one core. */
function corePercent(ns: number, elapsedMs: number): number {
  return ns / 1e4 / elapsedMs;
}

/** What {@linkcode settle} saw. */
export interface Settling {
  /** How long it waited (ms). */
  waitedMs: number;
  /** The median CPU per node (percent of a core) in each window, in order. */
  medians: number[];
  /** Whether {@linkcode isSettled} held at the end (false: it gave up at `maxMs`). */
  settled: boolean;
}

/**
 * Waits until the nodes' CPU has settled after the join: a new member brings push-pulls, a fleet table
 * to fill, key ranges to hand over, and a node still doing that is not idle. Measures the median CPU
 * per node over consecutive windows of `windowMs` and returns once {@linkcode isSettled} (or after
 * `maxMs`), printing each window.
 */
export async function settle(
  fleet: ScaleFleet,
  windowMs: number,
  maxMs: number,
  print: (line: string) => void,
): Promise<Settling> {
  const t0 = performance.now();
  const medians: number[] = [];
  let before = fleet.cpuNs(), at = performance.now();
  while (true) {
    await new Promise((r) => setTimeout(r, windowMs));
    const now = fleet.cpuNs(), nowAt = performance.now();
    const shares: number[] = [];
    for (const [a, ns] of now) {
      const b = before.get(a);
      if (b !== undefined) shares.push(corePercent(ns - b, nowAt - at));
    }
    const median = quantile(shares, 0.5);
    medians.push(median);
    print(`    settling: ${((nowAt - t0) / 1000).toFixed(0)} s, median node CPU ${median.toFixed(2)}% of a core`);
    const waitedMs = nowAt - t0;
    if (isSettled(medians)) return { waitedMs, medians, settled: true };
    if (waitedMs >= maxMs) return { waitedMs, medians, settled: false };
    before = now;
    at = nowAt;
  }
}

/** Time the reference process runs before the window (its start-up is not idle). */
const REFERENCE_WARMUP_MS = 3_000;

/** {@linkcode SETTLED_WINDOWS} windows whose median CPUs are within this share of the lowest end the settling. */
export const SETTLED_CHANGE = 0.1;

/**
 * Whether CPU medians of consecutive windows have settled: the last {@linkcode SETTLED_WINDOWS} are within
 * {@linkcode SETTLED_CHANGE} of their lowest. Falling means the join's work is still ending; rising, that
 * some of it has only begun; a plateau of two windows can still be the join's.
 *
 * @example
 * ```ts
 * console.log(isSettled([0.54, 0.35, 0.35, 0.34]), isSettled([0.53, 0.49])); // true false
 * ```
 */
export function isSettled(medians: readonly number[]): boolean {
  if (medians.length < SETTLED_WINDOWS) return false;
  const last = medians.slice(-SETTLED_WINDOWS);
  const low = Math.min(...last), high = Math.max(...last);
  return high - low <= SETTLED_CHANGE * low;
}

/** Consecutive windows that must agree: at 12 nodes two 15 s windows agreed at 0.5 % before a third read 0.3 %. */
export const SETTLED_WINDOWS = 3;

/** One process over a window of `elapsedMs`: CPU share of a core, RSS and its anonymous part at the end (MiB), wake-ups/s. */
function windowFigures(
  start: ProcessSample,
  end: ProcessSample,
  elapsedMs: number,
): { cpu: number; rssMiB: number; anonymousMiB: number; wakeups: number } {
  return {
    cpu: corePercent(end.cpuNs - start.cpuNs, elapsedMs),
    rssMiB: end.memory.rss / MIB,
    anonymousMiB: end.memory.anonymous / MIB,
    wakeups: (1000 * (end.wakeups - start.wakeups)) / elapsedMs,
  };
}

/** Measures every node over `windowMs` of doing nothing. */
export async function measureIdle(fleet: ScaleFleet, windowMs: number): Promise<IdleFigures> {
  const of = fleet.running;
  const counters0 = await fleet.swimCounters(of);
  const ref = IdleReference.start();
  let r0: ProcessSample, r1: ProcessSample, s0: Map<string, ProcessSample>, s1: Map<string, ProcessSample>;
  let elapsed: number;
  try {
    await new Promise((r) => setTimeout(r, REFERENCE_WARMUP_MS));
    r0 = ref.sample();
    s0 = fleet.sample();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, windowMs));
    s1 = fleet.sample();
    r1 = ref.sample();
    elapsed = performance.now() - t0;
  } finally {
    await ref.stop();
  }
  const counters1 = await fleet.swimCounters(of);
  const cpu: number[] = [], rss: number[] = [], wakeups: number[] = [];
  const anonymous: number[] = [], mapped: number[] = [], pss: number[] = [];
  for (const [a, end] of s1) {
    const start = s0.get(a);
    if (!start) continue;
    const w = windowFigures(start, end, elapsed);
    cpu.push(w.cpu);
    rss.push(w.rssMiB);
    anonymous.push(w.anonymousMiB);
    mapped.push(w.rssMiB - w.anonymousMiB);
    pss.push(end.memory.pss / MIB);
    wakeups.push(w.wakeups);
  }
  const alarms = { suspicions: 0, deaths: 0, refutes: 0 };
  for (const [a, c] of counters1) {
    const b = counters0.get(a);
    if (!b) continue;
    alarms.suspicions += c.suspicions - b.suspicions;
    alarms.deaths += c.deaths - b.deaths;
    alarms.refutes += c.refutes - b.refutes;
  }
  return {
    cpuMedian: quantile(cpu, 0.5),
    cpuMax: Math.max(...cpu),
    rssMedianMiB: quantile(rss, 0.5),
    rssMaxMiB: Math.max(...rss),
    anonymousMedianMiB: quantile(anonymous, 0.5),
    mappedMedianMiB: quantile(mapped, 0.5),
    pssMedianMiB: quantile(pss, 0.5),
    reference: windowFigures(r0, r1, elapsed),
    wakeupsMedian: quantile(wakeups, 0.5),
    wakeupsMax: Math.max(...wakeups),
    alarms,
  };
}

/** The value written for key `i` (recognisable, so a wrong value is told from a lost one). */
function valueOf(key: string): string {
  return `${key}=`.padEnd(VALUE_BYTES, "v");
}

/** Writes `count` keys through every running node in turn; returns the acknowledged ones. */
export async function writeKeys(
  fleet: ScaleFleet,
  count: number,
): Promise<{ acked: Map<string, string>; opsPerSec: number; errors: Map<string, number> }> {
  const acked = new Map<string, string>();
  const errors = new Map<string, number>();
  const nodes = fleet.running;
  const keys = Array.from({ length: count }, (_, i) => `scale:${i}`);
  const t0 = performance.now();
  await pool(keys, WORKLOAD_CONCURRENCY, async (key, i) => {
    const value = valueOf(key);
    try {
      await (await fleet.client(nodes[i % nodes.length])).put(key, value);
      acked.set(key, value);
    } catch (e) {
      // Not acknowledged: not checked later; counted by kind for the table.
      const kind = (e as Error).name === "Error" ? (e as Error).message.slice(0, 40) : (e as Error).name;
      errors.set(kind, (errors.get(kind) ?? 0) + 1);
    }
  });
  return { acked, opsPerSec: count / ((performance.now() - t0) / 1000), errors };
}

/** What the key check found. */
export interface KeyCheck {
  /** Acknowledged keys read back. */
  checked: number;
  /** Acknowledged keys whose every owner was killed. */
  allOwnersKilled: number;
  /** Of those, how many are gone. */
  lostByDesign: number;
  /** Other keys not found. */
  lost: number;
  /** Keys no survivor answered for in {@linkcode READ_ATTEMPTS} tries (not counted as lost). */
  unanswered: number;
  /** Keys that read back another value. */
  wrong: number;
}

/**
 * Reads every acknowledged key back through the survivors; a key missing is lost by design when every
 * owner it had on the ring of all `fleet.addresses` (where it was written) is among `killed`.
 */
export async function checkKeys(
  fleet: ScaleFleet,
  acked: ReadonlyMap<string, string>,
  killed: readonly string[],
  survivors: readonly string[],
): Promise<KeyCheck> {
  const c = DEFAULT_REPLICATION_CONFIG;
  const ring = new Ring(fleet.addresses, c.virtualNodes);
  const dead = new Set(killed);
  const out: KeyCheck = { checked: 0, allOwnersKilled: 0, lostByDesign: 0, lost: 0, unanswered: 0, wrong: 0 };
  const examples: string[] = [];
  await pool([...acked], WORKLOAD_CONCURRENCY, async ([key, value], i) => {
    const byDesign = ring.preferenceList(toKey(key), c.n).every((o) => dead.has(o));
    if (byDesign) out.allOwnersKilled++;
    out.checked++;
    let got: string | undefined;
    let notFound = false;
    for (let attempt = 0; attempt < READ_ATTEMPTS && got === undefined && !notFound; attempt++) {
      try {
        got = new TextDecoder().decode(
          await (await fleet.client(survivors[(i + attempt) % survivors.length])).get(key),
        );
      } catch (e) {
        notFound = e instanceof KeyNotFoundError;
      }
    }
    if (got === undefined) {
      if (byDesign) out.lostByDesign++;
      else if (!notFound) out.unanswered++;
      else {
        out.lost++;
        if (examples.length < 5) examples.push(`${key} lost`);
      }
    } else if (got !== value) {
      out.wrong++;
      if (examples.length < 5) examples.push(`${key} reads ${got.slice(0, 20)}…`);
    }
  });
  for (const e of examples) console.log(`    ${e}`);
  return out;
}

/** For each of `of`: the members it does not see alive or suspect among `expectedAlive` ("(no answer)" without a list). */
export function notAlive(
  lists: ReadonlyMap<string, MemberList>,
  of: readonly string[],
  expectedAlive: ReadonlySet<string>,
): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const a of of) {
    const list = lists.get(a);
    if (!list) {
      out.set(a, ["(no answer)"]);
      continue;
    }
    const bad = list.members.filter((m) =>
      expectedAlive.has(m.address) && m.state !== "alive" && m.state !== "suspect"
    );
    if (bad.length > 0) out.set(a, bad.map((m) => `${m.address} ${m.state}`));
  }
  return out;
}

/**
 * When each of `of` declared every one of `victims` dead, in ms after `since` (a `performance.now()`):
 * the time its member list arrived less how long the last of them had been dead there (so the
 * answer's own delay counts against the node, never for it); NaN where a node did not answer or
 * does not hold them all dead. Unlike polling the member count, this does not add the poll
 * interval and the polling round's slowest answer to every node's time.
 */
export function declaredDead(
  lists: ReadonlyMap<string, MemberList>,
  of: readonly string[],
  victims: readonly string[],
  since: number,
): number[] {
  const wanted = new Set(victims);
  return of.map((a) => {
    const list = lists.get(a);
    const dead = list?.members.filter((m) => wanted.has(m.address) && m.state === "dead") ?? [];
    return list && dead.length === wanted.size ? list.arrivedAt - Math.min(...dead.map((m) => m.forMs)) - since : NaN;
  });
}
