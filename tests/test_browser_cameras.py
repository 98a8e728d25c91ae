"""The cameras on the page, in a real browser (Chromium through Playwright) against a real server.

The test site (tests/data/site.yaml) gets inflow, outflow and rain gauges and two cameras:
GAUGE looks at the staff gauge every 10 min, and its newest frame is an hour old (stale);
CREST looks at the crest every 10 min too, its newest frame is fresh, and it has an open intrusion
alarm with the frames kept with it. The frames are real JPEGs in the media store, the readings
sit a minute before each frame, and a newer set of readings after the last GAUGE frame tells
the values "of the image's minute" apart from the newest ones.
"""

from __future__ import annotations

import datetime as dt
import re
import time
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import yaml
from playwright.sync_api import Browser, Locator, Page, expect

from conftest import SITE_FILE, eventually, http_server, screenshot
from shuian.api import create_app
from shuian.readings import ReadingBatch
from shuian.services.media import MediaLibrary
from shuian.site import parse_site
from shuian.site.cameras import LOOKS_AT
from shuian.store import open_store

EXTRA = """
instruments:
  - code: QIN
    type: discharge
    channels:
      - {code: QIN.flow, quantity: inflow, unit: m3/s, limits: {min: 0, max: 5000}}
  - code: QOUT
    type: discharge
    channels:
      - {code: QOUT.flow, quantity: outflow, unit: m3/s, limits: {min: 0, max: 5000}}
  - code: RG
    type: rainfall
    channels:
      - {code: RG.rain, quantity: rainfall, unit: mm, limits: {min: 0, max: 500}}
cameras:
  - code: GAUGE
    name: Upstream face and staff gauge
    name_zh: 上游面水尺
    looks_at: staff_gauge
    chainage: 60
    elevation: 132
    source: {kind: folder, path: /nonexistent/drop}
    interval_s: 600
    gauge:
      region: [300, 20, 40, 440]
      marks: [{row: 20, elevation: 145}, {row: 460, elevation: 125}]
  - code: CREST
    name: Crest
    name_zh: 坝顶
    looks_at: dam_crest
    chainage: 240
    elevation: 145
    source: {kind: snapshot, url: "http://127.0.0.1:9/snapshot.jpg"}
    interval_s: 600
"""
ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")  # the test site's zone: the page shows times in it
MINUTE_US = 60_000_000
HOUR_US = 60 * MINUTE_US
NOW_US = time.time_ns() // 1000
#: GAUGE's frames: two and one hour ago (the newest older than three intervals of 10 min).
GAUGE_TIMES = [NOW_US - 2 * HOUR_US, NOW_US - HOUR_US]
#: CREST's frame, 20 s ago when the module is imported (fresh for three intervals: 30 min, so
#: that it is still fresh when a loaded suite reaches these tests minutes later).
CREST_TIME = NOW_US - 20_000_000
#: The readings a minute before each GAUGE frame, and the newest ones (5 min ago).
READING_TIMES = [GAUGE_TIMES[0] - MINUTE_US, GAUGE_TIMES[1] - MINUTE_US, NOW_US - 5 * MINUTE_US]
READINGS = {
    "WL.level": [131.25, 131.75, 132.5],
    "QIN.flow": [12.5, 14.25, 20.0],
    "QOUT.flow": [8.75, 9.5, 11.0],
    "RG.rain": [0.5, 1.5, 3.0],
}


@dataclass
class Site:
    url: str
    db_url: str
    gauge_frames: list[int]
    crest_frame: int
    alarm: int
    alarm_frames: dict[str, int]


def _jpeg(label: str, shade: int, size: tuple[int, int] = (640, 480)) -> bytes:
    """A real JPEG with its label written on it."""
    width, height = size
    image = np.full((height, width, 3), shade, np.uint8)
    cv2.putText(image, label, (20, height // 2), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (255, 255, 255), 3)
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return data.tobytes()


def _at(time_us: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(time_us / 1e6, dt.UTC)


def _local(time_us: int) -> str:
    """A time as the page writes it: the site's zone, to the minute."""
    return _at(time_us).astimezone(ZONE).strftime("%Y-%m-%d %H:%M")


def _site_text() -> str:
    data = yaml.safe_load(SITE_FILE.read_text(encoding="utf-8"))
    extra = yaml.safe_load(EXTRA)
    data["instruments"] += extra["instruments"]
    data["cameras"] = extra["cameras"]
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def _status(site: Site) -> None:
    """The worker's report on both feeds, written now (a status over a minute old is unwatched)."""
    store = open_store(site.db_url)
    try:
        last_error_at = _at(NOW_US - 30 * MINUTE_US).isoformat()
        store.put_camera_status(store.site().id, {
            "GAUGE": {"connected": False, "fps": 0.0, "frames": 2, "dropped": 3, "reconnects": 7,
                      "last_frame_at": _at(GAUGE_TIMES[1]).isoformat(),
                      "last_error": "connection refused", "last_error_at": last_error_at},
            "CREST": {"connected": True, "fps": 0.1, "frames": 120, "dropped": 0, "reconnects": 0,
                      "last_frame_at": _at(CREST_TIME).isoformat()},
        }, now_us=time.time_ns() // 1000)
    finally:
        store.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The camera site, its frames, readings and alarm, served over HTTP."""
    folder = tmp_path_factory.mktemp("browser-cameras")
    db_url = f"sqlite:///{folder / 'cameras.db'}"
    store = open_store(db_url)
    try:
        text = _site_text()
        store.save_site(parse_site(text, source="cameras.yaml"), text)
        stored = store.site()
        media = MediaLibrary(store, folder / "media")

        def put(data: bytes, source: str, time_us: int, retention: str = "routine") -> int:
            return media.put(data, site_id=stored.id, source=source, taken_at=_at(time_us),
                             retention=retention).id

        gauge = [put(_jpeg(f"GAUGE {n}", 60 + 50 * n), "camera:GAUGE", t)
                 for n, t in enumerate(GAUGE_TIMES)]
        crest = put(_jpeg("CREST", 90, (800, 450)), "camera:CREST", CREST_TIME)
        ids = {c.code: c.id for c in store.channels(stored.id)}
        codes = list(READINGS)
        store.write_readings(ReadingBatch(
            channel_id=np.repeat(np.array([ids[c] for c in codes], np.int64), 3),
            time_us=np.tile(np.array(READING_TIMES, np.int64), len(codes)),
            value=np.array([v for c in codes for v in READINGS[c]]),
            raw=np.full(3 * len(codes), np.nan)))
        alarm = store.record_alarm_step(
            channel_id=ids["CREST.video"], rule="camera.intrusion", kind="raised", level="alarm",
            time_us=CREST_TIME, value=1.0, message="person in zone crest for 6 s")
        frames = {
            "before": put(_jpeg("before", 40, (800, 450)), "camera:CREST/event",
                          CREST_TIME - 2_000_000, "event"),
            "at": put(_jpeg("at", 50, (800, 450)), "camera:CREST/event", CREST_TIME, "event"),
            "annotated": put(_jpeg("annotated", 70, (800, 450)), "camera:CREST/event/annotated",
                             CREST_TIME, "event"),
        }
        store.link_alarm_media(alarm, [(m, role) for role, m in frames.items()])
    finally:
        store.close()
    with http_server(create_app(db_url, media_dir=folder / "media")) as url:
        yield Site(url, db_url, gauge, crest, alarm, frames)


@dataclass
class Tab:
    page: Page
    errors: list[str]


def _open(browser: Browser, site: Site, **context: Any) -> Iterator[Tab]:
    ctx = browser.new_context(base_url=site.url, **context)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield Tab(page, errors)
    ctx.close()


@pytest.fixture
def desk(browser: Browser, site: Site) -> Iterator[Tab]:
    """A control-room sized page."""
    yield from _open(browser, site, viewport={"width": 1440, "height": 1000})


@pytest.fixture
def phone(browser: Browser, site: Site) -> Iterator[Tab]:
    """A phone: 390 x 844, touch."""
    yield from _open(browser, site, viewport={"width": 390, "height": 844}, is_mobile=True,
                     has_touch=True)


def _ready(page: Page, path: str = "/") -> None:
    page.goto(path)
    expect(page.locator("body[data-ready=true]")).to_be_attached(timeout=10_000)


def _shown(img: Locator, media_id: int) -> None:
    """Wait until `img` shows the frame `media_id`, decoded (a real picture, not a broken one)."""
    expect(img).to_have_attribute("data-media-id", str(media_id))
    eventually(lambda: img.evaluate("i => i.complete && i.naturalWidth") > 0, timeout=5,
               what=f"frame {media_id} decoded")


def _values(frame: Locator) -> dict[str, str]:
    """The values drawn over a frame, by quantity, with their units."""
    script = "n => [n.querySelector('.v'), n.querySelector('.u')].map(p => p?.textContent)"
    found: dict[str, str] = {}
    for quantity in ("level", "inflow", "outflow", "rain"):
        value, unit = frame.locator(f'[data-q="{quantity}"]').evaluate(script)
        found[quantity] = f"{value} {unit}"
    return found


def test_the_overview_shows_each_cameras_newest_image_beside_the_values_of_its_minute(
    desk: Tab, site: Site
) -> None:
    _status(site)
    page = desk.page
    _ready(page)
    tiles = page.locator("#camera-tiles .camera-tile")
    expect(tiles).to_have_count(2)
    gauge = page.locator('#camera-tiles .camera-tile[data-camera="GAUGE"]')
    crest = page.locator('#camera-tiles .camera-tile[data-camera="CREST"]')
    _shown(gauge.locator("img"), site.gauge_frames[1])
    _shown(crest.locator("img"), site.crest_frame)

    # the values of the minute of the image, not the newest ones
    assert _values(gauge) == {"level": "131.75 m", "inflow": "14.25 m³/s",
                              "outflow": "9.5 m³/s", "rain": "1.5 mm"}
    expect(gauge.locator(".camera-time")).to_have_text(_local(GAUGE_TIMES[1]))
    assert _values(crest) == {"level": "132.5 m", "inflow": "20 m³/s", "outflow": "11 m³/s",
                              "rain": "3 mm"}
    expect(crest.locator(".camera-time")).to_have_text(_local(CREST_TIME))

    # an hour old on a 10-minute schedule says so; the fresh one does not; the alarm is marked
    expect(gauge.locator(".camera-stale")).to_have_text(re_minutes("stale: {} min old"))
    expect(gauge).to_have_attribute("data-state", "stale")
    expect(crest.locator(".camera-stale")).to_have_count(0)
    expect(crest.locator(".camera-alarm")).to_have_text("intrusion")
    expect(crest).to_have_attribute("data-alarm", "alarm")
    expect(gauge.locator(".camera-name")).to_contain_text("Upstream face and staff gauge")
    expect(gauge.locator(".camera-down")).to_have_text("feed down")

    # the cameras are cameras on the schematic
    expect(page.locator("#schematic .marker.camera")).to_have_count(2)

    # every feed's status
    status = page.locator("#camera-status")
    expect(status.locator("article")).to_have_count(2)
    down = status.locator('article[data-camera="GAUGE"]')
    expect(down).to_have_attribute("data-connected", "false")
    expect(down.locator(".source-error")).to_contain_text("connection refused")
    expect(down.locator('[data-count="dropped"]')).to_have_text("3")
    expect(down.locator('[data-count="reconnects"]')).to_have_text("7")
    up = status.locator('article[data-camera="CREST"]')
    expect(up.locator(".link")).to_have_text("connected")
    expect(up.locator('[data-count="fps"]')).to_have_text("0.1")
    expect(status.locator(".camera-status-summary")).to_have_text(
        "1 of 2 cameras connected · 1 with an old image")

    # the alarm card shows the frame with the zone drawn, and the frames around the event
    card = page.locator(f'#alarm-list li[data-id="{site.alarm}"]')
    _shown(card.locator("img.alarm-frame"), site.alarm_frames["annotated"])
    thumbs = card.locator(".alarm-thumb")
    expect(thumbs).to_have_count(3)
    assert thumbs.evaluate_all("ts => ts.map(t => t.dataset.role)") == [
        "annotated", "before", "at"]
    thumbs.nth(1).click()
    _shown(card.locator("img.alarm-frame"), site.alarm_frames["before"])
    screenshot(page, "cameras-overview")

    page.locator("#lang").click()
    expect(gauge.locator(".camera-name")).to_contain_text("上游面水尺")
    expect(gauge.locator(".camera-stale")).to_have_text(re_minutes("画面过时：{} 分钟前"))
    expect(crest.locator(".camera-alarm")).to_have_text("人员入侵")
    assert _values(gauge)["level"] == "131.75 米"
    screenshot(page, "cameras-overview-zh")
    assert desk.errors == []


def re_minutes(template: str) -> re.Pattern[str]:
    """The stale badge of a frame an hour old: 60 minutes, or more on a slow machine."""
    return re.compile("^" + re.escape(template).replace(r"\{\}", "6[0-9]") + "$")


def test_a_camera_opens_large_and_the_slider_shows_the_frame_and_readings_of_a_past_minute(
    desk: Tab, site: Site
) -> None:
    _status(site)
    page = desk.page
    _ready(page)
    page.locator('#camera-tiles .camera-tile[data-camera="GAUGE"]').click()
    dialog = page.locator("#camera-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("h2")).to_have_text("Upstream face and staff gauge")
    image = dialog.locator(".camera-figure img")
    # now: the newest frame (an hour old, said so) beside the readings of now
    _shown(image, site.gauge_frames[1])
    expect(dialog.locator(".camera-stale")).to_have_text(re_minutes("stale: {} min old"))
    expect(dialog.locator('.camera-readings [data-q="level"] .v')).to_have_text("132.5")
    expect(dialog.locator(".camera-status-one .source-error")).to_contain_text(
        "connection refused")
    expect(dialog.locator(".camera-status-one [data-count=dropped]")).to_have_text("3")
    expect(dialog.locator(".camera-alarms li.empty")).to_have_count(1)
    expect(dialog.locator(".camera-span")).to_contain_text("2 frames")

    # a quarter of an hour after the first frame: that frame, fresh then, and that minute's level
    slider = dialog.locator("#camera-time")
    minute_ms = 60_000
    earlier = (GAUGE_TIMES[0] // 1000 + 15 * minute_ms) // minute_ms * minute_ms
    slider.fill(str(earlier))
    _shown(image, site.gauge_frames[0])
    expect(dialog.locator('.camera-readings [data-q="level"] .v')).to_have_text("131.25")
    expect(dialog.locator('.camera-figure [data-q="level"] .v')).to_have_text("131.25")
    expect(dialog.locator(".camera-stale")).to_have_count(0)
    expect(dialog.locator("#camera-at")).to_have_text(_local(earlier * 1000))

    # before the first frame: no image, and no reading either
    slider.fill(str(earlier - 60 * minute_ms))
    expect(dialog.locator(".camera-empty")).to_have_text("no image at or before this time")
    expect(image).to_be_hidden()
    expect(dialog.locator('.camera-readings [data-q="level"] .v')).to_have_text("—")

    # back to now from the keyboard
    slider.focus()
    page.keyboard.press("End")
    _shown(image, site.gauge_frames[1])
    expect(dialog.locator("#camera-at")).to_have_text("now")
    screenshot(page, "camera-large")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    # the camera on the schematic opens the same view
    page.locator('#schematic .marker[data-instrument="CREST"]').click()
    expect(dialog).to_be_visible()
    expect(dialog.locator("h2")).to_have_text("Crest")
    _shown(image, site.crest_frame)
    expect(dialog.locator(".camera-alarms li")).to_contain_text("person in zone crest")
    assert desk.errors == []


def test_the_phone_shows_the_same_tiles_small_and_a_tap_opens_one(
    phone: Tab, site: Site
) -> None:
    page = phone.page
    _ready(page)
    expect(page.locator("#view-phone")).to_be_visible()
    tiles = page.locator("#phone-camera-tiles .camera-tile")
    expect(tiles).to_have_count(2)
    gauge = page.locator('#phone-camera-tiles .camera-tile[data-camera="GAUGE"]')
    _shown(gauge.locator("img"), site.gauge_frames[1])
    _shown(page.locator('#phone-camera-tiles [data-camera="CREST"] img'), site.crest_frame)
    assert _values(gauge)["level"] == "131.75 m"
    expect(gauge.locator(".camera-stale")).to_be_visible()
    box = gauge.bounding_box()
    assert box is not None and box["width"] < 200, box  # two to a row
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide on a 390 px phone"
    screenshot(page, "cameras-phone")

    gauge.tap()
    dialog = page.locator("#camera-dialog")
    expect(dialog).to_be_visible()
    _shown(dialog.locator(".camera-figure img"), site.gauge_frames[1])
    expect(dialog.locator("#camera-time")).to_be_visible()
    shown = dialog.bounding_box()
    assert shown is not None and shown["width"] <= 390, shown
    screenshot(page, "camera-phone-large")
    dialog.locator("button.close").tap()
    expect(dialog).to_be_hidden()
    assert phone.errors == []


def test_the_page_has_words_for_every_camera_rule_and_what_a_camera_looks_at() -> None:
    """Each in English and Chinese (tests/test_i18n.py checks the two agree in keys)."""
    source = (Path(__file__).parents[1] / "src/shuian/web/static/i18n.js").read_text("utf-8")
    rules = ("intrusion", "debris", "spillway_flow", "no_video", "disagree")
    keys = ["type.camera", *(f"looks_at.{v}" for v in LOOKS_AT),
            *(f"rule.camera.{r}" for r in rules)]
    assert [k for k in keys if source.count(f'"{k}":') != 2] == []


def test_a_frame_analysed_while_the_page_is_open_replaces_the_cameras_image(
    desk: Tab, site: Site
) -> None:
    """The worker keeps a new frame and writes its analysis (a reading on CREST.video): the
    reading's live event brings the new image, without a reload."""
    page = desk.page
    _ready(page)
    expect(page.locator("#live")).to_have_attribute("data-status", "on", timeout=5000)
    crest = page.locator('#camera-tiles .camera-tile[data-camera="CREST"] img')
    _shown(crest, site.crest_frame)
    now_us = time.time_ns() // 1000
    store = open_store(site.db_url)
    try:
        stored = store.site()
        media = MediaLibrary(store, Path(site.db_url.removeprefix("sqlite:///")).parent / "media")
        newer = media.put(_jpeg("CREST new", 120, (800, 450)), site_id=stored.id,
                          source="camera:CREST", taken_at=_at(now_us)).id
        store.write_readings(ReadingBatch(
            channel_id=np.array([store.channel(stored.id, "CREST.video").id], np.int64),
            time_us=np.array([now_us], np.int64), value=np.array([1.0]), raw=np.full(1, np.nan)))
    finally:
        store.close()
    _shown(crest, newer)
    expect(page.locator('#camera-tiles [data-camera="CREST"] .camera-time')).to_have_text(
        _local(now_us))
    assert desk.errors == []
