"""The video analysers, on SYNTHETIC frames rendered in code with known truth."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from shuian.errors import InvalidRequestError
from shuian.site.cameras import Gauge, GaugeMark, Health, Intrusion, RegionWatch, Zone
from shuian.vision.annotate import annotate
from shuian.vision.frames import Frame, decode_image, encode_jpeg
from shuian.vision.gauge import GaugeAnalyser, elevation_of_row, read_gauge
from shuian.vision.health import HealthAnalyser, no_signal
from shuian.vision.intrusion import IntrusionAnalyser
from shuian.vision.motion import DebrisAnalyser, SpillwayFlowAnalyser
from shuian.vision.render import DEMO_VIEWS, Scene, render, truth_row

GAUGE_VIEW = DEMO_VIEWS["gauge"]
GAUGE = Gauge(region=GAUGE_VIEW.gauge,
              marks=tuple(GaugeMark(row=r, elevation=e) for r, e in GAUGE_VIEW.marks()))
SECOND = 1_000_000

CONDITIONS = {
    "daylight": {},
    "dusk": {"hour": 18.6},
    "night": {"hour": 2.0},
    "noise": {"noise": 8.0},
    "rain": {"rain": 1.0},
    "glare": {"glare": 1.0},
    "occlusion": {"occlusion": 0.5},
}


def gauge_errors_cm(condition: dict[str, float], count: int = 30) -> np.ndarray:
    rng = np.random.default_rng(7)
    errors = []
    for seed in range(count):
        level = 1386.5 + 7.0 * rng.random()
        found = read_gauge(render(GAUGE_VIEW, Scene(level_m=level, seed=seed, **condition)),
                           GAUGE)
        errors.append(np.inf if found is None else abs(found.elevation - level) * 100)
    return np.array(errors)


@pytest.mark.parametrize("name", list(CONDITIONS))
def test_the_staff_gauge_reads_the_level_to_a_centimetre(name: str) -> None:
    errors = gauge_errors_cm(CONDITIONS[name])
    assert np.median(errors) <= 1.0 and np.percentile(errors, 95) <= 3.0, errors


def test_rows_become_elevations_through_the_marks() -> None:
    marks = (GaugeMark(row=100, elevation=110.0), GaugeMark(row=300, elevation=100.0))
    assert elevation_of_row(200.0, marks) == pytest.approx(105.0)
    assert elevation_of_row(0.0, marks) == pytest.approx(115.0)  # the end pair extended
    assert elevation_of_row(np.array([100.0, 300.0]), marks).tolist() == [110.0, 100.0]
    assert truth_row(GAUGE_VIEW, GAUGE_VIEW.gauge_top_m) == GAUGE_VIEW.gauge[1]


def test_a_gauge_under_water_or_hidden_is_not_read() -> None:
    drowned = render(GAUGE_VIEW, Scene(level_m=GAUGE_VIEW.gauge_top_m + 1))
    assert read_gauge(drowned, GAUGE) is None
    dark = np.zeros((480, 640, 3), np.uint8)
    finding = GaugeAnalyser(GAUGE).step(Frame(0, dark))
    assert not finding.present and finding.reason_key == "camera.gauge_unreadable"


CREST = DEMO_VIEWS["crest"]
INTRUSION = Intrusion(zones=(Zone(name="crest", polygon=CREST.zone),), dwell_s=5,
                      clear_after_s=20)


def walk(hour: float, people_from: int, people_to: int, *, frames: int = 30,
         where: float = 430.0, noise: float = 3.0, **scene: object) -> list[bool]:
    analyser = IntrusionAnalyser(INTRUSION)
    seen = []
    for n in range(frames):
        people = ((100.0 + 15 * n, where, 140.0),) if people_from <= n < people_to else ()
        image = render(CREST, Scene(level_m=1390, hour=hour, noise=noise, people=people,
                                    seed=n, **scene))  # type: ignore[arg-type]
        seen.append(analyser.step(Frame(n * 2 * SECOND, image)).present)
    return seen


@pytest.mark.parametrize("hour", [12.0, 18.6, 2.0])
def test_an_intruder_raises_after_the_dwell_and_clears_after_he_left(hour: float) -> None:
    seen = walk(hour, 8, 16)
    assert not any(seen[:10])  # not before 5 s in the zone (frames 2 s apart)
    assert all(seen[11:16]) and all(seen[16:18])  # on, and on a while after he left
    assert not seen[-1]  # cleared 20 s after the last sighting


def test_a_person_outside_the_zone_is_no_intrusion() -> None:
    assert not any(walk(12.0, 5, 25, where=250.0))  # on the parapet line, above the zone


def test_a_bird_and_rain_are_no_intrusion() -> None:
    analyser = IntrusionAnalyser(INTRUSION)
    for n in range(25):
        image = render(CREST, Scene(level_m=1390, rain=0.8, seed=n))
        cv2.ellipse(image, (40 + 20 * n, 380), (14, 5), 0, 0, 360, (30, 30, 30), -1)  # a bird
        assert not analyser.step(Frame(n * 2 * SECOND, image)).present


def frames_of(images: list[np.ndarray], step_s: float = 10.0) -> list[Frame]:
    return [Frame(int(n * step_s * SECOND), image) for n, image in enumerate(images)]


def healthy_day(count: int = 8) -> list[np.ndarray]:
    return [render(GAUGE_VIEW, Scene(level_m=1390, hour=8 + n, noise=3, rain=0.3 * (n % 2),
                                     seed=n)) for n in range(count)]


def health_of(images: list[np.ndarray]) -> list[tuple[bool, str]]:
    analyser = HealthAnalyser(Health(frozen_after_s=60, bad_frames=2))
    return [(f.present, f.reason) for f in map(analyser.step, frames_of(images))]


def test_a_good_day_with_rain_and_dusk_is_healthy() -> None:
    images = [render(GAUGE_VIEW, Scene(level_m=1390, hour=h, noise=3, rain=r, seed=n))
              for n, (h, r) in enumerate([(6.5, 0), (9, 0.5), (12, 1), (15, 0), (18.6, 0.3),
                                          (21, 0), (1, 0), (4, 0.6)])]
    assert not any(on for on, _ in health_of(images))


@pytest.mark.parametrize(("fault", "reason"), [
    ("frozen", "frozen image"), ("dark", "too dark"), ("covered", "covered"),
    ("blurred", "out of focus"), ("turned", "turned away"),
])
def test_each_camera_fault_is_found_with_its_reason(fault: str, reason: str) -> None:
    good = healthy_day(4)
    if fault == "frozen":
        bad = [good[-1]] * 10
    elif fault == "dark":
        bad = [(good[0] * 0.03).astype(np.uint8) for _ in range(4)]
    elif fault == "covered":
        bad = [np.full_like(good[0], 90) for _ in range(4)]
    elif fault == "blurred":
        bad = [cv2.GaussianBlur(g, (0, 0), 12) for g in good]
    else:
        bad = [render(CREST, Scene(level_m=1390, seed=n)) for n in range(4)]
    found = health_of(good + bad)
    assert not any(on for on, _ in found[:4])
    assert found[-1][0] and reason in found[-1][1], found
    assert health_of(good + bad + healthy_day(1))[-1][0] is False  # a good frame: over


def test_no_frame_for_the_no_signal_time_is_no_signal() -> None:
    assert no_signal(0, 29 * SECOND, 30).present is False
    finding = no_signal(0, 31 * SECOND, 30)
    assert finding.present and finding.reason == "no signal for 31 s"
    assert no_signal(None, 0, 30).present


SPILLWAY = DEMO_VIEWS["spillway"]


def test_spillway_flow_and_debris_come_and_go() -> None:
    flow = SpillwayFlowAnalyser(RegionWatch(region=Zone(name="chute",
                                                        polygon=SPILLWAY.flow_region),
                                            dwell_s=10, clear_after_s=20))
    debris = DebrisAnalyser(RegionWatch(region=Zone(name="intake",
                                                    polygon=SPILLWAY.debris_region),
                                        dwell_s=10, clear_after_s=20))
    spill = [0.0] * 4 + [0.6] * 6 + [0.0] * 6
    logs = [()] * 4 + [((450.0, 380.0, 14.0), (520.0, 420.0, 10.0))] * 6 + [()] * 6
    states = []
    for n, (water, objects) in enumerate(zip(spill, logs, strict=True)):
        image = render(SPILLWAY, Scene(level_m=1390, spill=water, debris=objects, seed=n,
                                       rain=0.3))
        frame = Frame(n * 5 * SECOND, image)
        states.append((flow.step(frame).present, debris.step(frame).present))
    assert states[:4] == [(False, False)] * 4
    assert states[8] == (True, True)  # after 10 s of each
    assert states[-1] == (False, False)


def test_frames_are_decoded_within_bounds_and_annotated() -> None:
    image = render(CREST, Scene(level_m=1390))
    data = encode_jpeg(image)
    assert decode_image(data).shape == image.shape
    with pytest.raises(InvalidRequestError, match="not a JPEG or PNG"):
        decode_image(b"<html>no picture</html>")
    with pytest.raises(InvalidRequestError, match="more than"):
        decode_image(data, max_pixels=1000)
    drawn = annotate(image, zone=CREST.zone, boxes=((100, 200, 40, 120),), caption="CAM intrusion")
    assert drawn.shape == image.shape and not np.array_equal(drawn, image)
    assert tuple(drawn[200, 100]) == (0, 0, 255)  # the box in red


def test_an_analyser_is_a_pure_function_of_its_frames() -> None:
    frames = frames_of([render(CREST, Scene(level_m=1390, seed=n,
                                            people=((200.0 + 10 * n, 430.0, 140.0),)))
                        for n in range(6)], step_s=2)
    one, two = IntrusionAnalyser(INTRUSION), IntrusionAnalyser(INTRUSION.model_copy())
    first = [one.step(f) for f in frames]
    assert [two.step(f) for f in frames] == first
    assert first[-1].present and first[-1].boxes
