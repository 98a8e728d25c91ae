"""The telemetry status on the dashboard, in a real browser against a real server and broker.

Three servers of the small test site for the module, each over its own SQLite file: one whose
MQTT source subscribes to the real Mosquitto at 127.0.0.1:1883 (beside a real SL 651
listener with two stations), one whose broker is a closed port, and one running no listener. The
page polls ``GET /api/telemetry`` every ``?telemetry_ms=`` (300 ms here instead of 10 s).
"""

from __future__ import annotations

import datetime as dt
import re
import socket
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from playwright.sync_api import Browser, Page, expect

from conftest import ARTIFACTS, SITE_FILE, eventually, http_server, screenshot
from shuian.api import create_app
from shuian.services.telemetry import Listeners
from shuian.site import parse_site
from shuian.store import open_store
from test_mqtt import T0, reading, send
from test_sl651_listener import answer, report

FAST = "/?telemetry_ms=300"
STATUS_FIELDS = {"kind", "endpoint", "connected", "messages", "accepted", "duplicates",
                 "rejected", "failures", "last_message_at", "last_error"}
CREST, QUIET = "0012345678", "0087654321"
SL651 = {"host": "127.0.0.1", "port": 0, "stations": [
    {"address": CREST, "name": "dam crest RTU", "elements": {"39": "WL.level"}},
    {"address": QUIET, "elements": {"39": "WL.level"}},
]}


@dataclass
class Server:
    url: str
    listeners: Listeners | None = None
    topic: str = ""
    crest_address: str = ""


@contextmanager
def _serve(
    directory: Path, mqtt: dict[str, Any] | None, sl651: dict[str, Any] | None = None
) -> Iterator[Server]:
    """Serve the test site; with ``mqtt`` settings, run its listeners beside the app."""
    url = f"sqlite:///{directory / 'shuian.db'}"
    site = yaml.safe_load(SITE_FILE.read_text(encoding="utf-8"))
    if mqtt is not None:
        site["telemetry"] = {"mqtt": mqtt, "sl651": sl651}
    text = yaml.safe_dump(site, allow_unicode=True)
    store = open_store(url)
    store.save_site(parse_site(text), text)
    listeners = None
    if mqtt is not None:
        listeners = Listeners(store, store.site())
        listeners.start()
    try:
        with http_server(create_app(url, listeners=[listeners] if listeners else [])) as served:
            yield Server(served, listeners)
    finally:
        if listeners is not None:
            listeners.stop()
        store.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """MQTT from the real broker (subscribed), and an SL 651 listener with two stations: the
    crest RTU connected after a good report, the other gone after a report with a bad CRC."""
    topic = f"shuian-test/{uuid.uuid4().hex}"
    mqtt = {"client_id": f"shuian-test-{uuid.uuid4().hex[:12]}", "topics": [f"{topic}/#"]}
    with _serve(tmp_path_factory.mktemp("live"), mqtt, SL651) as s:
        eventually(lambda: httpx.get(f"{s.url}/api/telemetry").json()["mqtt"]["connected"])
        s.topic = topic
        assert s.listeners is not None
        port = s.listeners.sources["sl651"].port  # type: ignore[attr-defined]
        with socket.create_connection(("127.0.0.1", port), timeout=10) as crest:
            # a day after the MQTT reading of the tests, so that one is not a duplicate
            crest.sendall(report(station=CREST, observed=dt.datetime(2024, 3, 2, 8)))
            answer(crest)
            with socket.create_connection(("127.0.0.1", port), timeout=10) as quiet:
                bad = bytearray(report(station=QUIET))
                bad[-1] ^= 0xFF
                quiet.sendall(bytes(bad))
                answer(quiet)
            s.crest_address = f"127.0.0.1:{crest.getsockname()[1]}"
            yield s


@pytest.fixture(scope="module")
def down(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """An MQTT source whose broker is a closed port."""
    mqtt = {"port": 1, "client_id": f"shuian-test-{uuid.uuid4().hex[:12]}",
            "topics": ["shuian-test/none/#"]}
    with _serve(tmp_path_factory.mktemp("down"), mqtt) as s:
        eventually(lambda: httpx.get(f"{s.url}/api/telemetry").json()["mqtt"]["last_error"])
        yield s


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """No listener at all."""
    with _serve(tmp_path_factory.mktemp("bare"), None) as s:
        yield s


@contextmanager
def _page(browser: Browser, server: Server, path: str, **context: Any) -> Iterator[Page]:
    """A fresh page at ``path``, ready; fails on any error the page logs."""
    ctx = browser.new_context(base_url=server.url, **context)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(path)
        expect(page.locator("body[data-ready=true]")).to_be_attached(timeout=10_000)
        yield page
    finally:
        ctx.close()
    assert errors == []


def _overview(browser: Browser, server: Server) -> AbstractContextManager[Page]:
    return _page(browser, server, f"{FAST}#/overview", viewport={"width": 1440, "height": 1000})


def _phone(browser: Browser, server: Server) -> AbstractContextManager[Page]:
    return _page(browser, server, f"{FAST}#/phone", viewport={"width": 390, "height": 844},
                 is_mobile=True, has_touch=True)


# --- the API ------------------------------------------------------------------------------------


def test_the_api_answers_each_sources_status_with_its_fields(live: Server) -> None:
    status = httpx.get(f"{live.url}/api/telemetry").json()
    mqtt = status["mqtt"]
    assert STATUS_FIELDS <= set(mqtt), mqtt
    assert (mqtt["kind"], mqtt["endpoint"], mqtt["connected"]) == ("mqtt", "127.0.0.1:1883", True)
    assert all(isinstance(mqtt[k], int) for k in ("messages", "accepted", "rejected", "failures"))
    assert status["sl651"]["peers"][0]["station"] == "0012345678"


def test_the_api_answers_an_empty_object_without_listeners(bare: Server) -> None:
    assert httpx.get(f"{bare.url}/api/telemetry").json() == {}


# --- the overview panel -------------------------------------------------------------------------


def test_the_panel_shows_the_connected_source_and_follows_a_published_reading(
    browser: Browser, live: Server
) -> None:
    with _overview(browser, live) as page:
        panel = page.locator("#telemetry")
        expect(panel).to_be_visible()
        expect(panel.locator("h2")).to_have_text("Telemetry")
        mqtt = panel.locator('article[data-source="mqtt"]')
        expect(mqtt.locator("h3")).to_have_text("mqtt")
        expect(mqtt.locator(".source-kind")).to_have_text("MQTT")
        expect(mqtt.locator(".source-endpoint")).to_have_text("127.0.0.1:1883")
        expect(mqtt.locator(".source-head .link")).to_have_text("connected")
        expect(mqtt).to_have_attribute("data-state", "ok")
        expect(mqtt.locator(".source-error")).to_be_hidden()
        expect(mqtt.locator('[data-count="messages"]')).to_have_text("0")
        expect(mqtt.locator(".source-last time")).to_have_text("never")

        send(f"{live.topic}/WL.level", reading(T0))
        expect(mqtt.locator('[data-count="messages"]')).to_have_text("1", timeout=5000)
        expect(mqtt.locator('[data-count="accepted"]')).to_have_text("1")
        expect(mqtt.locator('[data-count="rejected"]')).to_have_text("0")
        expect(mqtt.locator('[data-count="failures"]')).to_have_text("0")
        last = mqtt.locator(".source-last time")
        expect(last).to_have_text(re.compile(r"^\d+ s ago$"))
        expect(last).to_have_attribute("title", re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d \(Asia"))
        expect(page.locator("#telemetry-summary")).to_have_text("2 of 2 connected")
        screenshot(page, "telemetry")

        page.locator("#lang").click()
        expect(panel.locator("h2")).to_have_text("遥测")
        expect(mqtt.locator(".source-head .link")).to_have_text("已连接")
        expect(last).to_have_text(re.compile(r"^\d+ 秒前$"))


def test_the_panel_lists_the_stations_of_a_source_with_peers(
    browser: Browser, live: Server
) -> None:
    with _overview(browser, live) as page:
        sl651 = page.locator('#telemetry article[data-source="sl651"]')
        expect(sl651.locator(".source-kind")).to_have_text("SL 651")
        expect(sl651.locator(".source-head .link")).to_have_text("listening")
        table = sl651.locator(".peers table")
        expect(table.locator("thead th")).to_have_count(8)
        expect(table.locator("tbody tr")).to_have_count(2)
        crest = table.locator(f'tr[data-station="{CREST}"]')
        expect(crest).to_contain_text("dam crest RTU")
        expect(crest).to_contain_text(live.crest_address)
        expect(crest.locator(".link")).to_have_text("connected")
        expect(crest.locator("time")).to_have_text(re.compile(r"ago$"))
        # its report was sent on 2024-03-02: the station's clock is years behind the centre's
        expect(crest.locator(".clock-off")).to_have_text(re.compile(r"^−\d+ d$"))
        quiet = table.locator(f'tr[data-station="{QUIET}"]')
        expect(quiet).to_have_class("problem")
        expect(quiet.locator(".link")).to_have_text("disconnected")
        expect(quiet).to_contain_text("CRC mismatch: computed")
        # no station in the mqtt block
        expect(page.locator('#telemetry article[data-source="mqtt"] .peers')).to_be_hidden()


def test_a_source_at_a_closed_port_is_shown_disconnected_with_its_error(
    browser: Browser, down: Server
) -> None:
    with _overview(browser, down) as page:
        mqtt = page.locator('#telemetry article[data-source="mqtt"]')
        expect(mqtt).to_have_attribute("data-state", "problem")
        expect(mqtt.locator(".source-head .link")).to_have_text("disconnected")
        expect(mqtt.locator(".source-head .link")).to_have_class(re.compile(r"state-alarm"))
        error = mqtt.locator(".source-error")
        expect(error).to_be_visible()
        expect(error).to_contain_text("Last error:")
        expect(error).to_contain_text("cannot reach the MQTT broker at 127.0.0.1:1")
        expect(page.locator("#telemetry-summary")).to_have_text(
            "0 of 1 connected · 1 with a problem")
        screenshot(page, "telemetry-down")


def test_without_listeners_the_panel_is_absent(browser: Browser, bare: Server) -> None:
    with _overview(browser, bare) as page:
        expect(page.locator("#alarm-list")).to_be_visible()
        expect(page.locator("#telemetry")).to_be_hidden()
    with _phone(browser, bare) as page:
        expect(page.locator("#phone-summary")).to_be_visible()
        expect(page.locator("#phone-telemetry")).to_be_hidden()


# --- the phone line -----------------------------------------------------------------------------


def test_the_phone_view_sums_the_sources_up_in_one_line(browser: Browser, live: Server) -> None:
    with _phone(browser, live) as page:
        line = page.locator("#phone-telemetry")
        expect(line).to_have_text(re.compile(
            r"^Telemetry: 2/2 connected, last (\d+ s|\d+ min|\d+ h|\d+ d) ago$"))
        expect(line).not_to_have_class(re.compile("problem"))
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page is {width} px wide on a 390 px phone"


def test_the_phone_line_names_a_source_in_trouble(browser: Browser, down: Server) -> None:
    with _phone(browser, down) as page:
        line = page.locator("#phone-telemetry")
        expect(line).to_have_text("Telemetry: 0/1 connected, no message yet · problem: mqtt")
        expect(line).to_have_class(re.compile("problem"))
        screenshot(page, "telemetry-phone")


def test_the_panel_fits_a_phone_width(browser: Browser, live: Server) -> None:
    with _page(browser, live, f"{FAST}#/overview", viewport={"width": 390, "height": 844},
               is_mobile=True, has_touch=True) as page:
        expect(page.locator('#telemetry article[data-source="sl651"] .peers')).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page is {width} px wide on a 390 px phone"
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator("#telemetry").screenshot(path=str(ARTIFACTS / "telemetry-narrow.png"))
