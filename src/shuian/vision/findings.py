"""What an analyser answers for each frame: a :class:`Finding`, and the :class:`Analyser` shape."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from shuian.vision.frames import Frame

__all__ = ["Analyser", "Debounce", "Finding"]


@dataclass(frozen=True)
class Finding:
    """One analyser's answer for one frame.

    ``kind`` is ``gauge_level``, ``intrusion``, ``debris``, ``spillway_flow`` or ``no_video``.
    For an event ``present`` says the event is on (after its dwell, until its clear time); for
    the gauge, that a level was read, ``value`` (m). ``reason`` is a short English sentence;
    ``reason_key`` and ``params`` the catalogue's, for other languages. ``boxes`` (x, y, w, h px)
    are what was found; ``zone`` the polygon concerned (px).
    """

    kind: str
    present: bool
    value: float | None = None
    confidence: float = 0.0
    reason: str = ""
    reason_key: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    boxes: tuple[tuple[int, int, int, int], ...] = ()
    zone: tuple[tuple[float, float], ...] | None = None
    zone_name: str | None = None


class Analyser(Protocol):
    """Looks at a camera's frames in time order, one :class:`Finding` per frame; no I/O."""

    kind: str

    def step(self, frame: Frame) -> Finding:
        """The finding for this frame (the analyser remembers what it saw before)."""


@dataclass
class Debounce:
    """An event on after ``dwell_s`` of sightings, off after ``clear_after_s`` without one (s)."""

    dwell_s: float
    clear_after_s: float
    since_us: int | None = None
    last_seen_us: int | None = None
    on: bool = False

    def update(self, seen: bool, time_us: int) -> bool:
        """Take this frame's sighting; whether the event is on now."""
        if seen:
            if self.since_us is None:
                self.since_us = time_us
            self.last_seen_us = time_us
            if time_us - self.since_us >= self.dwell_s * 1e6:
                self.on = True
        elif self.last_seen_us is None or time_us - self.last_seen_us >= self.clear_after_s * 1e6:
            self.on = False
            self.since_us = None
        return self.on
