"""Specification of the analysis API: models, components, explanations, flags and alarms.

Runs on SQLite and PostgreSQL over the fitted and judged scene of tests/test_analysis.py
(three years of synthetic daily readings from known HST coefficients).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest

from conftest import Api, login_as, serve
from shuian.api import create_app
from shuian.services.worker import Worker, default_kinds
from shuian.store import Store
from test_analysis import END, Scene, history, scene  # noqa: F401 - fixtures


@pytest.fixture
def anonymous(scene: Scene, store_url: str) -> Iterator[Api]:
    with serve(create_app(store_url)) as client:
        yield client


@pytest.fixture
def api(anonymous: Api, store_url: str) -> Api:
    """An engineer named li (tests/test_auth.py specifies who may do what)."""
    return login_as(anonymous, store_url, "engineer", username="li")


def test_models_lists_every_fitted_version_with_its_statistics(api: Api, scene: Scene) -> None:
    scene.analyzer.fit(end_us=END)
    versions = api.get("/api/channels/PL1.radial/models").json()
    assert [v["version"] for v in versions] == [2, 1]
    latest = versions[0]
    assert latest["kind"] == "hst" and 0.9 < latest["r2"] <= 1.0
    assert set(latest["coefficients"]) == set(latest["terms"])
    assert latest["window_start"] < latest["window_end"]


def test_components_add_up_to_the_prediction(api: Api) -> None:
    body = api.get("/api/channels/PL1.radial/components", params={"max_points": 300}).json()
    assert body["returned"] <= 300 and body["count"] > body["returned"]
    parts = {k: np.array(v, dtype=float) for k, v in body["parts"].items()}
    total = parts["constant"] + parts["hydrostatic"] + parts["seasonal"] + parts["time"]
    assert np.allclose(total, parts["predicted"], equal_nan=True)
    residual = np.array(body["residual"], dtype=float)
    values = np.array(body["values"], dtype=float)
    assert np.allclose(values - parts["predicted"], residual, equal_nan=True)


def test_a_channel_without_a_model_has_no_components(api: Api) -> None:
    response = api.get("/api/channels/PL1.tangential/components")
    assert response.status_code == 404
    assert "no fitted model" in response.json()["error"]["message"]


def test_explain_splits_a_change_into_water_season_time_and_other(api: Api) -> None:
    body = api.get(
        "/api/channels/PL1.radial/explain",
        params={"from": "2021-03-01", "to": "2021-08-01"},
    ).json()
    assert body["change"] == pytest.approx(sum(body["effects"].values()), abs=1e-9)
    assert set(body["effects"]) == {"hydrostatic", "seasonal", "time", "other"}
    assert body["sentence"].startswith("PL1.radial changed ")


def test_an_engineer_marks_a_reading_suspect_and_clears_it_with_a_history(
    api: Api, anonymous: Api, store_url: str
) -> None:
    flag = api.post(
        "/api/channels/PL1.radial/flags",
        json={"time": "2021-06-01T08:00:00+08:00", "comment": "cable repaired"},
    ).json()
    assert flag["kind"] == "suspect" and flag["source"] == "manual" and flag["active"]
    listed = api.get("/api/channels/PL1.radial/flags").json()
    assert any(f["id"] == flag["id"] for f in listed)
    wang = login_as(anonymous, store_url, "engineer", username="wang")
    cleared = wang.post(f"/api/flags/{flag['id']}/clear", json={"comment": "ok"})
    steps = cleared.json()["history"]
    assert [(h["action"], h["actor"], h["comment"]) for h in steps] == [
        ("set", "li", "cable repaired"),
        ("cleared", "wang", "ok"),
    ]
    assert all(f["id"] != flag["id"] for f in api.get("/api/channels/PL1.radial/flags").json())


def test_a_reading_posted_beyond_a_threshold_raises_an_alarm_that_is_acknowledged(
    api: Api, anonymous: Api, store_url: str
) -> None:
    late = "2024-01-02T08:00:00+08:00"  # the day after the history's last reading
    report = api.post(
        "/api/readings", json={"readings": [{"channel": "PL1.radial", "time": late, "value": 45}]}
    ).json()
    assert report["accepted"] == 1, report
    open_alarms = api.get("/api/alarms", params={"state": "open"}).json()
    threshold = next(a for a in open_alarms if a["rule"] == "threshold")
    assert threshold["channel"] == "PL1.radial" and threshold["level"] == "alarm"
    assert "above the alarm limit 40" in threshold["message"]

    zhang = login_as(anonymous, store_url, "operator", username="zhang")
    acknowledged = zhang.post(
        f"/api/alarms/{threshold['id']}/acknowledge", json={"comment": "on site"}
    ).json()
    assert acknowledged["state"] == "acknowledged" and acknowledged["acknowledged_by"] == "zhang"
    detail = api.get(f"/api/alarms/{threshold['id']}").json()
    assert [step["kind"] for step in detail["history"]] == ["raised", "acknowledged"]
    assert detail["history"][1]["actor"] == "zhang"


def test_an_unknown_alarm_is_a_404(api: Api) -> None:
    response = api.get("/api/alarms/999999")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "NotFoundError"


def test_fit_and_analyze_on_demand(api: Api) -> None:
    fitted = api.post("/api/models/fit", json={"channels": ["PL1.radial"]}).json()
    assert [m["channel"] for m in fitted["models"]] == ["PL1.radial"]
    assert fitted["models"][0]["ok"]
    judged = api.post("/api/analyze").json()
    assert judged["readings"] == 0  # everything was judged already


def test_a_served_site_looks_for_silent_channels_by_itself(scene: Scene, store_url: str) -> None:
    """Without any new reading, the periodic analysis raises the no-data alarm of a channel
    that stopped reporting (the hourly logger's last reading is long past)."""
    def worker(store: Store) -> Worker:
        return Worker(store, default_kinds(scan_every_s=0.05), poll_s=0.02)

    with serve(create_app(store_url, worker=worker)) as client:
        for _ in range(100):
            alarms = client.get("/api/alarms", params={"state": "open"}).json()
            if any(a["rule"] == "no_data" for a in alarms):
                break
            time.sleep(0.05)
    assert any(a["rule"] == "no_data" and a["channel"] == "LOG.batt" for a in alarms)
