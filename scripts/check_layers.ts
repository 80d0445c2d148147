/**
 * `deno run --allow-read scripts/check_layers.ts`: the one-way folder check (part of `deno task check`).
 *
 * Every `.ts` file under `lib/` belongs to a folder: the first directory level under `lib/`
 * (`lib/wire`, `lib/node`, …), or `lib` itself for the files directly in it. The check reads
 * every relative import and re-export, builds the graph of folders, and fails when folders import
 * each other in a cycle (any strongly connected component, not only pairs), when a folder imports
 * one that is not below it in the layer table of `docs/architecture.md` (the table is the check's
 * input, `scripts/layer_order.ts`), or when anything under `lib/` imports `scripts/`. Each problem
 * is one line naming a file on each side of the import.
 *
 * Today's known cycles are listed, one folder edge per line with its reason, in
 * `scripts/layer_cycles_allowed.txt`; the check ignores those edges, so a new cycle fails, and so
 * does an entry that no longer matches a cycle (remove it once the cycle is gone).
 *
 * @module
 */
import { parseFlags, runCli, UsageError } from "../lib/base/cli_args.ts";
import { againstOrder, orderProblems, parseLayerTable } from "./layer_order.ts";

/**
 * Help text of the check.
 *
 * @example
 * ```ts
 * console.log(CHECK_LAYERS_HELP.startsWith("Usage:")); // true
 * ```
 */
export const CHECK_LAYERS_HELP = `Usage: deno run --allow-read scripts/check_layers.ts [--root DIR] [--allow FILE]

Fails (exit 1, one line per problem) when folders under lib/ import each other in a
cycle, when a folder imports one that is not below it in the layer table of
docs/architecture.md ("The layers, top to bottom"), or when a file under lib/
imports scripts/.

Options:
  --root DIR     repository to check (default: the one this script is in)
  --order FILE   the markdown file whose layer table is the order
                 (default ROOT/docs/architecture.md)
  --allow FILE   known cycles, one "FROM -> TO: reason" per line
                 (default ROOT/scripts/layer_cycles_allowed.txt; missing = none allowed)
  -h, --help     show this help
`;

/**
 * One import of one file by another (paths relative to the root, with forward slashes).
 *
 * @example
 * ```ts
 * const i: FileImport = { from: "lib/admin/attach.ts", to: "lib/monitoring/report.ts" };
 * console.log(layerProblems([i])); // []
 * ```
 */
export interface FileImport {
  /** The importing file, e.g. `lib/admin/attach.ts`. */
  from: string;
  /** The imported file, e.g. `lib/monitoring/report.ts`. */
  to: string;
}

/**
 * A folder edge that is known and tolerated for now (a line of the allow-list).
 *
 * @example
 * ```ts
 * const e: AllowedEdge = { from: "lib/monitor", to: "lib/admin", reason: "admin page", at: "allow.txt:1" };
 * console.log(e.from);
 * ```
 */
export interface AllowedEdge {
  /** Importing folder, e.g. `lib/monitor`. */
  from: string;
  /** Imported folder, e.g. `lib/admin`. */
  to: string;
  /** Why it is there (one line). */
  reason: string;
  /** Where the entry is, `FILE:LINE`. */
  at: string;
}

const STATIC_IMPORT =
  /^[ \t]*(?:import|export)\s+(?:type\s+)?(?:[\w$]+\s*,\s*)?(?:\{[^}]*\}|\*(?:\s+as\s+[\w$]+)?|[\w$]+)\s+from\s*["']([^"']+)["']/gm;
const BARE_IMPORT = /^[ \t]*import\s*["']([^"']+)["']/gm;
const DYNAMIC_IMPORT = /(?<![\w$.])import\(\s*["']([^"']+)["']\s*\)/g;

/**
 * The module specifiers a source file imports or re-exports (static, side-effect and dynamic
 * imports with a literal specifier). Statements must start a line, so examples inside JSDoc
 * comments (` * import …`) are not counted.
 *
 * @example
 * ```ts
 * console.log(importsOf('import { a } from "./a.ts";\nexport * from "../b/b.ts";')); // ["./a.ts", "../b/b.ts"]
 * ```
 */
export function importsOf(source: string): string[] {
  const out: string[] = [];
  for (const re of [STATIC_IMPORT, BARE_IMPORT, DYNAMIC_IMPORT]) {
    for (const m of source.matchAll(re)) out.push(m[1]);
  }
  return out;
}

/**
 * The folder a path belongs to: `lib/X` for anything under `lib/X/`, `lib` for files directly in
 * `lib/`, and the first path segment for anything else (`scripts`, `tests`, or the file itself at the root).
 *
 * @example
 * ```ts
 * console.log(folderOf("lib/membership/swim.ts"), folderOf("lib/top.ts"), folderOf("scripts/bench_compare.ts")); // lib/membership lib scripts
 * ```
 */
export function folderOf(path: string): string {
  const parts = path.split("/");
  if (parts[0] !== "lib") return parts[0];
  return parts.length > 2 ? `lib/${parts[1]}` : "lib";
}

/** `path` without `.` and `..` segments (forward slashes). */
function normalize(path: string): string {
  const out: string[] = [];
  for (const seg of path.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") out.pop();
    else out.push(seg);
  }
  return out.join("/");
}

/**
 * Reads every `.ts` file under `ROOT/lib` and returns its relative imports, resolved to paths
 * relative to `root`.
 *
 * @example
 * ```ts ignore
 * const imports = await scanImports(".");
 * console.log(imports.find((i) => i.from === "lib/roles/start_node.ts"));
 * ```
 */
export async function scanImports(root: string): Promise<FileImport[]> {
  const out: FileImport[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries: Deno.DirEntry[] = [];
    for await (const e of Deno.readDir(`${root}/${dir}`)) entries.push(e);
    entries.sort((a, b) => a.name < b.name ? -1 : 1);
    for (const e of entries) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory) await walk(path);
      else if (e.isFile && e.name.endsWith(".ts")) {
        const source = await Deno.readTextFile(`${root}/${path}`);
        for (const spec of importsOf(source)) {
          if (spec.startsWith("./") || spec.startsWith("../")) {
            out.push({ from: path, to: normalize(`${dir}/${spec}`) });
          }
        }
      }
    }
  };
  await walk("lib");
  return out;
}

/**
 * Parses an allow-list: one `FROM -> TO: reason` per line (folders as {@linkcode folderOf} names
 * them); blank lines and lines starting with `#` are skipped. Throws a one-line error on a bad line.
 *
 * @example
 * ```ts
 * const [e] = parseAllowList("lib/monitor -> lib/admin: the monitor serves the admin page", "allow.txt");
 * console.log(e.from, e.to, e.at); // lib/monitor lib/admin allow.txt:1
 * ```
 */
export function parseAllowList(text: string, file: string): AllowedEdge[] {
  const out: AllowedEdge[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const m = /^(\S+)\s*->\s*(\S+?)\s*:\s*(\S.*)$/.exec(line);
    if (!m) throw new Error(`${file}:${i + 1}: expected "FROM -> TO: reason", got "${line}"`);
    out.push({ from: m[1], to: m[2], reason: m[3], at: `${file}:${i + 1}` });
  });
  return out;
}

/** Strongly connected components of a directed graph (Tarjan), each sorted. */
function components(nodes: string[], next: (n: string) => string[]): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of next(v)) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        c.push(w);
      } while (w !== v);
      out.push(c.sort());
    }
  };
  for (const n of nodes) if (!index.has(n)) visit(n);
  return out;
}

/** A shortest folder path from `a` to `b` inside `within` (breadth first), `a` and `b` included. */
function pathBetween(a: string, b: string, within: Set<string>, next: (n: string) => string[]): string[] {
  const prev = new Map<string, string>([[a, a]]);
  const queue = [a];
  while (queue.length > 0) {
    const v = queue.shift()!;
    if (v === b) break;
    for (const w of next(v)) {
      if (within.has(w) && !prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  const path = [b];
  while (path[0] !== a) path.unshift(prev.get(path[0])!);
  return path;
}

/** The layer order a check holds the imports to: folders top to bottom, and the file it came from. */
export interface LayerOrder {
  /** Folders as `lib/X`, top to bottom. */
  folders: string[];
  /** The file the table was read from (named in problems). */
  file: string;
}

/**
 * The problems of a set of imports, one line each: folder cycles (edges in `allowed` ignored),
 * imports against `order` when given (an edge inside a reported cycle is reported as the cycle),
 * imports of `scripts/` from `lib/` (unless allowed), and allow-list entries that no longer match
 * a cycle or an edge against the order. Empty when the folders depend one way, down the table.
 *
 * @example
 * ```ts
 * const problems = layerProblems([
 *   { from: "lib/a/x.ts", to: "lib/b/y.ts" },
 *   { from: "lib/b/y.ts", to: "lib/a/x.ts" },
 * ]);
 * console.log(problems); // ["lib/a <-> lib/b: lib/a/x.ts imports lib/b/y.ts, and lib/b/y.ts imports lib/a/x.ts"]
 * ```
 */
export function layerProblems(imports: FileImport[], allowed: AllowedEdge[] = [], order?: LayerOrder): string[] {
  // Folder edge "A\0B" → one example file import (the first in path order).
  const example = new Map<string, FileImport>();
  for (const i of [...imports].sort((x, y) => x.from < y.from ? -1 : x.from > y.from ? 1 : x.to < y.to ? -1 : 1)) {
    const a = folderOf(i.from), b = folderOf(i.to);
    if (a !== b && !example.has(`${a}\0${b}`)) example.set(`${a}\0${b}`, i);
  }
  const isAllowed = new Set(allowed.map((e) => `${e.from}\0${e.to}`));
  const graph = (skipAllowed: boolean) => {
    const next = new Map<string, string[]>();
    for (const key of example.keys()) {
      const [a, b] = key.split("\0");
      if (!next.has(a)) next.set(a, []);
      if (!next.has(b)) next.set(b, []);
      if (!(skipAllowed && isAllowed.has(key))) next.get(a)!.push(b);
    }
    return next;
  };
  const describe = (a: string, b: string) =>
    `${example.get(`${a}\0${b}`)!.from} imports ${example.get(`${a}\0${b}`)!.to}`;
  const problems: string[] = [];
  for (const [key, i] of example) {
    const [a, b] = key.split("\0");
    if (a.startsWith("lib") && b === "scripts" && !isAllowed.has(key)) {
      problems.push(`${a} -> scripts: ${i.from} imports ${i.to} (lib/ must not depend on scripts/)`);
    }
  }
  const checked = graph(true);
  const next = (n: string) => checked.get(n) ?? [];
  const reported = new Set<string>();
  for (const c of components([...checked.keys()].sort(), next)) {
    if (c.length < 2) continue;
    const inside = new Set(c);
    for (const a of c) {
      for (const b of next(a)) {
        if (!inside.has(b) || reported.has(`${a}\0${b}`)) continue;
        reported.add(`${a}\0${b}`);
        if (next(b).includes(a)) {
          reported.add(`${b}\0${a}`);
          problems.push(`${a} <-> ${b}: ${describe(a, b)}, and ${describe(b, a)}`);
        } else {
          const cycle = [a, ...pathBetween(b, a, inside, next)];
          problems.push(`cycle ${cycle.join(" -> ")}: ${describe(a, b)}`);
        }
      }
    }
  }
  if (order) problems.push(...orderProblems(example, order.folders, new Set([...reported, ...isAllowed]), order.file));
  // An entry is needed only while its edge exists and closes a cycle, goes against the order, or reaches scripts/.
  const full = graph(false);
  const fullNext = (n: string) => full.get(n) ?? [];
  const sameComponent = new Map<string, number>();
  components([...full.keys()].sort(), fullNext).forEach((c, n) => c.forEach((f) => sameComponent.set(f, n)));
  for (const e of allowed) {
    const exists = example.has(`${e.from}\0${e.to}`);
    const needed = exists && (e.to === "scripts" || sameComponent.get(e.from) === sameComponent.get(e.to) ||
      (order !== undefined && againstOrder(e.from, e.to, order.folders)));
    if (!needed) {
      problems.push(
        `${e.at}: "${e.from} -> ${e.to}" is allowed but ${
          exists ? "no longer part of a cycle nor against the order" : "no file imports that way any more"
        }; remove the entry`,
      );
    }
  }
  return problems;
}

/**
 * Runs the check on the repository at `root` with the allow-list `allowFile` (missing file: nothing
 * allowed) and the layer table of `orderFile` (missing file: an error, the order is required).
 *
 * @example
 * ```ts ignore
 * const { problems } = await checkLayers(".", "scripts/layer_cycles_allowed.txt");
 * for (const p of problems) console.error(p);
 * ```
 */
export async function checkLayers(
  root: string,
  allowFile = `${root}/scripts/layer_cycles_allowed.txt`,
  orderFile = `${root}/docs/architecture.md`,
): Promise<{ problems: string[]; allowed: AllowedEdge[]; imports: number; order: string[] }> {
  let text = "";
  try {
    text = await Deno.readTextFile(allowFile);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const allowed = parseAllowList(text, allowFile);
  let markdown: string;
  try {
    markdown = await Deno.readTextFile(orderFile);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    throw new Error(`${orderFile} does not exist: the layer order is its table; pass --order FILE`);
  }
  const folders = parseLayerTable(markdown, orderFile);
  const imports = await scanImports(root);
  const problems = layerProblems(imports, allowed, { folders, file: orderFile });
  return { problems, allowed, imports: imports.length, order: folders };
}

if (import.meta.main) {
  await runCli(async () => {
    const { values, positionals } = parseFlags("check_layers", Deno.args, {
      root: { type: "string" },
      allow: { type: "string" },
      order: { type: "string" },
    });
    if (values.help) {
      console.log(CHECK_LAYERS_HELP);
      return 0;
    }
    if (positionals.length > 0) throw new UsageError(`check_layers: unexpected argument "${positionals[0]}"`);
    const root = values.root ?? new URL("..", import.meta.url).pathname.replace(/\/$/, "");
    try {
      await Deno.stat(`${root}/lib`);
    } catch {
      throw new UsageError(`check_layers: ${root}/lib does not exist; pass --root DIR of the repository`);
    }
    let result;
    try {
      result = await checkLayers(root, values.allow, values.order);
    } catch (e) {
      console.error(`layers: ${(e as Error).message}`);
      return 1;
    }
    const { problems, allowed, imports, order } = result;
    for (const p of problems) console.error(`layers: ${p}`);
    if (problems.length > 0) return 1;
    console.log(
      `layers: one-way, down the ${order.length}-row table (${imports} imports under lib/; ${allowed.length} known back edges allowed)`,
    );
    return 0;
  });
}
