// Cameras (GET /api/cameras): the newest image of each camera with the level, inflow, outflow and
// rain of the same minute drawn over it, as tiles on the overview and (small) on the phone; one
// camera large in a dialog with the minute's readings, its feed's status, its open alarms and a
// time slider over its frames (GET /api/cameras/{code}/frame?at=); and the feed status of every
// camera on the overview. No image older than its schedule is shown without saying so.
//
// The list is loaded at start, again when a frame of a camera is analysed (a live reading on its
// CODE.video or CODE.level channel), when one of its alarms changes, and every 30 s (the feeds'
// status moves without readings; `?cameras_ms=` in the page URL overrides the period).

import { getJSON } from "./api.js";
import { localName, onLangChange, t, term } from "./i18n.js";
import { notify } from "./state.js";
import { ago } from "./telemetry.js";
import { el, fill, fmt, localTime, ms, svg, timeZone } from "./util.js";

const REFRESH_MS = 30_000;
/** A live reading of a camera loads the cameras again after this long (ms): a burst, once. */
const LIVE_DELAY_MS = 500;
/** A frame older than this many of its camera's intervals is stale (as the API judges it). */
const STALE_INTERVALS = 3;
/** The quantities drawn over an image, with their decimals. */
const OVERLAY = [["level", 2], ["inflow", 2], ["outflow", 2], ["rain", 1]];
/** The readings listed beside the large image. */
const READINGS = [...OVERLAY, ["camera_level", 2]];
/** The time slider covers this span (ms) before now, or the span of the camera's frames. */
const SPAN_MS = 24 * 3600e3;
const MINUTE_MS = 60e3;
/** Most frames marked under the slider (the API's own page limit). */
const MAX_TICKS = 2000;
/** Requests for the minute's readings run this many at a time. */
const PARALLEL = 6;
/** Wait this long (ms) after the slider stops moving before asking for that time's frame. */
const SLIDE_DEBOUNCE_MS = 120;
const LEVEL_RANK = { attention: 1, warning: 2, alarm: 3 };

const cams = {
  enabled: false, // the server serves /api/cameras and the site has cameras
  list: [], // GET /api/cameras' cameras
  loadedAt: 0, // when the list was answered (ms): ages grow from then
  minute: new Map(), // code -> {taken, readings}: the readings of the newest frame's minute
  reload: null, // the timer of the next load
  loading: false, // a load is running
  again: false, // asked for while it ran: load once more after it
};

/** The dialog: its camera, whether it follows now, the newest request's token, the drawing's. */
const dialogState = { code: null, live: true, token: 0, drawing: 0, timer: null };

// ---- loading ----------------------------------------------------------------------------------

/** Whether the page shows cameras (the server serves them and the site has some). */
export function hasCameras() {
  return cams.enabled && cams.list.length > 0;
}

/** The camera `code` (null when there is none). */
export function camera(code) {
  return cams.list.find((c) => c.code === code) || null;
}

/** The camera a channel belongs to (its CODE.video, CODE.level ... channel), or null. */
export function cameraOfChannel(channel) {
  if (!channel) return null;
  return cams.list.find((c) => Object.values(c.channels || {}).includes(channel)) || null;
}

/** Run `task(item)` over `items`, `size` at a time. */
async function inBatches(items, size, task) {
  for (let i = 0; i < items.length; i += size) {
    await Promise.all(items.slice(i, i + size).map(task));
  }
}

/**
 * Load the cameras and, for each newest frame not seen before, the readings of its minute
 * (GET .../frame?at=taken_at): the values drawn over the tile are those of the image's time,
 * not the newest ones. A camera with no image gets the readings of now.
 */
export async function loadCameras() {
  const answer = await getJSON("/api/cameras");
  const list = Array.isArray(answer && answer.cameras) ? answer.cameras : [];
  await inBatches(list, PARALLEL, async (cam) => {
    const taken = cam.latest ? cam.latest.taken_at : null;
    const known = cams.minute.get(cam.code);
    if (known && taken && known.taken === taken) return;
    try {
      const found = await getJSON(`/api/cameras/${encodeURIComponent(cam.code)}/frame`,
        taken ? { at: taken } : {});
      cams.minute.set(cam.code, { taken, readings: found.readings || {} });
    } catch {
      // keep what we had; the next load tries again
    }
  });
  cams.list = list;
  cams.loadedAt = Date.now();
  cams.enabled = true;
}

/**
 * Load again in `delay` ms, then redraw. The live readings of many cameras make one load at a
 * time: asked while one is pending, nothing more; asked while one runs, one more after it.
 */
export function reloadCameras(delay = LIVE_DELAY_MS) {
  if (!cams.enabled) return;
  if (cams.loading) {
    cams.again = true;
    return;
  }
  if (cams.reload) return;
  cams.reload = setTimeout(async () => {
    cams.loading = true;
    try {
      await loadCameras();
      notify({ kind: "cameras" });
      if (dialogState.code && dialogState.live) refreshDialog();
    } catch {
      // keep showing what we have; the next poll tries again
    } finally {
      cams.loading = false;
      cams.reload = null;
      if (cams.again) {
        cams.again = false;
        reloadCameras();
      }
    }
  }, delay);
}

/** How often to poll (ms): 30 s, or `?cameras_ms=` from the page URL (at least 100). */
function refreshMs() {
  const asked = Number(new URLSearchParams(window.location.search).get("cameras_ms"));
  return Number.isFinite(asked) && asked >= 100 ? asked : REFRESH_MS;
}

/** Poll the cameras (their status and newest frames) while the page is open. */
export function startCameras() {
  if (!cams.enabled) return;
  setInterval(() => reloadCameras(0), refreshMs());
}

// the open alarms' messages come in the page's language
onLangChange(() => {
  reloadCameras(0);
  if (dialogState.code) renderDialog(dialogState.code);
});

// ---- judging ----------------------------------------------------------------------------------

/** "40 s", "12 min", "3 h", "2 d" in the current language. */
export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 120) return t("age.s", { n: s });
  if (s < 7200) return t("age.min", { n: Math.floor(s / 60) });
  if (s < 172_800) return t("age.h", { n: Math.floor(s / 3600) });
  return t("age.d", { n: Math.floor(s / 86_400) });
}

/** The newest frame's age now (s) and whether it is stale (null age: no image at all). */
function freshness(cam, now = Date.now()) {
  const latest = cam.latest;
  if (!latest) return { age: null, stale: true };
  const age = (latest.age_s ?? 0) + (now - cams.loadedAt) / 1000;
  return { age, stale: Boolean(latest.stale) || age > STALE_INTERVALS * cam.interval_s };
}

/** The worst open alarm of a camera (null when none). */
function worstAlarm(cam) {
  let worst = null;
  for (const alarm of cam.alarms || []) {
    if (!worst || (LEVEL_RANK[alarm.level] || 0) > (LEVEL_RANK[worst.level] || 0)) worst = alarm;
  }
  return worst;
}

/** A feed is down when a worker watches it and it is not connected. */
function feedDown(cam) {
  const status = cam.status || {};
  return Boolean(status.watched) && !status.connected;
}

// ---- one image with the minute's values over it ----------------------------------------------

/** An empty image box: the picture, a note when there is none, badges and the overlay. */
function frameBox() {
  return el("span", { cls: "camera-frame" },
    el("img", { cls: "camera-img", attrs: { alt: "", decoding: "async", hidden: true } }),
    el("span", { cls: "camera-empty", attrs: { hidden: true } }),
    el("span", { cls: "camera-badges" }),
    el("span", { cls: "camera-overlay" }));
}

function readingText(reading, digits) {
  if (!reading) return { value: "—", unit: "" };
  return { value: fmt(reading.value, digits), unit: term("unit", reading.unit) };
}

/** The overlay's values (with units) and the frame's time. */
function overlayParts(readings, takenAt) {
  const parts = OVERLAY.map(([name, digits]) => {
    const reading = readings ? readings[name] : null;
    const { value, unit } = readingText(reading, digits);
    return el("span", { cls: "camera-reading", attrs: { "data-q": name,
      title: reading ? `${reading.channel} ${localTime(reading.time)}` : null } },
    el("span", { cls: "q", text: t(`camera.q.${name}`) }), " ",
    el("b", { cls: "v", text: value }), unit ? " " : "", unit ? el("span", { cls: "u", text: unit })
      : null);
  });
  parts.push(el("time", { cls: "camera-time", text: takenAt ? localTime(takenAt) : "—",
    attrs: { datetime: takenAt } }));
  return parts;
}

/**
 * Show a frame in a box made by frameBox(): the image (fetched again only when its media id
 * changes), or "no image"; the values of its minute over it; the badges given.
 */
function showFrame(box, { cam, frame, readings, badges, empty }) {
  const img = box.querySelector(".camera-img");
  const none = box.querySelector(".camera-empty");
  if (frame) {
    if (img.dataset.mediaId !== String(frame.media_id)) {
      img.src = frame.url;
      img.dataset.mediaId = String(frame.media_id);
    }
    img.alt = t("camera.image_alt", { name: localName(cam) || cam.code,
      time: localTime(frame.taken_at) });
    img.hidden = false;
    none.hidden = true;
  } else {
    img.removeAttribute("src");
    img.dataset.mediaId = "";
    img.hidden = true;
    none.textContent = empty || t("camera.no_image");
    none.hidden = false;
  }
  fill(box.querySelector(".camera-overlay"), ...overlayParts(readings, frame && frame.taken_at));
  fill(box.querySelector(".camera-badges"), ...badges);
}

function staleBadge(ageS) {
  return el("span", { cls: "badge state-stale camera-stale",
    text: ageS === null ? t("camera.no_image") : t("camera.stale", { age: duration(ageS) }) });
}

/** The badges of a camera's newest frame: stale or no image, feed down, its worst alarm. */
function tileBadges(cam, now) {
  const badges = [];
  const { age, stale } = freshness(cam, now);
  if (stale) badges.push(staleBadge(age));
  if (feedDown(cam)) {
    badges.push(el("span", { cls: "badge state-alarm camera-down", text: t("camera.down") }));
  }
  const worst = worstAlarm(cam);
  if (worst) {
    badges.push(el("span", { cls: `badge state-${worst.level} camera-alarm`,
      text: term("rule", worst.rule), attrs: { title: worst.message } }));
  }
  return badges;
}

// ---- tiles (overview and phone) ---------------------------------------------------------------

function tile(cam, lang) {
  const node = el("button", { cls: "camera-tile", attrs: { type: "button",
    "data-camera": cam.code, "data-lang": lang } },
  frameBox(),
  el("span", { cls: "camera-name" }, el("b", { text: localName(cam) || cam.code }), " ",
    el("small", { text: term("looks_at", cam.looks_at) })));
  node.addEventListener("click", () => openCamera(cam.code));
  return node;
}

/**
 * Draw a tile per camera into `container` (keyed by camera: an image is fetched again only when
 * the camera has a newer one). Returns whether there is any camera to show.
 */
export function renderCameraTiles(container) {
  if (!container) return false;
  const lang = document.documentElement.lang;
  const existing = new Map([...container.children].map((node) => [node.dataset.camera, node]));
  const now = Date.now();
  container.replaceChildren(...cams.list.map((cam) => {
    let node = existing.get(cam.code);
    if (!node || node.dataset.lang !== lang) node = tile(cam, lang);
    const { stale } = freshness(cam, now);
    const worst = worstAlarm(cam);
    node.dataset.state = !cam.latest ? "none" : stale ? "stale" : "fresh";
    node.dataset.alarm = worst ? worst.level : "";
    node.className = `camera-tile${worst ? ` has-alarm state-${worst.level}` : ""}`;
    const minute = cams.minute.get(cam.code);
    showFrame(node.querySelector(".camera-frame"), {
      cam, frame: cam.latest, readings: minute ? minute.readings : null,
      badges: tileBadges(cam, now),
    });
    return node;
  }));
  return cams.list.length > 0;
}

// ---- feed status (overview) -------------------------------------------------------------------

/** An error is current when no frame came in since it happened (then it has passed). */
function errorIsCurrent(status) {
  if (!status.last_error) return false;
  const errorAt = Date.parse(status.last_error_at);
  const frameAt = Date.parse(status.last_frame_at);
  return !Number.isFinite(errorAt) || !Number.isFinite(frameAt) || errorAt >= frameAt;
}

function linkBadge(status) {
  if (!status.watched) {
    return el("span", { cls: "badge plain link", text: t("camera.not_watched"),
      attrs: { title: t("camera.not_watched_hint") } });
  }
  return el("span", { cls: `badge link state-${status.connected ? "normal" : "alarm"}`,
    text: t(status.connected ? "telemetry.connected" : "telemetry.disconnected") });
}

function timeNode(iso) {
  return el("time", { text: ago(iso), attrs: iso
    ? { datetime: iso, title: `${localTime(iso)} (${timeZone()})` } : {} });
}

/** The status of a camera's feed: connected, frames/s, last frame, counts, last error. */
function statusParts(cam) {
  const status = cam.status || {};
  const count = (key, value) => el("div", {}, el("dt", { text: t(`camera.status.${key}`) }),
    el("dd", { attrs: { "data-count": key }, text: value }));
  const error = status.last_error ? el("p", {
    cls: `source-error${errorIsCurrent(status) ? "" : " passed"}`,
    attrs: { title: status.last_error_at ? localTime(status.last_error_at) : null } },
  el("b", { text: t("telemetry.last_error") }), " ",
  el("span", { cls: "error-text", text: status.last_error })) : null;
  return [
    el("p", { cls: "source-last" }, `${t("camera.status.last_frame")} `,
      timeNode(status.last_frame_at)),
    el("dl", { cls: "source-counts" },
      count("fps", fmt(status.fps ?? null, 2)),
      count("frames", fmt(status.frames ?? null, 0)),
      count("dropped", fmt(status.dropped ?? null, 0)),
      count("reconnects", fmt(status.reconnects ?? null, 0))),
    error,
  ];
}

/** Draw every camera's feed status into the card (hidden when the site has no camera). */
export function renderCameraStatus(card) {
  if (!card) return;
  card.hidden = !hasCameras();
  if (card.hidden) return;
  const total = cams.list.length;
  const connected = cams.list.filter((c) => c.status && c.status.watched && c.status.connected)
    .length;
  const stale = cams.list.filter((c) => freshness(c).stale).length;
  const note = card.querySelector(".camera-status-summary");
  note.textContent = stale
    ? t("cameras.summary_stale", { connected, total, n: stale })
    : t("cameras.summary", { connected, total });
  note.classList.toggle("bad", connected < total || stale > 0);
  // drawn again when the list was loaded again, the language changed or a minute passed (ages)
  const signature = `${cams.loadedAt}|${document.documentElement.lang}|`
    + `${Math.floor(Date.now() / MINUTE_MS)}`;
  const list = card.querySelector(".camera-status-list");
  if (list.dataset.signature === signature) return;
  list.dataset.signature = signature;
  fill(list, ...cams.list.map((cam) => {
    const status = cam.status || {};
    const problem = !status.watched || !status.connected || errorIsCurrent(status);
    return el("article", { cls: `source camera-status${problem ? " problem" : ""}`,
      attrs: { "data-camera": cam.code, "data-connected": String(Boolean(status.connected)) } },
    el("div", { cls: "source-head" },
      el("h3", {}, el("button", { cls: "link-button", text: localName(cam) || cam.code,
        attrs: { type: "button", "data-open": cam.code } })),
      el("code", { cls: "source-endpoint", text: cam.code }),
      linkBadge(status)),
    ...statusParts(cam));
  }));
  for (const button of card.querySelectorAll("[data-open]")) {
    button.addEventListener("click", () => openCamera(button.dataset.open));
  }
}

// ---- one camera, large ------------------------------------------------------------------------

function dialog() {
  return document.getElementById("camera-dialog");
}

/** Open camera `code` large (the dialog), at now; false when there is no such camera. */
export function openCamera(code) {
  if (!camera(code)) return false;
  dialogState.live = true;
  renderDialog(code);
  const box = dialog();
  if (!box.open) box.showModal();
  return true;
}

function closeDialog() {
  const box = dialog();
  clearTimeout(dialogState.timer);
  dialogState.code = null;
  dialogState.token += 1;
  if (box.open) box.close();
}

function floorMinute(time) {
  return Math.floor(time / MINUTE_MS) * MINUTE_MS;
}

/** Draw the dialog of camera `code` and fill it with the frame of now. */
function renderDialog(code) {
  const cam = camera(code);
  const box = dialog();
  if (!cam) {
    closeDialog();
    return;
  }
  dialogState.code = code;
  dialogState.drawing += 1;
  const now = Date.now();
  const max = floorMinute(now) + MINUTE_MS;
  const slider = el("input", { attrs: { id: "camera-time", type: "range",
    min: max - SPAN_MS, max, step: MINUTE_MS, value: max } });
  const close = el("button", { cls: "close", text: t("camera.close"),
    attrs: { type: "button", "data-action": "close" } });
  const nowButton = el("button", { cls: "plain-button", text: t("camera.now"),
    attrs: { type: "button", "data-action": "now" } });
  const history = el("a", { text: t("camera.history"),
    attrs: { href: `#/instrument/${encodeURIComponent(cam.channels.level || cam.channels.video)}` } });
  fill(box,
    el("div", { cls: "camera-head" },
      el("h2", { attrs: { id: "camera-title" }, text: localName(cam) || cam.code }),
      el("span", { cls: "muted", text: `${cam.code} · ${term("looks_at", cam.looks_at)}` }),
      history, close),
    el("div", { cls: "camera-large" },
      el("div", { cls: "camera-main" },
        el("figure", { cls: "camera-figure" }, frameBox(),
          el("figcaption", { cls: "camera-caption hint" })),
        el("div", { cls: "camera-slider" },
          el("label", { attrs: { for: "camera-time" }, text: t("camera.time") }),
          slider,
          el("output", { attrs: { id: "camera-at", for: "camera-time" } }),
          nowButton,
          svg("svg", { class: "camera-ticks", viewBox: "0 0 1000 8",
            preserveAspectRatio: "none", "aria-hidden": "true" }),
          el("p", { cls: "hint camera-span" }))),
      el("div", { cls: "camera-side" },
        el("h3", { text: t("camera.readings") }),
        el("dl", { cls: "facts camera-readings" }),
        el("h3", { text: t("camera.status_title") }),
        el("div", { cls: "source camera-status-one" }),
        el("h3", { text: t("camera.alarms") }),
        el("ul", { cls: "alarms camera-alarms" }))));
  close.addEventListener("click", closeDialog);
  history.addEventListener("click", closeDialog); // the instrument's view, not under the dialog
  nowButton.addEventListener("click", () => {
    slider.value = slider.max;
    dialogState.live = true;
    showAt(null);
  });
  slider.addEventListener("input", () => {
    dialogState.live = Number(slider.value) >= Number(slider.max);
    showSliderTime(slider);
    clearTimeout(dialogState.timer);
    dialogState.timer = setTimeout(() => showAt(dialogState.live ? null : Number(slider.value)),
      SLIDE_DEBOUNCE_MS);
  });
  if (!box.dataset.wired) {
    box.dataset.wired = "true";
    box.addEventListener("close", () => {
      dialogState.code = null;
      dialogState.token += 1;
    });
  }
  showSliderTime(slider);
  renderDialogStatus(cam);
  loadTicks(cam, slider);
  showAt(null);
}

/** The feed status and open alarms of the camera in the dialog. */
function renderDialogStatus(cam) {
  const box = dialog();
  const status = cam.status || {};
  fill(box.querySelector(".camera-status-one"),
    el("div", { cls: "source-head" }, linkBadge(status)), ...statusParts(cam));
  const alarms = cam.alarms || [];
  fill(box.querySelector(".camera-alarms"), ...(alarms.length ? alarms.map((alarm) => el("li", {
    cls: "alarm", attrs: { "data-id": alarm.id, "data-level": alarm.level } },
  el("div", { cls: "alarm-head" },
    el("span", { cls: `badge state-${alarm.level}`, text: t(`state.${alarm.level}`) }),
    el("span", { cls: "alarm-rule", text: term("rule", alarm.rule) }),
    el("span", { cls: "alarm-meta", text: t(`alarm_state.${alarm.state}`) }),
    el("p", { cls: "alarm-message", text: alarm.message })))) : [
    el("li", { cls: "empty", text: t("alarms.none") })]));
}

function showSliderTime(slider) {
  const value = Number(slider.value);
  const live = value >= Number(slider.max);
  const text = live ? t("camera.at_now") : localTime(value);
  slider.setAttribute("aria-valuetext", text);
  document.getElementById("camera-at").textContent = text;
}

/** Mark where the camera has frames under the slider, and widen it to their span. */
async function loadTicks(cam, slider) {
  const drawing = dialogState.drawing;
  const max = Number(slider.max);
  let frames = [];
  try {
    const answer = await getJSON(`/api/cameras/${encodeURIComponent(cam.code)}/frames`,
      { start: new Date(max - SPAN_MS).toISOString(), limit: MAX_TICKS });
    frames = answer.frames || [];
    if (!frames.length && cam.latest) {
      // none in the last day: the day before its newest frame
      const older = await getJSON(`/api/cameras/${encodeURIComponent(cam.code)}/frames`,
        { end: new Date(ms(cam.latest.taken_at) + 1000).toISOString(), limit: MAX_TICKS });
      frames = older.frames || [];
    }
  } catch {
    return;
  }
  if (drawing !== dialogState.drawing || dialogState.code !== cam.code) return;
  const first = frames.length ? floorMinute(ms(frames[0].taken_at)) : max - SPAN_MS;
  const min = Math.min(max - SPAN_MS, first);
  slider.min = String(min);
  const d = frames.map((f) => `M${((1000 * (ms(f.taken_at) - min)) / (max - min)).toFixed(1)},0v8`);
  const ticks = dialog().querySelector(".camera-ticks");
  fill(ticks, d.length ? svg("path", { d: d.join("") }) : null);
  dialog().querySelector(".camera-span").textContent = frames.length
    ? t("camera.span", { n: frames.length, first: localTime(frames[0].taken_at),
      last: localTime(frames[frames.length - 1].taken_at) })
    : t("camera.span_none");
}

/** Show the camera's frame at `at` (ms; null: now) beside the readings of that minute. */
async function showAt(at) {
  const cam = camera(dialogState.code);
  if (!cam) return;
  const token = ++dialogState.token;
  const box = dialog();
  box.dataset.loading = "true";
  let found;
  try {
    found = await getJSON(`/api/cameras/${encodeURIComponent(cam.code)}/frame`,
      at === null ? {} : { at: new Date(at).toISOString() });
  } catch (error) {
    if (token === dialogState.token) {
      box.querySelector(".camera-caption").textContent = t("error.load",
        { what: cam.code, message: error.message });
      box.dataset.loading = "false";
    }
    return;
  }
  if (token !== dialogState.token || dialogState.code !== cam.code) return;
  const frame = found.frame;
  const badges = [];
  if (!frame) badges.push(staleBadge(null));
  else if (frame.stale) badges.push(staleBadge(frame.age_s));
  if (at === null && feedDown(cam)) {
    badges.push(el("span", { cls: "badge state-alarm camera-down", text: t("camera.down") }));
  }
  showFrame(box.querySelector(".camera-frame"), {
    cam, frame, readings: found.readings, badges,
    empty: at === null ? t("camera.no_image") : t("camera.no_image_then"),
  });
  box.querySelector(".camera-caption").textContent = frame
    ? t("camera.caption", { at: localTime(found.at), taken: localTime(frame.taken_at) })
    : t("camera.caption_none", { at: localTime(found.at) });
  fill(box.querySelector(".camera-readings"), ...READINGS.flatMap(([name, digits]) => {
    const reading = found.readings ? found.readings[name] : null;
    if (name === "camera_level" && !cam.channels.level) return [];
    const { value, unit } = readingText(reading, digits);
    return [el("dt", { text: t(`camera.reading.${name}`) }),
      el("dd", { attrs: { "data-q": name } }, el("b", { cls: "v", text: value }),
        unit ? ` ${unit}` : "",
        reading ? el("small", { cls: "muted", text: ` ${localTime(reading.time)}` }) : null)];
  }));
  box.dataset.at = found.at;
  box.dataset.loading = "false";
}

/** Redraw the open dialog at now (a newer frame came, or the list was loaded again). */
function refreshDialog() {
  const cam = camera(dialogState.code);
  if (!cam) {
    closeDialog();
    return;
  }
  const slider = document.getElementById("camera-time");
  const max = floorMinute(Date.now()) + MINUTE_MS;
  if (slider && Number(slider.max) < max) {
    slider.max = String(max);
    slider.value = String(max);
  }
  renderDialogStatus(cam);
  showAt(null);
}

/** Whether the channel's instrument is a camera the page knows (for the schematic's clicks). */
export function isCameraInstrument(instrument) {
  return instrument.type === "camera" && Boolean(camera(instrument.code));
}
