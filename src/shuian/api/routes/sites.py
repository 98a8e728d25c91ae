"""``GET /api/sites``: every reservoir in the store, with its state and worst open alarm.

The prefecture bureau's overview; every other endpoint takes ``?site=CODE`` to choose one.
"""

from __future__ import annotations

from fastapi import APIRouter

from shuian.alarms.levels import level_number
from shuian.api.deps import LangDep, StoreDep
from shuian.api.schemas import SiteSummaryPublic
from shuian.i18n import render_stored
from shuian.services.hydrology import Hydrology

router = APIRouter(tags=["sites"])


@router.get("/sites")
def read_sites(store: StoreDep, lang: LangDep) -> list[SiteSummaryPublic]:
    """Answer each reservoir: names, synthetic or not, level and storage now, open alarms."""
    out = []
    for code in store.sites():
        stored = store.site(code)
        reservoir = stored.site.reservoir
        ids = [c.id for c in store.channels(stored.id)]
        open_alarms = store.open_alarms(ids) if ids else []
        worst = max(open_alarms, key=lambda a: level_number(a.level), default=None)
        state = Hydrology(store, stored).state()
        out.append(SiteSummaryPublic.model_validate({
            "code": code,
            "name": reservoir.name,
            "name_zh": reservoir.name_zh,
            "synthetic": reservoir.synthetic,
            "level": state["level"],
            "storage": state["storage"],
            "percent_of_design": state.get("percent_of_design"),
            "time": state["time"],
            "open_alarms": len(open_alarms),
            "worst_alarm": None if worst is None else {
                "id": worst.id, "level": worst.level, "rule": worst.rule,
                "message": render_stored(worst.message, worst.message_key,
                                         worst.message_params, lang),
            },
        }))
    return out
