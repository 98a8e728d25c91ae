"""Camera health: no signal, frozen, covered, turned away, out of focus, too dark.

Each frame is looked at small (160 px wide, grey): its mean brightness (too dark), its spread
(a lens cap or a hand: flat), the variance of its Laplacian (out of focus), whether its pixels
are exactly those of the frame before (a hung encoder repeats its picture; a live sensor's
noise never does), and how well its structure matches the camera's reference scene (turned
away, or covered by something with texture): the correlation of the two pictures' gradients
after each is normalised, which day and night lighting changes little. The reference is the
first good frame, followed slowly while frames stay good. A fault seen ``bad_frames`` times in a
row turns the no-video finding on; a good frame turns it off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from shuian.vision.findings import Finding
from shuian.vision.frames import Frame, grey

__all__ = ["HealthAnalyser", "HealthLike", "Look", "look", "no_signal"]

#: The width (px) frames are looked at.
SMALL_WIDTH = 160
#: How fast the reference follows good frames (share of the new frame).
FOLLOW = 0.05


class HealthLike(Protocol):
    """The health thresholds (:class:`shuian.site.cameras.Health`)."""

    @property
    def dark_below(self) -> float:
        """Dark below."""
    @property
    def flat_below(self) -> float:
        """Flat below."""
    @property
    def blur_below(self) -> float:
        """Blur below."""
    @property
    def frozen_after_s(self) -> float:
        """Frozen after s."""
    @property
    def mismatch_below(self) -> float:
        """Mismatch below."""
    @property
    def bad_frames(self) -> int:
        """Bad frames."""


@dataclass(frozen=True)
class Look:
    """What the health check measures of one frame (grey levels; sharpness; match 0..1)."""

    brightness: float
    spread: float
    sharpness: float
    structure: NDArray[np.float64]


def look(image: NDArray[np.uint8]) -> Look:
    """Measure a frame (BGR or grey) for the health check."""
    import cv2

    small = grey(image)
    height, width = small.shape
    small = np.asarray(cv2.resize(small, (SMALL_WIDTH, max(1, round(height * SMALL_WIDTH / width))),
                       interpolation=cv2.INTER_AREA), dtype=np.uint8)
    values = small.astype(np.float64)
    sharpness = float(cv2.Laplacian(small, cv2.CV_64F).var())
    blurred = cv2.GaussianBlur(values, (0, 0), 2.0)
    gx, gy = cv2.Sobel(blurred, cv2.CV_64F, 1, 0), cv2.Sobel(blurred, cv2.CV_64F, 0, 1)
    magnitude = np.hypot(gx, gy)
    structure = magnitude - magnitude.mean()
    norm = float(np.linalg.norm(structure))
    return Look(float(values.mean()), float(values.std()), sharpness,
                structure / norm if norm > 0 else structure)


def match(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    """The correlation (-1..1) of two normalised structures of the same size."""
    if a.shape != b.shape:
        return 0.0
    return float(np.sum(a * b))


def no_signal(last_frame_us: int | None, now_us: int, after_s: float) -> Finding:
    """The no-video finding of a camera that sent no frame for ``after_s`` seconds."""
    silent_s = None if last_frame_us is None else (now_us - last_frame_us) / 1e6
    present = silent_s is None or silent_s >= after_s
    seconds = round(silent_s) if silent_s is not None else None
    return Finding("no_video", present, reason="no signal" if seconds is None
                   else f"no signal for {seconds} s", reason_key="camera.no_signal",
                   params={"seconds": seconds if seconds is not None else "?"})


@dataclass
class HealthAnalyser:
    """The no-video finding of each frame (kind ``no_video``); see the module docstring."""

    health: HealthLike
    kind: str = "no_video"
    reference: NDArray[np.float64] | None = None
    _previous: NDArray[np.uint8] | None = None
    _same_since_us: int | None = None
    _bad_run: int = 0
    _on: bool = False
    _last_reason: tuple[str, str] = ("", "")

    def step(self, frame: Frame) -> Finding:
        """The health of this frame: present when a fault lasted ``bad_frames`` frames."""
        seen = look(frame.image)
        previous, self._previous = self._previous, frame.image
        same = previous is not None and previous.shape == frame.image.shape and \
            np.array_equal(previous, frame.image)
        if same:
            self._same_since_us = self._same_since_us or frame.time_us
        else:
            self._same_since_us = None
        fault = self._fault(seen, frame.time_us)
        if fault is None:
            self._bad_run = 0
            self._on = False
            self.reference = seen.structure if self.reference is None or \
                self.reference.shape != seen.structure.shape else \
                (1 - FOLLOW) * self.reference + FOLLOW * seen.structure
        else:
            self._bad_run += 1
            self._last_reason = fault
            if self._bad_run >= self.health.bad_frames:
                self._on = True
        reason, key = self._last_reason if self._on else ("", "")
        return Finding(self.kind, self._on, value=seen.brightness,
                       confidence=1.0 if self._on else 0.0, reason=reason,
                       reason_key=key or None, params={"brightness": round(seen.brightness),
                                                       "sharpness": round(seen.sharpness, 1)})

    def _fault(self, seen: Look, time_us: int) -> tuple[str, str] | None:
        """What is wrong with the frame (an English reason and its key), or None."""
        health = self.health
        if self._same_since_us is not None and \
                time_us - self._same_since_us >= health.frozen_after_s * 1e6:
            return "frozen image", "camera.frozen"
        if seen.brightness < health.dark_below:
            return "too dark", "camera.dark"
        if seen.spread < health.flat_below:
            return "covered (the picture is flat)", "camera.covered"
        if seen.sharpness < health.blur_below:
            return "out of focus", "camera.blurred"
        if self.reference is not None and match(seen.structure, self.reference) < \
                health.mismatch_below:
            return "turned away or covered (the scene does not match)", "camera.turned_away"
        return None
