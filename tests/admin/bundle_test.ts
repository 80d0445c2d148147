/** The bundle of `deno task bundle` (what `kvctl upgrade` pushes): its version string. */
import assert from "node:assert/strict";
import { setBundleVersion } from "../../scripts/bundle.ts";

Deno.test("bundle version: replaced once, refused when the marker is missing or repeated", () => {
  const text = 'x\nvar deno_default = {\n  name: "@kvstore/kvstore",\n  version: "0.1.0",\n  exports: "./mod.ts"';
  assert.match(setBundleVersion(text, "0.2.0-rc1"), /version: "0\.2\.0-rc1",/);
  assert.throws(() => setBundleVersion("no marker", "1"), /found it 0 times/);
  assert.throws(() => setBundleVersion(text + text, "1"), /found it 2 times/);
  // In a module main.ts loads lazily, the bundler assigns it inside the module's init function.
  const lazy =
    'var deno_default;\n  "deno.json"() {\n    deno_default = {\n      name: "@kvstore/kvstore",\n      version: "0.1.0",';
  assert.match(
    setBundleVersion(lazy, "0.2.0"),
    /deno_default = \{\n\s+name: "@kvstore\/kvstore",\n\s+version: "0\.2\.0",/,
  );
});
