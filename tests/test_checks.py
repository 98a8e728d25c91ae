"""Data checks: each flags what it should and nothing else; readings are never changed."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from shuian.checks import (
    EXCLUDED_FROM_FITS,
    Flag,
    FlagKind,
    Flags,
    check_series,
    check_tail,
    exclusion_mask,
    spike_settled,
)
from shuian.demo.synthetic import InjectedFault, SyntheticHistory, generate_history
from shuian.services.demo import demo_site_text
from shuian.site import Channel, Instrument, Site, parse_site
from shuian.site.analysis import Checks

HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
T0_US = int(dt.datetime(2024, 1, 1, tzinfo=dt.UTC).timestamp()) * 1_000_000
DEFAULT = Checks()  # spike_window 25, spike_sigmas 6, stuck_readings 48, gap_factor 3


def hourly(n: int) -> np.ndarray:
    return T0_US + np.arange(n, dtype=np.int64) * HOUR_US


def noisy(n: int, *, seed: int = 7, noise: float = 0.05) -> np.ndarray:
    """A seasonal-looking series (3 units over ~2 months) with Gaussian noise."""
    rng = np.random.default_rng(seed)
    return 3.0 * np.sin(np.arange(n) / 300.0) + noise * rng.standard_normal(n)


def check(
    values: np.ndarray,
    times: np.ndarray | None = None,
    *,
    checks: Checks = DEFAULT,
    interval_s: float | None = 3600.0,
    limit_min: float | None = None,
    limit_max: float | None = None,
) -> Flags:
    return check_series(
        hourly(values.size) if times is None else times,
        values,
        checks=checks,
        interval_s=interval_s,
        limit_min=limit_min,
        limit_max=limit_max,
        unit="m",
    )


def flagged(flags: Flags, kind: FlagKind) -> list[int]:
    return [int(i) for i in flags.of_kind(kind).index]


# --- spikes: Hampel identifier ---------------------------------------------------------------


def test_noise_alone_is_not_flagged() -> None:
    values = noisy(3000)
    assert len(check(values)) == 0


def test_a_spike_is_found_and_only_it() -> None:
    values = noisy(1000)
    values[400] += 2.0  # 40 noise sigmas
    flags = check(values)
    assert [(f.index, f.kind) for f in flags] == [(400, FlagKind.SPIKE)]
    (spike,) = flags
    assert spike.time_us == spike.start_us == T0_US + 400 * HOUR_US
    assert "robust sigmas" in spike.detail
    assert "Hampel, 25 readings" in spike.detail


def test_spikes_at_the_ends_of_the_series_are_judged_on_the_shifted_window() -> None:
    values = noisy(500)
    values[0] -= 2.0
    values[-1] += 2.0
    assert flagged(check(values), FlagKind.SPIKE) == [0, 499]


def test_a_step_that_persists_for_more_than_half_the_window_is_not_a_spike() -> None:
    values = noisy(1000)
    values[300:] += 2.0  # a lasting step
    values[600:613] += 2.0  # a plateau of 13 readings (> 25 / 2)
    assert len(check(values)) == 0


def test_a_short_burst_is_a_run_of_spikes() -> None:
    values = noisy(1000)
    values[600:605] += 2.0  # 5 readings
    assert flagged(check(values), FlagKind.SPIKE) == list(range(600, 605))


def test_a_burst_near_half_the_window_inflates_the_mad_and_hides_its_middle() -> None:
    # Hampel's breakdown: 12 outliers of 25 make the MAD the largest noise deviation, so only
    # the readings near the burst's ends (where the window holds fewer of them) stand out
    values = noisy(1000)
    values[600:612] += 2.0
    found = flagged(check(values), FlagKind.SPIKE)
    assert 600 in found and set(found) < set(range(600, 612))


def test_a_quiet_quantised_series_does_not_turn_resolution_steps_into_spikes() -> None:
    # a slow seasonal swing read at 0.01 resolution: most windows hold one or two values
    values = np.round(2.0 * np.sin(np.arange(8760) * 2 * np.pi / 8760), 2)
    assert len(check(values).of_kind("spike")) == 0


def test_a_flat_series_needs_its_resolution_as_the_mad_floor() -> None:
    values = np.full(500, 0.75)
    values[100::37] += 0.01  # one resolution step now and then
    times = hourly(values.size)
    never_stuck = Checks(stuck_readings=10_000)

    def spikes(mad_floor: float | None) -> int:
        flags = check_series(
            times,
            values,
            checks=never_stuck,
            interval_s=3600.0,
            limit_min=None,
            limit_max=None,
            mad_floor=mad_floor,
        )
        return len(flags.of_kind("spike"))

    assert spikes(mad_floor=0.01) == 0
    # without it, the MAD of a series that is mostly one value is 0: every step stands out
    assert spikes(mad_floor=None) == len(range(100, 500, 37))


# --- rate, limits, stuck, gap -------------------------------------------------------------


def test_a_change_faster_than_the_rate_limit_is_flagged_on_the_reading_after_it() -> None:
    values = noisy(200)
    values[120:] += 1.5  # a lasting jump (not a spike) of 1.5 m in one hour
    flags = check(values, checks=Checks(rate_per_hour=0.5))
    (rate,) = flags
    assert (rate.index, rate.kind) == (120, FlagKind.RATE)
    assert rate.start_us == T0_US + 119 * HOUR_US
    assert "in 1 h" in rate.detail and "limit 0.5 m/h" in rate.detail


def test_the_rate_is_per_hour_of_elapsed_time() -> None:
    times = T0_US + np.array([0, 1, 2, 12, 13], dtype=np.int64) * HOUR_US
    values = np.array([0.0, 0.1, 0.2, 2.2, 2.3])  # 2 m in 10 h: 0.2 m/h
    assert len(check(values, times, checks=Checks(rate_per_hour=0.5)).of_kind("rate")) == 0
    rated = check(values, times, checks=Checks(rate_per_hour=0.15))
    assert flagged(rated, FlagKind.RATE) == [3]


def test_no_rate_limit_no_rate_flags() -> None:
    values = noisy(200)
    values[120:] += 100.0
    assert len(check(values).of_kind("rate")) == 0


def test_values_outside_the_physical_limits_are_flagged() -> None:
    values = noisy(300) + 10.0
    values[[50, 51]] = [-1.0, 30.0]
    flags = check(values, limit_min=0.0, limit_max=20.0).of_kind(FlagKind.LIMITS)
    assert flags.index.tolist() == [50, 51]
    assert "below the physical minimum 0 m" in flags.detail[0]
    assert "above the physical maximum 20 m" in flags.detail[1]


def test_a_stuck_run_is_flagged_from_its_stuck_readings_th_reading_with_its_start() -> None:
    values = noisy(1000)
    values[300:400] = values[300]  # frozen for 100 readings
    flags = check(values)
    stuck = flags.of_kind(FlagKind.STUCK)
    assert stuck.index.tolist() == list(range(300 + 47, 400))
    assert set(stuck.start_us.tolist()) == {T0_US + 300 * HOUR_US}
    assert stuck.detail[0].startswith(f"100 identical readings {values[300]:.6g} m from ")
    assert "2024-01-13T12:00:00Z to 2024-01-17T15:00:00Z" in stuck.detail[0]
    assert "flagged from the 48th reading on" in stuck.detail[0]
    assert len(flags) == len(stuck)  # a flat run is no spike


def test_a_run_one_reading_too_short_is_not_stuck() -> None:
    values = noisy(1000)
    values[300:347] = values[300]  # 47 identical readings
    assert len(check(values)) == 0


def test_stuck_with_a_tolerance_allows_jitter_within_it() -> None:
    values = noisy(1000)
    rng = np.random.default_rng(3)
    values[300:400] = 0.5 + rng.uniform(0.0, 0.004, 100)  # jitter within 0.004
    strict = check(values).of_kind("stuck")
    tolerant = check(values, checks=Checks(stuck_tolerance=0.005)).of_kind("stuck")
    assert len(strict) == 0
    assert tolerant.index.tolist() == list(range(347, 400))
    assert "every 48 in a row within 0.005 m" in tolerant.detail[0]


def test_a_gap_is_flagged_on_the_reading_that_ends_it_with_its_length() -> None:
    times = hourly(500)
    keep = (times < times[200]) | (times > times[319])  # no readings 200..319: 5 days
    flags = check(noisy(500)[keep], times[keep])
    (gap,) = flags
    assert (gap.index, gap.kind) == (200, FlagKind.GAP)
    assert gap.time_us == times[320]
    assert gap.start_us == times[199]
    assert gap.detail == (
        "no reading for 5.04 days (expected every 1 h, gap above 3×) "
        "from 2024-01-09T07:00:00Z to 2024-01-14T08:00:00Z"
    )


def test_a_gap_up_to_gap_factor_intervals_is_not_flagged() -> None:
    times = T0_US + np.array([0, 1, 4, 5, 9], dtype=np.int64) * HOUR_US  # 3 h fine, 4 h not
    assert flagged(check(np.zeros(5) + np.arange(5), times), FlagKind.GAP) == [4]
    assert len(check(np.arange(5.0), times, interval_s=None)) == 0


# --- the result and the exclusion mask -------------------------------------------------------


def test_a_reading_may_carry_several_flags_listed_in_kind_order() -> None:
    values = noisy(300)
    values[150] = 50.0
    flags = check(values, checks=Checks(rate_per_hour=1.0), limit_max=20.0)
    assert [(f.index, f.kind.value) for f in flags] == [
        (150, "limits"),
        (150, "spike"),
        (150, "rate"),
        (151, "rate"),
    ]


def test_the_checks_never_change_the_readings() -> None:
    values = noisy(300)
    values[150] = 50.0
    before = values.copy()
    check(values, checks=Checks(rate_per_hour=1.0))
    np.testing.assert_array_equal(values, before)


def test_every_kind_but_gap_excludes_its_reading_from_model_fits() -> None:
    assert EXCLUDED_FROM_FITS == set(FlagKind) - {FlagKind.GAP}
    times = hourly(500)
    values = noisy(500)
    values[100] += 3.0  # spike
    values[300:360] = values[300]  # stuck from reading 347
    keep = np.ones(500, dtype=bool)
    keep[200:210] = False  # a gap ended by reading 200 of the kept ones
    flags = check(values[keep], times[keep])
    mask = exclusion_mask(flags, int(keep.sum()))
    assert np.flatnonzero(mask).tolist() == [100, *range(337, 350)]
    assert flagged(flags, FlagKind.GAP) == [200]
    suspect = Flags(
        np.array([5]),
        np.array([times[5]]),
        np.array(["suspect"]),
        np.array([times[5]]),
        np.array(["the engineer saw a loose cable"]),
    )
    assert np.flatnonzero(exclusion_mask(suspect, 10)).tolist() == [5]
    assert not exclusion_mask(suspect, 10, kinds={FlagKind.SPIKE}).any()


def test_flags_iterate_as_records() -> None:
    values = noisy(100)
    values[50] += 2.0
    flags = check(values)
    at = T0_US + 50 * HOUR_US
    assert list(flags) == [Flag(50, at, FlagKind.SPIKE, at, str(flags.detail[0]))]


@pytest.mark.parametrize(
    ("times", "values", "message"),
    [
        (np.array([0, 1, 1]), np.zeros(3), "strictly increasing: reading 2"),
        (np.array([0, 2, 1]), np.zeros(3), "strictly increasing: reading 2"),
        (np.array([0, 1, 2]), np.array([0.0, np.nan, 1.0]), "finite: reading 1 is nan"),
        (np.array([0, 1]), np.zeros(3), "one length"),
    ],
)
def test_bad_input_is_refused_with_the_reading_named(
    times: np.ndarray, values: np.ndarray, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        check(values, times.astype(np.int64))


def test_short_series_are_checked_without_error() -> None:
    for n in range(0, 6):
        check(np.arange(float(n)))


# --- incremental use -----------------------------------------------------------------------


def incident_series() -> tuple[np.ndarray, np.ndarray]:
    """800 hourly readings with a spike, a stuck run, a gap and a jump."""
    times = hourly(820)
    values = noisy(820)
    values[100] += 2.0
    values[300:380] = values[300]
    values[600:] += 1.0
    keep = (times < times[500]) | (times >= times[520])
    return times[keep], values[keep]


def tail(
    times: np.ndarray,
    values: np.ndarray,
    new_from: int,
    *,
    checks: Checks = DEFAULT,
    limit_min: float | None = None,
    limit_max: float | None = None,
) -> Flags:
    return check_tail(
        times,
        values,
        new_from,
        checks=checks,
        interval_s=3600.0,
        limit_min=limit_min,
        limit_max=limit_max,
    )


@pytest.mark.parametrize("new_from", [0, 1, 24, 330, 350, 579, 799, 800])
def test_check_tail_gives_the_flags_of_check_series_for_the_new_readings(new_from: int) -> None:
    times, values = incident_series()
    checks = Checks(rate_per_hour=0.5)
    whole = check_series(
        times, values, checks=checks, interval_s=3600.0, limit_min=-2.0, limit_max=3.5
    )
    assert len(whole.of_kind("spike")) and len(whole.of_kind("stuck")) and len(whole.of_kind("gap"))
    expected = whole.select(whole.index >= new_from)
    new = tail(times, values, new_from, checks=checks, limit_min=-2.0, limit_max=3.5)
    assert list(new) == list(expected)


def test_check_tail_flags_a_spike_in_the_newest_reading_at_once() -> None:
    times = hourly(400)
    values = noisy(400)
    values[-1] += 2.0
    flags = tail(times, values, 399)
    assert [(f.index, f.kind) for f in flags] == [(399, FlagKind.SPIKE)]
    assert "provisional" in flags.detail[0]


def test_streaming_one_reading_at_a_time_finds_the_spike_when_it_arrives() -> None:
    times = hourly(300)
    values = noisy(300)
    values[200] += 2.0
    arrivals = [tail(times[: k + 1], values[: k + 1], k) for k in range(30, 300)]
    assert [(f.index, f.kind) for flags in arrivals for f in flags] == [(200, FlagKind.SPIKE)]


def test_a_step_at_the_end_is_a_provisional_spike_until_it_has_persisted() -> None:
    times = hourly(413)
    values = noisy(413)
    values[400:] += 2.0  # a step: 5 readings at the first check, 13 at the second
    early = tail(times[:405], values[:405], 400)
    assert flagged(early, FlagKind.SPIKE) == [400, 401, 402, 403, 404]
    assert spike_settled(405, DEFAULT) == 393  # readings 393.. are to be re-judged
    assert len(tail(times, values, spike_settled(405, DEFAULT))) == 0


def test_spike_settled_counts_readings_whose_window_is_final() -> None:
    assert spike_settled(24, DEFAULT) == 0
    assert spike_settled(25, DEFAULT) == 13
    assert spike_settled(1000, DEFAULT) == 988
    assert spike_settled(1000, Checks(spike_window=10)) == 996


# --- the Shimenzi demo: the injected faults are found, little else is ------------------------

DEMO_END = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)

@pytest.fixture(scope="module")
def demo_site() -> Site:
    return parse_site(demo_site_text(), source="shimenzi.yaml")


@pytest.fixture(scope="module")
def demo(demo_site: Site) -> SyntheticHistory:
    return generate_history(demo_site, end=DEMO_END, days=365)


@pytest.fixture(scope="module")
def demo_flags(demo_site: Site, demo: SyntheticHistory) -> dict[str, Flags]:
    return {c.code: demo_check(demo_site, demo, c.code) for c in channels(demo_site)}


def channels(site: Site) -> list[Channel]:
    """The channels the synthetic history has readings for: all but the cameras'."""
    return [c for i in site.instruments if i.type != "camera" for c in i.channels]


def demo_check(
    site: Site, history: SyntheticHistory, code: str, checks: Checks | None = None
) -> Flags:
    instrument, channel = next(
        (i, c) for i in site.instruments for c in i.channels if c.code == code
    )
    times, values = history.series[code]
    return check_series(
        times,
        values,
        checks=checks or channel.checks,
        interval_s=interval(instrument, channel),
        limit_min=channel.limits.min,
        limit_max=channel.limits.max,
        unit=channel.unit,
    )


def interval(instrument: Instrument, channel: Channel) -> float:
    return channel.interval or (604800.0 if instrument.manual else 3600.0)


def fault(history: SyntheticHistory, kind: str) -> InjectedFault:
    (found,) = [f for f in history.faults if f.kind == kind]
    return found


def us(moment: dt.datetime) -> int:
    return int(moment.timestamp()) * 1_000_000


def test_demo_spike_is_flagged_at_its_time(
    demo: SyntheticHistory, demo_flags: dict[str, Flags]
) -> None:
    spike = fault(demo, "spike")  # PZ4, one reading +8 m
    flags = demo_flags[spike.channel].of_kind("spike")
    assert us(spike.start) in flags.time_us.tolist()
    (detail,) = flags.detail[flags.time_us == us(spike.start)]
    assert "robust sigmas" in detail and "from the moving median" in detail


def test_demo_stuck_sensor_is_flagged_from_its_48th_frozen_reading_to_its_end(
    demo: SyntheticHistory, demo_flags: dict[str, Flags]
) -> None:
    stuck = fault(demo, "stuck")  # J2, frozen 10 days
    flags = demo_flags[stuck.channel].of_kind("stuck")
    expected = np.arange(us(stuck.start) + 47 * HOUR_US, us(stuck.end) + 1, HOUR_US)
    assert flags.time_us.tolist() == expected.tolist()
    assert set(flags.start_us.tolist()) == {us(stuck.start)}
    assert flags.detail[0].startswith("240 identical readings ")


def test_demo_gap_is_flagged_on_the_first_reading_after_it(
    demo: SyntheticHistory, demo_flags: dict[str, Flags]
) -> None:
    gap = fault(demo, "gap")  # S3, no readings for 5 days
    (flag,) = demo_flags[gap.channel].of_kind("gap")
    assert flag.time_us == us(gap.end) + HOUR_US
    assert flag.start_us == us(gap.start) - HOUR_US
    assert flag.detail.startswith("no reading for 5.04 days (expected every 1 h")


def caused_by(flags: Flags, injected: InjectedFault) -> Flags:
    """The flags an injected fault should cause (on its channel)."""
    start = us(injected.start)
    if injected.kind == "spike":
        return flags.select((flags.kind == "spike") & (flags.time_us == start))
    if injected.kind == "stuck":
        return flags.select((flags.kind == "stuck") & (flags.start_us == start))
    if injected.kind == "gap":
        return flags.select((flags.kind == "gap") & (flags.start_us == start - HOUR_US))
    return Flags.empty()  # a drift should cause none


def demo_codes() -> list[object]:
    site = parse_site(demo_site_text(), source="shimenzi.yaml")
    return [c.code for c in channels(site)]


@pytest.mark.parametrize("code", demo_codes())
def test_demo_channels_have_few_flags_besides_the_injected_faults(
    code: str, demo: SyntheticHistory, demo_flags: dict[str, Flags]
) -> None:
    flags = demo_flags[code]
    expected = [caused_by(flags, f) for f in demo.faults if f.channel == code]
    explained = np.zeros(len(flags), dtype=bool)
    for caused in expected:
        explained |= np.isin(flags.index, caused.index) & np.isin(flags.kind, caused.kind)
    others = flags.select(~explained)
    readings = demo.series[code][0].size
    assert len(others) < 0.001 * readings, others.detail[:5].tolist()


def test_demo_drift_is_not_for_these_checks_but_for_the_model_residuals(
    demo_site: Site, demo: SyntheticHistory
) -> None:
    """A slow drift (+0.02 °C/day on T6) changes no reading much against its neighbours.

    Spike and rate checks compare a reading with the readings around it, so a drift of
    0.0008 °C/h, far below the noise, is invisible to them (so is the stuck check: the readings
    keep their noise). The drift is found by the channel's statistical model (the seasonal /
    HST fit, DESIGN.md "Domain notes"), whose residuals grow steadily once the drift starts and
    cross the 2σ / 3σ envelope.
    """
    drift = fault(demo, "drift")
    clean = generate_history(demo_site, end=DEMO_END, days=365, faults=False)
    checks = Checks(rate_per_hour=0.5)  # °C/h: a plausible limit for concrete temperature
    drifting = demo_check(demo_site, demo, drift.channel, checks)
    steady = demo_check(demo_site, clean, drift.channel, checks)
    assert len(drifting.select(drifting.time_us >= us(drift.start))) == 0
    assert drifting.index.tolist() == steady.index.tolist()
    assert drifting.kind.tolist() == steady.kind.tolist()
