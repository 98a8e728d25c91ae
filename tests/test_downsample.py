"""Specification of chart downsampling: bounded output that never loses a peak."""

from __future__ import annotations

import time
from typing import get_args

import numpy as np
import pytest
from numpy.typing import NDArray

from shuian.errors import InvalidRequestError
from shuian.series.downsample import DownsampleMethod, downsample

METHODS: tuple[DownsampleMethod, ...] = get_args(DownsampleMethod)
HOUR_US = 3_600_000_000
START_US = 1_577_836_800_000_000  # 2020-01-01T00:00:00Z


def hourly(n: int) -> NDArray[np.int64]:
    return START_US + np.arange(n, dtype=np.int64) * HOUR_US


def reservoir_level(n: int, seed: int = 7) -> NDArray[np.float64]:
    """A yearly cycle with noise, in metres above datum."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / (24 * 365.25)
    return 450.0 + 5.0 * np.sin(2 * np.pi * t) + np.cumsum(rng.normal(0, 0.01, n))


def assert_valid(keep: NDArray[np.intp], n: int, max_points: int) -> None:
    assert keep.dtype == np.intp
    assert keep.ndim == 1
    assert len(keep) <= max_points
    assert np.all(np.diff(keep) > 0), "indices must be sorted and unique"
    assert keep.size == 0 or (keep[0] >= 0 and keep[-1] < n)


@pytest.mark.parametrize("method", METHODS)
def test_single_spikes_are_kept(method: DownsampleMethod) -> None:
    n = 20_000
    values = reservoir_level(n)
    values[12_345] = 480.0  # a flood peak lasting one reading
    values[3_210] = 400.0  # a sensor drop lasting one reading
    keep = downsample(hourly(n), values, 200, method=method)
    assert_valid(keep, n, 200)
    assert 12_345 in keep
    assert 3_210 in keep


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("seed", range(5))
def test_global_extremes_always_kept(method: DownsampleMethod, seed: int) -> None:
    n = 50_000
    values = np.random.default_rng(seed).normal(size=n).cumsum()
    keep = downsample(hourly(n), values, 500, method=method)
    assert_valid(keep, n, 500)
    assert values[keep].max() == values.max()
    assert values[keep].min() == values.min()


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("max_points", [3, 4, 5, 6, 7, 10, 101, 1000])
def test_count_bound_respected(method: DownsampleMethod, max_points: int) -> None:
    n = 10_000
    values = reservoir_level(n)
    keep = downsample(hourly(n), values, max_points, method=method)
    assert_valid(keep, n, max_points)
    assert len(keep) >= min(max_points, 2)
    assert values[keep].max() == values.max()
    assert values[keep].min() == values.min()


@pytest.mark.parametrize("method", METHODS)
def test_bound_respected_when_extremes_are_repeated(method: DownsampleMethod) -> None:
    # Quantised readings (a vibrating-wire gauge read to 0.1 kPa) hit their extremes many times.
    n = 30_000
    values = np.round(reservoir_level(n), 1)
    values[::997] = values.max()
    keep = downsample(hourly(n), values, 300, method=method)
    assert_valid(keep, n, 300)
    assert values[keep].max() == values.max()
    assert values[keep].min() == values.min()


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("n", [0, 1, 2, 3, 50, 100])
def test_small_series_untouched(method: DownsampleMethod, n: int) -> None:
    keep = downsample(hourly(n), reservoir_level(n), 100, method=method)
    assert keep.tolist() == list(range(n))
    assert keep.dtype == np.intp


@pytest.mark.parametrize("method", METHODS)
def test_nan_values_are_never_selected(method: DownsampleMethod) -> None:
    n = 20_000
    values = reservoir_level(n)
    values[1_000:6_000] = np.nan  # a logger outage
    values[::37] = np.nan  # scattered missing readings
    values[10_001] = 999.0
    values[0] = np.nan  # the first and last readings missing too
    values[-1] = np.nan
    keep = downsample(hourly(n), values, 400, method=method)
    assert_valid(keep, n, 400)
    assert not np.isnan(values[keep]).any()
    assert 10_001 in keep
    assert values[keep].min() == np.nanmin(values)


@pytest.mark.parametrize("method", METHODS)
def test_infinite_values_are_never_selected(method: DownsampleMethod) -> None:
    n = 5_000
    values = reservoir_level(n)
    values[[10, 20]] = [np.inf, -np.inf]
    keep = downsample(hourly(n), values, 100, method=method)
    assert np.isfinite(values[keep]).all()


def test_small_series_with_nan_drops_only_the_nan() -> None:
    values = np.array([1.0, np.nan, 3.0, np.nan, 5.0])
    assert downsample(hourly(5), values, 10).tolist() == [0, 2, 4]


@pytest.mark.parametrize("method", METHODS)
def test_all_nan_series_gives_no_points(method: DownsampleMethod) -> None:
    keep = downsample(hourly(5_000), np.full(5_000, np.nan), 100, method=method)
    assert keep.size == 0
    assert keep.dtype == np.intp


@pytest.mark.parametrize("method", METHODS)
def test_irregular_times_with_a_long_gap(method: DownsampleMethod) -> None:
    n = 20_000
    times = hourly(n)
    times[n // 2 :] += 365 * 24 * HOUR_US  # a year without data
    values = reservoir_level(n)
    keep = downsample(times, values, 500, method=method)
    assert_valid(keep, n, 500)
    assert values[keep].max() == values.max()


@pytest.mark.parametrize("method", METHODS)
def test_ten_years_hourly_to_2000_points(method: DownsampleMethod) -> None:
    n = 87_600
    times = hourly(n)
    values = reservoir_level(n)
    values[61_234] = values.max() + 3.0
    started = time.perf_counter()
    keep = downsample(times, values, 2_000, method=method)
    elapsed = time.perf_counter() - started
    assert_valid(keep, n, 2_000)
    assert len(keep) >= 1_900  # the budget is used, not wasted
    assert 61_234 in keep
    assert values[keep].min() == values.min()
    # The points span the whole period, with no bin of the chart left empty.
    assert keep[0] < n // 100 and keep[-1] > n - n // 100
    assert np.diff(times[keep]).max() < 200 * HOUR_US
    assert elapsed < 1.0  # typically a few milliseconds


@pytest.mark.parametrize("max_points", [-1, 0, 1, 2])
def test_max_points_below_three_is_refused(max_points: int) -> None:
    with pytest.raises(InvalidRequestError, match=r"max_points must be at least 3 \(got"):
        downsample(hourly(10), reservoir_level(10), max_points)


def test_unknown_method_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match="unknown downsampling method 'm4'"):
        downsample(hourly(10), reservoir_level(10), 5, method="m4")  # type: ignore[arg-type]


def test_mismatched_lengths_are_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="same length"):
        downsample(hourly(10), reservoir_level(9), 5)


def test_unsorted_times_are_a_caller_bug() -> None:
    times = hourly(10)[::-1].copy()
    with pytest.raises(ValueError, match="strictly increasing"):
        downsample(times, reservoir_level(10), 5)


def test_input_arrays_are_not_modified() -> None:
    n = 5_000
    times, values = hourly(n), reservoir_level(n)
    values[::50] = np.nan
    times_before, values_before = times.copy(), values.copy()
    downsample(times, values, 100)
    np.testing.assert_array_equal(times, times_before)
    np.testing.assert_array_equal(values, values_before)
