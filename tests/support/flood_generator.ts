/**
 * A load generator in its own process: sends COUNT get requests (distinct ids, keys from a small
 * set) to TARGET as fast as one UDP socket sends, without waiting for replies, for at most
 * LIMIT_MS. Prints one JSON line `{"sent":…,"ms":…}` at the end.
 *
 * Usage: deno run --allow-net tests/support/flood_generator.ts TARGET COUNT [LIMIT_MS]
 *
 * @module
 */
import { Command, encodeRequest } from "../../lib/wire/client_protocol.ts";
import { toKey } from "../../lib/client/keys.ts";
import { parseAddress } from "../../lib/net/transport.ts";

/** Sends in flight at once (each `send` is an async op). */
const IN_FLIGHT = 64;
/** Distinct keys asked for. */
const KEYS = 256;

if (import.meta.main) {
  const [target, countText, limitText] = Deno.args;
  const count = Number(countText), limitMs = Number(limitText ?? 60_000);
  if (!target || !(count > 0)) {
    console.error("usage: flood_generator.ts TARGET COUNT [LIMIT_MS]");
    Deno.exit(2);
  }
  const hp = parseAddress(target);
  const to = { transport: "udp" as const, hostname: hp.hostname, port: hp.port };
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const keys = Array.from({ length: KEYS }, (_, i) => toKey(`flood-${i}`));
  const id = new Uint8Array(16);
  crypto.getRandomValues(id);
  const view = new DataView(id.buffer);
  const start = performance.now();
  let sent = 0;
  const pending = new Set<Promise<unknown>>();
  while (sent < count && performance.now() - start < limitMs) {
    view.setUint32(12, sent);
    const p: Promise<unknown> = socket.send(encodeRequest(id, Command.Get, keys[sent % KEYS]), to)
      .catch(() => {})
      .finally(() => pending.delete(p));
    pending.add(p);
    sent++;
    if (pending.size >= IN_FLIGHT) await Promise.race(pending);
  }
  await Promise.all(pending);
  console.log(JSON.stringify({ sent, ms: Math.round(performance.now() - start) }));
  socket.close();
}
