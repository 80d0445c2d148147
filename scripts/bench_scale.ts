/**
 * `deno task bench:scale --nodes N`: N real node processes and the monitor on loopback, joined from seeds
 * only, measured in one table: join time, round coverage, idle CPU and RSS per node, false suspicions and
 * deaths while quiet and under a light workload, detection of `kill -9` of 10 % of the nodes, keys lost
 * (those whose every owner was killed reported apart), and a rolling restart of the survivors in waves of
 * nodes that share no key range. Exits 1 when an invariant fails. Every process is killed at the end.
 *
 * @module
 */
import { parseDuration, parseFlags, parseInteger, runCli } from "../lib/base/cli_args.ts";
import { DEFAULT_REPLICATION_CONFIG } from "../lib/replication/replication_config.ts";
import {
  cpuShares,
  loadText,
  MONITOR_INTERVAL_MS,
  PROGRESS_INTERVAL_MS,
  restartWaves,
  ScaleFleet,
  START_CONCURRENCY,
  type SwimCounters,
} from "./bench_scale_fleet.ts";
import {
  type Check,
  checkKeys,
  declaredDead,
  type KeyCheck,
  measureIdle,
  notAlive,
  type Row,
  settle,
  writeKeys,
} from "./bench_scale_phases.ts";
import { REFERENCE_WAKE_HZ } from "./idle_reference.ts";

/** Help text. */
export const SCALE_HELP = `Usage: deno task bench:scale [--nodes N] [--seeds N] [--quiet-window D] [--keys N]
                             [--kill-percent P] [--restart N] [--detect-bound D] [--join-bound D]
                             [--settle-max D] [--idle-targets]

Starts N node processes (default 100) and the monitor on loopback, the first --seeds (3) listed in the
fleet file and the others joining through them; then measures join time, monitor round coverage, idle
CPU and RSS per node over --quiet-window (60s) once the nodes' CPU has settled after the join (three 15 s
windows within 10 % of each other, at most --settle-max, 180s), false suspicions and deaths, a light workload of --keys
acknowledged writes (20 per node), kill -9 of --kill-percent (10) of the non-seed nodes and the time
until every survivor declared them dead, keys lost, and a rolling restart of --restart survivors (all)
in waves of nodes that share no key range. Exits 1 when an invariant fails:
  every node counts N within --join-bound (60s) of the last start; 0 false deaths;
  every survivor declares the killed dead within --detect-bound (15s);
  no acknowledged key lost or wrong except those whose every owner was killed (reported apart).
Idle targets (0.3% of a core, 60 MiB median) are reported, and enforced with --idle-targets.
`;

/** Idle targets of the issue: median CPU share of one core, median RSS. */
const IDLE_TARGET = { cpuPercent: 0.3, rssMiB: 60 };
/** How long a restarted node may take to be caught up again. */
const RESTART_BUDGET_MS = 120_000;
/** Signals that stop the run early (every node process is killed first). */
const STOP_SIGNALS: Deno.Signal[] = ["SIGINT", "SIGTERM"];
/** Lines of an error's text printed when the run stops on it (the first is in the table). */
const ERROR_LINES_SHOWN = 40;
/** Window over which the nodes' CPU is compared while they settle after the join (see `settle`). */
const SETTLE_WINDOW_MS = 15_000;

async function main(args: string[]): Promise<number> {
  const { values } = parseFlags("bench:scale", args, {
    nodes: { type: "string" },
    seeds: { type: "string" },
    "quiet-window": { type: "string" },
    keys: { type: "string" },
    "kill-percent": { type: "string" },
    restart: { type: "string" },
    "detect-bound": { type: "string" },
    "join-bound": { type: "string" },
    "idle-targets": { type: "boolean" },
    "settle-max": { type: "string" },
  });
  if (values.help) {
    console.log(SCALE_HELP);
    return 0;
  }
  const nodes = values.nodes ? parseInteger(values.nodes, "--nodes", 4, 500) : 100;
  const seeds = values.seeds ? parseInteger(values.seeds, "--seeds", 1, nodes - 1) : 3;
  const quietMs = values["quiet-window"] ? parseDuration(values["quiet-window"], "--quiet-window") : 60_000;
  const settleMaxMs = values["settle-max"] ? parseDuration(values["settle-max"], "--settle-max") : 180_000;
  const keys = values.keys ? parseInteger(values.keys, "--keys", 0, 1_000_000) : 20 * nodes;
  const killPercent = values["kill-percent"] ? parseInteger(values["kill-percent"], "--kill-percent", 0, 50) : 10;
  const detectBound = values["detect-bound"] ? parseDuration(values["detect-bound"], "--detect-bound") : 15_000;
  const joinBound = values["join-bound"] ? parseDuration(values["join-bound"], "--join-bound") : 60_000;
  const restartCount = values.restart ? parseInteger(values.restart, "--restart", 0, nodes) : nodes;

  const rows: Row[] = [];
  const checks: Check[] = [];
  const row = (measure: string, value: string, target = "", ok?: boolean) => {
    rows.push({ measure, value, target, ok });
    if (ok === false) checks.push({ what: measure, detail: value });
    console.log(`  ${measure}: ${value}${target ? ` (target ${target})` : ""}${ok === false ? "  FAILED" : ""}`);
  };
  const fleet = await ScaleFleet.create(nodes, seeds);
  const stop = () => {
    fleet.close().finally(() => Deno.exit(130));
  };
  for (const signal of STOP_SIGNALS) Deno.addSignalListener(signal, stop);
  const t0 = performance.now();
  try {
    console.log(`bench:scale: ${nodes} nodes (${seeds} seeds) in ${fleet.cluster.dir}; load ${Deno.loadavg()}`);
    // 1. Start and join.
    const cpuBefore = fleet.cpu();
    const startTimes = (await fleet.start(fleet.addresses)).sort((a, b) => a - b);
    const lastStart = performance.now();
    row("CPU while the nodes started", cpuShares(cpuBefore, fleet.cpu()));
    row(
      "nodes started (each listening)",
      `${nodes} in ${((lastStart - t0) / 1000).toFixed(1)} s, ${START_CONCURRENCY} at a time; spawn to listening ` +
        `${(startTimes[startTimes.length >> 1] / 1000).toFixed(1)} s median, ${
          (startTimes[startTimes.length - 1] / 1000).toFixed(1)
        } s max; waited ${(fleet.pacedMs / 1000).toFixed(0)} s for busy nodes; load ${loadText()}`,
    );
    const joinCpu = fleet.cpu();
    const joined = await fleet.waitForCount(fleet.addresses, nodes, lastStart, joinBound).catch((e) => e as Error);
    if (joined instanceof Error) {
      row(`every node counts ${nodes}`, joined.message, `≤ ${joinBound / 1000} s`, false);
      // What the nodes were doing: their CPU, and false alarms (a node too slow to ack is suspected).
      row("CPU while waiting for the join", cpuShares(joinCpu, fleet.cpu()));
      await startAlarms(fleet, row);
      return report(rows, checks);
    }
    await startAlarms(fleet, row);
    const joinMs = Math.max(...joined);
    row(
      `every node counts ${nodes} alive`,
      `${(joinMs / 1000).toFixed(1)} s after the last start`,
      `≤ ${joinBound / 1000} s`,
      true,
    );
    // Idle means settled: the join's hand-overs and table fills done (each window printed).
    const settling = await settle(fleet, SETTLE_WINDOW_MS, settleMaxMs, console.log);
    row(
      "settling after the join (median node CPU per window)",
      `${settling.medians.map((m) => `${m.toFixed(2)}%`).join(" → ")} in ${(settling.waitedMs / 1000).toFixed(0)} s` +
        (settling.settled ? "" : ` (still changing at --settle-max)`),
    );

    // 2. Quiet window: idle CPU and RSS, false alarms, round coverage.
    const quietFrom = Date.now();
    const quietCpu = fleet.cpu();
    const idle = await measureIdle(fleet, quietMs);
    row("CPU in the quiet window", cpuShares(quietCpu, fleet.cpu()));
    const cpuOk = idle.cpuMedian <= IDLE_TARGET.cpuPercent, rssOk = idle.rssMedianMiB <= IDLE_TARGET.rssMiB;
    row(
      `idle CPU per node over ${quietMs / 1000} s (median, max)`,
      `${idle.cpuMedian.toFixed(2)}%, ${idle.cpuMax.toFixed(2)}% of a core`,
      `≤ ${IDLE_TARGET.cpuPercent}%`,
      values["idle-targets"] ? cpuOk : undefined,
    );
    row(
      "idle RSS per node (median, max)",
      `${idle.rssMedianMiB.toFixed(1)} MiB, ${idle.rssMaxMiB.toFixed(1)} MiB`,
      `≤ ${IDLE_TARGET.rssMiB} MiB`,
      values["idle-targets"] ? rssOk : undefined,
    );
    row(
      "idle RSS per node: its own memory, mapped files (medians)",
      `${idle.anonymousMedianMiB.toFixed(1)} MiB anonymous, ${idle.mappedMedianMiB.toFixed(1)} MiB of mapped ` +
        `files (the deno executable, shared by every node); PSS ${idle.pssMedianMiB.toFixed(1)} MiB`,
    );
    const ref = idle.reference;
    row(
      `reference in the same window: bare Deno woken ${REFERENCE_WAKE_HZ} times a second`,
      `${ref.cpu.toFixed(2)}% of a core, ${ref.rssMiB.toFixed(1)} MiB (${ref.anonymousMiB.toFixed(1)} anonymous), ` +
        `${ref.wakeups.toFixed(1)} wake-ups/s; a node is ${(idle.cpuMedian / ref.cpu).toFixed(1)} × its CPU, ` +
        `${(idle.rssMedianMiB / ref.rssMiB).toFixed(2)} × its RSS, ${
          (idle.anonymousMedianMiB / ref.anonymousMiB).toFixed(1)
        } × its own memory`,
    );
    row(
      "idle wake-ups per node, main thread (median, max)",
      `${idle.wakeupsMedian.toFixed(1)}/s, ${idle.wakeupsMax.toFixed(1)}/s`,
    );
    row("false suspicions / refutations while quiet", `${idle.alarms.suspicions} / ${idle.alarms.refutes}`);
    row("false deaths while quiet", String(idle.alarms.deaths), "0", idle.alarms.deaths === 0);
    // Rounds that started in the window and have ended (the one still open has not heard from everyone yet).
    const endedBy = Date.now() - MONITOR_INTERVAL_MS;
    const rounds = (await fleet.rounds()).filter((r) =>
      r.startedAt >= quietFrom && r.startedAt <= endedBy && r.expected > 0
    );
    const worst = rounds.reduce((m, r) => Math.min(m, r.reported), nodes);
    const t90 = rounds.map((r) => r.t90 ?? NaN).filter(Number.isFinite).sort((a, b) => a - b);
    row(
      "monitor rounds in the quiet window reaching all nodes",
      `${rounds.filter((r) => r.reported >= nodes).length} of ${rounds.length} (fewest reports ${worst}; ` +
        `90% of reports in ${t90.length ? `${t90[0]}-${t90[t90.length - 1]} ms` : "-"})`,
    );

    // 3. Light workload, every acknowledged write recorded.
    const before = await fleet.swimCounters(fleet.running);
    const written = await writeKeys(fleet, keys);
    const after = await fleet.swimCounters(fleet.running);
    let deathsUnderLoad = 0, suspicionsUnderLoad = 0;
    for (const [a, s] of after) {
      deathsUnderLoad += s.deaths - (before.get(a)?.deaths ?? 0);
      suspicionsUnderLoad += s.suspicions - (before.get(a)?.suspicions ?? 0);
    }
    const refused = [...written.errors].map(([k, n]) => `${n} ${k}`).join(", ");
    row(
      "workload: writes acknowledged",
      `${written.acked.size} of ${keys} (${written.opsPerSec.toFixed(0)} puts/s)${refused ? `; not: ${refused}` : ""}`,
    );
    row(
      "false suspicions / deaths under the workload",
      `${suspicionsUnderLoad} / ${deathsUnderLoad}`,
      "0 deaths",
      deathsUnderLoad === 0,
    );

    // 4. kill -9 of a share of the non-seed nodes at once.
    const candidates = fleet.addresses.slice(seeds);
    const victims = candidates.sort(() => Math.random() - 0.5).slice(0, Math.round((nodes * killPercent) / 100));
    const survivors = fleet.addresses.filter((a) => !victims.includes(a));
    if (victims.length > 0) {
      const killedAt = performance.now();
      await Promise.all(victims.map((a) => (fleet.forget(a), fleet.cluster.kill(a))));
      const detected = await fleet.waitForCount(
        survivors,
        survivors.length,
        killedAt,
        Math.max(detectBound * 4, 60_000),
      )
        .catch((e) => e as Error);
      const lists = await fleet.memberLists(survivors);
      if (detected instanceof Error) {
        row(
          `kill -9 of ${victims.length}: declared dead by every survivor`,
          detected.message,
          `≤ ${detectBound / 1000} s`,
          false,
        );
      } else {
        const polled = detected.slice().sort((a, b) => a - b);
        const declared = declaredDead(lists, survivors, victims, killedAt).sort((a, b) => a - b);
        // The nodes' own times when every survivor told them; else what polling saw.
        const exact = declared.every((t) => Number.isFinite(t));
        const times = exact ? declared : polled;
        const worstMs = times[times.length - 1];
        const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
        row(
          `kill -9 of ${victims.length}: declared dead by every survivor`,
          `${s(worstMs)} (median survivor ${s(times[times.length >> 1])}; ` +
            (exact
              ? `seen by polling the member counts every 250 ms: ${s(polled[polled.length - 1])})`
              : `by polling: ${declared.filter((t) => !Number.isFinite(t)).length} survivors did not tell when)`),
          `≤ ${detectBound / 1000} s`,
          worstMs <= detectBound,
        );
      }
      const wrong = notAlive(lists, survivors, new Set(survivors));
      row("survivors seen dead by a survivor after the kill", String(wrong.size), "0", wrong.size === 0);
      for (const [a, bad] of [...wrong].slice(0, 5)) console.log(`    ${a}: ${bad.slice(0, 5).join(", ")}`);
    }
    const afterKill = await checkKeys(fleet, written.acked, victims, survivors);
    keyRows(row, "after the kill", afterKill);

    // 5. Rolling restart of the survivors, waves of nodes that share no key range.
    const toRestart = survivors.slice(0, restartCount);
    if (toRestart.length > 0) {
      const waves = restartWaves(survivors, DEFAULT_REPLICATION_CONFIG.n, DEFAULT_REPLICATION_CONFIG.virtualNodes)
        .map((w) => w.filter((a) => toRestart.includes(a))).filter((w) => w.length > 0);
      const started = performance.now();
      let failed = "", printed = started, restarted = 0;
      for (const wave of waves) {
        if (performance.now() - printed >= PROGRESS_INTERVAL_MS) {
          printed = performance.now();
          console.log(
            `    restarted ${restarted}/${toRestart.length} (${
              ((printed - started) / 1000).toFixed(0)
            } s; load ${loadText()})`,
          );
        }
        restarted += wave.length;
        for (const a of wave) fleet.forget(a);
        await Promise.all(wave.map((a) => fleet.cluster.restart(a, "SIGTERM")));
        const late = await waitCaughtUp(fleet, wave);
        if (late.length > 0) {
          failed = `${late.join(", ")} not caught up within ${RESTART_BUDGET_MS / 1000} s`;
          break;
        }
      }
      const total = (performance.now() - started) / 1000;
      row(
        `rolling restart of ${toRestart.length} nodes in ${waves.length} waves`,
        failed || `${total.toFixed(1)} s (${(total / toRestart.length).toFixed(1)} s per node)`,
        "",
        failed ? false : undefined,
      );
      const afterRestart = await checkKeys(fleet, written.acked, victims, survivors);
      keyRows(row, "after the rolling restart", afterRestart);
    }
    row(
      "total run time",
      `${((performance.now() - t0) / 1000).toFixed(0)} s; load now ${
        Deno.loadavg().map((x) => x.toFixed(2)).join(" ")
      }`,
    );
    return report(rows, checks);
  } catch (e) {
    const lines = (e as Error).message.split("\n");
    row("run stopped by an error", lines[0], "", false);
    // The rest: the output lines the error quotes (a node that did not start).
    for (const line of lines.slice(1, ERROR_LINES_SHOWN)) console.log(`    | ${line}`);
    return report(rows, checks);
  } finally {
    for (const signal of STOP_SIGNALS) Deno.removeSignalListener(signal, stop);
    await fleet.close();
  }
}

function keyRows(row: (m: string, v: string, t?: string, ok?: boolean) => void, when: string, k: KeyCheck): void {
  row(`keys lost by design ${when} (every owner killed)`, `${k.lostByDesign} of ${k.allOwnersKilled} such keys`);
  row(
    `keys lost or wrong otherwise ${when}`,
    `${k.lost} lost, ${k.wrong} wrong of ${k.checked}${k.unanswered ? ` (${k.unanswered} unanswered)` : ""}`,
    "0",
    k.lost + k.wrong === 0,
  );
}

/** Reports the suspicions, refutations and deaths every node counted since it started (false alarms while joining). */
async function startAlarms(fleet: ScaleFleet, row: (m: string, v: string) => void): Promise<void> {
  const counters = await fleet.swimCounters(fleet.running);
  const sum = (k: keyof SwimCounters) => [...counters.values()].reduce((t, c) => t + c[k], 0);
  row(
    "false suspicions / refutations / deaths while the nodes started and joined (sums)",
    `${sum("suspicions")} / ${sum("refutes")} / ${
      sum("deaths")
    } (${counters.size} of ${fleet.running.length} nodes answered)`,
  );
}

/** Waits until every node of `wave` says it is caught up; returns those that were not in time. */
async function waitCaughtUp(fleet: ScaleFleet, wave: string[]): Promise<string[]> {
  const deadline = performance.now() + RESTART_BUDGET_MS;
  let pending = wave.slice();
  while (pending.length > 0 && performance.now() < deadline) {
    const views = await Promise.all(pending.map((a) => fleet.view(a)));
    pending = pending.filter((_, i) => views[i]?.catchUp.caughtUp !== true);
    if (pending.length > 0) await new Promise((r) => setTimeout(r, 250));
  }
  return pending;
}

function report(rows: Row[], checks: Check[]): number {
  console.log("\n| measure | value | target | ok |\n|---|---|---|---|");
  for (const r of rows) {
    console.log(`| ${r.measure} | ${r.value} | ${r.target} | ${r.ok === undefined ? "" : r.ok ? "yes" : "**no**"} |`);
  }
  if (checks.length === 0) {
    console.log("\nbench:scale: every invariant held");
    return 0;
  }
  console.log(`\nbench:scale: ${checks.length} invariant(s) failed:`);
  for (const c of checks) console.log(`  ${c.what}: ${c.detail}`);
  return 1;
}

if (import.meta.main) await runCli(() => main(Deno.args));
