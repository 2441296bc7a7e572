// Bar charts drawn as inline SVG, for the reports page: one row per group
// (a queue, an agent), one bar per figure, a shared scale, the value written
// at the end of each bar. Built with DOM calls only (labels are text, never
// markup), coloured through classes in style.css (the page's policy allows no
// inline style), and described for screen readers by a title and a summary.

const SVG = "http://www.w3.org/2000/svg";

/** An SVG element with attributes and children (strings become text). */
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** A round upper end for the scale: 1, 2 or 5 times a power of ten, at least `max`. */
export function niceMax(max) {
  if (!(max > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) {
    if (step * power >= max) return step * power;
  }
  return 10 * power;
}

/**
 * A horizontal bar chart.
 *
 * - `title`: what the chart shows (its accessible name);
 * - `series`: `[{ key, label, className }]`, the figures drawn for each row;
 * - `rows`: `[{ label, values: { key: number } }]`;
 * - `format`: how a value is written (default: as is).
 *
 * Returns an `<svg>` element whose width follows its container.
 */
export function barChart({ title, series, rows, format = String }) {
  const bar = 14;
  const gap = 3;
  const rowGap = 12;
  const labelWidth = 160;
  const valueWidth = 56;
  const width = 720;
  const legendHeight = 24;
  const rowHeight = series.length * (bar + gap) - gap + rowGap;
  const height = legendHeight + Math.max(1, rows.length) * rowHeight + 4;
  const plot = width - labelWidth - valueWidth;
  const max = niceMax(Math.max(0, ...rows.flatMap((r) => series.map((x) => Number(r.values[x.key]) || 0))));
  const svg = s("svg", {
    class: "chart",
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": title,
    preserveAspectRatio: "xMinYMin meet",
  });
  svg.append(s("title", {}, title));
  const summary = rows
    .map((r) => `${r.label}: ${series.map((x) => `${x.label} ${format(r.values[x.key] || 0)}`).join(", ")}`)
    .join("; ");
  svg.append(s("desc", {}, summary));
  // The legend.
  let x = labelWidth;
  for (const item of series) {
    svg.append(s("rect", { x, y: 4, width: 12, height: 12, class: `bar ${item.className}` }));
    const text = s("text", { x: x + 16, y: 14, class: "legend" }, item.label);
    svg.append(text);
    x += 24 + 9 * item.label.length + 16;
  }
  // Grid lines at quarters of the scale.
  for (let i = 0; i <= 4; i++) {
    const gx = labelWidth + (plot * i) / 4;
    svg.append(s("line", { x1: gx, x2: gx, y1: legendHeight, y2: height - 2, class: "grid-line" }));
  }
  rows.forEach((r, i) => {
    const top = legendHeight + i * rowHeight + rowGap / 2;
    const group = s("g", { class: "row", "data-label": r.label });
    group.append(s("text", { x: labelWidth - 8, y: top + (rowHeight - rowGap) / 2 + 4, class: "label", "text-anchor": "end" }, r.label));
    series.forEach((item, j) => {
      const v = Number(r.values[item.key]) || 0;
      const y = top + j * (bar + gap);
      const w = Math.max(v > 0 ? 1 : 0, (plot * v) / max);
      const rect = s("rect", { x: labelWidth, y, width: w.toFixed(1), height: bar, class: `bar ${item.className}` });
      rect.append(s("title", {}, `${r.label} · ${item.label}: ${format(v)}`));
      group.append(rect);
      group.append(s("text", { x: labelWidth + w + 4, y: y + bar - 3, class: "value" }, format(v)));
    });
    svg.append(group);
  });
  return svg;
}
