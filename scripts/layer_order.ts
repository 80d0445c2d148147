/**
 * The documented layer order, read from `docs/architecture.md` (the table under "The layers, top to
 * bottom"): `scripts/check_layers.ts` takes it as its input, so the table and the check are one list.
 *
 * @module
 */

/** The heading of the section whose table is the order. */
export const LAYER_TABLE_HEADING = "## The layers, top to bottom";

/**
 * The folders of the layer table, top to bottom, as `lib/X` (the names {@linkcode folderOf} in
 * `check_layers.ts` gives). A row's first cell is a folder in backticks with a trailing slash
 * (`` `cli/` ``). Throws a one-line error when the section or its rows are missing, or a folder is listed twice.
 *
 * @example
 * ```ts
 * const md = "## The layers, top to bottom\n\n| folder | what |\n| - | - |\n| `node/` | x |\n| `wire/` | y |\n";
 * console.log(parseLayerTable(md, "architecture.md")); // ["lib/node", "lib/wire"]
 * ```
 */
export function parseLayerTable(markdown: string, file: string): string[] {
  const lines = markdown.split("\n");
  const start = lines.findIndex((l) => l.trim() === LAYER_TABLE_HEADING);
  if (start < 0) throw new Error(`${file}: no "${LAYER_TABLE_HEADING}" section; the layer check reads its table`);
  const out: string[] = [];
  for (let i = start + 1; i < lines.length && !lines[i].startsWith("## "); i++) {
    const m = /^\|\s*`([\w-]+)\/`\s*\|/.exec(lines[i]);
    if (!m) continue;
    const folder = `lib/${m[1]}`;
    if (out.includes(folder)) {
      throw new Error(`${file}:${i + 1}: folder \`${m[1]}/\` is listed twice in the layer table`);
    }
    out.push(folder);
  }
  if (out.length === 0) {
    throw new Error(`${file}: the "${LAYER_TABLE_HEADING}" section has no rows like "| \`folder/\` | … |"`);
  }
  return out;
}

/**
 * The problems of the folder edges against the order, one line each: an import of a folder that is
 * not below the importer, and a folder under `lib/` missing from the table. Files directly in `lib/`
 * (folder `lib`) sit above every folder. `skip` holds edges (`"A\0B"`) reported elsewhere (allowed,
 * or part of a reported cycle).
 *
 * @example
 * ```ts
 * const edges = new Map([["lib/client\0lib/node", { from: "lib/client/c.ts", to: "lib/node/n.ts" }]]);
 * console.log(orderProblems(edges, ["lib/node", "lib/client"], new Set(), "architecture.md"));
 * // ["lib/client -> lib/node: lib/client/c.ts imports lib/node/n.ts, but lib/node is above lib/client in architecture.md"]
 * ```
 */
export function orderProblems(
  edges: Map<string, { from: string; to: string }>,
  order: string[],
  skip: Set<string>,
  file: string,
): string[] {
  const known = new Set(["lib", ...order]);
  const problems: string[] = [];
  const unknown = new Set<string>();
  for (const [key, i] of edges) {
    const [a, b] = key.split("\0");
    if (!a.startsWith("lib") || !b.startsWith("lib")) continue;
    for (const f of [a, b]) {
      if (!known.has(f) && !unknown.has(f)) {
        unknown.add(f);
        problems.push(`${f}: not in the layer table of ${file}; add a row where it belongs`);
      }
    }
    if (!skip.has(key) && againstOrder(a, b, order)) {
      problems.push(`${a} -> ${b}: ${i.from} imports ${i.to}, but ${b} is above ${a} in ${file}`);
    }
  }
  return problems;
}

/**
 * Whether the edge `a → b` goes against the order: both folders are known (files directly in `lib/`
 * rank above all) and `b` is not below `a`.
 *
 * @example
 * ```ts
 * console.log(againstOrder("lib/wire", "lib/node", ["lib/node", "lib/wire"])); // true
 * ```
 */
export function againstOrder(a: string, b: string, order: string[]): boolean {
  const rank = (f: string) => f === "lib" ? -1 : order.indexOf(f);
  const known = (f: string) => f === "lib" || order.includes(f);
  return a !== b && known(a) && known(b) && rank(b) <= rank(a);
}
