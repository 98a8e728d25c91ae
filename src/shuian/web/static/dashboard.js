// The control-room overview: the dam schematic, the reservoir panel with the cameras' newest
// images beside it, the open alarms, the telemetry sources, the camera feeds and the latest value
// of every channel. Live events recolour markers and update values in place; the telemetry panel
// follows its own poll (telemetry.js), the cameras theirs (cameras.js).

import { renderAlarms } from "./alarms.js";
import { renderCameraStatus, renderCameraTiles } from "./cameras.js";
import { t, term } from "./i18n.js";
import { drawSchematic, setMarkerState, STATES } from "./schematic.js";
import { channelState, data, instrumentState } from "./state.js";
import { renderTelemetry } from "./telemetry.js";
import { el, fill, fmt, localTime, svg, timeZone } from "./util.js";

const LEVEL_ORDER = ["dead", "flood_control", "normal", "design_flood", "check_flood", "crest"];

let markers = new Map();

function legend() {
  const list = el("ul", { cls: "legend states" });
  for (const state of STATES) {
    list.append(el("li", {}, el("span", { cls: `dot state-${state}` }), t(`state.${state}`)));
  }
  list.append(el("li", {}, el("span", { cls: "dot square" }), t("instrument.manual")));
  return list;
}

/** Draw everything of the overview (first show, language change). */
export function renderOverview(root, { onSelect }) {
  const schematic = root.querySelector("#schematic");
  markers = drawSchematic(schematic, data.site, {
    onSelect, level: data.hydrology ? data.hydrology.level : null,
  });
  fill(root.querySelector("#schematic-legend"), legend());
  renderTelemetry(root.querySelector("#telemetry"));
  updateOverview(root);
}

/** The cameras' tiles and their feeds' status (hidden when the site has no camera). */
function renderCameras(root) {
  root.querySelector("#cameras").hidden = !renderCameraTiles(root.querySelector("#camera-tiles"));
  renderCameraStatus(root.querySelector("#camera-status"));
}

/** Update the parts that live data change. */
export function updateOverview(root, change = { kind: "all" }) {
  renderCameras(root);
  if (change.kind === "cameras") return;
  const now = Date.now();
  for (const instrument of data.site.instruments) {
    const marker = markers.get(instrument.code);
    if (marker) setMarkerState(marker, instrument, instrumentState(instrument, now));
  }
  renderReservoir(root.querySelector("#reservoir"));
  renderAlarms(root.querySelector("#alarm-list"));
  renderLatest(root.querySelector("#latest"), change);
}

// ---- reservoir panel -------------------------------------------------------------------------

/** A vertical bar of the level against the characteristic levels. */
function levelGauge(levels, level) {
  const width = 230;
  const height = 270;
  const top = 14;
  const bottom = 260;
  const low = levels.dead - (levels.crest - levels.dead) * 0.15;
  const y = (z) => bottom - ((z - low) / (levels.crest - low)) * (bottom - top);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "gauge", role: "img",
    "aria-label": `${t("reservoir.level")} ${fmt(level, 2)} m` });
  root.append(svg("rect", { x: 20, y: top, width: 40, height: bottom - top, class: "gauge-tube" }));
  if (Number.isFinite(level)) {
    const yl = Math.max(top, y(level));
    root.append(svg("rect", { x: 20, y: yl, width: 40, height: bottom - yl, class: "gauge-water" }));
    root.append(svg("text", { x: 40, y: yl - 4, class: "gauge-now", "text-anchor": "middle" },
      fmt(level, 2)));
  }
  for (const name of LEVEL_ORDER) {
    const z = levels[name];
    if (!Number.isFinite(z)) continue;
    const yz = y(z);
    root.append(svg("line", { x1: 14, x2: 66, y1: yz, y2: yz, class: `gauge-mark mark-${name}` }));
  }
  // labels right of the tube, from the top down, pushed apart so that close levels stay readable
  let lastY = top - 4;
  for (const name of [...LEVEL_ORDER].reverse()) {
    const z = levels[name];
    if (!Number.isFinite(z)) continue;
    const ly = Math.max(y(z) + 4, lastY + 13);
    lastY = ly;
    root.append(svg("line", { x1: 66, x2: 80, y1: y(z), y2: ly - 4, class: "gauge-leader" }));
    root.append(svg("text", { x: 82, y: ly, class: "gauge-label" },
      `${t(`level.${name}`)} ${fmt(z, 1)}`));
  }
  return root;
}

function fact(label, value, unit) {
  return [el("dt", { text: label }), el("dd", {}, el("b", { text: value }), ` ${unit || ""}`)];
}

export function renderReservoir(box) {
  const state = data.hydrology;
  if (!state) {
    fill(box, el("p", { cls: "muted", text: t("reservoir.unavailable") }));
    return;
  }
  const facts = el("dl", { cls: "facts" },
    ...fact(t("reservoir.level"), fmt(state.level, 2), t("unit.m")),
    ...fact(t("reservoir.storage"), fmt(state.storage / 1e4, 0), t("unit.10k_m3")),
    ...fact(t("reservoir.percent"), fmt(state.percent_of_design, 1), "%"),
    ...fact(t("reservoir.inflow"), fmt(state.inflow, 2), t("unit.m3/s")),
    ...fact(t("reservoir.outflow"), fmt(state.outflow, 2), t("unit.m3/s")),
    ...fact(t("reservoir.rain"), fmt(data.rain24h, 1), t("unit.mm")),
  );
  const percent = Math.max(0, Math.min(100, state.percent_of_design || 0));
  const bar = el("div", { cls: "storage-bar", attrs: { role: "meter", "aria-valuemin": 0,
    "aria-valuemax": 100, "aria-valuenow": percent.toFixed(0),
    "aria-label": t("reservoir.percent") } }, el("span"));
  bar.firstChild.style.width = `${percent}%`;
  fill(box, el("div", { cls: "reservoir-grid" },
    state.levels ? levelGauge(state.levels, state.level) : null,
    el("div", {}, facts, bar,
      el("p", { cls: "hint", text: `${t("reservoir.updated")} ${localTime(state.time)}` }))));
}

// ---- latest values ---------------------------------------------------------------------------

function renderLatest(table, change) {
  const body = table.tBodies[0];
  const now = Date.now();
  if (change.kind === "reading" && body.rows.length) {
    const row = body.querySelector(`tr[data-code="${CSS.escape(change.code)}"]`);
    if (row) {
      row.replaceWith(latestRow(change.code, now, true));
      // other rows may have changed state (stale) in the meantime: cheap to refresh
      for (const other of body.rows) {
        const state = channelState(other.dataset.code, now);
        const badge = other.querySelector(".state");
        badge.className = `state badge state-${state}`;
        badge.textContent = t(`state.${state}`);
      }
      return;
    }
  }
  body.replaceChildren(...data.channels.map((c) => latestRow(c.code, now, false)));
  document.getElementById("zone-note").textContent = t("latest.times_in", { zone: timeZone() });
}

function latestRow(code, now, fresh) {
  const { channel, instrument } = data.channelByCode.get(code) || {};
  const reading = data.latest.get(code);
  const state = channelState(code, now);
  const link = el("a", { text: code, attrs: { href: `#/instrument/${encodeURIComponent(code)}` } });
  const row = el("tr", { attrs: { "data-code": code }, cls: fresh ? "fresh" : "" },
    el("td", {}, link),
    el("td", { text: instrument ? instrument.code : "" }),
    el("td", { cls: "wrap", text: instrument ? term("type", instrument.type) : "" }),
    el("td", { cls: "wrap", text: channel ? term("quantity", channel.quantity) : "" }),
    el("td", { cls: "num value", text: reading ? fmt(reading.value, 3) : "—" }),
    el("td", { text: channel ? term("unit", channel.unit) : "" }),
    el("td", { cls: "time", text: reading ? localTime(reading.time) : t("state.none") }),
    el("td", {}, el("span", { cls: `state badge state-${state}`, text: t(`state.${state}`) })),
  );
  return row;
}
