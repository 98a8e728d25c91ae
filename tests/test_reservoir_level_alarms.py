"""The reservoir level alarms with no configuration, and a level that jumps is a spike.

The test site (tests/data/site.yaml) gives the characteristic levels flood-limit 138 m, normal
140 m, design flood 142 m, check flood 143.5 m, crest 145 m, and no thresholds on its level
channel WL.level: these levels are its thresholds. Hourly level readings are ingested as a
station sends them, judged as they land.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest

from conftest import SITE_FILE
from shuian.services.analysis import Analyzer
from shuian.services.ingest import Ingestor
from shuian.services.reservoir import level_jump_limit, stage_storage
from shuian.site import Site, parse_site
from shuian.store import Store, StoredSite

START = dt.datetime(2025, 1, 10, tzinfo=dt.UTC)


def site_text(**replace: str) -> str:
    text = SITE_FILE.read_text(encoding="utf-8")
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


def with_site(store: Store, text: str) -> StoredSite:
    store.save_site(parse_site(text), text)
    return store.site()


def ingest_levels(store: Store, stored: StoredSite, levels: list[float],
                  start: dt.datetime = START) -> Ingestor:
    ingestor = Ingestor(store, stored, analyzer=Analyzer(store, stored))
    records = [{"channel": "WL.level", "time": (start + dt.timedelta(hours=i)).isoformat(),
                "value": v} for i, v in enumerate(levels)]
    report = ingestor.ingest_records(records, source="test")
    assert report.accepted == len(levels), report.rejections
    return ingestor


def level_alarms(store: Store, stored: StoredSite) -> list[Any]:
    wl = store.channel(stored.id, "WL.level").id
    return sorted(store.alarms(channel_ids=[wl], limit=100), key=lambda a: a.id)


def test_a_level_above_the_flood_limit_warns_at_once_and_above_the_design_flood_alarms(
    store: Store, stored_site: StoredSite
) -> None:
    ingest_levels(store, stored_site, [137.5, 137.9, 138.2])
    [alarm] = level_alarms(store, stored_site)
    assert (alarm.rule, alarm.level, alarm.state) == ("threshold", "warning", "raised")
    assert alarm.message == "WL.level 138.2 m is above the flood-limit level 138 m (warning)"

    ingest_levels(store, stored_site, [140.0, 142.3], start=START + dt.timedelta(hours=3))
    [alarm] = level_alarms(store, stored_site)
    assert (alarm.level, alarm.peak_level) == ("alarm", "alarm")
    events = [e.message for e in store.alarm_history(alarm.id)]
    assert events[-1] == "WL.level 142.3 m is above the design flood level 142 m (alarm)"


def test_the_level_alarm_clears_only_5_cm_below_the_level_it_passed(
    store: Store, stored_site: StoredSite
) -> None:
    ingest_levels(store, stored_site, [138.2, 137.97, 137.96])
    assert level_alarms(store, stored_site)[0].state == "raised"  # 3-4 cm below: still on
    ingest_levels(store, stored_site, [137.94], start=START + dt.timedelta(hours=3))
    assert level_alarms(store, stored_site)[0].state == "cleared"


def test_outside_the_flood_season_the_normal_pool_level_is_the_limit(store: Store) -> None:
    text = site_text(**{"crest: 145.0}": "crest: 145.0, "
                        "flood_season: {start: '06-01', end: '08-31'}}"})
    stored = with_site(store, text)
    ingest_levels(store, stored, [139.0, 139.5])  # January: above 138, below 140
    assert level_alarms(store, stored) == []
    ingest_levels(store, stored, [137.0, 139.5], start=dt.datetime(2025, 6, 30, tzinfo=dt.UTC))
    [alarm] = level_alarms(store, stored)
    assert alarm.message == "WL.level 139.5 m is above the flood-limit level 138 m (warning)"


def test_the_channel_s_own_thresholds_replace_the_levels_and_false_removes_them(
    store: Store,
) -> None:
    own = site_text(**{"limits: {min: 90, max: 150}}": "limits: {min: 90, max: 150}, "
                       "thresholds: {alarm: {max: 139}}}"})
    stored = with_site(store, own)
    ingest_levels(store, stored, [138.5, 139.5])
    assert [a.level for a in level_alarms(store, stored)] == ["alarm"]
    site = parse_site(site_text(**{"limits: {min: 90, max: 150}}":
                                   "limits: {min: 90, max: 150}, thresholds: false}"}))
    level = next(c for c in site.channels() if c.code == "WL.level")
    assert site.thresholds_of(level) is None


def test_no_other_channel_gets_the_reservoir_levels(site: Site) -> None:
    assert [c.code for c in site.channels() if site.thresholds_of(c) is not None] == [
        "WL.level"
    ]


# --- a level that jumps ------------------------------------------------------------------------

#: The test site with a check flood of 50 m³/s and no outlets: on the water surface at the
#: dead level (100 m, 79,167 m² by the table's PCHIP areas) the level changes at most
#: 3600 * 50 / 79,167 = 2.27 m/h.
#: The level is held for weeks, so (as at a real station) it has no Hampel window to judge by.
CHECK_FLOOD = {
    "timezone: Asia/Shanghai": "timezone: Asia/Shanghai\n  check_flood_peak: 50",
    "limits: {min: 90, max: 150}}": "limits: {min: 90, max: 150}, "
    "checks: {spike_window: null, stuck_readings: null}}",
}


def test_the_level_s_jump_limit_comes_from_its_storage_curve_and_check_flood() -> None:
    site = parse_site(site_text(**CHECK_FLOOD))
    area_at_dead_level = float(stage_storage(site).area(100.0))
    assert area_at_dead_level == pytest.approx(79_167, abs=1)
    assert level_jump_limit(site) == pytest.approx(3600 * 50 / area_at_dead_level)
    assert level_jump_limit(parse_site(site_text())) is None  # no check flood: no bound


def test_a_level_jump_beyond_what_the_reservoir_can_do_is_flagged_as_a_spike(
    store: Store,
) -> None:
    stored = with_site(store, site_text(**CHECK_FLOOD))
    levels = [125.0, 125.01, 125.02, 125.03, 140.0, 125.05, 125.06]  # one bad reading: 140
    ingest_levels(store, stored, levels)
    wl = store.channel(stored.id, "WL.level").id
    flags = store.flags(channel_ids=[wl])
    assert [(f.kind, f.time_us) for f in flags] == [
        ("spike", int((START + dt.timedelta(hours=4)).timestamp() * 1e6))
    ]
    assert "jumped +14.97 m from 125.03 m in 1 h: more than the 2.27" in flags[0].detail
    # the bad reading raises no level alarm (it is judged a spike, not a flood) - or, where a
    # threshold sees it, the message says the checks flag it
    for alarm in level_alarms(store, stored):
        assert "flag" in alarm.message


def test_a_fast_real_rise_within_the_limit_is_no_spike(store: Store) -> None:
    stored = with_site(store, site_text(**CHECK_FLOOD))
    rise = list(np.round(110.0 + 2.0 * np.arange(6), 3))  # 2 m/h: a big flood, still possible
    ingest_levels(store, stored, rise)
    wl = store.channel(stored.id, "WL.level").id
    assert store.flags(channel_ids=[wl]) == []
