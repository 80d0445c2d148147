import assert from "node:assert/strict";
import { formatFleet, parseFleet } from "../lib/config/fleet_file.ts";
import { quickParseFleet } from "../lib/config/fleet_quick.ts";
import { readFleet } from "../lib/config/fleet_read.ts";
import { ConfigError } from "../lib/config/fleet_config.ts";
import { seededRandom } from "../lib/base/random.ts";

const KEY = "ab".repeat(32);
const KEY2 = "0F".repeat(16);
const ADMIN = btoa("k".repeat(32));

/** Fleet files in the plain form, as people, `deno task cluster` and the tests write them. */
const PLAIN = [
  await Deno.readTextFile(new URL("../nodes.yaml", import.meta.url)),
  "nodes:\n  - 127.0.0.1:4000\n",
  "nodes: [127.0.0.1:4000, 127.0.0.1:4001]\n",
  `name: scale\npreset: lan\nclusterKey: "${KEY}"\nmonitor:\n  url: http://127.0.0.1:8080\nnodes:\n  - 127.0.0.1:4000\n`,
  `clusterKey: ["${KEY}", "${KEY2}"]\nadminPublicKey: ${ADMIN}\nnodes:\n  - 127.0.0.1:4000\n  - '[::1]:4001'\n`,
  `# comment\nname: 'my fleet' # trailing\nreplication: { n: 5, w: 3, r: 3, virtualNodes: 64 }\nnodes:\n- 127.0.0.1:4000\n`,
  "replication:\n  n: 1\n  w: 1\n  r: 1\n  replicaTimeoutMs: 250\nnodes:\n  - 10.0.0.1:4000\n",
  "destructiveCommandsFrom: [loopback, 10.0.0.0/8]\ntrustedClients:\n  - none\nframeWindowMs: 60000\nnodes: [h:1]\r\n",
  'monitor: { url: http://10.1.1.1:9000/, udp: 10.1.1.1:9001 }\nnodes: ["a.example:4000"]\n',
  formatFleet({ name: "local", clusterKey: KEY, nodes: ["127.0.0.1:4000", "127.0.0.1:4001"] }, "written by a test"),
  formatFleet({ clusterKey: [KEY, KEY2], preset: "wan", replication: { n: 3, w: 2, r: 2 }, nodes: ["127.0.0.1:4000"] }),
];

/** Files the quick reader must leave to the full parser (valid or not). */
const OTHER = [
  "",
  "# only a comment\n",
  "nodes: &a [127.0.0.1:4000]\n",
  "nodes:\n  - 127.0.0.1:4000\n    - 127.0.0.1:4001\n",
  "name: |\n  x\nnodes: [a:1]\n",
  'name: "a\\"b"\nnodes: [a:1]\n',
  "name: 1.5\nnodes: [a:1]\n",
  "name: null\nnodes: [a:1]\n",
  "name: true\nnodes: [a:1]\n",
  "nodes: [a:1]\nnodes: [b:1]\n",
  "nodes: [a:1]\ninternalAddresses:\n  a:1: 4100\n",
  "nodes:\n\t- a:1\n",
  "nodes: []\n",
  "nodes: [a:1]\nreplication: { n: 2, w: 3 }\n",
  "nodes: [a:1]\nfrobnicate: 1\n",
  "nodes: [a:1]\npreset: moon\n",
  "nodes: [not-an-address]\n",
  "nodes: [a:1]\nframeWindowMs: 0x10\n",
  "---\nnodes: [a:1]\n",
  "nodes: [a:1, [b:1]]\n",
  "nodes:\n  - a:1\nname:\n",
  "nodes: [h:1]\r", // a lone carriage return ends no line for yaml (found by the mutation test)
];

/** What `parseFleet` makes of `text`: the config, or the error. */
function full(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: parseFleet(text, "nodes.yaml") };
  } catch (e) {
    assert.ok(e instanceof ConfigError, `parseFleet threw ${e}`);
    return { ok: false, error: e.message };
  }
}

/** The invariant: the quick reader gives up, or yields exactly what the full parser yields. */
function assertAgrees(text: string): boolean {
  const quick = quickParseFleet(text);
  if (quick === undefined) return false;
  const f = full(text);
  assert.ok(f.ok, `the quick reader accepted what parseFleet refuses (${!f.ok && f.error}):\n${text}`);
  assert.deepEqual(quick, f.value, `the quick reader differs from parseFleet on:\n${text}`);
  assert.equal(JSON.stringify(quick), JSON.stringify(f.value), "same fields in the same order");
  return true;
}

Deno.test("the quick reader reads the plain fleet files exactly as parseFleet does", () => {
  for (const text of PLAIN) assert.ok(assertAgrees(text), `not read quickly:\n${text}`);
});

Deno.test("the quick reader leaves every other file to parseFleet", () => {
  for (const text of OTHER) assert.equal(quickParseFleet(text), undefined, `read quickly:\n${text}`);
});

Deno.test("the quick reader never disagrees with parseFleet on mutated fleet files", () => {
  const random = seededRandom(24);
  const alphabet = ` \n:-#[]{},"'&*!|>0123456789abcdefxyz.@/\t${KEY.slice(0, 4)}`;
  let quick = 0;
  const cases = 4_000;
  for (let i = 0; i < cases; i++) {
    let text = PLAIN[Math.floor(random() * PLAIN.length)];
    for (let edits = 1 + Math.floor(random() * 3); edits > 0; edits--) {
      const at = Math.floor(random() * (text.length + 1));
      const kind = random();
      const c = alphabet[Math.floor(random() * alphabet.length)];
      if (kind < 0.4) text = text.slice(0, at) + c + text.slice(at);
      else if (kind < 0.8) text = text.slice(0, at) + text.slice(at + 1);
      else text = text.slice(0, at) + c + text.slice(at + 1);
    }
    if (assertAgrees(text)) quick++;
  }
  // Both outcomes occur, so the comparison above was exercised.
  assert.ok(quick > cases / 20 && quick < cases, `quickly read ${quick} of ${cases}`);
});

Deno.test("readFleet reads plain files quickly and others through parseFleet, with its errors", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/plain.yaml`, PLAIN[3]);
    await Deno.writeTextFile(`${dir}/anchor.yaml`, OTHER[2]);
    await Deno.writeTextFile(`${dir}/bad.yaml`, "nodes:\n  - 127.0.0.1:4000\n  - not-an-address\n");
    assert.deepEqual(await readFleet(`${dir}/plain.yaml`), parseFleet(PLAIN[3], "x"));
    assert.deepEqual((await readFleet(`${dir}/anchor.yaml`)).nodes, ["127.0.0.1:4000"]);
    await assert.rejects(readFleet(`${dir}/bad.yaml`), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /bad\.yaml: line 3 .*"nodes\.1".*host:port/);
      return true;
    });
    await assert.rejects(readFleet(`${dir}/none.yaml`), /Cannot read .*none\.yaml: no such file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
