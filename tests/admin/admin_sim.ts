/**
 * Simulated admin clusters, on the shared fixture (tests/support/sim_cluster.ts): nodes that know each other
 * (static members) and share an admin key, whose executors count runs instead of running bash and whose
 * pushed files stay in memory, with an admin client (kvctl's side) on the simulated network.
 *
 * @module
 */
import { AdminClient } from "../../lib/admin/client.ts";
import type { RunOutcome, RunRequest, ScriptExecutor } from "../../lib/admin/runner.ts";
import type { AdminConfig } from "../../lib/admin/config.ts";
import type { FleetConfig } from "../../lib/config/fleet_file.ts";
import { Simulation } from "../../lib/testing/simulation.ts";
import { SimCluster } from "../support/sim_cluster.ts";
import { macrotask } from "../support/virtual_time.ts";

/** Counts executions per node instead of running bash. */
export class CountingExecutor implements ScriptExecutor {
  /** Executions of this node: command id → count. */
  readonly runs = new Map<string, number>();
  /** Counts for `node`, registered in `all`. */
  constructor(readonly node: string, readonly all: Map<string, Map<string, number>>) {
    all.set(node, this.runs);
  }
  /** Counts the run and reports success, with `ran on <node>` as output. */
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

/** Options of {@linkcode AdminSim.create}. */
export interface AdminSimOptions {
  /** Datagram loss of the network (default 0). */
  loss?: number;
  /** Seed of the simulation (default 11). */
  seed?: number;
  /** Admin settings of the nodes and of the admin client. */
  config?: Partial<AdminConfig>;
}

/** Zero-delay timers a tick waits at most for the nodes' signature checks. */
const MAX_VERDICT_WAITS = 10_000;

/**
 * A simulated admin cluster. Virtual time moves in ticks each followed by a zero-delay timer (signatures
 * verify asynchronously), pending work let run before the first: `run` in 10 ms ticks for at most 60 s,
 * `until` checking every `stepMs` (default 10) in ticks of as much.
 */
export class AdminSim extends SimCluster {
  /** Executions: node → command id → count. */
  readonly executions = new Map<string, Map<string, number>>();
  /** Files written through pushes: node → path → bytes. */
  readonly files = new Map<string, Map<string, Uint8Array>>();
  #admin?: AdminClient;

  private constructor(options: AdminSimOptions) {
    // Nodes are known once super() returns; the settle functions run only after that.
    const cluster: { self?: AdminSim } = {};
    const verdicts = () => cluster.self!.#verdicts();
    super({
      seed: options.seed ?? 11,
      conditions: { loss: options.loss ?? 0 },
      time: {
        run: { tickMs: 10, settle: verdicts, settleFirst: true, limitMs: 60_000 },
        until: { stepMs: 10, settle: verdicts, settleFirst: true },
        advance: { settle: verdicts, settleFirst: true },
      },
    });
    cluster.self = this;
  }

  // After each tick: a zero-delay timer, then more until no node has a signature under check. The
  // checks run in real time; were virtual time to move on meanwhile, a submit's retry would fire and
  // be checked (and counted) again, more often the busier the machine.
  async #verdicts(): Promise<void> {
    await macrotask();
    for (let waited = 0; [...this.nodes.values()].some((n) => (n.admin?.checking ?? 0) > 0); waited++) {
      if (waited >= MAX_VERDICT_WAITS) throw new Error(`a signature check took over ${MAX_VERDICT_WAITS} timers`);
      await macrotask();
    }
  }

  /** The admin client (kvctl's side), at 10.9.9.9:5000. */
  get admin(): AdminClient {
    if (!this.#admin) throw new Error("the admin client is created with the nodes");
    return this.#admin;
  }

  /** Starts `n` nodes that know each other (static members) and trust `publicKey`. */
  static async create(n: number, publicKey: string, options: AdminSimOptions = {}): Promise<AdminSim> {
    const c = new AdminSim(options);
    const addresses = Array.from({ length: n }, (_, i) => Simulation.address(i));
    const fleet = {
      name: "sim",
      nodes: addresses,
      adminPublicKey: publicKey,
      preset: "lan",
      replication: { n: 3, w: 2, r: 2 },
    } as FleetConfig;
    try {
      await c.addNodes(n, (_, a) => {
        const nodeFiles = new Map<string, Uint8Array>();
        c.files.set(a, nodeFiles);
        return {
          fleet,
          seeds: addresses,
          subsystemOptions: {
            staticMembers: true,
            replication: false,
            fleet: false, // admin is measured here; the fleet table's gossip would only add traffic
            monitoring: { system: false },
            admin: {
              executor: new CountingExecutor(a, c.executions),
              sink: null,
              config: options.config,
              files: nodeFiles,
            },
          },
        };
      });
    } catch (e) {
      c.close();
      throw e;
    }
    c.#admin = c.track(new AdminClient(c.network.createTransport("10.9.9.9:5000"), c.clock, options.config));
    return c;
  }
}

/** Total executions of `id` across the cluster, how many nodes ran it, and the nodes that ran it twice. */
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
