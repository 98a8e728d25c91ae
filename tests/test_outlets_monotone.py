"""Outflow never falls as the water rises (issue 10, item 3).

Specification, for every kind of outlet and for their sum:

- the capacity never falls as the level rises;
- it has no jump: between two close levels it rises by at most a bound that shrinks to zero
  with the gap (a spillway bay, free or gated, never rises faster than its free crest
  ``n C B H^1.5``; an orifice than ``n C A sqrt(2 g h)``; a rating table than its steepest
  segment). The only steps are the switches that say so: an intake or turbine starts drawing
  its rated flow at its minimum level, a rating table whose first flow is above 0 starts there;
- a gate opened further never passes less, and a fully open bay passes the most;
- the storage-indication table a level-pool routing builds from them (2S/dt + O against O)
  increases, and a table whose outflow falls is refused with the rows named.

Hypothesis draws the outlets; set SHUIAN_PROPERTY_RANDOM=1 for fresh random examples.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shuian.errors import InvalidRequestError
from shuian.hydrology.outlets import (
    PLANE_GATE_RANGE,
    G,
    Intake,
    Orifice,
    Outlet,
    RatingTable,
    SpillwayBay,
    Turbine,
    gate_flow,
    handover_head,
    plane_gate_coefficient,
    total_capacity,
    weir_flow,
)
from shuian.hydrology.routing import (
    operating_rule,
    route,
    route_puls,
    route_puls_python,
    storage_indication,
)
from shuian.hydrology.storage import StageStorage
from shuian.services.route_file import route_csv

DERANDOMIZE = os.environ.get("SHUIAN_PROPERTY_RANDOM") is None
PROPERTY = settings(max_examples=150, deadline=None, derandomize=DERANDOMIZE, database=None)
#: Relative rounding allowed in the comparisons (the formulas are exact otherwise).
ROUNDING = 1e-12

# --- strategies -------------------------------------------------------------------------------

crests = st.floats(0.0, 200.0)
widths = st.floats(0.5, 25.0)
weir_coefficients = st.floats(1.2, 2.6)  # broad crest (1.4-1.7) to ogee above design head
gate_coefficients = st.none() | st.floats(0.35, 0.85)
openings = st.floats(0.01, 15.0)
counts = st.integers(1, 8)


@st.composite
def spillway_bays(draw: st.DrawFn, gated: bool | None = None) -> SpillwayBay:
    is_gated = draw(st.booleans()) if gated is None else gated
    return SpillwayBay(
        crest=draw(crests),
        width=draw(widths),
        coefficient=draw(weir_coefficients),
        count=draw(counts),
        opening=draw(openings) if is_gated else None,
        gate_coefficient=draw(gate_coefficients) if is_gated else None,
    )


@st.composite
def orifices(draw: st.DrawFn) -> Orifice:
    return Orifice(
        centre=draw(crests),
        area=draw(st.floats(0.05, 40.0)),
        coefficient=draw(st.floats(0.5, 0.98)),
        count=draw(counts),
    )


@st.composite
def rating_tables(draw: st.DrawFn) -> RatingTable:
    n = draw(st.integers(2, 12))
    start = draw(crests)
    steps = draw(st.lists(st.floats(0.01, 10.0), min_size=n - 1, max_size=n - 1))
    rises = draw(st.lists(st.floats(0.0, 500.0), min_size=n - 1, max_size=n - 1))
    first = draw(st.sampled_from([0.0, 0.0, 3.0]))
    levels = tuple(float(v) for v in np.cumsum([start, *steps]))
    flows = tuple(float(v) for v in np.cumsum([first, *rises]))
    return RatingTable(levels=levels, flows=flows)


@st.composite
def intakes(draw: st.DrawFn) -> Intake:
    kind = draw(st.sampled_from([Intake, Turbine]))
    return kind(min_level=draw(crests), capacity_m3s=draw(st.floats(0.0, 300.0)),
                count=draw(counts))


any_outlet = spillway_bays() | orifices() | rating_tables() | intakes()


# --- the bound on the rise between two levels -------------------------------------------------


def _top(outlets: Sequence[Outlet]) -> float:
    """A level inside every rating table, 30 m above the highest crest otherwise."""
    tops = [o.levels[-1] for o in outlets if isinstance(o, RatingTable)]
    return min(tops) if tops else 230.0


def _rise_bound(outlet: Outlet, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Most the capacity may rise from ``low`` to ``high`` (m) without a jump."""
    if isinstance(outlet, SpillwayBay):
        free = SpillwayBay(outlet.crest, outlet.width, outlet.coefficient, outlet.count)
        return free.capacity(high) - free.capacity(low)
    if isinstance(outlet, Orifice):
        return outlet.capacity(high) - outlet.capacity(low)
    if isinstance(outlet, RatingTable):
        h, q = np.asarray(outlet.levels), np.asarray(outlet.flows)
        slope = float(np.max(np.diff(q) / np.diff(h)))
        # Inside the table: its steepest segment; the step up to the first flow at its start.
        covered = np.clip(high, h[0], None) - np.clip(low, h[0], None)
        starts = (low < h[0]) & (high >= h[0])
        return np.asarray(slope * covered + np.where(starts, q[0], 0.0))
    if isinstance(outlet, Intake):  # Turbine too: the switch at the minimum level
        steps = (low < outlet.min_level) & (high >= outlet.min_level)
        return np.where(steps, outlet.count * outlet.capacity_m3s, 0.0)
    raise AssertionError(f"no bound for {outlet!r}")


def _assert_rises_within_bound(outlets: Sequence[Outlet], levels: np.ndarray) -> None:
    q = total_capacity(levels, outlets)
    rise = np.diff(q)
    bound = sum(_rise_bound(o, levels[:-1], levels[1:]) for o in outlets)
    scale = ROUNDING * np.maximum(q[1:], 1.0)
    falls = np.flatnonzero(rise < -scale)
    assert falls.size == 0, (
        f"capacity falls from {q[falls[0]]} to {q[falls[0] + 1]} m³/s between levels "
        f"{levels[falls[0]]} and {levels[falls[0] + 1]} m"
    )
    jumps = np.flatnonzero(rise > bound + scale)
    assert jumps.size == 0, (
        f"capacity jumps by {rise[jumps[0]]} m³/s (bound {bound[jumps[0]]}) between levels "
        f"{levels[jumps[0]]} and {levels[jumps[0] + 1]} m"
    )


def _sweep(outlets: Sequence[Outlet], extra: Sequence[float] = ()) -> np.ndarray:
    """Levels from below every outlet to ``_top``, dense near each outlet's own breakpoints."""
    marks: list[float] = list(extra)
    for o in outlets:
        if isinstance(o, SpillwayBay):
            marks.append(o.crest)
            if o.opening is not None:
                e = o.opening
                marks += [o.crest + e, o.crest + e / PLANE_GATE_RANGE[1],
                          o.crest + e / PLANE_GATE_RANGE[0], o.crest + 1.25 * e,
                          o.crest + handover_head(e, o.coefficient, o.gate_coefficient)]
        elif isinstance(o, Orifice):
            marks.append(o.centre)
        elif isinstance(o, Intake):
            marks.append(o.min_level)
        elif isinstance(o, RatingTable):
            marks += list(o.levels)
    top = _top(outlets)
    fine = [np.linspace(m - 0.05, m + 0.05, 41) for m in marks]
    levels = np.concatenate([np.linspace(-1.0, top, 3001), *fine])
    return np.unique(levels[(levels >= -1.0) & (levels <= top)])


# --- every outlet kind alone ------------------------------------------------------------------


@PROPERTY
@given(any_outlet)
def test_no_outlet_capacity_falls_or_jumps_as_the_level_rises(outlet: Outlet) -> None:
    _assert_rises_within_bound([outlet], _sweep([outlet]))


@PROPERTY
@given(spillway_bays(gated=True), st.floats(0.0, 60.0), st.floats(1e-6, 0.05))
def test_a_gated_bay_never_rises_faster_than_its_free_crest(
    bay: SpillwayBay, head: float, rise: float
) -> None:
    low, high = bay.crest + head, bay.crest + head + rise
    free = SpillwayBay(bay.crest, bay.width, bay.coefficient, bay.count)
    gained = float(bay.capacity(high) - bay.capacity(low))
    assert -ROUNDING * float(bay.capacity(high)) <= gained
    assert gained <= float(free.capacity(high) - free.capacity(low)) * (1 + 1e-9) + 1e-12
    # ... nor, relative to its own flow, faster than H^1.5 (a jump would break this too).
    h_low, h_high = low - bay.crest, high - bay.crest  # the heads the levels really carry
    if h_low > 0:
        assert float(bay.capacity(high)) <= float(bay.capacity(low)) * (
            h_high / h_low
        ) ** 1.5 * (1 + 1e-9)


@PROPERTY
@given(spillway_bays(gated=True), st.floats(0.0, 60.0))
def test_opening_a_gate_further_never_passes_less_and_a_free_bay_passes_most(
    bay: SpillwayBay, head: float
) -> None:
    assert bay.opening is not None
    level = bay.crest + head
    wider = SpillwayBay(bay.crest, bay.width, bay.coefficient, bay.count,
                        opening=bay.opening * 1.01, gate_coefficient=bay.gate_coefficient)
    free = SpillwayBay(bay.crest, bay.width, bay.coefficient, bay.count)
    assert float(wider.capacity(level)) >= float(bay.capacity(level)) * (1 - ROUNDING)
    assert float(free.capacity(level)) >= float(bay.capacity(level)) * (1 - ROUNDING)


@PROPERTY
@given(openings, st.floats(0.01, 60.0))
def test_flow_under_a_plane_gate_grows_with_the_head_although_mu_depends_on_it(
    opening: float, head: float
) -> None:
    # mu = 0.745 - 0.274 e/H grows with H (e/H falls); the product mu e sqrt(2 g H) too.
    heads = head * np.array([1.0, 1.001, 1.01, 1.1, 2.0])
    mu = plane_gate_coefficient(opening / heads)
    assert np.all(np.diff(mu) >= 0)
    assert np.all(mu > 0)
    assert np.all(np.diff(gate_flow(heads, opening, 1.0)) > 0)


def test_the_issue_case_one_centimetre_of_rise_near_e_over_h_065() -> None:
    # The old switch at e/H = 0.65 dropped this bay from weir flow (C = 2.1) to gate flow
    # (mu = 0.567): from 90.4 to 70.5 m³/s, -22 %, as the head rose from 3.07 to 3.08 m
    # (-18 % with C = 2.0).
    bay = SpillwayBay(crest=100.0, width=8.0, coefficient=2.1, opening=2.0, count=1)
    assert 0 < float(bay.capacity(103.08) - bay.capacity(103.07)) < 0.5
    heads = np.arange(2.0, 6.0, 0.01)
    q = bay.capacity(100.0 + heads)
    assert np.all(np.diff(q) > 0)
    # 1 cm never adds more than the weir law allows: a factor ((H + 0.01) / H)^1.5.
    assert np.all(q[1:] / q[:-1] <= (heads[1:] / heads[:-1]) ** 1.5 * (1 + 1e-12))


def test_the_handover_from_weir_to_gate_flow_is_where_both_give_the_same_flow() -> None:
    for coefficient in (1.5, 1.7, 2.0, 2.2):
        for mu in (None, 0.6):
            h_star = handover_head(2.0, coefficient, mu)
            assert float(weir_flow(h_star, 8.0, coefficient)) == pytest.approx(
                float(gate_flow(h_star, 2.0, 8.0, mu)), rel=1e-12
            )
            bay = SpillwayBay(100.0, 8.0, coefficient, opening=2.0, gate_coefficient=mu)
            below, above = 100.0 + 0.9 * h_star, 100.0 + 1.1 * h_star
            assert float(bay.capacity(below)) == pytest.approx(
                float(weir_flow(below - 100.0, 8.0, coefficient))
            )
            assert float(bay.capacity(above)) == pytest.approx(
                float(gate_flow(above - 100.0, 2.0, 8.0, mu))
            )
            # HEC-RAS: weir flow up to H = e, gate flow from 1.25 e; usual coefficients hand
            # over within or just above that zone (and where the Chinese e/H <= 0.65-0.75 does).
            assert 1.0 <= h_star / 2.0 <= 1.9


def test_an_orifice_starts_at_its_centre_without_a_step() -> None:
    outlet = Orifice(centre=50.0, area=2.0, coefficient=0.8)
    q = outlet.capacity([50.0, 50.0 + 1e-6, 50.01])
    assert q[0] == 0.0
    assert q[1] == pytest.approx(0.8 * 2.0 * np.sqrt(2 * G * 1e-6))  # 0.0071 m³/s
    assert np.all(np.diff(q) > 0)


def test_an_intake_is_a_switch_at_its_minimum_level_and_flat_elsewhere() -> None:
    for kind in (Intake, Turbine):
        outlet = kind(min_level=1325.0, capacity_m3s=20.0, count=2)
        levels = np.linspace(1300.0, 1400.0, 10001)
        q = outlet.capacity(levels)
        steps = np.flatnonzero(np.diff(q))
        assert steps.size == 1 and levels[steps[0] + 1] >= 1325.0 > levels[steps[0]]
        assert np.diff(q)[steps[0]] == 40.0


# --- rating tables ----------------------------------------------------------------------------


def test_a_rating_table_whose_flow_falls_is_refused_with_the_row() -> None:
    with pytest.raises(InvalidRequestError, match="tunnel: the flow falls") as info:
        RatingTable(levels=(1330.0, 1360.0, 1396.0), flows=(0.0, 40.0, 35.0), name="tunnel")
    assert "40 m³/s at 1360 m to 35 m³/s at 1396 m (row 3)" in info.value.message
    with pytest.raises(InvalidRequestError, match="0 or more"):
        RatingTable(levels=(1.0, 2.0), flows=(-1.0, 3.0))


# --- the sum of the outlets -------------------------------------------------------------------


@PROPERTY
@given(st.lists(any_outlet, min_size=1, max_size=6))
def test_the_total_capacity_never_falls_or_jumps_as_the_level_rises(
    outlets: list[Outlet],
) -> None:
    _assert_rises_within_bound(outlets, _sweep(outlets))


@PROPERTY
@given(st.lists(any_outlet, min_size=1, max_size=6), st.floats(-1.0, 230.0),
       st.floats(1e-9, 0.05))
def test_any_two_close_levels_obey_the_bound(
    outlets: list[Outlet], level: float, rise: float
) -> None:
    top = _top(outlets)
    low = min(level, top - rise)
    _assert_rises_within_bound(outlets, np.array([low, low + rise]))


# --- routing: the storage-indication table ----------------------------------------------------


def _reservoir() -> StageStorage:
    levels = np.linspace(95.0, 240.0, 146)
    return StageStorage(levels, 3e5 * (levels - 95.0) ** 1.7 + 1e4 * (levels - 95.0))


@PROPERTY
@given(st.lists(spillway_bays() | orifices() | intakes(), min_size=1, max_size=5),
       st.sampled_from([60.0, 600.0, 3600.0, 86400.0]))
def test_the_storage_indication_table_built_from_the_outlets_increases(
    outlets: list[Outlet], dt_s: float
) -> None:
    curve = _reservoir()
    levels = np.arange(95.0, 240.0, 0.05)
    capacity = total_capacity(levels, outlets)
    release = operating_rule(levels, capacity, safe_discharge=max(float(capacity[-1]), 1.0) / 2,
                             trigger_level=200.0, hold_level=150.0, base_release=0.0)
    for flows in (capacity, release):
        indication = storage_indication(curve.storage(levels), flows, dt_s)[0]
        assert np.all(np.diff(indication) > 0)
        assert np.all(np.diff(flows) >= 0)
    inflow = np.full(30, 50.0)
    result = route(inflow, dt_s, curve, levels, release, start_level=140.0)
    assert np.all(np.isfinite(result.outflow))


def test_routing_refuses_an_outflow_that_falls_as_the_storage_rises() -> None:
    storages = np.array([0.0, 1e6, 2e6, 3e6])
    # A slow fall keeps 2S/dt + O increasing at dt = 1 h, and is refused all the same.
    outflows = np.array([0.0, 50.0, 45.0, 80.0])
    for router in (route_puls, route_puls_python):
        with pytest.raises(InvalidRequestError, match="rows 2 to 3: the outflow falls") as info:
            router(np.full(5, 10.0), 3600.0, storages, outflows, 5e5)
        assert "from 50 to 45 as the storage rises from 1e+06 to 2e+06" in info.value.message
        assert "fix the rating or release table" in info.value.message
    with pytest.raises(InvalidRequestError, match="negative"):
        storage_indication(storages, [-1.0, 0.0, 1.0, 2.0], 3600.0)


def test_route_refuses_a_release_table_that_falls_with_the_level() -> None:
    curve = _reservoir()
    levels = np.array([100.0, 110.0, 120.0])
    with pytest.raises(InvalidRequestError, match="release flow falls from 30 to 20"):
        route(np.full(5, 10.0), 3600.0, curve, levels, np.array([0.0, 30.0, 20.0]), 105.0)
    with pytest.raises(InvalidRequestError, match="pre-release flow falls"):
        route(np.full(5, 10.0), 3600.0, curve, levels, np.array([0.0, 30.0, 40.0]), 105.0,
              pre_release=(7200.0, 104.0), pre_release_flows=np.array([0.0, 60.0, 50.0]))


def test_a_user_table_file_whose_outflow_falls_is_refused(tmp_path: Path) -> None:
    table, flow = tmp_path / "RES.csv", tmp_path / "FLOW.csv"
    table.write_text("level,storage,outflow\n100,0,0\n105,1e6,20\n110,3e6,15\n115,6e6,90\n")
    flow.write_text("time,inflow\n0,10\n1,30\n2,10\n")
    with pytest.raises(InvalidRequestError, match="the outflow falls from 20 to 15"):
        route_csv(table, flow, start_level=105.0)
