"""Live updates and several reservoirs in one store.

A real uvicorn server runs the API in a thread; a reading stored by any path (here the ingest
service in this process, as the CLI or telemetry would do from theirs) reaches an event-stream
subscriber within 2 s; alarm steps are streamed too. ``GET /api/sites`` lists every reservoir
with its worst open alarm, and ``?site=`` scopes the other endpoints.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from conftest import SITE_FILE, http_server
from shuian.api import create_app
from shuian.services.ingest import Ingestor
from shuian.site import parse_site
from shuian.store import Store


@pytest.fixture
def server(store_url: str, stored_site: Any) -> Iterator[str]:
    with http_server(create_app(store_url)) as url:
        yield url


def listen(url: str, found: list[tuple[float, str, dict[str, Any]]], ready: threading.Event,
           wanted: int) -> None:
    """Collect reading/alarm events from the stream until ``wanted`` arrived (or 10 s)."""
    with httpx.stream("GET", f"{url}/api/events", timeout=10) as response:
        kind = ""
        for line in response.iter_lines():
            if line.startswith("event:"):
                kind = line.removeprefix("event:").strip()
                if kind == "hello":
                    ready.set()
            elif line.startswith("data:") and kind in ("reading", "alarm"):
                found.append((time.perf_counter(), kind, json.loads(line.removeprefix("data:"))))
                if len(found) >= wanted:
                    return


def test_a_stored_reading_reaches_a_live_display_within_2_seconds(
    server: str, store: Store
) -> None:
    found: list[tuple[float, str, dict[str, Any]]] = []
    ready = threading.Event()
    thread = threading.Thread(target=listen, args=(server, found, ready, 1), daemon=True)
    thread.start()
    assert ready.wait(5)
    time.sleep(0.6)  # the watcher has taken note of the store as it is
    stamp = dt.datetime.now(dt.UTC).replace(microsecond=0)
    stored_at = time.perf_counter()
    report = Ingestor(store, store.site()).ingest_records(
        [{"channel": "WL.level", "time": stamp.isoformat(), "value": 123.4}], source="test"
    )
    assert report.accepted == 1
    thread.join(5)
    (arrived, kind, data), *_ = found
    assert kind == "reading"
    assert data == {"site": "testres", "channel": "WL.level",
                    "time": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"), "value": 123.4}
    assert arrived - stored_at < 2.0


def test_alarm_steps_are_streamed(server: str, store: Store) -> None:
    found: list[tuple[float, str, dict[str, Any]]] = []
    ready = threading.Event()
    thread = threading.Thread(target=listen, args=(server, found, ready, 1), daemon=True)
    thread.start()
    assert ready.wait(5)
    time.sleep(0.6)
    channel = store.channel(store.site().id, "WL.level")
    store.record_alarm_step(channel_id=channel.id, rule="threshold", kind="raised",
                            level="warning", time_us=1_700_000_000_000_000, value=149.0,
                            message="WL.level 149 m is above the warning limit 148")
    thread.join(5)
    (_, kind, data), *_ = found
    assert kind == "alarm"
    assert (data["channel"], data["kind"], data["state"]) == ("WL.level", "raised", "raised")


def second_site(tmp_path: Path) -> str:
    data = yaml.safe_load(SITE_FILE.read_text(encoding="utf-8"))
    data["reservoir"] |= {"code": "second", "name": "Second Reservoir", "name_zh": "第二水库"}
    return yaml.safe_dump(data, allow_unicode=True)


def test_the_overview_lists_every_reservoir_with_its_worst_alarm(
    server: str, store: Store, tmp_path: Path
) -> None:
    text = second_site(tmp_path)
    store.save_site(parse_site(text), text)
    second = store.site("second")
    channel = store.channel(second.id, "P1.head")
    for level in ("warning", "alarm"):
        store.record_alarm_step(channel_id=channel.id, rule="threshold", kind="raised",
                                level=level, time_us=1_700_000_000_000_000, value=1.0,
                                message=f"a {level}")
        channel = store.channel(second.id, "WL.level")
    sites = {s["code"]: s for s in httpx.get(f"{server}/api/sites").json()}
    assert set(sites) == {"testres", "second"}
    assert sites["testres"]["open_alarms"] == 0 and sites["testres"]["worst_alarm"] is None
    assert sites["second"]["open_alarms"] == 2
    assert sites["second"]["worst_alarm"]["level"] == "alarm"
    assert sites["second"]["name_zh"] == "第二水库"


def test_every_endpoint_is_scoped_to_a_reservoir(
    server: str, store: Store, tmp_path: Path
) -> None:
    text = second_site(tmp_path)
    store.save_site(parse_site(text), text)
    site = httpx.get(f"{server}/api/site", params={"site": "second"}).json()
    assert site["reservoir"]["code"] == "second"
    assert httpx.get(f"{server}/api/site").json()["reservoir"]["code"] == "testres"
    missing = httpx.get(f"{server}/api/channels", params={"site": "nowhere"})
    assert missing.status_code == 404
    assert "nowhere" in missing.json()["error"]["message"]
