"""Specification of the HTTP API, on SQLite and on PostgreSQL.

The test site (tests/data/site.yaml) is in Asia/Shanghai (UTC+8); ``WL.level`` is a water level
in metres with physical limits 90..150 m.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

from conftest import Api, login_as
from shuian import __version__
from shuian.web import STATIC_DIR


@pytest.fixture
def client(operator: Api) -> Api:
    """These tests read and post readings as an operator (tests/test_auth.py: who may)."""
    return operator


def post(client: Api, *readings: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/readings", json={"readings": list(readings)})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def level(time: str, value: Any) -> dict[str, Any]:
    return {"channel": "WL.level", "time": time, "value": value}


# -- health, site, channels --------------------------------------------------------------------


def test_health_names_the_version_database_and_site(client: Api, store_url: str) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "version": __version__,
        "database": "sqlite" if store_url.startswith("sqlite") else "postgresql",
        "site": "testres",
    }


def test_health_answers_before_any_site_is_stored(empty_client: Api) -> None:
    response = empty_client.get("/api/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["site"] is None


def test_site_gives_reservoir_dam_and_instruments(client: Api) -> None:
    site = client.get("/api/site").json()
    reservoir = site["reservoir"]
    assert (reservoir["code"], reservoir["name"], reservoir["name_zh"]) == (
        "testres",
        "Test Reservoir",
        "测试水库",
    )
    assert reservoir["timezone"] == "Asia/Shanghai"
    assert reservoir["synthetic"] is False
    assert reservoir["levels"]["normal"] == 140.0
    assert reservoir["storage_curve"][1] == {"level": 110.0, "storage": 2.0e6, "area": 2.0e5}
    assert site["dam"]["type"] == "gravity"
    assert [s["code"] for s in site["dam"]["sections"]] == ["B1", "B2"]
    piezometer = next(i for i in site["instruments"] if i["code"] == "P1")
    assert piezometer["installed"] == "2010-05-01"
    assert piezometer["channels"][0]["conversion"]["kind"] == "vw_linear"


def test_channels_list_every_channel_with_unit_and_limits(client: Api) -> None:
    channels = client.get("/api/channels").json()
    assert [c["code"] for c in channels] == sorted(c["code"] for c in channels)
    assert len(channels) == 8
    assert channels[[c["code"] for c in channels].index("WL.level")] == {
        "code": "WL.level",
        "instrument": "WL",
        "type": "water_level",
        "quantity": "water_level",
        "unit": "m",
        "limit_min": 90.0,
        "limit_max": 150.0,
    }


# -- pushing and reading back --------------------------------------------------------------------


def test_posted_readings_come_back_exactly_with_utc_times(client: Api) -> None:
    report = post(
        client,
        level("2024-03-01T08:00:00+08:00", 120.25),  # an offset
        level("2024-03-01T09:00:00", "120.5"),  # no offset: the site's zone; a number as text
        level("2024-03-01T02:00:00Z", 120.75),  # UTC
    )
    assert report == {"accepted": 3, "duplicates": 0, "rejected": 0, "rejections": []}

    body = client.get("/api/channels/WL.level/readings").json()
    assert body == {
        "channel": "WL.level",
        "unit": "m",
        "timezone": "Asia/Shanghai",
        "count": 3,
        "returned": 3,
        "downsampled": False,
        "times": ["2024-03-01T00:00:00Z", "2024-03-01T01:00:00Z", "2024-03-01T02:00:00Z"],
        "values": [120.25, 120.5, 120.75],
    }


def test_times_keep_their_fraction_of_a_second(client: Api) -> None:
    post(client, level("2024-03-01T00:00:00.250Z", 120.0), level("2024-03-01T00:00:01Z", 121.0))
    times = client.get("/api/channels/WL.level/readings").json()["times"]
    assert times == ["2024-03-01T00:00:00.250Z", "2024-03-01T00:00:01.000Z"]


def test_start_is_included_end_excluded_and_local_without_offset(client: Api) -> None:
    post(client, *(level(f"2024-03-01T{h:02}:00:00Z", 100.0 + h) for h in range(6)))
    response = client.get(
        "/api/channels/WL.level/readings",
        params={"start": "2024-03-01T09:00", "end": "2024-03-01T04:00:00Z"},
    )
    body = response.json()
    assert body["times"] == ["2024-03-01T01:00:00Z", "2024-03-01T02:00:00Z", "2024-03-01T03:00:00Z"]
    assert body["count"] == 3


def test_a_raw_reading_is_converted_with_the_channel_calibration(client: Api) -> None:
    report = post(client, {"channel": "PL1.radial", "time": "2024-03-01T00:00Z", "raw": 27.5})
    assert report["accepted"] == 1
    body = client.get("/api/channels/PL1.radial/readings").json()
    assert body["values"] == [pytest.approx(2.5)]  # coordinometer: reading - initial 25.0 mm


def test_bad_readings_are_rejected_with_index_and_reason_good_ones_stored(
    client: Api,
) -> None:
    batch = [
        level("2024-03-01T00:00:00Z", 120.0),
        {"channel": "NOPE", "time": "2024-03-01T00:00:00Z", "value": 1.0},
        level("yesterday", 120.0),
        level("2024-03-01T01:00:00Z", "abc"),
        level("2024-03-01T02:00:00Z", 200.0),
        level("2024-03-01T03:00:00Z", None),
        level("2024-03-01T04:00:00Z", 121.0),
    ]
    report = post(client, *batch)

    assert (report["accepted"], report["duplicates"], report["rejected"]) == (2, 0, 5)
    reasons = {r["line"]: r["reason"] for r in report["rejections"]}
    assert sorted(reasons) == [1, 2, 3, 4, 5]
    assert "unknown channel" in reasons[1] and "NOPE" in reasons[1]
    assert "ISO 8601" in reasons[2]
    assert "not a number" in reasons[3]
    assert "above the maximum" in reasons[4]
    assert "empty" in reasons[5]
    assert {r["source"] for r in report["rejections"]} == {"api"}
    rejection = next(r for r in report["rejections"] if r["line"] == 3)
    assert rejection["channel"] == "WL.level"
    assert '"abc"' in rejection["raw"]

    stored = client.get("/api/channels/WL.level/readings").json()
    assert stored["values"] == [120.0, 121.0]


def test_posting_the_same_readings_again_counts_duplicates(client: Api) -> None:
    batch = [level(f"2024-03-01T0{h}:00:00Z", 120.0 + h) for h in range(4)]
    assert post(client, *batch)["accepted"] == 4

    again = post(client, *batch, level("2024-03-01T05:00:00Z", 130.0))
    assert (again["accepted"], again["duplicates"], again["rejected"]) == (1, 4, 0)
    assert client.get("/api/channels/WL.level/readings").json()["count"] == 5


def test_an_empty_batch_does_nothing(client: Api) -> None:
    assert post(client) == {"accepted": 0, "duplicates": 0, "rejected": 0, "rejections": []}


def test_a_batch_over_100000_readings_is_refused_whole(client: Api) -> None:
    reading = level("2024-03-01T00:00:00Z", 120.0)
    response = client.post("/api/readings", json={"readings": [reading] * 100_001})
    assert response.status_code == 413
    message = response.json()["error"]["message"]
    assert "at most 100000 readings (SHUIAN_MAX_RECORDS)" in message
    assert "100001" in message
    assert client.get("/api/channels/WL.level/readings").json()["count"] == 0


# -- charts: downsampling --------------------------------------------------------------------


def test_long_series_are_downsampled_and_keep_their_spike(client: Api) -> None:
    n, spike = 10_000, 6_543
    times = np.datetime64("2020-01-01T00:00:00") + np.arange(n) * np.timedelta64(1, "h")
    values = 120.0 + 5.0 * np.sin(np.arange(n) / 300.0)
    values[spike] = 149.5
    texts = np.datetime_as_string(times, unit="s", timezone="UTC").tolist()
    report = post(client, *(level(t, v) for t, v in zip(texts, values.tolist(), strict=True)))
    assert report["accepted"] == n

    body = client.get("/api/channels/WL.level/readings", params={"max_points": 200}).json()

    assert body["count"] == n
    assert body["returned"] <= 200
    assert body["returned"] == len(body["times"]) == len(body["values"])
    assert body["downsampled"] is True
    assert texts[spike] in body["times"]
    assert body["values"][body["times"].index(texts[spike])] == 149.5
    assert body["times"] == sorted(body["times"])


@pytest.mark.parametrize("max_points", [2, 100_001, "many"])
def test_max_points_outside_3_to_100000_is_refused(client: Api, max_points: Any) -> None:
    response = client.get("/api/channels/WL.level/readings", params={"max_points": max_points})
    assert response.status_code == 422
    assert "max_points" in response.json()["error"]["message"]


# -- request errors ------------------------------------------------------------------------------


@pytest.mark.parametrize("parameter", ["start", "end"])
def test_a_time_that_is_not_iso_8601_is_a_400_naming_the_parameter(
    client: Api, parameter: str
) -> None:
    response = client.get("/api/channels/WL.level/readings", params={parameter: "last week"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "InvalidRequestError"
    assert error["message"].startswith(f"{parameter} 'last week'")


def test_an_unescaped_plus_in_the_url_gets_a_hint(client: Api) -> None:
    response = client.get("/api/channels/WL.level/readings?start=2024-03-01T08:00+08:00")
    assert response.status_code == 400
    assert "%2B" in response.json()["error"]["message"]


def test_end_before_start_is_a_400(client: Api) -> None:
    response = client.get(
        "/api/channels/WL.level/readings",
        params={"start": "2024-03-02T00:00Z", "end": "2024-03-01T00:00Z"},
    )
    assert response.status_code == 400
    assert "end" in response.json()["error"]["message"]


def test_an_unknown_channel_is_a_404_naming_it(client: Api) -> None:
    response = client.get("/api/channels/NOPE/readings")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["type"] == "NotFoundError"
    assert "'NOPE'" in error["message"]
    assert "/api/channels" in error["message"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/site",
        "/api/channels",
        "/api/channels/WL.level/readings",
        "/api/latest",
        "/api/rejected",
    ],
)
def test_site_endpoints_answer_409_before_any_site_is_stored(empty_client: Api, path: str) -> None:
    response = empty_client.get(path)
    assert response.status_code == 409
    assert response.json()["error"]["type"] == "NoSiteError"
    assert "shuian demo" in response.json()["error"]["message"]


def test_posting_before_any_site_is_stored_is_a_409(empty_client: Api, store_url: str) -> None:
    response = login_as(empty_client, store_url, "operator").post(
        "/api/readings", json={"readings": [level("2024-03-01T00:00Z", 1.0)]}
    )
    assert response.status_code == 409


# -- latest readings -------------------------------------------------------------------------


def test_latest_gives_the_newest_reading_of_each_channel_with_readings(
    client: Api,
) -> None:
    post(
        client,
        level("2024-03-01T00:00:00Z", 120.0),
        level("2024-03-01T02:00:00Z", 122.0),
        level("2024-03-01T01:00:00Z", 121.0),
        {"channel": "LOG.batt", "time": "2024-03-01T08:30:00+08:00", "value": 12.5},
    )
    latest = client.get("/api/latest").json()
    assert sorted(latest, key=lambda row: row["code"]) == [
        {"code": "LOG.batt", "time": "2024-03-01T00:30:00Z", "value": 12.5, "flagged": False},
        {"code": "WL.level", "time": "2024-03-01T02:00:00Z", "value": 122.0, "flagged": False},
    ]


def test_latest_says_which_newest_readings_are_flagged(
    client: Api, anonymous: Api, store_url: str
) -> None:
    post(client, level("2024-03-01T00:00:00Z", 120.0), level("2024-03-01T01:00:00Z", 121.0),
         {"channel": "LOG.batt", "time": "2024-03-01T00:30:00Z", "value": 12.5})
    engineer = login_as(anonymous, store_url, "engineer", username="li")
    for time in ("2024-03-01T00:00:00Z", "2024-03-01T01:00:00Z"):  # the older, then the newest
        engineer.post("/api/channels/WL.level/flags", json={"time": time, "comment": "gauge"})
        flagged = {row["code"]: row["flagged"] for row in client.get("/api/latest").json()}
        assert flagged == {"WL.level": time.endswith("01:00:00Z"), "LOG.batt": False}


def test_latest_is_empty_before_any_reading(client: Api) -> None:
    assert client.get("/api/latest").json() == []


# -- rejected rows -----------------------------------------------------------------------------


def test_rejected_rows_are_listed_newest_first_with_source_and_reason(
    client: Api,
) -> None:
    post(client, level("2024-03-01T00:00Z", "abc"), level("2024-03-01T01:00Z", 999.0))
    post(client, {"channel": "NOPE", "time": "2024-03-01T00:00Z", "value": 1.0})

    body = client.get("/api/rejected").json()

    assert body["total"] == 3
    newest = body["items"][0]
    assert set(newest) == {"id", "received_at", "source", "line", "channel", "raw", "reason"}
    assert (newest["source"], newest["line"], newest["channel"]) == ("api", 0, "NOPE")
    assert "unknown channel" in newest["reason"]
    assert newest["received_at"].endswith("Z")
    assert [item["id"] for item in body["items"]] == sorted(
        (item["id"] for item in body["items"]), reverse=True
    )


def test_rejected_rows_are_paged_with_limit_and_offset(client: Api) -> None:
    post(client, *(level(f"2024-03-01T0{h}:00Z", "bad") for h in range(5)))
    everything = client.get("/api/rejected").json()["items"]

    page = client.get("/api/rejected", params={"limit": 2, "offset": 1}).json()

    assert page["total"] == 5
    assert page["items"] == everything[1:3]


# -- the page and the documentation ------------------------------------------------------------


def test_the_first_page_is_served_with_its_static_files(client: Api) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
    assert sorted(assets) == ["/static/app.js", "/static/style.css"]
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert response.text == (STATIC_DIR / asset.removeprefix("/static/")).read_text("utf-8")


def test_the_page_fetches_nothing_from_outside_the_server() -> None:
    namespaces = {"http://www.w3.org/2000/svg"}
    for name in ("index.html", "app.js", "style.css"):
        text = (STATIC_DIR / name).read_text("utf-8")
        urls = set(re.findall(r"(?:https?:)?//[\w.-]+\.\w+[^\s\"'`)]*", text))
        assert urls <= namespaces, (name, urls - namespaces)


def test_the_page_warns_when_the_data_are_synthetic() -> None:
    assert "SYNTHETIC DATA" in (STATIC_DIR / "index.html").read_text("utf-8")
    assert "reservoir.synthetic" in (STATIC_DIR / "app.js").read_text("utf-8")


def test_every_endpoint_is_in_the_openapi_document(client: Api) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths) == {
        "/api/health",
        "/api/site",
        "/api/channels",
        "/api/channels/{code}/readings",
        "/api/latest",
        "/api/readings",
        "/api/rejected",
        "/api/alarms",
        "/api/alarms/{alarm_id}",
        "/api/alarms/{alarm_id}/acknowledge",
        "/api/alarms/{alarm_id}/media",
        "/api/cameras",
        "/api/cameras/{code}/frame",
        "/api/cameras/{code}/frames",
        "/api/channels/{code}/models",
        "/api/channels/{code}/components",
        "/api/channels/{code}/explain",
        "/api/channels/{code}/flags",
        "/api/flags/{flag_id}/clear",
        "/api/models/fit",
        "/api/analyze",
        "/api/hydrology/state",
        "/api/hydrology/balance",
        "/api/hydrology/route",
        "/api/telemetry",
        "/api/sites",
        "/api/events",
        "/api/auth/login",
        "/api/auth/logout",
        "/api/auth/me",
        "/api/users",
        "/api/users/{username}",
        "/api/api-keys",
        "/api/api-keys/{key_id}",
        "/api/audit",
        "/api/jobs",
        "/api/media",
        "/api/media/{media_id}",
    }
    for path, operations in paths.items():
        for method, operation in operations.items():
            assert operation.get("description"), f"{method.upper()} {path} has no description"
    assert client.get("/docs").status_code == 200
