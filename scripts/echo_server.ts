/**
 * Raw Deno UDP echo server: the ceiling a Deno UDP server can reach on this
 * machine. It does the same socket work as the node's `UdpTransport` (one
 * reused receive buffer, each datagram copied out, sends not awaited) and
 * nothing else, so `node ops/s ÷ echo ops/s` is the cost of KVStore itself.
 *
 * Usage: deno run --allow-net scripts/echo_server.ts [--host 127.0.0.1] [--port 0]
 * Prints `echo listening on udp HOST:PORT` when ready; stops on SIGINT/SIGTERM.
 *
 * @module
 */

/**
 * Starts an echo socket; returns its address and a stop function.
 *
 * @example
 * ```ts ignore
 * const echo = startEcho("127.0.0.1", 0);
 * console.log(echo.address);
 * await echo.stop();
 * ```
 */
export function startEcho(hostname: string, port: number): { address: string; stop: () => Promise<void> } {
  const conn = Deno.listenDatagram({ transport: "udp", hostname, port });
  const a = conn.addr as Deno.NetAddr;
  let closed = false;
  const loop = (async () => {
    const buf = new Uint8Array(65_536);
    while (!closed) {
      try {
        const [data, from] = await conn.receive(buf);
        conn.send(data.slice(), from).catch(() => {});
      } catch {
        if (closed) return;
      }
    }
  })();
  return {
    address: a.hostname.includes(":") ? `[${a.hostname}]:${a.port}` : `${a.hostname}:${a.port}`,
    stop: async () => {
      closed = true;
      try {
        conn.close();
      } catch { /* closed */ }
      await loop;
    },
  };
}

if (import.meta.main) {
  const args = Deno.args;
  const flag = (name: string, fallback: string) => {
    const i = args.indexOf(name);
    return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
  };
  const echo = startEcho(flag("--host", "127.0.0.1"), Number(flag("--port", "0")));
  console.log(`echo listening on udp ${echo.address} (pid ${Deno.pid})`);
  const stop = () => echo.stop().then(() => Deno.exit(0));
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}
