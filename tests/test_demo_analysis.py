"""The demo (Shimenzi, three years of synthetic history): what the analysis finds in it.

Specification (the README's demo section): every modelled channel is fitted; each fault the
generator injects is found by the check meant for it, at its time; the alarm list is short
enough for a person to read (< 60 alarms over the three years).

The history ends at a fixed time, so the figures are the same on every run (SQLite only: the
storage contract is tested elsewhere on both backends).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shuian.services.demo import DemoSummary, build_demo
from shuian.store import Store, open_store
from shuian.store.analysis import StoredAlarm, StoredFlag

END = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
END_US = int(END.timestamp() * 1_000_000)
HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US


@dataclass
class Demo:
    store: Store
    summary: DemoSummary
    codes: dict[int, str]
    ids: dict[str, int]

    def fault(self, kind: str) -> tuple[str, int, int]:
        (fault,) = [f for f in self.summary.faults if f.kind == kind]
        return fault.channel, _us(fault.start), _us(fault.end)

    def flags(self, code: str) -> list[StoredFlag]:
        return self.store.flags([self.ids[code]])

    def alarms(self, code: str | None = None) -> list[StoredAlarm]:
        ids = self.codes if code is None else [self.ids[code]]
        found = self.store.alarms(channel_ids=ids, limit=10_000)
        return sorted(found, key=lambda a: a.raised_us)

    def alarms_before_end(self) -> list[StoredAlarm]:
        """The alarms of the three years (not the no-data ones raised after the history)."""
        return [a for a in self.alarms() if a.raised_us <= END_US]


def _us(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    path: Path = tmp_path_factory.mktemp("demo") / "demo.db"
    store = open_store(f"sqlite:///{path}")
    summary = build_demo(store, days=1095, end=END, camera_hours=0)  # cameras: test_cameras_watch
    channels = store.channels(summary.stored.id)
    yield Demo(store, summary, {c.id: c.code for c in channels},
               {c.code: c.id for c in channels})
    store.close()


def test_the_demo_injects_the_four_faults(demo: Demo) -> None:
    assert sorted(f.kind for f in demo.summary.faults) == ["drift", "gap", "spike", "stuck"]
    assert {f.channel for f in demo.summary.faults} == {"PZ4", "J2", "S3", "T6"}


def test_every_modelled_channel_is_fitted(demo: Demo) -> None:
    site = demo.summary.stored.site
    modelled = {c.code for c in site.channels() if site.model_of(c) is not None}
    assert len(modelled) == 30
    assert {f.channel for f in demo.summary.fits} == modelled
    assert [f.channel for f in demo.summary.fits if not f.ok] == []
    for code in modelled:
        (version,) = demo.store.model_versions(demo.ids[code])
        assert version.version == 1 and version.sigma > 0


def test_every_reading_is_judged(demo: Demo) -> None:
    assert demo.summary.evaluation.readings == demo.summary.readings


def test_the_spike_on_pz4_is_flagged_spike_at_its_time(demo: Demo) -> None:
    code, start, _ = demo.fault("spike")
    assert code == "PZ4"
    assert ("spike", start) in [(f.kind, f.time_us) for f in demo.flags(code)]
    # one reading pages nobody: no alarm of PZ4 starts within a day of the spike
    assert [a for a in demo.alarms(code) if start <= a.raised_us < start + DAY_US] == []


def test_the_stuck_j2_is_flagged_stuck_from_its_48th_frozen_reading(demo: Demo) -> None:
    code, start, end = demo.fault("stuck")
    assert code == "J2"
    stuck = [f.time_us for f in demo.flags(code) if f.kind == "stuck"]
    assert stuck[0] == start + 47 * HOUR_US  # stuck_readings: 48 (the default)
    assert stuck[-1] == end
    assert len(stuck) == 240 - 47
    assert all(start <= t <= end for t in stuck)


def test_the_gap_on_s3_is_flagged_and_raises_and_clears_a_no_data_alarm(demo: Demo) -> None:
    code, start, end = demo.fault("gap")
    assert code == "S3"
    gaps = [f for f in demo.flags(code) if f.kind == "gap"]
    assert [f.time_us for f in gaps] == [end + HOUR_US]  # the reading that ends the gap
    (alarm,) = [a for a in demo.alarms(code) if a.rule == "no_data" and a.raised_us < END_US]
    # the last reading was an hour before the gap; no data after 6 intervals (6 h)
    assert alarm.raised_us == start - HOUR_US + 6 * HOUR_US
    assert alarm.cleared_us == end + HOUR_US
    assert alarm.state == "cleared"


def test_the_drift_on_t6_raises_an_envelope_alarm_after_it_starts(demo: Demo) -> None:
    code, start, _ = demo.fault("drift")
    assert code == "T6"
    found = [a for a in demo.alarms(code) if a.rule == "envelope"]
    assert found, "the drift must be found by the model envelope"
    first = found[0]
    assert first.raised_us > start
    assert first.raised_us < start + 10 * DAY_US  # 0.02 °C/day against σ of a few 0.01 °C
    assert first.peak_level == "alarm"
    assert [a for a in found if a.raised_us < start] == []


def test_the_alarms_are_all_envelope_ones_but_the_gap(demo: Demo) -> None:
    rules = Counter(a.rule for a in demo.alarms_before_end())
    assert set(rules) == {"envelope", "no_data"}
    assert rules["no_data"] == 1


def test_the_alarm_list_is_short_enough_to_read(demo: Demo) -> None:
    """About two entries a month over three years, a handful of them at the alarm level.

    Most are model-envelope warnings of the piezometers during the spring and summer floods
    (their response to a fast-rising reservoir is not all in the model) and of the thermometers
    in unusual weather; each clears by itself.
    """
    alarms = demo.alarms_before_end()
    assert len(alarms) < 100
    assert len([a for a in alarms if a.peak_level == "alarm"]) < 20


def test_a_demo_ending_in_the_past_has_no_alarm_after_its_end(demo: Demo) -> None:
    assert [a for a in demo.alarms() if a.raised_us > END_US] == []
