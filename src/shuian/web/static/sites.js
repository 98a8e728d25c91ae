// The prefecture bureau's overview: every reservoir of the store with its state now and its
// worst open alarm (GET /api/sites). Choosing one opens its dashboard.

import { getJSON } from "./api.js";
import { lang, t } from "./i18n.js";
import { el } from "./util.js";

const LEVELS = ["alarm", "warning", "attention"];

/** Draw the list of reservoirs into `root`. */
export async function showSites(root) {
  root.replaceChildren(el("p", { text: "…" }));
  let sites;
  try {
    sites = await getJSON("/api/sites");
  } catch (error) {
    root.replaceChildren(el("p", { cls: "problem", text: String(error.message || error) }));
    return;
  }
  const cards = sites.map((site) => siteCard(site));
  root.replaceChildren(
    el("h2", { text: t("sites.title") }),
    el("div", { cls: "site-cards", attrs: { "data-sites": sites.length } }, ...cards),
  );
}

function siteCard(site) {
  const worst = site.worst_alarm ? site.worst_alarm.level : "normal";
  const name = lang() === "zh" ? site.name_zh || site.name : site.name;
  const other = lang() === "zh" ? site.name : site.name_zh;
  const level = site.level === null || site.level === undefined
    ? "–" : `${site.level.toFixed(2)} m`;
  const share = site.percent_of_design === null || site.percent_of_design === undefined
    ? "" : ` · ${site.percent_of_design.toFixed(1)} %`;
  const card = el("button", { cls: `card site-card state-${worst}`,
    attrs: { type: "button", "data-site": site.code } },
  el("span", { cls: `state badge state-${worst}`, text: t(`state.${worst}`) }),
  el("strong", { text: name }),
  el("span", { cls: "muted", text: other || "" }),
  el("span", { text: `${t("sites.level")} ${level}${share}` }),
  el("span", { text: site.open_alarms
    ? t("sites.open_alarms", { count: site.open_alarms }) : t("sites.no_alarms") }),
  site.worst_alarm && LEVELS.includes(worst)
    ? el("span", { cls: "muted", text: site.worst_alarm.message }) : null,
  site.synthetic ? el("span", { cls: "synthetic-tag", text: t("sites.synthetic") }) : null);
  card.addEventListener("click", () => {
    localStorage.setItem("shuian.site", site.code);
    window.location.hash = "#/overview";
    window.location.reload();
  });
  return card;
}
