import assert from "node:assert/strict";
import { clusterKeysOf, ConfigError, parseFleet } from "../lib/config/fleet_file.ts";
import { freeUdpPorts, RoleProcess } from "../lib/roles/process_launcher.ts";
import { fleetKeyring, insecureClusterError, newClusterKey } from "../lib/wire/fleet_auth.ts";
import { exitsWithin } from "./support/child_processes.ts";

const A = "127.0.0.1:4000", B = "127.0.0.1:4001";

Deno.test("fleet file: clusterKey is one key or a list (the first signs); bad entries name their line", () => {
  const one = parseFleet(`clusterKey: "${"ab".repeat(32)}"\nnodes: [${A}]\n`, "nodes.yaml");
  assert.deepEqual(clusterKeysOf(one), ["ab".repeat(32)]);
  const two = parseFleet(
    `clusterKey:\n  - "${"cd".repeat(32)}"\n  - "${"ab".repeat(32)}"\nnodes: [${A}]\n`,
    "nodes.yaml",
  );
  assert.deepEqual(clusterKeysOf(two), ["cd".repeat(32), "ab".repeat(32)]);
  assert.equal(fleetKeyring(two)?.size, 2);
  assert.equal(fleetKeyring(parseFleet(`nodes: [${A}]\n`, "nodes.yaml")), undefined);
  assert.throws(
    () => parseFleet(`nodes: [${A}]\nclusterKey:\n  - "${"cd".repeat(32)}"\n  - "abc"\n`, "nodes.yaml"),
    (e) => e instanceof ConfigError && /line 4 \(at "clusterKey.1"\)/.test(e.message) && /hex digits/.test(e.message),
  );
  assert.throws(() => parseFleet(`nodes: [${A}]\nclusterKey: []\n`, "nodes.yaml"), ConfigError);
});

Deno.test("a node with peers and no cluster key is refused unless --insecure; a lone node is fine", () => {
  const noKey = parseFleet(`nodes: [${A}, ${B}]\n`, "nodes.yaml");
  assert.match(insecureClusterError(noKey, A, [], false) ?? "", /no clusterKey.*--insecure/);
  assert.equal(insecureClusterError(noKey, A, [], true), undefined);
  assert.equal(insecureClusterError(undefined, A, [], false), undefined, "no fleet file, no seeds");
  assert.equal(insecureClusterError(parseFleet(`nodes: [${A}]\n`, "f"), A, [], false), undefined, "only itself");
  assert.match(insecureClusterError(undefined, A, [B], false) ?? "", /127\.0\.0\.1:4001/, "a --seed is a peer");
  const keyed = parseFleet(`clusterKey: "${newClusterKey()}"\nnodes: [${A}, ${B}]\n`, "nodes.yaml");
  assert.equal(insecureClusterError(keyed, A, [], false), undefined);
});

Deno.test("node process: refuses an unkeyed cluster with one clear line and exit 2; --insecure starts and warns", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kvstore-insecure-" });
  const [port, other] = freeUdpPorts(2);
  try {
    await Deno.writeTextFile(`${dir}/nodes.yaml`, `nodes:\n  - 127.0.0.1:${port}\n  - 127.0.0.1:${other}\n`);
    const refused = new RoleProcess("refused", "node", ["--port", String(port), "--config", `${dir}/nodes.yaml`]);
    const status = await exitsWithin(refused);
    assert.equal(status.code, 2);
    const text = refused.output.join("\n");
    assert.match(text, /no clusterKey/);
    assert.doesNotMatch(text, / {4}at /, "no stack trace");
    const insecure = new RoleProcess("insecure", "node", [
      "--port",
      String(port),
      "--config",
      `${dir}/nodes.yaml`,
      "--insecure",
    ]);
    try {
      await insecure.waitFor(/listening on udp/);
      await insecure.waitFor(/WARNING: --insecure/);
    } finally {
      await insecure.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
