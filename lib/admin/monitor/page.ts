/**
 * The monitor's server-rendered `/admin` page: admin commands, newest first,
 * each with a row per node (status, exit code, duration, message, output).
 *
 * @module
 */
import { PAGE_CSS } from "../../monitoring/server/page_assets.ts";
import { esc } from "../../monitoring/server/page.ts";
import { renderNav } from "../../monitoring/server/page_parts.ts";
import type { NodeResult } from "../protocol.ts";
import { type AdminResults, type CommandRecord, countResults } from "./results_store.ts";
import { describeRollout } from "../rollout_view.ts";

const ADMIN_CSS = `
.cmd{background:var(--card);border:1px solid var(--line);border-radius:8px;margin:0 0 14px;padding:0}
.cmd>summary{cursor:pointer;padding:10px 14px;display:flex;gap:14px;align-items:center;flex-wrap:wrap}
.cmd>summary code{font-size:12px}
.cmd pre{margin:0;white-space:pre-wrap;word-break:break-word;font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace;
max-height:240px;overflow:auto}
.cmd .script{background:#f3f4f7;padding:8px 14px;border-top:1px solid var(--line)}
.pill.failed,.pill.timeout,.pill.error{color:var(--bad);background:var(--badbg)}
.pill.refused{color:var(--warn);background:var(--warnbg)}
.pill.running,.pill.fetching,.pill.waiting{color:var(--wait);background:var(--waitbg)}
.pill.skipped{color:var(--warn);background:var(--warnbg)}
.rollout{padding:8px 14px;border-top:1px solid var(--line);font-weight:600}
.rollout.halted{color:var(--bad)}
td.out{white-space:normal;min-width:320px}
@media (prefers-color-scheme:dark){.cmd .script{background:#202634}}
`;

function when(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

function duration(ms: number | undefined): string {
  if (ms === undefined) return "";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

function resultRow(r: NodeResult): string {
  const out = [
    r.message ? `<div>${esc(r.message)}</div>` : "",
    r.progress && !r.finishedAt ? `<div class="muted">${r.progress.have} of ${r.progress.total} pieces</div>` : "",
    r.stdout
      ? `<details><summary>stdout (${r.stdout.length} chars)</summary><pre>${esc(r.stdout)}</pre></details>`
      : "",
    r.stderr
      ? `<details><summary>stderr (${r.stderr.length} chars)</summary><pre>${esc(r.stderr)}</pre></details>`
      : "",
    r.truncatedBytes ? `<div class="muted">${r.truncatedBytes} bytes of output cut</div>` : "",
  ].join("");
  const exit = r.exitCode === undefined || r.exitCode === null ? (r.signal ?? "") : String(r.exitCode);
  const turn = r.rollout && r.rollout.position >= 0
    ? `<div class="muted">${r.rollout.position + 1} of ${r.rollout.total} · ${esc(r.rollout.phase)}${
      r.rollout.program ? ` · ${esc(r.rollout.program)}` : ""
    }</div>`
    : "";
  return `<tr><td class="node">${esc(r.node)}${turn}</td><td><span class="pill ${esc(r.status)}">${
    esc(r.status)
  }</span></td><td class="num">${esc(exit)}</td><td class="num">${
    duration(r.durationMs)
  }</td><td class="out">${out}</td></tr>`;
}

function commandBlock(rec: CommandRecord, open: boolean): string {
  const c = rec.command;
  const counts = countResults(rec);
  const by = Object.entries(counts.byStatus).map(([s, n]) => `<span class="pill ${esc(s)}">${n} ${esc(s)}</span>`)
    .join(" ");
  const order = c.rollout?.order;
  const budget = c.rollout?.budgetMs ? `, ${duration(c.rollout.budgetMs)} each` : "";
  const what = c.kind === "run"
    ? `run, timeout ${duration(c.timeoutMs)}${c.program ? `, upgrade to ${esc(c.program.path)}` : ""}${
      order ? `, rolling restart of ${order.length} nodes${budget}` : ""
    }`
    : `push ${esc(c.path ?? "")} (${c.size ?? 0} bytes, mode ${(c.mode ?? 0).toString(8)})`;
  const progress = order ? describeRollout(order, rec.results) : undefined;
  const rolloutLine = progress
    ? `<div class="rollout${progress.halted ? " halted" : ""}">${esc(progress.line)}</div>`
    : "";
  const body = c.kind === "run"
    ? `<div class="script"><pre>${esc(c.script ?? "")}</pre></div>`
    : `<div class="script"><pre>SHA-256 ${esc(c.sha256 ?? "")}</pre></div>`;
  const rank = (n: string) => order ? (order.indexOf(n) + 1 || order.length + 1) : 0;
  const rows = [...rec.results.values()].sort((a, b) => rank(a.node) - rank(b.node) || a.node.localeCompare(b.node))
    .map(resultRow).join("");
  return `<details class="cmd" id="c-${esc(rec.id)}"${open ? " open" : ""}><summary><code>${
    esc(rec.id)
  }</code><b>${what}</b>
<span class="muted">nodes ${esc(c.selector)} · issued ${when(c.issuedAt)} · expires ${when(c.expiresAt)}</span>
<span>${counts.done} of ${counts.reported} done</span> ${by}</summary>${rolloutLine}${body}
<div class="tablewrap"><table><thead><tr><th>Node</th><th>Status</th><th class="num">Exit</th><th class="num">Duration</th>
<th>Output</th></tr></thead><tbody>${rows}</tbody></table></div></details>`;
}

/**
 * Renders the admin page.
 *
 * @example
 * ```ts ignore
 * app.get("/admin", (c) => c.html(renderAdminPage(store, "kvstore")));
 * ```
 */
export function renderAdminPage(store: AdminResults, title?: string, focus?: string): string {
  const list = store.list();
  const running = list.some((r) =>
    countResults(r).done < r.results.size ||
    (r.command.rollout !== undefined && r.command.expiresAt > Date.now() &&
      !describeRollout(r.command.rollout.order, r.results).over)
  );
  const blocks = list.length === 0
    ? `<p class="muted">No admin commands yet. Send one with <code>kvctl run SCRIPT.sh --wait</code> or ` +
      `<code>kvctl push FILE --to PATH</code>; see docs/admin.md.</p>`
    : list.map((r, i) => commandBlock(r, focus ? r.id === focus : i === 0)).join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Admin · ${title ? `${esc(title)} · ` : ""}KVStore monitor</title>${
    running ? '<meta http-equiv="refresh" content="3">' : ""
  }
<style>${PAGE_CSS}${ADMIN_CSS}</style></head>
<body><header class="top"><h1>KVStore${title ? ` · ${esc(title)}` : ""}</h1>${renderNav("/admin")}<span id="live">${
    running ? "refreshing" : "static"
  }</span></header>
<main><h2>Admin commands</h2>${blocks}
<p class="note">Results are reported by each node over HTTP, signed with the cluster key. JSON at
<a href="/api/admin/commands">/api/admin/commands</a> and /api/admin/commands/:id.</p></main></body></html>`;
}
