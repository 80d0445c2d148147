import assert from "node:assert/strict";
import { checkLayers, importsOf, layerProblems } from "../scripts/check_layers.ts";

const SCRIPT = new URL("../scripts/check_layers.ts", import.meta.url).pathname;
const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** Writes `files` (path → source) under a new temporary directory; returns it. */
async function tree(files: Record<string, string>): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "kvstore-layers-" });
  for (const [path, source] of Object.entries(files)) {
    await Deno.mkdir(`${root}/${path.slice(0, path.lastIndexOf("/"))}`, { recursive: true });
    await Deno.writeTextFile(`${root}/${path}`, source);
  }
  return root;
}

/** Runs the real script on `root` (as `deno task check` does); exit code and stderr. */
async function runCheck(root: string, extra: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--allow-read", SCRIPT, "--root", root, ...extra],
    stdin: "null",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test("check_layers: a planted back import between two folders fails naming a file on each side; removing it passes", async () => {
  const root = await tree({
    "lib/store/table.ts": 'import { Clock } from "../time/clock.ts";\nexport const table = Clock;\n',
    "lib/time/clock.ts":
      'import { table } from "../store/table.ts"; // the planted back import\nexport const Clock = 1;\n',
    "lib/top.ts": 'import { table } from "./store/table.ts";\n',
  });
  try {
    const bad = await runCheck(root);
    assert.equal(bad.code, 1);
    assert.equal(
      bad.stderr.trim(),
      "layers: lib/store <-> lib/time: lib/store/table.ts imports lib/time/clock.ts, " +
        "and lib/time/clock.ts imports lib/store/table.ts",
    );
    await Deno.writeTextFile(`${root}/lib/time/clock.ts`, "export const Clock = 1;\n");
    const good = await runCheck(root);
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /layers: one-way \(2 imports under lib\/; 0 known back edges allowed\)/);
    assert.equal(good.stderr, "");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("check_layers: a cycle through three folders (no two-way pair) and lib/ importing scripts/ both fail", () => {
  const problems = layerProblems([
    { from: "lib/a/x.ts", to: "lib/b/y.ts" },
    { from: "lib/b/y.ts", to: "lib/c/z.ts" },
    { from: "lib/c/z.ts", to: "lib/a/w.ts" },
    { from: "lib/d.ts", to: "scripts/bench.ts" },
  ]);
  assert.deepEqual(problems, [
    "lib -> scripts: lib/d.ts imports scripts/bench.ts (lib/ must not depend on scripts/)",
    "cycle lib/a -> lib/b -> lib/c -> lib/a: lib/a/x.ts imports lib/b/y.ts",
    "cycle lib/b -> lib/c -> lib/a -> lib/b: lib/b/y.ts imports lib/c/z.ts",
    "cycle lib/c -> lib/a -> lib/b -> lib/c: lib/c/z.ts imports lib/a/w.ts",
  ]);
});

Deno.test("check_layers: an allow-listed edge is ignored, a new cycle still fails, a stale entry fails", async () => {
  const root = await tree({
    "lib/a/x.ts": 'import "../b/y.ts";\n',
    "lib/b/y.ts": 'import "../a/x.ts";\n',
    "allow.txt": "# known\nlib/b -> lib/a: planted for the test\n",
  });
  try {
    assert.equal((await runCheck(root, ["--allow", `${root}/allow.txt`])).code, 0);
    // A new cycle next to the allowed one.
    await Deno.writeTextFile(`${root}/lib/b/z.ts`, 'export { q } from "../c/q.ts";\n');
    await Deno.mkdir(`${root}/lib/c`);
    await Deno.writeTextFile(`${root}/lib/c/q.ts`, 'import type { T } from "../b/y.ts";\nexport const q = 1;\n');
    const cycle = await runCheck(root, ["--allow", `${root}/allow.txt`]);
    assert.equal(cycle.code, 1);
    assert.match(
      cycle.stderr,
      /lib\/b <-> lib\/c: lib\/b\/z\.ts imports lib\/c\/q\.ts, and lib\/c\/q\.ts imports lib\/b\/y\.ts/,
    );
    // The allowed cycle is gone: its entry must go too.
    await Deno.remove(`${root}/lib/c`, { recursive: true });
    await Deno.remove(`${root}/lib/b/z.ts`);
    await Deno.writeTextFile(`${root}/lib/b/y.ts`, "export {};\n");
    const stale = await runCheck(root, ["--allow", `${root}/allow.txt`]);
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /allow\.txt:2: "lib\/b -> lib\/a" is allowed but no file imports that way any more/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("check_layers: imports are read from statements, not from JSDoc examples; multi-line, type, dynamic", () => {
  const source = [
    "/**",
    " * @example",
    " * ```ts",
    ' * import { StaticMembers } from "../peers.ts";',
    " * ```",
    " */",
    "import {",
    "  a,",
    "  type B,",
    '} from "./a.ts";',
    'import type { C } from "../c/c.ts";',
    'import D, { e } from "./d.ts";',
    'import * as f from "./f.ts";',
    'import json from "../../deno.json" with { type: "json" };',
    'export * from "./g.ts";',
    'export { h } from "./h.ts";',
    'const later = await import("./i.ts");',
    'const text = "not an import from \\"./j.ts\\"";',
  ].join("\n");
  assert.deepEqual(importsOf(source), [
    "./a.ts",
    "../c/c.ts",
    "./d.ts",
    "./f.ts",
    "../../deno.json",
    "./g.ts",
    "./h.ts",
    "./i.ts",
  ]);
});

Deno.test("check_layers: today's tree is one-way with no allowed exceptions", async () => {
  const { problems, allowed } = await checkLayers(REPO);
  assert.deepEqual(problems, []);
  assert.deepEqual(allowed, [], "scripts/layer_cycles_allowed.txt lists no exception");
});
