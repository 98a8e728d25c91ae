// Shuian's page: loads the site, routes by hash between the views and keeps them live.
//
//   #/overview              the control-room dashboard (default on a wide screen); a camera
//                           opens large over it (cameras.js)
//   #/instrument/PL1.R      one channel (or instrument) in detail
//   #/hydrology             level, storage, flows and the flood-routing "what if"
//   #/phone                 the field layout (default on a narrow screen)
//   #/sites                 every reservoir of the store with its worst open alarm
//
// Plain ES modules, no framework, nothing fetched from outside this server.

import {
  checkSession, currentUser, getJSON, logout, setSite as setApiSite,
} from "./api.js";
import {
  cameraOfChannel, isCameraInstrument, loadCameras, openCamera, reloadCameras, startCameras,
} from "./cameras.js";
import { renderOverview, updateOverview } from "./dashboard.js";
import { showHydrology } from "./hydrology.js";
import { lang, onLangChange, setLang, t, translate } from "./i18n.js";
import { showInstrument } from "./instrument.js";
import { showSites } from "./sites.js";
import { connectLive } from "./live.js";
import { renderPhone, startQueueFlusher, updatePhone } from "./phone.js";
import {
  applyAlarm, applyReading, data, notify, onChange, setLatest, setSite, sortAlarms,
} from "./state.js";
import {
  loadTelemetry, renderTelemetry, renderTelemetryLine, startTelemetry,
} from "./telemetry.js";
import { el, setTimeZone } from "./util.js";

const VIEWS = ["overview", "instrument", "hydrology", "phone", "sites"];
const NARROW = window.matchMedia("(max-width: 640px)");

const page = {
  route: null,
  drawn: new Set(), // views drawn in the current language
  endpoints: new Set(), // API paths the server serves (from its OpenAPI document)
  stopLive: null,
};

function showProblem(message) {
  const banner = document.getElementById("problem");
  banner.textContent = message;
  banner.hidden = !message;
}

function view(name) {
  return document.getElementById(`view-${name}`);
}

// ---- loading ----------------------------------------------------------------------------------

async function loadEndpoints() {
  try {
    const openapi = await getJSON("/openapi.json");
    page.endpoints = new Set(Object.keys(openapi.paths || {}));
  } catch {
    page.endpoints = new Set();
  }
}

/** Several reservoirs: a select in the header (GET /api/sites, when the server has it). */
async function loadSites() {
  if (!page.endpoints.has("/api/sites")) return;
  let sites;
  try {
    const answer = await getJSON("/api/sites");
    sites = Array.isArray(answer) ? answer : answer.sites || [];
  } catch {
    return;
  }
  if (sites.length < 2) return;
  const select = document.getElementById("site-select");
  const chosen = localStorage.getItem("shuian.site");
  select.replaceChildren(...sites.map((s) => {
    const code = s.code || s.site;
    const worst = s.worst_alarm && (s.worst_alarm.level || s.worst_alarm);
    const name = lang() === "zh" ? s.name_zh || s.name : s.name || code;
    return el("option", { text: worst ? `${name} ● ${t(`state.${worst}`)}` : name,
      attrs: { value: code, selected: code === chosen } });
  }));
  setApiSite(select.value);
  document.getElementById("site-picker").hidden = false;
  select.onchange = () => {
    localStorage.setItem("shuian.site", select.value);
    window.location.reload();
  };
}

async function loadRain(site) {
  const gauge = site.instruments.find((i) => i.type === "rainfall");
  if (!gauge) return null;
  try {
    const start = new Date(Date.now() - 24 * 3600e3).toISOString();
    const answer = await getJSON(`/api/channels/${encodeURIComponent(gauge.channels[0].code)}/readings`,
      { start });
    return answer.values.reduce((sum, v) => sum + v, 0);
  } catch {
    return null;
  }
}

/** Latest readings, open alarms and the reservoir state (first load and polling). */
async function refresh() {
  const [latest, alarms, hydrology, rain] = await Promise.all([
    getJSON("/api/latest"),
    getJSON("/api/alarms", { state: "open" }),
    getJSON("/api/hydrology/state").catch(() => null),
    loadRain(data.site),
  ]);
  setLatest(latest);
  data.alarms = sortAlarms(alarms);
  data.hydrology = hydrology;
  data.rain24h = rain;
}

async function start() {
  translate();
  wireHeader();
  await loadEndpoints();
  await loadSites();
  let site;
  let channels;
  try {
    [site, channels] = await Promise.all([getJSON("/api/site"), getJSON("/api/channels")]);
  } catch (error) {
    showProblem(t("error.load", { what: "/api/site", message: error.message }));
    return;
  }
  setSite(site, channels);
  setTimeZone(site.reservoir.timezone);
  showSite(site);
  try {
    await refresh();
  } catch (error) {
    showProblem(t("error.load", { what: "/api/latest", message: error.message }));
  }
  const telemetry = page.endpoints.has("/api/telemetry");
  if (telemetry) await loadTelemetry();
  const cameras = page.endpoints.has("/api/cameras")
    && site.instruments.some((i) => i.type === "camera");
  if (cameras) await loadCameras().catch(() => {});
  route();
  startLive(site);
  if (telemetry) startTelemetry(showTelemetry);
  if (cameras) startCameras();
  startQueueFlusher();
  document.body.dataset.ready = "true";
}

function showSite(site) {
  const reservoir = site.reservoir;
  document.getElementById("name").textContent = reservoir.name;
  document.getElementById("name-zh").textContent = reservoir.name_zh || "";
  document.title = `${reservoir.name} ${reservoir.name_zh || ""} — Shuian 水安`;
  // the demo's readings are generated: say so on every view
  document.getElementById("synthetic").hidden = !reservoir.synthetic;
}

// ---- live -------------------------------------------------------------------------------------

function setLiveStatus(status) {
  const badge = document.getElementById("live");
  badge.dataset.status = status;
  badge.dataset.i18n = `live.${status}`;
  badge.textContent = t(`live.${status}`);
}

function startLive(site) {
  const poll = async () => {
    try {
      await refresh();
      notify({ kind: "all" });
    } catch {
      // keep showing what we have; the next poll tries again
    }
  };
  if (!page.endpoints.has("/api/events")) {
    // not served by this version of the server: poll, and say so
    setLiveStatus("off");
    setInterval(poll, 30_000);
    return;
  }
  page.stopLive = connectLive({
    site: site.reservoir.code,
    onStatus: setLiveStatus,
    poll,
    onReading: (reading) => {
      if (applyReading(reading)) notify({ kind: "reading", code: reading.channel });
      // a frame was analysed: its camera has a newer image
      if (cameraOfChannel(reading.channel)) reloadCameras();
      const level = site.analysis && site.analysis.level_channel;
      if (reading.channel === level && data.hydrology) {
        getJSON("/api/hydrology/state").then((state) => {
          data.hydrology = state;
          notify({ kind: "hydrology" });
        }).catch(() => {});
      }
    },
    onAlarm: async (step) => {
      // the event is one lifecycle step; the alarm itself (with who acknowledged) is one GET
      const id = step.alarm_id ?? step.id;
      let alarm = null;
      try {
        alarm = await getJSON(`/api/alarms/${id}`);
      } catch {
        alarm = { ...step, id, raised: step.raised ?? step.time, last: step.time };
      }
      applyAlarm(alarm);
      notify({ kind: "alarm", alarm });
      if (cameraOfChannel(alarm.channel)) reloadCameras();
    },
  });
}

/** Redraw the telemetry status on the views drawn (after each poll of /api/telemetry). */
function showTelemetry() {
  if (page.drawn.has("overview")) renderTelemetry(view("overview").querySelector("#telemetry"));
  if (page.drawn.has("phone")) {
    renderTelemetryLine(view("phone").querySelector("#phone-telemetry"));
  }
}

onChange((change) => {
  if (change.message) showToast(change.message);
  if (page.drawn.has("overview")) updateOverview(view("overview"), change);
  if (page.drawn.has("phone")) updatePhone(view("phone"));
});

function showToast(text) {
  const toast = document.getElementById("toast");
  toast.textContent = text;
  toast.hidden = false;
  clearTimeout(showToast.timer);
  showToast.timer = setTimeout(() => {
    toast.hidden = true;
  }, 4000);
}

// ---- routing ----------------------------------------------------------------------------------

function parseRoute() {
  const hash = window.location.hash.replace(/^#\/?/, "");
  const [name, ...rest] = hash.split("/");
  if (VIEWS.includes(name)) return { name, arg: rest.join("/") };
  return { name: NARROW.matches ? "phone" : "overview", arg: "" };
}

function route() {
  if (!data.site) return;
  const { name, arg } = parseRoute();
  page.route = { name, arg };
  for (const other of VIEWS) view(other).hidden = other !== name;
  for (const link of document.querySelectorAll("nav.main a")) {
    const current = link.dataset.view === name;
    link.classList.toggle("active", current);
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.body.dataset.view = name;
  const root = view(name);
  if (name === "overview") {
    if (!page.drawn.has("overview")) {
      renderOverview(root, {
        onSelect: (instrument) => {
          // a camera opens large over the overview; any other instrument its own view
          if (isCameraInstrument(instrument) && openCamera(instrument.code)) return;
          window.location.hash = `#/instrument/${encodeURIComponent(instrument.channels[0].code)}`;
        },
      });
      page.drawn.add("overview");
    } else {
      updateOverview(root);
    }
  } else if (name === "phone") {
    if (!page.drawn.has("phone")) {
      renderPhone(root);
      page.drawn.add("phone");
    } else {
      updatePhone(root);
    }
  } else if (name === "instrument") {
    showInstrument(root, arg);
  } else if (name === "hydrology") {
    showHydrology(root);
  } else if (name === "sites") {
    showSites(root);
  }
  window.scrollTo(0, 0);
}

window.addEventListener("hashchange", route);

// ---- header -----------------------------------------------------------------------------------

function wireHeader() {
  const button = document.getElementById("lang");
  button.addEventListener("click", () => setLang(lang() === "zh" ? "en" : "zh"));
  onLangChange(async () => {
    // dynamic text is built with t(), and the server's sentences come in the page's language:
    // fetch the open alarms again, then draw the views again in the new language
    await refresh().catch(() => {});
    page.drawn.clear();
    route();
  });
  document.addEventListener("shuian:login", (event) => {
    showAccount(event.detail.user);
    showToast(t("login.signed_in", { user: event.detail.user }));
  });
  document.addEventListener("shuian:logout", () => {
    showAccount(null);
    showToast(t("logout.done"));
  });
  document.getElementById("logout").addEventListener("click", () => {
    logout().catch((error) => showProblem(t("logout.failed", { message: error.message })));
  });
  showAccount(currentUser());
  checkSession().then(showAccount);
}

/** The signed-in user's name and the sign-out button in the header (hidden: nobody). */
function showAccount(user) {
  document.getElementById("account-name").textContent = user || "";
  document.getElementById("account").hidden = !user;
}

// keep "no recent data" honest when nothing arrives: recolour every minute
setInterval(() => notify({ kind: "all" }), 60_000);

start().catch((error) => showProblem(error.message));
