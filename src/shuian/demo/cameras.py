"""The demo's cameras: SYNTHETIC frames rendered in code from the demo reservoir's own readings.

Every frame is drawn by :func:`shuian.vision.render.render`: the staff gauge at the level the
store holds for that time, the dam, daylight, dusk and night by the site's clock, rain when the
rain gauge counts some, glare on sunny middays. One camera (``scenario: intruder``) sees a
person walk onto the dam crest for the first 90 s of every ten minutes; one (``scenario:
frozen``) repeats its first frame for ever, as a camera whose encoder has hung. None of it is a
real picture: the demo says so on the page and in the site file.
"""

from __future__ import annotations

import datetime as dt
import threading
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass

from shuian.site.cameras import Camera

__all__ = ["DemoRenderer", "Readings", "view_of"]

_US = 1_000_000
#: Seconds the level and rain read from the store are reused.
READ_EVERY_S = 30.0
#: The intruder's walk: on the crest for this many seconds of every cycle.
INTRUDER_S, INTRUDER_CYCLE_S = 90, 600

#: The rendered view each kind of camera gets.
VIEWS = {"staff_gauge": "gauge", "upstream_face": "gauge", "dam_crest": "crest",
         "spillway": "spillway", "intake": "spillway"}


def view_of(camera: Camera) -> str:
    """The name of the rendered view (:data:`shuian.vision.render.DEMO_VIEWS`) of a camera."""
    return VIEWS.get(camera.looks_at, "crest")


#: The level (m, None when unknown) and the last hour's rain (mm) at a time (µs).
Readings = Callable[[int], tuple[float | None, float]]


@dataclass
class _Read:
    level_m: float | None
    rain_mm: float
    at_us: int


class DemoRenderer:
    """Renders the demo's cameras' frames from the site's level and rain (thread-safe).

    Parameters
    ----------
    readings : callable
        The level (m) and rain (mm) at a time (µs): the service reads them from the store.
    timezone : str
        The site's zone: day and night follow its clock.
    default_level_m : float
        The level drawn while none is known (m).
    """

    def __init__(self, readings: Readings, timezone: str, default_level_m: float) -> None:
        self.readings = readings
        self.zone = zoneinfo.ZoneInfo(timezone)
        self.default_level_m = default_level_m
        self._lock = threading.Lock()
        self._read: _Read | None = None
        self._frozen: dict[str, bytes] = {}

    def _readings(self, now_us: int) -> _Read:
        with self._lock:
            if self._read is not None and abs(now_us - self._read.at_us) < READ_EVERY_S * _US:
                return self._read
        level, rain = self.readings(now_us)
        read = _Read(level, rain, now_us)
        with self._lock:
            self._read = read
        return read

    def scene(self, camera: Camera, now_us: int) -> object:
        """The scene the camera sees at ``now_us`` (a :class:`shuian.vision.render.Scene`)."""
        from shuian.vision.render import DEMO_VIEWS, Scene

        read = self._readings(now_us)
        local = dt.datetime.fromtimestamp(now_us / _US, self.zone)
        hour = local.hour + local.minute / 60 + local.second / 3600
        people: tuple[tuple[float, float, float], ...] = ()
        view = DEMO_VIEWS[view_of(camera)]
        if camera.source.scenario == "intruder":
            into = (now_us // _US) % INTRUDER_CYCLE_S
            if into < INTRUDER_S:
                x = view.width * (0.15 + 0.6 * into / INTRUDER_S)
                people = ((x, view.height * 0.8, view.height * 0.3),)
        rain = min(1.0, read.rain_mm / 10.0)
        glare = 0.5 if 11 <= hour <= 14 and rain == 0 else 0.0
        level = self.default_level_m if read.level_m is None else read.level_m
        return Scene(level_m=level, hour=hour, rain=rain, glare=glare, noise=3.0,
                     people=people, seed=int(now_us // _US) % 100_000)

    def render(self, camera: Camera, now_us: int) -> bytes:
        """The JPEG of the camera's frame at ``now_us`` (a frozen camera: its first, again)."""
        from shuian.vision.frames import encode_jpeg
        from shuian.vision.render import DEMO_VIEWS, render

        if camera.source.scenario == "frozen" and camera.code in self._frozen:
            return self._frozen[camera.code]
        image = render(DEMO_VIEWS[view_of(camera)], self.scene(camera, now_us))  # type: ignore[arg-type]
        data = encode_jpeg(image)
        if camera.source.scenario == "frozen":
            self._frozen[camera.code] = data
        return data
