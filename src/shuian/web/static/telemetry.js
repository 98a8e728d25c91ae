// Telemetry sources (GET /api/telemetry): the MQTT, SL 651 and Modbus listeners the server runs,
// each with its connection, counts, last message and last error, and for SL 651 its stations.
// The overview shows a panel of every source; the phone view one summary line. Both are drawn
// from what the last poll answered (every 10 s; `?telemetry_ms=` in the page URL overrides it).

import { getJSON } from "./api.js";
import { t, term } from "./i18n.js";
import { el, fill, fmt, localTime, timeZone } from "./util.js";

const REFRESH_MS = 10_000;
const COUNTS = ["messages", "accepted", "duplicates", "rejected", "failures"];
const PEER_COLUMNS = ["station", "link", "address", "last_message", "clock", "messages",
  "rejected", "last_error"];
/** A station clock this far (s) from the centre's puts its readings at the wrong time. */
const CLOCK_TOLERANCE_S = 300;

/** The sources by name, as the last poll answered ({} until then, or when none runs). */
let sources = {};

// ---- loading ----------------------------------------------------------------------------------

/** Ask the server for the status of its sources; keep the last answer when it fails. */
export async function loadTelemetry() {
  try {
    const answer = await getJSON("/api/telemetry");
    sources = answer && typeof answer === "object" ? answer : {};
  } catch {
    // keep showing what we have; the next poll tries again
  }
}

/** How often to poll (ms): 10 s, or `?telemetry_ms=` from the page URL (at least 100). */
function refreshMs() {
  const asked = Number(new URLSearchParams(window.location.search).get("telemetry_ms"));
  return Number.isFinite(asked) && asked >= 100 ? asked : REFRESH_MS;
}

/** Poll the status and call `onUpdate()` after every answer. */
export function startTelemetry(onUpdate) {
  setInterval(async () => {
    await loadTelemetry();
    onUpdate();
  }, refreshMs());
}

// ---- judging ----------------------------------------------------------------------------------

/** An error is current when nothing has come in since it happened (then it has passed). */
function errorIsCurrent(status) {
  if (!status.last_error) return false;
  const errorAt = Date.parse(status.last_error_at);
  const messageAt = Date.parse(status.last_message_at);
  return !Number.isFinite(errorAt) || !Number.isFinite(messageAt) || errorAt >= messageAt;
}

/** A source is a problem when it is not connected (not listening) or its error is current. */
function isProblem(status) {
  return !status.connected || errorIsCurrent(status);
}

/** Counts of the sources, the names of those in trouble, and the newest message time. */
function summary() {
  const entries = Object.entries(sources);
  const times = entries.map(([, s]) => Date.parse(s.last_message_at)).filter(Number.isFinite);
  return {
    total: entries.length,
    connected: entries.filter(([, s]) => s.connected).length,
    problems: entries.filter(([, s]) => isProblem(s)).map(([name]) => name),
    last: times.length ? new Date(Math.max(...times)).toISOString() : null,
  };
}

/** "12 s ago", "3 min ago"... in the current language; "never" for no time. */
export function ago(iso, now = Date.now()) {
  if (!iso) return t("telemetry.never");
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return t("ago.s", { n: seconds });
  if (seconds < 3600) return t("ago.min", { n: Math.floor(seconds / 60) });
  if (seconds < 86_400) return t("ago.h", { n: Math.floor(seconds / 3600) });
  return t("ago.d", { n: Math.floor(seconds / 86_400) });
}

/** Show `iso` in a <time> as a relative time, the site's local time as its title. */
function setTime(node, iso) {
  node.textContent = ago(iso);
  if (iso) {
    node.setAttribute("datetime", iso);
    node.title = `${localTime(iso)} (${timeZone()})`;
  } else {
    node.removeAttribute("datetime");
    node.removeAttribute("title");
  }
}

function linkWord(kind, connected) {
  const listening = kind === "sl651";
  if (connected) return t(listening ? "telemetry.listening" : "telemetry.connected");
  return t(listening ? "telemetry.not_listening" : "telemetry.disconnected");
}

/** Make `badge` say connected (green) or not (red), in words as well as colour. */
function setLink(badge, kind, connected) {
  badge.className = `badge link state-${connected ? "normal" : "alarm"}`;
  badge.textContent = linkWord(kind, connected);
  return badge;
}

// ---- the overview panel -----------------------------------------------------------------------

/**
 * Draw the telemetry panel in `card` (hidden when the server runs no source). Each source keeps
 * its block between polls, so that its counts (an aria-live region) announce only changes.
 */
export function renderTelemetry(card) {
  const names = Object.keys(sources);
  card.hidden = names.length === 0;
  if (!names.length) return;
  const { total, connected, problems } = summary();
  const text = problems.length
    ? t("telemetry.summary_problems", { connected, total, n: problems.length })
    : t("telemetry.summary", { connected, total });
  const note = card.querySelector("#telemetry-summary");
  if (note.textContent !== text) note.textContent = text;
  note.classList.toggle("bad", problems.length > 0);

  const list = card.querySelector("#telemetry-sources");
  const existing = new Map([...list.children].map((node) => [node.dataset.source, node]));
  const lang = document.documentElement.lang;
  list.replaceChildren(...names.map((name) => {
    let block = existing.get(name);
    if (!block || block.dataset.lang !== lang) block = sourceBlock(name, lang);
    updateSource(block, sources[name]);
    return block;
  }));
}

/** The parts of one source's block that do not change between polls. */
function sourceBlock(name, lang) {
  const counts = COUNTS.map((key) => el("div", {},
    el("dt", { text: t(`telemetry.${key}`) }),
    el("dd", { attrs: { "data-count": key } })));
  return el("article", { cls: "source", attrs: { "data-source": name, "data-lang": lang } },
    el("div", { cls: "source-head" },
      el("h3", { text: name }),
      el("span", { cls: "badge plain source-kind" }),
      el("code", { cls: "source-endpoint" }),
      el("span", { cls: "badge link" })),
    el("p", { cls: "source-last" }, `${t("telemetry.last_message")} `, el("time")),
    el("dl", { cls: "source-counts", attrs: { "aria-live": "polite" } }, ...counts),
    el("p", { cls: "source-error", attrs: { hidden: true } },
      el("b", { text: t("telemetry.last_error") }), " ", el("span", { cls: "error-text" })),
    el("div", { cls: "table-wrap peers", attrs: { hidden: true } }, peersTable(name)));
}

/** Fill one source's block from its status. */
function updateSource(block, status) {
  const problem = isProblem(status);
  block.classList.toggle("problem", problem);
  block.dataset.state = problem ? "problem" : "ok";
  block.dataset.connected = String(Boolean(status.connected));
  block.querySelector(".source-kind").textContent = term("telemetry_kind", status.kind);
  block.querySelector(".source-endpoint").textContent = status.endpoint || "";
  setLink(block.querySelector(".source-head .link"), status.kind, status.connected);
  setTime(block.querySelector(".source-last time"), status.last_message_at);
  for (const key of COUNTS) {
    const cell = block.querySelector(`[data-count="${key}"]`);
    const value = fmt(status[key] ?? null, 0);
    if (cell.textContent !== value) cell.textContent = value;
  }
  const error = block.querySelector(".source-error");
  error.hidden = !status.last_error;
  error.classList.toggle("passed", !errorIsCurrent(status));
  error.querySelector(".error-text").textContent = status.last_error || "";
  error.title = status.last_error_at ? localTime(status.last_error_at) : "";
  const peers = block.querySelector(".peers");
  peers.hidden = !Array.isArray(status.peers);
  if (Array.isArray(status.peers)) renderPeers(peers.querySelector("tbody"), status.peers);
}

/** The station clock's offset from the centre's ("+12 s", "−6 min", "−3 d"), marked when
 * more than CLOCK_TOLERANCE_S. */
function clockCell(offset) {
  if (offset === null || offset === undefined) return el("td", { cls: "num", text: "—" });
  const size = Math.abs(offset);
  const sign = offset < 0 ? "−" : "+";
  const [amount, unit] = size < 120 ? [size, "s"] : size < 7200 ? [size / 60, "min"]
    : size < 172_800 ? [size / 3600, "h"] : [size / 86_400, "d"];
  const text = `${sign}${Math.round(amount)} ${unit}`;
  const off = size > CLOCK_TOLERANCE_S;
  return el("td", { cls: off ? "num error-text clock-off" : "num", text,
    attrs: off ? { title: t("telemetry.clock_off") } : {} });
}

function peersTable(name) {
  return el("table", { cls: "data" },
    el("caption", { cls: "visually-hidden", text: t("telemetry.peers_of", { name }) }),
    el("thead", {}, el("tr", {}, ...PEER_COLUMNS.map((key) => el("th", {
      cls: ["clock", "messages", "rejected"].includes(key) ? "num" : "",
      text: t(`telemetry.peer.${key}`), attrs: { scope: "col" } })))),
    el("tbody"));
}

function renderPeers(body, peers) {
  if (!peers.length) {
    body.replaceChildren(el("tr", {}, el("td", { cls: "muted", text: t("telemetry.no_peers"),
      attrs: { colspan: PEER_COLUMNS.length } })));
    return;
  }
  body.replaceChildren(...peers.map(peerRow));
}

function peerRow(peer) {
  const named = peer.name && peer.name !== peer.station;
  const time = el("time");
  setTime(time, peer.last_message_at);
  return el("tr", { cls: errorIsCurrent(peer) ? "problem" : "",
    attrs: { "data-station": peer.station } },
    el("th", { attrs: { scope: "row" } }, peer.station || peer.name || "—",
      named ? el("small", { cls: "muted", text: ` ${peer.name}` }) : null),
    el("td", {}, setLink(el("span"), "peer", peer.connected)),
    el("td", { text: peer.address || "—" }),
    el("td", {}, time),
    clockCell(peer.clock_offset_s),
    el("td", { cls: "num", text: fmt(peer.messages ?? null, 0) }),
    el("td", { cls: "num", text: fmt(peer.rejected ?? null, 0) }),
    el("td", { cls: "error-text", text: peer.last_error || "" }));
}

// ---- the phone line ---------------------------------------------------------------------------

/** "Telemetry: 2/3 connected, last 12 s ago" in `node`, the troubled sources named after it. */
export function renderTelemetryLine(node) {
  const { total, connected, problems, last } = summary();
  node.hidden = total === 0;
  if (!total) return;
  node.classList.toggle("problem", problems.length > 0);
  const line = last
    ? t("telemetry.line", { connected, total, last: ago(last) })
    : t("telemetry.line_none", { connected, total });
  fill(node, line, problems.length
    ? el("b", { cls: "telemetry-problems",
      text: ` · ${t("telemetry.problems", { names: problems.join(", ") })}` })
    : null);
}
