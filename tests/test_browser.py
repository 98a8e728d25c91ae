"""The dashboard in a real browser (Chromium through Playwright) against a real server.

One uvicorn server in a thread serves the Shimenzi demo (60 days, synthetic) from an SQLite
file for the whole module; each test opens a fresh browser page. Screenshots go to
``test-artifacts/`` for a person to look at.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from conftest import http_server, screenshot
from shuian.api import create_app
from shuian.services.demo import build_demo, demo_site_text
from shuian.site import parse_site
from shuian.store import open_store


@dataclass
class Server:
    url: str
    db_url: str
    instruments: list[str]
    admin: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The demo site served over HTTP on a free local port."""
    db_url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'demo.db'}"
    store = open_store(db_url)
    summary = build_demo(store, days=400)  # over a year: the models can be fitted
    instruments = [i.code for i in summary.stored.site.instruments]
    admin = {"username": "admin", "password": summary.admin_password or ""}
    store.close()
    with http_server(create_app(db_url)) as url:
        yield Server(url, db_url, instruments, admin)


@dataclass
class Tab:
    page: Page
    errors: list[str]


def _open(browser: Browser, server: Server, **context: Any) -> Tab:
    ctx = browser.new_context(base_url=server.url, **context)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"{m.text} {m.location.get('url', '')}")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return Tab(page, errors)


@pytest.fixture
def tab(browser: Browser, server: Server) -> Iterator[Tab]:
    """A control-room sized page."""
    tab = _open(browser, server, viewport={"width": 1440, "height": 1000})
    yield tab
    tab.page.context.close()


def _ready(page: Page, path: str = "/") -> None:
    page.goto(path)
    expect(page.locator("body[data-ready=true]")).to_be_attached(timeout=10_000)


# --- writing to the API ------------------------------------------------------------------------
# Writes need a logged-in operator: the demo creates the user ``admin`` with a generated password
# (``DemoSummary.admin_password``); the tests log in with it, through the API or the page's
# sign-in dialog.


def _post(server: Server, path: str, body: Any) -> httpx.Response:
    """POST as the demo admin (logging in on the first 401)."""
    response = httpx.post(server.url + path, json=body, headers=server.headers, timeout=10)
    if response.status_code == 401:
        login = httpx.post(server.url + "/api/auth/login", json=server.admin, timeout=10)
        assert login.status_code == 200, login.text
        server.headers["Authorization"] = f"Bearer {login.json()['token']}"
        response = httpx.post(server.url + path, json=body, headers=server.headers, timeout=10)
    return response


def _login_if_asked(page: Page, server: Server) -> None:
    """Fill the page's sign-in dialog when a write asked for it (auth in place)."""
    dialog = page.locator("dialog#login")
    try:
        dialog.wait_for(state="visible", timeout=1000)
    except Exception:  # noqa: BLE001 - no dialog: writes are open
        return
    dialog.locator("input[name=username]").fill(server.admin["username"])
    dialog.locator("input[name=password]").fill(server.admin["password"])
    dialog.locator("button[value=login]").click()


# --- the tests ---------------------------------------------------------------------------------


def test_dashboard_loads_without_errors_with_a_marker_per_instrument(
    tab: Tab, server: Server
) -> None:
    page = tab.page
    _ready(page)
    markers = page.locator("#schematic svg .marker")
    expect(markers).to_have_count(len(server.instruments))
    drawn = set(markers.evaluate_all("nodes => nodes.map(n => n.dataset.instrument)"))
    assert drawn == set(server.instruments)
    expect(page.locator("#synthetic")).to_be_visible()
    expect(page.locator("#synthetic")).to_contain_text("SYNTHETIC DATA")
    expect(page.locator("#reservoir .gauge")).to_be_visible()
    expect(page.locator("#latest tbody tr")).to_have_count(
        len(httpx.get(server.url + "/api/channels").json())
    )
    expect(page.locator("#schematic-legend li")).to_have_count(7)
    screenshot(page, "dashboard")
    assert tab.errors == []


def test_a_posted_reading_appears_without_reload(tab: Tab, server: Server) -> None:
    paths = httpx.get(server.url + "/openapi.json").json()["paths"]
    if "/api/events" not in paths:
        pytest.skip("GET /api/events (live event stream) is not served yet")
    page = tab.page
    _ready(page)
    expect(page.locator("#live")).to_have_attribute("data-status", "on", timeout=5000)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    response = _post(server, "/api/readings",
                      {"readings": [{"channel": "PL1.R", "time": now, "value": 42.125}]})
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1
    cell = page.locator('#latest tr[data-code="PL1.R"] .value')
    expect(cell).to_have_text("42.125", timeout=2000)
    assert tab.errors == []


def test_a_channel_whose_newest_reading_is_flagged_shows_as_suspect(
    tab: Tab, server: Server
) -> None:
    latest = {row["code"]: row for row in httpx.get(server.url + "/api/latest").json()}
    code = "T3"  # a thermometer no other test writes to
    response = _post(server, f"/api/channels/{code}/flags",
                     {"time": latest[code]["time"], "comment": "sensor being replaced"})
    assert response.status_code == 200, response.text
    page = tab.page
    _ready(page)
    badge = page.locator(f'#latest tr[data-code="{code}"] .state')
    expect(badge).to_have_text("suspect")
    assert tab.errors == []


def test_an_alarm_is_acknowledged_from_the_page(tab: Tab, server: Server) -> None:
    store = open_store(server.db_url)
    try:
        stored = store.site()
        channel = store.channel(stored.id, "PZ2")
        alarm_id = store.record_alarm_step(
            channel_id=channel.id, rule="threshold", kind="raised", level="warning",
            time_us=int(time.time() * 1e6), value=1372.5,
            message="PZ2 above its warning threshold (browser test)",
        )
    finally:
        store.close()
    page = tab.page
    _ready(page)
    item = page.locator(f'#alarm-list li[data-id="{alarm_id}"]')
    expect(item).to_be_visible()
    expect(page.locator('#schematic .marker[data-instrument="PZ2"]')).to_have_class(
        "marker state-warning"
    )
    item.locator("input[name=comment]").fill("checked the gauge on site")
    item.locator("button.ack").click()
    _login_if_asked(page, server)
    expect(item).to_have_attribute("data-state", "acknowledged")
    expect(item).to_contain_text("acknowledged by")
    answer = httpx.get(f"{server.url}/api/alarms/{alarm_id}").json()
    assert answer["state"] == "acknowledged"
    assert answer["acknowledge_comment"] == "checked the gauge on site"
    login = httpx.post(f"{server.url}/api/auth/login", json=server.admin).json()
    audit = httpx.get(f"{server.url}/api/audit",
                      headers={"Authorization": f"Bearer {login['token']}"}).json()
    entries = audit if isinstance(audit, list) else audit.get("items", audit.get("entries"))
    assert any(e["action"] == "alarm.acknowledge" and e["actor"] == "admin"
               and str(alarm_id) in e["target"] for e in entries)


def test_open_alarms_are_listed_worst_first_each_with_the_value_now(
    tab: Tab, server: Server
) -> None:
    now_us = int(time.time() * 1e6)
    store = open_store(server.db_url)
    try:
        stored = store.site()
        worst = store.record_alarm_step(
            channel_id=store.channel(stored.id, "T1").id, rule="threshold", kind="raised",
            level="alarm", time_us=now_us - 3_600_000_000, value=41.0,
            message="T1 above its alarm threshold (browser test)",
        )
        newer = store.record_alarm_step(
            channel_id=store.channel(stored.id, "J1").id, rule="threshold", kind="raised",
            level="attention", time_us=now_us, value=0.5,
            message="J1 above its attention threshold (browser test)",
        )
    finally:
        store.close()
    latest = {row["code"]: row for row in httpx.get(server.url + "/api/latest").json()}
    page = tab.page
    _ready(page)
    ids = page.locator("#alarm-list li.alarm").evaluate_all("items => items.map(i => i.dataset.id)")
    assert ids.index(str(worst)) < ids.index(str(newer)), ids
    card = page.locator(f'#alarm-list li[data-id="{worst}"]')
    now = f"now {round(latest['T1']['value'], 3):g} °C"
    expect(card.locator(".alarm-now")).to_have_text(now)
    expect(card.locator(".alarm-value")).to_have_text("at the alarm 41 °C")
    api = httpx.get(server.url + "/api/alarms", params={"state": "open"}).json()
    levels = [a["level"] for a in api]
    rank = {"alarm": 3, "warning": 2, "attention": 1}
    assert levels == sorted(levels, key=lambda name: -rank[name]), levels
    assert tab.errors == []


def test_the_instrument_view_charts_the_model_and_zooms(tab: Tab) -> None:
    page = tab.page
    _ready(page, "/#/instrument/PZ1")
    chart = page.locator("#history-chart svg")
    expect(chart.locator("path.line")).to_have_count(3)  # measured, model, second series
    expect(chart.locator("path.band")).to_have_count(2)  # 2σ and 3σ envelopes
    expect(page.locator("#components-chart svg path.line")).not_to_have_count(0)
    expect(page.locator("#history-note")).to_contain_text("HST")
    box = chart.bounding_box()
    assert box is not None
    with page.expect_request(lambda r: "/readings" in r.url and "end=" in r.url):
        page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.5)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5, steps=5)
        page.mouse.up()
    expect(page.locator("#history-chart svg path.line")).to_have_count(3)
    screenshot(page, "instrument")
    assert tab.errors == []


def test_the_hydrology_view_routes_a_flood(tab: Tab) -> None:
    page = tab.page
    _ready(page, "/#/hydrology")
    expect(page.locator("#hydro-level svg path.line")).to_have_count(1)
    expect(page.locator("#hydro-flows svg path.line")).to_have_count(2)
    page.locator("#route-peak").fill("400")
    page.locator("#route-volume").fill("1500")
    page.locator(".route-form button[type=submit]").click()
    # The first routing compiles the numba loop: seconds on a loaded machine. Wait on the form's
    # own state, not on a guess of how long that takes.
    expect(page.locator(".route-form")).to_have_attribute(
        "data-state", re.compile("done|failed"), timeout=60_000
    )
    expect(page.locator(".route-form")).to_have_attribute("data-state", "done")
    expect(page.locator("#route-chart svg path.line")).to_have_count(3)
    expect(page.locator("#route-summary")).to_contain_text("400")
    screenshot(page, "hydrology")
    assert tab.errors == []


def test_the_phone_layout_has_summary_alarms_and_the_manual_form(
    browser: Browser, server: Server
) -> None:
    tab = _open(browser, server, viewport={"width": 390, "height": 844}, is_mobile=True,
                has_touch=True)
    page = tab.page
    try:
        _ready(page)
        for part in ("#phone-summary", "#phone-alarms", "#phone-search", "#manual-form"):
            expect(page.locator(part)).to_be_visible()
        expect(page.locator("#phone-summary dd").first).not_to_be_empty()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page is {width} px wide on a 390 px phone"

        page.locator("#phone-search").fill("weir")
        expect(page.locator("#search-results li")).to_have_count(2)

        form = page.locator("#manual-form")
        form.locator("select").select_option("WE1")
        form.locator("#manual-value").fill("3.25")
        form.locator("button[type=submit]").click()
        _login_if_asked(page, server)
        expect(page.locator("#manual-messages li").first).to_contain_text("accepted")

        form.locator("#manual-value").fill("250")  # above the weir's limit of 100 L/s
        form.locator("button[type=submit]").click()
        expect(page.locator("#manual-messages li.bad").first).to_contain_text("Rejected")

        page.context.set_offline(True)
        form.locator("#manual-time").fill("2020-01-01T08:00")
        form.locator("#manual-value").fill("3.5")
        form.locator("button[type=submit]").click()
        expect(page.locator("#queue-count")).to_have_text("1 waiting to be sent")
        screenshot(page, "phone")
        page.context.set_offline(False)
        expect(page.locator("#queue-count")).to_have_text("nothing waiting", timeout=5000)
        got = httpx.get(server.url + "/api/channels/WE1/readings",
                        params={"start": "2020-01-01T08:00", "end": "2020-01-01T08:01"}).json()
        assert got["values"] == [3.5]
    finally:
        page.context.close()
    rejected = [e for e in tab.errors if "Failed to load resource" not in e]
    assert rejected == []


def _session_cookies(page: Page) -> list[Any]:
    return [c for c in page.context.cookies() if c["name"] == "shuian_session"]


def _write_status(page: Page) -> int:
    """POST an empty batch of readings from the page, with what the browser sends by itself."""
    status: int = page.evaluate("""() => fetch("/api/readings", {
        method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify({readings: []}),
    }).then((r) => r.status)""")
    return status


def test_the_page_signs_in_with_the_cookie_only_and_signs_out(tab: Tab, server: Server) -> None:
    page = tab.page
    _ready(page)
    expect(page.locator("#account")).to_be_hidden()
    page.evaluate("""() => { window.written = import("/static/api.js")
        .then((api) => api.postJSON("/api/readings", {readings: []})); }""")
    _login_if_asked(page, server)  # the write answered 401: the page asks to sign in
    assert page.evaluate("window.written")["accepted"] == 0
    expect(page.locator("#account-name")).to_have_text("admin")

    (cookie,) = _session_cookies(page)
    assert cookie["httpOnly"] and cookie["sameSite"] in {"Lax", "Strict"}
    assert cookie["path"] == "/" and not cookie["secure"]  # plain http here
    # No script can read it (the page's own language choice, shuian_lang, is all it sees).
    assert "shuian_session" not in page.evaluate("document.cookie")
    kept = page.evaluate("""() => JSON.stringify([{...localStorage}, {...sessionStorage}])""")
    assert cookie["value"] not in kept and "token" not in kept.lower(), kept
    assert _write_status(page) == 200  # the cookie alone authenticates

    page.locator("#lang").click()
    expect(page.locator("#logout")).to_have_text("退出登录")
    page.locator("#lang").click()
    expect(page.locator("#logout")).to_have_text("Sign out")
    page.locator("#logout").click()
    expect(page.locator("#account")).to_be_hidden()
    assert _session_cookies(page) == []
    assert _write_status(page) == 401
    ended = httpx.get(server.url + "/api/auth/me",
                      headers={"Authorization": f"Bearer {cookie['value']}"})
    assert ended.status_code == 401  # ended on the server, not only forgotten by the browser
    page.reload()
    expect(page.locator("body[data-ready=true]")).to_be_attached()
    expect(page.locator("#account")).to_be_hidden()
    assert [e for e in tab.errors if "401" not in e] == []


def test_the_language_switch_changes_the_labels_and_is_remembered(tab: Tab) -> None:
    page = tab.page
    _ready(page)
    nav = page.locator("nav.main a[data-view=overview]")
    expect(nav).to_have_text("Overview")
    page.locator("#lang").click()
    expect(nav).to_have_text("总览")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("#view-overview h2").first).to_have_text("大坝与测点")
    expect(page.locator('#latest tr[data-code="PZ1"]')).to_contain_text("渗压计")
    page.reload()
    expect(page.locator("body[data-ready=true]")).to_be_attached()
    expect(nav).to_have_text("总览")
    screenshot(page, "chinese")
    page.locator("#lang").click()
    expect(nav).to_have_text("Overview")
    expect(page.locator("#view-overview h2").first).to_have_text("Dam and instruments")
    assert tab.errors == []


def test_the_bureau_sees_every_reservoir_and_opens_one(tab: Tab, server: Server) -> None:
    """Several reservoirs in one store: the overview lists them with their worst open alarm."""
    text = demo_site_text().replace("code: shimenzi", "code: second", 1)
    text = text.replace("name: Shimenzi Reservoir", "name: Second Reservoir", 1)
    store = open_store(server.db_url)
    try:
        store.save_site(parse_site(text), text)
    finally:
        store.close()
    page = tab.page
    _ready(page, "/#/sites")
    cards = page.locator(".site-card")
    expect(cards).to_have_count(2)
    expect(page.locator('.site-card[data-site="shimenzi"]')).to_contain_text("Shimenzi")
    screenshot(page, "reservoirs")
    page.locator('.site-card[data-site="second"]').click()
    expect(page.locator("body[data-ready=true]")).to_be_attached()
    expect(page.locator("header")).to_contain_text("Second Reservoir")
    page.evaluate("localStorage.removeItem('shuian.site')")
    assert tab.errors == []
