import assert from "node:assert/strict";
import { blankLiterals, checkShape, functionSpans, shapeFindings } from "../scripts/check_shape.ts";

const SCRIPT = new URL("../scripts/check_shape.ts", import.meta.url).pathname;
const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** A function `name` of `lines` lines in all. */
function longFunction(name: string, lines: number): string {
  return [
    `export function ${name}(): number {`,
    "  let x = 0;",
    ...Array(lines - 4).fill("  x++;"),
    "  return x;",
    "}",
    "",
  ]
    .join("\n");
}

/** An architecture.md with the allow-list `rows`. */
function doc(...rows: string[]): string {
  return [
    "# Architecture",
    "",
    "## Shape allow-list",
    "",
    "| file | function | kind | why |",
    "| - | - | - | - |",
    ...rows,
    "",
  ]
    .join("\n");
}

async function runCheck(root: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--allow-read", SCRIPT, "--root", root],
    stdin: "null",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test("check_shape: a planted 71-line function and an untyped record fail; allow-listed they pass; a stale row is printed", async () => {
  const root = await Deno.makeTempDir({ prefix: "kvstore-shape-" });
  try {
    await Deno.mkdir(`${root}/lib/a`, { recursive: true });
    await Deno.mkdir(`${root}/docs`);
    await Deno.writeTextFile(`${root}/lib/a/ok.ts`, longFunction("exactly70", 70));
    await Deno.writeTextFile(`${root}/lib/a/long.ts`, longFunction("tooLong", 71));
    await Deno.writeTextFile(
      `${root}/lib/a/record.ts`,
      "export function parseThing(h: unknown) {\n  return h as Record<string, unknown>;\n}\n" +
        "export function useThing(h: unknown) {\n  const r = h as Record<string, unknown>;\n  return r.x;\n}\n",
    );
    await Deno.writeTextFile(`${root}/docs/architecture.md`, doc());
    const bad = await runCheck(root);
    assert.equal(bad.code, 1);
    assert.deepEqual(bad.stderr.trim().split("\n"), [
      "shape: lib/a/long.ts:1: tooLong is 71 lines (over 70): split it into named steps",
      "shape: lib/a/record.ts:5: Record<string, unknown> in useThing, not a validator: give the value a type, or validate it in a parse… function",
    ]);
    await Deno.writeTextFile(
      `${root}/docs/architecture.md`,
      doc(
        "| `lib/a/long.ts` | `tooLong` | long | planted |",
        "| `lib/a/record.ts` | `useThing` | record | planted |",
        "| `lib/a/gone.ts` | `split` | long | no longer there |",
      ),
    );
    const good = await runCheck(root);
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /allow-list row lib\/a\/gone\.ts split \(long\) matches nothing; remove it/);
    assert.match(good.stdout, /shape: 3 files under lib\/; 2 allowed findings, none other/);
    await Deno.writeTextFile(`${root}/docs/architecture.md`, "# Architecture\n");
    assert.match((await runCheck(root)).stderr, /no "## Shape allow-list" section/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("check_shape: braces in strings, templates, regular expressions and return types do not confuse the spans", () => {
  const source = [
    "export function a(s: string): { ok: boolean } {", //  1
    '  const t = `${s}{` + "}}" + `x${`{${s}`}`;', //       2
    "  const re = /\\{[^}]*\\}/g; // } {", //              3
    "  /* { */", //                                          4
    "  return { ok: re.test(t) };", //                       5
    "}", //                                                  6
    "class C {", //                                          7
    "  #m<T>(x: T): Promise<{ v: T }> {", //                 8
    "    return Promise.resolve({ v: x });", //              9
    "  }", //                                               10
    "  get n(): number {", //                               11
    "    if (this.n > 1) { return 1; }", //                 12
    "    return 0;", //                                     13
    "  }", //                                               14
    "}", //                                                 15
    "const f = async (x: number) => {", //                  16
    "  call(x);", //                                        17
    "};", //                                                18
  ].join("\n");
  assert.equal(blankLiterals(source).split("\n").length, 18);
  assert.deepEqual(functionSpans(source).map((s) => `${s.name}:${s.start}-${s.end}`), [
    "a:1-6",
    "#m:8-10",
    "n:11-14",
    "f:16-18",
  ]);
  assert.deepEqual(shapeFindings("lib/x.ts", source, 4).map((f) => `${f.name}:${f.lines}`), ["a:6"]);
});

Deno.test("check_shape: today's tree passes with the documented allow-list", async () => {
  const { failing, unused } = await checkShape(REPO);
  assert.deepEqual(failing, []);
  assert.deepEqual(unused, [], "every allow-list row still matches");
});
