/**
 * `kvstore cluster`: a local N-node cluster on loopback for trying KVStore out.
 *
 * @module
 */
import { RoleProcess, startNodeProcess } from "../process_launcher.ts";
import { toHex } from "../bytes.ts";
import { parseFlags, parseInteger, UsageError } from "./args.ts";

/** Help text of `cluster`. */
export const CLUSTER_HELP = `Usage: kvstore cluster [options]

Starts a local cluster of N nodes on 127.0.0.1 (ports BASE..BASE+N-1) and
writes its fleet file, plus the status server (monitor) on http://127.0.0.1:8080.
Ctrl-C stops every node cleanly.

Options:
  --nodes N         number of nodes (default 5)
  --base-port P     first UDP port (default 4000)
  --dir DIR         where the fleet file and node data go (default .kvstore-cluster)
  --allow-run       let nodes execute signed admin scripts
  --monitor-port P  HTTP port of the status page (default 8080; 0 = no monitor)
  -h, --help        show this help
`;

/** Runs the cluster until Ctrl-C. */
export async function clusterCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags("cluster", args, {
    nodes: { type: "string" },
    "base-port": { type: "string" },
    dir: { type: "string" },
    "allow-run": { type: "boolean" },
    "monitor-port": { type: "string" },
  });
  if (values.help) {
    console.log(CLUSTER_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`cluster: unexpected argument "${positionals[0]}"`);
  const n = values.nodes ? parseInteger(values.nodes, "--nodes", 1, 200) : 5;
  const base = values["base-port"] ? parseInteger(values["base-port"], "--base-port", 1, 65535 - n) : 4000;
  const dir = values.dir ?? ".kvstore-cluster";
  await Deno.mkdir(dir, { recursive: true });
  const addresses = Array.from({ length: n }, (_, i) => `127.0.0.1:${base + i}`);
  const fleetFile = `${dir}/nodes.yaml`;
  const monitorPort = values["monitor-port"] ? parseInteger(values["monitor-port"], "--monitor-port", 0, 65535) : 8080;
  const monitorUrl = `http://127.0.0.1:${monitorPort}`;
  const clusterKey = toHex(crypto.getRandomValues(new Uint8Array(32)));
  // Admin key made with 'kvctl keygen --out DIR/admin.key' (docs/admin.md), if any.
  const adminPub = await Deno.readTextFile(`${dir}/admin.key.pub`).then((t) => t.trim(), () => "");
  await Deno.writeTextFile(
    fleetFile,
    `# Written by 'kvstore cluster'\nname: local\n${
      monitorPort > 0 ? `monitor: { url: "${monitorUrl}" }\n` : ""
    }clusterKey: "${clusterKey}"\n${adminPub ? `adminPublicKey: "${adminPub}"\n` : ""}nodes:\n${
      addresses.map((a) => `  - ${a}\n`).join("")
    }`,
  );
  const procs: RoleProcess[] = [];
  const stopAll = async () => {
    await Promise.all(procs.map((p) => p.stop("SIGTERM")));
  };
  let stopping = false;
  const onSignal = () => {
    if (stopping) return;
    stopping = true;
    console.log("\nstopping the cluster…");
    stopAll().then(() => {
      console.log("all nodes stopped");
      Deno.exit(0);
    });
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const extra = values["allow-run"] ? ["--allow-run=bash"] : [];
  try {
    for (let i = 0; i < n; i++) {
      const port = base + i;
      const adminDir = ["--admin-dir", `${dir}/admin-${port}`]; // where 'kvctl push' files go
      procs.push(await startNodeProcess(port, ["--config", fleetFile, ...adminDir], { extraPermissions: extra }));
      console.log(`node ${i + 1}/${n} up on 127.0.0.1:${port}`);
    }
    if (monitorPort > 0) {
      const monitor = new RoleProcess("monitor", "monitor", ["--config", fleetFile]);
      procs.push(monitor);
      await monitor.waitFor(/listening on/);
      console.log(`monitor up: status page at ${monitorUrl}/`);
    }
  } catch (e) {
    await stopAll();
    throw new Error(`cannot start the cluster: ${(e as Error).message.split("\n")[0]}`);
  }
  console.log(
    `\n${n} nodes running; fleet file ${fleetFile}. Try:\n  deno task kvctl put hello world --node ${
      addresses[0]
    }\n  deno task kvctl get hello --node ${addresses[0]}\n${
      monitorPort > 0 ? `Status page: ${monitorUrl}/\n` : ""
    }Ctrl-C stops the cluster.`,
  );
  await Promise.race(procs.map((p) => p.exited()));
  if (!stopping) {
    console.error("a node exited; stopping the cluster");
    await stopAll();
    return 1;
  }
  return 0;
}
