// The open alarms with an Acknowledge form each (used on the dashboard and on the phone). A
// camera's alarm shows the frames kept with it (GET /api/alarms/{id}/media): the frame with its
// zone and findings drawn, and a strip of the frames before, at and after the event.

import { getJSON, postJSON } from "./api.js";
import { t, term } from "./i18n.js";
import { applyAlarm, data, notify } from "./state.js";
import { el, fmt, localTime } from "./util.js";

async function acknowledge(alarm, comment, status) {
  status.textContent = "";
  try {
    // who acknowledges is the signed-in user (the server knows from the session)
    const answer = await postJSON(`/api/alarms/${alarm.id}/acknowledge`, { comment });
    applyAlarm(answer);
    notify({ kind: "alarm", alarm: answer, message: t("alarms.ack_done", { id: alarm.id }) });
  } catch (error) {
    status.textContent = t("alarms.ack_failed", { message: error.message });
  }
}

/** The channel's newest reading, for the card's "now" (null when none). */
function latestOf(alarm) {
  return data.latest.get(alarm.channel) || null;
}

function head(alarm) {
  const channel = data.channelByCode.get(alarm.channel)?.channel;
  const unit = channel?.unit || "";
  const value = (v) => `${fmt(v, 3)} ${unit}`.trim();
  // a camera's video channel holds 1 (good frame) or 0: its value says nothing on the card
  const now = channel?.quantity === "video" ? null : latestOf(alarm);
  const shown = channel?.quantity === "video" ? null : alarm.value;
  const lines = [
    el("span", { cls: `badge state-${alarm.level}`, text: t(`state.${alarm.level}`) }),
    el("a", { cls: "alarm-channel", text: alarm.channel || "—",
      attrs: { href: `#/instrument/${encodeURIComponent(alarm.channel || "")}` } }),
    el("span", { cls: "alarm-rule", text: term("rule", alarm.rule) }),
    el("span", { cls: "alarm-now", text: now ? t("alarms.now", { value: value(now.value) }) : "",
      attrs: now ? { title: localTime(now.time) } : {} }),
    el("span", { cls: "alarm-value", text: shown === null || shown === undefined ? ""
      : t("alarms.at_raise", { value: value(shown) }) }),
    el("p", { cls: "alarm-message", text: alarm.message }),
    el("p", { cls: "alarm-meta",
      text: `${t("alarms.raised")} ${localTime(alarm.raised)} · ${alarm.acknowledged_by
        ? t("alarms.acknowledged_by", { who: alarm.acknowledged_by })
        : t(`alarm_state.${alarm.state}`)}` }),
  ];
  return el("div", { cls: "alarm-head" }, ...lines);
}

// ---- a camera alarm's frames -----------------------------------------------------------------

/** The order of the frames in the strip. */
const ROLES = ["annotated", "before", "at", "after"];
/** Most thumbnails in the strip. */
const MAX_THUMBS = 12;
/** Alarms whose frames are remembered (the oldest asked is forgotten first). */
const MAX_CACHED = 200;
/** alarm id and last step -> Promise of its frames (a later step may add frames after it). */
const mediaCache = new Map();

/** Whether an alarm is a camera's (its rule, or its channel's instrument). */
export function isCameraAlarm(alarm) {
  if (typeof alarm.rule === "string" && alarm.rule.startsWith("camera.")) return true;
  const entry = data.channelByCode.get(alarm.channel);
  return Boolean(entry && entry.instrument.type === "camera");
}

function alarmFrames(alarm) {
  const key = `${alarm.id}|${alarm.last || ""}`;
  if (!mediaCache.has(key)) {
    if (mediaCache.size >= MAX_CACHED) mediaCache.delete(mediaCache.keys().next().value);
    mediaCache.set(key, getJSON(`/api/alarms/${alarm.id}/media`)
      .then((answer) => (Array.isArray(answer && answer.media) ? answer.media : []))
      .catch(() => []));
  }
  return mediaCache.get(key);
}

function frameCaption(alarm, item) {
  return `${t(`alarms.media.${item.role}`)} · ${localTime(item.taken_at)}`;
}

/** Show `item` as the card's large frame. */
function showAlarmFrame(figure, alarm, item) {
  const img = figure.querySelector("img.alarm-frame");
  img.src = item.url;
  img.dataset.mediaId = String(item.media_id);
  img.dataset.role = item.role;
  img.alt = t("alarms.media_alt", { id: alarm.id, role: t(`alarms.media.${item.role}`),
    time: localTime(item.taken_at) });
  figure.querySelector("figcaption").textContent = frameCaption(alarm, item);
  for (const thumb of figure.querySelectorAll(".alarm-thumb")) {
    thumb.setAttribute("aria-pressed", String(thumb.dataset.mediaId === String(item.media_id)));
  }
}

function drawAlarmFrames(box, alarm, media) {
  const rank = (item) => ROLES.indexOf(item.role);
  const items = media.filter((m) => ROLES.includes(m.role))
    .sort((a, b) => rank(a) - rank(b) || Date.parse(a.taken_at) - Date.parse(b.taken_at));
  if (!items.length) return;
  const main = items.find((m) => m.role === "annotated") || items.find((m) => m.role === "at")
    || items[0];
  const figure = el("figure", { cls: "alarm-figure" },
    el("img", { cls: "alarm-frame", attrs: { decoding: "async" } }),
    el("figcaption", { cls: "hint" }));
  if (items.length > 1) {
    const strip = el("div", { cls: "alarm-thumbs" }, ...items.slice(0, MAX_THUMBS).map((item) => {
      const thumb = el("button", { cls: "alarm-thumb", attrs: { type: "button",
        "data-media-id": item.media_id, "data-role": item.role,
        title: frameCaption(alarm, item) } },
      el("img", { attrs: { src: item.url, alt: "", loading: "lazy", decoding: "async" } }),
      el("span", { text: t(`alarms.media.${item.role}`) }));
      thumb.addEventListener("click", () => showAlarmFrame(figure, alarm, item));
      return thumb;
    }));
    figure.append(strip);
  }
  showAlarmFrame(figure, alarm, main);
  box.replaceChildren(figure);
  box.hidden = false;
}

/** A box that fills with the alarm's frames once they are answered (stays hidden if none). */
function alarmMedia(alarm) {
  const box = el("div", { cls: "alarm-media", attrs: { hidden: true } });
  alarmFrames(alarm).then((media) => drawAlarmFrames(box, alarm, media));
  return box;
}

function ackForm(alarm) {
  const id = `ack-${alarm.id}`;
  const input = el("input", { attrs: { id, name: "comment", type: "text", autocomplete: "off",
    placeholder: t("alarms.comment_placeholder") } });
  const button = el("button", { cls: "ack", text: t("alarms.acknowledge"),
    attrs: { type: "submit" } });
  const status = el("span", { cls: "form-status", attrs: { role: "status" } });
  const form = el("form", { cls: "ack-form" },
    el("label", { text: t("alarms.comment"), attrs: { for: id, class: "visually-hidden" } }),
    input, button, status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    await acknowledge(alarm, input.value, status);
    button.disabled = false;
  });
  return form;
}

/**
 * Show the open alarms in the list `ul`, keyed by id, so that a comment being typed survives
 * a live update of the list.
 */
export function renderAlarms(ul, alarms = data.alarms) {
  const existing = new Map([...ul.children].map((li) => [li.dataset.id, li]));
  const items = [];
  if (!alarms.length) {
    items.push(el("li", { cls: "empty", text: t("alarms.none") }));
  }
  for (const alarm of alarms) {
    let li = existing.get(String(alarm.id));
    const now = latestOf(alarm);
    const signature = `${alarm.state}|${alarm.level}|${alarm.last}|${alarm.acknowledged_by}|`
      + `${now ? now.time : ""}`;
    if (!li || li.dataset.lang !== document.documentElement.lang) {
      li = el("li", { cls: "alarm", attrs: { "data-id": alarm.id } }, head(alarm),
        isCameraAlarm(alarm) ? alarmMedia(alarm) : null, ackForm(alarm));
    } else if (li.dataset.signature !== signature) {
      li.querySelector(".alarm-head").replaceWith(head(alarm));
    }
    li.dataset.signature = signature;
    li.dataset.lang = document.documentElement.lang;
    li.dataset.state = alarm.state;
    li.dataset.level = alarm.level;
    const form = li.querySelector(".ack-form");
    form.hidden = alarm.state === "acknowledged";
    items.push(li);
  }
  ul.replaceChildren(...items);
}
