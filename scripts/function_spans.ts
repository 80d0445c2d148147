/**
 * The lexical scanner of `check_shape.ts`: blanks comments and literals, then finds functions and
 * the lines they span by matching brackets (exact for `deno fmt`-formatted code).
 *
 * @module
 */

/** A function found in a source file. */
export interface FunctionSpan {
  /** Its name (`<arrow>` for an unnamed arrow function). */
  name: string;
  /** 1-based line of its name. */
  start: number;
  /** 1-based line of its closing brace. */
  end: number;
}

/**
 * `source` with comments, string and template literal contents and regular expressions replaced by
 * spaces (newlines kept), so braces and parentheses left are code.
 *
 * @example
 * ```ts
 * console.log(blankLiterals('const s = "{"; // }')); // 'const s = " ";     '
 * ```
 */
export function blankLiterals(source: string): string {
  const out = source.split("");
  const blank = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (out[k] !== "\n") out[k] = " ";
  };
  const templateDepth: number[] = []; // brace depth at which each open `${` returns to its template
  let depth = 0, i = 0, lastCode = "";
  const n = source.length;
  const scanTemplate = (from: number): number => { // from: after "`" or "}"; returns index after the end
    let k = from;
    while (k < n) {
      if (source[k] === "\\") k += 2;
      else if (source[k] === "`") return blank(from, k), k + 1;
      else if (source[k] === "$" && source[k + 1] === "{") {
        blank(from, k);
        templateDepth.push(depth++);
        return k + 2;
      } else k++;
    }
    blank(from, n);
    return n;
  };
  while (i < n) {
    const c = source[i], d = source[i + 1];
    if (c === "/" && d === "/") {
      const e = source.indexOf("\n", i);
      const end = e < 0 ? n : e;
      blank(i, end);
      i = end;
    } else if (c === "/" && d === "*") {
      const e = source.indexOf("*/", i + 2);
      const end = e < 0 ? n : e + 2;
      blank(i, end);
      i = end;
    } else if (c === '"' || c === "'") {
      let k = i + 1;
      while (k < n && source[k] !== c && source[k] !== "\n") k += source[k] === "\\" ? 2 : 1;
      blank(i + 1, k);
      i = k + 1;
      lastCode = c;
    } else if (c === "`") {
      i = scanTemplate(i + 1);
      lastCode = "`";
    } else if (
      c === "/" &&
      (lastCode === "" || /[(,=:[!&|?{};+\-*%<>~^]/.test(lastCode) ||
        /\b(return|typeof|case|of|in)$/.test(source.slice(Math.max(0, i - 7), i).trimEnd()))
    ) {
      let k = i + 1, inClass = false;
      while (k < n && source[k] !== "\n" && (inClass || source[k] !== "/")) {
        if (source[k] === "\\") k++;
        else if (source[k] === "[") inClass = true;
        else if (source[k] === "]") inClass = false;
        k++;
      }
      blank(i + 1, k);
      i = k + 1;
      lastCode = "/";
    } else {
      if (c === "{") depth++;
      else if (c === "}") {
        depth--;
        if (templateDepth.length > 0 && templateDepth[templateDepth.length - 1] === depth) {
          templateDepth.pop();
          i = scanTemplate(i + 1);
          lastCode = "`";
          continue;
        }
      }
      if (!/\s/.test(c)) lastCode = c;
      i++;
    }
  }
  return out.join("");
}

// deno-fmt-ignore
const KEYWORDS = new Set([
  "if", "for", "while", "switch", "catch", "return", "function", "super", "new", "typeof", "await", "with", "do",
  "else", "try", "throw", "delete", "void", "yield", "in", "of", "case", "import", "export",
]); // deno-fmt-ignore

/** Index of the bracket closing the one at `open` in blanked `code`, or -1. */
function closing(code: string, open: number): number {
  const pairs: Record<string, string> = { "(": ")", "{": "}", "[": "]" };
  const stack: string[] = [];
  for (let k = open; k < code.length; k++) {
    const c = code[k];
    if (c in pairs) stack.push(pairs[c]);
    else if (c === ")" || c === "}" || c === "]") {
      if (stack.pop() !== c) return -1;
      if (stack.length === 0) return k;
    }
  }
  return -1;
}

/** Index of the body's `{` after a parameter list ending at `close`, or -1 (a call, not a function). */
function bodyAfterParams(code: string, close: number): number {
  let k = close + 1;
  while (/\s/.test(code[k] ?? "")) k++;
  if (code[k] === "{") return k;
  if (code[k] !== ":") return -1;
  // A return type: skip it (object types, generics, unions) up to the body's brace.
  k++;
  let angle = 0;
  while (k < code.length) {
    const c = code[k];
    if (c === "<") angle++;
    else if (c === ">" && code[k - 1] !== "=") angle--;
    else if (c === "(" || c === "[") k = closing(code, k);
    else if (c === "{") {
      if (angle > 0 || /[:|&<,(]\s*$/.test(code.slice(close, k))) k = closing(code, k);
      else return k;
    } else if (c === ";" || c === "=" && code[k + 1] !== ">") return -1;
    if (k < 0) return -1;
    k++;
  }
  return -1;
}

/**
 * The functions of a source file with their line spans: declarations, methods (a name, optional
 * generics, a parameter list, then a body) and arrow functions with a block body.
 *
 * @example
 * ```ts
 * const spans = functionSpans("function a() {\n  return 1;\n}\nconst b = (x: number) => {\n  return x;\n};\n");
 * console.log(spans.map((s) => `${s.name}:${s.start}-${s.end}`)); // ["a:1-3", "b:4-6"]
 * ```
 */
export function functionSpans(source: string): FunctionSpan[] {
  const code = blankLiterals(source);
  const lineAt: number[] = [];
  for (let k = 0, line = 1; k <= code.length; k++) {
    lineAt.push(line);
    if (code[k] === "\n") line++;
  }
  const out: FunctionSpan[] = [];
  const seen = new Set<number>();
  const add = (name: string, at: number, body: number) => {
    const end = closing(code, body);
    if (end < 0 || seen.has(body)) return;
    seen.add(body);
    out.push({ name, start: lineAt[at], end: lineAt[end] });
  };
  // Declarations and methods: a name, optional generics, a parameter list, then a body.
  const named =
    /(?:\bfunction\s*\*?\s*([A-Za-z_$][\w$]*)|(?:^|[\s{;,])(#?[A-Za-z_$][\w$]*))\s*(?:<[^<>()]*(?:<[^<>()]*>[^<>()]*)*>)?\s*\(/g;
  for (const m of code.matchAll(named)) {
    const name = m[1] ?? m[2];
    if (KEYWORDS.has(name)) continue;
    const open = m.index! + m[0].length - 1;
    const close = closing(code, open);
    if (close < 0) continue;
    const body = bodyAfterParams(code, close);
    if (body >= 0) add(name, m.index! + m[0].indexOf(name), body);
  }
  // Arrow functions with a block body, named after what they are assigned to when that is on their line.
  for (const m of code.matchAll(/=>\s*\{/g)) {
    const body = m.index! + m[0].length - 1;
    const lineStart = code.lastIndexOf("\n", m.index!) + 1;
    const text = code.slice(lineStart, m.index!);
    const assigned = /(?:const|let|var)\s+([A-Za-z_$][\w$]*)/.exec(text) ??
      /(#?[A-Za-z_$][\w$]*)\s*[:=]\s*(?:async\s*)?[(\w]/.exec(text);
    add(assigned?.[1] ?? "<arrow>", m.index!, body);
  }
  return out.sort((a, b) => a.start - b.start || b.end - a.end);
}
