/**
 * Shared helpers of the admin tests: keys, signed commands, a counting
 * executor, simulated clusters and a driver for virtual time.
 *
 * @module
 */
import { Simulation } from "../../lib/testing/simulation.ts";
import { AdminClient } from "../../lib/admin/client.ts";
import type { ResultSink } from "../../lib/admin/reporter.ts";
import type { RunOutcome, RunRequest, ScriptExecutor } from "../../lib/admin/runner.ts";
import type { NodeResult } from "../../lib/admin/protocol.ts";
import type { AdminConfig } from "../../lib/admin/config.ts";
import { generateAdminKeys, importAdminPrivateKey } from "../../lib/admin/keys.ts";
import type { FleetConfig } from "../../lib/config/fleet_file.ts";
import type { Address } from "../../lib/net/transport.ts";

/** A key pair: the private key and the public key text for nodes.yaml. */
export async function makeKeys(): Promise<{ privateKey: CryptoKey; publicKey: string; file: string }> {
  const k = await generateAdminKeys();
  return { privateKey: await importAdminPrivateKey(k.privateKeyFile), publicKey: k.publicKey, file: k.privateKeyFile };
}

/** Counts executions per node instead of running bash. */
export class CountingExecutor implements ScriptExecutor {
  readonly runs = new Map<string, number>();
  constructor(readonly node: string, readonly all: Map<string, Map<string, number>>) {
    all.set(node, this.runs);
  }
  run(request: RunRequest): Promise<RunOutcome> {
    this.runs.set(request.id, (this.runs.get(request.id) ?? 0) + 1);
    return Promise.resolve({
      status: "ok",
      exitCode: 0,
      durationMs: 1,
      stdout: `ran on ${this.node}\n`,
      stderr: "",
      truncatedBytes: 0,
    });
  }
}

/** Collects results in memory. */
export class MemorySink implements ResultSink {
  readonly results: NodeResult[] = [];
  send(r: NodeResult): void {
    this.results.push(r);
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
  close(): void {}
}

/** A simulated cluster with admin executors that count. */
export interface SimCluster {
  sim: Simulation;
  /** Executions: node → command id → count. */
  executions: Map<string, Map<string, number>>;
  /** Files written through pushes: node → path → bytes. */
  files: Map<string, Map<string, Uint8Array>>;
  client: AdminClient;
  addresses: Address[];
  /** Advances virtual time in steps, letting promises settle, until `done()` or `limitMs`; returns elapsed ms or -1. */
  drive(done: () => boolean, limitMs: number, stepMs?: number): Promise<number>;
  /** Awaits a promise while driving virtual time. */
  run<T>(p: Promise<T>, limitMs?: number): Promise<T>;
  close(): void;
}

/** Lets pending promise chains run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Starts `n` simulated nodes that know each other (static members) and share an admin key. */
export async function simCluster(
  n: number,
  publicKey: string,
  options: { loss?: number; seed?: number; config?: Partial<AdminConfig> } = {},
): Promise<SimCluster> {
  const addresses = Array.from({ length: n }, (_, i) => Simulation.address(i));
  const fleet: FleetConfig = {
    name: "sim",
    nodes: addresses,
    adminPublicKey: publicKey,
    preset: "lan",
    replication: { n: 3, w: 2, r: 2 },
  } as FleetConfig;
  const sim = new Simulation({ seed: options.seed ?? 11, conditions: { loss: options.loss ?? 0 } });
  const executions = new Map<string, Map<string, number>>();
  const files = new Map<string, Map<string, Uint8Array>>();
  for (const a of addresses) {
    const nodeFiles = new Map<string, Uint8Array>();
    files.set(a, nodeFiles);
    await sim.addNode({
      fleet,
      seeds: addresses,
      subsystemOptions: {
        staticMembers: true,
        replication: false,
        monitoring: { system: false },
        admin: { executor: new CountingExecutor(a, executions), sink: null, config: options.config, files: nodeFiles },
      },
    });
  }
  const client = new AdminClient(sim.network.createTransport("10.9.9.9:5000"), sim.clock, options.config);
  const drive = async (done: () => boolean, limitMs: number, stepMs = 10) => {
    const start = sim.clock.now();
    while (sim.clock.now() - start <= limitMs) {
      await settle();
      if (done()) return sim.clock.now() - start;
      sim.advance(stepMs);
    }
    await settle();
    return done() ? sim.clock.now() - start : -1;
  };
  const run = async <T>(p: Promise<T>, limitMs = 60_000): Promise<T> => {
    let finished = false;
    p.then(() => finished = true, () => finished = true);
    await drive(() => finished, limitMs);
    return await p;
  };
  return {
    sim,
    executions,
    files,
    client,
    addresses,
    drive,
    run,
    close: () => {
      client.close();
      sim.close();
    },
  };
}

/** Total executions of `id` across the cluster, and per-node counts above one. */
export function executionsOf(executions: Map<string, Map<string, number>>, id: string): {
  total: number;
  nodes: number;
  repeated: string[];
} {
  let total = 0, nodes = 0;
  const repeated: string[] = [];
  for (const [node, m] of executions) {
    const c = m.get(id) ?? 0;
    total += c;
    if (c > 0) nodes++;
    if (c > 1) repeated.push(node);
  }
  return { total, nodes, repeated };
}
