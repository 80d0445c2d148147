/**
 * Small pieces every page shares: the navigation (the same links on the Nodes, node and Admin pages)
 * and a closed round said in words.
 *
 * @module
 */
import type { RoundSummary } from "./rounds.ts";

/** The links of every page's header, in order (the Nodes page, the Admin page, the APIs). */
export const NAV_LINKS: readonly [string, string][] = [
  ["/", "Nodes"],
  ["/admin", "Admin"],
  ["/api/nodes", "API"],
  ["/api/rounds", "Rounds"],
  ["/metrics", "Metrics"],
];

/**
 * The navigation every page shows, `here` marked.
 *
 * @example
 * ```ts
 * console.log(renderNav("/admin").includes('<a href="/admin" class="here">Admin</a>')); // true
 * ```
 */
export function renderNav(here: string): string {
  return `<nav>${
    NAV_LINKS.map(([href, label]) => `<a href="${href}"${href === here ? ' class="here"' : ""}>${label}</a>`).join("")
  }</nav>`;
}

/**
 * A closed round in words: who reported, how fast the reports came, how far the round message went.
 *
 * @example
 * ```ts ignore
 * console.log(roundWords(monitor.rounds.lastClosed()!));
 * ```
 */
export function roundWords(r: RoundSummary): string {
  const ms = (x: number | undefined) =>
    x === undefined ? "not reached" : x >= 1000 ? `${(x / 1000).toFixed(1)} s` : `${x} ms`;
  const hops = r.hopsMax === undefined
    ? ""
    : ` The round message reached the farthest node in ${r.hopsMax} hop${
      r.hopsMax === 1 ? "" : "s"
    } (${r.hopsMean} on average).`;
  return `<b>Round ${r.index}</b>: ${r.reported} of ${r.expected} nodes reported (${
    (r.coverage * 100).toFixed(1)
  }%). Time from the round's start until half of the reports arrived: ${ms(r.t50)}; 90%: ${ms(r.t90)}; all: ${
    ms(r.tAll)
  }.${hops}`;
}
