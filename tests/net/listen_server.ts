/**
 * A listenHttp server for process tests: `deno run --allow-net --allow-read listen_server.ts MAX_CONNECTIONS`.
 * Prints `listening PORT`, answers `ok`, prints its refusals on stdin's end or SIGTERM.
 *
 * @module
 */
import { listenHttp } from "../../lib/net/http_listener.ts";

const l = listenHttp({ port: 0, maxConnections: Number(Deno.args[0]), handler: () => new Response("ok") });
console.log(`listening ${l.addr.port} descriptors ${JSON.stringify(l.limits.descriptors)}`);
setInterval(() => console.log(`open ${l.connections} refused ${JSON.stringify(l.refusals.entries())}`), 500);
// As the monitor does at start: Deno sets up its signal handling now, not lazily when descriptors may have run out.
Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
