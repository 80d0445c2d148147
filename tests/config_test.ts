import assert from "node:assert/strict";
import { ConfigError, formatFleet, loadFleet, parseFleet } from "../lib/config/fleet_file.ts";
import { parseDuration, parseSize, UsageError } from "../lib/base/cli_args.ts";
import { hexKey, toKey } from "../lib/client/keys.ts";
import { formatAddress, parseAddress } from "../lib/net/transport.ts";

Deno.test("a valid fleet file gets defaults", () => {
  const cfg = parseFleet("nodes:\n  - 127.0.0.1:4000\n  - '[::1]:4001'\n", "nodes.yaml");
  assert.deepEqual(cfg.nodes, ["127.0.0.1:4000", "[::1]:4001"]);
  assert.equal(cfg.preset, "lan");
  assert.deepEqual(cfg.replication, { n: 3, w: 2, r: 2 });
});

Deno.test("the example nodes.yaml in the repository is valid", async () => {
  const cfg = await loadFleet(new URL("../nodes.yaml", import.meta.url).pathname);
  assert.ok(cfg.nodes.length >= 1);
});

const bad: [string, RegExp][] = [
  ["nodes:\n  - 127.0.0.1:4000\n  - not-an-address\n", /nodes\.yaml: line 3 .*"nodes\.1".*host:port/],
  ["nodez: []\nnodes: [a:1]\n", /line 1.*unknown field "nodez"/],
  ["name: x\n", /missing required field "nodes"/],
  ["nodes: [\n", /Cannot parse nodes\.yaml: line \d+/],
  [
    "nodes: [a:1]\nreplication:\n  n: 3\n  w: 4\n",
    /line 2 .*replication.*(w and r must not exceed n|less than or equal)/,
  ],
  ["nodes: [a:1]\npreset: moon\n", /line 2 .*"preset"/],
  ["", /the file is empty/],
];
for (const [text, pattern] of bad) {
  Deno.test(`a bad fleet file gives one clear message: ${pattern.source}`, () => {
    assert.throws(() => parseFleet(text, "nodes.yaml"), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, pattern);
      return true;
    });
  });
}

Deno.test("a missing fleet file says so and what to do", async () => {
  await assert.rejects(
    loadFleet("/nonexistent/nodes.yaml"),
    /Cannot read \/nonexistent\/nodes\.yaml: no such file; pass --config/,
  );
});

Deno.test("sizes, durations and addresses parse or fail clearly", () => {
  assert.equal(parseSize("64MiB", "--max-bytes"), 64 * 1024 * 1024);
  assert.equal(parseSize("1000", "--max-bytes"), 1000);
  assert.throws(() => parseSize("lots", "--max-bytes"), UsageError);
  assert.equal(parseDuration("250ms", "--t"), 250);
  assert.equal(parseDuration("1.5s", "--t"), 1500);
  assert.throws(() => parseDuration("soon", "--t"), /not a duration/);
  assert.deepEqual(parseAddress("[::1]:80"), { hostname: "::1", port: 80 });
  assert.equal(formatAddress("::1", 80), "[::1]:80");
  assert.throws(() => parseAddress("host"), /expected host:port/);
  assert.throws(() => parseAddress("h:70000"), /must be 1-65535/);
});

Deno.test("keys: text is UTF-8 zero-padded to 32 bytes; longer is refused", () => {
  const k = toKey("ab");
  assert.equal(k.length, 32);
  assert.deepEqual([...k.subarray(0, 3)], [97, 98, 0]);
  assert.throws(() => toKey("x".repeat(33)), /at most 32 bytes/);
  assert.deepEqual(hexKey("ff01")[1], 1);
  assert.throws(() => hexKey("f".repeat(66)), /at most 64/);
  assert.throws(() => hexKey("zz"), /Invalid hex/);
});

Deno.test("formatFleet writes only the given fields, round-trips through parseFleet, and refuses invalid fields", () => {
  const text = formatFleet({
    name: "local",
    monitor: { url: "http://127.0.0.1:8080" },
    clusterKey: "ab".repeat(32),
    replication: { n: 3, w: 2, r: 2 },
    nodes: ["127.0.0.1:4000", "[::1]:4001"],
  }, "Written by a test");
  assert.match(text, /^# Written by a test\n/);
  assert.doesNotMatch(text, /preset/, "absent fields stay absent (defaults apply when read)");
  const cfg = parseFleet(text, "nodes.yaml");
  assert.equal(cfg.name, "local");
  assert.equal(cfg.monitor?.url, "http://127.0.0.1:8080");
  assert.equal(cfg.clusterKey, "ab".repeat(32));
  assert.deepEqual(cfg.nodes, ["127.0.0.1:4000", "[::1]:4001"]);
  assert.equal(cfg.preset, "lan");
  assert.throws(
    () => formatFleet({ nodes: ["not-an-address"] }),
    (e) => e instanceof TypeError && /nodes\.0/.test(e.message),
  );
  assert.throws(() => formatFleet({ nodes: [] }), /nodes/);
});
