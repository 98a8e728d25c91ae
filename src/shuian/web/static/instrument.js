// One channel in detail: its history with the model envelope and flags, a second series on a
// right axis, the model's effects (hydrostatic, seasonal or thermal, time) and its alarms.

import { getJSON } from "./api.js";
import { drawChart } from "./chart.js";
import { localName, t, term } from "./i18n.js";
import { channelState, data } from "./state.js";
import { el, fill, fmt, interpolate, localTime, ms } from "./util.js";

const COLORS = {
  measured: "#1f5fa8", predicted: "#7a3fb0", compare: "#d9822b", warnBand: "rgba(122,63,176,0.16)",
  alarmBand: "rgba(122,63,176,0.07)", hydrostatic: "#1f77b4", seasonal: "#2ca02c",
  thermal: "#2ca02c", time: "#8c564b",
};
const DAY = 24 * 3600e3;
const POINTS = 900;
/** Days of readings before the range that a model's lagged terms need (rain, level lags). */
const LOOKBACK_DAYS = 90;

const view = { code: null, range: { days: 30 }, compare: undefined, token: 0 };

/** The channel code for a route: a channel code, or an instrument code (its first channel). */
function resolve(code) {
  if (data.channelByCode.has(code)) return code;
  const instrument = data.site.instruments.find((i) => i.code === code);
  return instrument ? instrument.channels[0].code : null;
}

function rangeParams() {
  if (view.range.start !== undefined) {
    return { start: new Date(view.range.start).toISOString(),
      end: new Date(view.range.end).toISOString() };
  }
  if (!view.range.days) return {};
  return { start: new Date(Date.now() - view.range.days * DAY).toISOString() };
}

/**
 * The model's components over the range. The server evaluates the model on the readings of the
 * range only, so lagged terms (level lags, 30-day rain) are empty at its start: ask for
 * LOOKBACK_DAYS more, with proportionally more points, and keep the range.
 */
async function fetchComponents(enc, params) {
  if (!params.start) return optional(getJSON(`/api/channels/${enc}/components`, params));
  const start = ms(params.start);
  const end = params.end ? ms(params.end) : Date.now();
  const factor = (end - start + LOOKBACK_DAYS * DAY) / Math.max(end - start, 3600e3);
  const answer = await optional(getJSON(`/api/channels/${enc}/components`, {
    ...params, start: new Date(start - LOOKBACK_DAYS * DAY).toISOString(),
    max_points: Math.min(100_000, Math.ceil(params.max_points * factor)),
  }));
  if (!answer) return null;
  const keep = answer.times.map((time) => ms(time) >= start);
  const cut = (values) => values.filter((_, i) => keep[i]);
  return { ...answer, times: cut(answer.times), values: cut(answer.values),
    residual: cut(answer.residual),
    parts: Object.fromEntries(Object.entries(answer.parts).map(([k, v]) => [k, cut(v)])) };
}

async function optional(promise) {
  try {
    return await promise;
  } catch {
    return null;
  }
}

export async function showInstrument(root, code) {
  const channelCode = resolve(decodeURIComponent(code));
  if (!channelCode) {
    fill(root, el("p", { cls: "problem", text: t("instrument.unknown", { code }) }));
    return;
  }
  if (view.code !== channelCode) {
    view.code = channelCode;
    view.range = { days: 30 };
    const level = data.site.analysis && data.site.analysis.level_channel;
    view.compare = level && level !== channelCode ? level : "";
  }
  renderFrame(root);
  await loadCharts(root);
}

function renderFrame(root) {
  const { channel, instrument } = data.channelByCode.get(view.code);
  const reading = data.latest.get(view.code);
  const state = channelState(view.code);
  const facts = el("dl", { cls: "facts inline" });
  const add = (label, value) => {
    if (value !== null && value !== undefined && value !== "") {
      facts.append(el("dt", { text: label }), el("dd", { text: value }));
    }
  };
  add(t("instrument.section"), instrument.section);
  add(t("instrument.elevation"), instrument.elevation === null ? null
    : `${fmt(instrument.elevation, 1)} ${t("unit.m")}`);
  add(t("instrument.chainage"), instrument.chainage === null ? null
    : `${fmt(instrument.chainage, 1)} ${t("unit.m")}`);
  add(t("instrument.offset"), instrument.offset === null ? null
    : `${fmt(instrument.offset, 1)} ${t("unit.m")}`);
  add(t("latest.quantity"), term("quantity", channel.quantity));
  add(t("latest.value"), reading
    ? `${fmt(reading.value, 3)} ${term("unit", channel.unit)} · ${localTime(reading.time)}` : "—");

  const tabs = el("nav", { cls: "tabs", attrs: { "aria-label": instrument.code } },
    ...instrument.channels.map((c) => el("a", {
      text: c.code, cls: c.code === view.code ? "active" : "",
      attrs: { href: `#/instrument/${encodeURIComponent(c.code)}`,
        "aria-current": c.code === view.code ? "page" : null },
    })));

  const ranges = el("div", { cls: "ranges", attrs: { role: "group",
    "aria-label": t("instrument.range") } });
  for (const days of [7, 30, 90, 0]) {
    const button = el("button", { text: t(days ? `range.${days}` : "range.all"),
      attrs: { type: "button", "aria-pressed": String(view.range.start === undefined
        && view.range.days === days) } });
    button.addEventListener("click", () => {
      view.range = { days };
      showInstrument(root, view.code);
    });
    ranges.append(button);
  }

  const select = el("select", { attrs: { id: "compare" } },
    el("option", { text: t("instrument.compare_none"), attrs: { value: "" } }),
    ...data.channels.filter((c) => c.code !== view.code).map((c) => el("option", {
      text: `${c.code} — ${term("quantity", c.quantity)}`,
      attrs: { value: c.code, selected: c.code === view.compare } })));
  select.addEventListener("change", () => {
    view.compare = select.value;
    loadCharts(root);
  });

  fill(root,
    el("p", {}, el("a", { text: t("instrument.back"), attrs: { href: "#/overview" } })),
    el("h2", {}, `${view.code} `,
      el("span", { cls: "muted", text: `${term("type", instrument.type)}${localName(instrument) ? ` — ${localName(instrument)}` : ""}` }),
      " ", el("span", { cls: `badge state-${state}`, text: t(`state.${state}`) }),
      " ", el("span", { cls: "badge plain",
        text: t(instrument.manual ? "instrument.manual" : "instrument.automatic") })),
    tabs,
    facts,
    el("section", { cls: "card" },
      el("div", { cls: "toolbar" }, ranges,
        el("label", { attrs: { for: "compare" } }, `${t("instrument.compare")} `, select)),
      el("h3", { text: t("instrument.history") }),
      el("p", { cls: "hint", text: t("instrument.zoom_hint") }),
      el("div", { cls: "chart-box", attrs: { id: "history-chart" } }),
      el("p", { cls: "hint", attrs: { id: "history-note" } }),
      el("p", { cls: "explain", attrs: { id: "explain" } })),
    el("section", { cls: "card" },
      el("h3", { text: t("instrument.components") }),
      el("div", { cls: "chart-box", attrs: { id: "components-chart" } })),
    el("section", { cls: "card" },
      el("h3", { text: t("alarms.history") }),
      el("div", { attrs: { id: "alarm-history" } })),
  );
}

async function loadCharts(root) {
  const token = ++view.token;
  const code = view.code;
  const params = { ...rangeParams(), max_points: POINTS };
  const enc = encodeURIComponent(code);
  const [readings, components, flags, compare, alarms] = await Promise.all([
    optional(getJSON(`/api/channels/${enc}/readings`, params)),
    fetchComponents(enc, params),
    optional(getJSON(`/api/channels/${enc}/flags`, { start: params.start, end: params.end })),
    view.compare ? optional(getJSON(`/api/channels/${encodeURIComponent(view.compare)}/readings`,
      params)) : null,
    optional(getJSON("/api/alarms", { limit: 1000 })),
  ]);
  if (token !== view.token || !root.querySelector("#history-chart")) return;
  const { channel } = data.channelByCode.get(code);
  const unit = term("unit", channel.unit);
  const times = readings ? readings.times.map(ms) : [];
  const series = [{ label: `${code} ${t("series.measured")}`, times,
    values: readings ? readings.values : [], color: COLORS.measured }];
  const bands = [];
  if (components) {
    const ctimes = components.times.map(ms);
    const predicted = components.parts.predicted || [];
    const band = (k) => ({
      lower: predicted.map((p) => (p === null ? null : p - k * components.sigma)),
      upper: predicted.map((p) => (p === null ? null : p + k * components.sigma)),
    });
    bands.push({ label: t("series.envelope", { k: fmt(components.alarm_sigma, 1) }),
      times: ctimes, ...band(components.alarm_sigma), color: COLORS.alarmBand });
    bands.push({ label: t("series.envelope", { k: fmt(components.warning_sigma, 1) }),
      times: ctimes, ...band(components.warning_sigma), color: COLORS.warnBand });
    series.push({ label: t("series.predicted"), times: ctimes, values: predicted,
      color: COLORS.predicted, dash: "5 3", width: 1.2 });
  }
  if (compare) {
    const info = data.channelByCode.get(view.compare);
    series.push({ label: `${view.compare} (${term("unit", info ? info.channel.unit : "")})`,
      times: compare.times.map(ms), values: compare.values, color: COLORS.compare,
      axis: "right" });
  }
  const markers = (flags || []).map((f) => ({
    time: ms(f.time), value: interpolate(ms(f.time), times, readings ? readings.values : []),
    label: `${localTime(f.time)} ${f.kind}: ${f.detail}`,
  }));
  const zoom = (start, end) => {
    view.range = { start, end };
    loadCharts(root);
  };
  const shown = drawChart(root.querySelector("#history-chart"), {
    title: `${code} ${t("instrument.history")}`, series, bands, markers,
    markerLabel: t("series.flag"),
    leftLabel: `${code} (${unit})`,
    rightLabel: view.compare ? view.compare : "",
    start: view.range.start, end: view.range.end,
    onZoom: zoom,
  });
  root.querySelector("#history-note").textContent = [
    readings ? t("instrument.points", { returned: readings.returned, count: readings.count }) : "",
    components ? t("instrument.model", { kind: components.kind.toUpperCase(),
      version: components.model_version, sigma: fmt(components.sigma, 3), unit,
      k: `${fmt(components.warning_sigma, 1)}/${fmt(components.alarm_sigma, 1)}` })
      : t("instrument.no_model"),
  ].filter(Boolean).join(" · ");

  // effects: each part as its change since the start of the range
  const box = root.querySelector("#components-chart");
  if (components) {
    const ctimes = components.times.map(ms);
    const parts = Object.keys(components.parts)
      .filter((name) => !["constant", "predicted"].includes(name));
    drawChart(box, {
      title: t("instrument.components"),
      size: { height: 220 },
      leftLabel: unit,
      series: parts.map((name) => {
        const values = components.parts[name];
        const first = values.find((v) => v !== null) ?? 0;
        return { label: term("series", name), times: ctimes,
          values: values.map((v) => (v === null ? null : v - first)),
          color: COLORS[name] || "#555" };
      }),
      start: view.range.start, end: view.range.end,
      onZoom: zoom,
    });
    explain(root, code, shown, token);
  } else {
    fill(box, el("p", { cls: "muted", text: t("instrument.no_model") }));
    root.querySelector("#explain").textContent = "";
  }

  const history = (alarms || []).filter((a) => a.channel === code);
  const table = history.length ? el("table", { cls: "data" },
    el("thead", {}, el("tr", {},
      ...["latest.state", "latest.value", "alarms.raised", "latest.time"].map((k) =>
        el("th", { text: t(k) })))),
    el("tbody", {}, ...history.map((a) => el("tr", {},
      el("td", {}, el("span", { cls: `badge state-${a.peak_level}`, text: t(`state.${a.peak_level}`) }),
        ` ${term("rule", a.rule)} · ${t(`alarm_state.${a.state}`)}`),
      el("td", { cls: "num", text: fmt(a.value, 3) }),
      el("td", { text: localTime(a.raised) }),
      el("td", { text: a.message }),
    )))) : el("p", { cls: "muted", text: t("alarms.history_none") });
  fill(root.querySelector("#alarm-history"), table);
}

/** "PL1.R changed +2.1 mm: +1.8 from the water level, ..." over the range shown. */
async function explain(root, code, shown, token) {
  const target = root.querySelector("#explain");
  target.textContent = "";
  const answer = await optional(getJSON(`/api/channels/${encodeURIComponent(code)}/explain`, {
    from: new Date(shown.start).toISOString(), to: new Date(shown.end).toISOString(),
  }));
  if (answer && token === view.token) target.textContent = answer.sentence;
}
