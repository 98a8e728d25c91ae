"""Intrusion: a person in a restricted zone for longer than a dwell time, day and night.

Motion first: each frame, small (320 px wide, grey, contrast-limited equalisation so that a
night frame shows its shapes), goes through a background subtractor (OpenCV's MOG2); what moves
becomes candidate boxes. Each box, padded and scaled so that a person in it is at least the
detector's 128 px tall, is confirmed by OpenCV 4's built-in HOG people detector (it needs no
downloaded weights). A confirmed person whose feet (the bottom centre of the box) are inside a
zone polygon is in the zone; someone in a zone for ``dwell_s`` turns the finding on, no one for
``clear_after_s`` turns it off. A bird, a swaying branch or rain moves but is no person.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from shuian.vision.findings import Debounce, Finding
from shuian.vision.frames import Frame, grey

__all__ = ["IntrusionAnalyser", "IntrusionLike", "find_people"]

#: The width (px) motion is looked for at.
MOTION_WIDTH = 320
#: The smallest moving blob (share of the small frame's area) worth a look.
MIN_BLOB = 0.0015
#: The least HOG decision weight of a person.
MIN_WEIGHT = 0.4
#: The most candidate boxes the detector looks at per frame.
MAX_CANDIDATES = 6


class ZoneLike(Protocol):
    """A named polygon (px)."""

    @property
    def name(self) -> str:
        """The zone's name."""

    @property
    def polygon(self) -> Sequence[tuple[float, float]]:
        """Its corners (px)."""


class IntrusionLike(Protocol):
    """Restricted zones, the dwell and clear times (s) (:class:`shuian.site.cameras.Intrusion`)."""

    @property
    def zones(self) -> Sequence[ZoneLike]:
        """The restricted zones."""

    @property
    def dwell_s(self) -> float:
        """Seconds in a zone before the alarm."""

    @property
    def clear_after_s(self) -> float:
        """Seconds with no one before it clears."""


_HOG: Any = None


def _hog() -> Any:
    global _HOG  # noqa: PLW0603 - one detector per process, built on first use
    if _HOG is None:
        import cv2

        hog = cv2.HOGDescriptor()
        hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())  # type: ignore[attr-defined]
        _HOG = hog
    return _HOG


def find_people(image: NDArray[np.uint8], box: tuple[int, int, int, int] | None = None
                ) -> list[tuple[tuple[int, int, int, int], float]]:
    """People in ``image`` (or in ``box`` of it): their boxes (x, y, w, h px) and weights."""
    import cv2

    x0, y0 = 0, 0
    crop = image
    if box is not None:
        x0, y0, w, h = box
        crop = image[y0:y0 + h, x0:x0 + w]
    if crop.size == 0:
        return []
    # Stretched to the full grey range: a person at dusk or under a night lamp shows its
    # outline as in daylight.
    top = float(np.percentile(crop, 99))
    if 0 < top < 160:
        crop = np.asarray(cv2.convertScaleAbs(cv2.GaussianBlur(crop, (5, 5), 0),
                                              alpha=200.0 / top), dtype=np.uint8)
    scale = max(1.0, 136.0 / crop.shape[0], 72.0 / crop.shape[1])
    if scale > 1.0:
        crop = np.asarray(cv2.resize(crop, None, fx=scale, fy=scale,
                                     interpolation=cv2.INTER_LINEAR), dtype=np.uint8)
    rects, weights = _hog().detectMultiScale(crop, winStride=(8, 8), padding=(8, 8), scale=1.05)
    found = []
    for (x, y, w, h), weight in zip(rects, np.ravel(weights), strict=False):
        if weight >= MIN_WEIGHT:
            found.append(((int(x0 + x / scale), int(y0 + y / scale), int(w / scale),
                           int(h / scale)), float(weight)))
    return found


class IntrusionAnalyser:
    """People in restricted zones (kind ``intrusion``); see the module docstring."""

    kind = "intrusion"

    def __init__(self, intrusion: IntrusionLike) -> None:
        import cv2

        self.intrusion = intrusion
        self.zones = [(z.name, np.asarray(z.polygon, dtype=np.float32)) for z in intrusion.zones]
        self.debounce = Debounce(intrusion.dwell_s, intrusion.clear_after_s)
        self.background = cv2.createBackgroundSubtractorMOG2(history=30, varThreshold=25,
                                                             detectShadows=False)
        self.clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
        self.frames = 0
        self._last: Finding | None = None

    def _moving(self, image: NDArray[np.uint8]) -> list[tuple[int, int, int, int]]:
        """Boxes (px of the frame) around what moved since the frames before."""
        import cv2

        height, width = image.shape[:2]
        factor = MOTION_WIDTH / width
        small = cv2.resize(grey(image), (MOTION_WIDTH, max(1, round(height * factor))),
                           interpolation=cv2.INTER_AREA)
        small = self.clahe.apply(cv2.GaussianBlur(small, (5, 5), 0))
        mask = self.background.apply(small)
        self.frames += 1
        if self.frames < 2:
            return []
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        mask = cv2.dilate(mask, np.ones((7, 7), np.uint8))
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        least = MIN_BLOB * mask.size
        boxes = sorted((cv2.boundingRect(c) for c in contours if cv2.contourArea(c) >= least),
                       key=lambda b: -b[2] * b[3])[:MAX_CANDIDATES]
        found = []
        for x, y, w, h in boxes:
            # Padded to a person's shape (twice as tall as wide), in the frame's pixels.
            cx, cy = (x + w / 2) / factor, (y + h / 2) / factor
            tall = max(h / factor * 1.5, w / factor * 2.4, 64.0)
            wide = tall / 2
            left, top = int(max(cx - wide / 2, 0)), int(max(cy - tall / 2, 0))
            found.append((left, top, int(min(wide, width - left)), int(min(tall, height - top))))
        return found

    def step(self, frame: Frame) -> Finding:
        """Whether someone has been in a zone for the dwell time, as of this frame."""
        import cv2

        people = []
        for box in self._moving(frame.image):
            people += find_people(frame.image, box)
        inside: list[tuple[tuple[int, int, int, int], str, NDArray[np.float32]]] = []
        for (x, y, w, h), _ in people:
            feet = (float(x + w / 2), float(y + h))
            for name, polygon in self.zones:
                if cv2.pointPolygonTest(polygon, feet, False) >= 0:
                    inside.append(((x, y, w, h), name, polygon))
                    break
        on = self.debounce.update(bool(inside), frame.time_us)
        if inside:
            box, name, polygon = inside[0]
            since = self.debounce.since_us or frame.time_us
            seconds = round((frame.time_us - since) / 1e6)
            self._last = Finding(
                self.kind, on, value=float(len(inside)), confidence=1.0,
                reason=f"person in zone {name} for {seconds} s", reason_key="camera.intrusion",
                params={"zone": name, "seconds": seconds, "people": len(inside)},
                boxes=tuple(b for b, _, _ in inside),
                zone=tuple((float(px), float(py)) for px, py in polygon), zone_name=name)
            return self._last
        if on and self._last is not None:
            return self._last  # still on: the last sighting, until it clears
        return Finding(self.kind, on, value=0.0)
