// What the page knows about the site now (latest readings, open alarms, flagged readings) and
// the state of each channel and instrument derived from it. Views listen for changes.

import { ms } from "./util.js";

const LEVEL_RANK = { attention: 1, warning: 2, alarm: 3 };
/** Worst first; an instrument takes the worst state of its channels. */
const RANK = { alarm: 6, warning: 5, attention: 4, stale: 3, suspect: 2, normal: 1 };
/** A channel is silent when its newest reading is older than this many intervals. */
const STALE_INTERVALS = 3;

export const data = {
  site: null,
  channels: [], // GET /api/channels
  channelByCode: new Map(), // code -> {channel (site file), instrument}
  latest: new Map(), // code -> {time, value}
  alarms: [], // open alarms, worst level first, then newest
  suspect: new Set(), // channels whose newest reading is flagged
  hydrology: null, // GET /api/hydrology/state
  rain24h: null,
};

const listeners = new Set();

/** Call `listener(change)` when the data change ({kind: "reading" | "alarm" | "all", code}). */
export function onChange(listener) {
  listeners.add(listener);
}

export function notify(change) {
  for (const listener of listeners) listener(change);
}

/** Remember the site and index its channels. */
export function setSite(site, channels) {
  data.site = site;
  data.channels = channels;
  data.channelByCode = new Map();
  for (const instrument of site.instruments) {
    for (const channel of instrument.channels) {
      data.channelByCode.set(channel.code, { channel, instrument });
    }
  }
}

/** Remember the newest reading of each channel, and which of them are flagged (suspect). */
export function setLatest(rows) {
  data.latest = new Map(rows.map((row) => [row.code, { time: row.time, value: row.value }]));
  data.suspect = new Set(rows.filter((row) => row.flagged).map((row) => row.code));
}

/** A reading arrived (live): keep it if it is the newest. */
export function applyReading(event) {
  const known = data.latest.get(event.channel);
  if (known && ms(known.time) > ms(event.time)) return false;
  data.latest.set(event.channel, { time: event.time, value: event.value });
  const flagged = typeof event.state === "string"
    && ["suspect", "flagged", "spike", "limits", "stuck", "rate"].includes(event.state);
  if (flagged) data.suspect.add(event.channel);
  else data.suspect.delete(event.channel);
  return true;
}

/** An alarm changed (live or after acknowledging): update the open list. */
export function applyAlarm(alarm) {
  const rest = data.alarms.filter((a) => a.id !== alarm.id);
  data.alarms = alarm.state === "cleared" ? rest : [alarm, ...rest];
  sortAlarms(data.alarms);
}

/** Order alarms as the server does for open ones: worst level first, then newest. */
export function sortAlarms(alarms) {
  return alarms.sort((a, b) => (LEVEL_RANK[b.level] || 0) - (LEVEL_RANK[a.level] || 0)
    || ms(b.raised) - ms(a.raised) || b.id - a.id);
}

/** The state of one channel: its worst open alarm, else silent, suspect or normal. */
export function channelState(code, now = Date.now()) {
  let level = null;
  for (const alarm of data.alarms) {
    if (alarm.channel !== code) continue;
    if (!level || LEVEL_RANK[alarm.level] > LEVEL_RANK[level]) level = alarm.level;
  }
  if (level && LEVEL_RANK[level]) return level;
  const reading = data.latest.get(code);
  const entry = data.channelByCode.get(code);
  const interval = entry ? entry.channel.interval : null;
  if (!reading) return "stale";
  if (interval && now - ms(reading.time) > STALE_INTERVALS * interval * 1000) return "stale";
  if (data.suspect.has(code)) return "suspect";
  return "normal";
}

/** The worst state of an instrument's channels. */
export function instrumentState(instrument, now = Date.now()) {
  let worst = "normal";
  for (const channel of instrument.channels) {
    const state = channelState(channel.code, now);
    if (RANK[state] > RANK[worst]) worst = state;
  }
  return worst;
}

/** The worst level among open alarms (null when none). */
export function worstAlarm() {
  let worst = null;
  for (const alarm of data.alarms) {
    if (!worst || LEVEL_RANK[alarm.level] > LEVEL_RANK[worst]) worst = alarm.level;
  }
  return worst;
}

/** Every channel the field staff read by hand (instruments with `manual: true`). */
export function manualChannels() {
  return data.site.instruments.filter((i) => i.manual)
    .flatMap((instrument) => instrument.channels.map((channel) => ({ channel, instrument })));
}
