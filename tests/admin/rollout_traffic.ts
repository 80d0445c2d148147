/**
 * The traffic of the rolling-restart process tests: acknowledged keys, a reader
 * that keeps reading them through every node with the normal client retry
 * schedule while a rollout runs, the check that no key was lost, and the pid
 * a node answers (a new one after its restart).
 *
 * @module
 */
import { KVClient } from "../../lib/client/client.ts";
import { KeyNotFoundError } from "../../lib/client/errors.ts";

const dec = new TextDecoder();

/** Writes `count` keys through the nodes in turn; resolves with key → value once every put is acknowledged. */
export async function writeKeys(addresses: string[], count: number, prefix = "roll"): Promise<Map<string, string>> {
  const clients = await Promise.all(addresses.map((a) => KVClient.connect(a, { timeoutMs: 200, retries: 5 })));
  const keys = new Map<string, string>();
  try {
    const all = Array.from({ length: count }, (_, i) => i);
    // 8 writers at once: 1,000 puts in about a second on loopback.
    await Promise.all(Array.from({ length: 8 }, async (_, w) => {
      for (let i = w; i < all.length; i += 8) {
        const k = `${prefix}-${i}`, v = `value ${i} of ${prefix}`;
        await clients[i % clients.length].put(k, v);
        keys.set(k, v);
      }
    }));
  } finally {
    for (const c of clients) c.close();
  }
  return keys;
}

/** What the reader saw. */
export interface ReadTally {
  /** Reads sent. */
  total: number;
  /** Answered with the acknowledged value. */
  answered: number;
  /** Answered with another value or "not found": must never happen. */
  wrong: string[];
  /** No answer within the client's retries (or another error). */
  failed: number;
}

/**
 * Reads random keys of `keys` through every node in turn (`concurrency` reads outstanding), with
 * the normal KVClient schedule (100, 200, 400, 800 ms, same id), until `stop()`.
 */
export async function startReader(addresses: string[], keys: Map<string, string>, concurrency = 4) {
  const clients = await Promise.all(addresses.map((a) => KVClient.connect(a)));
  const names = [...keys.keys()];
  const tally: ReadTally = { total: 0, answered: 0, wrong: [], failed: 0 };
  let running = true;
  let turn = 0;
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      const client = clients[turn++ % clients.length];
      const k = names[Math.floor(Math.random() * names.length)];
      tally.total++;
      try {
        const v = dec.decode(await client.get(k));
        if (v === keys.get(k)) tally.answered++;
        else tally.wrong.push(`${k} from ${client.target}: ${v}`);
      } catch (e) {
        if (e instanceof KeyNotFoundError) tally.wrong.push(`${k} from ${client.target}: not found`);
        else tally.failed++;
      }
    }
  });
  return {
    tally,
    async stop(): Promise<ReadTally> {
      running = false;
      await Promise.all(loops);
      for (const c of clients) c.close();
      return tally;
    },
  };
}

/** Keys of `keys` that do not read back with their value through `address` (generous retries). */
export async function lostKeys(address: string, keys: Map<string, string>): Promise<string[]> {
  const client = await KVClient.connect(address, { timeoutMs: 300, retries: 5 });
  const lost: string[] = [];
  try {
    const names = [...keys.keys()];
    await Promise.all(Array.from({ length: 8 }, async (_, w) => {
      for (let i = w; i < names.length; i += 8) {
        try {
          const v = dec.decode(await client.get(names[i]));
          if (v !== keys.get(names[i])) lost.push(`${names[i]}: ${v}`);
        } catch (e) {
          lost.push(`${names[i]}: ${(e as Error).message}`);
        }
      }
    }));
  } finally {
    client.close();
  }
  return lost;
}

/** Pid of the node at `address`, or undefined if it does not answer. */
export async function pidOf(address: string): Promise<number | undefined> {
  const client = await KVClient.connect(address, { timeoutMs: 100, retries: 2 });
  try {
    return await client.pid();
  } catch {
    return undefined;
  } finally {
    client.close();
  }
}
