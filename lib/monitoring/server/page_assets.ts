/**
 * Style sheet and the small inline scripts of the status page. The page works
 * without them (server-rendered table, sort links); the scripts add live
 * updates over SSE, sorting in place and relative times.
 *
 * @module
 */

/** The page's CSS. */
export const PAGE_CSS = `
:root{--bg:#f6f7f9;--card:#fff;--ink:#1d2330;--muted:#687083;--line:#e3e6ec;--ok:#1a7f4b;--okbg:#e5f5ec;
--warn:#9a6200;--warnbg:#fff3d6;--bad:#b42318;--badbg:#fde8e6;--wait:#4b5565;--waitbg:#eef0f4;--accent:#2f5bd3}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:var(--bg)}
header.top{display:flex;align-items:center;gap:24px;padding:12px 24px;background:#1d2330;color:#fff}
header.top h1{font-size:16px;margin:0;font-weight:600}
header.top nav a{color:#c9d3ea;text-decoration:none;margin-right:16px}
header.top nav a:hover,header.top nav a.here{color:#fff}
#live{margin-left:auto;font-size:12px;color:#9aa6c1}
#live.on::before{content:"";display:inline-block;width:8px;height:8px;border-radius:50%;background:#3ccf7c;margin-right:6px}
main{padding:20px 24px;max-width:1800px}
a{color:var(--accent)}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin-bottom:16px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 14px;min-width:130px}
.card .n{font-size:22px;font-weight:600}
.card .l{color:var(--muted);font-size:12px}
.card.bad .n{color:var(--bad)} .card.warn .n{color:var(--warn)} .card.ok .n{color:var(--ok)}
.card.round{flex:1;min-width:320px}
.card.round .l b{color:var(--ink);font-weight:600}
svg.bars rect.full{fill:#3ccf7c} svg.bars rect.most{fill:#f0b429} svg.bars rect.low{fill:#e5484d}
.tablewrap{background:var(--card);border:1px solid var(--line);border-radius:8px;overflow-x:auto}
table{border-collapse:collapse;width:100%}
th,td{padding:7px 10px;text-align:left;border-bottom:1px solid var(--line);white-space:nowrap;vertical-align:middle}
th{font-size:12px;font-weight:600;color:var(--muted);background:#fafbfc;position:sticky;top:0}
th a{color:inherit;text-decoration:none} th a:hover{color:var(--ink)}
th[aria-sort=ascending] a::after{content:" ▲"} th[aria-sort=descending] a::after{content:" ▼"}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tbody tr:hover{background:#f8f9fb}
tr.sev4{background:#fff7f6} tr.flash{animation:flash .8s ease-out}
@keyframes flash{from{background:#f1f5ff}}
tr.stale td:not([data-col=status]):not([data-col=node]):not([data-col=seen]){opacity:.45}
details.other{font-size:12px;color:var(--muted);white-space:normal;max-width:340px}
details.other summary{cursor:pointer}
.pill{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600}
.pill.ok{color:var(--ok);background:var(--okbg)} .pill.late{color:var(--warn);background:var(--warnbg)}
.pill.not_responding{color:var(--bad);background:var(--badbg)} .pill.waiting{color:var(--wait);background:var(--waitbg)}
.pill.left{color:var(--muted);background:#eef1f6}
.problems{display:block;font-size:12px;color:var(--bad);white-space:normal;max-width:260px}
.problems.low{color:var(--warn)}
.node a{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:13px;text-decoration:none}
.muted{color:var(--muted)}
.chip{display:inline-block;background:#eef1f6;border-radius:4px;padding:0 6px;margin:1px 2px;font-size:12px}
svg.spark polyline{stroke:var(--accent);stroke-width:1.4} svg.spark circle{fill:var(--accent)}
svg.spark{vertical-align:middle;margin-right:8px}
.rps{display:flex;align-items:center;justify-content:flex-end}
h2{font-size:15px;margin:22px 0 8px}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;background:var(--card);border:1px solid var(--line);
border-radius:8px;padding:12px 16px;margin:0}
dl.facts dt{color:var(--muted)} dl.facts dd{margin:0}
.detail-head{display:flex;align-items:center;gap:12px}
.detail-head h1{font:600 18px ui-monospace,SFMono-Regular,Menlo,monospace;margin:0}
.note{color:var(--muted);font-size:12px;margin-top:10px}
#detail{max-width:1000px} #detail table.stats td{padding:4px 10px} #detail svg.spark{margin-left:0}
@media (prefers-color-scheme:dark){:root{--bg:#12151c;--card:#1a1e27;--ink:#e6e9f0;--muted:#98a2b8;--line:#2a3040;
--okbg:#163626;--warnbg:#3a2e10;--badbg:#3d1a18;--waitbg:#262b36;--ok:#4fd18b;--warn:#f0b429;--bad:#ff7b72;--accent:#7aa2ff}
th{background:#1f2430} tbody tr:hover{background:#202634} tr.sev4{background:#2a1c1c} .chip{background:#262c3a}}
`;

/** Script of the node table: live rows over SSE, sorting in place, relative times. */
export const INDEX_JS = `
(() => {
  const table = document.querySelector("table.nodes");
  if (!table) return;
  const tbody = table.tBodies[0];
  let sort = { col: table.dataset.sort, dir: table.dataset.dir };
  const value = (tr, col) => {
    const td = tr.querySelector('td[data-col="' + col + '"]');
    const s = td ? td.dataset.sort ?? "" : "";
    const n = Number(s);
    return s !== "" && !Number.isNaN(n) ? n : s.toLowerCase();
  };
  const cmp = (a, b) => {
    if (typeof a === "number" && typeof b === "number") return a - b;
    if (typeof a !== typeof b) return typeof a === "number" ? -1 : 1;
    return String(a).localeCompare(String(b), "en", { numeric: true });
  };
  const apply = () => {
    const rows = [...tbody.rows];
    rows.sort((a, b) => {
      let c = cmp(value(a, sort.col), value(b, sort.col));
      if (sort.dir === "desc") c = -c;
      return c || a.dataset.node.localeCompare(b.dataset.node, "en", { numeric: true });
    });
    rows.forEach((r) => tbody.appendChild(r));
    for (const th of table.tHead.rows[0].cells) {
      if (th.dataset.col === sort.col) th.setAttribute("aria-sort", sort.dir === "asc" ? "ascending" : "descending");
      else th.removeAttribute("aria-sort");
    }
  };
  table.tHead.addEventListener("click", (e) => {
    const th = e.target.closest("th[data-col]");
    if (!th) return;
    e.preventDefault();
    const col = th.dataset.col;
    sort = col === sort.col ? { col, dir: sort.dir === "asc" ? "desc" : "asc" } : { col, dir: th.dataset.first };
    history.replaceState(null, "", "?sort=" + col + "&dir=" + sort.dir);
    apply();
  });
  const ages = () => {
    const now = Date.now();
    for (const el of document.querySelectorAll("[data-at]")) {
      const s = Math.max(0, Math.round((now - Number(el.dataset.at)) / 1000));
      el.textContent = s < 60 ? s + "s ago" : s < 3600 ? Math.floor(s / 60) + "m ago" : Math.floor(s / 3600) + "h ago";
    }
  };
  setInterval(ages, 1000);
  const live = document.getElementById("live");
  const es = new EventSource("/events");
  es.onopen = () => { live.textContent = "live"; live.className = "on"; };
  es.onerror = () => { live.textContent = "reconnecting…"; live.className = ""; };
  es.addEventListener("rows", (e) => {
    for (const r of JSON.parse(e.data)) {
      const tmp = document.createElement("tbody");
      tmp.innerHTML = r.html;
      const tr = tmp.firstElementChild;
      const old = tbody.querySelector('tr[data-node="' + CSS.escape(r.id) + '"]');
      if (old) old.replaceWith(tr); else tbody.appendChild(tr);
      tr.classList.add("flash");
    }
    apply();
    ages();
  });
  es.addEventListener("removed", (e) => {
    for (const id of JSON.parse(e.data)) tbody.querySelector('tr[data-node="' + CSS.escape(id) + '"]')?.remove();
  });
  es.addEventListener("summary", (e) => {
    document.getElementById("summary").innerHTML = JSON.parse(e.data).html;
  });
})();
`;

/** Script of a node's detail page: reloads its body when the node's row changes. */
export const DETAIL_JS = `
(() => {
  const main = document.getElementById("detail");
  const id = main.dataset.node;
  const live = document.getElementById("live");
  const es = new EventSource("/events");
  es.onopen = () => { live.textContent = "live"; live.className = "on"; };
  es.onerror = () => { live.textContent = "reconnecting…"; live.className = ""; };
  es.addEventListener("rows", async (e) => {
    if (!JSON.parse(e.data).some((r) => r.id === id)) return;
    const res = await fetch(location.pathname + "?fragment=1");
    if (res.ok) main.innerHTML = await res.text();
  });
})();
`;
