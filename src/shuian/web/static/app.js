// Shuian's first page: the site, its channels with their latest reading, and one chart.
// Plain JavaScript, no framework, nothing fetched from outside this server.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const CHART = { width: 900, height: 320, left: 64, right: 16, top: 16, bottom: 40 };

const state = { site: null, channels: [], zone: "UTC", timeFormat: null, selected: null };

// ---- helpers -----------------------------------------------------------------------------

/** Fetch JSON from the API; throw an Error carrying the API's error message. */
async function getJSON(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const message = body && body.error ? body.error.message : response.statusText;
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  return body;
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function svg(tag, attributes, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function showProblem(message) {
  const banner = document.getElementById("problem");
  banner.textContent = message;
  banner.hidden = false;
}

/** A UTC ISO time (…Z) shown in the site's time zone as YYYY-MM-DD HH:MM. */
function localTime(iso) {
  const parts = {};
  for (const part of state.timeFormat.formatToParts(new Date(iso))) parts[part.type] = part.value;
  const hour = parts.hour === "24" ? "00" : parts.hour;
  return `${parts.year}-${parts.month}-${parts.day} ${hour}:${parts.minute}`;
}

function formatNumber(value) {
  const number = Number(value);
  if (number !== 0 && Math.abs(number) < 0.001) return number.toExponential(2);
  const text = number.toLocaleString("en-US", { maximumFractionDigits: 3, useGrouping: false });
  return text === "-0" ? "0" : text;
}

// ---- site and channels ---------------------------------------------------------------------

function showSite(site) {
  const reservoir = site.reservoir;
  document.getElementById("name").textContent = reservoir.name;
  document.getElementById("name-zh").textContent = reservoir.name_zh;
  document.title = `${reservoir.name} ${reservoir.name_zh} — Shuian`;
  document.getElementById("synthetic").hidden = !reservoir.synthetic;
  document.getElementById("zone").textContent = reservoir.timezone;

  const dam = site.dam;
  const levels = reservoir.levels;
  const facts = [
    ["Name", dam.name],
    ["Type", dam.type.replaceAll("_", " ")],
    ["Height", `${formatNumber(dam.height)} m`],
    ["Crest length", `${formatNumber(dam.crest_length)} m`],
    ["Crest elevation", `${formatNumber(dam.crest_elevation)} m`],
    ["Crest width", dam.crest_width == null ? null : `${formatNumber(dam.crest_width)} m`],
    ["Base width", dam.base_width == null ? null : `${formatNumber(dam.base_width)} m`],
    ["Sections", dam.sections.length ? dam.sections.map((s) => s.code).join(", ") : null],
    ["Normal level", `${formatNumber(levels.normal)} m`],
    ["Flood-control level", `${formatNumber(levels.flood_control)} m`],
    ["Instruments", site.instruments.length],
  ];
  const list = document.getElementById("dam");
  list.replaceChildren();
  for (const [label, value] of facts) {
    if (value === null || value === undefined) continue;
    list.append(element("dt", label), element("dd", value));
  }
}

function showChannels(channels, latest) {
  const newest = new Map(latest.map((row) => [row.code, row]));
  const body = document.querySelector("#channels tbody");
  body.replaceChildren();
  for (const channel of channels) {
    const row = element("tr");
    row.dataset.code = channel.code;
    const reading = newest.get(channel.code);
    const value = element("td", reading ? formatNumber(reading.value) : "—", "num");
    if (!reading) value.classList.add("none");
    else if (outside(channel, reading.value)) value.classList.add("out");
    row.append(
      element("td", channel.code),
      element("td", channel.instrument),
      element("td", channel.type.replaceAll("_", " ")),
      element("td", channel.quantity.replaceAll("_", " ")),
      value,
      element("td", channel.unit),
      element("td", reading ? localTime(reading.time) : "no readings", reading ? "" : "none"),
    );
    row.addEventListener("click", () => selectChannel(channel));
    body.append(row);
  }
}

function outside(channel, value) {
  return (channel.limit_min !== null && value < channel.limit_min) ||
    (channel.limit_max !== null && value > channel.limit_max);
}

// ---- chart -----------------------------------------------------------------------------------

async function selectChannel(channel) {
  state.selected = channel.code;
  for (const row of document.querySelectorAll("#channels tbody tr")) {
    row.classList.toggle("selected", row.dataset.code === channel.code);
  }
  document.getElementById("chart-section").hidden = false;
  document.getElementById("chart-title").textContent = `${channel.code} (${channel.unit})`;
  const note = document.getElementById("chart-note");
  note.textContent = "Loading…";
  const plotWidth = CHART.width - CHART.left - CHART.right;
  const url = `/api/channels/${encodeURIComponent(channel.code)}/readings?max_points=${plotWidth}`;
  let data;
  try {
    data = await getJSON(url);
  } catch (error) {
    note.textContent = `Could not load the readings: ${error.message}`;
    return;
  }
  if (state.selected !== channel.code) return; // another channel was clicked meanwhile
  note.textContent = data.count === 0 ? "No readings yet." : (
    `${data.count} readings` +
    (data.downsampled ? `, ${data.returned} drawn (the highest and lowest always kept)` : "") +
    `, ${localTime(data.times[0])} to ${localTime(data.times[data.times.length - 1])}.`
  );
  drawChart(data, channel);
}

function niceTicks(low, high, count) {
  const span = high - low || Math.abs(high) || 1;
  const raw = span / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw);
  const ticks = [];
  for (let tick = Math.ceil(low / step) * step; tick <= high + step * 1e-9; tick += step) {
    ticks.push(Number(tick.toPrecision(12)));
  }
  return ticks;
}

function drawChart(data, channel) {
  const chart = document.getElementById("chart");
  chart.replaceChildren();
  if (data.returned === 0) return;
  const { width, height, left, right, top, bottom } = CHART;
  const times = data.times.map((t) => Date.parse(t));
  let low = Math.min(...data.values);
  let high = Math.max(...data.values);
  if (low === high) { low -= 1; high += 1; }
  const pad = (high - low) * 0.05;
  low -= pad; high += pad;
  const t0 = times[0];
  const t1 = times[times.length - 1] === t0 ? t0 + 1 : times[times.length - 1];
  const x = (t) => left + ((t - t0) / (t1 - t0)) * (width - left - right);
  const y = (v) => top + ((high - v) / (high - low)) * (height - top - bottom);

  for (const tick of niceTicks(low, high, 5)) {
    chart.append(
      svg("line", { x1: left, x2: width - right, y1: y(tick), y2: y(tick), class: "grid" }),
      svg("text", { x: left - 6, y: y(tick) + 4, "text-anchor": "end" }, formatNumber(tick)),
    );
  }
  for (const limit of [channel.limit_min, channel.limit_max]) {
    if (limit === null || limit < low || limit > high) continue;
    chart.append(svg("line", { x1: left, x2: width - right, y1: y(limit), y2: y(limit),
      class: "limit" }));
  }
  chart.append(
    svg("line", { x1: left, x2: left, y1: top, y2: height - bottom, class: "axis" }),
    svg("line", { x1: left, x2: width - right, y1: height - bottom, y2: height - bottom,
      class: "axis" }),
  );
  const labels = 4;
  for (let i = 0; i <= labels; i += 1) {
    const t = t0 + ((t1 - t0) * i) / labels;
    const anchor = i === 0 ? "start" : i === labels ? "end" : "middle";
    chart.append(svg("text", { x: x(t), y: height - bottom + 18, "text-anchor": anchor },
      localTime(new Date(t).toISOString())));
  }
  const points = times.map((t, i) => `${x(t).toFixed(1)},${y(data.values[i]).toFixed(1)}`);
  chart.append(svg("polyline", { points: points.join(" "), class: "series" }));
}

// ---- start ---------------------------------------------------------------------------------

async function start() {
  getJSON("/api/health")
    .then((health) => { document.getElementById("version").textContent = `Shuian ${health.version}`; })
    .catch(() => {});
  let site;
  let channels;
  try {
    [site, channels] = await Promise.all([getJSON("/api/site"), getJSON("/api/channels")]);
  } catch (error) {
    document.getElementById("name").textContent = "Shuian";
    showProblem(error.message);
    return;
  }
  state.site = site;
  state.channels = channels;
  state.zone = site.reservoir.timezone;
  state.timeFormat = new Intl.DateTimeFormat("en-CA", {
    timeZone: state.zone, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });
  showSite(site);
  let latest = [];
  try {
    latest = await getJSON("/api/latest");
  } catch (error) {
    showProblem(`Latest readings unavailable: ${error.message}`);
  }
  showChannels(channels, latest);
}

start();
