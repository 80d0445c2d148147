/**
 * The monitor's book of rounds: which round ids it issued, which are still
 * open for reports, and per round how many nodes reported and how fast
 * (round coverage).
 *
 * @module
 */

/** What the page and API show of one round. */
export interface RoundSummary {
  /** Sequence number (1, 2, …). */
  index: number;
  /** Round id sent to the nodes. */
  id: string;
  /** When the monitor started it (ms since epoch). */
  startedAt: number;
  /** Known nodes when it started. */
  expected: number;
  /** Nodes that reported for it. */
  reported: number;
  /** reported / expected (0–1). */
  coverage: number;
  /** Where the monitor sent it: seeds (gossip starts there) and direct repairs. */
  seeds: string[];
  /** Nodes that missed the previous round and got this one directly. */
  direct: number;
  /** Time from start until half / 90 % / all reports arrived (ms), if reached. */
  t50?: number;
  /** See t50. */
  t90?: number;
  /** See t50. */
  tAll?: number;
  /** Spread time (arrival minus the node's jitter): median, 90th percentile, max (ms). */
  spreadP50?: number;
  /** See spreadP50. */
  spreadP90?: number;
  /** See spreadP50. */
  spreadMax?: number;
  /** Largest and mean hop count among reports. */
  hopsMax?: number;
  /** See hopsMax. */
  hopsMean?: number;
}

interface OpenRound extends RoundSummary {
  arrivals: number[];
  spreads: number[];
  hopsSum: number;
}

/**
 * Bounded list of rounds.
 *
 * @example
 * ```ts
 * const book = new RoundBook({ keep: 10, accept: 3 });
 * const r = book.start("00112233aabbccdd", 1_000, 5, ["127.0.0.1:4000"], 0);
 * book.record(r.id, 1_050, 2, 10);
 * console.log(book.latest()?.reported); // 1
 * ```
 */
export class RoundBook {
  #keep: number;
  #accept: number;
  #rounds: OpenRound[] = [];
  #byId = new Map<string, OpenRound>();
  #index = 0;

  /** Keeps `keep` summaries; accepts reports for the `accept` newest rounds. */
  constructor(options: { keep: number; accept: number }) {
    this.#keep = Math.max(1, options.keep);
    this.#accept = Math.max(1, options.accept);
  }

  /** Index of the newest round (0 before the first). */
  get index(): number {
    return this.#index;
  }

  /** Starts round `id`. */
  start(id: string, at: number, expected: number, seeds: string[], direct: number): RoundSummary {
    const r: OpenRound = {
      index: ++this.#index,
      id,
      startedAt: at,
      expected,
      reported: 0,
      coverage: 0,
      seeds,
      direct,
      arrivals: [],
      spreads: [],
      hopsSum: 0,
    };
    this.#rounds.push(r);
    this.#byId.set(id, r);
    const open = this.#rounds.length - this.#accept;
    if (open > 0) {
      const closing = this.#rounds[open - 1];
      if (this.#byId.delete(closing.id)) this.#finish(closing);
    }
    while (this.#rounds.length > this.#keep) this.#rounds.shift();
    return this.#summary(r);
  }

  /** The open round with `id`, if reports are still accepted for it. */
  open(id: string): RoundSummary | undefined {
    const r = this.#byId.get(id);
    return r ? this.#summary(r) : undefined;
  }

  /** Counts a report for round `id` received at `at`; false if the round is unknown or closed. */
  record(id: string, at: number, hops: number, waitMs: number): boolean {
    const r = this.#byId.get(id);
    if (!r) return false;
    const arrival = Math.max(0, at - r.startedAt);
    r.reported++;
    r.arrivals.push(arrival);
    r.spreads.push(Math.max(0, arrival - waitMs));
    r.hopsSum += hops;
    r.hopsMax = Math.max(r.hopsMax ?? 0, hops);
    return true;
  }

  /** The newest round. */
  latest(): RoundSummary | undefined {
    const r = this.#rounds.at(-1);
    return r ? this.#summary(r) : undefined;
  }

  /** The newest round whose report window (one interval) is over. */
  lastClosed(): RoundSummary | undefined {
    const r = this.#rounds.at(-2);
    return r ? this.#summary(r) : undefined;
  }

  /** Summaries, newest first. */
  list(limit = this.#keep): RoundSummary[] {
    return this.#rounds.slice(-limit).reverse().map((r) => this.#summary(r));
  }

  /** Restores summaries saved earlier (they are closed: no reports accepted). */
  restore(summaries: RoundSummary[]): void {
    const sorted = summaries.slice().sort((a, b) => a.index - b.index).slice(-this.#keep);
    this.#rounds = sorted.map((s) => ({ ...s, arrivals: [], spreads: [], hopsSum: 0 }));
    this.#byId.clear();
    this.#index = Math.max(this.#index, sorted.at(-1)?.index ?? 0);
  }

  #finish(r: OpenRound): void {
    Object.assign(r, this.#summary(r));
    r.arrivals = [];
    r.spreads = [];
  }

  #summary(r: OpenRound): RoundSummary {
    const { arrivals: _a, spreads: _s, hopsSum: _h, ...base } = r;
    const out: RoundSummary = { ...base, seeds: r.seeds.slice() };
    out.coverage = r.expected > 0 ? Math.min(1, r.reported / r.expected) : 0;
    if (r.arrivals.length === 0) return out;
    const arr = r.arrivals.slice().sort((a, b) => a - b);
    const need = (f: number) => Math.ceil(f * r.expected);
    const at = (n: number) => (n >= 1 && n <= arr.length ? arr[n - 1] : undefined);
    out.t50 = at(need(0.5));
    out.t90 = at(need(0.9));
    out.tAll = r.reported >= r.expected ? arr[arr.length - 1] : undefined;
    const sp = r.spreads.slice().sort((a, b) => a - b);
    out.spreadP50 = sp[Math.floor((sp.length - 1) * 0.5)];
    out.spreadP90 = sp[Math.floor((sp.length - 1) * 0.9)];
    out.spreadMax = sp[sp.length - 1];
    out.hopsMean = Math.round((r.hopsSum / r.reported) * 10) / 10;
    return out;
  }
}
