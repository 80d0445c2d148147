import assert from "node:assert/strict";
import { checkLayers, importsOf, layerProblems, parseAllowList, scanImports } from "../scripts/check_layers.ts";
import { parseLayerTable } from "../scripts/layer_order.ts";

const SCRIPT = new URL("../scripts/check_layers.ts", import.meta.url).pathname;
const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** A docs/architecture.md whose layer table lists `folders` top to bottom. */
function layerDoc(...folders: string[]): string {
  return [
    "# Architecture",
    "",
    "## The layers, top to bottom",
    "",
    "| folder | what it holds |",
    "| ------ | ------------- |",
    ...folders.map((f) => `| \`${f}/\` | the ${f} layer |`),
    "",
    "## Next section",
    "",
    "| `stray/` | not a layer row: another section |",
    "",
  ].join("\n");
}

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
    "docs/architecture.md": layerDoc("store", "time"),
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
    assert.match(
      good.stdout,
      /layers: one-way, down the 2-row table \(2 imports under lib\/; 0 known back edges allowed\)/,
    );
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
    "docs/architecture.md": layerDoc("a", "b", "c"),
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

Deno.test("check_layers: an import against the documented order that makes no cycle fails (client -> node, monitoring -> membership)", async () => {
  // The real table of docs/architecture.md is the input; the planted imports close no cycle.
  const root = await tree({
    "docs/architecture.md": await Deno.readTextFile(`${REPO}/docs/architecture.md`),
    "lib/node/n.ts": 'import "../wire/w.ts";\nexport const n = 1;\n',
    "lib/wire/w.ts": "export const w = 1;\n",
    "lib/client/c.ts": 'import { n } from "../node/n.ts";\nexport const c = n;\n',
    "lib/membership/s.ts": "export const s = 1;\n",
    "lib/monitoring/m.ts": 'import { s } from "../membership/s.ts";\nexport const m = s;\n',
  });
  try {
    const bad = await runCheck(root);
    assert.equal(bad.code, 1);
    const doc = `${root}/docs/architecture.md`;
    assert.deepEqual(bad.stderr.trim().split("\n"), [
      `layers: lib/client -> lib/node: lib/client/c.ts imports lib/node/n.ts, but lib/node is above lib/client in ${doc}`,
      `layers: lib/monitoring -> lib/membership: lib/monitoring/m.ts imports lib/membership/s.ts, but lib/membership is above lib/monitoring in ${doc}`,
    ]);
    // The same imports the other way round follow the table.
    await Deno.writeTextFile(`${root}/lib/client/c.ts`, "export const c = 1;\n");
    await Deno.writeTextFile(`${root}/lib/node/n.ts`, 'import { c } from "../client/c.ts";\nexport const n = c;\n');
    await Deno.writeTextFile(`${root}/lib/monitoring/m.ts`, "export const m = 1;\n");
    await Deno.writeTextFile(
      `${root}/lib/membership/s.ts`,
      'import { m } from "../monitoring/m.ts";\nexport const s = m;\n',
    );
    const good = await runCheck(root);
    assert.equal(good.code, 0, good.stderr);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("check_layers: a folder missing from the table, a missing table, and the real tree plus one planted edge", async () => {
  const order = { folders: ["lib/node", "lib/wire"], file: "arch.md" };
  assert.deepEqual(layerProblems([{ from: "lib/node/n.ts", to: "lib/extra/e.ts" }], [], order), [
    "lib/extra: not in the layer table of arch.md; add a row where it belongs",
  ]);
  // An allowed back edge is needed while it goes against the order, even with no cycle.
  const allowed = parseAllowList("lib/wire -> lib/node: planted", "allow.txt");
  assert.deepEqual(layerProblems([{ from: "lib/wire/w.ts", to: "lib/node/n.ts" }], allowed, order), []);
  const root = await tree({ "lib/a/x.ts": "export {};\n" });
  try {
    const missing = await runCheck(root);
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /docs\/architecture\.md does not exist: the layer order is its table; pass --order FILE/,
    );
    await Deno.mkdir(`${root}/docs`);
    await Deno.writeTextFile(`${root}/docs/architecture.md`, "# Architecture\n");
    assert.match((await runCheck(root)).stderr, /no "## The layers, top to bottom" section/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
  // Today's imports with one planted edge against the table (client -> node: node never reaches client, no cycle).
  const imports = await scanImports(REPO);
  const folders = parseLayerTable(await Deno.readTextFile(`${REPO}/docs/architecture.md`), "architecture.md");
  assert.deepEqual(layerProblems(imports, [], { folders, file: "architecture.md" }), []);
  const planted = [...imports, { from: "lib/client/client.ts", to: "lib/node/kv_node.ts" }];
  assert.deepEqual(layerProblems(planted, [], { folders, file: "architecture.md" }), [
    "lib/client -> lib/node: lib/client/client.ts imports lib/node/kv_node.ts, but lib/node is above lib/client in architecture.md",
  ]);
});

Deno.test("check_layers: today's tree is one-way with no allowed exceptions", async () => {
  const { problems, allowed } = await checkLayers(REPO);
  assert.deepEqual(problems, []);
  assert.deepEqual(allowed, [], "scripts/layer_cycles_allowed.txt lists no exception");
});
