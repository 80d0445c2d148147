/**
 * `kvctl bench`: the load generator as a kvctl verb (listed in lib/cli/kvctl.ts). The same tool as `deno task bench`;
 * without `--allow-run` the generator runs inside kvctl and `--target` is required.
 *
 * @module
 */
import type { KvctlVerb } from "./kvctl_verb.ts";
import { benchMain } from "../bench/bench.ts";

/** Help lines added to `kvctl --help`. */
export const BENCH_VERB_HELP = `
Benchmark:
  bench [options]     load nodes over UDP and print ops/s, p50/p99/p99.9, timeouts
                      (--target A[,B…] --clients N --window N --value-size S --gets F
                      --duration D …; kvctl bench --help lists them all)
`;

/** `kvctl bench`. */
export const BENCH_VERB: KvctlVerb = { help: BENCH_VERB_HELP, run: benchMain };
