/**
 * A rolling restart in words, for kvctl's progress lines and the monitor's
 * admin page: "3 of 5 restarted; waiting for 10.0.0.7:4000 to catch up: 812
 * keys to go", "rollout halted at 10.0.0.7:4000: …", "rollout done: 5 of 5
 * restarted".
 *
 * @module
 */
import type { CatchUpStatus } from "../replication/catch_up.ts";
import { isFinal, type NodeResult } from "./protocol.ts";

/**
 * A waiting node's message.
 *
 * @example
 * ```ts
 * console.log(describeWait(["a:1", "b:1", "c:1"], 2)); // "waiting for its turn (3 of 3), after b:1"
 * ```
 */
export function describeWait(order: readonly string[], position: number): string {
  return `waiting for its turn (${position + 1} of ${order.length}), after ${order[position - 1]}`;
}

/**
 * A catch-up state in words.
 *
 * @example
 * ```ts
 * console.log(describeCatchUp({ phase: "syncing", joined: true, caughtUp: false, keysToGo: 812, keysReceived: 5, rounds: 1 }));
 * // "catching up: 812 keys to go"
 * ```
 */
export function describeCatchUp(s: CatchUpStatus): string {
  switch (s.phase) {
    case "joining":
      return "joining: no member has answered it yet";
    case "rejoining": {
      const v = s.views;
      const not = v && v.missing.length > 0 ? ` (not in ${v.missing.map((m) => m.member).join(", ")})` : "";
      return v ? `rejoining: alive in ${v.alive} of ${v.of} members' views${not}` : "rejoining";
    }
    case "syncing":
      return s.keysToGo === undefined ? "catching up" : `catching up: ${s.keysToGo.toLocaleString("en-US")} keys to go`;
    default:
      return "caught up";
  }
}

/** Where a rollout stands. */
export interface RolloutProgress {
  /** One line for people. */
  line: string;
  /** Nodes back. */
  restarted: number;
  /** Nodes in the order. */
  total: number;
  /** Whether nothing more will happen (all done, or halted and every later node told). */
  over: boolean;
  /** Where and why it halted. */
  halted?: { at: string; reason: string };
}

/**
 * The progress of a rollout from the results reported so far.
 *
 * @example
 * ```ts
 * const p = describeRollout(["a:1", "b:1"], new Map());
 * console.log(p.line); // "0 of 2 restarted; waiting for a:1 to start"
 * ```
 */
export function describeRollout(order: readonly string[], results: ReadonlyMap<string, NodeResult>): RolloutProgress {
  const total = order.length;
  let restarted = 0;
  let halted: RolloutProgress["halted"];
  for (const n of order) {
    const r = results.get(n);
    if (r?.rollout?.phase === "back") restarted++;
    if (!halted && r?.rollout?.haltedAt && (r.rollout.phase === "failed" || r.rollout.phase === "halted")) {
      halted = { at: r.rollout.haltedAt, reason: r.rollout.reason ?? "unknown" };
    }
  }
  if (halted) {
    const after = order.slice(order.indexOf(halted.at) + 1);
    const told = after.every((n) => {
      const r = results.get(n);
      return r !== undefined && isFinal(r.status);
    });
    return {
      line: `${restarted} of ${total} restarted; rollout halted at ${halted.at}: ${halted.reason}`,
      restarted,
      total,
      over: told,
      halted,
    };
  }
  if (restarted === total) {
    return { line: `rollout done: ${total} of ${total} restarted`, restarted, total, over: true };
  }
  const current = order.find((n) => results.get(n)?.rollout?.phase !== "back")!;
  const r = results.get(current);
  const phase = r?.rollout?.phase;
  let what: string;
  if (!r || phase === "waiting") what = `waiting for ${current} to start`;
  else if (phase === "running") what = `${current} is running the script`;
  else if (phase === "restarting") what = `waiting for ${current} to restart`;
  else if (phase === "catching-up") {
    const k = r.rollout?.keysToGo;
    const v = r.rollout?.views;
    what = r.message?.startsWith("catching up") && k !== undefined
      ? `waiting for ${current} to catch up: ${k.toLocaleString("en-US")} keys to go`
      : v && v.alive < v.of
      ? `waiting for ${current} to rejoin: alive in ${v.alive} of ${v.of} views`
      : `waiting for ${current} to come back${r.message ? ` (${r.message})` : ""}`;
  } else what = `${current}: ${r.message ?? r.status}`;
  return { line: `${restarted} of ${total} restarted; ${what}`, restarted, total, over: false };
}
