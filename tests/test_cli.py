"""Specification of the ``shuian`` command line, on SQLite and on PostgreSQL.

Every command takes ``--db`` (or ``SHUIAN_DB``). ``--json`` prints exactly one JSON document.
A user's mistake ends with exit status 1 and one line ``error: ...`` on standard error, never a
traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from shuian.cli import app

DATA = Path(__file__).parent / "data"
SITE_FILE = DATA / "site.yaml"
SHUIAN = Path(sys.executable).parent / "shuian"

CSV = (
    "channel,time,value\n"
    "WL.level,2024-01-01T08:00:00,120.5\n"      # site zone: 00:00 UTC
    "WL.level,2024-01-01T01:00:00Z,121.25\n"
    "LOG.batt,2024-01-01T01:00:00Z,12.5\n"
    "WL.level,2024-01-01T02:00:00Z,80\n"         # below the minimum 90
)


def shuian(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=True)


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def as_json(result: Result) -> Any:
    return json.loads(ok(result).stdout)  # one JSON document, nothing else on stdout


def user_error(result: Result) -> str:
    """The error message of a command that failed as a user's mistake should."""
    assert result.exit_code == 1, (result.stdout, result.stderr, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception  # not a crash
    assert result.stderr.startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


@pytest.fixture
def db(store_url: str) -> str:
    """An empty database: an SQLite file or a fresh PostgreSQL schema."""
    return store_url


@pytest.fixture
def initialised(db: str) -> str:
    ok(shuian("init", "--site", str(SITE_FILE), "--db", db))
    return db


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.csv"
    path.write_text(CSV, encoding="utf-8")
    return path


def test_init_saves_the_site_and_says_what_it_saved(db: str) -> None:
    result = ok(shuian("init", "--site", str(SITE_FILE), "--db", db))
    assert "testres" in result.stdout and "5 instruments, 8 channels" in result.stdout


def test_init_twice_updates_the_site(initialised: str) -> None:
    ok(shuian("init", "--site", str(SITE_FILE), "--db", initialised))
    assert as_json(shuian("status", "--json", "--db", initialised))["channels"] == 8


def test_ingest_json_prints_one_object_with_counts_and_rejections(
    initialised: str, data_file: Path
) -> None:
    report = as_json(shuian("ingest", str(data_file), "--db", initialised, "--json"))
    assert (report["accepted"], report["duplicates"], report["rejected"]) == (3, 0, 1)
    [rejection] = report["rejections"]
    assert rejection["source"] == str(data_file)
    assert rejection["line"] == 5
    assert "below the minimum 90" in rejection["reason"]


def test_ingest_twice_counts_duplicates(initialised: str, data_file: Path) -> None:
    ok(shuian("ingest", str(data_file), "--db", initialised))
    report = as_json(shuian("ingest", str(data_file), "--db", initialised, "--json"))
    assert (report["accepted"], report["duplicates"], report["rejected"]) == (0, 3, 1)


def test_ingest_of_several_files_adds_up(initialised: str, data_file: Path) -> None:
    toa5 = DATA / "toa5"
    report = as_json(shuian("ingest", str(data_file), str(toa5 / "TestLogger_Hourly_1.dat"),
                            "--db", initialised, "--json"))
    assert (report["accepted"], report["rejected"]) == (12, 1)


def test_ingest_without_json_prints_a_summary(initialised: str, data_file: Path) -> None:
    result = ok(shuian("ingest", str(data_file), "--db", initialised))
    assert "accepted 3, duplicates 0, rejected 1" in result.stdout
    assert f"{data_file}:5: value 80 is below the minimum" in result.stdout


def test_ingest_encoding_gbk_reads_chinese_notes_and_json_says_the_encoding(
    initialised: str,
) -> None:
    path = DATA / "encodings" / "notes_gbk.csv"
    report = as_json(shuian("ingest", str(path), "--encoding", "gbk", "--json", "--no-analyze",
                            "--db", initialised))
    assert (report["accepted"], report["rejected"]) == (2, 2)
    assert report["rejections"][0]["reason"] == "value is not a number: '停电'"
    assert report["encodings"] == {str(path): "gbk"}


def test_ingest_says_when_it_reads_a_file_as_gb18030(initialised: str) -> None:
    path = DATA / "encodings" / "notes_gbk.csv"
    result = ok(shuian("ingest", str(path), "--no-analyze", "--db", initialised))
    assert result.stderr == f"{path}: read as GB18030: not UTF-8, GB18030 throughout\n"
    assert "value is not a number: '停电'" in result.stdout


def test_ingest_of_a_file_with_a_bad_line_goes_on_and_a_rerun_finds_duplicates(
    initialised: str, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(CSV.encode() + b"WL.level,2024-01-01T05:00:00Z,\xff\n"
                     + b"WL.level,2024-01-01T06:00:00Z,1\r2\nWL.level,2024-01-01T07:00:00Z,122\n")
    first = as_json(shuian("ingest", str(path), "--json", "--no-analyze", "--db", initialised))
    assert (first["accepted"], first["rejected"]) == (4, 3)
    assert [r["line"] for r in first["rejections"]] == [5, 6, 7]
    again = as_json(shuian("ingest", str(path), "--json", "--no-analyze", "--db", initialised))
    assert (again["accepted"], again["duplicates"]) == (0, 4)
    assert as_json(shuian("status", "--json", "--db", initialised))["rejected"] == 3


def test_an_unknown_encoding_is_a_one_line_error_naming_the_choices(
    initialised: str, data_file: Path
) -> None:
    message = user_error(shuian("ingest", str(data_file), "--encoding", "latin-1",
                                "--db", initialised))
    assert message == ("error: --encoding 'latin-1': files are read as utf-8, gbk, gb18030 "
                       "(leave it out to detect UTF-8 or GB18030)\n")


def test_channels_json_lists_code_instrument_type_and_unit(initialised: str) -> None:
    channels = as_json(shuian("channels", "--json", "--db", initialised))
    assert isinstance(channels, list) and len(channels) == 8
    head = next(c for c in channels if c["code"] == "P1.head")
    assert {k: head[k] for k in ("code", "instrument", "type", "unit")} == {
        "code": "P1.head", "instrument": "P1", "type": "piezometer", "unit": "m"
    }


def test_channels_prints_a_table(initialised: str) -> None:
    assert "P1.head" in ok(shuian("channels", "--db", initialised)).stdout


def test_status_json_summarises_site_channels_readings_and_rejections(
    initialised: str, data_file: Path
) -> None:
    ok(shuian("ingest", str(data_file), "--db", initialised))
    status = as_json(shuian("status", "--json", "--db", initialised))
    assert status["site"] == "testres"
    assert status["synthetic"] is False
    assert (status["channels"], status["readings"], status["rejected"]) == (8, 3, 1)
    assert status["first"] == "2024-01-01T08:00:00+08:00"  # in the site zone
    assert status["last"] == "2024-01-01T09:00:00+08:00"
    assert status["readings_by_type"] == {"water_level": 2, "air_temperature": 1}


def test_status_before_any_reading_has_no_first_or_last(initialised: str) -> None:
    status = as_json(shuian("status", "--json", "--db", initialised))
    assert (status["readings"], status["first"], status["last"]) == (0, None, None)


def test_readings_print_long_csv_in_utc(initialised: str, data_file: Path) -> None:
    ok(shuian("ingest", str(data_file), "--db", initialised))
    result = ok(shuian("readings", "WL.level", "--db", initialised))
    assert result.stdout == (
        "channel,time,value\n"
        "WL.level,2024-01-01T00:00:00Z,120.5\n"
        "WL.level,2024-01-01T01:00:00Z,121.25\n"
    )


def test_readings_start_is_included_end_excluded_local_without_offset(
    initialised: str, data_file: Path
) -> None:
    ok(shuian("ingest", str(data_file), "--db", initialised))
    result = ok(shuian("readings", "WL.level", "--start", "2024-01-01T08:00:00",
                       "--end", "2024-01-01T01:00:00Z", "--db", initialised))
    assert result.stdout.splitlines()[1:] == ["WL.level,2024-01-01T00:00:00Z,120.5"]


def test_readings_output_ingests_back_as_duplicates_only(
    initialised: str, data_file: Path, tmp_path: Path
) -> None:
    ok(shuian("ingest", str(data_file), "--db", initialised))
    exported = tmp_path / "exported.csv"
    exported.write_text(ok(shuian("readings", "WL.level", "--db", initialised)).stdout,
                        encoding="utf-8")
    report = as_json(shuian("ingest", str(exported), "--db", initialised, "--json"))
    assert (report["accepted"], report["duplicates"], report["rejected"]) == (0, 2, 0)


def test_readings_keep_fractions_of_a_second(initialised: str, tmp_path: Path) -> None:
    path = tmp_path / "fine.csv"
    path.write_text("channel,time,value\nWL.level,2024-01-01T00:00:00.000250Z,120.1\n",
                    encoding="utf-8")
    ok(shuian("ingest", str(path), "--db", initialised))
    out = ok(shuian("readings", "WL.level", "--db", initialised)).stdout
    assert out.splitlines()[1] == "WL.level,2024-01-01T00:00:00.000250Z,120.1"


def test_rejected_lists_source_line_reason_and_raw_text(
    initialised: str, data_file: Path
) -> None:
    ok(shuian("ingest", str(data_file), "--db", initialised))
    text = ok(shuian("rejected", "--db", initialised)).stdout
    assert f"{data_file}:5: value 80 is below the minimum" in text
    assert "WL.level,2024-01-01T02:00:00Z,80" in text
    data = as_json(shuian("rejected", "--json", "--db", initialised))
    assert data["total"] == 1
    assert data["items"][0]["line"] == 5


def test_the_shuian_db_variable_is_honoured(initialised: str, data_file: Path) -> None:
    env = {"SHUIAN_DB": initialised}
    ok(shuian("ingest", str(data_file), env=env))
    assert as_json(shuian("status", "--json", env=env))["readings"] == 3


# --- user errors --------------------------------------------------------------------------------


def test_a_store_without_a_site_is_a_one_line_error(db: str) -> None:
    message = user_error(shuian("status", "--db", db))
    assert message.count("\n") == 1
    assert "holds no site yet" in message and "shuian init" in message


def test_an_unknown_channel_is_a_one_line_error(initialised: str) -> None:
    message = user_error(shuian("readings", "NOPE", "--db", initialised))
    assert message == (
        "error: no channel 'NOPE' in this site; 'shuian channels' lists the channels\n"
    )


def test_a_missing_data_file_is_a_one_line_error_naming_it(
    initialised: str, tmp_path: Path
) -> None:
    missing = tmp_path / "missing.csv"
    message = user_error(shuian("ingest", str(missing), "--db", initialised))
    assert message.count("\n") == 1 and str(missing) in message


def test_a_bad_time_option_is_a_one_line_error(initialised: str) -> None:
    message = user_error(shuian("readings", "WL.level", "--start", "soon", "--db", initialised))
    assert message.startswith("error: --start 'soon' is not an ISO 8601 time")
    assert message.count("\n") == 1


def test_a_bad_site_file_lists_every_problem_one_per_line(db: str) -> None:
    message = user_error(shuian("init", "--site", str(DATA / "broken_site.yaml"), "--db", db))
    lines = message.splitlines()
    assert lines[0] == f"error: {DATA / 'broken_site.yaml'}: 12 problem(s) in the site file:"
    assert len(lines) == 13 and all(line.startswith("  - line ") for line in lines[1:])


def test_a_missing_site_file_is_an_error_naming_it(db: str, tmp_path: Path) -> None:
    message = user_error(shuian("init", "--site", str(tmp_path / "none.yaml"), "--db", db))
    assert str(tmp_path / "none.yaml") in message


def test_an_unreachable_database_is_an_error_naming_it() -> None:
    url = "postgresql://postgres@127.0.0.1:1/test"
    assert url in user_error(shuian("status", "--db", url))


def test_an_unsupported_database_url_is_an_error() -> None:
    assert "mysql://x/y" in user_error(shuian("status", "--db", "mysql://x/y"))


def test_a_message_with_square_brackets_is_printed_as_it_is(
    initialised: str, tmp_path: Path
) -> None:
    path = tmp_path / "brackets.csv"
    path.write_text("[/channel],time,value\nWL.level,2024-01-01T00:00:00Z,120\n",
                    encoding="utf-8")
    message = user_error(shuian("ingest", str(path), "--db", initialised))
    assert "'[/channel],time,value'" in message


# --- demo ---------------------------------------------------------------------------------------


def test_demo_builds_a_synthetic_site_with_readings_of_every_type(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = tmp_path / "checkout"
    here.mkdir()
    monkeypatch.setenv("SHUIAN_MEDIA_DIR", str(tmp_path / "media"))  # PostgreSQL's: ./media
    monkeypatch.chdir(here)
    result = ok(shuian("demo", "--days", "7", "--no-serve", "--db", db))
    assert "SYNTHETIC DATA" in result.stdout
    assert list(here.iterdir()) == [], "the demo leaves no file behind where it runs"
    status = as_json(shuian("status", "--json", "--db", db))
    assert status["synthetic"] is True
    assert set(status["readings_by_type"]) == {
        "thermometer", "joint_meter", "piezometer", "strain_gauge", "seepage_weir", "plumb_line",
        "levelling", "water_level", "rainfall", "air_temperature", "discharge", "camera",
    }
    assert all(n > 0 for n in status["readings_by_type"].values())


def test_demo_writes_its_site_file_only_where_asked(db: str, tmp_path: Path) -> None:
    site_out = tmp_path / "my-site.yaml"
    result = ok(shuian("demo", "--days", "2", "--no-serve", "--db", db, "--site-out",
                       str(site_out), "--end", "2025-01-01"))
    assert f"site file {site_out}" in result.stdout
    assert "reservoir:" in site_out.read_text(encoding="utf-8")
    level = ok(shuian("readings", "WL1", "--db", db)).stdout.strip().splitlines()
    assert level[-1].split(",")[1] <= "2024-12-31T16:00:00Z"  # --end is in site time (UTC+8)
    assert level[-1].split(",")[1] >= "2024-12-31T15:00:00Z"


# --- the installed command ----------------------------------------------------------------------


def test_the_installed_command_runs_end_to_end(tmp_path: Path, data_file: Path) -> None:
    env = {**os.environ, "SHUIAN_DB": f"sqlite:///{tmp_path / 'e2e.db'}"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(SHUIAN), *args], env=env, capture_output=True, text=True,
                              timeout=60, check=False)

    assert run("init", "--site", str(SITE_FILE)).returncode == 0
    ingest = run("ingest", str(data_file), "--json")
    assert ingest.returncode == 0, ingest.stderr
    assert json.loads(ingest.stdout)["accepted"] == 3
    failed = run("readings", "NOPE")
    assert failed.returncode == 1
    assert failed.stderr.startswith("error: ") and "Traceback" not in failed.stderr
