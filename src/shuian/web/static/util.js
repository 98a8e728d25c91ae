// Small helpers shared by every view: building DOM and SVG nodes, formatting numbers and times.

export const SVG_NS = "http://www.w3.org/2000/svg";

/** An HTML element with optional text, class and attributes. */
export function el(tag, { text, cls, attrs } = {}, ...children) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value !== undefined && value !== null && value !== false) node.setAttribute(name, value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

/** An SVG element with attributes and optional text. */
export function svg(tag, attributes = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null) node.setAttribute(name, String(value));
  }
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A number with at most `digits` decimals, or an em dash for null / NaN. */
export function fmt(value, digits = 2) {
  if (value === null || value === undefined || !Number.isFinite(Number(value))) return "—";
  const number = Number(value);
  if (number !== 0 && Math.abs(number) < 10 ** -digits) return number.toExponential(1);
  const text = number.toLocaleString("en-US", {
    maximumFractionDigits: digits,
    useGrouping: false,
  });
  return text === "-0" ? "0" : text;
}

let timeFormat = new Intl.DateTimeFormat("en-CA", {
  timeZone: "UTC", year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", hourCycle: "h23",
});
let siteZone = "UTC";

/** Show times in the site's time zone from now on. */
export function setTimeZone(zone) {
  siteZone = zone;
  timeFormat = new Intl.DateTimeFormat("en-CA", {
    timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });
}

export function timeZone() {
  return siteZone;
}

function parts(date) {
  const out = {};
  for (const part of timeFormat.formatToParts(date)) out[part.type] = part.value;
  return out;
}

/** A time (ISO text, Date or ms) as "YYYY-MM-DD HH:MM" in the site's time zone. */
export function localTime(time) {
  if (time === null || time === undefined) return "—";
  const p = parts(new Date(time));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

/** The value for an <input type="datetime-local">: now, in the site's time zone. */
export function localInputNow() {
  const p = parts(new Date());
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
}

/** Milliseconds since the epoch of an ISO time. */
export const ms = (iso) => Date.parse(iso);

/** Linear interpolation of y(x) on increasing xs (clamped at the ends). */
export function interpolate(x, xs, ys) {
  if (!xs.length) return null;
  if (x <= xs[0]) return ys[0];
  for (let i = 1; i < xs.length; i += 1) {
    if (x <= xs[i]) return ys[i - 1] + ((ys[i] - ys[i - 1]) * (x - xs[i - 1])) / (xs[i] - xs[i - 1]);
  }
  return ys[ys.length - 1];
}

/** Replace a container's children. */
export function fill(container, ...children) {
  container.replaceChildren(...children.filter((c) => c !== null && c !== undefined));
}
