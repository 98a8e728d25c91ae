"""Alarm levels and transitions (pure: arrays in, levels and events out).

Specification:
- fixed thresholds at three levels (attention 1, warning 2, alarm 3), on the high side (max) and
  on the low side (min), with hysteresis: "a value hovering at a limit does not flap";
- a rate limit per day between consecutive readings;
- the model envelope with persistence: "one noisy reading does not page anyone": one exceedance
  raises nothing, ``persistence`` consecutive ones raise, and clearing also needs
  ``persistence`` consecutive readings inside;
- transitions raised -> escalated -> deescalated -> cleared, with an open alarm carried in.
"""

from __future__ import annotations

import numpy as np
import pytest

from shuian.alarms.levels import (
    US_PER_DAY,
    band_at,
    consecutive,
    envelope_levels,
    level_name,
    level_number,
    rate_levels,
    threshold_levels,
    transitions,
)
from shuian.site.analysis import Band, RateLimits, Season, Thresholds

HIGH = Thresholds(
    attention=Band(max=20.0), warning=Band(max=30.0), alarm=Band(max=40.0), hysteresis=2.0
)
BOTH_SIDES = Thresholds(
    attention=Band(min=-5.0, max=20.0),
    warning=Band(min=-10.0, max=30.0),
    alarm=Band(min=-20.0, max=40.0),
    hysteresis=2.0,
)


def levels_of(values: list[float], thresholds: Thresholds = HIGH, initial: int = 0) -> list[int]:
    return threshold_levels(
        np.array(values, dtype=np.float64), thresholds, initial_level=initial
    ).tolist()


def kinds(levels: list[int], open_level: int = 0) -> list[tuple[str, int, int]]:
    return [
        (t.kind, t.index, t.level)
        for t in transitions(np.array(levels, dtype=np.int8), open_level=open_level)
    ]


# --- names ----------------------------------------------------------------------------------


def test_level_names_and_numbers_go_both_ways() -> None:
    assert [level_name(n) for n in range(4)] == ["normal", "attention", "warning", "alarm"]
    assert [level_number(level_name(n)) for n in range(4)] == [0, 1, 2, 3]


# --- thresholds -----------------------------------------------------------------------------


def test_each_band_gives_its_level_on_the_high_side() -> None:
    assert levels_of([10, 21, 31, 41, 10]) == [0, 1, 2, 3, 0]


def test_min_bands_give_levels_on_the_low_side() -> None:
    assert levels_of([0, -6, -11, -21, 0], BOTH_SIDES) == [0, 1, 2, 3, 0]


def test_a_value_hovering_at_a_limit_does_not_flap() -> None:
    hovering = [29.5, 30.5, 29.5, 30.4, 29.9, 30.1, 28.5]
    levels = levels_of(hovering)
    assert levels == [1, 2, 2, 2, 2, 2, 2]
    assert [k for k, _, _ in kinds(levels)] == ["raised", "escalated"]


def test_a_level_is_left_only_when_back_inside_its_band_by_the_hysteresis() -> None:
    # warning is left below 30 - 2 = 28; attention below 20 - 2 = 18
    assert levels_of([31, 29, 28.5, 27.9, 19, 17.9]) == [2, 2, 2, 1, 1, 0]


def test_hysteresis_on_the_low_side_counts_upwards() -> None:
    # the warning band's min is -10: it is left above -10 + 2 = -8
    assert levels_of([-11, -9, -8.5, -7.9], BOTH_SIDES) == [2, 2, 2, 1]


def test_without_hysteresis_the_level_follows_the_value() -> None:
    plain = Thresholds(warning=Band(max=30.0))
    assert levels_of([29.5, 30.5, 29.5, 30.5], plain) == [0, 2, 0, 2]


def test_an_open_alarm_carried_in_stays_while_inside_its_hysteresis() -> None:
    assert levels_of([29, 28.5, 27], initial=2) == [2, 2, 1]
    assert levels_of([29, 28.5, 27], initial=0) == [1, 1, 1]


def test_a_missing_value_keeps_the_level() -> None:
    assert levels_of([31, float("nan"), 31, 10]) == [2, 2, 2, 0]


def test_a_channel_with_no_bands_is_always_normal() -> None:
    assert levels_of([1e9, -1e9], Thresholds()) == [0, 0]


# --- rate -------------------------------------------------------------------------------------


def test_rate_levels_are_per_day_between_consecutive_readings() -> None:
    rate = RateLimits(attention=1.0, warning=5.0, alarm=10.0)
    day = US_PER_DAY
    times = np.array([0, day, 2 * day, 3 * day, 4 * day], dtype=np.int64)
    values = np.array([0.0, 2.0, 8.0, 20.0, 20.5])
    assert rate_levels(times, values, rate).tolist() == [0, 1, 2, 3, 0]


def test_rate_is_scaled_to_a_day_for_hourly_readings() -> None:
    rate = RateLimits(warning=5.0)
    hour = US_PER_DAY // 24
    times = np.arange(3, dtype=np.int64) * hour
    # 0.25 per hour is 6 per day (above 5); 0.2 per hour is 4.8 per day
    assert rate_levels(times, np.array([0.0, 0.25, 0.45]), rate).tolist() == [0, 2, 0]


def test_rate_of_the_first_reading_uses_the_reading_before_it_when_known() -> None:
    rate = RateLimits(warning=5.0)
    times = np.array([US_PER_DAY], dtype=np.int64)
    values = np.array([7.0])
    assert rate_levels(times, values, rate).tolist() == [0]
    assert rate_levels(times, values, rate, previous=(0, 0.0)).tolist() == [2]


def test_rate_of_a_missing_value_is_normal() -> None:
    rate = RateLimits(warning=5.0)
    times = np.arange(3, dtype=np.int64) * US_PER_DAY
    assert rate_levels(times, np.array([0.0, np.nan, 100.0]), rate).tolist() == [0, 0, 0]


# --- envelope with persistence -----------------------------------------------------------------


def envelope(residuals: list[float], persistence: int = 3, initial: int = 0) -> list[int]:
    return envelope_levels(
        np.array(residuals, dtype=np.float64), 1.0, warning_sigma=2.0, alarm_sigma=3.0,
        persistence=persistence, initial_level=initial,
    ).tolist()


def test_one_noisy_reading_does_not_page_anyone() -> None:
    assert envelope([0, 0, 5.0, 0, 0, 0]) == [0] * 6


def test_persistence_consecutive_exceedances_raise() -> None:
    assert envelope([0, 2.5, 2.5, 2.5, 2.5]) == [0, 0, 0, 2, 2]
    assert envelope([0, 3.5, 3.5, 3.5]) == [0, 0, 0, 3]


def test_interrupted_exceedances_do_not_raise() -> None:
    assert envelope([2.5, 2.5, 0, 2.5, 2.5, 0]) == [0] * 6


def test_negative_residuals_count_as_much_as_positive_ones() -> None:
    assert envelope([-2.5, -2.5, -2.5]) == [0, 0, 2]


def test_clearing_also_needs_persistence() -> None:
    residuals = [2.5, 2.5, 2.5, 0, 0, 2.5, 0, 0, 0, 0]
    assert envelope(residuals) == [0, 0, 2, 2, 2, 2, 2, 2, 0, 0]


def test_an_open_envelope_alarm_carried_in_needs_persistence_to_clear() -> None:
    assert envelope([0, 0, 0, 0], initial=2) == [2, 2, 0, 0]
    assert envelope([3.5, 0, 0, 0], initial=3) == [3, 3, 3, 0]


def test_envelope_escalates_and_deescalates_with_persistence() -> None:
    residuals = [2.5, 2.5, 2.5, 3.5, 3.5, 3.5, 2.5, 2.5, 2.5, 0, 0, 0]
    assert envelope(residuals) == [0, 0, 2, 2, 2, 3, 3, 3, 2, 2, 2, 0]


def test_flagged_readings_nan_count_as_inside() -> None:
    assert envelope([2.5, np.nan, 2.5, 2.5]) == [0, 0, 0, 0]


def test_persistence_one_pages_at_the_first_exceedance() -> None:
    assert envelope([0, 2.5, 0], persistence=1) == [0, 2, 0]


# --- transitions --------------------------------------------------------------------------------


def test_transitions_raised_escalated_deescalated_cleared() -> None:
    assert kinds([0, 1, 1, 2, 3, 2, 0]) == [
        ("raised", 1, 1),
        ("escalated", 3, 2),
        ("escalated", 4, 3),
        ("deescalated", 5, 2),
        ("cleared", 6, 0),
    ]


def test_transitions_continue_an_open_alarm_carried_in() -> None:
    assert kinds([2, 2, 3], open_level=2) == [("escalated", 2, 3)]
    assert kinds([0], open_level=3) == [("cleared", 0, 0)]
    assert kinds([1], open_level=3) == [("deescalated", 0, 1)]


def test_a_steady_level_makes_no_events() -> None:
    assert kinds([2, 2, 2], open_level=2) == []
    assert kinds([0, 0, 0]) == []
    assert kinds([]) == []


def test_a_level_series_can_raise_again_after_clearing() -> None:
    assert [k for k, _, _ in kinds([2, 0, 2])] == ["raised", "cleared", "raised"]


# --- consecutive ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "runs"),
    [
        ([], []),
        ([False, False], [0, 0]),
        ([True, True, True], [1, 2, 3]),
        ([True, False, True, True, False, True], [1, 0, 1, 2, 0, 1]),
    ],
)
def test_consecutive_counts_the_run_of_true_ending_at_each_element(
    flags: list[bool], runs: list[int]
) -> None:
    assert consecutive(np.array(flags, dtype=np.bool_)).tolist() == runs


# --- seasons: bands of their own for part of each year --------------------------------------

WINTER = Thresholds(
    warning=Band(max=10.0),
    seasons=(Season(start="11-01", end="02-28", warning=Band(max=5.0, label="winter limit")),),
)


def test_a_season_over_the_new_year_applies_its_band_on_its_days_only() -> None:
    days = np.array([1031, 1101, 115, 228, 301], dtype=np.int64)
    values = np.full(5, 7.0)
    assert threshold_levels(values, WINTER, month_day=days).tolist() == [0, 2, 2, 2, 0]
    assert threshold_levels(values, WINTER).tolist() == [0, 0, 0, 0, 0]  # no days: own bands


def test_the_band_of_a_level_on_a_day_is_the_season_s_where_one_holds() -> None:
    assert band_at(WINTER, 2, 1215) == Band(max=5.0, label="winter limit")
    assert band_at(WINTER, 2, 715) == Band(max=10.0)
    assert band_at(WINTER, 0, 715) is None
    assert band_at(WINTER, 3, 1215) is None


def test_a_season_names_a_day_that_does_not_exist() -> None:
    with pytest.raises(ValueError, match="'02-30' is not a day of the year"):
        Season(start="02-30", end="03-01")
