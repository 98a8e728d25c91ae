"""Analysis: model fits, incremental evaluation, the alarm lifecycle and notifications.

Runs on SQLite and PostgreSQL. The site is tests/data/analysis_site.yaml; its readings are
synthetic, generated from KNOWN HST coefficients plus Gaussian noise, so the fit can be checked
against the truth and every alarm below is caused by a fault the test injects.

Specification (from the issue):
- "store every fitted model version": a fit keeps r2, sigma, window and terms; a refit is
  version 2; readings flagged suspect are left out of the fit;
- evaluation judges each reading once (marks), raises an envelope alarm for a persistent step,
  flags a single outlier as a spike and raises nothing for it, applies thresholds with
  hysteresis and rate limits, and raises no-data alarms for gaps and for silent channels;
- "Evaluating one new reading for every channel (the incremental path) costs one query per
  batch, not per channel";
- one open alarm per channel and rule; acknowledgements keep who, when and why; an escalation
  after an acknowledgement asks for a new one;
- a raised alarm is notified once through the site's webhook;
- the ingest service judges new readings as they land.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
import yaml

from conftest import Receiver
from shuian.models import hst
from shuian.readings import ReadingBatch
from shuian.services.analysis import Analyzer, EvaluationReport
from shuian.services.ingest import Ingestor
from shuian.services.outbox import deliver_due
from shuian.site import parse_site
from shuian.store import Store, StoredSite

DATA = Path(__file__).parent / "data"
SITE_FILE = DATA / "analysis_site.yaml"

DAY = 86_400_000_000
HOUR = 3_600_000_000
T0 = int(dt.datetime(2021, 1, 1, tzinfo=dt.UTC).timestamp() * 1_000_000)  # reference date
HISTORY_DAYS = 1096  # three years of daily readings, day 0 .. 1095
END = T0 + (HISTORY_DAYS - 1) * DAY  # the last reading of the history
SIGMA = 0.1  # mm, noise of the radial displacement
TRUE = {"a0": 10.0, "H1": -6.0, "H2": 3.0, "sin1": 2.0, "cos1": -1.5, "theta": 0.3}
LOG_HISTORY_HOURS = 30 * 24  # the hourly logger channel's history
DAILY = ["WL.level", "PL1.radial", "PL1.tangential"]
EVERY = [*DAILY, "LOG.batt"]


# --- the synthetic site ----------------------------------------------------------------------


def site_text(
    *, webhook: str | None = None, code: str = "anares", extra_channels: int = 0,
    level_lag_days: float = 0.0,
) -> str:
    """The analysis site file, with the webhook pointing at ``webhook`` (or no notifications);
    ``level_lag_days`` gives the radial model a level filtered with that exponential lag."""
    data = yaml.safe_load(SITE_FILE.read_text(encoding="utf-8"))
    data["reservoir"]["code"] = code
    if level_lag_days:
        data["instruments"][1]["channels"][0]["model"]["level_lag_days"] = level_lag_days
    if webhook is None:
        del data["notifications"]
    else:
        data["notifications"]["webhooks"][0]["url"] = webhook
    if extra_channels:
        data["instruments"].append({
            "code": f"{code.upper()}X",
            "type": "air_temperature",
            "channels": [
                {"code": f"{code.upper()}X.{k:02d}", "quantity": "voltage", "unit": "V",
                 "limits": {"min": 0, "max": 30}, "interval": 3600, "model": False,
                 "checks": {"spike_window": None, "stuck_readings": None}}
                for k in range(extra_channels)
            ],
        })
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def save_site(store: Store, text: str) -> StoredSite:
    site = parse_site(text, source="analysis_site.yaml")
    store.save_site(site, text)
    return store.site(site.reservoir.code)


def level_at(days: np.ndarray) -> np.ndarray:
    """Reservoir level (m): a yearly cycle plus a slower wave, so H is not seasonal only."""
    return 125.0 + 10.0 * np.sin(2 * np.pi * days / 365.25 + 0.8) + 4.0 * np.sin(days / 47.0)


def spec_of(stored: StoredSite) -> Any:
    site = stored.site
    channel = next(c for c in site.channels() if c.code == "PL1.radial")
    return site.model_of(channel)


def truth(stored: StoredSite, days: np.ndarray) -> np.ndarray:
    """The radial displacement the true model gives at whole days ``days`` (no noise).

    H is normalised over the three years of history, as the fit does.
    """
    history = np.arange(HISTORY_DAYS, dtype=np.float64)
    all_days = np.concatenate([history, days])
    times = T0 + (all_days * DAY).astype(np.int64)
    level = hst.DailySeries(times, level_at(all_days))
    spec = spec_of(stored)
    norm = hst.design_matrix(
        spec, times[:HISTORY_DAYS], level, reference_us=T0
    ).normalisation
    design = hst.design_matrix(spec, times, level, reference_us=T0, normalisation=norm)
    beta = np.array([TRUE.get(t, 0.0) for t in design.terms])
    return (design.matrix @ beta)[HISTORY_DAYS:]


@dataclass
class Scene:
    """A store holding the analysis site, three years of history, a fitted model."""

    store: Store
    stored: StoredSite
    analyzer: Analyzer
    ids: dict[str, int]
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(11))

    def write(self, code: str, times: np.ndarray, values: np.ndarray) -> int:
        times = np.asarray(times, dtype=np.int64)
        return self.store.write_readings(ReadingBatch(
            channel_id=np.full(len(times), self.ids[code], dtype=np.int64),
            time_us=times,
            value=np.asarray(values, dtype=np.float64),
            raw=np.full(len(times), np.nan),
        ))

    def days(self, first: int, values_of_radial: list[float] | None = None,
             *, tangential: list[float] | None = None, count: int | None = None) -> np.ndarray:
        """Write new days from day ``first`` on: level, radial (true + noise + offsets)."""
        n = count if count is not None else len(values_of_radial or tangential or [])
        days = np.arange(first, first + n, dtype=np.float64)
        times = T0 + (days * DAY).astype(np.int64)
        self.write("WL.level", times, level_at(days))
        radial = truth(self.stored, days) + self.rng.normal(0, SIGMA, n)
        if values_of_radial is not None:
            radial = radial + np.array(values_of_radial)
        self.write("PL1.radial", times, radial)
        if tangential is None:
            tangential = list(5.0 + self.rng.normal(0, 0.2, n))
        self.write("PL1.tangential", times, np.array(tangential))
        return times

    def evaluate(self, *, now_us: int, codes: list[str] | None = None,
                 notify: bool = False) -> EvaluationReport:
        """Judge the daily channels (or ``codes``; the hourly logger is judged on its own)."""
        ids = [self.ids[c] for c in (codes or DAILY)]
        return self.analyzer.evaluate(channel_ids=ids, now_us=now_us, notify=notify)

    def alarms(self, code: str, rule: str | None = None) -> list[Any]:
        found = self.store.alarms(channel_ids=[self.ids[code]], limit=1000)
        return sorted((a for a in found if rule is None or a.rule == rule), key=lambda a: a.id)


def write_history(store: Store, stored: StoredSite) -> Scene:
    ids = {c.code: c.id for c in store.channels(stored.id)}
    scene = Scene(store, stored, Analyzer(store, stored), ids, np.random.default_rng(7))
    days = np.arange(HISTORY_DAYS, dtype=np.float64)
    times = T0 + (days * DAY).astype(np.int64)
    scene.write("WL.level", times, level_at(days))
    scene.write("PL1.radial", times, _history_radial(stored, scene.rng))
    scene.write("PL1.tangential", times, 5.0 + scene.rng.normal(0, 0.2, HISTORY_DAYS))
    log_times = END - np.arange(LOG_HISTORY_HOURS)[::-1].astype(np.int64) * HOUR
    scene.write("LOG.batt", log_times, 12.5 + scene.rng.normal(0, 0.05, LOG_HISTORY_HOURS))
    return scene


def _history_radial(stored: StoredSite, rng: np.random.Generator) -> np.ndarray:
    days = np.arange(HISTORY_DAYS, dtype=np.float64)
    times = T0 + (days * DAY).astype(np.int64)
    design = hst.design_matrix(
        spec_of(stored), times, hst.DailySeries(times, level_at(days)), reference_us=T0
    )
    beta = np.array([TRUE.get(t, 0.0) for t in design.terms])
    return design.matrix @ beta + rng.normal(0, SIGMA, HISTORY_DAYS)


@pytest.fixture
def history(store: Store) -> Scene:
    """The site (no notifications) and its history, stored; nothing fitted or judged yet."""
    return write_history(store, save_site(store, site_text()))


@pytest.fixture
def scene(history: Scene) -> Scene:
    """The history fitted and judged: the state of a station that has run all along."""
    outcomes = history.analyzer.fit(end_us=END)
    assert [o.ok for o in outcomes] == [True]
    report = history.evaluate(now_us=END + HOUR, codes=EVERY)
    assert report.readings == 3 * HISTORY_DAYS + LOG_HISTORY_HOURS
    assert report.steps == [], "the clean history must raise nothing"
    return history


# --- fitting ---------------------------------------------------------------------------------


def test_fit_stores_a_model_version_with_its_statistics(history: Scene) -> None:
    (outcome,) = history.analyzer.fit(end_us=END)
    assert outcome.channel == "PL1.radial" and outcome.kind == "hst" and outcome.ok
    assert outcome.n == HISTORY_DAYS
    (model,) = history.store.model_versions(history.ids["PL1.radial"])
    assert model.version == 1
    assert model.r2 == pytest.approx(outcome.r2) and model.r2 > 0.99
    assert model.sigma == pytest.approx(SIGMA, rel=0.1)
    assert (model.window_start_us, model.window_end_us) == (T0, END)
    assert model.fit["terms"] == ["a0", "H1", "H2", "sin1", "cos1", "theta"]


def test_a_refit_is_stored_as_version_2(history: Scene) -> None:
    history.analyzer.fit(end_us=END - 100 * DAY)
    history.analyzer.fit(end_us=END)
    versions = history.store.model_versions(history.ids["PL1.radial"])
    assert [v.version for v in versions] == [2, 1]
    assert versions[0].window_end_us == END
    assert versions[1].window_end_us == END - 100 * DAY
    current = history.store.current_models([history.ids["PL1.radial"]])
    assert current[history.ids["PL1.radial"]].version == 2


def test_only_modelled_channels_are_fitted_and_unknown_codes_are_refused(history: Scene) -> None:
    assert history.analyzer.fit(end_us=END, codes=["PL1.tangential"]) == []
    with pytest.raises(Exception, match="NOPE"):
        history.analyzer.fit(end_us=END, codes=["NOPE"])


def test_fitted_coefficients_recover_the_true_ones(history: Scene) -> None:
    (outcome,) = history.analyzer.fit(end_us=END)
    days = np.arange(HISTORY_DAYS, dtype=np.float64)
    times = T0 + (days * DAY).astype(np.int64)
    design = hst.design_matrix(
        spec_of(history.stored), times, hst.DailySeries(times, level_at(days)), reference_us=T0
    )
    # standard errors of ordinary least squares with the noise's sigma
    se = SIGMA * np.sqrt(np.diag(np.linalg.inv(design.matrix.T @ design.matrix)))
    for term, error in zip(design.terms, se, strict=True):
        assert abs(outcome.coefficients[term] - TRUE[term]) < 5 * error, term
    assert outcome.sigma == pytest.approx(SIGMA, rel=0.1)


def test_a_huge_outlier_flagged_suspect_does_not_change_the_coefficients(history: Scene) -> None:
    (clean,) = history.analyzer.fit(end_us=END)
    outlier_time = T0 + 500 * DAY
    history.store.write_readings(ReadingBatch(  # replaces nothing: same key is a duplicate
        np.array([history.ids["PL1.radial"]]), np.array([outlier_time + HOUR]),
        np.array([500.0]), np.array([np.nan]),
    ))
    (polluted,) = history.analyzer.fit(end_us=END)
    assert polluted.coefficients["a0"] != pytest.approx(clean.coefficients["a0"], abs=1e-6)
    history.store.set_flag(channel_id=history.ids["PL1.radial"], time_us=outlier_time + HOUR,
                           kind="suspect", actor="li.wei", comment="diver touched the wire")
    (flagged,) = history.analyzer.fit(end_us=END)
    assert flagged.n == clean.n
    for term, value in clean.coefficients.items():
        assert flagged.coefficients[term] == pytest.approx(value, rel=1e-9, abs=1e-9)


# --- evaluation: envelope, spikes, thresholds, rate, no data ---------------------------------


def test_a_persistent_step_of_6_sigma_raises_an_envelope_alarm_and_clears(scene: Scene) -> None:
    offsets = [0, 0, 0] + [6 * SIGMA] * 6 + [0] * 6  # days 1096..1110
    times = scene.days(HISTORY_DAYS, offsets)
    report = scene.evaluate(now_us=int(times[-1]) + HOUR)
    steps = [(s.kind, s.level, s.time_us) for s in report.steps if s.rule == "envelope"]
    # persistence 3: raised at the third reading of the step, cleared at the third after it
    assert steps[0] == ("raised", "alarm", int(times[5]))  # 6σ is beyond both 2σ and 3σ
    assert steps[-1] == ("cleared", "normal", int(times[11]))
    (alarm,) = scene.alarms("PL1.radial", "envelope")
    assert alarm.state == "cleared" and alarm.peak_level == "alarm"
    raised = next(s for s in report.steps if s.rule == "envelope" and s.kind == "raised")
    assert "PL1.radial" in raised.message
    found = re.search(r"([+-]\d+\.\d)σ", raised.message)
    assert found is not None, raised.message
    multiple = float(found.group(1))
    assert 3.0 < multiple < 9.0
    for part in ("HST prediction", "hydrostatic", "seasonal", "time"):
        assert part in raised.message
    assert scene.alarms("PL1.radial", "threshold") == []


def test_a_batch_holding_the_level_is_judged_with_the_level_history_the_model_needs(
    store: Store,
) -> None:
    """Live ingest brings the level in the same batch as the channels it drives: the level's
    history must still reach as far back as their models need (5 lags of 15 days here, more
    than the 50 readings of context), or the envelope would silently judge nothing."""
    stored = save_site(store, site_text(level_lag_days=15.0))
    scene = Scene(store, stored, Analyzer(store, stored),
                  {c.code: c.id for c in store.channels(stored.id)})
    days = np.arange(HISTORY_DAYS + 9, dtype=np.float64)
    times = T0 + (days * DAY).astype(np.int64)
    level = hst.DailySeries(times, level_at(days))
    spec = spec_of(stored)
    first, old, new = 90, slice(90, HISTORY_DAYS), slice(HISTORY_DAYS, None)
    norm = hst.design_matrix(spec, times[old], level, reference_us=T0).normalisation
    design = hst.design_matrix(spec, times[first:], level, reference_us=T0, normalisation=norm)
    radial = design.matrix @ np.array([TRUE.get(t, 0.0) for t in design.terms])
    radial += scene.rng.normal(0, SIGMA, len(radial))
    radial[-6:] += 6 * SIGMA  # the last 6 new days step away from the model
    scene.write("WL.level", times[:HISTORY_DAYS], level_at(days[:HISTORY_DAYS]))
    scene.write("PL1.radial", times[old], radial[:HISTORY_DAYS - first])
    fitted = scene.analyzer.fit(end_us=END)
    assert [o.ok for o in fitted] == [True], fitted
    scene.evaluate(now_us=END + HOUR, codes=["WL.level", "PL1.radial"])

    scene.write("WL.level", times[new], level_at(days[new]))  # one batch: level and radial
    scene.write("PL1.radial", times[new], radial[HISTORY_DAYS - first:])
    report = scene.evaluate(now_us=int(times[-1]) + HOUR, codes=["WL.level", "PL1.radial"])
    raised = [s for s in report.steps if s.rule == "envelope" and s.kind == "raised"]
    assert [s.time_us for s in raised] == [int(times[HISTORY_DAYS + 5])]


def test_a_single_outlier_is_flagged_as_spike_and_pages_only_for_its_threshold(
    scene: Scene,
) -> None:
    """A spike raises no envelope or rate alarm ("one noisy reading does not page anyone"),
    but a fixed threshold still sees it: a real sudden jump must not hide as a spike."""
    offsets = [0.0] * 10
    offsets[5] = 25.0  # crosses the warning threshold (30 mm)
    times = scene.days(HISTORY_DAYS, offsets)
    report = scene.evaluate(now_us=int(times[-1]) + HOUR)
    assert report.flags["spike"] == 1
    flags = scene.store.flags([scene.ids["PL1.radial"]], start_us=int(times[0]))
    assert [(f.kind, f.time_us) for f in flags] == [("spike", int(times[5]))]
    assert [(s.rule, s.kind) for s in report.steps] == [
        ("threshold", "raised"), ("threshold", "cleared")
    ]
    (alarm,) = scene.alarms("PL1.radial")
    assert "the data checks flag this reading" in alarm.message


def test_threshold_alarm_is_raised_escalated_and_cleared_with_hysteresis(scene: Scene) -> None:
    values = [5, 31, 29, 41, 39, 37, 27, 17]
    times = scene.days(HISTORY_DAYS, tangential=values, count=len(values))
    report = scene.evaluate(now_us=int(times[-1]) + HOUR)
    steps = [(s.kind, s.level, s.time_us) for s in report.steps if s.rule == "threshold"]
    assert steps == [
        ("raised", "warning", times[1]),       # 31 > 30
        # 29 stays a warning: it is above 30 - 2
        ("escalated", "alarm", times[3]),      # 41 > 40
        # 39 stays an alarm: it is above 40 - 2
        ("deescalated", "warning", times[5]),  # 37
        ("deescalated", "attention", times[6]),  # 27 is below 28 but above 20 - 2
        ("cleared", "normal", times[7]),       # 17
    ]
    (alarm,) = scene.alarms("PL1.tangential", "threshold")
    assert alarm.peak_level == "alarm" and alarm.state == "cleared"
    assert alarm.cleared_us == times[7]
    raised = next(s for s in report.steps if s.rule == "threshold")
    assert raised.message == "PL1.tangential 31 mm is above the warning limit 30"


def test_a_value_hovering_at_a_threshold_raises_one_alarm(scene: Scene) -> None:
    values = [29.5, 30.5, 29.5, 30.4, 29.9, 30.1, 29.0, 30.3]
    times = scene.days(HISTORY_DAYS, tangential=values, count=len(values))
    report = scene.evaluate(now_us=int(times[-1]) + HOUR)
    assert [s.kind for s in report.steps if s.rule == "threshold"] == ["raised", "escalated"]
    assert len(scene.alarms("PL1.tangential", "threshold")) == 1


def test_a_threshold_alarm_on_the_low_side(scene: Scene) -> None:
    times = scene.days(HISTORY_DAYS, tangential=[-6.5, -12.0], count=2)
    report = scene.evaluate(now_us=int(times[-1]) + HOUR)
    assert [(s.kind, s.level) for s in report.steps if s.rule == "threshold"] == [
        ("raised", "attention"), ("escalated", "warning")
    ]
    assert "below the warning limit -10" in scene.alarms("PL1.tangential", "threshold")[0].message


def test_rate_alarm_for_a_fast_change(scene: Scene) -> None:
    values = [5.0, 5.0, 12.0, 12.0]  # +7 mm in a day: above the warning rate 5 mm/day
    times = scene.days(HISTORY_DAYS, tangential=values, count=len(values))
    report = scene.evaluate(now_us=int(times[-1]) + HOUR)
    steps = [(s.kind, s.level, s.time_us) for s in report.steps if s.rule == "rate"]
    assert steps == [("raised", "warning", times[2]), ("cleared", "normal", times[3])]
    raised = next(s for s in report.steps if s.rule == "rate")
    assert raised.message == "PL1.tangential changes faster than its warning rate limit (5 mm/day)"


def test_rate_of_the_first_new_reading_is_taken_from_the_last_judged_one(scene: Scene) -> None:
    times = scene.days(HISTORY_DAYS, tangential=[18.0], count=1)  # history is about 5 mm
    report = scene.evaluate(now_us=int(times[-1]) + HOUR)
    assert [(s.rule, s.kind, s.level) for s in report.steps if s.rule == "rate"] == [
        ("rate", "raised", "alarm")
    ]


def test_a_5_day_gap_raises_and_clears_a_no_data_alarm(scene: Scene) -> None:
    before = END + np.arange(1, 25, dtype=np.int64) * HOUR
    after = before[-1] + 120 * HOUR + np.arange(1, 25, dtype=np.int64) * HOUR
    scene.write("LOG.batt", np.concatenate([before, after]), np.full(48, 12.4))
    report = scene.evaluate(now_us=int(after[-1]) + HOUR, codes=["LOG.batt"])
    steps = [(s.kind, s.time_us) for s in report.steps if s.rule == "no_data"]
    assert steps == [("raised", int(before[-1]) + 6 * HOUR), ("cleared", int(after[0]))]
    (alarm,) = scene.alarms("LOG.batt", "no_data")
    assert alarm.state == "cleared" and alarm.level == "warning"
    assert "no reading from LOG.batt since" in alarm.message
    assert "expected every 1 h" in alarm.message


def test_a_channel_silent_at_now_gets_a_no_data_alarm(scene: Scene) -> None:
    quiet = scene.evaluate(now_us=END + 5 * HOUR, codes=["LOG.batt"])
    assert quiet.steps == []  # 5 h is less than 6 intervals
    report = scene.evaluate(now_us=END + 7 * HOUR, codes=["LOG.batt"])
    assert [(s.rule, s.kind, s.time_us) for s in report.steps] == [
        ("no_data", "raised", END + 6 * HOUR)
    ]
    assert scene.evaluate(now_us=END + 9 * HOUR, codes=["LOG.batt"]).steps == []
    (alarm,) = scene.alarms("LOG.batt", "no_data")
    assert alarm.state == "raised"
    # the channel reports again: the alarm clears, and it stays the only one
    scene.write("LOG.batt", np.array([END + 10 * HOUR]), np.array([12.4]))
    report = scene.evaluate(now_us=END + 10 * HOUR, codes=["LOG.batt"])
    assert ("no_data", "cleared", END + 10 * HOUR) in [
        (s.rule, s.kind, s.time_us) for s in report.steps
    ]
    (alarm,) = scene.alarms("LOG.batt", "no_data")
    assert alarm.state == "cleared" and alarm.cleared_us == END + 10 * HOUR


def test_a_silent_channel_that_reports_again_clears_its_alarm_once(scene: Scene) -> None:
    scene.evaluate(now_us=END + 7 * HOUR, codes=["LOG.batt"])
    scene.write("LOG.batt", np.array([END + 10 * HOUR]), np.array([12.4]))
    report = scene.evaluate(now_us=END + 10 * HOUR, codes=["LOG.batt"])
    assert [(s.rule, s.kind) for s in report.steps] == [("no_data", "cleared")]
    (alarm,) = scene.alarms("LOG.batt", "no_data")
    assert [e.kind for e in scene.store.alarm_history(alarm.id)] == ["raised", "cleared"]


# --- incremental evaluation ------------------------------------------------------------------


def test_each_reading_is_judged_once(scene: Scene) -> None:
    assert scene.evaluate(now_us=END + HOUR).readings == 0
    times = scene.days(HISTORY_DAYS, tangential=[5.0, 5.1, 5.2], count=3)
    report = scene.evaluate(now_us=int(times[-1]) + HOUR)
    assert report.readings == 9  # level, radial and tangential, three days each
    assert scene.evaluate(now_us=int(times[-1]) + HOUR).readings == 0


def test_re_ingesting_old_readings_raises_nothing_again(scene: Scene) -> None:
    values = [31.0, 17.0]
    times = scene.days(HISTORY_DAYS, tangential=values, count=2)
    first = scene.evaluate(now_us=int(times[-1]) + HOUR)
    assert [s.kind for s in first.steps if s.rule == "threshold"] == ["raised", "cleared"]
    assert scene.write("PL1.tangential", times, np.array(values)) == 0  # duplicates
    again = scene.evaluate(now_us=int(times[-1]) + HOUR)
    assert (again.readings, again.steps) == (0, [])
    assert len(scene.alarms("PL1.tangential", "threshold")) == 1


def test_new_readings_are_judged_with_the_readings_before_them_as_context(scene: Scene) -> None:
    # a step judged one day at a time raises exactly as when judged at once
    offsets = [6 * SIGMA] * 6
    raised_at = None
    for k, offset in enumerate(offsets):
        times = scene.days(HISTORY_DAYS + k, [offset])
        report = scene.evaluate(now_us=int(times[-1]) + HOUR)
        assert report.readings == 3
        if any(s.rule == "envelope" and s.kind == "raised" for s in report.steps):
            raised_at = k
    assert raised_at == 2  # the third reading of the step
    assert len(scene.alarms("PL1.radial", "envelope")) == 1


class StatementCounter:
    """Counts SQL statements through the engine and calls of the raw readings query."""

    def __init__(self, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
        self.statements: list[str] = []
        self.readings_many = 0
        self.store = store
        original = store._readings_many  # type: ignore[attr-defined]

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.readings_many += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(store, "_readings_many", counted)
        self.active = False
        sa.event.listen(store.engine, "before_cursor_execute", self._seen)

    def _seen(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self.active:
            self.statements.append(statement)

    def close(self) -> None:
        sa.event.remove(self.store.engine, "before_cursor_execute", self._seen)


def test_incremental_evaluation_costs_two_readings_queries_per_batch_not_one_per_channel(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = StatementCounter(store, monkeypatch)
    try:
        counts = {}
        for n in (2, 20):
            stored = save_site(store, site_text(code=f"q{n}", extra_channels=n))
            analyzer = Analyzer(store, stored)
            channels = store.channels(stored.id)
            assert len(channels) == 4 + n

            def one_each(time_us: int, channels: Any = channels) -> None:
                store.write_readings(ReadingBatch(
                    np.array([c.id for c in channels], dtype=np.int64),
                    np.full(len(channels), time_us, dtype=np.int64),
                    np.full(len(channels), 12.0), np.full(len(channels), np.nan),
                ))

            one_each(END)
            analyzer.evaluate(now_us=END + HOUR, notify=False)  # the marks are set
            one_each(END + HOUR)
            counter.statements.clear()
            counter.readings_many = 0
            counter.active = True
            report = analyzer.evaluate(now_us=END + HOUR, notify=False)
            counter.active = False
            assert report.readings == 4 + n and report.steps == []
            assert counter.readings_many == 2  # the model drivers' history, the context
            counts[n] = len(counter.statements)
    finally:
        counter.close()
    assert counts[20] == counts[2], counts
    assert counts[2] <= 8, counts


# --- alarm lifecycle -------------------------------------------------------------------------


def test_acknowledging_keeps_who_when_and_why_and_an_escalation_asks_again(
    scene: Scene,
) -> None:
    times = scene.days(HISTORY_DAYS, tangential=[31.0], count=1)
    scene.evaluate(now_us=int(times[-1]) + HOUR)
    (alarm,) = scene.alarms("PL1.tangential", "threshold")
    assert (alarm.state, alarm.level) == ("raised", "warning")
    before = dt.datetime.now(dt.UTC)
    acked = scene.store.acknowledge_alarm(alarm.id, actor="li.wei", comment="checking the wire")
    assert acked.state == "acknowledged"
    assert (acked.acknowledged_by, acked.acknowledge_comment) == ("li.wei", "checking the wire")
    assert acked.acknowledged_at is not None
    at = acked.acknowledged_at
    at = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
    assert before - dt.timedelta(seconds=5) <= at <= dt.datetime.now(dt.UTC)

    hot = scene.days(HISTORY_DAYS + 1, tangential=[41.0], count=1)
    scene.evaluate(now_us=int(hot[-1]) + HOUR)
    escalated = scene.store.alarm(alarm.id)
    assert (escalated.state, escalated.level, escalated.peak_level) == ("raised", "alarm", "alarm")
    assert escalated.value == 41.0
    cool = scene.days(HISTORY_DAYS + 2, tangential=[17.0], count=1)
    scene.evaluate(now_us=int(cool[-1]) + HOUR)
    cleared = scene.store.alarm(alarm.id)
    assert cleared.state == "cleared" and cleared.cleared_us == cool[0]
    history = scene.store.alarm_history(alarm.id)
    assert [(e.kind, e.level) for e in history] == [
        ("raised", "warning"), ("acknowledged", "warning"), ("escalated", "alarm"),
        ("cleared", "normal"),
    ]
    assert history[1].actor == "li.wei" and history[1].message == "checking the wire"
    assert history[0].actor == "shuian"


def test_an_escalation_after_an_acknowledgement_always_asks_for_a_new_one(scene: Scene) -> None:
    times = scene.days(HISTORY_DAYS, tangential=[31.0, 41.0, 37.0], count=3)
    scene.evaluate(now_us=int(times[-1]) + HOUR)
    (alarm,) = scene.alarms("PL1.tangential", "threshold")
    assert (alarm.level, alarm.peak_level) == ("warning", "alarm")
    scene.store.acknowledge_alarm(alarm.id, actor="li.wei", comment="warning seen")
    more = scene.days(HISTORY_DAYS + 3, tangential=[42.0], count=1)
    scene.evaluate(now_us=int(more[-1]) + HOUR)
    again = scene.store.alarm(alarm.id)
    assert again.level == "alarm"
    assert again.state == "raised"


def test_one_open_alarm_per_channel_and_rule(scene: Scene) -> None:
    times = scene.days(HISTORY_DAYS, tangential=[31.0], count=1)
    scene.evaluate(now_us=int(times[-1]) + HOUR)
    (alarm,) = scene.alarms("PL1.tangential", "threshold")
    again = scene.store.record_alarm_step(
        channel_id=scene.ids["PL1.tangential"], rule="threshold", kind="raised",
        level="warning", time_us=int(times[-1]) + DAY, value=31.5, message="raised again",
    )
    assert again == alarm.id
    assert len(scene.alarms("PL1.tangential", "threshold")) == 1
    open_rules = [a.rule for a in scene.store.open_alarms([scene.ids["PL1.tangential"]])]
    assert sorted(open_rules) == ["rate", "threshold"]  # 5 -> 31 mm in a day is fast, too
    # another rule on the same channel is another alarm
    other = scene.store.record_alarm_step(
        channel_id=scene.ids["PL1.tangential"], rule="envelope", kind="raised", level="warning",
        time_us=int(times[-1]) + DAY, value=31.5, message="fast",
    )
    assert other != alarm.id
    # a step other than raised on a rule with no open alarm changes nothing
    assert scene.store.record_alarm_step(
        channel_id=scene.ids["LOG.batt"], rule="threshold", kind="cleared", level="normal",
        time_us=END, value=None, message="",
    ) == 0


def test_acknowledging_an_unknown_or_cleared_alarm_is_refused(scene: Scene) -> None:
    with pytest.raises(Exception, match="no alarm 999"):
        scene.store.acknowledge_alarm(999, actor="li.wei", comment="")
    times = scene.days(HISTORY_DAYS, tangential=[31.0, 5.0], count=2)
    scene.evaluate(now_us=int(times[-1]) + HOUR)
    (alarm,) = scene.alarms("PL1.tangential", "threshold")
    with pytest.raises(Exception, match="already cleared"):
        scene.store.acknowledge_alarm(alarm.id, actor="li.wei", comment="")


# --- notifications ---------------------------------------------------------------------------


def test_a_raised_alarm_is_notified_once_through_the_webhook(
    store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    text = site_text(webhook=receiver.url)
    (tmp_path / "site.yaml").write_text(text, encoding="utf-8")  # the file as a user has it
    scene = write_history(store, save_site(store, text))
    scene.analyzer.fit(end_us=END)
    assert scene.evaluate(now_us=END + HOUR, notify=True).notifications == 0
    times = scene.days(HISTORY_DAYS, tangential=[31.0], count=1)
    report = scene.evaluate(now_us=int(times[-1]) + HOUR, notify=True)
    assert receiver.bodies == []  # kept in the outbox with the alarm step, not sent by it
    deliver_due(store)  # a pass of the server's delivery runner
    (alarm,) = scene.alarms("PL1.tangential", "threshold")
    # 5 -> 31 mm in a day is also a rate alarm: both are sent, each once
    sent = Counter((b["channel"], b["rule"], b["state"], b["level"]) for b in receiver.bodies)
    assert sent == {
        ("PL1.tangential", "threshold", "raised", "warning"): 1,
        ("PL1.tangential", "rate", "raised", "alarm"): 1,
    }
    assert report.notifications == 2
    body = next(b for b in receiver.bodies if b["rule"] == "threshold")
    assert body["key"] == f"{alarm.id}:raised:warning:{alarm.raised_us}"
    assert body["site"] == "anares" and body["value"] == 31.0 and body["unit"] == "mm"
    assert body["message"] == "PL1.tangential 31 mm is above the warning limit 30"

    again = scene.evaluate(now_us=int(times[-1]) + 2 * HOUR, notify=True)
    more = scene.days(HISTORY_DAYS + 1, tangential=[31.5], count=1)  # still a warning
    later = scene.evaluate(now_us=int(more[-1]) + HOUR, notify=True)
    assert (again.notifications, later.notifications) == (0, 0)
    assert len(receiver.bodies) == 2

    log = store.delivery_log()
    attempt = next(d for d in log if d["key"] == f"{alarm.id}:raised:warning:{alarm.raised_us}")
    assert attempt["notifier"] == "duty-room" and attempt["ok"] and attempt["attempt"] == 1
    assert attempt["error"] is None
    assert store.delivered(f"{alarm.id}:raised:warning:{alarm.raised_us}", "duty-room")


def test_evaluate_without_notify_sends_nothing(store: Store, receiver: Receiver) -> None:
    scene = write_history(store, save_site(store, site_text(webhook=receiver.url)))
    scene.evaluate(now_us=END + HOUR)
    times = scene.days(HISTORY_DAYS, tangential=[31.0], count=1)
    report = scene.evaluate(now_us=int(times[-1]) + HOUR, notify=False)
    assert any(s.rule == "threshold" for s in report.steps)
    assert report.notifications == 0 and receiver.bodies == []
    assert store.delivery_log() == []


# --- ingest judges readings as they land -----------------------------------------------------


def test_the_ingest_service_judges_new_readings_as_they_land(store: Store) -> None:
    stored = save_site(store, site_text())
    analyzer = Analyzer(store, stored)
    ingestor = Ingestor(store, stored, analyzer=analyzer)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    records = [
        {"channel": "PL1.tangential", "time": (now - dt.timedelta(hours=3)).isoformat(),
         "value": 5.0},
        {"channel": "PL1.tangential", "time": (now - dt.timedelta(hours=2)).isoformat(),
         "value": 5.1},
    ]
    report = ingestor.ingest_records(records, source="api")
    assert report.accepted == 2
    assert ingestor.evaluation.readings == 2 and ingestor.evaluation.steps == []

    hot = [{"channel": "PL1.tangential", "time": (now - dt.timedelta(hours=1)).isoformat(),
            "value": 45.0}]
    assert ingestor.ingest_records(hot, source="api").accepted == 1
    assert ingestor.evaluation.readings == 3
    info = store.channel(stored.id, "PL1.tangential")
    (alarm,) = [a for a in store.open_alarms([info.id]) if a.rule == "threshold"]
    assert (alarm.level, alarm.value) == ("alarm", 45.0)
    assert "PL1.tangential 45 mm is above the alarm limit 40" == alarm.message
    # posting the same reading again judges nothing and raises nothing
    assert ingestor.ingest_records(hot, source="api").duplicates == 1
    assert ingestor.evaluation.readings == 3
    assert len(store.alarms(channel_ids=[info.id], limit=100)) == 2  # threshold and rate
