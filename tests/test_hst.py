"""HST / HTT models: what the design matrix holds, what a fit recovers, how a prediction splits.

Synthetic series are built here from the formulas written out independently of the library
(day of year from the calendar, lags by an explicit recursion, means by trapezoids), with known
coefficients and noise; a fit must give the coefficients back.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from numpy.typing import NDArray

from shuian.errors import InputFileError, InvalidRequestError
from shuian.models import hst
from shuian.services.hst_file import analyse_csv
from shuian.site.analysis import ModelSpec

DAY = hst.US_PER_DAY
START = int(np.datetime64("2015-01-01T00:00", "us").astype(np.int64))
F64 = NDArray[np.float64]


def daily_level(days: int, seed: int = 1) -> hst.DailySeries:
    """A reservoir filled in spring and drawn down in autumn, between about 130 and 150 m."""
    rng = np.random.default_rng(seed)
    d = np.arange(days, dtype=np.float64)
    level = 140 + 9 * np.sin(2 * np.pi * d / 365.25 + 0.7) + np.cumsum(rng.normal(0, 0.15, days))
    level += 3 * np.sin(2 * np.pi * d / 97.0)  # not a harmonic of the year: H and s separate
    return hst.DailySeries(START + np.arange(days, dtype=np.int64) * DAY, level)


def daily_temperature(days: int, seed: int = 2) -> hst.DailySeries:
    rng = np.random.default_rng(seed)
    d = np.arange(days, dtype=np.float64)
    air = 8 + 16 * np.sin(2 * np.pi * (d - 110) / 365.25) + rng.normal(0, 3, days)
    return hst.DailySeries(START + np.arange(days, dtype=np.int64) * DAY, air)


def day_of_year(times_us: NDArray[np.int64]) -> F64:
    stamps = pd.to_datetime(times_us, unit="us")
    return np.asarray(stamps.day_of_year - 1 + (stamps.hour * 60 + stamps.minute) / 1440.0)


def trapezoid_mean(series: F64, k: int, first: int, last: int) -> float:
    """Mean of the daily series' linear interpolant over days [k - last, k - first + 1]."""
    lo, hi = k - last, k - first + 1
    seg = series[lo : hi + 1]
    return float((seg[0] / 2 + seg[1:-1].sum() + seg[-1] / 2) / (hi - lo))


# --------------------------------------------------------------------------------------------
# Recovering known coefficients


def test_hst_recovers_the_coefficients_it_was_generated_with() -> None:
    level = daily_level(6 * 365)
    times = level.times_us[10:-10] + 8 * 3600 * 1_000_000  # readings at 08:00 UTC
    h = np.interp(times, level.times_us, level.values)
    big_h = (h - h.min()) / (h.max() - h.min())
    s = day_of_year(times)
    theta = (times - times[0]) / DAY / 100.0
    true = {
        "a0": 1.5, "H1": 4.0, "H2": -3.0, "H3": 6.0,
        "sin1": 2.0, "cos1": -1.0, "sin2": 0.4, "cos2": 0.3, "theta": 0.8, "log": -1.2,
    }  # fmt: skip
    y = (
        true["a0"] + true["H1"] * big_h + true["H2"] * big_h**2 + true["H3"] * big_h**3
        + true["sin1"] * np.sin(2 * np.pi * s / 365.25)
        + true["cos1"] * np.cos(2 * np.pi * s / 365.25)
        + true["sin2"] * np.sin(4 * np.pi * s / 365.25)
        + true["cos2"] * np.cos(4 * np.pi * s / 365.25)
        + true["theta"] * theta + true["log"] * np.log1p(theta)
    )  # fmt: skip
    noise = np.random.default_rng(3).normal(0, 0.05, times.size)

    model = hst.fit(ModelSpec(), times, y + noise, level, reference_us=int(times[0]))

    assert model.terms == tuple(true)
    assert model.groups == ("constant",) + ("hydrostatic",) * 3 + ("seasonal",) * 4 + (
        "time", "time",
    )  # fmt: skip
    for term, value in model.coefficient_map.items():
        assert value == pytest.approx(true[term], abs=0.15), term
    assert model.sigma == pytest.approx(0.05, rel=0.1)
    assert model.r2 > 0.99
    assert model.n == times.size
    assert model.normalisation is not None
    assert model.normalisation.level_min == pytest.approx(h.min(), rel=1e-14)
    assert model.normalisation.level_max == pytest.approx(h.max(), rel=1e-14)


def test_lagged_level_and_lagged_means_are_recovered_for_seepage() -> None:
    # Seepage: head lagged with a 5-day time constant, mean levels over days 1-15 ... 61-90
    # before the reading, ageing 1 - exp(-θ). Readings at 00:00, on the level's own days.
    days = 5 * 365
    level = daily_level(days, seed=7)
    v = level.values
    a = math.exp(-1 / 5.0)
    lagged = np.empty(days)
    lagged[0] = v[0]
    for k in range(1, days):
        lagged[k] = a * lagged[k - 1] + (1 - a) * v[k]
    idx = np.arange(120, days)
    times = level.times_us[idx]
    lo, hi = lagged[idx].min(), lagged[idx].max()
    big_h = (lagged[idx] - lo) / (hi - lo)
    means = {
        f"L{f}_{last}": np.array([(trapezoid_mean(v, k, f, last) - lo) / (hi - lo) for k in idx])
        for f, last in hst.LAGGED_MEAN_WINDOWS
    }
    s = day_of_year(times)
    theta = (times - times[0]) / DAY / 100.0
    true = {"a0": 10.0, "H1": 3.0, "H2": 1.0, "L1_15": 2.0, "L16_30": 1.0, "L31_60": -0.5,
            "L61_90": 0.5, "sin1": 0.3, "cos1": 0.2, "theta": 0.4, "exp": 1.0}  # fmt: skip
    y = (
        true["a0"] + true["H1"] * big_h + true["H2"] * big_h**2
        + sum(true[name] * column for name, column in means.items())
        + true["sin1"] * np.sin(2 * np.pi * s / 365.25)
        + true["cos1"] * np.cos(2 * np.pi * s / 365.25)
        + true["theta"] * theta + true["exp"] * (1 - np.exp(-theta))
    )  # fmt: skip
    spec = ModelSpec(
        head_degree=2, harmonics=1, level_lag_days=5.0, lagged_means=True, ageing=("theta", "exp")
    )
    noise = np.random.default_rng(4).normal(0, 0.01, times.size)

    model = hst.fit(spec, times, y + noise, level, reference_us=int(times[0]))

    assert model.terms == tuple(true)
    assert model.normalisation is not None
    assert model.normalisation.level_min == pytest.approx(lo, rel=1e-12)
    assert model.normalisation.level_max == pytest.approx(hi, rel=1e-12)
    for term, value in model.coefficient_map.items():
        assert value == pytest.approx(true[term], abs=0.2), term


def test_htt_recovers_the_temperature_coefficients() -> None:
    # HTT: moving means of air temperature over 1, 7 and 30 days replace the harmonics.
    days = 4 * 365
    level = daily_level(days)
    air = daily_temperature(days)
    idx = np.arange(40, days)
    times = level.times_us[idx]
    h = level.values[idx]
    big_h = (h - h.min()) / (h.max() - h.min())
    t_means = {w: np.array([trapezoid_mean(air.values, k, 1, w) for k in idx]) for w in (1, 7, 30)}
    theta = (times - times[0]) / DAY / 100.0
    true = {"a0": 2.0, "H1": 5.0, "H2": -1.0, "H3": 2.0, "T1": -0.05, "T7": -0.1, "T30": -0.3,
            "theta": 0.5, "log": 0.2}  # fmt: skip
    y = (
        true["a0"] + true["H1"] * big_h + true["H2"] * big_h**2 + true["H3"] * big_h**3
        + true["T1"] * t_means[1] + true["T7"] * t_means[7] + true["T30"] * t_means[30]
        + true["theta"] * theta + true["log"] * np.log1p(theta)
    )  # fmt: skip
    spec = ModelSpec(kind="htt", temperature_channels=("AT",))
    noise = np.random.default_rng(5).normal(0, 0.02, times.size)

    model = hst.fit(spec, times, y + noise, level, {"AT": air}, reference_us=int(times[0]))

    assert model.terms == tuple(true)
    assert model.groups[4:7] == ("thermal",) * 3
    for term, value in model.coefficient_map.items():
        tolerance = 0.01 if term.startswith("T") else 0.3
        assert value == pytest.approx(true[term], abs=tolerance), term


def test_term_names_follow_the_spec() -> None:
    level, air = daily_level(400), daily_temperature(400)
    times = level.times_us[100:300]
    ref = int(times[0])
    two = ModelSpec(kind="htt", head_degree=4, temperature_channels=("AT", "WT"),
                    temperature_windows=(1, 30), ageing=("theta", "log", "exp"))  # fmt: skip
    design = hst.design_matrix(two, times, level, {"AT": air, "WT": air}, reference_us=ref)
    assert design.terms == ("a0", "H1", "H2", "H3", "H4", "AT_T1", "AT_T30", "WT_T1", "WT_T30",
                            "theta", "log", "exp")  # fmt: skip
    assert design.matrix.shape == (200, 12)

    seasonal = ModelSpec(kind="seasonal", ageing=("theta",))
    design = hst.design_matrix(seasonal, times, None, reference_us=ref)
    assert design.terms == ("a0", "sin1", "cos1", "sin2", "cos2", "theta")
    assert design.groups == ("constant",) + ("seasonal",) * 4 + ("time",)
    assert design.normalisation is None


def test_the_lag_filter_is_the_first_order_recursion_with_or_without_scipy() -> None:
    level = daily_level(800)
    a = math.exp(-1 / 3.0)
    expected = np.empty(800)
    expected[0] = level.values[0]
    for k in range(1, 800):
        expected[k] = a * expected[k - 1] + (1 - a) * level.values[k]
    for use_scipy in (True, False):
        got = hst.lagged_level(level, level.times_us, 3.0, use_scipy=use_scipy)
        np.testing.assert_allclose(got, expected, rtol=1e-13)


# --------------------------------------------------------------------------------------------
# Components, envelope, normalisation


@pytest.mark.parametrize(
    "spec",
    [
        ModelSpec(),
        ModelSpec(level_lag_days=2.0, lagged_means=True, ageing=("theta", "exp")),
        ModelSpec(kind="htt", temperature_channels=("AT",)),
        ModelSpec(kind="seasonal", ageing=("theta",)),
    ],
    ids=["hst", "seepage", "htt", "seasonal"],
)
def test_components_add_up_to_the_prediction(spec: ModelSpec) -> None:
    level, air = daily_level(1000), daily_temperature(1000)
    times = level.times_us[100:] + 3_600_000_000
    rng = np.random.default_rng(6)
    values = np.interp(times, level.times_us, level.values) * 0.1 + rng.normal(0, 0.1, times.size)
    ref = int(times[0])
    model = hst.fit(spec, times, values, level, {"AT": air}, reference_us=ref)

    parts = hst.components(model, times, level, {"AT": air})

    effect = "thermal" if spec.kind == "htt" else "seasonal"
    assert set(parts) == {"predicted", "constant", "hydrostatic", effect, "time"}
    total = parts["constant"] + parts["hydrostatic"] + parts[effect] + parts["time"]
    np.testing.assert_allclose(parts["predicted"], total, rtol=0, atol=1e-12)
    design = hst.design_matrix(spec, times, level, {"AT": air}, reference_us=ref)
    np.testing.assert_allclose(parts["predicted"], design.matrix @ model.coefficients, atol=1e-9)
    if spec.kind == "seasonal":
        assert not parts["hydrostatic"].any()


def test_envelope_flags_two_and_three_sigma() -> None:
    residuals = np.array([0.0, 1.9, -2.0, 2.01, -2.5, 3.0, -3.01, 10.0, np.nan])
    flags = hst.envelope_flags(residuals, 1.0, 2.0, 3.0)
    assert flags.dtype == np.int8
    assert flags.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 0]
    assert hst.envelope_flags(residuals * 0.5, 0.5, 2.0, 3.0).tolist() == flags.tolist()


def test_the_fit_window_normalisation_is_stored_and_reused_for_predictions() -> None:
    level = daily_level(1500)
    times = level.times_us
    fit_days = slice(0, 700)
    rng = np.random.default_rng(8)
    values = 0.2 * level.values + rng.normal(0, 0.05, times.size)
    model = hst.fit(ModelSpec(), times[fit_days], values[fit_days], level, reference_us=START)

    window_levels = level.values[fit_days]
    assert model.normalisation == hst.Normalisation(window_levels.min(), window_levels.max())
    later = times[900:]
    design = hst.design_matrix(
        ModelSpec(), later, level, reference_us=START, normalisation=model.normalisation
    )
    expected_h = (level.values[900:] - window_levels.min()) / np.ptp(window_levels)
    np.testing.assert_allclose(design.matrix[:, 1], expected_h)
    np.testing.assert_allclose(
        hst.predict(model, later, level), design.matrix @ model.coefficients, atol=1e-12
    )

    stored = json.loads(json.dumps(model.to_json(lambda spec: spec.model_dump(mode="json"))))
    again = hst.FittedModel.from_json(stored, ModelSpec.model_validate)
    assert again.normalisation == model.normalisation
    assert again.terms == model.terms and again.window == model.window
    np.testing.assert_array_equal(again.coefficients, model.coefficients)
    np.testing.assert_array_equal(
        hst.predict(again, later, level), hst.predict(model, later, level)
    )


# --------------------------------------------------------------------------------------------
# Many channels at once


@pytest.mark.parametrize(
    "min_gap_eigenvalue",
    [hst.MIN_GAP_EIGENVALUE, 1.1],
    ids=["default", "own-qr-for-every-gappy-channel"],
)
def test_fit_many_equals_per_channel_fits_and_statsmodels_with_different_nan_masks(
    monkeypatch: pytest.MonkeyPatch, min_gap_eigenvalue: float
) -> None:
    monkeypatch.setattr(hst, "MIN_GAP_EIGENVALUE", min_gap_eigenvalue)
    level = daily_level(5 * 365)
    times = level.times_us + 8 * 3_600_000_000
    times = times[times <= level.times_us[-1]]
    spec = ModelSpec()
    ref = int(times[0])
    x = hst.design_matrix(spec, times, level, reference_us=ref).matrix
    rng = np.random.default_rng(9)
    k = 12
    truth = rng.normal(0, 3, (x.shape[1], k))
    values = x @ truth + rng.normal(0, 0.1, (times.size, k))
    values[rng.random(times.size) < 0.05, 3] = np.nan  # scattered gaps
    values[200:260, 4] = np.nan  # an outage
    values[200:260, 5] = np.nan  # the same outage: shares channel 4's mask
    values[::7, 6] = np.nan
    values[-30:, 7] = np.nan
    values[: int(0.8 * times.size), 8:10] = np.nan  # installed late: only the last year

    many = hst.fit_many(spec, times, values, level, reference_us=ref)

    assert len(many) == k
    for j, model in enumerate(many):
        single = hst.fit(spec, times, values[:, j], level, reference_us=ref)
        scale = np.abs(single.coefficients).max()
        assert np.abs(model.coefficients - single.coefficients).max() / scale < 1e-10
        observed = ~np.isnan(values[:, j])
        ols = sm.OLS(values[observed, j], x[observed]).fit()
        assert np.abs(model.coefficients - ols.params).max() / scale < 1e-8
        assert model.r2 == pytest.approx(ols.rsquared, rel=1e-9)
        assert model.sigma == pytest.approx(math.sqrt(ols.scale), rel=1e-9)
        assert model.n == observed.sum()
        assert model.window[0] == times[observed][0] and model.window[1] == times[observed][-1]


# --------------------------------------------------------------------------------------------
# Refusals


def test_too_few_readings_are_refused() -> None:
    level = daily_level(400)
    times = level.times_us[:29]  # 10 terms need 30 readings
    with pytest.raises(InvalidRequestError, match=r"too few readings.*3 x 10 = 30"):
        hst.fit(ModelSpec(), times, np.ones(29), level, reference_us=int(times[0]))
    values = np.ones((40, 2))
    values[:15, 1] = np.nan
    with pytest.raises(InvalidRequestError, match="column 1: 25"):
        hst.fit_many(ModelSpec(), level.times_us[:40], values, level, reference_us=START)


def test_a_level_that_does_not_cover_the_readings_is_refused() -> None:
    level = daily_level(400)
    late = level.times_us[-1] + np.arange(1, 60, dtype=np.int64) * DAY
    times = np.concatenate((level.times_us[-100:], late))
    with pytest.raises(InvalidRequestError, match="level series covers"):
        hst.fit(ModelSpec(), times, np.ones(times.size), level, reference_us=int(times[0]))
    seepage = ModelSpec(lagged_means=True)
    with pytest.raises(InvalidRequestError, match="90 days of history"):
        hst.fit(seepage, level.times_us[50:], np.ones(350), level, reference_us=START)


def test_a_constant_level_cannot_carry_hydrostatic_terms() -> None:
    flat = hst.DailySeries(START + np.arange(200, dtype=np.int64) * DAY, np.full(200, 140.0))
    with pytest.raises(InvalidRequestError, match="level is constant"):
        hst.fit(ModelSpec(), flat.times_us, np.ones(200), flat, reference_us=START)


# --------------------------------------------------------------------------------------------
# Stepwise selection


def test_stepwise_keeps_the_terms_that_matter() -> None:
    level = daily_level(4 * 365)
    times = level.times_us
    x = hst.design_matrix(ModelSpec(), times, level, reference_us=START)
    true = dict.fromkeys(x.terms, 0.0) | {"a0": 1.0, "H1": 5.0, "sin1": 1.0, "theta": 0.5}
    beta = np.array([true[t] for t in x.terms])
    y = x.matrix @ beta + np.random.default_rng(10).normal(0, 0.05, times.size)

    model = hst.stepwise(ModelSpec(), times, y, level, reference_us=START)

    assert {"a0", "H1", "sin1", "theta"} <= set(model.terms)
    assert model.coefficient_map["H1"] == pytest.approx(5.0, abs=0.1)
    chosen = x.matrix[:, [x.terms.index(t) for t in model.terms]]
    np.testing.assert_allclose(
        hst.predict(model, times, level), chosen @ model.coefficients, atol=1e-9
    )


# --------------------------------------------------------------------------------------------
# The CSV analysis (services.hst_file)


def write_series_csv(path: Path, times: NDArray[np.int64], values: F64, levels: F64) -> None:
    stamps = pd.to_datetime(times, unit="us").strftime("%Y-%m-%dT%H:%M")
    pd.DataFrame({"time": stamps, "value": values, "level": levels}).to_csv(path, index=False)


def test_analyse_csv_fits_and_reports_outliers_and_rejections(tmp_path: Path) -> None:
    level = daily_level(3 * 365)
    rng = np.random.default_rng(11)
    values = 0.3 * level.values + rng.normal(0, 0.05, level.values.size)
    values[500] += 1.0  # 20 σ: an alarm
    path = tmp_path / "ip.csv"
    write_series_csv(path, level.times_us, values, level.values)
    text = path.read_text().splitlines()
    text[10] = "2015-01-10T00:00,＜51.0,140"  # line 11
    text[20] = "2015-01-20T00:00,12.0,n/a"  # line 21
    text[30] = "yesterday,12.0,140"  # line 31
    path.write_text("\n".join(text) + "\n")

    result = analyse_csv(path)

    assert result.r2 > 0.99
    assert [r.line for r in result.rejections] == [11, 21, 31]
    assert "value '＜51.0' is not a number" in result.rejections[0].reason
    assert "level 'n/a' is not a number" in result.rejections[1].reason
    assert "ISO 8601" in result.rejections[2].reason
    alarms = [o for o in result.outliers if o["flag"] == "alarm"]
    assert [o["line"] for o in alarms] == [502]
    assert alarms[0]["residual"] == pytest.approx(1.0, abs=0.2)
    assert all(abs(o["residual"]) > 2 * result.sigma for o in result.outliers)
    figures = result.as_json()
    assert set(figures) == {"r2", "sigma", "n", "terms", "coefficients", "outliers", "rejected"}
    assert figures["rejected"][0] == {
        "line": 11, "raw": "2015-01-10T00:00,＜51.0,140", "reason": figures["rejected"][0]["reason"]
    }  # fmt: skip
    json.dumps(figures)
    columns = ["line", "time", "value", "predicted", "hydrostatic", "seasonal", "time_effect"]
    assert list(result.frame.columns) == [*columns, "residual", "flag"]
    frame = result.frame
    np.testing.assert_allclose(frame.value - frame.predicted, frame.residual)
    out = tmp_path / "out.csv"
    result.write_csv(out)
    back = pd.read_csv(out, keep_default_na=False)
    assert back.time[0] == "2015-01-01T00:00:00Z" and len(back) == len(frame)


def test_analyse_csv_needs_time_value_and_level_columns(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("time,reading,level\n2015-01-01,1,140\n")
    with pytest.raises(InputFileError, match=r"bad\.csv.*no 'value' column"):
        analyse_csv(path)


def test_extra_columns_make_an_htt_model(tmp_path: Path) -> None:
    days = 3 * 365
    level, air = daily_level(days), daily_temperature(days)
    rng = np.random.default_rng(12)
    values = 0.3 * level.values - 0.05 * air.values + rng.normal(0, 0.05, days)
    path = tmp_path / "htt.csv"
    write_series_csv(path, level.times_us, values, level.values)
    frame = pd.read_csv(path)
    frame["air"] = air.values
    frame.to_csv(path, index=False)

    result = analyse_csv(path)

    assert result.model.spec.kind == "htt"
    assert "T30" in result.model.terms
    assert "seasonal" in result.frame.columns  # the thermal effect, in the column
    # Readings in the first 30 days lack the temperature history of the 30-day mean.
    assert len(result.rejections) == 30
    assert "30 days" in result.rejections[0].reason
