"""Events in a region of the picture: spillway flow (the region moves) and floating debris.

Spillway flow: the share of the region's pixels that changed since the frame before (grey,
small, a change over 25 grey levels), which white water running down a chute keeps high and a
dry chute (rain, light) keeps low. Debris: the share of the region whose colour is far from the
water's own (the region's median colour, in Lab), logs, branches and plastic being darker or
lighter than water. Each is on after ``dwell_s`` of at least ``min_fraction`` and off after
``clear_after_s`` below it.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from shuian.vision.findings import Debounce, Finding
from shuian.vision.frames import Frame, grey
from shuian.vision.intrusion import ZoneLike

__all__ = ["DebrisAnalyser", "RegionWatchLike", "SpillwayFlowAnalyser"]

#: A pixel changed by more than this (grey levels) moved.
MOTION_LEVELS = 25
#: A pixel further than this from the water's colour (Lab distance) is something else.
DEBRIS_DISTANCE = 28.0


class RegionWatchLike(Protocol):
    """A region, the least share and the dwell and clear times (s)."""

    @property
    def region(self) -> ZoneLike:
        """The region watched."""

    @property
    def min_fraction(self) -> float:
        """The least share of the region."""

    @property
    def dwell_s(self) -> float:
        """Seconds before the event is on."""

    @property
    def clear_after_s(self) -> float:
        """Seconds below before it is off."""


class _RegionAnalyser:
    kind = ""
    key = ""

    def __init__(self, watch: RegionWatchLike) -> None:
        self.watch = watch
        self.polygon = np.asarray(watch.region.polygon, dtype=np.float32)
        self.debounce = Debounce(watch.dwell_s, watch.clear_after_s)
        self._mask: NDArray[np.bool_] | None = None

    def mask(self, shape: tuple[int, ...]) -> NDArray[np.bool_]:
        """The region's pixels in a frame of ``shape``."""
        import cv2

        if self._mask is None or self._mask.shape != shape[:2]:
            canvas = np.zeros(shape[:2], np.uint8)
            cv2.fillPoly(canvas, [np.round(self.polygon).astype(np.int32)], 1)
            self._mask = canvas.astype(bool)
        return self._mask

    def share(self, image: NDArray[np.uint8]) -> float:
        """The share (0..1) of the region showing the event in this frame."""
        raise NotImplementedError

    def step(self, frame: Frame) -> Finding:
        """Whether the event is on as of this frame."""
        share = self.share(frame.image)
        on = self.debounce.update(share >= self.watch.min_fraction, frame.time_us)
        name = self.watch.region.name
        zone = tuple((float(x), float(y)) for x, y in self.polygon)
        return Finding(self.kind, on, value=round(share, 4), confidence=min(1.0, share * 10),
                       reason=f"{self.kind.replace('_', ' ')} in {name} ({share:.0%} of it)",
                       reason_key=self.key, params={"zone": name, "share": round(100 * share)},
                       zone=zone, zone_name=name)


class SpillwayFlowAnalyser(_RegionAnalyser):
    """Water running in the region (kind ``spillway_flow``)."""

    kind = "spillway_flow"
    key = "camera.spillway_flow"

    def __init__(self, watch: RegionWatchLike) -> None:
        super().__init__(watch)
        self._previous: NDArray[np.uint8] | None = None

    def share(self, image: NDArray[np.uint8]) -> float:
        """The share of the region that changed since the frame before."""
        import cv2

        now = np.asarray(cv2.GaussianBlur(grey(image), (5, 5), 0), dtype=np.uint8)
        previous, self._previous = self._previous, now
        if previous is None or previous.shape != now.shape:
            return 0.0
        moved = cv2.absdiff(now, previous) > MOTION_LEVELS
        mask = self.mask(now.shape)
        return float(moved[mask].mean()) if mask.any() else 0.0


class DebrisAnalyser(_RegionAnalyser):
    """Floating objects in the region (kind ``debris``)."""

    kind = "debris"
    key = "camera.debris"

    def share(self, image: NDArray[np.uint8]) -> float:
        """The share of the region far from the water's own colour."""
        import cv2

        mask = self.mask(image.shape)
        if not mask.any():
            return 0.0
        lab = cv2.cvtColor(cv2.GaussianBlur(image, (5, 5), 0), cv2.COLOR_BGR2LAB)
        pixels = lab[mask].astype(np.float64)
        water = np.median(pixels, axis=0)
        distance = np.linalg.norm(pixels - water, axis=1)
        return float((distance > DEBRIS_DISTANCE).mean())
