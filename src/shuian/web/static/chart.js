// Time-series charts drawn as SVG: lines on a left and an optional right axis, shaded bands
// (a model envelope), horizontal reference lines, point markers (flags) and drag-to-zoom.

import { el, fmt, localTime, svg } from "./util.js";

const SIZE = { width: 900, height: 300, left: 62, right: 62, top: 14, bottom: 34 };
const HOUR = 3600e3;
const DAY = 24 * HOUR;
const TIME_STEPS = [HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY,
  30 * DAY, 91 * DAY, 182 * DAY, 365 * DAY];

/** About `count` round numbers spanning [low, high]. */
function niceTicks(low, high, count = 5) {
  if (!(high > low)) return [low];
  const raw = (high - low) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * power).find((s) => s >= raw) || raw;
  const ticks = [];
  for (let v = Math.ceil(low / step) * step; v <= high + step * 1e-9; v += step) {
    ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  }
  return ticks;
}

function extent(arrays, extra = []) {
  let low = Infinity;
  let high = -Infinity;
  for (const values of arrays) {
    for (const v of values) {
      if (v === null || v === undefined || !Number.isFinite(v)) continue;
      if (v < low) low = v;
      if (v > high) high = v;
    }
  }
  for (const v of extra) {
    if (Number.isFinite(v)) {
      low = Math.min(low, v);
      high = Math.max(high, v);
    }
  }
  if (!Number.isFinite(low)) return [0, 1];
  if (low === high) return [low - 1, high + 1];
  const pad = (high - low) * 0.06;
  return [low - pad, high + pad];
}

/** An SVG path through the points, broken where a value is missing. */
function linePath(times, values, x, y) {
  let d = "";
  let pen = false;
  for (let i = 0; i < times.length; i += 1) {
    const v = values[i];
    if (v === null || v === undefined || !Number.isFinite(v)) {
      pen = false;
      continue;
    }
    d += `${pen ? "L" : "M"}${x(times[i]).toFixed(1)},${y(v).toFixed(1)}`;
    pen = true;
  }
  return d;
}

function bandPath(times, lower, upper, x, y) {
  const top = [];
  const bottom = [];
  for (let i = 0; i < times.length; i += 1) {
    if (!Number.isFinite(lower[i]) || !Number.isFinite(upper[i])) continue;
    top.push(`${x(times[i]).toFixed(1)},${y(upper[i]).toFixed(1)}`);
    bottom.push(`${x(times[i]).toFixed(1)},${y(lower[i]).toFixed(1)}`);
  }
  if (!top.length) return "";
  return `M${top.join("L")}L${bottom.reverse().join("L")}Z`;
}

/**
 * Draw a chart into `container` (replacing what was there).
 *
 * options: {
 *   title: accessible name,
 *   series: [{label, times (ms), values, color, axis: "left" | "right", dash}],
 *   bands: [{label, times, lower, upper, color}],
 *   hlines: [{label, value, color, axis}],
 *   markers: [{time, value, label}]  (drawn as points on the left axis),
 *   leftLabel, rightLabel: axis titles,
 *   onZoom(startMs, endMs): called after a drag across the plot,
 * }
 */
export function drawChart(container, options) {
  const { width, height, left, right, top, bottom } = { ...SIZE, ...(options.size || {}) };
  const series = options.series || [];
  const bands = options.bands || [];
  const hlines = options.hlines || [];
  const markers = options.markers || [];
  const leftSeries = series.filter((s) => s.axis !== "right");
  const rightSeries = series.filter((s) => s.axis === "right");

  const allTimes = [...series, ...bands].flatMap((s) => [s.times[0], s.times[s.times.length - 1]])
    .filter(Number.isFinite);
  const t0 = options.start ?? Math.min(...allTimes);
  const t1 = options.end ?? Math.max(...allTimes);
  const span = t1 > t0 ? t1 - t0 : HOUR;

  const leftHlines = hlines.filter((h) => h.axis !== "right").map((h) => h.value);
  const [l0, l1] = extent(
    [...leftSeries.map((s) => s.values), ...bands.flatMap((b) => [b.lower, b.upper]),
      markers.map((m) => m.value)],
    options.includeHlines ? leftHlines : [],
  );
  const [r0, r1] = extent(rightSeries.map((s) => s.values));

  const plotW = width - left - (rightSeries.length ? right : 16);
  const plotH = height - top - bottom;
  const x = (time) => left + ((time - t0) / span) * plotW;
  const yl = (v) => top + plotH - ((v - l0) / (l1 - l0)) * plotH;
  const yr = (v) => top + plotH - ((v - r0) / (r1 - r0)) * plotH;

  const root = svg("svg", {
    viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img",
    "aria-label": options.title || "",
  });
  const clipId = `clip-${Math.random().toString(36).slice(2, 9)}`;
  const defs = svg("defs");
  const clip = svg("clipPath", { id: clipId });
  clip.append(svg("rect", { x: left, y: top, width: plotW, height: plotH }));
  defs.append(clip);
  root.append(defs);

  // grid and axes
  const grid = svg("g", { class: "grid" });
  for (const v of niceTicks(l0, l1)) {
    grid.append(svg("line", { x1: left, x2: left + plotW, y1: yl(v), y2: yl(v) }));
    root.append(svg("text", { x: left - 6, y: yl(v) + 4, class: "tick", "text-anchor": "end" },
      fmt(v, 3)));
  }
  if (rightSeries.length) {
    for (const v of niceTicks(r0, r1)) {
      root.append(svg("text", {
        x: left + plotW + 6, y: yr(v) + 4, class: "tick right", "text-anchor": "start",
      }, fmt(v, 3)));
    }
  }
  const step = TIME_STEPS.find((s) => span / s <= 7) || TIME_STEPS[TIME_STEPS.length - 1];
  const offset = 8 * HOUR; // ticks on local midnights for UTC+8 sites; close enough elsewhere
  for (let time = Math.ceil((t0 + offset) / step) * step - offset; time <= t1; time += step) {
    grid.append(svg("line", { x1: x(time), x2: x(time), y1: top, y2: top + plotH }));
    const text = localTime(time);
    const label = step < DAY ? text.slice(5) : text.slice(0, 10);
    root.append(svg("text", { x: x(time), y: height - bottom + 16, class: "tick",
      "text-anchor": "middle" }, label));
  }
  root.append(grid);
  root.append(svg("rect", { x: left, y: top, width: plotW, height: plotH, class: "frame" }));
  if (options.leftLabel) {
    root.append(svg("text", { x: 12, y: top + plotH / 2, class: "axis-label",
      transform: `rotate(-90 12 ${top + plotH / 2})`, "text-anchor": "middle" },
    options.leftLabel));
  }
  if (options.rightLabel && rightSeries.length) {
    const xr = width - 10;
    root.append(svg("text", { x: xr, y: top + plotH / 2, class: "axis-label",
      transform: `rotate(90 ${xr} ${top + plotH / 2})`, "text-anchor": "middle" },
    options.rightLabel));
  }

  // data
  const plot = svg("g", { "clip-path": `url(#${clipId})` });
  for (const band of bands) {
    plot.append(svg("path", {
      d: bandPath(band.times, band.lower, band.upper, x, yl), class: "band",
      fill: band.color, "data-series": band.label,
    }));
  }
  for (const line of hlines) {
    const y = line.axis === "right" ? yr : yl;
    if (line.value < (line.axis === "right" ? r0 : l0) || line.value > (line.axis === "right" ? r1 : l1)) {
      continue;
    }
    plot.append(svg("line", { x1: left, x2: left + plotW, y1: y(line.value), y2: y(line.value),
      class: "hline", stroke: line.color }));
    plot.append(svg("text", { x: left + plotW - 4, y: y(line.value) - 3, class: "hline-label",
      "text-anchor": "end", fill: line.color }, line.label));
  }
  for (const s of series) {
    const y = s.axis === "right" ? yr : yl;
    plot.append(svg("path", {
      d: linePath(s.times, s.values, x, y), class: "line", stroke: s.color,
      "stroke-dasharray": s.dash, "stroke-width": s.width || 1.5, "data-series": s.label,
    }));
  }
  for (const marker of markers) {
    if (!Number.isFinite(marker.value)) continue;
    const dot = svg("circle", { cx: x(marker.time), cy: yl(marker.value), r: 4, class: "flag" });
    dot.append(svg("title", {}, marker.label));
    plot.append(dot);
  }
  root.append(plot);

  // drag to zoom
  if (options.onZoom) {
    const overlay = svg("rect", { x: left, y: top, width: plotW, height: plotH,
      class: "overlay" });
    const selection = svg("rect", { y: top, height: plotH, width: 0, class: "selection",
      visibility: "hidden" });
    root.append(selection, overlay);
    const toX = (event) => {
      const box = root.getBoundingClientRect();
      const px = ((event.clientX - box.left) / box.width) * width;
      return Math.max(left, Math.min(left + plotW, px));
    };
    let from = null;
    overlay.addEventListener("pointerdown", (event) => {
      from = toX(event);
      overlay.setPointerCapture(event.pointerId);
      selection.setAttribute("x", from);
      selection.setAttribute("width", 0);
      selection.setAttribute("visibility", "visible");
    });
    overlay.addEventListener("pointermove", (event) => {
      if (from === null) return;
      const to = toX(event);
      selection.setAttribute("x", Math.min(from, to));
      selection.setAttribute("width", Math.abs(to - from));
    });
    overlay.addEventListener("pointerup", (event) => {
      if (from === null) return;
      const to = toX(event);
      selection.setAttribute("visibility", "hidden");
      const [a, b] = [Math.min(from, to), Math.max(from, to)];
      from = null;
      if (b - a < 6) return;
      const time = (px) => t0 + ((px - left) / plotW) * span;
      options.onZoom(time(a), time(b));
    });
  }

  const legend = el("ul", { cls: "legend" });
  for (const s of [...series, ...bands]) {
    const swatch = el("span", { cls: s.lower ? "swatch band" : "swatch" });
    swatch.style.background = s.color;
    legend.append(el("li", {}, swatch, `${s.label}${s.axis === "right" ? " ▸" : ""}`));
  }
  if (markers.length) {
    legend.append(el("li", {}, el("span", { cls: "swatch flag" }), options.markerLabel || ""));
  }
  container.replaceChildren(root, legend);
  return { start: t0, end: t1 };
}
