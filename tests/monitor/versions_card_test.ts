/** The status page's versions card: which program each node runs, counted during a rollout. */
import assert from "node:assert/strict";
import { programOf, versionMix } from "../../lib/monitoring/server/page.ts";
import type { NodeView } from "../../lib/monitoring/server/view.ts";

Deno.test("status page: the versions card counts each version and build, most common first", () => {
  const view = (version?: string, build?: string) =>
    ({
      stats: {
        ...(version ? { version: { value: version } } : {}),
        ...(build ? { build: { value: build } } : {}),
      },
    }) as unknown as NodeView;
  const views = [view("0.2.0", "a9b04b284d86"), view("0.1.0", "source"), view("0.2.0", "a9b04b284d86"), view()];
  assert.deepEqual(versionMix(views), [["0.2.0 (a9b04b284d86)", 2], ["0.1.0 (source)", 1]]);
  assert.equal(programOf(view("0.1.0")), "0.1.0");
});
