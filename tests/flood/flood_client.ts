/**
 * A bounded connection flood against one HTTP address, run as its own process so the server's
 * process is the one under test: `deno run --allow-net flood_client.ts HOST PORT COUNT MODE SECONDS`.
 * MODE: `hold` (connect and stay silent), `trickle` (one header byte every 5 s), `sse` (request
 * /events and never read). Prints `opened N failed F in T ms`, then every second
 * `closed C max-ms M` (connections the server closed, and the latest close after its connect), and
 * exits after SECONDS, closing everything.
 *
 * @module
 */
const [host, port, countArg, mode, secondsArg] = Deno.args;
const count = Number(countArg);
const seconds = Number(secondsArg);
const BATCH = 250;
const TRICKLE_MS = 5_000;
const encoder = new TextEncoder();
const conns: { conn: Deno.Conn; at: number }[] = [];
let failed = 0;
let closed = 0;
let maxMs = 0;
const t0 = performance.now();
for (let i = 0; i < count; i += BATCH) {
  const batch = Array.from({ length: Math.min(BATCH, count - i) }, async () => {
    const conn = await Deno.connect({ hostname: host, port: Number(port) });
    return { conn, at: performance.now() };
  });
  for (const r of await Promise.allSettled(batch)) r.status === "fulfilled" ? conns.push(r.value) : failed++;
}
console.log(`opened ${conns.length} failed ${failed} in ${Math.round(performance.now() - t0)} ms`);
const first = mode === "sse" ? "GET /events HTTP/1.1\r\nHost: x\r\n\r\n" : mode === "trickle" ? "G" : "";
for (const c of conns) {
  if (first) c.conn.write(encoder.encode(first)).catch(() => {});
  if (mode === "sse") continue; // never read
  c.conn.read(new Uint8Array(64)).then(() => {}, () => {}).finally(() => {
    closed++;
    maxMs = Math.max(maxMs, performance.now() - c.at);
  });
}
const trickle = mode === "trickle"
  ? setInterval(() => {
    for (const c of conns) c.conn.write(encoder.encode("E")).catch(() => {});
  }, TRICKLE_MS)
  : undefined;
const report = setInterval(() => console.log(`closed ${closed} max-ms ${Math.round(maxMs)}`), 1_000);
setTimeout(() => {
  clearInterval(report);
  if (trickle !== undefined) clearInterval(trickle);
  console.log(`closed ${closed} max-ms ${Math.round(maxMs)}`);
  for (const c of conns) {
    try {
      c.conn.close();
    } catch { /* closed */ }
  }
  Deno.exit(0);
}, seconds * 1_000);
