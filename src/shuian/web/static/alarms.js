// The open alarms with an Acknowledge form each (used on the dashboard and on the phone).

import { postJSON } from "./api.js";
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
  const unit = data.channelByCode.get(alarm.channel)?.channel.unit || "";
  const value = (v) => `${fmt(v, 3)} ${unit}`.trim();
  const now = latestOf(alarm);
  const lines = [
    el("span", { cls: `badge state-${alarm.level}`, text: t(`state.${alarm.level}`) }),
    el("a", { cls: "alarm-channel", text: alarm.channel || "—",
      attrs: { href: `#/instrument/${encodeURIComponent(alarm.channel || "")}` } }),
    el("span", { cls: "alarm-rule", text: term("rule", alarm.rule) }),
    el("span", { cls: "alarm-now", text: now ? t("alarms.now", { value: value(now.value) }) : "",
      attrs: now ? { title: localTime(now.time) } : {} }),
    el("span", { cls: "alarm-value", text: alarm.value === null ? ""
      : t("alarms.at_raise", { value: value(alarm.value) }) }),
    el("p", { cls: "alarm-message", text: alarm.message }),
    el("p", { cls: "alarm-meta",
      text: `${t("alarms.raised")} ${localTime(alarm.raised)} · ${alarm.acknowledged_by
        ? t("alarms.acknowledged_by", { who: alarm.acknowledged_by })
        : t(`alarm_state.${alarm.state}`)}` }),
  ];
  return el("div", { cls: "alarm-head" }, ...lines);
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
      li = el("li", { cls: "alarm", attrs: { "data-id": alarm.id } }, head(alarm), ackForm(alarm));
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
