// The field layout for a phone: the reservoir in a few numbers, the cameras' newest images
// (small; a tap opens one large), the open alarms, a search over the instruments, and the
// manual-reading form (kept offline, sent when back online).

import { renderAlarms } from "./alarms.js";
import { renderCameraTiles } from "./cameras.js";
import { t, term } from "./i18n.js";
import { flushQueue, onQueueChange, queued, sendReadings } from "./offline.js";
import { data, instrumentState, manualChannels, worstAlarm } from "./state.js";
import { renderTelemetryLine } from "./telemetry.js";
import { el, fill, fmt, localInputNow } from "./util.js";

let search = "";

export function renderPhone(root) {
  const manual = manualChannels();
  const channelSelect = el("select", { attrs: { id: "manual-channel", name: "channel",
    required: true } }, ...manual.map(({ channel, instrument }) => el("option", {
    text: `${channel.code} — ${term("type", instrument.type)} (${term("unit", channel.unit)})`,
    attrs: { value: channel.code } })));
  const form = el("form", { cls: "manual-form", attrs: { id: "manual-form" } },
    el("label", { attrs: { for: "manual-channel" }, text: t("phone.channel") }), channelSelect,
    el("label", { attrs: { for: "manual-time" }, text: t("phone.time") }),
    el("input", { attrs: { id: "manual-time", name: "time", type: "datetime-local",
      value: localInputNow(), required: true } }),
    el("label", { attrs: { for: "manual-value" }, text: t("phone.value") }),
    el("input", { attrs: { id: "manual-value", name: "value", type: "text",
      inputmode: "decimal", autocomplete: "off" } }),
    el("label", { attrs: { for: "manual-raw" }, text: t("phone.raw") }),
    el("input", { attrs: { id: "manual-raw", name: "raw", type: "text", inputmode: "decimal",
      autocomplete: "off" } }),
    el("button", { text: t("phone.send"), attrs: { type: "submit" } }),
    el("p", { cls: "queue-count", attrs: { id: "queue-count", "aria-live": "polite" } }),
    el("ul", { cls: "form-messages", attrs: { id: "manual-messages", "aria-live": "polite" } }),
  );
  form.addEventListener("submit", (event) => submit(event, form));

  const searchInput = el("input", { attrs: { id: "phone-search", type: "search",
    value: search, placeholder: t("phone.search_placeholder"), autocomplete: "off" } });
  searchInput.addEventListener("input", () => {
    search = searchInput.value;
    renderResults(root.querySelector("#search-results"));
  });

  fill(root,
    el("section", { cls: "card", attrs: { id: "phone-summary" } },
      el("h2", { text: t("phone.summary") }), el("div", { attrs: { id: "phone-summary-body" } }),
      el("p", { cls: "telemetry-line", attrs: { id: "phone-telemetry", hidden: true } })),
    el("section", { cls: "card", attrs: { id: "phone-cameras", hidden: true } },
      el("h2", { text: t("cameras.title") }),
      el("div", { cls: "camera-tiles small", attrs: { id: "phone-camera-tiles" } })),
    el("section", { cls: "card", attrs: { id: "phone-alarms" } },
      el("h2", { text: t("alarms.title") }), el("ul", { cls: "alarms",
        attrs: { id: "phone-alarm-list" } })),
    el("section", { cls: "card", attrs: { id: "phone-search-card" } },
      el("h2", {}, el("label", { attrs: { for: "phone-search" }, text: t("phone.search") })),
      searchInput, el("ul", { cls: "results", attrs: { id: "search-results" } })),
    el("section", { cls: "card", attrs: { id: "phone-manual" } },
      el("h2", { text: t("phone.manual") }), form),
  );
  updatePhone(root);
  showQueue(queued().length);
}

export function updatePhone(root) {
  const body = root.querySelector("#phone-summary-body");
  if (!body) return;
  const state = data.hydrology;
  const worst = worstAlarm();
  fill(body, state ? el("dl", { cls: "facts summary" },
    el("dt", { text: t("reservoir.level") }),
    el("dd", {}, el("b", { text: fmt(state.level, 2) }), ` ${t("unit.m")}`),
    el("dt", { text: t("reservoir.storage") }),
    el("dd", {}, el("b", { text: fmt(state.storage / 1e4, 0) }),
      ` ${t("unit.10k_m3")} (${fmt(state.percent_of_design, 1)}%)`),
    el("dt", { text: t("reservoir.inflow") }),
    el("dd", { text: `${fmt(state.inflow, 2)} ${t("unit.m3/s")}` }),
    el("dt", { text: t("reservoir.outflow") }),
    el("dd", { text: `${fmt(state.outflow, 2)} ${t("unit.m3/s")}` }),
    el("dt", { text: t("phone.worst") }),
    el("dd", {}, el("span", { cls: `badge state-${worst || "normal"}`,
      text: worst ? t(`state.${worst}`) : t("alarms.none") })),
  ) : el("p", { cls: "muted", text: t("reservoir.unavailable") }));
  renderTelemetryLine(root.querySelector("#phone-telemetry"));
  root.querySelector("#phone-cameras").hidden = !renderCameraTiles(
    root.querySelector("#phone-camera-tiles"));
  renderAlarms(root.querySelector("#phone-alarm-list"));
  renderResults(root.querySelector("#search-results"));
}

function renderResults(list) {
  const query = search.trim().toLowerCase();
  if (!query) {
    list.replaceChildren();
    return;
  }
  const found = data.site.instruments.filter((i) => [i.code, i.type, term("type", i.type),
    i.name || "", i.name_zh || "", ...i.channels.map((c) => c.code)].some((s) => s.toLowerCase().includes(query)));
  list.replaceChildren(...found.slice(0, 20).map((instrument) => {
    const state = instrumentState(instrument);
    const values = instrument.channels.map((c) => {
      const reading = data.latest.get(c.code);
      return `${c.code} ${reading ? fmt(reading.value, 3) : "—"} ${term("unit", c.unit)}`;
    }).join(" · ");
    return el("li", {}, el("a", { attrs: { href: `#/instrument/${encodeURIComponent(instrument.code)}` } },
      el("span", { cls: `dot state-${state}`, attrs: { "aria-hidden": "true" } }),
      el("b", { text: instrument.code }), ` ${term("type", instrument.type)} `,
      el("span", { cls: "badge plain", text: t(`state.${state}`) }),
      el("br"), el("small", { text: values })));
  }));
}

function showQueue(count) {
  const node = document.getElementById("queue-count");
  if (node) {
    node.textContent = count ? t("phone.queue", { n: count }) : t("phone.queue_empty");
    node.classList.toggle("waiting", count > 0);
  }
}

onQueueChange(showQueue);

function message(text, cls = "") {
  const list = document.getElementById("manual-messages");
  if (list) list.prepend(el("li", { cls, text }));
}

async function submit(event, form) {
  event.preventDefault();
  const values = new FormData(form);
  const value = String(values.get("value") || "").trim();
  const raw = String(values.get("raw") || "").trim();
  if (!value && !raw) {
    message(t("phone.need_value"), "bad");
    return;
  }
  // a time without an offset is read in the site's time zone by the API
  const reading = { channel: values.get("channel"), time: `${values.get("time")}:00` };
  if (value) reading.value = value;
  else reading.raw = raw;
  try {
    const report = await sendReadings([reading]);
    if (report.queued) {
      message(t("phone.offline"), "warn");
    } else {
      if (report.accepted || report.duplicates) {
        message(t("phone.accepted", report), "ok");
      }
      for (const rejection of report.rejections || []) {
        message(t("phone.rejected", { reason: rejection.reason }), "bad");
      }
    }
    if (!report.rejected) {
      form.querySelector("#manual-value").value = "";
      form.querySelector("#manual-raw").value = "";
    }
  } catch (error) {
    message(t("phone.rejected", { reason: error.message }), "bad");
  }
  showQueue(queued().length);
}

document.addEventListener("shuian:flushed", (event) => {
  const report = event.detail;
  if (report.error) {
    message(t("phone.rejected", { reason: report.error }), "bad");
    return;
  }
  message(t("phone.sent_queue", { n: report.sent }), "ok");
  for (const rejection of report.rejections || []) {
    message(t("phone.rejected", { reason: `${rejection.channel}: ${rejection.reason}` }), "bad");
  }
});

/** Try to send what waits, now and every 30 s (the `online` event is not always reliable). */
export function startQueueFlusher() {
  const tick = async () => {
    const report = await flushQueue();
    if (report) document.dispatchEvent(new CustomEvent("shuian:flushed", { detail: report }));
  };
  tick();
  setInterval(tick, 30_000);
}
