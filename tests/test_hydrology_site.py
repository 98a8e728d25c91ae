"""Hydrology of a site: state, water balance, "what if" routing under the operating rule.

The demo reservoir (Shimenzi, synthetic data) over three full calendar years is the scene; the
published figures it must come near are in DESIGN.md: mean annual runoff 2.35e8 m³, irrigation
supply 1.8e8 m³ a year, and the largest recorded flood (peak 162 m³/s held 15 minutes) cut to
60 m³/s by the reservoir.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import DATA, Api, serve
from shuian.api import create_app
from shuian.cli import app
from shuian.errors import SiteError
from shuian.services.demo import build_demo
from shuian.services.hydrology import Hydrology
from shuian.site import parse_site
from shuian.store import Store, open_store

SITE_FILE = DATA / "site.yaml"
END = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)  # three full years: 2022, 2023, 2024
RUNNER = CliRunner()


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('hydrology') / 'demo.db'}"
    store = open_store(url)
    build_demo(store, days=3 * 365 + 1, end=END, camera_hours=0)
    store.close()
    yield url


@pytest.fixture
def demo_store(demo_url: str) -> Iterator[Store]:
    store = open_store(demo_url)
    yield store
    store.close()


@pytest.fixture
def hydrology(demo_store: Store) -> Hydrology:
    return Hydrology(demo_store, demo_store.site())


def test_the_state_gives_level_storage_and_share_of_design(hydrology: Hydrology) -> None:
    state = hydrology.state()
    assert 1325 <= state["level"] <= 1396
    assert state["storage"] == pytest.approx(float(hydrology.curve.storage(state["level"])))
    assert state["percent_of_design"] == pytest.approx(100 * state["storage"] / 5.01e7)
    assert state["outflow"] is not None and state["inflow"] is not None


def test_yearly_runoff_and_irrigation_come_near_the_published_figures(
    hydrology: Hydrology,
) -> None:
    years = {row["period"]: row for row in hydrology.balance(periods=("year",))["year"]}
    full = [years[y] for y in ("2022", "2023", "2024")]
    runoff = np.mean([row["inflow"] for row in full])
    irrigation = np.mean([row["release_irrigation"] for row in full])
    assert runoff == pytest.approx(2.35e8, rel=0.12)
    assert irrigation == pytest.approx(1.8e8, rel=0.05)


def test_the_balance_inflow_matches_the_measured_inflow(hydrology: Hydrology) -> None:
    months = hydrology.balance(periods=("month",))["month"][1:-1]  # whole months
    computed = np.array([m["inflow"] for m in months])
    measured = np.array([m["measured_inflow"] for m in months])
    assert np.abs(computed - measured).sum() / measured.sum() < 0.02


def test_monthly_volumes_add_up_to_the_yearly_ones(hydrology: Hydrology) -> None:
    report = hydrology.balance(periods=("year", "month"))
    for year in report["year"]:
        months = [m for m in report["month"] if m["period"].startswith(year["period"])]
        assert sum(m["outflow"] for m in months) == pytest.approx(year["outflow"], rel=1e-9)


def test_the_published_flood_is_cut_to_the_safe_discharge(hydrology: Hydrology) -> None:
    report = hydrology.route_design_flood(
        peak=162.0, volume=3.0e6, plateau_s=15 * 60, dt_s=60.0, start_level=1388.0
    )
    summary = report.result.summary()
    assert summary["peak_inflow"] == pytest.approx(162.0)
    assert summary["peak_outflow"] <= 60.0 + 1e-9
    assert 1388.0 < summary["max_level"] < 1393.2  # below the trigger: gates never fully open
    assert abs(summary["mass_balance_error"]) < 1e-9
    assert report.exceeded == {"flood_control": 1388.0}


def test_above_the_trigger_level_the_outlets_open_fully(hydrology: Hydrology) -> None:
    levels, release = hydrology.release_table()
    assert np.all(np.diff(release) >= 0)
    at = dict(zip(np.round(levels, 2), release, strict=True))
    assert at[1380.0] == pytest.approx(1.15)  # below the flood-control level: base release
    assert at[1390.0] == pytest.approx(60.0)  # between: the safe discharge
    assert at[1394.0] > 60.0  # at or above the design flood level: full capacity


def test_routing_starts_from_the_level_now_by_default(hydrology: Hydrology) -> None:
    report = hydrology.route(np.full(10, 5.0), 3600.0)
    assert report.start_level == pytest.approx(hydrology.state()["level"])


def test_route_json_has_the_summary_keys_and_the_series(demo_url: str) -> None:
    result = RUNNER.invoke(app, ["route", "--peak", "162", "--volume", "3e6", "--plateau-min",
                                 "15", "--start-level", "1388", "--json", "--db", demo_url])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    for key in ("peak_inflow", "peak_outflow", "max_level", "max_storage",
                "time_of_peak_outflow"):
        assert key in found
    assert set(found["series"]) == {"time", "inflow", "outflow", "level", "storage"}
    assert found["max_storage"] == pytest.approx(max(found["series"]["storage"]))


def test_route_takes_an_inflow_file(demo_url: str, tmp_path: Path) -> None:
    flow = tmp_path / "flow.csv"
    flow.write_text("time,inflow\n" + "".join(
        f"2024-07-25T{h:02d}:00+08:00,{q}\n" for h, q in enumerate([5, 40, 120, 80, 30, 10])
    ))
    out = tmp_path / "result.csv"
    result = RUNNER.invoke(app, ["route", "--inflow", str(flow), "--start-level", "1380",
                                 "--out", str(out), "--json", "--db", demo_url])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert found["series"]["time"][0] == "2024-07-24T16:00:00Z"
    assert out.read_text().splitlines()[0] == "time,inflow,outflow,level,storage"


def test_route_without_a_site_follows_hec_hms(tmp_path: Path) -> None:
    cherry = DATA / "routing" / "cherry_cricket"
    table = tmp_path / "res.csv"
    table.write_text("level,storage,outflow\n" + "".join(
        (cherry / "cherry_cricket_resmodel.csv").read_text().splitlines(keepends=True)[1:]
    ))
    flow = tmp_path / "flow.csv"
    flow.write_text("time,inflow\n" + "".join(
        (cherry / "cherry_cricket_inflow.csv").read_text().splitlines(keepends=True)[1:]
    ))
    result = RUNNER.invoke(app, ["route", "--table", str(table), "--inflow", str(flow),
                                 "--start-level", "5565", "--units", "us", "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    expected = np.genfromtxt(cherry / "cherry_cricket_hms_results.csv", delimiter=",",
                             names=True)
    assert np.max(np.abs(np.array(found["series"]["level"]) - expected["elevation_ft"])) < 0.1
    assert np.max(np.abs(np.array(found["series"]["outflow"]) - expected["outflow_cfs"])) < 1.0


def test_balance_json_lists_yearly_and_monthly_volumes(demo_url: str) -> None:
    result = RUNNER.invoke(app, ["balance", "--json", "--db", demo_url])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert found["unit"] == "m3" and {"year", "month"} <= set(found)
    assert {"inflow", "outflow", "release_irrigation", "release_flood"} <= set(found["year"][0])


def test_route_needs_a_flood(demo_url: str) -> None:
    result = RUNNER.invoke(app, ["route", "--db", demo_url])
    assert result.exit_code == 1
    assert "give --inflow FILE, or --peak and --volume" in result.stderr


@pytest.fixture
def api(demo_url: str) -> Iterator[Api]:
    with serve(create_app(demo_url)) as client:
        yield client


def test_the_api_answers_what_if_this_flood_came_now(api: Api) -> None:
    state = api.get("/api/hydrology/state").json()
    found = api.post("/api/hydrology/route",
                     json={"design": {"peak": 162, "volume": 3e6, "plateau_s": 900}}).json()
    assert found["start_level"] == pytest.approx(state["level"])
    assert found["peak_outflow"] <= 60.0 + 1e-9


def test_the_api_routes_a_hydrograph_and_refuses_an_incomplete_one(api: Api) -> None:
    found = api.post("/api/hydrology/route", json={
        "inflow": [10, 50, 100, 50, 10], "step_s": 3600, "start_level": 1385.0,
    }).json()
    assert found["peak_inflow"] == 100 and len(found["series"]["time"]) == 5
    response = api.post("/api/hydrology/route", json={"inflow": [10, 20]})
    assert response.status_code == 422
    assert "step_s" in response.json()["error"]["message"]


def test_the_api_gives_the_balance(api: Api) -> None:
    body = api.get("/api/hydrology/balance", params={"period": ["year"]}).json()
    assert [row["period"] for row in body["year"]] == ["2022", "2023", "2024", "2025"]
    assert set(body) == {"unit", "timezone", "year"}  # only the periods asked for


def test_state_balance_and_routing_on_both_backends(store: Store) -> None:
    build_demo(store, days=40, end=END, camera_hours=0)
    hydrology = Hydrology(store, store.site())
    assert hydrology.state()["level"] is not None
    months = hydrology.balance(periods=("month",))["month"]
    assert [m["period"] for m in months] == ["2024-11", "2024-12", "2025-01"]
    report = hydrology.route(np.array([5.0, 80.0, 20.0]), 3600.0, start_level=1388.0)
    assert report.result.summary()["peak_outflow"] <= 60.0


# --- the site file's outlets ------------------------------------------------------------------

OUTLETS = """
hydrology:
  outlets:
    - {kind: spillway, name: crest spillway, crest: 1390.0, width: 8.0, opening: 2.0}
    - kind: rating
      name: tunnel
      levels: [1330, 1360, 1396]
      flows: [0, 40, 35]
"""


def test_a_rating_table_whose_flow_falls_is_refused_at_its_key() -> None:
    text = SITE_FILE.read_text(encoding="utf-8") + OUTLETS
    with pytest.raises(SiteError) as caught:
        parse_site(text, source="site.yaml")
    line = text.splitlines().index("      flows: [0, 40, 35]") + 1
    assert caught.value.problems == [
        f"line {line}: hydrology.outlets[1].flows: flows must not fall as the level rises: "
        "flows[2] = 35 m³/s is below flows[1] = 40 m³/s (an outflow that falls as the water "
        "rises cannot be routed; check the rating)"
    ]
    assert str(caught.value).startswith("site.yaml: 1 problem(s)")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("levels: [1330, 1330, 1396]", "hydrology.outlets[1].levels: levels must increase: "
         "levels[1] = 1330 m is not above levels[0] = 1330 m"),
        ("flows: [-1, 40, 70]", "hydrology.outlets[1].flows: flows[0] = -1 m³/s is negative"),
    ],
)
def test_other_bad_rating_tables_are_named_at_their_key(table: str, message: str) -> None:
    key = table.split(":")[0]
    lines = [f"      {table}" if ln.startswith(f"      {key}:") else ln
             for ln in OUTLETS.replace("[0, 40, 35]", "[0, 40, 70]").splitlines()]
    with pytest.raises(SiteError) as caught:
        parse_site(SITE_FILE.read_text(encoding="utf-8") + "\n".join(lines), source="site.yaml")
    assert len(caught.value.problems) == 1 and message in caught.value.problems[0]
