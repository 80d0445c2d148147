/**
 * Acceptance tests of the epidemic admin with real node processes on UDP,
 * a real monitor (in this process) and kvctl in a child process.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createCommand } from "../../lib/admin/client.ts";
import { signCommand, type SignedCommand } from "../../lib/admin/command.ts";
import { AdminCommand } from "../../lib/admin/protocol.ts";
import { waitUntil } from "../support/real_time.ts";
import type { ProcessCluster } from "../support/process_cluster.ts";
import { processGone } from "../support/child_processes.ts";
import { linesOf, startAdminCluster } from "./admin_processes.ts";

const WRITE_ID = `echo "$KVSTORE_NODE" >> "$KVSTORE_ADMIN_DIR/ran.txt"; echo "ran on $KVSTORE_NODE"`;

async function statsOf(c: ProcessCluster): Promise<Record<string, number>[]> {
  return await Promise.all(c.addresses.map(async (a) => {
    const s = await c.admin.stats(a);
    assert.ok(s, `${a} answers admin stats`);
    return s;
  }));
}

async function finalResults(c: ProcessCluster, id: string, n: number, timeoutMs: number) {
  let results: Awaited<ReturnType<ProcessCluster["commandResults"]>> = null;
  await waitUntil(async () => {
    results = await c.commandResults(id);
    return results !== null && results.filter((r) => !["running", "fetching"].includes(r.status)).length === n;
  }, { timeoutMs, what: `${n} final results for ${id} on the monitor` });
  return results!;
}

Deno.test({
  name: "5 node processes with --allow-run: run once everywhere, timeouts kill the group, forgeries never run, push",
  sanitizeResources: true,
  sanitizeOps: true,
  async fn(t) {
    const c = await startAdminCluster(5, { allowRun: true });
    try {
      let first: string | undefined;
      await t.step(
        "kvctl run --wait: every node runs the script exactly once; results on the monitor API",
        async () => {
          await Deno.writeTextFile(`${c.dir}/write-id.sh`, WRITE_ID);
          const out = await c.kvctl(["run", "write-id.sh", "--wait", "--config", "nodes.yaml", "--key", "admin.key"]);
          assert.equal(out.code, 0, out.stderr + out.stdout);
          assert.match(out.stderr, /5 of 5 nodes done/);
          assert.match(out.stdout, /5 nodes: 5 ok/);
          first = /command ([0-9a-f]{32})/.exec(out.stderr)?.[1];
          assert.ok(first, "kvctl prints the command id");
          const results = (await c.commandResults(first))!;
          assert.equal(results.length, 5);
          for (const r of results) {
            assert.equal(r.status, "ok");
            assert.equal(r.exitCode, 0);
            assert.equal(r.stdout, `ran on ${r.node}\n`);
            assert.ok(typeof r.durationMs === "number");
          }
          // Let the epidemic finish: every rumor cold, and push-pull rounds run on every node since.
          const pushPulls = (await statsOf(c)).map((s) => s.gossip_pushPulls);
          await waitUntil(async () => {
            const s = await statsOf(c);
            return s.every((x, i) => x.gossip_hot === 0 && x.gossip_pushPulls >= pushPulls[i] + 2);
          }, { timeoutMs: 30_000, what: "rumors to go cold and push-pull rounds to run" });
          const redelivered = (await statsOf(c)).reduce((n, s) => n + s.duplicates, 0);
          assert.ok(redelivered >= 5, `gossip delivered the command again ${redelivered} times`);
          for (let i = 0; i < 5; i++) {
            assert.deepEqual(await linesOf(`${c.adminDirs[i]}/ran.txt`), [c.addresses[i]], `node ${i} ran it once`);
          }
          for (const s of await statsOf(c)) assert.equal(s.executed, 1);
          const page = await (await fetch(`${c.monitorUrl}/admin`)).text();
          assert.ok(page.includes(first) && page.includes(`ran on ${c.addresses[3]}`), "the page shows the results");
        },
      );

      await t.step(
        "a script that leaves a background sleep 600 and exceeds its timeout: the whole group dies",
        async () => {
          const script =
            `sleep 600 & echo $! > "$KVSTORE_ADMIN_DIR/bg.pid"; echo $$ > "$KVSTORE_ADMIN_DIR/main.pid"; ` +
            `sleep 600`;
          const signed = await createCommand(c.privateKey, { run: { script, timeoutMs: 1_500 } });
          await c.admin.submit(signed, [c.addresses[1]]);
          const results = await finalResults(c, signed.c.id, 5, 20_000);
          for (const r of results) {
            assert.equal(r.status, "timeout", `${r.node}: ${JSON.stringify(r)}`);
            assert.ok(r.durationMs! >= 1_500 && r.durationMs! < 10_000, `duration ${r.durationMs}`);
          }
          for (const d of c.adminDirs) {
            const bg = Number((await Deno.readTextFile(`${d}/bg.pid`)).trim());
            const main = Number((await Deno.readTextFile(`${d}/main.pid`)).trim());
            assert.ok(bg > 1 && main > 1);
            await waitUntil(() => processGone(bg), { timeoutMs: 5_000, what: `background sleep ${bg} to die` });
            assert.ok(await processGone(main), `script ${main} died`);
          }
        },
      );

      await t.step("forged, tampered, unsigned, expired and replayed commands: 0 executions", async () => {
        const before = await statsOf(c);
        const now = Date.now();
        const other = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]) as CryptoKeyPair;
        const forged = await createCommand(other.privateKey, { run: { script: WRITE_ID, timeoutMs: 5_000 } });
        const good = await createCommand(c.privateKey, { run: { script: WRITE_ID, timeoutMs: 5_000 } });
        const tampered: SignedCommand = { c: { ...good.c, selector: "127.0.0.1:*" }, s: good.s };
        const unsigned = { c: good.c, s: "" };
        const expired = await signCommand(c.privateKey, {
          ...good.c,
          issuedAt: now - 120_000,
          expiresAt: now - 60_000,
        });
        for (const cmd of [forged, tampered, unsigned, expired]) {
          for (const a of c.addresses) {
            await assert.rejects(c.admin.submit(cmd, [a]), /rejected the command/);
            c.admin.rpc.cast(a, AdminCommand.Rumor, cmd); // as if from a peer
          }
        }
        // Replay of the command every node already ran (as captured off the wire), straight to every node.
        const captured = (await c.admin.rpc.call(c.addresses[0], AdminCommand.Fetch, { id: first })).header;
        assert.equal((captured as SignedCommand).c.id, first);
        for (const a of c.addresses) await c.admin.submit(captured as SignedCommand, [a]);
        await waitUntil(async () => {
          const s = await statsOf(c);
          return s.every((x, i) => x.rejected_signature - before[i].rejected_signature === 4);
        }, { timeoutMs: 10_000, what: "rejections counted on every node" });
        const after = await statsOf(c);
        after.forEach((s, i) => {
          assert.equal(s.rejected_signature - before[i].rejected_signature, 4, "forged + tampered, submit + rumor");
          assert.equal(s.rejected_unsigned - before[i].rejected_unsigned, 2);
          assert.equal(s.rejected_expired - before[i].rejected_expired, 2);
          assert.equal(s.accepted, before[i].accepted, "nothing accepted");
          assert.equal(s.executed, before[i].executed, "nothing executed");
          assert.ok(s.duplicates - before[i].duplicates >= 1, "the replay was seen and dropped");
        });
        for (let i = 0; i < 5; i++) assert.deepEqual(await linesOf(`${c.adminDirs[i]}/ran.txt`), [c.addresses[i]]);
      });

      await t.step("kvctl push of a 20 MiB random binary: byte-identical on all 5 nodes, mode set", async () => {
        const big = new Uint8Array(20 * 1024 * 1024);
        for (let o = 0; o < big.length; o += 65_536) crypto.getRandomValues(big.subarray(o, o + 65_536));
        await Deno.writeFile(`${c.dir}/big.bin`, big);
        const want = createHash("sha256").update(big).digest("hex");
        const t0 = performance.now();
        const out = await c.kvctl([
          "push",
          "big.bin",
          "--to",
          "bin/big.bin",
          "--mode",
          "750",
          "--config",
          "nodes.yaml",
          "--key",
          "admin.key",
        ]);
        const secs = (performance.now() - t0) / 1000;
        assert.equal(out.code, 0, out.stderr + out.stdout);
        for (const d of c.adminDirs) {
          const got = await Deno.readFile(`${d}/bin/big.bin`);
          assert.equal(createHash("sha256").update(got).digest("hex"), want);
          assert.equal((await Deno.stat(`${d}/bin/big.bin`)).mode! & 0o777, 0o750);
        }
        const served = /served (\d+) chunks/.exec(out.stderr)?.[1];
        console.log(
          `  20 MiB to 5 nodes: ${secs.toFixed(1)} s end to end (kvctl start, hashing, transfer, reports), ` +
            `${(100 / secs).toFixed(1)} MiB/s aggregate; kvctl served ${served} of ${5 * 641} chunks`,
        );
        assert.ok(secs < 30, `took ${secs} s`);
      });
    } finally {
      await c.close();
    }
  },
});

Deno.test("5 node processes without --allow-run: nothing runs, every node reports refused", async () => {
  const c = await startAdminCluster(5, { allowRun: false });
  try {
    await Deno.writeTextFile(`${c.dir}/write-id.sh`, WRITE_ID);
    const out = await c.kvctl(["run", "write-id.sh", "--wait", "--config", "nodes.yaml", "--key", "admin.key"]);
    assert.equal(out.code, 1, "kvctl fails when nodes refuse");
    assert.match(out.stdout, /5 nodes: 5 refused/);
    const id = /command ([0-9a-f]{32})/.exec(out.stderr)![1];
    const results = (await c.commandResults(id))!;
    assert.equal(results.length, 5);
    for (const r of results) {
      assert.equal(r.status, "refused");
      assert.equal(r.message, "refused: started without --allow-run");
    }
    for (const d of c.adminDirs) assert.deepEqual(await linesOf(`${d}/ran.txt`), []);
    for (const a of c.addresses) {
      const s = (await c.admin.stats(a))!;
      assert.equal(s.executed, 0);
      assert.equal(s.refused, 1);
    }
  } finally {
    await c.close();
  }
});
