/**
 * Inline SVG sparklines (no JavaScript needed) for stat histories and round coverage.
 *
 * @module
 */
import type { Series } from "./history.ts";

/**
 * An SVG polyline of `series`, scaled to `width` × `height`, with min/max/last in its title.
 *
 * @example
 * ```ts
 * const svg = sparkline({ t: [0, 1, 2], v: [1, 3, 2] }, { width: 80, height: 20 });
 * console.log(svg.startsWith("<svg")); // true
 * ```
 */
export function sparkline(
  series: Series,
  options: { width: number; height: number; label?: string; format?: (v: number) => string },
): string {
  const { width: w, height: h } = options;
  const fmt = options.format ?? ((v: number) => String(Math.round(v * 100) / 100));
  if (series.v.length === 0) {
    return `<svg class="spark empty" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" aria-hidden="true"></svg>`;
  }
  const t0 = series.t[0];
  const t1 = series.t[series.t.length - 1];
  let lo = Infinity, hi = -Infinity;
  for (const v of series.v) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const spanT = t1 - t0 || 1;
  const spanV = hi - lo || 1;
  const pad = 2;
  const pts = series.v.map((v, i) => {
    const x = series.v.length === 1 ? w - pad : pad + ((series.t[i] - t0) / spanT) * (w - 2 * pad);
    const y = hi === lo ? h / 2 : h - pad - ((v - lo) / spanV) * (h - 2 * pad);
    return `${x.toFixed(1)},${y.toFixed(1)}`;
  });
  const last = series.v[series.v.length - 1];
  const [lx, ly] = pts[pts.length - 1].split(",");
  const title = `${options.label ? options.label + ": " : ""}last ${fmt(last)}, min ${fmt(lo)}, max ${fmt(hi)}`;
  return `<svg class="spark" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="${
    escapeAttr(title)
  }"><title>${escapeAttr(title)}</title><polyline fill="none" points="${
    pts.join(" ")
  }"/><circle cx="${lx}" cy="${ly}" r="1.8"/></svg>`;
}

/**
 * Bars of fractions in [0, 1] (round coverage), newest on the right.
 *
 * @example
 * ```ts
 * console.log(coverageBars([1, 0.5], { width: 40, height: 16 }).includes("<rect")); // true
 * ```
 */
export function coverageBars(values: number[], options: { width: number; height: number }): string {
  const { width: w, height: h } = options;
  const n = Math.max(values.length, 1);
  const bw = w / n;
  const bars = values.map((v, i) => {
    const bh = Math.max(1, v * h);
    const cls = v >= 0.999 ? "full" : v >= 0.9 ? "most" : "low";
    return `<rect class="${cls}" x="${(i * bw + 0.5).toFixed(1)}" y="${(h - bh).toFixed(1)}" width="${
      Math.max(1, bw - 1).toFixed(1)
    }" height="${bh.toFixed(1)}"><title>${Math.round(v * 1000) / 10}%</title></rect>`;
  });
  return `<svg class="bars" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="coverage of recent rounds">${
    bars.join("")
  }</svg>`;
}

function escapeAttr(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
