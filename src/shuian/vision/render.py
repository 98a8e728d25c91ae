"""SYNTHETIC camera pictures rendered in code, with known truth: for tests, the bench and the demo.

A :class:`View` is a camera's geometry (picture size, the staff gauge's box and its elevations,
the restricted zone, the spillway's and the intake's regions); a :class:`Scene` what is in
front of it at one moment (the water level, the hour, rain, glare, noise, something hiding part
of the gauge, people, floating debris, water on the spillway). :func:`render` draws the picture:
sky, the dam's concrete, the staff gauge (a white board with black E-marks every 5 cm and a
numeral every metre) whose lower part the water hides at exactly the level (to a fraction of a
row), ripples and the board's dimmed reflection on the water, light from noon to a lamp-lit
night, rain streaks, a sun glare on the water, sensor noise. None of it is a real picture.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

import numpy as np
from numpy.typing import NDArray

__all__ = ["CLOSE_GAUGE", "DEMO_VIEWS", "Scene", "View", "render", "truth_row"]

Box = tuple[int, int, int, int]
Polygon = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class View:
    """A camera's geometry (px); the gauge spans ``gauge_top_m`` at its top row to its bottom.

    ``kind`` says what is drawn: ``gauge`` (the upstream face with a staff gauge, the water
    across the lower part), ``crest`` (the crest walkway, a restricted ``zone``), ``spillway``
    (the chute, ``flow_region``, and the intake's water, ``debris_region``).
    """

    kind: Literal["gauge", "crest", "spillway"]
    width: int = 640
    height: int = 480
    gauge: Box = (300, 20, 44, 440)
    gauge_top_m: float = 1394.0
    gauge_bottom_m: float = 1386.0
    zone: Polygon = ((40.0, 300.0), (600.0, 300.0), (600.0, 470.0), (40.0, 470.0))
    flow_region: Polygon = ((60.0, 60.0), (300.0, 60.0), (300.0, 460.0), (60.0, 460.0))
    debris_region: Polygon = ((360.0, 300.0), (630.0, 300.0), (630.0, 470.0), (360.0, 470.0))

    @property
    def metres_per_row(self) -> float:
        """Metres of gauge per picture row."""
        return (self.gauge_top_m - self.gauge_bottom_m) / self.gauge[3]

    def marks(self) -> tuple[tuple[float, float], ...]:
        """The gauge's reference marks: (row px, elevation m) at its top and bottom."""
        x, y, w, h = self.gauge
        return ((float(y), self.gauge_top_m), (float(y + h), self.gauge_bottom_m))


@dataclass(frozen=True)
class Scene:
    """What is in front of a camera at one moment.

    ``level_m`` the water level (m); ``hour`` local time (0..24: day, dusk, a lamp-lit night);
    ``rain`` streaks (0..1); ``glare`` a sun reflection on the water (0..1); ``noise`` sensor
    noise (standard deviation, grey levels); ``occlusion`` the share (0..1) of the gauge above
    the water hidden by a pole; ``people`` (x, y of the feet, height, px); ``debris`` floating
    objects (x, y, radius px); ``spill`` water on the spillway (0..1); ``seed`` the randomness.
    """

    level_m: float
    hour: float = 12.0
    rain: float = 0.0
    glare: float = 0.0
    noise: float = 2.0
    occlusion: float = 0.0
    people: tuple[tuple[float, float, float], ...] = ()
    debris: tuple[tuple[float, float, float], ...] = ()
    spill: float = 0.0
    seed: int = 0


#: A close-up of an 8 m gauge section over 440 rows (1.8 cm a row): the bench's and tests'.
CLOSE_GAUGE = View("gauge")

#: The demo's cameras' geometries; its gauge spans the demo dam's whole face from 1352 m to
#: the crest at 1396 m over 440 rows (10 cm a row), as the demo's level moves by 30 m a year.
DEMO_VIEWS: dict[str, View] = {
    "gauge": View("gauge", gauge_top_m=1396.0, gauge_bottom_m=1352.0),
    "crest": View("crest"),
    "spillway": View("spillway"),
}


def truth_row(view: View, level_m: float) -> float:
    """The picture row (px, fractional) of the waterline at ``level_m``."""
    x, y, w, h = view.gauge
    return y + (view.gauge_top_m - level_m) / view.metres_per_row


def light(hour: float) -> float:
    """Daylight (0.22 at night: the site lights and the cameras' infrared; 1 at noon) at an hour."""
    sun = np.clip(np.sin((hour - 6.0) / 12.0 * np.pi), 0.0, 1.0)
    return float(0.22 + 0.78 * sun ** 0.6)


@cache
def _board(width: int, height: int, top_m: float, bottom_m: float) -> NDArray[np.float64]:
    """The gauge board's brightness (0..1), white, with its marks and numerals.

    Black marks 5 cm tall every 10 cm on its left (all but every fifth half as long, as an E),
    a numeral every metre.
    """
    import cv2

    board = np.full((height, width), 0.95)
    per_row = (top_m - bottom_m) / height
    marks_left = int(width * 0.55)
    steps = int((top_m - bottom_m) / 0.1)
    for n in range(steps):
        row = n * 0.1 / per_row
        length = marks_left if n % 5 == 0 else marks_left // 2
        cv2.rectangle(board, (0, int(row)), (length, int(row + 0.05 / per_row) - 1), 0.08, -1)
    for metre in range(int(np.ceil(bottom_m)), int(top_m) + 1):
        row = int((top_m - metre) / per_row)
        cv2.putText(board, str(metre % 100), (2, min(height - 2, row + 12)),
                    cv2.FONT_HERSHEY_PLAIN, 0.7, 0.6, 1)
    cv2.rectangle(board, (marks_left + 2, 0), (width - 1, height - 1), 0.97, -1)
    return board


def _person(canvas: NDArray[np.float64], x: float, y: float, height: float,
            colour: tuple[float, float, float]) -> None:
    """An upright person, feet at (x, y), ``height`` px tall."""
    import cv2

    u = height / 8.0
    skin = (0.45, 0.55, 0.7)
    cv2.ellipse(canvas, (int(x), int(y - 7.3 * u)), (max(1, int(0.45 * u)), max(1, int(0.6 * u))),
                0, 0, 360, skin, -1)
    torso = np.array([[x - u, y - 6.6 * u], [x + u, y - 6.6 * u], [x + 0.8 * u, y - 3.9 * u],
                      [x - 0.8 * u, y - 3.9 * u]], np.int32)
    cv2.fillPoly(canvas, [torso], colour)
    arm = max(1, int(0.4 * u))
    cv2.line(canvas, (int(x - u), int(y - 6.4 * u)), (int(x - 1.3 * u), int(y - 3.6 * u)),
             colour, arm)
    cv2.line(canvas, (int(x + u), int(y - 6.4 * u)), (int(x + 1.3 * u), int(y - 3.6 * u)),
             colour, arm)
    legs = tuple(c * 0.7 for c in colour)
    leg = max(1, int(0.55 * u))
    cv2.line(canvas, (int(x - 0.4 * u), int(y - 4 * u)), (int(x - 0.7 * u), int(y)), legs, leg)
    cv2.line(canvas, (int(x + 0.4 * u), int(y - 4 * u)), (int(x + 0.7 * u), int(y)), legs, leg)


def render(view: View, scene: Scene) -> NDArray[np.uint8]:
    """The picture (BGR) the view's camera takes of the scene."""
    import cv2

    rng = np.random.default_rng(scene.seed)
    h, w = view.height, view.width
    canvas = np.empty((h, w, 3))
    rows = np.linspace(0.0, 1.0, h)[:, None]
    canvas[:] = (0.62, 0.6, 0.56)  # concrete (BGR, 0..1)
    canvas *= (0.9 + 0.1 * rows)[..., None]
    texture = cv2.GaussianBlur(rng.normal(0, 0.03, (h, w)), (0, 0), 3)
    canvas += texture[..., None]
    water_row = truth_row(view, scene.level_m) if view.kind == "gauge" else h * 0.62
    if view.kind == "crest":
        canvas[: int(h * 0.35)] = (0.85, 0.72, 0.55)  # sky
        cv2.rectangle(canvas, (0, int(h * 0.55)), (w, int(h * 0.6)), (0.5, 0.5, 0.5), -1)
        water_row = float(h)  # no water in view
    elif view.kind == "spillway":
        cv2.rectangle(canvas, (60, 40), (300, 470), (0.55, 0.56, 0.55), -1)
        for n in range(8):
            cv2.line(canvas, (60, 60 + 50 * n), (300, 60 + 50 * n), (0.45, 0.45, 0.45), 2)
    if view.kind == "gauge":
        x, y, gw, gh = view.gauge
        board = _board(gw, gh, view.gauge_top_m, view.gauge_bottom_m)
        canvas[y:y + gh, x:x + gw] = board[..., None]
    # The water: below the waterline, the board's edge covered to a fraction of a row.
    water = np.empty((h, w, 3))
    water[:] = (0.42, 0.33, 0.18)
    ripples = 0.05 * np.sin(np.arange(h)[:, None] * 0.9 + rng.uniform(0, 6)
                            + np.arange(w)[None, :] * 0.05)
    water += ripples[..., None]
    if view.kind == "gauge":
        x, y, gw, gh = view.gauge
        start = int(np.ceil(water_row))
        length = min(h - start, start - y)
        if length > 0:  # the board's reflection, dimmed and rippled
            mirrored = canvas[start - length:start, x:x + gw][::-1]
            water[start:start + length, x:x + gw] = 0.55 * water[start:start + length,
                                                                  x:x + gw] + 0.3 * mirrored
    cover = np.clip(np.arange(h)[:, None] + 1.0 - water_row, 0.0, 1.0)
    canvas = canvas * (1 - cover[..., None]) + water * cover[..., None]
    if view.kind == "spillway" and scene.spill > 0:
        foam = rng.random((h, w)) < 0.5 * scene.spill
        chute = np.zeros((h, w), bool)
        chute[40:470, 80:280] = True
        canvas[foam & chute] = (0.95, 0.95, 0.95)
    for dx, dy, radius in scene.debris:
        cv2.ellipse(canvas, (int(dx), int(dy)), (int(radius * 1.8), int(radius)), 15, 0, 360,
                    (0.12, 0.2, 0.28), -1)
    for n, (px, py, height) in enumerate(scene.people):
        colours = ((0.2, 0.2, 0.55), (0.5, 0.25, 0.15), (0.15, 0.4, 0.2), (0.25, 0.25, 0.25))
        _person(canvas, px, py, height, colours[(scene.seed + n) % len(colours)])
    if scene.occlusion > 0 and view.kind == "gauge":
        x, y, gw, gh = view.gauge
        hidden = int((water_row - y) * scene.occlusion)
        top = int(y + (water_row - y) * 0.15)
        cv2.rectangle(canvas, (x - 6, top), (x + gw + 6, min(top + hidden, int(water_row) - 12)),
                      (0.2, 0.25, 0.2), -1)
    if scene.glare > 0:
        gx = int(w * 0.75)
        gy = int(min(h - 20, water_row + 60)) if water_row < h else int(h * 0.8)
        glow = np.zeros((h, w))
        cv2.ellipse(glow, (gx, gy), (90, 25), 0, 0, 360, 1.0, -1)
        glow = np.asarray(cv2.GaussianBlur(glow, (0, 0), 12), dtype=np.float64)
        canvas += scene.glare * 0.6 * glow[..., None]
    daylight = light(scene.hour)
    canvas *= daylight
    if daylight < 0.3 and view.kind == "crest":  # the crest's lamps at night
        canvas[int(h * 0.35):] *= 0.45 / daylight
    if daylight < 0.3 and view.kind == "gauge":  # the gauge's lamp at night
        x, y, gw, gh = view.gauge
        lamp = np.zeros((h, w))
        cv2.ellipse(lamp, (x + gw // 2, int(min(water_row, y + gh))), (120, 260), 0, 0, 360,
                    1.0, -1)
        canvas += 0.35 * cv2.GaussianBlur(lamp, (0, 0), 25)[..., None] * canvas / max(daylight,
                                                                                        0.05)
    if scene.rain > 0:
        streaks = np.zeros((h, w))
        for _ in range(int(300 * scene.rain)):
            sx, sy = rng.integers(0, w), rng.integers(0, h)
            cv2.line(streaks, (int(sx), int(sy)), (int(sx + 3), int(sy + 14)), 0.25, 1)
        canvas += streaks[..., None] * daylight
    image = np.clip(canvas * 255.0 + rng.normal(0, scene.noise, canvas.shape), 0, 255)
    return np.asarray(image, dtype=np.uint8)
