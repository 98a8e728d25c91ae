"""The staff gauge (水尺): the waterline found in the gauge's region, turned into an elevation.

The board of a staff gauge is bright above the water and hidden below it. Across the region,
each image row's brightness is taken as a high percentile over the board's columns (a black
mark, a rain streak or a numeral does not move it); the board's level is the profile's top and
the water's its low percentile; the waterline is below the lowest row still brighter than half
way between them, placed to a fraction of a row by how much of each row near it is board. Rows
become elevations through the reference marks of the site file (:func:`elevation_of_row`).
Something hiding part of the board above the water (a branch, a pole, a bird) leaves the lowest
bright row where it was; the board's reflection on the water is dimmer than half way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, overload

import numpy as np
from numpy.typing import NDArray

from shuian.vision.findings import Finding
from shuian.vision.frames import Frame, grey

__all__ = ["GaugeAnalyser", "GaugeLike", "GaugeReading", "elevation_of_row", "read_gauge"]

#: Where between the water's level and the board's the waterline is taken (0..1).
CROSSING = 0.5
#: The least contrast (grey levels) between board and water for a reading.
MIN_CONTRAST = 25.0


class MarkLike(Protocol):
    """A reference mark: the image row (px) where an elevation (m) is."""

    @property
    def row(self) -> float:
        """Row."""
    @property
    def elevation(self) -> float:
        """Elevation."""


class GaugeLike(Protocol):
    """A gauge's region ``[x, y, width, height]`` (px), marks and least confidence (0..1)."""

    @property
    def region(self) -> tuple[float, float, float, float]:
        """Region."""
    @property
    def marks(self) -> Sequence[MarkLike]:
        """Marks."""
    @property
    def min_confidence(self) -> float:
        """Min confidence."""


@overload
def elevation_of_row(row: float, marks: Sequence[MarkLike]) -> float: ...
@overload
def elevation_of_row(row: NDArray[np.float64], marks: Sequence[MarkLike]) -> NDArray[np.float64]:
    ...
def elevation_of_row(row: float | NDArray[np.float64], marks: Sequence[MarkLike]
                     ) -> float | NDArray[np.float64]:
    """The elevation (m) at an image row (px): linear between marks, the end pairs extended."""
    ordered = sorted(marks, key=lambda m: m.row)
    rows = np.array([m.row for m in ordered], dtype=np.float64)
    levels = np.array([m.elevation for m in ordered], dtype=np.float64)
    at = np.asarray(row, dtype=np.float64)
    index = np.clip(np.searchsorted(rows, at) - 1, 0, len(rows) - 2)
    slope = (levels[index + 1] - levels[index]) / (rows[index + 1] - rows[index])
    found = levels[index] + slope * (at - rows[index])
    return float(found) if np.ndim(found) == 0 else found


@dataclass(frozen=True)
class GaugeReading:
    """The waterline's row (px, fractional), its elevation (m) and how sure the reading is."""

    row: float
    elevation: float
    confidence: float


def board_profile(image: NDArray[np.uint8], region: tuple[float, float, float, float]
                  ) -> NDArray[np.float64]:
    """Each row's brightness across the region (its 80th percentile, grey levels), top first.

    A high percentile: a row crossing a black mark is still mostly the white board, and a rain
    streak or a numeral is too thin to move it.
    """
    x, y, width, height = (int(round(v)) for v in region)
    board = grey(image)[max(y, 0):y + height, max(x, 0):x + width]
    return np.percentile(board, 80, axis=1).astype(np.float64)


def read_gauge(image: NDArray[np.uint8], gauge: GaugeLike) -> GaugeReading | None:
    """The water level on the gauge of ``image`` (BGR), or None when it cannot be read."""
    profile = board_profile(image, gauge.region)
    if len(profile) < 8:
        return None
    smooth = np.convolve(profile, np.ones(3) / 3, mode="same")
    smooth[0], smooth[-1] = profile[0], profile[-1]
    board, water = np.percentile(smooth, 99), np.percentile(smooth, 5)
    contrast = board - water
    if contrast < MIN_CONTRAST:
        return None
    threshold = water + CROSSING * contrast
    bright = np.flatnonzero(profile > threshold)
    if len(bright) == 0 or bright[-1] >= len(profile) - 1:
        return None  # all water, or the water below the region
    last = int(bright[-1])
    # Sub-pixel: the board's and the water's levels just above and below, and each row near
    # the crossing counted by how much of it is board (a row half covered counts a half).
    local_board = float(np.median(profile[max(last - 6, 0):max(last - 1, 1)]))
    local_water = float(np.median(profile[last + 2:last + 8])) if last + 2 < len(profile) \
        else water
    span = max(local_board - local_water, 1.0)
    first = max(last - 1, 0)
    share = np.clip((profile[first:last + 3] - local_water) / span, 0.0, 1.0)
    row = int(round(gauge.region[1])) + first + float(share.sum())
    # Sure when the board above is mostly bright and the water below mostly not.
    above_share = float(np.mean(profile[:last + 1] > threshold))
    below_share = float(np.mean(profile[last + 1:] <= threshold))
    confidence = float(np.clip(min(contrast / 80.0, 1.0) * above_share * below_share, 0, 1))
    return GaugeReading(row, elevation_of_row(row, gauge.marks), confidence)


class GaugeAnalyser:
    """The water level read off each frame (kind ``gauge_level``)."""

    kind = "gauge_level"

    def __init__(self, gauge: GaugeLike) -> None:
        self.gauge = gauge

    def step(self, frame: Frame) -> Finding:
        """The level (m) of this frame; not present when unreadable or unsure."""
        reading = read_gauge(frame.image, self.gauge)
        if reading is None:
            return Finding(self.kind, False, reason="the gauge cannot be read",
                           reason_key="camera.gauge_unreadable")
        sure = reading.confidence >= self.gauge.min_confidence
        return Finding(self.kind, sure, reading.elevation, reading.confidence,
                       reason=f"waterline at row {reading.row:.1f}, {reading.elevation:.3f} m")
