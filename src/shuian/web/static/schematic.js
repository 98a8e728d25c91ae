// The dam drawn from the site file: an elevation looking downstream, its blocks along the crest
// by chainage, the foundation gallery, the reservoir level, and one marker per instrument placed
// by chainage (or its block) and elevation, coloured by state; a camera is drawn as a camera.

import { localName, t, term } from "./i18n.js";
import { fmt, svg } from "./util.js";

const VIEW = { width: 900, height: 420, left: 70, right: 40, top: 46, bottom: 28 };
/** Metres above the crest kept for instruments with no elevation (hydrology, weather). */
const HEADROOM = 12;

/** Foundation elevation at chainage c: the valley's shape depends on the dam type. */
function foundation(dam, c) {
  const half = dam.crest_length / 2;
  const u = Math.min(1, Math.abs((c - half) / half));
  const base = dam.crest_elevation - dam.height;
  if (dam.type === "arch" || dam.type === "rcc_arch") {
    // a narrow canyon: U-shaped bottom, steep abutments
    return base + dam.height * u ** 2.2;
  }
  // gravity, buttress, embankments: a flat valley floor and straight banks
  const floor = dam.type === "earth" || dam.type === "rockfill" ? 0.5 : 0.35;
  return base + dam.height * Math.max(0, (u - floor) / (1 - floor));
}

/** Where the marker of an instrument goes: chainage and elevation, with fallbacks. */
function position(dam, sections, instrument) {
  let chainage = instrument.chainage;
  if (chainage === null || chainage === undefined) {
    const section = sections.get(instrument.section);
    chainage = section ? (section.chainage_start + section.chainage_end) / 2 : dam.crest_length / 2;
  }
  let elevation = instrument.elevation;
  const floating = elevation === null || elevation === undefined;
  if (floating) elevation = dam.crest_elevation + HEADROOM * 0.6;
  if (!floating && elevation <= dam.crest_elevation) {
    elevation = Math.max(elevation, foundation(dam, chainage) + 1.5);
  }
  return { chainage, elevation };
}

/** A camera seen from the side, centred on (cx, cy): its body and its lens (px). */
function cameraGlyph(cx, cy) {
  const body = `M${cx - 7.5},${cy - 5}h9.5v10h-9.5z`;
  const lens = `M${cx + 2},${cy - 2}L${cx + 7.5},${cy - 5.5}V${cy + 5.5}L${cx + 2},${cy + 2}z`;
  return body + lens;
}

function markerClass(marker, state) {
  return `marker${marker.dataset.kind === "camera" ? " camera" : ""} state-${state}`;
}

/**
 * Draw the schematic into `container`.
 *
 * Returns a Map from instrument code to its marker element, for later colouring.
 */
export function drawSchematic(container, site, { onSelect, level } = {}) {
  const dam = site.dam;
  const { width, height, left, right, top, bottom } = VIEW;
  const base = dam.crest_elevation - dam.height;
  const zTop = dam.crest_elevation + HEADROOM;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const x = (c) => left + (c / dam.crest_length) * plotW;
  const y = (z) => top + ((zTop - z) / (zTop - base)) * plotH;

  const root = svg("svg", {
    viewBox: `0 0 ${width} ${height}`, class: "schematic", role: "group",
    "aria-label": t("schematic.aria"),
  });

  // rock, dam body, water line
  const steps = 60;
  const ground = [];
  for (let i = 0; i <= steps; i += 1) {
    const c = (dam.crest_length * i) / steps;
    ground.push(`${x(c).toFixed(1)},${y(foundation(dam, c)).toFixed(1)}`);
  }
  root.append(svg("path", {
    d: `M${left - 30},${y(dam.crest_elevation) - 6}L${ground.join("L")}`
      + `L${left + plotW + 30},${y(dam.crest_elevation) - 6}L${left + plotW + 30},${height}`
      + `L${left - 30},${height}Z`,
    class: "rock",
  }));
  root.append(svg("path", {
    d: `M${x(0)},${y(dam.crest_elevation)}L${ground.join("L")}Z`, class: "dam-body",
  }));
  if (Number.isFinite(level)) {
    const yl = y(level);
    root.append(svg("line", { x1: x(0), x2: x(dam.crest_length), y1: yl, y2: yl,
      class: "water-line" }));
    root.append(svg("text", { x: x(dam.crest_length) + 4, y: yl + 4, class: "water-label" },
      `▽${fmt(level, 2)}`));
  }

  // blocks along the crest
  for (const section of dam.sections) {
    const xa = x(section.chainage_start);
    const xb = x(section.chainage_end);
    if (section.chainage_start > 0) {
      root.append(svg("line", {
        x1: xa, x2: xa, y1: y(dam.crest_elevation), y2: y(foundation(dam, section.chainage_start)),
        class: "joint",
      }));
    }
    const label = svg("text", { x: (xa + xb) / 2, y: y(dam.crest_elevation) - 6,
      class: "block-label", "text-anchor": "middle" }, section.code);
    if (section.name) label.append(svg("title", {}, section.name));
    root.append(label);
  }

  // foundation gallery: a few metres above the rock, as far up the banks as the dam is thick
  const gallery = [];
  for (let i = 0; i <= steps; i += 1) {
    const c = (dam.crest_length * i) / steps;
    const z = foundation(dam, c) + 7;
    if (z < dam.crest_elevation - 8) gallery.push(`${x(c).toFixed(1)},${y(z).toFixed(1)}`);
  }
  if (gallery.length > 1) {
    root.append(svg("path", { d: `M${gallery.join("L")}`, class: "gallery" }));
    const [gx, gy] = gallery[Math.floor(gallery.length / 2)].split(",").map(Number);
    root.append(svg("text", { x: gx + 40, y: gy - 4, class: "gallery-label" },
      t("schematic.gallery")));
  }

  // elevation axis
  const axis = svg("g", { class: "elev-axis" });
  for (let z = Math.ceil(base / 20) * 20; z <= dam.crest_elevation; z += 20) {
    axis.append(svg("line", { x1: left - 34, x2: left - 28, y1: y(z), y2: y(z) }));
    axis.append(svg("text", { x: left - 36, y: y(z) + 4, "text-anchor": "end" }, String(z)));
  }
  axis.append(svg("text", { x: 4, y: y(dam.crest_elevation) - 10, class: "unit" },
    `${t("schematic.crest")} ${fmt(dam.crest_elevation, 1)} m`));
  root.append(axis);

  // instruments: group those at the same spot and spread them side by side
  const sections = new Map(dam.sections.map((s) => [s.code, s]));
  const spots = new Map();
  for (const instrument of site.instruments) {
    const { chainage, elevation } = position(dam, sections, instrument);
    const px = x(chainage);
    const py = y(elevation);
    const key = `${Math.round(px / 10)}:${Math.round(py / 8)}`;
    if (!spots.has(key)) spots.set(key, { px, py, members: [] });
    spots.get(key).members.push(instrument);
  }
  const markers = new Map();
  const layer = svg("g", { class: "markers" });
  const placed = [];
  const labels = [];
  const clashes = (cx, cy) => placed.some(([px, py]) => Math.hypot(px - cx, py - cy) < 12);
  for (const { px, py, members } of spots.values()) {
    // side by side around the spot; the whole row moves right while it hits other markers
    let first = px - ((members.length - 1) / 2) * 13;
    for (let tries = 0; tries < 30; tries += 1) {
      if (!members.some((_, i) => clashes(first + i * 13, py))) break;
      first += 13;
    }
    members.forEach((instrument, index) => {
      const cx = first + index * 13;
      placed.push([cx, py]);
      const camera = instrument.type === "camera";
      const marker = camera ? svg("path", { d: cameraGlyph(cx, py) })
        : instrument.manual ? svg("rect", { x: cx - 5, y: py - 5, width: 10, height: 10 })
          : svg("circle", { cx, cy: py, r: 5.5 });
      if (camera) marker.dataset.kind = "camera";
      marker.setAttribute("class", markerClass(marker, "normal"));
      marker.setAttribute("tabindex", "0");
      marker.setAttribute("role", "button");
      marker.dataset.instrument = instrument.code;
      marker.append(svg("title"));
      const open = () => onSelect && onSelect(instrument);
      marker.addEventListener("click", open);
      marker.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          open();
        }
      });
      layer.append(marker);
      markers.set(instrument.code, marker);
    });
    const codes = members.map((m) => m.code);
    labels.push({ x: first + (members.length - 1) * 13 + 8, y: py,
      text: codes.length <= 2 ? codes.join(" ") : `${codes[0]}…${codes[codes.length - 1]}` });
  }
  // a label only where it hides no marker and no other label (the tooltip names every marker)
  const drawn = [];
  for (const label of labels) {
    const right = label.x + label.text.length * 6;
    const hit = (x, y, w) => Math.abs(y - label.y) < 10 && x + w > label.x - 2 && x < right;
    if (placed.some(([x, y]) => hit(x - 6, y, 12)) || drawn.some((d) => hit(d.x, d.y, d.w))) {
      continue;
    }
    drawn.push({ x: label.x, y: label.y, w: right - label.x });
    layer.append(svg("text", { x: label.x, y: label.y + 3, class: "marker-label" }, label.text));
  }
  root.append(layer);
  container.replaceChildren(root);
  return markers;
}

/** Colour a marker and describe it for screen readers and the tooltip. */
export function setMarkerState(marker, instrument, state, detail = "") {
  marker.setAttribute("class", markerClass(marker, state));
  const text = `${instrument.code} — ${term("type", instrument.type)}`
    + `${localName(instrument) ? ` (${localName(instrument)})` : ""}: ${t(`state.${state}`)}${detail}`;
  marker.setAttribute("aria-label", text);
  marker.querySelector("title").textContent = text;
}

/** The states in the order of the legend (worst first). */
export const STATES = ["alarm", "warning", "attention", "suspect", "stale", "normal"];
