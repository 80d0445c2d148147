/**
 * `deno run --allow-read scripts/check_shape.ts`: the shape check (part of `deno task check`).
 *
 * Lists, for every `.ts` file under `lib/`, the functions longer than {@linkcode MAX_FUNCTION_LINES}
 * lines (declarations, methods, and arrow functions with a block body; from the line of the name to
 * the closing brace) and every `Record<string, unknown>` outside a validator (a function whose
 * name starts `parse`, `decode`, `validate`, `check`, `is` + a capital, or is `fieldsOf`: the
 * only places a header or file may be an untyped record). It fails on any that the allow-list
 * does not name: the table under "## Shape allow-list" in `docs/architecture.md`, one row per
 * function (`file`, `function`, `long` or `record`, why). A row that no longer matches anything is
 * printed as a reminder to remove it (not a failure: branches merged later may split a function).
 *
 * The scanner is lexical (comments, strings, template literals and regular expressions are blanked
 * before braces are matched), which is exact for `deno fmt`-formatted code.
 *
 * @module
 */
import { parseFlags, runCli, UsageError } from "../lib/base/cli_args.ts";
import { blankLiterals, functionSpans } from "./function_spans.ts";

export { blankLiterals, type FunctionSpan, functionSpans } from "./function_spans.ts";

/** Longest function body allowed, in lines. */
export const MAX_FUNCTION_LINES = 70;

/** The heading of the allow-list section in docs/architecture.md. */
export const SHAPE_ALLOW_HEADING = "## Shape allow-list";

/** Names of validators: the functions where `Record<string, unknown>` belongs. */
export const VALIDATOR_NAME = /^(parse|decode|validate|check|is[A-Z]|fieldsOf$)/;

/** Help text of the check. */
export const CHECK_SHAPE_HELP = `Usage: deno run --allow-read scripts/check_shape.ts [--root DIR] [--allow FILE]

Fails (exit 1, one line per finding) on a function under lib/ longer than ${MAX_FUNCTION_LINES} lines
or a Record<string, unknown> outside a validator, unless the allow-list names it.

Options:
  --root DIR     repository to check (default: the one this script is in)
  --allow FILE   markdown with the "${SHAPE_ALLOW_HEADING}" table (default ROOT/docs/architecture.md)
  -h, --help     show this help
`;

/** One finding: a long function or an untyped record. */
export interface ShapeFinding {
  /** File, relative to the root. */
  file: string;
  /** The function (`(top level)` for a record outside any function). */
  name: string;
  /** What it is. */
  kind: "long" | "record";
  /** Line of the function or the record. */
  line: number;
  /** Lines of the function (long), or 0. */
  lines: number;
}

/** A row of the allow-list. */
export interface ShapeAllowed {
  /** File, relative to the root. */
  file: string;
  /** Function name. */
  name: string;
  /** What is allowed. */
  kind: "long" | "record";
  /** Why (one line). */
  reason: string;
}

/**
 * The findings of one file: functions over the limit, and `Record<string, unknown>` outside validators.
 *
 * @example
 * ```ts
 * const src = "function parseX(h: unknown) {\n  return h as Record<string, unknown>;\n}\nexport let y: Record<string, unknown> = {};\n";
 * console.log(shapeFindings("lib/x.ts", src)); // [{ file: "lib/x.ts", name: "(top level)", kind: "record", line: 4, lines: 0 }]
 * ```
 */
export function shapeFindings(file: string, source: string, maxLines = MAX_FUNCTION_LINES): ShapeFinding[] {
  const spans = functionSpans(source);
  const out: ShapeFinding[] = [];
  for (const s of spans) {
    const lines = s.end - s.start + 1;
    if (lines > maxLines) out.push({ file, name: s.name, kind: "long", line: s.start, lines });
  }
  const code = blankLiterals(source).split("\n");
  code.forEach((text, i) => {
    if (!/Record<\s*string\s*,\s*unknown\s*>/.test(text)) return;
    const line = i + 1;
    const around = spans.filter((s) => s.start <= line && line <= s.end);
    if (around.some((s) => VALIDATOR_NAME.test(s.name))) return;
    const inner = around.sort((a, b) => (a.end - a.start) - (b.end - b.start))[0];
    out.push({ file, name: inner?.name ?? "(top level)", kind: "record", line, lines: 0 });
  });
  return out;
}

/**
 * The allow-list rows of `markdown` (the table under {@linkcode SHAPE_ALLOW_HEADING}); throws a
 * one-line error when the section is missing or a row is malformed.
 *
 * @example
 * ```ts
 * const md = "## Shape allow-list\n\n| file | function | kind | why |\n| - | - | - | - |\n| `lib/a.ts` | `run` | long | composition |\n";
 * console.log(parseShapeAllowList(md, "a.md")); // [{ file: "lib/a.ts", name: "run", kind: "long", reason: "composition" }]
 * ```
 */
export function parseShapeAllowList(markdown: string, file: string): ShapeAllowed[] {
  const lines = markdown.split("\n");
  const start = lines.findIndex((l) => l.trim() === SHAPE_ALLOW_HEADING);
  if (start < 0) throw new Error(`${file}: no "${SHAPE_ALLOW_HEADING}" section; the shape check reads its table`);
  const out: ShapeAllowed[] = [];
  for (let i = start + 1; i < lines.length && !lines[i].startsWith("## "); i++) {
    const line = lines[i].trim();
    if (!line.startsWith("| `")) continue;
    const m = /^\|\s*`([^`]+)`\s*\|\s*`([^`]+)`\s*\|\s*(long|record)\s*\|\s*(.*?)\s*\|$/.exec(line);
    if (!m) throw new Error(`${file}:${i + 1}: expected "| \`file\` | \`function\` | long or record | why |"`);
    out.push({ file: m[1], name: m[2], kind: m[3] as "long" | "record", reason: m[4] });
  }
  return out;
}

/**
 * Splits findings into those the allow-list names and those it does not, and lists the rows that
 * match nothing.
 *
 * @example
 * ```ts
 * const f = { file: "lib/a.ts", name: "run", kind: "long" as const, line: 1, lines: 90 };
 * console.log(judgeShape([f], []).failing.length); // 1
 * ```
 */
export function judgeShape(
  findings: ShapeFinding[],
  allowed: ShapeAllowed[],
): { failing: ShapeFinding[]; allowedFindings: ShapeFinding[]; unused: ShapeAllowed[] } {
  const key = (x: { file: string; name: string; kind: string }) => `${x.file}\0${x.name}\0${x.kind}`;
  const allowedKeys = new Set(allowed.map(key));
  const usedKeys = new Set(findings.map(key));
  return {
    failing: findings.filter((f) => !allowedKeys.has(key(f))),
    allowedFindings: findings.filter((f) => allowedKeys.has(key(f))),
    unused: allowed.filter((a) => !usedKeys.has(key(a))),
  };
}

/**
 * Runs the check on the repository at `root`.
 *
 * @example
 * ```ts ignore
 * const { failing } = await checkShape(".");
 * ```
 */
export async function checkShape(
  root: string,
  allowFile = `${root}/docs/architecture.md`,
): Promise<{ failing: ShapeFinding[]; allowedFindings: ShapeFinding[]; unused: ShapeAllowed[]; files: number }> {
  const allowed = parseShapeAllowList(await Deno.readTextFile(allowFile), allowFile);
  const findings: ShapeFinding[] = [];
  let files = 0;
  const walk = async (dir: string): Promise<void> => {
    const entries: Deno.DirEntry[] = [];
    for await (const e of Deno.readDir(`${root}/${dir}`)) entries.push(e);
    entries.sort((a, b) => a.name < b.name ? -1 : 1);
    for (const e of entries) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory) await walk(path);
      else if (e.isFile && e.name.endsWith(".ts")) {
        files++;
        findings.push(...shapeFindings(path, await Deno.readTextFile(`${root}/${path}`)));
      }
    }
  };
  await walk("lib");
  return { ...judgeShape(findings, allowed), files };
}

/** One line for a finding. */
function describe(f: ShapeFinding): string {
  return f.kind === "long"
    ? `${f.file}:${f.line}: ${f.name} is ${f.lines} lines (over ${MAX_FUNCTION_LINES}): split it into named steps`
    : `${f.file}:${f.line}: Record<string, unknown> in ${f.name}, not a validator: give the value a type, or validate it in a parse… function`;
}

if (import.meta.main) {
  await runCli(async () => {
    const { values, positionals } = parseFlags("check_shape", Deno.args, {
      root: { type: "string" },
      allow: { type: "string" },
    });
    if (values.help) {
      console.log(CHECK_SHAPE_HELP);
      return 0;
    }
    if (positionals.length > 0) throw new UsageError(`check_shape: unexpected argument "${positionals[0]}"`);
    const root = values.root ?? new URL("..", import.meta.url).pathname.replace(/\/$/, "");
    let result;
    try {
      result = await checkShape(root, values.allow);
    } catch (e) {
      console.error(`shape: ${(e as Error).message}`);
      return 1;
    }
    for (const u of result.unused) {
      console.log(`shape: allow-list row ${u.file} ${u.name} (${u.kind}) matches nothing; remove it`);
    }
    for (const f of result.failing) console.error(`shape: ${describe(f)}`);
    if (result.failing.length > 0) return 1;
    console.log(
      `shape: ${result.files} files under lib/; ${result.allowedFindings.length} allowed findings, none other`,
    );
    return 0;
  });
}
