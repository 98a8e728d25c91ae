"""The cameras' watch: frames kept, the gauge read and cross-checked, events raised as alarms."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from conftest import SITE_FILE
from shuian.readings import ReadingBatch
from shuian.services.cameras import CameraWatch
from shuian.services.media import MediaLibrary
from shuian.services.worker import WATCH_CAMERAS, Worker, default_kinds
from shuian.site import parse_site
from shuian.sources.cameras import CapturedFrame
from shuian.store import Store, StoredSite
from shuian.vision.frames import encode_jpeg
from shuian.vision.gauge import elevation_of_row
from shuian.vision.render import CLOSE_GAUGE, DEMO_VIEWS, Scene, render, truth_row

SECOND = 1_000_000
T0 = 1_780_000_000 * SECOND
GAUGE_VIEW, CREST = CLOSE_GAUGE, DEMO_VIEWS["crest"]
X, Y, W, H = GAUGE_VIEW.gauge
#: The test site's gauge: the rendered board's rows mapped onto the test site's levels.
MARKS = ((Y, 145.0), (Y + H, 125.0))


def camera_yaml(folder: Path) -> str:
    zone = [list(p) for p in CREST.zone]
    return yaml.safe_dump({"cameras": [
        {"code": "GAUGE", "name": "staff gauge", "name_zh": "水尺", "looks_at": "staff_gauge",
         "source": {"kind": "folder", "path": str(folder / "gauge")}, "interval_s": 10,
         "gauge": {"region": list(GAUGE_VIEW.gauge),
                   "marks": [{"row": r, "elevation": e} for r, e in MARKS],
                   "tolerance_m": 0.1, "disagree_after_s": 20}},
        {"code": "CREST", "name": "crest", "looks_at": "dam_crest",
         "source": {"kind": "folder", "path": str(folder / "crest")}, "interval_s": 10,
         "event_interval_s": 2,
         "intrusion": {"zones": [{"name": "crest", "polygon": zone}], "dwell_s": 4,
                       "clear_after_s": 10},
         "health": {"frozen_after_s": 30, "bad_frames": 2}},
    ]})


@pytest.fixture
def site_with_cameras(store: Store, tmp_path: Path) -> StoredSite:
    data = yaml.safe_load(SITE_FILE.read_text(encoding="utf-8"))
    data.update(yaml.safe_load(camera_yaml(tmp_path)))
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    store.save_site(parse_site(text, source="cameras.yaml"), text)
    return store.site()


def watch(store: Store, stored: StoredSite, tmp_path: Path) -> CameraWatch:
    return CameraWatch(store, stored, media=MediaLibrary(store, tmp_path / "media"),
                       feeds=lambda camera: None)


def gauge_frame(render_level: float, n: int) -> CapturedFrame:
    image = render(GAUGE_VIEW, Scene(level_m=render_level, seed=n, noise=3))
    return CapturedFrame("GAUGE", T0 + n * 10 * SECOND, encode_jpeg(image))


def site_level(render_level: float) -> float:
    marks = [type("M", (), {"row": r, "elevation": e})() for r, e in MARKS]
    return float(elevation_of_row(truth_row(GAUGE_VIEW, render_level), marks))


def sensor(store: Store, stored: StoredSite, times: list[int], values: list[float]) -> None:
    channel = store.channel(stored.id, "WL.level")
    store.write_readings(ReadingBatch(
        channel_id=np.full(len(times), channel.id, np.int64),
        time_us=np.array(times, np.int64), value=np.array(values, np.float64),
        raw=np.full(len(times), np.nan)))


def test_the_gauge_is_read_onto_the_cameras_channel_and_every_frame_kept(
        store: Store, site_with_cameras: StoredSite, tmp_path: Path) -> None:
    stored = site_with_cameras
    levels = [1388.2, 1388.21, 1388.25, 1388.3]
    sensor(store, stored, [T0 - SECOND], [site_level(1388.2)])
    report = watch(store, stored, tmp_path).process(
        "GAUGE", [gauge_frame(level, n) for n, level in enumerate(levels)])
    assert report.frames == 4 and report.readings == 12  # video, level, confidence each
    times, values = store.readings(store.channel(stored.id, "GAUGE.level").id)
    assert times.tolist() == [T0 + n * 10 * SECOND for n in range(4)]
    assert np.abs(values - [site_level(v) for v in levels]).max() < 0.03  # m
    _, health = store.readings(store.channel(stored.id, "GAUGE.video").id)
    assert health.tolist() == [1.0] * 4
    kept = store.media_items(stored.id, source="camera:GAUGE")
    assert len(kept) == 4 and {m.retention for m in kept} == {"routine"}
    assert store.open_alarms() == []


def test_camera_and_sensor_disagreeing_raise_an_alarm_and_agreeing_clears_it(
        store: Store, site_with_cameras: StoredSite, tmp_path: Path) -> None:
    stored = site_with_cameras
    watcher = watch(store, stored, tmp_path)
    truth = site_level(1389.0)
    sensor(store, stored, [T0 - SECOND], [truth + 0.5])  # the sensor 0.5 m off
    watcher.process("GAUGE", [gauge_frame(1389.0, n) for n in range(2)])
    assert store.open_alarms() == []  # apart for 10 s, not the 20 s of disagree_after_s
    watcher.process("GAUGE", [gauge_frame(1389.0, n) for n in range(2, 4)])
    (alarm,) = store.open_alarms()
    assert alarm.rule == "camera.disagree" and alarm.level == "warning"
    assert "camera and sensor disagree" in alarm.message and "WL.level" in alarm.message
    assert alarm.value == pytest.approx(-0.5, abs=0.05)
    sensor(store, stored, [T0 + 35 * SECOND], [truth])
    watcher.process("GAUGE", [gauge_frame(1389.0, 4)])
    assert store.open_alarms() == [] and store.alarm(alarm.id).state == "cleared"


def crest_frames(first: int, count: int, people: Callable[[int], tuple[
        tuple[float, float, float], ...]], step_s: int = 2) -> list[CapturedFrame]:
    return [CapturedFrame("CREST", T0 + n * step_s * SECOND, encode_jpeg(render(
        CREST, Scene(level_m=1390, seed=n, noise=3, people=people(n)))))
        for n in range(first, first + count)]


def test_an_intruder_is_an_alarm_with_the_frames_around_it_and_the_zone_drawn(
        store: Store, site_with_cameras: StoredSite, tmp_path: Path) -> None:
    stored = site_with_cameras
    watcher = watch(store, stored, tmp_path)

    def walker(n: int) -> tuple[tuple[float, float, float], ...]:
        return ((120.0 + 20 * n, 430.0, 140.0),) if 6 <= n < 14 else ()

    watcher.process("CREST", crest_frames(0, 12, walker))
    (alarm,) = store.open_alarms()
    assert alarm.rule == "camera.intrusion" and alarm.level == "alarm"
    assert "person in zone crest" in alarm.message
    watcher.process("CREST", crest_frames(12, 4, walker))
    roles = [role for _, role in store.alarm_media(alarm.id)]
    assert roles.count("before") == 2 and roles.count("at") == 1
    assert roles.count("annotated") == 1 and roles.count("after") == 2
    annotated = next(m for m, role in store.alarm_media(alarm.id) if role == "annotated")
    assert annotated.retention == "event"
    _, data = MediaLibrary(store, tmp_path / "media").read(annotated.id)
    drawn = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    zone_edge = drawn[int(CREST.zone[0][1]), 300]
    assert zone_edge[2] > 150 and zone_edge[0] < 100  # the zone's amber outline
    watcher.process("CREST", crest_frames(16, 8, walker))  # no one for 16 s: over
    assert store.alarm(alarm.id).state == "cleared"


def test_a_frozen_camera_raises_no_video_and_a_live_one_clears_it(
        store: Store, site_with_cameras: StoredSite, tmp_path: Path) -> None:
    stored = site_with_cameras
    watcher = watch(store, stored, tmp_path)
    still = encode_jpeg(render(CREST, Scene(level_m=1390, seed=1)))
    watcher.process("CREST", [CapturedFrame("CREST", T0 + n * 10 * SECOND, still)
                              for n in range(6)])
    (alarm,) = store.open_alarms()
    assert alarm.rule == "camera.no_video" and "frozen image" in alarm.message
    _, health = store.readings(store.channel(stored.id, "CREST.video").id)
    assert health.tolist()[-1] == 0.0
    watcher.process("CREST", crest_frames(10, 2, lambda n: (), step_s=10))
    assert store.alarm(alarm.id).state == "cleared"


def test_a_camera_without_frames_has_no_signal(
        store: Store, site_with_cameras: StoredSite, tmp_path: Path) -> None:
    stored = site_with_cameras
    now = [T0]
    watcher = CameraWatch(store, stored, media=MediaLibrary(store, tmp_path / "media"),
                          clock=lambda: now[0])
    try:
        watcher.start()
        feed = watcher.cameras["GAUGE"].feed
        assert feed is not None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not feed.status()["last_error"]:
            time.sleep(0.05)
        watcher.step()
        assert store.open_alarms() == []
        now[0] += 31 * SECOND  # three intervals of 10 s
        watcher.step()
        alarms = store.open_alarms()
        assert [a.rule for a in alarms] == ["camera.no_video"] * 2
        assert all("no signal for 31 s" in a.message for a in alarms)
        watcher.write_status()
        status = store.camera_statuses(stored.id)
        assert set(status) == {"GAUGE", "CREST"}
        assert "does not exist" in status["GAUGE"][0]["last_error"]
    finally:
        watcher.stop()


def test_the_worker_watches_the_cameras_of_a_drop_folder(
        store: Store, site_with_cameras: StoredSite, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    stored = site_with_cameras
    (tmp_path / "gauge").mkdir()
    (tmp_path / "crest").mkdir()
    image = render(GAUGE_VIEW, Scene(level_m=1388.0, seed=3))
    (tmp_path / "gauge" / "one.jpg").write_bytes(encode_jpeg(image))
    store.enqueue_job(WATCH_CAMERAS, payload={"shift_s": 60}, now_us=0, name="shift")
    stop = threading.Event()
    kinds = {WATCH_CAMERAS: default_kinds()[WATCH_CAMERAS]}
    thread = threading.Thread(target=Worker(store, kinds).run, args=(stop,), daemon=True)
    monkeypatch.setenv("SHUIAN_MEDIA_DIR", str(tmp_path / "media"))
    try:
        thread.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not store.media_items(stored.id,
                                                                     source="camera:GAUGE"):
            time.sleep(0.1)
        assert store.media_items(stored.id, source="camera:GAUGE")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not store.camera_statuses(stored.id).get(
                "GAUGE", ({}, 0))[0].get("analysed"):
            time.sleep(0.1)
        status, _ = store.camera_statuses(stored.id)["GAUGE"]
        assert status["connected"] is True and status["frames"] >= 1
        assert status["analysed"] >= 1
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()
    assert store.job("shift").state == "done"


def test_the_demo_has_synthetic_cameras_read_from_its_own_level(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from shuian.services.demo import build_demo

    monkeypatch.setenv("SHUIAN_MEDIA_DIR", str(tmp_path / "media"))
    summary = build_demo(store, days=30, camera_hours=1.0)
    stored = summary.stored
    assert summary.camera_frames == 4 * 7  # four cameras, a frame every 10 min for an hour
    assert all(c.source.kind == "synthetic" for c in stored.site.cameras)
    assert "SYNTHETIC" in stored.definition and "rendered in code" in stored.definition
    level = store.channel(stored.id, "CAM-GAUGE.level")
    times, read = store.readings(level.id)
    sensor_times, sensor = store.readings(store.channel(stored.id, "WL1").id, int(times[0]))
    assert len(read) == 7 and abs(read[-1] - sensor[-1]) < 0.1  # m: the gauge at 10 cm a row
    rules = {(a.rule, store.alarm(a.id).message) for a in store.open_alarms()
             if a.rule.startswith("camera.")}
    assert ("camera.no_video", "frozen image") in rules  # the frozen camera, and only it
    assert len(rules) == 1
