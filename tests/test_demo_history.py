"""The Shimenzi demo: its site file and the synthetic history generator."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import numpy as np
import pytest

import shuian.demo
from shuian.demo.synthetic import SyntheticHistory, generate_history
from shuian.site import Site, load_site
from shuian.site.model import Channel, Instrument

SITE_FILE = Path(shuian.demo.__file__).with_name("shimenzi.yaml")
END = dt.datetime(2024, 6, 1, 8, 30, tzinfo=dt.UTC)  # floored to 08:00 UTC
END_US = int(dt.datetime(2024, 6, 1, 8, tzinfo=dt.UTC).timestamp()) * 1_000_000
HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
SHANGHAI = dt.timedelta(hours=8)


def measured(site: Site) -> list[Instrument]:
    """The instruments the generator makes readings for: all but the cameras (whose readings
    come from their frames)."""
    return [i for i in site.instruments if i.type != "camera"]


def measured_channels(site: Site) -> list[Channel]:
    return [c for i in measured(site) for c in i.channels]


@pytest.fixture(scope="module")
def site() -> Site:
    return load_site(SITE_FILE)


@pytest.fixture(scope="module")
def history(site: Site) -> SyntheticHistory:
    return generate_history(site, end=END)


@pytest.fixture(scope="module")
def clean(site: Site) -> SyntheticHistory:
    return generate_history(site, end=END, faults=False)


def _curve(site: Site) -> tuple[np.ndarray, np.ndarray]:
    rows = site.reservoir.storage_curve
    return np.array([r.level for r in rows]), np.array([r.storage for r in rows])


def _month(times: np.ndarray) -> np.ndarray:
    """Calendar month (1-12) of each time on the site's clock (Asia/Shanghai, UTC+8)."""
    local = times.astype("datetime64[us]") + np.timedelta64(8, "h")
    return (local.astype("datetime64[M]").astype(np.int64) % 12) + 1


def _annual_fit(times: np.ndarray, values: np.ndarray) -> tuple[float, float]:
    """Amplitude and phase (rad) of the annual harmonic, least squares with a linear trend."""
    w = 2 * np.pi * times / (365.2425 * DAY_US)
    t = (times - times[0]) / DAY_US
    design = np.column_stack([np.ones_like(w), t, np.cos(w), np.sin(w)])
    coef, *_ = np.linalg.lstsq(design, values, rcond=None)
    return float(np.hypot(coef[2], coef[3])), float(np.arctan2(coef[3], coef[2]))


# --- the site file


def test_site_file_loads_and_says_it_is_synthetic(site: Site) -> None:
    res = site.reservoir
    assert (res.name, res.name_zh, res.timezone) == (
        "Shimenzi Reservoir",
        "石门子水库",
        "Asia/Shanghai",
    )
    assert res.synthetic is True
    assert "SYNTHETIC" in SITE_FILE.read_text(encoding="utf-8").splitlines()[2]
    assert "SYNTHETIC" in (shuian.demo.synthetic.__doc__ or "")
    dam = site.dam
    assert (dam.type, dam.height, dam.crest_length) == ("rcc_arch", 110.0, 176.0)
    assert (dam.crest_width, dam.base_width) == (5.0, 31.0)
    assert len(dam.sections) == 9
    assert 35 <= len(measured_channels(site)) <= 45


def test_stage_storage_table_is_convex_and_matches_published_storage(site: Site) -> None:
    levels, storages = _curve(site)
    assert 15 <= levels.size <= 25
    slopes = np.diff(storages) / np.diff(levels)  # area-like, must grow with level
    assert np.all(np.diff(slopes) > 0)
    lv = site.reservoir.levels
    assert np.interp(lv.normal, levels, storages) == pytest.approx(5010e4, rel=0.01)
    assert site.reservoir.design_storage == pytest.approx(5010e4, rel=0.01)
    assert np.interp(lv.crest, levels, storages) == pytest.approx(5.4e7, rel=0.03)
    assert lv.crest == site.dam.crest_elevation
    assert levels[-1] >= lv.crest


def test_every_instrument_type_is_represented(site: Site) -> None:
    types = {i.type for i in measured(site)}
    assert types >= {
        "water_level", "rainfall", "air_temperature", "discharge", "thermometer", "plumb_line",
        "piezometer", "joint_meter", "strain_gauge", "seepage_weir", "levelling",
    }  # fmt: skip
    kinds = {c.conversion.kind for c in measured_channels(site)}
    assert kinds >= {"none", "thermistor", "vw_linear", "coordinometer", "weir", "levelling"}
    for instrument in measured(site):
        assert instrument.installed is not None
        assert dt.date(2000, 10, 1) <= instrument.installed <= dt.date(2001, 12, 31)
        for channel in instrument.channels:
            assert channel.interval == (604800 if instrument.manual else 3600)


# --- shape of the history


def test_every_channel_gets_a_series(site: Site, history: SyntheticHistory) -> None:
    assert list(history.series) == [c.code for c in measured_channels(site)]
    for times, values in history.series.values():
        assert times.dtype == np.int64 and values.dtype == np.float64
        assert times.shape == values.shape and times.size > 0
        assert np.all(np.diff(times) > 0)
        assert np.all(np.isfinite(values))
        assert times[-1] <= END_US


def test_hourly_and_weekly_spacing(site: Site, clean: SyntheticHistory) -> None:
    for instrument in measured(site):
        for channel in instrument.channels:
            times, _ = clean.series[channel.code]
            assert np.all(np.diff(times) == int(channel.interval or 0) * 1_000_000), channel.code
            if instrument.manual:  # read at 10:00 on Mondays, local time
                local = [dt.datetime.fromtimestamp(t / 1e6, dt.UTC) + SHANGHAI for t in times]
                assert {(m.weekday(), m.hour, m.minute) for m in local} == {(0, 10, 0)}
            else:
                assert times[-1] == END_US
                assert times.size == 1095 * 24


def test_values_inside_limits_except_the_faults(site: Site, history: SyntheticHistory) -> None:
    for channel in measured_channels(site):
        times, values = history.series[channel.code]
        ok = np.ones(times.size, dtype=bool)
        for fault in history.faults:
            if fault.channel == channel.code:
                start, end = (int(f.timestamp() * 1e6) for f in (fault.start, fault.end))
                ok &= (times < start) | (times > end)
        if channel.limits.min is not None:
            assert values[ok].min() >= channel.limits.min, channel.code
        if channel.limits.max is not None:
            assert values[ok].max() <= channel.limits.max, channel.code


# --- hydrology


def test_yearly_volumes_match_the_published_figures(history: SyntheticHistory) -> None:
    assert history.yearly_volume("INFLOW") == pytest.approx(2.35e8, rel=0.15)
    assert history.yearly_volume("IRRIGATION") == pytest.approx(1.8e8, rel=0.05)
    outflow = history.series["OUTFLOW"][1]
    parts = history.series["IRRIGATION"][1] + history.series["SPILL"][1]
    assert np.all(outflow >= parts - 1e-9)
    assert history.yearly_volume("OUTFLOW") == pytest.approx(
        history.yearly_volume("INFLOW"), rel=0.1
    )


def test_irrigation_only_from_april_to_september(history: SyntheticHistory) -> None:
    times, irrigation = history.series["IRRIGATION"]
    month = _month(times)
    assert np.all(irrigation[(month < 4) | (month > 9)] == 0.0)
    assert irrigation[(month >= 5) & (month <= 7)].mean() > 10.0


def test_level_follows_the_water_balance_and_stage_storage_table(
    site: Site, history: SyntheticHistory
) -> None:
    levels, storages = _curve(site)
    level = history.series["WL1"][1]
    inflow, outflow = history.series["INFLOW"][1], history.series["OUTFLOW"][1]
    start = np.interp(level[0], levels, storages)
    storage = start + np.cumsum((inflow[1:] - outflow[1:]) * 3600.0)
    # the gauge reports mm: the balance's level is the reading to within a millimetre
    assert np.interp(storage[-1], storages, levels) == pytest.approx(level[-1], abs=1e-3)
    np.testing.assert_allclose(np.interp(storage, storages, levels), level[1:], atol=1e-3)
    lv = site.reservoir.levels
    assert level.min() >= lv.dead
    assert level.max() <= lv.normal


def test_reservoir_fills_in_summer_and_is_drawn_down_in_spring(
    site: Site, history: SyntheticHistory
) -> None:
    times, level = history.series["WL1"]
    month = _month(times)
    may, july = level[month == 5].mean(), level[month == 7].mean()
    assert july > may + 5.0
    assert level.max() >= site.reservoir.levels.flood_control - 0.5
    times, inflow = history.series["INFLOW"]
    assert inflow[(month >= 6) & (month <= 8)].mean() > 4 * inflow[(month <= 2)].mean()
    assert history.series["SPILL"][1].max() > 0.0


def test_rain_comes_in_events_mostly_in_summer(history: SyntheticHistory) -> None:
    times, rain = history.series["RG1"]
    month = _month(times)
    assert (rain == 0).mean() > 0.9
    assert rain[(month >= 6) & (month <= 8)].sum() > 2 * rain[(month <= 2) | (month >= 11)].sum()
    assert 150 < rain.sum() / 3 < 800  # mm per year


# --- weather and the dam


def test_air_temperature_has_a_70_degree_range(history: SyntheticHistory) -> None:
    air = history.series["AT1"][1]
    assert air.mean() == pytest.approx(6.0, abs=1.5)
    assert air.max() - air.min() > 60.0
    assert -45.0 < air.min() < -25.0 and 28.0 < air.max() < 40.0


def test_concrete_temperature_damped_and_lagged_with_depth(clean: SyntheticHistory) -> None:
    fits = [_annual_fit(*clean.series[code]) for code in ("AT1", "T1", "T2", "T3")]
    amplitudes = [a for a, _ in fits]
    lags = [(phase - fits[0][1]) % (2 * np.pi) for _, phase in fits]  # peak delays, rad
    assert amplitudes == sorted(amplitudes, reverse=True)
    assert amplitudes[3] < 0.2 * amplitudes[1]
    assert lags[1] < lags[2] < lags[3]


def test_crest_radial_displacement_hydrostatic_and_seasonal(clean: SyntheticHistory) -> None:
    times, radial = clean.series["PL1.R"]
    level = clean.series["WL1"][1]
    assert np.corrcoef(level, radial)[0, 1] > 0.5
    head = (level - 1286.0) / 110.0
    w = 2 * np.pi * times / (365.2425 * DAY_US)
    design = np.column_stack([np.ones_like(w), head, head**2, head**3, np.cos(w), np.sin(w)])
    coef, *_ = np.linalg.lstsq(design, radial, rcond=None)
    hydro = design[:, 1:4] @ coef[1:4]
    assert hydro[level.argmax()] - hydro[level.argmin()] > 5.0  # mm, downstream when full
    assert np.hypot(coef[4], coef[5]) > 2.0  # mm, seasonal thermal part
    tangential = clean.series["PL1.T"][1]
    assert np.ptp(tangential) < 0.5 * np.ptp(radial)


def test_joints_open_in_winter_and_close_in_summer(clean: SyntheticHistory) -> None:
    for code in ("J1", "J2", "J3"):
        times, opening = clean.series[code]
        month = _month(times)
        assert (
            opening[(month >= 1) & (month <= 3)].mean()
            > opening[(month >= 7) & (month <= 9)].mean()
        )


def test_piezometric_head_drops_from_heel_to_toe(clean: SyntheticHistory) -> None:
    heads = [clean.series[code][1].mean() for code in ("PZ1", "PZ2", "PZ3", "PZ4")]
    assert heads == sorted(heads, reverse=True)
    level = clean.series["WL1"][1]
    tail = clean.series["WL2"][1]
    assert np.all(clean.series["PZ1"][1] < level + 0.5) and np.all(clean.series["PZ4"][1] > tail)


def test_seepage_rises_with_level(clean: SyntheticHistory) -> None:
    times, seepage = clean.series["WE1"]
    level = dict(zip(*clean.series["WL1"], strict=True))
    assert np.corrcoef([level[t] for t in times], seepage)[0, 1] > 0.3


# --- faults


def _us(moment: dt.datetime) -> int:
    return int(moment.timestamp()) * 1_000_000


def test_each_fault_is_present_where_reported(
    site: Site, history: SyntheticHistory, clean: SyntheticHistory
) -> None:
    types = {c.code: i.type for i in measured(site) for c in i.channels}
    faults = {f.kind: f for f in history.faults}
    assert set(faults) == {"spike", "stuck", "gap", "drift"}
    assert [types[faults[k].channel] for k in ("spike", "stuck", "gap", "drift")] == [
        "piezometer", "joint_meter", "strain_gauge", "thermometer",
    ]  # fmt: skip
    window_start = END_US - 1095 * DAY_US
    for fault in history.faults:
        assert _us(fault.start) >= window_start + 60 * DAY_US
        assert fault.start.tzinfo is not None and fault.start <= fault.end

    spike = faults["spike"]
    assert spike.start == spike.end
    times, values = history.series[spike.channel]
    diff = values - clean.series[spike.channel][1]
    assert diff[times == _us(spike.start)] == pytest.approx([8.0])
    assert np.count_nonzero(diff) == 1

    stuck = faults["stuck"]
    times, values = history.series[stuck.channel]
    inside = (times >= _us(stuck.start)) & (times <= _us(stuck.end))
    assert 9 * 24 <= inside.sum() <= 11 * 24
    assert np.ptp(values[inside]) == 0.0
    assert np.ptp(clean.series[stuck.channel][1][inside]) > 0.0
    np.testing.assert_array_equal(values[~inside], clean.series[stuck.channel][1][~inside])

    gap = faults["gap"]
    times, values = history.series[gap.channel]
    clean_times = clean.series[gap.channel][0]
    missing = (clean_times >= _us(gap.start)) & (clean_times <= _us(gap.end))
    assert 4 * 24 <= missing.sum() <= 6 * 24
    np.testing.assert_array_equal(times, clean_times[~missing])
    np.testing.assert_array_equal(values, clean.series[gap.channel][1][~missing])

    drift = faults["drift"]
    times, values = history.series[drift.channel]
    assert _us(drift.end) == times[-1]
    assert (times[-1] - _us(drift.start)) / DAY_US == pytest.approx(120, abs=1)
    expected = np.where(times >= _us(drift.start), 0.02 * (times - _us(drift.start)) / DAY_US, 0.0)
    np.testing.assert_allclose(values - clean.series[drift.channel][1], expected, atol=1e-9)

    faulty = {f.channel for f in history.faults}
    for code, (_, values) in clean.series.items():
        if code not in faulty:
            np.testing.assert_array_equal(history.series[code][1], values)


def test_same_seed_same_history_other_seed_other_history(
    site: Site, history: SyntheticHistory
) -> None:
    again = generate_history(site, end=END)
    assert again.faults == history.faults
    for code, (times, values) in history.series.items():
        np.testing.assert_array_equal(again.series[code][0], times)
        np.testing.assert_array_equal(again.series[code][1], values)
    other = generate_history(site, end=END, seed=7)
    assert not np.array_equal(other.series["WL1"][1], history.series["WL1"][1])


def test_a_one_week_history(site: Site) -> None:
    week = generate_history(site, end=END, days=7)
    assert week.series["WL1"][0].size == 7 * 24
    assert week.series["WE1"][0].size == 1
    assert {f.kind for f in week.faults} <= {"spike"}
    for channel in measured_channels(site):
        assert week.series[channel.code][0].size >= 1


def test_short_histories_carry_the_faults_that_fit(site: Site) -> None:
    assert {f.kind for f in generate_history(site, end=END, days=60).faults} == {
        "spike", "stuck", "gap", "drift",
    }  # fmt: skip
    assert {f.kind for f in generate_history(site, end=END, days=20).faults} == {"spike", "gap"}


def test_naive_end_or_no_days_refused(site: Site) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        generate_history(site, end=dt.datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="days"):
        generate_history(site, end=END, days=0)


def test_three_years_of_the_whole_site_in_under_three_seconds(site: Site) -> None:
    began = time.perf_counter()
    generate_history(site, end=END, days=1095)
    assert time.perf_counter() - began < 3.0
