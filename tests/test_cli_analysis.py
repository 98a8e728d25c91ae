"""The analysis commands of ``shuian``, on SQLite and on PostgreSQL.

``fit``, ``analyze``, ``alarms``, ``ack``, ``flag``, ``flags``, ``unflag`` and ``hst``; ``ingest``
judges what it stores and says so in an ``analysis`` object. ``--json`` prints one JSON
document; a user's mistake is one ``error:`` line and exit status 1.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from click.testing import Result
from typer.testing import CliRunner

from shuian.cli import app

DATA = Path(__file__).parent / "data"
SITE_FILE = DATA / "analysis_site.yaml"
DAYS = 400
RESULT_COLUMNS = ["time", "value", "predicted", "hydrostatic", "seasonal", "time_effect",
                  "residual", "flag"]


def shuian(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), catch_exceptions=True)


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def as_json(result: Result) -> Any:
    return json.loads(ok(result).stdout)


def user_error(result: Result) -> str:
    assert result.exit_code == 1, (result.stdout, result.stderr, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.stderr.startswith("error: "), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    return result.stderr


def level(days: np.ndarray) -> np.ndarray:
    return 125.0 + 10.0 * np.sin(2 * np.pi * days / 365.25) + 4.0 * np.sin(days / 47.0)


def radial(days: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h = (level(days) - 111.0) / 28.0
    return (10 - 6 * h + 3 * h**2 + 2 * np.sin(2 * np.pi * days / 365.25)
            + 0.003 * days + rng.normal(0, 0.1, len(days)))


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def today() -> dt.datetime:
    """Midnight UTC today: the readings end now, so no channel looks silent."""
    return dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)


@pytest.fixture
def initialised(store_url: str, tmp_path: Path) -> str:
    data = yaml.safe_load(SITE_FILE.read_text(encoding="utf-8"))
    del data["notifications"]
    site = tmp_path / "site.yaml"
    site.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    ok(shuian("init", "--site", str(site), "--db", store_url))
    return store_url


@pytest.fixture
def history(tmp_path: Path, today: dt.datetime) -> Path:
    """A long CSV of DAYS days of level, radial and tangential readings, ending today."""
    rng = np.random.default_rng(5)
    days = np.arange(DAYS, dtype=np.float64)
    start = today - dt.timedelta(days=DAYS - 1)
    lines = ["channel,time,value"]
    for d, h, r, t in zip(days, level(days), radial(days, rng),
                          5 + rng.normal(0, 0.2, DAYS), strict=True):
        stamp = iso(start + dt.timedelta(days=float(d)))
        lines += [f"WL.level,{stamp},{h:.4f}", f"PL1.radial,{stamp},{r:.4f}",
                  f"PL1.tangential,{stamp},{t:.4f}"]
    path = tmp_path / "history.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def loaded(initialised: str, history: Path) -> str:
    """The site with its history ingested, judged and fitted."""
    ok(shuian("ingest", str(history), "--db", initialised, "--json"))
    as_json(shuian("fit", "--db", initialised, "--json"))
    return initialised


def hot_reading(tmp_path: Path, value: float = 45.0) -> Path:
    path = tmp_path / "hot.csv"
    when = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)
    path.write_text(f"channel,time,value\nPL1.tangential,{iso(when)},{value}\n", encoding="utf-8")
    return path


def test_ingest_json_includes_the_analysis_of_the_new_readings(
    initialised: str, history: Path
) -> None:
    found = as_json(shuian("ingest", str(history), "--db", initialised, "--json"))
    assert found["accepted"] == 3 * DAYS
    analysis = found["analysis"]
    assert analysis["readings"] == 3 * DAYS
    assert set(analysis) >= {"readings", "flags", "alarm_steps", "steps", "notifications"}
    assert analysis["alarm_steps"] == {}
    again = as_json(shuian("ingest", str(history), "--db", initialised, "--json"))
    assert again["duplicates"] == 3 * DAYS and again["analysis"]["readings"] == 0


def test_ingest_no_analyze_leaves_the_analysis_out(initialised: str, history: Path) -> None:
    found = as_json(shuian("ingest", str(history), "--db", initialised, "--json",
                           "--no-analyze"))
    assert "analysis" not in found


def test_fit_json_lists_each_model_and_a_refit_is_a_new_version(
    initialised: str, history: Path
) -> None:
    ok(shuian("ingest", str(history), "--db", initialised))
    (model,) = as_json(shuian("fit", "--db", initialised, "--json"))["models"]
    assert (model["channel"], model["kind"], model["ok"]) == ("PL1.radial", "hst", True)
    assert model["n"] == DAYS and model["r2"] > 0.95 and 0.05 < model["sigma"] < 0.2
    assert set(model["coefficients"]) == {"a0", "H1", "H2", "sin1", "cos1", "theta"}
    assert model["error"] is None
    again = as_json(shuian("fit", "--channel", "PL1.radial", "--db", initialised, "--json"))
    assert again["models"][0]["ok"]
    text = ok(shuian("fit", "--db", initialised)).stdout
    assert "PL1.radial" in text and "R²" in text


def test_fit_of_an_unknown_channel_is_a_user_error(loaded: str) -> None:
    assert "NOPE" in user_error(shuian("fit", "--channel", "NOPE", "--db", loaded))


def test_analyze_json_judges_what_is_new_and_nothing_twice(loaded: str, tmp_path: Path) -> None:
    assert as_json(shuian("analyze", "--db", loaded, "--json"))["readings"] == 0
    ok(shuian("ingest", str(hot_reading(tmp_path)), "--db", loaded, "--no-analyze"))
    found = as_json(shuian("analyze", "--db", loaded, "--json"))
    assert found["readings"] == 1
    assert found["alarm_steps"] == {"raised": 2}  # threshold and rate
    rules = {(s["rule"], s["level"]) for s in found["steps"]}
    assert rules == {("threshold", "alarm"), ("rate", "alarm")}
    assert as_json(shuian("analyze", "--db", loaded, "--json"))["readings"] == 0


def test_alarms_ack_and_the_acknowledged_state(loaded: str, tmp_path: Path) -> None:
    found = as_json(shuian("ingest", str(hot_reading(tmp_path)), "--db", loaded, "--json"))
    assert found["analysis"]["alarm_steps"] == {"raised": 2}
    listed = as_json(shuian("alarms", "--db", loaded, "--json"))
    assert listed["count"] == 2
    alarm = next(a for a in listed["alarms"] if a["rule"] == "threshold")
    assert (alarm["channel"], alarm["level"], alarm["state"]) == ("PL1.tangential", "alarm",
                                                                  "raised")
    assert alarm["message"] == "PL1.tangential 45 mm is above the alarm limit 40"
    assert alarm["raised"].endswith("+08:00")  # shown in the site's zone

    result = ok(shuian("ack", str(alarm["id"]), "--by", "li.wei", "--comment", "on my way",
                       "--db", loaded))
    assert f"alarm #{alarm['id']} acknowledged by li.wei" in result.stdout
    acked = as_json(shuian("alarms", "--state", "acknowledged", "--db", loaded, "--json"))
    (row,) = acked["alarms"]
    assert (row["id"], row["acknowledged_by"], row["acknowledge_comment"]) == (
        alarm["id"], "li.wei", "on my way")
    assert row["acknowledged_at"]
    assert as_json(shuian("alarms", "--state", "open", "--db", loaded, "--json"))["count"] == 2
    text = ok(shuian("alarms", "--db", loaded)).stdout
    assert "2 alarm(s)" in text and "acknowledged" in text


def test_ack_of_an_unknown_alarm_is_a_user_error(loaded: str) -> None:
    assert "no alarm 999" in user_error(shuian("ack", "999", "--by", "li.wei", "--db", loaded))


def test_flag_flags_and_unflag(loaded: str, today: dt.datetime) -> None:
    when = iso(today - dt.timedelta(days=10))
    result = ok(shuian("flag", "PL1.radial", when, "--by", "li.wei", "--comment",
                       "wire touched", "--db", loaded))
    assert "marked suspect by li.wei" in result.stdout
    flags = as_json(shuian("flags", "PL1.radial", "--db", loaded, "--json"))
    assert flags["channel"] == "PL1.radial"
    (flag,) = [f for f in flags["flags"] if f["kind"] == "suspect"]
    assert (flag["detail"], flag["source"], flag["set_by"]) == ("wire touched", "manual",
                                                               "li.wei")
    assert flag["time"].startswith((today - dt.timedelta(days=10)).strftime("%Y-%m-%dT08:00"))
    assert f"flag #{flag['id']}" in result.stdout

    done = ok(shuian("unflag", str(flag["id"]), "--by", "li.wei", "--comment", "false alarm",
                     "--db", loaded))
    assert f"flag #{flag['id']} cleared by li.wei" in done.stdout
    flags = as_json(shuian("flags", "PL1.radial", "--db", loaded, "--json"))
    assert [f for f in flags["flags"] if f["kind"] == "suspect"] == []


@pytest.mark.parametrize(
    "args",
    [
        ["flag", "NOPE", "2024-01-01T00:00:00Z", "--by", "li.wei", "--comment", "x"],
        ["flags", "NOPE"],
    ],
)
def test_an_unknown_channel_is_a_user_error(loaded: str, args: list[str]) -> None:
    assert "no channel 'NOPE'" in user_error(shuian(*args, "--db", loaded))


def test_unflag_of_an_unknown_flag_is_a_user_error(loaded: str) -> None:
    assert "no flag 999" in user_error(
        shuian("unflag", "999", "--by", "li.wei", "--comment", "x", "--db", loaded)
    )


def test_a_bad_time_is_a_user_error(loaded: str) -> None:
    user_error(shuian("flag", "PL1.radial", "yesterday-ish", "--by", "li.wei", "--comment",
                      "x", "--db", loaded))


# --- hst: a spreadsheet export, no site and no database --------------------------------------


@pytest.fixture
def export(tmp_path: Path) -> Path:
    rng = np.random.default_rng(9)
    days = np.arange(3 * 365, dtype=np.float64)
    values = radial(days, rng)
    values[700] += 3.0  # an outlier well outside the envelope
    start = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    path = tmp_path / "export.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["time", "value", "level"])
        for d, v, h in zip(days, values, level(days), strict=True):
            writer.writerow([(start + dt.timedelta(days=float(d))).strftime("%Y-%m-%d"),
                             f"{v:.4f}", f"{h:.3f}"])
    return path


def test_hst_fits_a_csv_and_writes_the_result_per_row(export: Path, tmp_path: Path) -> None:
    out = tmp_path / "result.csv"
    found = as_json(shuian("hst", str(export), "--json", "--out", str(out)))
    assert found["n"] == 3 * 365
    assert found["r2"] > 0.95 and 0.05 < found["sigma"] < 0.3
    assert {"a0", "H1", "sin1", "cos1"} <= set(found["coefficients"])
    assert len(found["outliers"]) >= 1
    assert any("2021-12-01" in json.dumps(o) for o in found["outliers"])  # day 700
    with out.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [c for c in rows[0] if c != "line"] == RESULT_COLUMNS
    assert len(rows) == 3 * 365
    assert rows[700]["flag"] == "alarm"
    row = rows[0]
    assert float(row["residual"]) == pytest.approx(
        float(row["value"]) - float(row["predicted"]), abs=1e-6)


def test_hst_result_csv_has_exactly_the_documented_columns(export: Path, tmp_path: Path) -> None:
    out = tmp_path / "result.csv"
    ok(shuian("hst", str(export), "--out", str(out)))
    with out.open(encoding="utf-8") as f:
        assert next(csv.reader(f)) == RESULT_COLUMNS


def test_hst_text_output(export: Path) -> None:
    text = ok(shuian("hst", str(export))).stdout
    assert "R²" in text and "outside the envelope" in text


def test_hst_of_a_missing_file_or_column_is_a_user_error(tmp_path: Path) -> None:
    user_error(shuian("hst", str(tmp_path / "nope.csv"), "--json"))
    bad = tmp_path / "bad.csv"
    bad.write_text("time,value\n2024-01-01,1.0\n", encoding="utf-8")
    assert "level" in user_error(shuian("hst", str(bad), "--json"))
