"""Flag suspicious readings of one channel: limits, spikes, rates, stuck sensors and gaps.

The checks take one channel's readings sorted by time and the channel's check settings
(:class:`CheckSettings`: what the site file's ``checks:`` key gives), and return
:class:`Flags`: which readings, what kind, since when and why, in words an engineer can read.
Nothing is deleted or changed; a flag is advice, and :func:`exclusion_mask` turns it into the
readings a model fit should leave out.

Rules (each check is documented on its private function below):

* ``limits``: the value is below the channel's physical minimum or above its maximum.
* ``spike``: Hampel identifier on a moving window of ``spike_window`` readings (Hampel 1974;
  Pearson 2002). Each reading is judged on the window of ``spike_window`` consecutive readings
  centred on it; near the ends of the series the window is shifted to stay inside it (the
  first and the last ``spike_window`` readings), so every verdict uses a full window. The
  newest reading is therefore judged at once on the readings before it (a spike in it is
  flagged immediately) and re-judged as readings arrive, until its window is centred; see
  :func:`spike_settled`.
  With ``jump_per_hour`` (the reservoir level's comes from what the reservoir can do), a
  reading farther from the last good reading than that rate allows (over at least an hour) is
  a spike too, whatever the window says: a level held for weeks has no spread to judge by.
* ``rate``: ``|Δvalue| / Δt`` between a reading and the one before it exceeds ``rate_per_hour``.
* ``stuck``: every ``stuck_readings`` consecutive readings lie within ``stuck_tolerance`` of each
  other (identical when the tolerance is 0). Only the readings from the ``stuck_readings``-th of
  the run onward are flagged: the verdict needs only past readings, never changes when readings
  are appended, and the flag carries the run's first time (``start_us``).
* ``gap``: the time since the reading before exceeds ``gap_factor × interval``. The flag sits on
  the reading that ends the gap and carries the time of the reading before it (``start_us``);
  the reading itself is fine, so gaps do not exclude readings from model fits.
* ``suspect``: set by an engineer by hand; never computed here.

Incremental use: :func:`check_tail` returns exactly the flags that :func:`check_series` would
give the readings from ``new_from_index`` on, computing the windows only where they are needed.

References
----------
Hampel, F. R. (1974). The influence curve and its role in robust estimation. *Journal of the
American Statistical Association* 69(346), 383-393.

Pearson, R. K. (2002). Outliers in process modeling and identification. *IEEE Transactions on
Control Systems Technology* 10(1), 55-63 (the Hampel identifier: ``|x - median| > t · 1.4826 ·
MAD`` on a moving window).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from shuian.i18n import Message
from shuian.times import iso_utc

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


class CheckSettings(Protocol):
    """What the checks read of a channel's settings (the site's ``Checks`` is one).

    ``None`` switches a check off where the attribute allows it.
    """

    @property
    def spike_window(self) -> int | None:
        """Readings in the Hampel window (at least 5); None: no spike check."""

    @property
    def spike_sigmas(self) -> float:
        """Robust sigmas (1.4826 MAD) beyond the window's median that make a spike."""

    @property
    def rate_per_hour(self) -> float | None:
        """Largest change between consecutive readings, channel unit per hour; None: no check."""

    @property
    def jump_per_hour(self) -> float | None:
        """Largest change from the last good reading, channel unit per hour; None: no check."""

    @property
    def stuck_readings(self) -> int | None:
        """Consecutive readings within ``stuck_tolerance`` that make a stuck sensor; None: off."""

    @property
    def stuck_tolerance(self) -> float:
        """Spread of a stuck run, channel unit (0: identical readings)."""

    @property
    def gap_factor(self) -> float:
        """A gap is a time since the reading before of more than this many intervals."""
StrArray = NDArray[np.str_]

#: 1 / Φ⁻¹(3/4): the MAD of normal data times this is its standard deviation (Pearson 2002).
MAD_TO_SIGMA = 1.4826
#: Default floor on a window's MAD, as a fraction of the MAD of all the readings passed: a
#: window that is almost flat (a quiet, noise-free or quantised channel) then does not turn
#: tiny wiggles into spikes.
MAD_FLOOR_FRACTION = 0.01
HOUR_US = 3_600_000_000
_CHUNK = 1 << 20  # elements of the window matrix per block: bounds memory for wide windows


class FlagKind(StrEnum):
    """What a flag says about a reading."""

    LIMITS = "limits"
    """Outside the channel's physical limits."""
    SPIKE = "spike"
    """Far from the moving median of its window (Hampel identifier)."""
    RATE = "rate"
    """Changed faster than ``rate_per_hour`` since the reading before."""
    STUCK = "stuck"
    """Part of a run of (nearly) identical readings: the sensor looks frozen."""
    GAP = "gap"
    """The reading ends a gap: no reading for longer than ``gap_factor × interval``."""
    SUSPECT = "suspect"
    """Marked by an engineer by hand (never computed by the checks)."""


_ORDER = {kind.value: rank for rank, kind in enumerate(FlagKind)}

#: Kinds whose readings a model fit leaves out: all but ``gap``, which flags a reading that is
#: itself fine (only the time before it is missing).
EXCLUDED_FROM_FITS: frozenset[FlagKind] = frozenset(FlagKind) - {FlagKind.GAP}


@dataclass(frozen=True)
class Flag:
    """One flag on one reading (a row of :class:`Flags`).

    Attributes
    ----------
    index : int
        Position of the reading in the series checked.
    time_us : int
        Time of the reading, µs since 1970 UTC.
    kind : FlagKind
        What is wrong.
    start_us : int
        Start of what is wrong, µs since 1970 UTC: the reading before the gap (``gap``), the
        reading before the change (``rate``), the first reading of the run (``stuck``); the
        reading's own time otherwise.
    detail : str
        Why, in words, with the numbers and the rule (English).
    message : Message or None
        The same sentence as a catalogue message, to show in the reader's language.
    """

    index: int
    time_us: int
    kind: FlagKind
    start_us: int
    detail: str
    message: Message | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Flags:
    """Flags on one channel's readings, as parallel arrays sorted by index, then kind.

    A reading may carry several flags (a spike is often also a ``rate`` and a ``limits``
    flag). Iterating gives :class:`Flag` rows.

    Attributes
    ----------
    index : NDArray[np.int64]
        Position of each flagged reading in the series checked.
    time_us : NDArray[np.int64]
        Time of each flagged reading, µs since 1970 UTC.
    kind : NDArray[np.str_]
        The :class:`FlagKind` value of each flag (``"spike"``, ...).
    start_us : NDArray[np.int64]
        Start of what is wrong, µs since 1970 UTC (see :class:`Flag`).
    detail : NDArray[np.str_]
        Why, in words (English).
    message : NDArray[np.object_]
        The same sentences as catalogue :class:`~shuian.i18n.Message` objects.
    """

    index: IntArray
    time_us: IntArray
    kind: StrArray
    start_us: IntArray
    detail: StrArray
    message: NDArray[np.object_] = field(default_factory=lambda: np.zeros(0, dtype=object))

    @classmethod
    def empty(cls) -> Flags:
        """No flags."""
        none = np.zeros(0, dtype=np.int64)
        return cls(none, none.copy(), np.zeros(0, dtype=np.str_), none.copy(), np.zeros(0, np.str_))

    def __len__(self) -> int:
        return int(self.index.size)

    def __iter__(self) -> Iterator[Flag]:
        for i in range(len(self)):
            yield Flag(
                index=int(self.index[i]),
                time_us=int(self.time_us[i]),
                kind=FlagKind(str(self.kind[i])),
                start_us=int(self.start_us[i]),
                detail=str(self.detail[i]),
                message=self.message[i] if i < self.message.size else None,
            )

    def select(self, mask: BoolArray) -> Flags:
        """The flags where ``mask`` (one boolean per flag) is true."""
        return Flags(
            self.index[mask],
            self.time_us[mask],
            self.kind[mask],
            self.start_us[mask],
            self.detail[mask],
            self.message[mask] if self.message.size == mask.size else self.message,
        )

    def of_kind(self, kind: FlagKind | str) -> Flags:
        """The flags of one kind."""
        return self.select(self.kind == FlagKind(kind).value)


def check_series(
    times_us: IntArray,
    values: FloatArray,
    *,
    checks: CheckSettings,
    interval_s: float | None,
    limit_min: float | None,
    limit_max: float | None,
    unit: str = "",
    mad_floor: float | None = None,
) -> Flags:
    """Flag the suspicious readings of one channel's series.

    Parameters
    ----------
    times_us : NDArray[np.int64]
        Reading times, µs since 1970 UTC, strictly increasing.
    values : NDArray[np.float64]
        Engineering values in the channel's unit, finite, one per time.
    checks : CheckSettings
        The channel's check settings (the site file's ``checks:``, see :class:`CheckSettings`).
    interval_s : float or None
        Expected interval between readings, s; None skips the gap check.
    limit_min, limit_max : float or None
        Physical limits of the value, channel unit; None skips that side.
    unit : str, default ""
        The channel's unit, for the flag texts only.
    mad_floor : float or None, default None
        Smallest window MAD the spike check uses, channel unit (e.g. the sensor's resolution);
        None: ``MAD_FLOOR_FRACTION`` (1 %) of the MAD of all of ``values``.

    Returns
    -------
    Flags
        Every flag, sorted by reading, then kind (in :class:`FlagKind` order).

    Raises
    ------
    ValueError
        The arrays differ in length or are not one-dimensional, the times are not strictly
        increasing, or a value is not finite.

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> checks = SimpleNamespace(spike_window=25, spike_sigmas=6.0, rate_per_hour=None,
    ...                          jump_per_hour=None, stuck_readings=48, stuck_tolerance=0.0,
    ...                          gap_factor=3.0)
    >>> t = np.arange(100, dtype=np.int64) * 3_600_000_000
    >>> v = np.sin(np.arange(100) / 10.0)
    >>> v[50] += 5.0
    >>> flags = check_series(t, v, checks=checks, interval_s=3600.0, limit_min=None,
    ...                      limit_max=None)
    >>> [(f.index, f.kind.value) for f in flags]
    [(50, 'spike')]
    """
    return check_tail(
        times_us,
        values,
        0,
        checks=checks,
        interval_s=interval_s,
        limit_min=limit_min,
        limit_max=limit_max,
        unit=unit,
        mad_floor=mad_floor,
    )


def check_tail(
    times_us: IntArray,
    values: FloatArray,
    new_from_index: int,
    *,
    checks: CheckSettings,
    interval_s: float | None,
    limit_min: float | None,
    limit_max: float | None,
    unit: str = "",
    mad_floor: float | None = None,
) -> Flags:
    """Flag the new readings of a series, judged with the readings before them as context.

    Gives exactly the flags :func:`check_series` gives for the readings at index
    ``>= new_from_index`` of the same arrays, but computes the spike windows only for them.
    Pass at least ``spike_window`` readings of context before ``new_from_index`` (more for a
    stuck run that began earlier: its first time is taken from the readings passed).

    The newest readings are judged at once: a spike in the last reading is flagged by this
    call, on the window of the ``spike_window`` readings that end with it. Until a reading's
    window is centred (``spike_window - 1 - spike_window // 2`` readings after it), a later call
    may judge it again and change its spike verdict (a step that persists stops being a
    spike): re-check from ``spike_settled(n_before, checks)`` to refresh those verdicts, where
    ``n_before`` is the number of readings at the previous check. The other checks never change
    a verdict once made.

    Parameters
    ----------
    times_us, values
        The series with its context, as for :func:`check_series`.
    new_from_index : int
        Index of the first reading to report flags for, ``0 <= new_from_index <= len(values)``.
    checks, interval_s, limit_min, limit_max, unit, mad_floor
        As for :func:`check_series`. The default MAD floor is taken from all of ``values``, so
        pass the same context (or a fixed ``mad_floor``) to get the same verdicts.

    Returns
    -------
    Flags
        The flags of the readings at index ``>= new_from_index``; ``index`` counts from the
        start of ``values``.

    Raises
    ------
    ValueError
        As :func:`check_series`; also when ``new_from_index`` is out of range.
    """
    times, x = _validated(times_us, values)
    n = x.size
    if not 0 <= new_from_index <= n:
        raise ValueError(f"new_from_index {new_from_index} is outside 0..{n} (readings passed)")
    if new_from_index == n:
        return Flags.empty()
    floor = _default_floor(x) if mad_floor is None else float(mad_floor)
    if floor < 0:
        raise ValueError(f"mad_floor must not be negative, not {mad_floor}")
    start = new_from_index
    parts = [
        _limits(times, x, start, limit_min, limit_max, unit),
        _rate(times, x, start, checks.rate_per_hour, unit),
        _gap(times, start, interval_s, checks.gap_factor),
    ]
    if checks.spike_window is not None:
        parts.append(
            _spike(times, x, start, checks.spike_window, checks.spike_sigmas, floor, unit)
        )
    if checks.stuck_readings is not None:
        parts.append(
            _stuck(times, x, start, checks.stuck_readings, checks.stuck_tolerance, unit)
        )
    if checks.jump_per_hour is not None:
        parts.append(_jump(times, x, start, checks.jump_per_hour, unit, parts))
    return _assemble(times, parts)


def spike_settled(size: int, checks: CheckSettings) -> int:
    """How many leading readings of a series have a settled spike verdict.

    A reading's spike window is final once ``spike_window - 1 - spike_window // 2`` readings
    follow it (its window is then centred, or shifted to the start of the series); readings
    after that are judged on the latest window and re-judged as readings arrive. (The default
    MAD floor also follows the readings passed; a fixed ``mad_floor`` removes that.)

    Parameters
    ----------
    size : int
        Number of readings in the series.
    checks : CheckSettings
        The channel's check settings (only ``spike_window`` is read).

    Returns
    -------
    int
        Readings ``0 .. result - 1`` are settled; 0 while the series is shorter than the window.
    """
    window = checks.spike_window
    if window is None:
        return size
    if size < window:
        return 0
    return size - (window - 1 - window // 2)


def exclusion_mask(
    flags: Flags, size: int, kinds: Collection[FlagKind | str] = EXCLUDED_FROM_FITS
) -> BoolArray:
    """Readings a model fit should leave out: those with a flag of one of ``kinds``.

    Parameters
    ----------
    flags : Flags
        Flags of the series (computed ones, and ``suspect`` flags set by hand).
    size : int
        Number of readings in the series.
    kinds : collection of FlagKind, default EXCLUDED_FROM_FITS
        Kinds that exclude a reading; by default every kind but ``gap`` (a gap flag sits on a
        reading that is itself fine).

    Returns
    -------
    NDArray[np.bool_]
        One boolean per reading, true to leave it out.
    """
    wanted = np.array([FlagKind(k).value for k in kinds], dtype=np.str_)
    mask = np.zeros(size, dtype=np.bool_)
    mask[flags.index[np.isin(flags.kind, wanted)]] = True
    return mask


# --- the checks: each returns (kind, index, start_us, detail) for readings >= start ---------

_Part = tuple[FlagKind, IntArray, IntArray, list[Message]]


def _limits(
    times: IntArray,
    x: FloatArray,
    start: int,
    low: float | None,
    high: float | None,
    unit: str,
) -> _Part:
    """Values below ``low`` or above ``high`` (channel unit)."""
    tail = x[start:]
    below = np.zeros(tail.size, dtype=np.bool_) if low is None else tail < low
    above = np.zeros(tail.size, dtype=np.bool_) if high is None else tail > high
    index = np.flatnonzero(below | above).astype(np.int64) + start
    details = [
        Message.of("flag.limits.below", value=_q(x[i], unit), limit=_q(low, unit))
        if below[i - start]
        else Message.of("flag.limits.above", value=_q(x[i], unit), limit=_q(high, unit))
        for i in index
    ]
    return FlagKind.LIMITS, index, times[index], details


def _spike(
    times: IntArray,
    x: FloatArray,
    start: int,
    window: int,
    sigmas: float,
    floor: float,
    unit: str,
) -> _Part:
    """Hampel identifier: ``|x - median| > sigmas · 1.4826 · max(MAD, floor)`` on a window.

    The window of reading ``i`` holds ``w = min(window, n)`` consecutive readings starting at
    ``clip(i - w // 2, 0, n - w)``: centred where the series allows, shifted inside it at the
    ends. Median and MAD (median absolute deviation from the window's median) are exact, one
    vectorised ``np.median`` per block of windows.
    """
    n = x.size
    w = min(window, n)
    if w < 3:
        return FlagKind.SPIKE, *_no_flags()
    half = w // 2
    rows = np.clip(np.arange(start, n) - half, 0, n - w)
    first_row = int(rows[0])
    median, mad = _window_median_mad(sliding_window_view(x[first_row:], w))
    med = median[rows - first_row]
    sigma = MAD_TO_SIGMA * np.maximum(mad[rows - first_row], floor)
    deviation = np.abs(x[start:] - med)
    hit = deviation > sigmas * sigma
    index = np.flatnonzero(hit).astype(np.int64) + start
    settled = n - (w - 1 - half) if n >= window else 0
    details = []
    for i, m, s, d in zip(index, med[hit], sigma[hit], deviation[hit], strict=True):
        how_far = (
            Message.of("flag.spike.sigmas", ratio=float(d / s), sigma=_q(s, unit))
            if s > 0 else Message.of("flag.spike.off")
        )
        text = Message.of("flag.spike", value=_q(x[i], unit), how_far=how_far,
                          median=_q(m, unit), window=w, sigmas=sigmas)
        if i >= settled:
            text = Message.of("flag.provisional", detail=text)
        details.append(text)
    return FlagKind.SPIKE, index, times[index], details


def _window_median_mad(windows: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Median and MAD of each row of a (rows, w) window matrix, in blocks to bound memory."""
    rows, w = windows.shape
    median = np.empty(rows, dtype=np.float64)
    mad = np.empty(rows, dtype=np.float64)
    step = max(1, _CHUNK // w)
    for a in range(0, rows, step):
        block = windows[a : a + step]
        m = np.median(block, axis=1)
        median[a : a + step] = m
        mad[a : a + step] = np.median(np.abs(block - m[:, None]), axis=1)
    return median, mad


def _rate(times: IntArray, x: FloatArray, start: int, limit: float | None, unit: str) -> _Part:
    """``|x[i] - x[i-1]| / (t[i] - t[i-1])`` above ``limit`` (unit per hour)."""
    if limit is None or x.size < 2:
        return FlagKind.RATE, *_no_flags()
    i = np.arange(max(start, 1), x.size, dtype=np.int64)
    change = x[i] - x[i - 1]
    hours = (times[i] - times[i - 1]) / HOUR_US
    rate = np.abs(change) / hours
    hit = rate > limit
    index = i[hit]
    details = [
        Message.of("flag.rate", change=_q(c, unit, sign=True), duration=_duration(h * 3600.0),
                   rate=_q(r, unit), limit=_q(limit, unit))
        for c, h, r in zip(change[hit], hours[hit], rate[hit], strict=True)
    ]
    return FlagKind.RATE, index, times[index - 1], details


def _jump(
    times: IntArray, x: FloatArray, start: int, limit: float, unit: str, parts: list[_Part]
) -> _Part:
    """Readings farther from the last good reading than ``limit`` (unit/h) allows: spikes.

    A reading is a candidate when it differs from the one before it by more than
    ``limit × max(Δt, 1 h)``; a candidate is a spike when it differs that much from the last
    reading before it that is not a spike too (so the reading that comes back from a spike is
    not one). Candidates are rare: only they are looked at one by one. Readings that the
    Hampel check already calls spikes are not flagged twice.
    """
    if x.size < 2:
        return FlagKind.SPIKE, *_no_flags()
    hours = np.maximum(np.diff(times) / HOUR_US, 1.0)
    candidates = np.flatnonzero(np.abs(np.diff(x)) > limit * hours) + 1
    hampel = {int(i) for kind, index, _, _ in parts if kind is FlagKind.SPIKE for i in index}
    spikes: set[int] = set()
    details: list[Message] = []
    for i in candidates.tolist():
        good = i - 1
        while good > 0 and good in spikes:  # only as far back as a run of spikes goes
            good -= 1
        gap = max((times[i] - times[good]) / HOUR_US, 1.0)
        change = x[i] - x[good]
        if abs(change) > limit * gap:
            spikes.add(i)
            if i >= start and i not in hampel:
                details.append(Message.of(
                    "flag.jump", change=_q(change, unit, sign=True), value=_q(x[good], unit),
                    duration=_duration(gap * 3600.0), limit=_q(limit, unit),
                ))
    index = np.array(sorted(i for i in spikes if i >= start and i not in hampel), dtype=np.int64)
    return FlagKind.SPIKE, index, times[index], details


def _stuck(
    times: IntArray, x: FloatArray, start: int, length: int, tolerance: float, unit: str
) -> _Part:
    """Readings that end ``length`` consecutive readings within ``tolerance`` of each other.

    A window is flat when its largest and smallest value differ by at most ``tolerance``
    (pandas rolling max and min; exact equality when the tolerance is 0). Consecutive flat
    windows make one run, found by run-length encoding of the flat windows' end indices; its
    first reading is the first reading of its first window.
    """
    n = x.size
    if n < length:
        return FlagKind.STUCK, *_no_flags()
    series = pd.Series(x)
    spread = (series.rolling(length).max() - series.rolling(length).min()).to_numpy()
    ends = np.flatnonzero(spread <= tolerance).astype(np.int64)  # NaN (too early) is False
    if ends.size == 0:
        return FlagKind.STUCK, *_no_flags()
    new_run = np.diff(ends, prepend=np.int64(-2)) != 1
    run = np.cumsum(new_run) - 1
    first = ends[new_run] - (length - 1)
    last = ends[np.append(new_run[1:], True)]
    keep = ends >= start
    index = ends[keep]
    run = run[keep]
    used = np.unique(run)
    texts: dict[int, Message] = {}
    stamps = iso_utc(times_us=np.concatenate([times[first[used]], times[last[used]]]))
    for k, r in enumerate(used):
        a, b = int(first[r]), int(last[r])
        lo, hi = float(np.min(x[a : b + 1])), float(np.max(x[a : b + 1]))
        count = b - a + 1
        if lo == hi:
            what = Message.of("flag.stuck.same", count=count, value=_q(lo, unit))
        else:
            what = Message.of("flag.stuck.range", count=count, low=_q(lo, unit),
                              high=_q(hi, unit), length=length, tolerance=_q(tolerance, unit))
        texts[int(r)] = Message.of(
            "flag.stuck.latest" if b == n - 1 else "flag.stuck", what=what,
            start=str(stamps[k]), end=str(stamps[k + used.size]), ordinal=_ordinal(length),
        )
    details = [texts[int(r)] for r in run]
    return FlagKind.STUCK, index, times[first[run]], details


def _gap(times: IntArray, start: int, interval_s: float | None, factor: float) -> _Part:
    """Readings more than ``factor × interval_s`` after the reading before them."""
    if interval_s is None or times.size < 2:
        return FlagKind.GAP, *_no_flags()
    i = np.arange(max(start, 1), times.size, dtype=np.int64)
    step_us = times[i] - times[i - 1]
    hit = step_us > factor * interval_s * 1e6
    index = i[hit]
    stamps = iso_utc(times_us=np.concatenate([times[index - 1], times[index]]))
    m = index.size
    details = [
        Message.of("flag.gap", duration=_duration(float(s) / 1e6), interval=_duration(interval_s),
                   factor=factor, start=str(stamps[k]), end=str(stamps[m + k]))
        for k, s in enumerate(step_us[hit])
    ]
    return FlagKind.GAP, index, times[index - 1], details


# --- helpers -------------------------------------------------------------------------------


def _validated(times_us: IntArray, values: FloatArray) -> tuple[IntArray, FloatArray]:
    times = np.asarray(times_us, dtype=np.int64)
    x = np.asarray(values, dtype=np.float64)
    if times.ndim != 1 or x.ndim != 1 or times.size != x.size:
        raise ValueError(
            f"times_us and values must be one-dimensional and of one length, not shapes "
            f"{times.shape} and {x.shape}"
        )
    steps = np.diff(times)
    if np.any(steps <= 0):
        k = int(np.flatnonzero(steps <= 0)[0]) + 1
        raise ValueError(
            f"times_us must be strictly increasing: reading {k} is at {int(times[k])}, "
            f"not after {int(times[k - 1])}; sort the readings and drop duplicates"
        )
    bad = ~np.isfinite(x)
    if np.any(bad):
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(f"values must be finite: reading {k} is {x[k]}")
    return times, x


def _default_floor(x: FloatArray) -> float:
    if x.size == 0:
        return 0.0
    return MAD_FLOOR_FRACTION * float(np.median(np.abs(x - np.median(x))))


def _no_flags() -> tuple[IntArray, IntArray, list[Message]]:
    none = np.zeros(0, dtype=np.int64)
    return none, none.copy(), []


def _assemble(times: IntArray, parts: list[_Part]) -> Flags:
    index = np.concatenate([p[1] for p in parts]).astype(np.int64)
    if index.size == 0:
        return Flags.empty()
    kinds = np.concatenate([np.full(p[1].size, p[0].value, dtype="<U7") for p in parts])
    rank = np.concatenate([np.full(p[1].size, _ORDER[p[0].value]) for p in parts])
    start_us = np.concatenate([p[2] for p in parts]).astype(np.int64)
    message = np.empty(index.size, dtype=object)
    message[:] = [d for p in parts for d in p[3]]
    detail = np.array([str(d) for d in message], dtype=np.str_)
    order = np.lexsort((rank, index))
    return Flags(index[order], times[index[order]], kinds[order], start_us[order], detail[order],
                 message[order])


def _q(value: float | np.floating | None, unit: str, *, sign: bool = False) -> str:
    """A number with 6 significant digits and its unit: ``1352.47 m``."""
    text = "none" if value is None else f"{float(value):{'+' if sign else ''}.6g}"
    return f"{text} {unit}" if unit else text


def _duration(seconds: float) -> Message:
    """A duration in the unit that reads best: ``5.04 days``, ``3 h``, ``10 min``, ``30 s``."""
    for size, name in ((86400.0, "days"), (3600.0, "h"), (60.0, "min")):
        if seconds >= 2 * size or (name == "h" and seconds >= size):
            return Message.of(f"duration.{name}", n=seconds / size)
    return Message.of("duration.s", n=seconds)


def _ordinal(k: int) -> Message:
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return Message.of(f"ordinal.{suffix}", k=k)
