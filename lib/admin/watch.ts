/**
 * Following an admin command from kvctl: polls the monitor's
 * `/api/admin/commands/:id` (or, without a monitor, asks each node directly),
 * prints `k of n nodes done` as it changes, and formats the summary table.
 *
 * @module
 */
import type { AdminClient } from "./client.ts";
import { isFinal, type NodeResult } from "./protocol.ts";
import { describeRollout } from "./rollout_view.ts";
import { parseCommandRecordJson } from "./monitor/results_store.ts";

/** What to follow. */
export interface WatchOptions {
  /** Command id. */
  id: string;
  /** Monitor base URL, if any. */
  monitor?: string;
  /** kvctl's admin endpoint (direct queries). */
  client: AdminClient;
  /** Nodes expected to act (fleet nodes matching the selector). */
  targets: string[];
  /** Poll period (ms). Default 500. */
  pollMs?: number;
  /** Without known targets: stop after this long without news once all reports are final (ms). Default 3 s. */
  quietMs?: number;
  /** Where progress lines go (default stderr). */
  progress?: (line: string) => void;
  /** A rolling restart's order: progress lines follow it node by node, and it ends when the rollout does. */
  order?: string[];
  /**
   * Asked every `everyMs` while following (not a rollout): expected nodes the fleet now knows as dead;
   * they are no longer waited on, and `line` is said once for each.
   */
  dropDead?: { everyMs: number; dead: (expected: string[]) => Promise<{ address: string; line: string }[]> };
}

/**
 * Polls results until every expected node is done or a deadline passes.
 *
 * @example
 * ```ts ignore
 * const w = new ResultWatcher({ id, monitor, client, targets });
 * console.log(formatTable(await w.follow(60_000), w.expected()));
 * ```
 */
export class ResultWatcher {
  #o: WatchOptions;
  #expected: Set<string>;
  #monitorNodesChecked = false;
  #dropped = new Map<string, string>();

  /** Creates a watcher. */
  constructor(options: WatchOptions) {
    this.#o = options;
    this.#expected = new Set(options.targets);
  }

  /** Nodes no longer waited on because the fleet knows them as dead, with the line said for each. */
  dropped(): Map<string, string> {
    return new Map(this.#dropped);
  }

  /** Nodes expected to report (targets, plus nodes that did report). */
  expected(): string[] {
    return [...this.#expected].sort();
  }

  /** Current results by node. */
  async poll(): Promise<Map<string, NodeResult>> {
    const out = new Map<string, NodeResult>();
    const { monitor, id, client } = this.#o;
    if (monitor) {
      const res = await fetch(`${monitor}/api/admin/commands/${id}`).catch(() => undefined);
      if (res?.ok) {
        const body = parseCommandRecordJson(await res.json().catch(() => undefined));
        for (const r of body?.results ?? []) out.set(r.node, r);
      } else await res?.body?.cancel();
    } else {
      const answers = await Promise.all(this.#o.targets.map((n) => client.status(n, id)));
      this.#o.targets.forEach((n, i) => {
        const r = answers[i];
        if (r) out.set(n, r);
      });
    }
    for (const n of out.keys()) this.#expected.add(n);
    return out;
  }

  /** Adds nodes the monitor knows as up and matching `match` (once). */
  async addMonitorNodes(match: (address: string) => boolean): Promise<void> {
    if (!this.#o.monitor || this.#monitorNodesChecked) return;
    this.#monitorNodesChecked = true;
    try {
      const res = await fetch(`${this.#o.monitor}/api/nodes`);
      if (!res.ok) return void await res.body?.cancel();
      const body = await res.json() as { nodes?: { id: string; up: boolean }[] };
      for (const n of body.nodes ?? []) if (n.up && match(n.id)) this.#expected.add(n.id);
    } catch { /* the monitor has no node list: the fleet file's is used */ }
  }

  /** Polls until every expected node has a final result or `deadlineMs` passes. */
  async follow(deadlineMs: number): Promise<Map<string, NodeResult>> {
    const start = Date.now();
    const say = this.#o.progress ?? ((line: string) => console.error(line));
    let last = "";
    let results = new Map<string, NodeResult>();
    // Without a fleet list the number of nodes is unknown: count them as they report, and stop
    // once everything reported is final and nothing new came for `quietMs`.
    const open = this.#expected.size === 0;
    if (open) say("the number of nodes is unknown (no fleet file): counting nodes as they report");
    let lastChange = Date.now();
    let lastDeadCheck = Date.now();
    for (;;) {
      results = await this.poll();
      const drop = this.#o.dropDead;
      if (drop && !this.#o.order && Date.now() - lastDeadCheck >= drop.everyMs) {
        lastDeadCheck = Date.now();
        const waiting = [...this.#expected].filter((n) => !isFinal(results.get(n)?.status ?? "running"));
        for (const d of waiting.length > 0 ? await drop.dead(waiting) : []) {
          if (!this.#expected.delete(d.address)) continue;
          this.#dropped.set(d.address, d.line);
          say(d.line);
        }
      }
      const n = this.#expected.size;
      const done = [...results.values()].filter((r) => isFinal(r.status)).length;
      const fetching = [...results.values()].filter((r) => r.status === "fetching").length;
      const rollout = this.#o.order ? describeRollout(this.#o.order, results) : undefined;
      const line = rollout?.line ?? `${done} of ${nodesWord(n)} done` + (fetching ? `, ${fetching} fetching` : "");
      if (line !== last) {
        say(line);
        last = line;
        lastChange = Date.now();
      }
      if (rollout?.over) break;
      if (n > 0 && done >= n && (!open || Date.now() - lastChange >= (this.#o.quietMs ?? 3_000))) break;
      if (Date.now() - start > deadlineMs) {
        say(`gave up waiting after ${Math.round((Date.now() - start) / 1000)} s`);
        break;
      }
      await new Promise((r) => setTimeout(r, this.#o.pollMs ?? 500));
    }
    return results;
  }
}

function firstLine(r: NodeResult): string {
  const text = (r.status === "ok" || r.status === "failed") && r.stdout?.trim() && !(r.rollout && r.message)
    ? r.stdout.trim().split("\n")[0]
    : r.message ?? r.stderr?.trim().split("\n")[0] ?? "";
  return text.length > 70 ? text.slice(0, 69) + "…" : text;
}

/**
 * The summary table: one row per expected node.
 *
 * @example
 * ```ts ignore
 * console.log(formatTable(results, ["127.0.0.1:4000"]));
 * ```
 */
export function formatTable(results: Map<string, NodeResult>, expected: string[]): string {
  const rows = [["NODE", "STATUS", "EXIT", "DURATION", "OUTPUT"]];
  const nodes = [...new Set([...expected, ...results.keys()])].sort();
  const counts: Record<string, number> = {};
  for (const n of nodes) {
    const r = results.get(n);
    const status = r?.status ?? "no report";
    counts[status] = (counts[status] ?? 0) + 1;
    const exit = r?.exitCode === undefined || r.exitCode === null ? (r?.signal ?? "") : String(r.exitCode);
    const dur = r?.durationMs === undefined ? "" : `${(r.durationMs / 1000).toFixed(2)}s`;
    rows.push([n, status, exit, dur, r ? firstLine(r) : ""]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const lines = rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join("  ").trimEnd());
  const summary = Object.entries(counts).map(([s, n]) => `${n} ${s}`).join(", ");
  return `${lines.join("\n")}\n\n${nodesWord(nodes.length)}: ${summary}`;
}

/**
 * "1 node", "3 nodes".
 *
 * @example
 * ```ts
 * console.log(nodesWord(1), nodesWord(0)); // "1 node" "0 nodes"
 * ```
 */
export function nodesWord(n: number): string {
  return `${n} ${n === 1 ? "node" : "nodes"}`;
}
