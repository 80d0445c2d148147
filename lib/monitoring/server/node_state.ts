/**
 * The words a page shows for a node's state, decided in one place: `ok`, `late`, `waiting`,
 * `not responding` with the reason, or `left` with the time. The status page and any other page
 * that shows nodes (a node-served page, kvctl) use it, so the words stay the same everywhere.
 *
 * @module
 */
import { clockTime, type NodeDeparture, type NodeState } from "./registry.ts";

/** A node's state as a page shows it. */
export interface DisplayedState {
  /** The words: "ok", "late", "waiting", "not responding" or "left". */
  word: "ok" | "late" | "waiting" | "not responding" | "left";
  /** The CSS class of its pill (the registry's state). */
  css: NodeState;
  /** Why, for a node not responding: "dead since 12:01:07 (its peers say)", "not responding (3 rounds)" … */
  reason?: string;
  /** When it left or died (ms since epoch), if known. */
  since?: number;
  /** The pill's text: the word, with the time for a node that left ("left 12:01:07"). */
  label: string;
  /** Whether its last values are history (it left or does not respond): the page greys them. */
  stale: boolean;
}

/**
 * Decides how a node's state reads. `problems` are the registry's, most severe first.
 *
 * @example
 * ```ts
 * const s = displayedState({ state: "left", problems: [], departure: { state: "left", at: 0, by: "a:1" } });
 * console.log(s.word, s.stale); // "left" true
 * ```
 */
export function displayedState(
  node: { state: NodeState; problems: readonly string[]; departure?: NodeDeparture },
): DisplayedState {
  const since = node.departure?.at;
  switch (node.state) {
    case "left":
      return {
        word: "left",
        css: "left",
        since,
        label: since === undefined ? "left" : `left ${clockTime(since)}`,
        stale: true,
      };
    case "not_responding":
      return {
        word: "not responding",
        css: "not_responding",
        reason: node.problems.join(" · ") || undefined,
        since: node.departure?.state === "dead" ? since : undefined,
        label: "not responding",
        stale: true,
      };
    default:
      return { word: node.state, css: node.state, label: node.state, stale: false };
  }
}
