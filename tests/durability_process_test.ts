/**
 * Durable mode on real node processes: kill -9 under load loses no acknowledged put under any
 * fsync policy; an unwritable data dir is one clear error at start; a full disk answers 0x02,
 * never crashes, and never acknowledges what it did not store. (The last two mount small
 * filesystems, so they run as root, as CI does.)
 */
import assert from "node:assert/strict";
import { KVClient } from "../lib/client/client.ts";
import { OutOfSpaceError } from "../lib/client/errors.ts";
import { freeUdpPorts, RoleProcess, startNodeProcess } from "../lib/roles/process_launcher.ts";
import { FSYNC_POLICIES } from "../lib/storage/durability.ts";
import { exitsWithin } from "./support/child_processes.ts";
import { waitUntil } from "./support/real_time.ts";

const isRoot = Deno.uid() === 0;

async function run(cmd: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
}

/** Puts from `workers` clients until `stop`; returns the keys whose put was acknowledged. */
function loadUntil(address: string, workers: number, stop: () => boolean, value = "v".repeat(100)) {
  const acked: string[] = [];
  const done = Promise.all(Array.from({ length: workers }, async (_, w) => {
    const c = await KVClient.connect(address, { timeoutMs: 100, retries: 1 });
    try {
      for (let i = 0; !stop(); i++) {
        try {
          await c.put(`w${w}-${i}`, value);
          acked.push(`w${w}-${i}`);
        } catch { /* the node died or refused: not acknowledged */ }
      }
    } finally {
      c.close();
    }
  }));
  return { acked, done };
}

async function missing(address: string, keys: string[]): Promise<string[]> {
  const c = await KVClient.connect(address, { timeoutMs: 200, retries: 5 });
  try {
    const out: string[] = [];
    for (const k of keys) {
      try {
        await c.get(k);
      } catch (e) {
        out.push(`${k} (${(e as Error).name})`);
      }
    }
    return out;
  } finally {
    c.close();
  }
}

for (const fsync of FSYNC_POLICIES) {
  Deno.test(`--data-dir --fsync ${fsync}: kill -9 under load, restart: every acknowledged put is there`, async () => {
    const dir = await Deno.makeTempDir({ prefix: `kvstore-durable-${fsync}-` });
    const [port] = freeUdpPorts(1);
    const address = `127.0.0.1:${port}`;
    try {
      const node = await startNodeProcess(port, ["--data-dir", dir, "--fsync", fsync]);
      let stop = false;
      const load = loadUntil(address, 8, () => stop);
      await waitUntil(() => load.acked.length >= 2_000, { timeoutMs: 60_000, what: "2,000 acknowledged puts" });
      await node.stop("SIGKILL"); // mid-load: puts in flight are lost, acknowledged ones must not be
      stop = true;
      await load.done;
      const again = await startNodeProcess(port, ["--data-dir", dir, "--fsync", fsync]);
      try {
        const lost = await missing(address, load.acked);
        console.log(
          `  ${fsync}: ${load.acked.length} acknowledged before kill -9, ${lost.length} missing after restart`,
        );
        assert.deepEqual(lost.slice(0, 5), [], `${lost.length} acknowledged puts lost`);
      } finally {
        await again.stop();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test({
  name: "--data-dir on a read-only filesystem: one clear error at start, non-zero exit",
  ignore: !isRoot,
  fn: async () => {
    const mnt = await Deno.makeTempDir({ prefix: "kvstore-ro-" });
    await run("mount", "-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", mnt);
    try {
      const [port] = freeUdpPorts(1);
      const p = new RoleProcess("ro", "node", ["--port", String(port), "--data-dir", `${mnt}/data`]);
      const status = await exitsWithin(p, 10_000);
      assert.notEqual(status.code, 0);
      const text = p.output.join("\n");
      assert.match(text, /Cannot use data dir .*data: .*Read-only file system.*check that it exists and is writable/);
      assert.doesNotMatch(text, / {4}at /, "no stack trace");
    } finally {
      await run("umount", mnt);
      await Deno.remove(mnt);
    }
  },
});

Deno.test({
  name: "--data-dir on a full disk: 0x02 with the reason logged once, still serving, nothing acknowledged is lost",
  ignore: !isRoot,
  fn: async () => {
    const mnt = await Deno.makeTempDir({ prefix: "kvstore-tiny-" });
    await run("mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", mnt);
    const [port] = freeUdpPorts(1);
    const address = `127.0.0.1:${port}`;
    try {
      const node = await startNodeProcess(port, ["--data-dir", `${mnt}/data`]);
      const c = await KVClient.connect(address, { timeoutMs: 300, retries: 3 });
      const acked: string[] = [];
      let full = 0;
      try {
        for (let i = 0; i < 300; i++) {
          try {
            await c.put(`k${i}`, "x".repeat(2_000));
            acked.push(`k${i}`);
          } catch (e) {
            assert.ok(e instanceof OutOfSpaceError, `put ${i}: ${e}`);
            full++;
          }
        }
        assert.ok(acked.length > 0 && full > 0, `${acked.length} stored, ${full} refused`);
        assert.ok(await c.isAlive(), "the node still serves");
      } finally {
        c.close();
      }
      assert.equal(node.output.filter((l) => /cannot store writes/.test(l)).length, 1, "the reason, once");
      await node.stop("SIGKILL");
      const again = await startNodeProcess(port, ["--data-dir", `${mnt}/data`]);
      try {
        assert.deepEqual(await missing(address, acked), [], "every acknowledged put survived");
      } finally {
        await again.stop();
      }
    } finally {
      await run("umount", mnt);
      await Deno.remove(mnt);
    }
  },
});
