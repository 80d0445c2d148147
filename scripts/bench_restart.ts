/**
 * `deno task bench:restart`: how long a durable node takes to serve again after a restart.
 * Writes N keys (100 B values) into a fresh data dir through the node's own log, then starts
 * `kvstore node --data-dir DIR` as a real process, times it until it listens and until a key
 * written last reads back, and reports the log's size.
 *
 * @module
 */
import { parseFlags, parseInteger, runCli } from "../lib/base/cli_args.ts";
import { KVClient } from "../lib/client/client.ts";
import { LogPersistence } from "../lib/storage/log_persistence.ts";
import { freeUdpPorts, startNodeProcess } from "../lib/roles/process_launcher.ts";
import { MemoryStore } from "../lib/storage/store.ts";

/** Help text. */
export const RESTART_HELP = `Usage: deno task bench:restart [--keys N] [--starts N]

Writes N keys of 100 B into a data dir, then restarts a node on it and times how
long it takes to listen and to answer a get (default 1000000 keys, 3 starts).
`;

/** Writes `keys` keys of `valueBytes` into a log in `dir`, committing every 1,000 like a busy node. */
export function fillDataDir(dir: string, keys: number, valueBytes = 100): void {
  const store = new MemoryStore(2 ** 40);
  const log = LogPersistence.open(dir, "off");
  log.loadInto(store);
  store.listener = log;
  const key = new Uint8Array(32), value = new Uint8Array(valueBytes).fill(0x61);
  const view = new DataView(key.buffer);
  for (let i = 0; i < keys; i++) {
    view.setUint32(0, i);
    store.force(key, { value, version: { t: (Date.now() * 1024) + i, n: "127.0.0.1:4000" }, tombstone: false });
    if (i % 1_000 === 999) log.commit();
  }
  log.close();
}

async function main(args: string[]): Promise<number> {
  const { values } = parseFlags("bench:restart", args, { keys: { type: "string" }, starts: { type: "string" } });
  if (values.help) {
    console.log(RESTART_HELP);
    return 0;
  }
  const keys = values.keys ? parseInteger(values.keys, "--keys", 1) : 1_000_000;
  const starts = values.starts ? parseInteger(values.starts, "--starts", 1, 20) : 3;
  const dir = await Deno.makeTempDir({ prefix: "kvstore-restart-" });
  try {
    const t0 = performance.now();
    fillDataDir(dir, keys);
    let bytes = 0;
    for (const e of Deno.readDirSync(dir)) bytes += Deno.statSync(`${dir}/${e.name}`).size;
    console.log(
      `wrote ${keys.toLocaleString("en-US")} keys (${(bytes / 2 ** 20).toFixed(0)} MiB of log) in ${
        ((performance.now() - t0) / 1000).toFixed(1)
      } s`,
    );
    const last = new Uint8Array(32);
    new DataView(last.buffer).setUint32(0, keys - 1);
    for (let i = 0; i < starts; i++) {
      const [port] = freeUdpPorts(1);
      const start = performance.now();
      const node = await startNodeProcess(port, ["--data-dir", dir, "--max-bytes", "4GiB"]);
      const listening = performance.now() - start;
      const client = await KVClient.connect(`127.0.0.1:${port}`, { timeoutMs: 1_000, retries: 3 });
      try {
        const value = await client.get(last);
        const serving = performance.now() - start;
        console.log(
          `start ${i + 1}: listening after ${
            (listening / 1000).toFixed(2)
          } s, the last key (${value.length} B) read after ${(serving / 1000).toFixed(2)} s`,
        );
      } finally {
        client.close();
        await node.stop();
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  return 0;
}

if (import.meta.main) await runCli(() => main(Deno.args));
