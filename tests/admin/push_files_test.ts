/**
 * Pushed files: targets stay inside the admin directory, and the manifest (pieces and chunk hashes)
 * streamed from a file equals the one built in memory.
 */
import assert from "node:assert/strict";
import { pieceCount } from "../../lib/admin/command.ts";
import { normalizePath, resolveTarget } from "../../lib/admin/paths.ts";
import { buildManifest, manifestOfBytes } from "../../lib/admin/manifest.ts";
import { randomBytes, seededRandom } from "../../lib/base/random.ts";

Deno.test("push targets stay inside the admin directory", () => {
  assert.equal(normalizePath("/a/./b//c/../d"), "/a/b/d");
  assert.equal(resolveTarget("/srv/kv", "bin/node"), "/srv/kv/bin/node");
  assert.equal(resolveTarget("/srv/kv/", "/srv/kv/x"), "/srv/kv/x");
  assert.equal(resolveTarget("data", "x/y"), "data/x/y");
  for (const bad of ["../etc/passwd", "a/../../x", "/etc/passwd", "/srv/kvx/a", "/srv/kv", "."]) {
    assert.throws(() => resolveTarget("/srv/kv", bad), /refused/, bad);
  }
});

Deno.test("manifest: streamed from a file equals the in-memory one; pieces cover every chunk hash", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const size of [0, 1, 1024, 1025, 100 * 1024 + 7, 2 * 1024 * 1024 + 3]) {
      const bytes = randomBytes(seededRandom(size), size);
      await Deno.writeFile(`${dir}/f`, bytes);
      const a = await buildManifest(`${dir}/f`, 1024);
      const b = manifestOfBytes(bytes, 1024);
      assert.deepEqual(a.spec, b.spec, `size ${size}`);
      assert.equal(a.spec.pieces.length, pieceCount(size, 1024));
      assert.equal(a.pieces.reduce((n, p) => n + p.length, 0), Math.ceil(size / 1024) * 32);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
