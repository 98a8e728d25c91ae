"""The cameras' API: newest frames, a frame at any time beside that minute's readings, status."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from conftest import SITE_FILE, Api, serve
from shuian.api import create_app
from shuian.readings import ReadingBatch
from shuian.services.media import MediaLibrary
from shuian.site import parse_site
from shuian.store import Store, StoredSite

CAMERAS = """
cameras:
  - code: GAUGE
    name: Upstream face and staff gauge
    name_zh: 上游面水尺
    looks_at: staff_gauge
    chainage: 50
    elevation: 145
    source: {kind: folder, path: /nonexistent/drop}
    interval_s: 600
    gauge:
      region: [300, 20, 40, 440]
      marks: [{row: 20, elevation: 145}, {row: 460, elevation: 125}]
  - code: CREST
    name: Crest
    looks_at: dam_crest
    source: {kind: snapshot, url: "http://127.0.0.1:9/snapshot.jpg"}
    interval_s: 60
"""
HOUR_US = 3_600_000_000
#: Two frames an hour apart, the second an hour ago (older than GAUGE's three intervals of
#: 10 min: stale).
NOW_US = time.time_ns() // 1000
FRAME_TIMES = [NOW_US - 2 * HOUR_US, NOW_US - HOUR_US]


def camera_site_text() -> str:
    """The test site with two cameras."""
    data = yaml.safe_load(SITE_FILE.read_text(encoding="utf-8"))
    data.update(yaml.safe_load(CAMERAS))
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def jpeg(shade: int) -> bytes:
    image = np.full((480, 640, 3), shade, np.uint8)
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return data.tobytes()


def at(time_us: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(time_us / 1e6, dt.UTC)


def iso(time_us: int) -> str:
    return at(time_us).isoformat().replace("+00:00", "Z")


@pytest.fixture
def camera_site(store: Store, tmp_path: Path) -> tuple[StoredSite, MediaLibrary, list[int]]:
    text = camera_site_text()
    store.save_site(parse_site(text, source="cameras.yaml"), text)
    stored = store.site()
    media = MediaLibrary(store, tmp_path / "media")
    ids = [media.put(jpeg(60 + 40 * n), site_id=stored.id, source="camera:GAUGE",
                     taken_at=at(t)).id for n, t in enumerate(FRAME_TIMES)]
    channels = {c.code: c.id for c in store.channels(stored.id)}
    times = np.array([FRAME_TIMES[0] - 60_000_000, FRAME_TIMES[1] - 60_000_000], np.int64)
    store.write_readings(ReadingBatch(
        channel_id=np.array([channels["WL.level"]] * 2, np.int64), time_us=times,
        value=np.array([131.25, 131.75]), raw=np.full(2, np.nan)))
    store.put_camera_status(stored.id, {"GAUGE": {"connected": True, "fps": 0.1, "frames": 2,
                                                  "dropped": 0}}, now_us=time.time_ns() // 1000)
    return stored, media, ids


@pytest.fixture
def api(store_url: str, camera_site: tuple[StoredSite, MediaLibrary, list[int]],
        tmp_path: Path) -> Iterator[Api]:
    with serve(create_app(store_url, media_dir=tmp_path / "media")) as client:
        yield client


def test_the_cameras_are_listed_with_their_newest_frame_and_status(
        api: Api, camera_site: tuple[StoredSite, MediaLibrary, list[int]]) -> None:
    _, _, ids = camera_site
    cameras = {c["code"]: c for c in api.get("/api/cameras").json()["cameras"]}
    gauge, crest = cameras["GAUGE"], cameras["CREST"]
    assert gauge["name_zh"] == "上游面水尺" and gauge["looks_at"] == "staff_gauge"
    assert gauge["channels"] == {"video": "GAUGE.video", "level": "GAUGE.level",
                                 "confidence": "GAUGE.confidence"}
    assert gauge["latest"]["media_id"] == ids[1]
    assert gauge["latest"]["stale"] is True  # an hour old, three intervals are 30 min
    assert gauge["latest"]["age_s"] >= 3600 - 1  # an hour, and the time the test took
    assert gauge["status"]["connected"] is True and gauge["status"]["watched"] is True
    assert crest["latest"] is None and crest["status"]["watched"] is False
    assert crest["channels"]["level"] is None
    assert api.get(gauge["latest"]["url"]).content == jpeg(100)


def test_a_frame_at_a_past_time_comes_with_the_readings_of_that_minute(
        api: Api, camera_site: tuple[StoredSite, MediaLibrary, list[int]]) -> None:
    _, _, ids = camera_site
    found = api.get("/api/cameras/GAUGE/frame",
                    params={"at": iso(FRAME_TIMES[0] + 5_000_000)}).json()
    assert found["frame"]["media_id"] == ids[0] and found["frame"]["stale"] is False
    assert found["readings"]["level"]["value"] == 131.25
    assert found["readings"]["level"]["channel"] == "WL.level"
    assert found["readings"]["camera_level"] is None  # nothing read off the gauge yet
    later = api.get("/api/cameras/GAUGE/frame", params={"at": iso(FRAME_TIMES[1])}).json()
    assert later["frame"]["media_id"] == ids[1] and later["readings"]["level"]["value"] == 131.75
    before = api.get("/api/cameras/GAUGE/frame",
                     params={"at": iso(FRAME_TIMES[0] - HOUR_US)}).json()
    assert before["frame"] is None


def test_the_frames_of_a_span_are_listed_oldest_first(
        api: Api, camera_site: tuple[StoredSite, MediaLibrary, list[int]]) -> None:
    _, _, ids = camera_site
    frames = api.get("/api/cameras/GAUGE/frames").json()["frames"]
    assert [f["media_id"] for f in frames] == ids
    none = api.get("/api/cameras/GAUGE/frames", params={"start": iso(NOW_US - 60_000_000)})
    assert none.json()["frames"] == []
    wrong = api.get("/api/cameras/GAUGE/frames", params={"start": iso(NOW_US),
                                                         "end": iso(NOW_US - HOUR_US)})
    assert wrong.status_code == 400 and "must be after" in wrong.json()["error"]["message"]


def test_an_unknown_camera_is_named_with_the_known_ones(api: Api) -> None:
    answer = api.get("/api/cameras/NOPE/frame")
    assert answer.status_code == 404
    message = answer.json()["error"]["message"]
    assert "NOPE" in message and "GAUGE, CREST" in message


def test_an_alarm_lists_the_frames_kept_with_it(
        api: Api, store: Store, camera_site: tuple[StoredSite, MediaLibrary, list[int]]) -> None:
    stored, _, ids = camera_site
    channel = store.channel(stored.id, "GAUGE.video")
    alarm_id = store.record_alarm_step(channel_id=channel.id, rule="camera.intrusion",
                                       kind="raised", level="alarm", time_us=FRAME_TIMES[1],
                                       value=1.0, message="person in zone crest for 6 s")
    store.link_alarm_media(alarm_id, [(ids[0], "before"), (ids[1], "annotated")])
    media = api.get(f"/api/alarms/{alarm_id}/media").json()["media"]
    assert [(m["media_id"], m["role"]) for m in media] == [(ids[0], "before"),
                                                           (ids[1], "annotated")]
    cameras = {c["code"]: c for c in api.get("/api/cameras").json()["cameras"]}
    assert [a["rule"] for a in cameras["GAUGE"]["alarms"]] == ["camera.intrusion"]
    with pytest.raises(ValueError, match="roles"):
        store.link_alarm_media(alarm_id, [(ids[0], "sideways")])


def test_a_frame_kept_with_an_alarm_may_still_expire(
        store: Store, camera_site: tuple[StoredSite, MediaLibrary, list[int]]) -> None:
    stored, media, ids = camera_site
    channel = store.channel(stored.id, "GAUGE.video")
    alarm_id = store.record_alarm_step(channel_id=channel.id, rule="camera.no_video",
                                       kind="raised", level="warning", time_us=FRAME_TIMES[0],
                                       value=None, message="frozen image")
    store.link_alarm_media(alarm_id, [(ids[0], "at")])
    deleted, _ = store.delete_media([ids[0]], remove_files=lambda names: None)
    assert [m.id for m in deleted] == [ids[0]] and store.alarm_media(alarm_id) == []
