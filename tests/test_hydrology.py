"""The hydrology domain: stage-storage, outlets, operating rule, design flood, water balance."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shuian.errors import InputFileError, InvalidRequestError
from shuian.hydrology.balance import inflow_from_balance, volumes
from shuian.hydrology.design_flood import design_hydrograph
from shuian.hydrology.outlets import (
    G,
    Intake,
    Orifice,
    RatingTable,
    SpillwayBay,
    Turbine,
    total_capacity,
)
from shuian.hydrology.routing import (
    MASS_BALANCE_TOLERANCE,
    operating_rule,
    route,
    route_puls,
    route_puls_python,
)
from shuian.hydrology.storage import StageStorage
from shuian.services.route_file import route_csv

# A convex table (storage grows with the square of the depth) with a kink at 104 m, where a
# plain cubic spline overshoots.
LEVELS = np.array([100.0, 101.0, 102.0, 103.0, 104.0, 105.0, 106.0, 110.0, 120.0])
STORAGES = np.array([0.0, 0.1, 0.4, 0.9, 1.6, 6.0, 7.0, 12.0, 40.0]) * 1e6


@pytest.fixture
def curve() -> StageStorage:
    return StageStorage(LEVELS, STORAGES)


# --- stage-storage ----------------------------------------------------------------------------


def test_storage_passes_through_the_table_and_never_overshoots(curve: StageStorage) -> None:
    np.testing.assert_allclose(curve.storage(LEVELS), STORAGES, atol=1e-6)
    for k in range(LEVELS.size - 1):
        inside = np.linspace(LEVELS[k], LEVELS[k + 1], 101)
        values = curve.storage(inside)
        assert np.all(values >= STORAGES[k] - 1e-6)
        assert np.all(values <= STORAGES[k + 1] + 1e-6)
        assert np.all(np.diff(values) >= 0)


def test_level_is_the_exact_inverse_of_storage(curve: StageStorage) -> None:
    levels = np.linspace(100.0, 120.0, 1001)
    np.testing.assert_allclose(curve.level(curve.storage(levels)), levels, atol=1e-9)
    np.testing.assert_allclose(curve.level(STORAGES), LEVELS, atol=1e-12)


def test_functions_are_vectorised_over_any_shape(curve: StageStorage) -> None:
    grid = np.array([[100.5, 101.5], [105.5, 119.0]])
    assert curve.storage(grid).shape == (2, 2)
    assert curve.level(curve.storage(grid)).shape == (2, 2)
    assert curve.area(grid).shape == (2, 2)
    assert curve.storage(102.0).shape == ()


def test_a_value_outside_the_table_names_it_the_range_and_the_fix(curve: StageStorage) -> None:
    with pytest.raises(InvalidRequestError, match="extend the stage-storage table") as info:
        curve.storage([101.0, 121.5])
    assert "121.5" in info.value.message and "100 to 120" in info.value.message
    with pytest.raises(InvalidRequestError, match="storage -5 is outside"):
        curve.level(-5.0)


def test_a_table_whose_storages_do_not_increase_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match="row 3"):
        StageStorage([1.0, 2.0, 3.0], [0.0, 5.0, 5.0])


def test_linear_mode_interpolates_like_hec_hms() -> None:
    linear = StageStorage(LEVELS, STORAGES, linear=True)
    levels = np.linspace(100.0, 120.0, 77)
    np.testing.assert_allclose(linear.storage(levels), np.interp(levels, LEVELS, STORAGES))
    np.testing.assert_allclose(linear.level(linear.storage(levels)), levels, atol=1e-9)
    assert float(linear.area(104.5)) == pytest.approx(4.4e6)


def test_area_is_the_slope_of_the_storage_curve_or_the_tables_areas(curve: StageStorage) -> None:
    h = 102.5
    slope = (curve.storage(h + 1e-5) - curve.storage(h - 1e-5)) / 2e-5
    assert float(curve.area(h)) == pytest.approx(float(slope), rel=1e-6)
    with_areas = StageStorage([0.0, 1.0, 2.0], [0.0, 1.0, 3.0], areas=[0.5, 1.5, 2.5])
    assert float(with_areas.area(1.0)) == pytest.approx(1.5)


# --- outlets: hand examples -------------------------------------------------------------------


def test_free_spillway_bay_is_c_b_h_to_the_three_halves() -> None:
    bay = SpillwayBay(crest=100.0, width=10.0, coefficient=2.0)
    assert float(bay.capacity(104.0)) == pytest.approx(2.0 * 10.0 * 8.0)  # H = 4 m: 160 m³/s
    three = SpillwayBay(crest=100.0, width=10.0, coefficient=2.0, count=3)
    np.testing.assert_allclose(three.capacity([99.0, 100.0, 104.0]), [0.0, 0.0, 480.0])


def test_gated_bay_flows_as_an_orifice_until_the_gate_clears_the_jet() -> None:
    # H = 10 m, e = 2 m (e/H = 0.2): mu = 0.745 - 0.274 * 0.2 = 0.6902,
    # Q = 0.6902 * 2 * 8 * sqrt(2 * 9.80665 * 10) = 154.657 m³/s (weir: 531 m³/s).
    gated = SpillwayBay(crest=100.0, width=8.0, coefficient=2.1, opening=2.0)
    assert float(gated.capacity(110.0)) == pytest.approx(154.657246, rel=1e-6)
    # H = 2 m = e: free overflow, 2.1 * 8 * 2**1.5 = 47.518 m³/s, the smaller of the two
    # (under the gate mu = 0.745 - 0.274 * 0.65 = 0.5669 would give 56.80 m³/s).
    assert float(gated.capacity(102.0)) == pytest.approx(47.517576, rel=1e-6)
    fixed_mu = SpillwayBay(crest=0.0, width=1.0, coefficient=2.0, opening=1.0, gate_coefficient=0.6)
    assert float(fixed_mu.capacity(5.0)) == pytest.approx(0.6 * math.sqrt(2 * G * 5.0))
    closed = SpillwayBay(crest=0.0, width=1.0, coefficient=2.0, opening=0.0)
    assert float(closed.capacity(5.0)) == 0.0


def test_orifice_is_c_a_sqrt_2gh_above_its_centre() -> None:
    # C = 0.6, A = 2 m², h = 5 m: 0.6 * 2 * sqrt(2 * 9.80665 * 5) = 11.8834 m³/s.
    outlet = Orifice(centre=50.0, area=2.0, coefficient=0.6, count=2)
    np.testing.assert_allclose(outlet.capacity([49.0, 55.0]), [0.0, 2 * 11.883424], rtol=1e-6)


def test_rating_table_is_linear_zero_below_and_refuses_above() -> None:
    table = RatingTable(levels=(10.0, 12.0, 14.0), flows=(0.0, 20.0, 100.0), name="spillway rating")
    np.testing.assert_allclose(table.capacity([5.0, 11.0, 13.0, 14.0]), [0.0, 10.0, 60.0, 100.0])
    with pytest.raises(InvalidRequestError, match="extend the spillway rating"):
        table.capacity(14.5)


def test_total_capacity_sums_every_outlet() -> None:
    outlets = [
        SpillwayBay(crest=100.0, width=10.0, coefficient=2.0, count=2),
        Orifice(centre=60.0, area=1.0, coefficient=0.8),
        Turbine(min_level=70.0, capacity_m3s=15.0, count=2),
        Intake(min_level=80.0, capacity_m3s=3.0),
    ]
    levels = np.array([65.0, 75.0, 104.0])
    expected = (
        np.array([0.0, 0.0, 320.0])
        + 0.8 * np.sqrt(2 * G * (levels - 60.0))
        + np.array([0.0, 30.0, 30.0])
        + np.array([0.0, 0.0, 3.0])
    )
    np.testing.assert_allclose(total_capacity(levels, outlets), expected)


# --- operating rule and routing -----------------------------------------------------------------

RULE_LEVELS = np.linspace(100.0, 120.0, 41)
CAPACITY = (
    np.asarray(
        total_capacity(
            RULE_LEVELS, [SpillwayBay(crest=108.0, width=10.0, coefficient=2.0, count=3)]
        )
    )
    + 5.0
)
RULE = {"safe_discharge": 60.0, "trigger_level": 116.0, "hold_level": 110.0, "base_release": 5.0}


def test_operating_rule_has_three_regimes_and_is_monotone() -> None:
    release = operating_rule(RULE_LEVELS, CAPACITY, **RULE)
    below = RULE_LEVELS < 110.0
    between = (RULE_LEVELS >= 110.0) & (RULE_LEVELS < 116.0)
    above = RULE_LEVELS >= 116.0
    np.testing.assert_allclose(release[below], np.minimum(5.0, CAPACITY[below]))
    np.testing.assert_allclose(release[between], np.minimum(60.0, CAPACITY[between]))
    np.testing.assert_allclose(release[above], CAPACITY[above])
    assert np.all(np.diff(release) >= 0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"base_release": 80.0}, "base_release"),
        ({"hold_level": 117.0}, "swap them"),
    ],
)
def test_operating_rule_refuses_a_rule_that_is_not_monotone(change: dict, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        operating_rule(RULE_LEVELS, CAPACITY, **{**RULE, **change})


def _reservoir() -> StageStorage:
    levels = np.linspace(90.0, 120.0, 31)
    return StageStorage(levels, 4e5 * (levels - 90.0) ** 1.6 + 1e5 * (levels - 90.0))


def test_route_holds_the_safe_discharge_until_the_trigger_level() -> None:
    reservoir = _reservoir()
    times, flows = design_hydrograph(162.0, 5.0e6, 300.0, plateau_s=900.0, base=5.0)
    inflow = np.concatenate([flows, np.full(100, 5.0)])
    release = operating_rule(RULE_LEVELS, CAPACITY, **RULE)
    result = route(inflow, 300.0, reservoir, RULE_LEVELS, release, start_level=109.0)
    summary = result.summary()
    assert summary["peak_inflow"] == pytest.approx(162.0)
    assert summary["max_level"] < 116.0
    assert summary["peak_outflow"] <= 60.0 + 1e-9
    assert summary["attenuation"] == pytest.approx(1.0 - summary["peak_outflow"] / 162.0)
    assert summary["time_of_peak_outflow"] >= summary["time_of_peak_inflow"]
    assert abs(summary["mass_balance_error"]) <= MASS_BALANCE_TOLERANCE
    np.testing.assert_allclose(result.level, reservoir.level(result.storage))


def test_pre_release_lowers_the_level_to_its_target_before_the_flood() -> None:
    reservoir = _reservoir()
    release = operating_rule(RULE_LEVELS, CAPACITY, **RULE)
    pre = np.minimum(60.0, CAPACITY)
    inflow = np.full(200, 5.0)
    # Below the flood-control level the rule releases the base flow, 5 m³/s: the level stays.
    kept = route(inflow, 600.0, reservoir, RULE_LEVELS, release, start_level=109.5)
    lowered = route(
        inflow,
        600.0,
        reservoir,
        RULE_LEVELS,
        release,
        start_level=109.5,
        pre_release=(100 * 600.0, 109.0),
        pre_release_flows=pre,
    )
    np.testing.assert_allclose(kept.level, 109.5, atol=1e-9)
    assert lowered.outflow[1] == pytest.approx(
        min(60.0, float(np.interp(109.5, RULE_LEVELS, CAPACITY)))
    )
    assert lowered.level[100] == pytest.approx(109.0, abs=2e-3)  # held at the target
    assert np.all(lowered.level >= 109.0 - 2e-3)  # one step of trapezoidal lag at most
    assert lowered.level[-1] == pytest.approx(lowered.level[100], abs=1e-6)  # rule again
    assert abs(lowered.summary()["mass_balance_error"]) <= MASS_BALANCE_TOLERANCE


def test_the_core_loops_refuse_a_flood_that_overtops_the_table() -> None:
    storages = np.array([0.0, 1e6])
    outflows = np.array([0.0, 10.0])
    for router in (route_puls, route_puls_python):
        with pytest.raises(InvalidRequestError, match="above the top"):
            router(np.full(50, 100.0), 3600.0, storages, outflows, 5e5)


def test_a_table_switch_per_step_is_honoured_by_both_loops() -> None:
    storages = np.linspace(0.0, 1e7, 11)
    tables = np.vstack([storages * 1e-5, storages * 3e-5])
    step_table = np.r_[np.ones(10, dtype=np.int64), np.zeros(19, dtype=np.int64)]
    inflow = np.full(30, 20.0)
    fast = route_puls(inflow, 3600.0, storages, tables, 5e6, step_table=step_table)
    slow = route_puls_python(inflow, 3600.0, storages, tables, 5e6, step_table=step_table)
    np.testing.assert_allclose(fast, slow, rtol=1e-12)
    assert fast[0][0] == pytest.approx(150.0)  # O(S0) from the first step's table (3e-5)


# --- design flood -------------------------------------------------------------------------------


def test_design_hydrograph_has_its_peak_plateau_and_volume() -> None:
    times, flows = design_hydrograph(162.0, 4.0e6, 60.0, plateau_s=900.0, base=2.0)
    assert flows.max() == 162.0
    assert np.count_nonzero(flows == 162.0) == 16  # 15 minutes at 1-minute steps, both ends
    assert np.trapezoid(flows - 2.0, times) == pytest.approx(4.0e6, rel=1e-10)
    assert flows[0] == 2.0 and flows[-1] == pytest.approx(2.0)
    assert np.all(np.diff(times) == 60.0)
    rise = times[np.argmax(flows)]
    fall = times[-1] - times[np.flatnonzero(flows == 162.0)[-1]]
    assert rise / (rise + fall) == pytest.approx(1 / 3, abs=0.01)


def test_design_hydrograph_refuses_a_volume_too_small_for_its_plateau() -> None:
    with pytest.raises(InvalidRequestError, match="cannot hold"):
        design_hydrograph(100.0, 1000.0, 60.0, plateau_s=900.0)


# --- water balance ------------------------------------------------------------------------------

START_US = int(np.datetime64("2024-07-31T00:00", "us").astype(np.int64))


def test_inflow_from_balance_gives_the_inflow_back_without_shifting_its_peak() -> None:
    reservoir = _reservoir()
    dt = 300.0
    t = np.arange(0, 3 * 86400, dt)
    inflow = 5.0 + 150.0 * (t / 43200.0) ** 3 * np.exp(3 * (1 - t / 43200.0))
    release = operating_rule(RULE_LEVELS, CAPACITY, **RULE)
    routed = route(inflow, dt, reservoir, RULE_LEVELS, release, start_level=109.0)
    times_us = START_US + (t * 1e6).astype(np.int64)
    back = inflow_from_balance(times_us, routed.level, routed.outflow, reservoir, window_s=3600.0)
    np.testing.assert_array_equal(back.times_us, times_us)
    assert int(np.argmax(back.inflow)) == int(np.argmax(inflow))
    assert np.max(np.abs(back.inflow - inflow)) < 0.01 * inflow.max()

    keep = np.ones(t.size, dtype=bool)
    keep[np.random.default_rng(1).choice(t.size, 40, replace=False)] = False
    keep[[0, -1]] = True
    irregular = inflow_from_balance(
        times_us[keep], routed.level[keep], routed.outflow[keep], reservoir, window_s=3600.0
    )
    np.testing.assert_array_equal(irregular.times_us, times_us)  # median step: 5 minutes
    assert abs(int(np.argmax(irregular.inflow)) - int(np.argmax(inflow))) <= 1
    assert np.max(np.abs(irregular.inflow - inflow)) < 0.05 * inflow.max()


def test_volumes_sum_each_readings_flow_over_its_interval_per_local_day_and_month() -> None:
    # Hourly readings from 2024-07-30 00:00 to 2024-08-02 00:00 Beijing time.
    local = pd.date_range("2024-07-30", "2024-08-02", freq="h", tz="Asia/Shanghai")
    times_us = local.tz_convert("UTC").as_unit("us").asi8
    flows = np.where(local.day == 31, 2.0, 1.0)
    daily = volumes(times_us, flows, freq="D", timezone="Asia/Shanghai")
    assert list(daily.index.day) == [30, 31, 1, 2]
    np.testing.assert_allclose(daily.to_numpy(), [86400.0, 2 * 86400.0, 86400.0, 0.0])
    monthly = volumes(times_us, flows, freq="MS", timezone="Asia/Shanghai")
    np.testing.assert_allclose(monthly.to_numpy(), [3 * 86400.0, 86400.0])
    assert monthly.sum() == pytest.approx(float(np.sum(flows[:-1] * 3600.0)))
    yearly = volumes(times_us, flows, freq="YS", timezone="Asia/Shanghai")
    assert yearly.sum() == pytest.approx(4 * 86400.0)


# --- route_csv: the file checks ---------------------------------------------------------------


def _files(tmp_path: Path, table: str, flow: str) -> tuple[Path, Path]:
    res, inflow = tmp_path / "RES.csv", tmp_path / "FLOW.csv"
    res.write_text(table)
    inflow.write_text(flow)
    return res, inflow


TABLE = "level,storage,outflow\n100,0,0\n105,1e6,20\n110,3e6,200\n"


def test_route_csv_with_iso_times_reports_iso_times(tmp_path: Path) -> None:
    flow = "time,inflow\n" + "".join(
        f"2024-07-25T{h:02d}:00:00Z,{q}\n" for h, q in enumerate([10, 80, 40, 20, 10, 10])
    )
    routed = route_csv(*_files(tmp_path, TABLE, flow), start_level=105.0)
    summary = routed.as_json()
    assert summary["time_of_peak_outflow"].startswith("2024-07-25T0")
    assert summary["time_of_peak_outflow"].endswith("Z")
    assert summary["units"] == "si"
    assert routed.result.outflow[0] == pytest.approx(20.0)


@pytest.mark.parametrize(
    ("table", "flow", "message"),
    [
        ("elev,storage,outflow\n1,0,0\n2,1,1\n", "time,inflow\n0,1\n1,1\n", "line 1"),
        (TABLE.replace("1e6", "lots"), "time,inflow\n0,1\n1,1\n", "line 3: column storage"),
        (TABLE.replace("3e6", "1e6"), "time,inflow\n0,1\n1,1\n", "line 4: column storage"),
        (TABLE, "time,inflow\n0,1\n1,1\n3,1\n", "line 4: column time"),
        (TABLE, "time,inflow\n0,1\n1,x\n", "line 3: column inflow"),
    ],
)
def test_route_csv_names_the_file_line_and_column_of_a_bad_cell(
    tmp_path: Path, table: str, flow: str, message: str
) -> None:
    with pytest.raises(InputFileError, match=message) as info:
        route_csv(*_files(tmp_path, table, flow), start_level=105.0)
    assert "RES.csv" in info.value.message or "FLOW.csv" in info.value.message
