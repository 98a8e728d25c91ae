// The reservoir's water: level, storage, inflow and outflow history, and the "what if a flood
// comes now" routing form (POST /api/hydrology/route) with its result drawn.

import { getJSON, postJSON } from "./api.js";
import { drawChart } from "./chart.js";
import { t } from "./i18n.js";
import { data } from "./state.js";
import { el, fill, fmt, interpolate, localTime, ms } from "./util.js";

const DAY = 24 * 3600e3;
const LEVEL_COLORS = { dead: "#8a6d3b", flood_control: "#d9822b", normal: "#2a7a2a",
  design_flood: "#c0392b", check_flood: "#8e44ad", crest: "#333" };

let lastRoute = null;
let days = 60;

function levelLines(levels, axis = "left", names = Object.keys(LEVEL_COLORS)) {
  return names.filter((n) => Number.isFinite(levels[n])).map((name) => ({
    label: `${t(`level.${name}`)} ${fmt(levels[name], 1)}`, value: levels[name],
    color: LEVEL_COLORS[name], axis,
  }));
}

async function readings(code, start) {
  if (!code) return null;
  try {
    return await getJSON(`/api/channels/${encodeURIComponent(code)}/readings`,
      { start, max_points: 900 });
  } catch {
    return null;
  }
}

export async function showHydrology(root) {
  const site = data.site;
  const levels = site.reservoir.levels;
  const form = routeForm(root);
  const rangeButtons = el("div", { cls: "ranges", attrs: { role: "group",
    "aria-label": t("instrument.range") } }, ...[7, 30, 90].map((d) => {
    const button = el("button", { text: t(`range.${d}`),
      attrs: { type: "button", "aria-pressed": String(d === days) } });
    button.addEventListener("click", () => {
      days = d;
      showHydrology(root);
    });
    return button;
  }));
  fill(root,
    el("h2", { text: t("hydro.title") }),
    el("div", { cls: "toolbar" }, rangeButtons),
    el("div", { cls: "grid-2" },
      el("section", { cls: "card" }, el("h3", { text: t("hydro.level") }),
        el("div", { cls: "chart-box", attrs: { id: "hydro-level" } })),
      el("section", { cls: "card" }, el("h3", { text: t("hydro.storage") }),
        el("div", { cls: "chart-box", attrs: { id: "hydro-storage" } }))),
    el("section", { cls: "card" }, el("h3", { text: t("hydro.flows") }),
      el("div", { cls: "chart-box", attrs: { id: "hydro-flows" } })),
    el("section", { cls: "card" }, el("h3", { text: t("hydro.route") }), form,
      el("div", { attrs: { id: "route-summary" } }),
      el("div", { cls: "chart-box", attrs: { id: "route-chart" } })),
  );
  if (lastRoute) drawRoute(root, lastRoute);

  const start = new Date(Date.now() - days * DAY).toISOString();
  const levelCode = site.analysis && site.analysis.level_channel;
  const hydrology = site.hydrology || {};
  const [level, inflow, outflow] = await Promise.all([
    readings(levelCode, start), readings(hydrology.inflow_channel, start),
    readings(hydrology.outflow_channel, start),
  ]);
  if (!root.querySelector("#hydro-level")) return;
  if (level) {
    const times = level.times.map(ms);
    drawChart(root.querySelector("#hydro-level"), {
      title: t("hydro.level"), size: { height: 260 }, leftLabel: t("unit.m"),
      series: [{ label: `${levelCode} ${t("series.level")}`, times, values: level.values,
        color: "#1f5fa8" }],
      hlines: levelLines(levels, "left", ["dead", "flood_control", "normal"]),
    });
    // storage from the stage-storage curve of the site file
    const curve = site.reservoir.storage_curve || [];
    const zs = curve.map((p) => p.level);
    const ss = curve.map((p) => p.storage / 1e4);
    drawChart(root.querySelector("#hydro-storage"), {
      title: t("hydro.storage"), size: { height: 260 }, leftLabel: t("unit.10k_m3"),
      series: [{ label: t("series.storage"), times,
        values: level.values.map((z) => interpolate(z, zs, ss)), color: "#2a7a2a" }],
      hlines: site.reservoir.design_storage ? [{
        label: `${t("reservoir.storage")} 100% ${fmt(site.reservoir.design_storage / 1e4, 0)}`,
        value: site.reservoir.design_storage / 1e4, color: "#2a7a2a" }] : [],
    });
  }
  const flows = [];
  if (inflow) {
    flows.push({ label: t("series.inflow"), times: inflow.times.map(ms), values: inflow.values,
      color: "#1f77b4" });
  }
  if (outflow) {
    flows.push({ label: t("series.outflow"), times: outflow.times.map(ms),
      values: outflow.values, color: "#d62728" });
  }
  if (flows.length) {
    drawChart(root.querySelector("#hydro-flows"), {
      title: t("hydro.flows"), size: { height: 240 }, leftLabel: t("unit.m3/s"), series: flows,
    });
  }
}

function field(name, label, unit, attrs) {
  const id = `route-${name}`;
  return el("label", { attrs: { for: id } }, el("span", { text: label }),
    el("span", { cls: "with-unit" },
      el("input", { attrs: { id, name, type: "number", step: "any", ...attrs } }),
      el("span", { cls: "unit", text: unit })));
}

function routeForm(root) {
  const form = el("form", { cls: "route-form" },
    field("peak", t("hydro.peak"), t("unit.m3/s"), { value: 162, min: 0.1, required: true }),
    field("volume", t("hydro.volume"), t("unit.10k_m3"), { value: 300, min: 0.1, required: true }),
    field("plateau", t("hydro.plateau"), t("unit.min"), { value: 15, min: 0 }),
    field("start_level", t("hydro.start_level"), t("unit.m"), {
      placeholder: data.hydrology ? fmt(data.hydrology.level, 2) : t("hydro.start_level_hint"),
      title: t("hydro.start_level_hint") }),
    el("button", { text: t("hydro.run"), attrs: { type: "submit" } }),
    el("span", { cls: "form-status", attrs: { role: "status" } }),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = new FormData(form);
    const status = form.querySelector(".form-status");
    status.textContent = "…";
    form.dataset.state = "running";
    const startLevel = values.get("start_level");
    const body = {
      design: {
        peak: Number(values.get("peak")),
        volume: Number(values.get("volume")) * 1e4,
        plateau_s: Number(values.get("plateau") || 0) * 60,
      },
      start_level: startLevel === "" ? null : Number(startLevel),
    };
    try {
      lastRoute = await postJSON("/api/hydrology/route", body);
      status.textContent = "";
      drawRoute(root, lastRoute);
      form.dataset.state = "done";
    } catch (error) {
      status.textContent = t("hydro.failed", { message: error.message });
      form.dataset.state = "failed";
    }
  });
  return form;
}

function drawRoute(root, result) {
  const exceeded = Object.keys(result.levels_exceeded || {});
  const summary = el("dl", { cls: "facts inline route-summary" },
    el("dt", { text: t("hydro.peak_inflow") }),
    el("dd", { text: `${fmt(result.peak_inflow, 1)} ${t("unit.m3/s")}` }),
    el("dt", { text: t("hydro.peak_outflow") }),
    el("dd", { text: `${fmt(result.peak_outflow, 1)} ${t("unit.m3/s")}` }),
    el("dt", { text: t("hydro.attenuation") }),
    el("dd", { text: `${fmt(100 * result.attenuation, 1)} %` }),
    el("dt", { text: t("hydro.max_level") }),
    el("dd", { text: `${fmt(result.max_level, 2)} ${t("unit.m")}` }),
    el("dt", { text: t("hydro.max_storage") }),
    el("dd", { text: `${fmt(result.max_storage / 1e4, 0)} ${t("unit.10k_m3")}` }),
    el("dt", { text: t("hydro.time_max_level") }),
    el("dd", { text: localTime(result.time_of_max_level) }),
    el("dt", { text: t("hydro.exceeded") }),
    el("dd", { cls: exceeded.length ? "bad" : "",
      text: exceeded.length ? exceeded.map((n) => t(`level.${n}`)).join(", ")
        : t("hydro.exceeded_none") }),
  );
  fill(root.querySelector("#route-summary"), summary);
  const times = result.series.time.map(ms);
  drawChart(root.querySelector("#route-chart"), {
    title: t("hydro.route"), size: { height: 280 }, leftLabel: t("unit.m3/s"),
    rightLabel: t("unit.m"),
    series: [
      { label: t("series.inflow"), times, values: result.series.inflow, color: "#1f77b4" },
      { label: t("series.outflow"), times, values: result.series.outflow, color: "#d62728" },
      { label: t("series.level"), times, values: result.series.level, color: "#2a7a2a",
        axis: "right", dash: "6 3" },
    ],
  });
}
