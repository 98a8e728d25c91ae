"""Specification of ingest (long CSV files and API records), on SQLite and on PostgreSQL.

The test site (tests/data/site.yaml) is in Asia/Shanghai (UTC+8, no daylight saving).
``WL.level`` is a water level in m with limits 90..150; ``P1.head`` a vibrating-wire piezometer
(gauge factor -0.1 kPa/digit, zero 9000 digits) at 95 m giving piezometric head; ``T1.temp`` a
thermistor.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

import shuian.ingest.files
import shuian.ingest.rows
from shuian.errors import InputFileError
from shuian.services.ingest import Ingestor
from shuian.store import Store, StoredRejection, StoredSite


@pytest.fixture
def ingestor(store: Store, stored_site: StoredSite) -> Ingestor:
    return Ingestor(store, stored_site)


def write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def readings(store: Store, stored: StoredSite, code: str) -> tuple[list[str], list[float]]:
    """Times (ISO, UTC, to the µs) and values of one channel."""
    times, values = store.readings(store.channel(stored.id, code).id)
    return (np.datetime_as_string(times.astype("datetime64[us]")).tolist(), values.tolist())


def kept(store: Store, stored: StoredSite) -> dict[int | None, StoredRejection]:
    return {r.line: r for r in store.rejections(stored.id, limit=1000)}


# --- accepted readings --------------------------------------------------------------------------


def test_a_long_csv_of_values_is_stored(
    ingestor: Ingestor, store: Store, stored_site: StoredSite, tmp_path: Path
) -> None:
    path = write(tmp_path, "channel,time,value\n"
                           "WL.level,2024-01-01T00:00:00Z,120.5\n"
                           "LOG.batt,2024-01-01T00:00:00Z,12.75\n"
                           "WL.level,2024-01-01T01:00:00Z,121.25\n")
    report = ingestor.ingest_file(path)
    assert (report.accepted, report.duplicates, report.rejected) == (3, 0, 0)
    assert readings(store, stored_site, "WL.level") == (
        ["2024-01-01T00:00:00.000000", "2024-01-01T01:00:00.000000"], [120.5, 121.25]
    )
    assert readings(store, stored_site, "LOG.batt")[1] == [12.75]


def test_columns_may_come_in_any_order(
    ingestor: Ingestor, store: Store, stored_site: StoredSite, tmp_path: Path
) -> None:
    path = write(tmp_path, "time,value,channel\n2024-01-01T00:00:00Z,120.5,WL.level\n")
    assert ingestor.ingest_file(path).accepted == 1
    assert readings(store, stored_site, "WL.level")[1] == [120.5]


def test_raw_readings_are_converted_with_the_channel_calibration(
    ingestor: Ingestor, store: Store, stored_site: StoredSite, tmp_path: Path
) -> None:
    path = write(tmp_path, "channel,time,raw,temperature\n"
                           "P1.head,2024-01-01T00:00:00Z,8000,20.5\n"
                           "P1.head,2024-01-01T01:00:00Z,9000,\n"
                           "T1.temp,2024-01-01T00:00:00Z,3000,\n"
                           "PL1.tangential,2024-01-01T00:00:00Z,32.5,\n")
    report = ingestor.ingest_file(path)
    assert (report.accepted, report.rejected) == (4, 0)
    # 8000 digits: -0.1 * (8000 - 9000) = 100 kPa above the sensor at 95 m.
    head = readings(store, stored_site, "P1.head")[1]
    assert head == pytest.approx([95.0 + 100.0 / 9.80665, 95.0], rel=1e-12)
    assert readings(store, stored_site, "T1.temp")[1] == [pytest.approx(25.0, abs=0.05)]
    assert readings(store, stored_site, "PL1.tangential")[1] == [-2.5]  # sign -1


def test_a_converted_reading_keeps_its_raw_value(
    ingestor: Ingestor, store: Store, stored_site: StoredSite, tmp_path: Path
) -> None:
    ingestor.ingest_file(write(tmp_path, "channel,time,raw\nP1.head,2024-01-01T00:00:00Z,8000\n"))
    ingestor.ingest_file(write(tmp_path, "channel,time,value\nWL.level,2024-01-01T00:00:00Z,120\n",
                               "values.csv"))
    with store.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT raw FROM readings ORDER BY value")).scalars().all()
    assert rows == [8000.0, None]


def test_times_without_offset_are_in_the_site_zone_and_offsets_are_honoured(
    ingestor: Ingestor, store: Store, stored_site: StoredSite, tmp_path: Path
) -> None:
    path = write(tmp_path, "channel,time,value\n"
                           "WL.level,2024-03-01T08:00:00,120\n"         # +08:00: 00:00 UTC
                           "WL.level,2024-03-01 09:30,121\n"            # +08:00: 01:30 UTC
                           "WL.level,2024-03-01T02:00:00Z,122\n"
                           "WL.level,2024-03-01T05:00:00+02:00,123\n"   # 03:00 UTC
                           "WL.level,2024-03-01T04:00:00.250001Z,124\n")
    assert ingestor.ingest_file(path).accepted == 5
    assert readings(store, stored_site, "WL.level")[0] == [
        "2024-03-01T00:00:00.000000",
        "2024-03-01T01:30:00.000000",
        "2024-03-01T02:00:00.000000",
        "2024-03-01T03:00:00.000000",
        "2024-03-01T04:00:00.250001",
    ]


def test_a_file_of_local_times_only_is_in_the_site_zone(
    ingestor: Ingestor, store: Store, stored_site: StoredSite, tmp_path: Path
) -> None:
    path = write(tmp_path, "channel,time,value\nWL.level,2024-03-01T08:00:00,120\n")
    ingestor.ingest_file(path)
    assert readings(store, stored_site, "WL.level")[0] == ["2024-03-01T00:00:00.000000"]


# --- rejected rows ------------------------------------------------------------------------------

VALUES_FILE = (
    "channel,time,value\n"                             # 1
    "WL.level,2024-01-01T08:00:00,120.5\n"             # 2 accepted
    "\n"                                               # 3 blank, counted
    "NOPE,2024-01-01T08:00:00,120\n"                   # 4
    ",2024-01-01T08:00:00,120\n"                       # 5
    "WL.level,yesterday,120\n"                         # 6
    "WL.level,2024-01-01T10:00:00,abc\n"               # 7
    "WL.level,2024-01-01T11:00:00,\n"                  # 8
    "WL.level,2024-01-01T12:00:00,80\n"                # 9
    "WL.level,2024-01-01T13:00:00,151\n"               # 10
    "WL.level,2099-01-01T00:00:00,130\n"               # 11
    "WL.level,2024-01-01T14:00:00,130,extra\n"         # 12
    "WL.level,,130\n"                                  # 13
    "WL.level,2024-01-01T15:00:00,130\n"               # 14 accepted
)

REASONS = {
    "unknown channel": (4, "unknown channel: 'NOPE'"),
    "empty channel": (5, "channel is empty"),
    "bad time": (6, "time is not ISO 8601"),
    "non-numeric value": (7, "value is not a number: 'abc'"),
    "empty value": (8, "value is empty"),
    "below the minimum": (9, "value 80 is below the minimum 90 of channel WL.level"),
    "above the maximum": (10, "value 151 is above the maximum 150 of channel WL.level"),
    "far future": (11, "time is more than a day in the future"),
    "too many fields": (12, "the line has more fields than the header's 3 column(s)"),
    "empty time": (13, "time is empty"),
}


@pytest.fixture
def values_file(tmp_path: Path) -> Path:
    return write(tmp_path, VALUES_FILE, "values.csv")


@pytest.mark.parametrize("reason", list(REASONS))
def test_each_rejected_row_is_kept_with_source_line_raw_text_and_reason(
    ingestor: Ingestor, store: Store, stored_site: StoredSite, values_file: Path, reason: str
) -> None:
    ingestor.ingest_file(values_file)
    line, words = REASONS[reason]
    rejection = kept(store, stored_site)[line]
    assert rejection.source == str(values_file)
    assert rejection.raw == VALUES_FILE.splitlines()[line - 1]
    assert rejection.reason.startswith(words)


def test_a_file_with_bad_rows_stores_the_good_ones_and_reports_every_bad_one(
    ingestor: Ingestor, store: Store, stored_site: StoredSite, values_file: Path
) -> None:
    report = ingestor.ingest_file(values_file)
    assert (report.accepted, report.duplicates, report.rejected) == (2, 0, len(REASONS))
    assert sorted(r.line for r in report.rejections) == sorted(n for n, _ in REASONS.values())
    assert sorted(kept(store, stored_site)) == sorted(n for n, _ in REASONS.values())
    assert readings(store, stored_site, "WL.level")[1] == [120.5, 130.0]


def test_a_first_data_line_with_too_many_fields_is_the_only_row_rejected(
    ingestor: Ingestor, store: Store, stored_site: StoredSite, tmp_path: Path
) -> None:
    path = write(tmp_path, "channel,time,value\n"
                           "WL.level,2024-01-01T00:00:00Z,120,extra\n"
                           "WL.level,2024-01-01T01:00:00Z,121\n")
    report = ingestor.ingest_file(path)
    assert (report.accepted, report.rejected) == (1, 1)
    assert report.rejections[0].reason == "the line has more fields than the header's 3 column(s)"


def test_a_raw_reading_the_calibration_cannot_convert_is_rejected(
    ingestor: Ingestor, store: Store, stored_site: StoredSite, tmp_path: Path
) -> None:
    text = ("channel,time,raw\n"
            "T1.temp,2024-01-01T00:00:00Z,3000\n"
            "T1.temp,2024-01-01T01:00:00Z,-5\n"
            "P1.head,2024-01-01T01:00:00Z,lots\n")
    path = write(tmp_path, text)
    report = ingestor.ingest_file(path)
    assert (report.accepted, report.rejected) == (1, 2)
    rows = kept(store, stored_site)
    assert rows[3].raw == "T1.temp,2024-01-01T01:00:00Z,-5"
    assert "calibration gives no value" in rows[3].reason
    assert rows[4].reason == "raw is not a number: 'lots'"


def test_a_converted_value_outside_the_limits_is_rejected(
    ingestor: Ingestor, store: Store, stored_site: StoredSite, tmp_path: Path
) -> None:
    # 20000 digits: -1100 kPa, a head of about -17 m: below the 90 m minimum of P1.head.
    path = write(tmp_path, "channel,time,raw\nP1.head,2024-01-01T00:00:00Z,20000\n")
    report = ingestor.ingest_file(path)
    assert report.rejected == 1
    assert "below the minimum 90 of channel P1.head" in report.rejections[0].reason


def test_the_report_lists_20_rejections_and_the_store_keeps_them_all(
    ingestor: Ingestor, store: Store, stored_site: StoredSite, tmp_path: Path
) -> None:
    rows = "".join(f"WL.level,2024-01-01T00:{m:02d}:00Z,1\n" for m in range(25))
    report = ingestor.ingest_file(write(tmp_path, "channel,time,value\n" + rows))
    assert report.rejected == 25
    assert len(report.rejections) == 20
    assert store.rejection_count(stored_site.id) == 25


# --- the same file twice ------------------------------------------------------------------------


def test_ingesting_the_same_file_twice_adds_nothing(
    ingestor: Ingestor, store: Store, stored_site: StoredSite, values_file: Path
) -> None:
    first = ingestor.ingest_file(values_file)
    second = ingestor.ingest_file(values_file)
    assert (second.accepted, second.duplicates, second.rejected) == (0, first.accepted,
                                                                      first.rejected)
    assert store.rejection_count(stored_site.id) == first.rejected
    assert len(readings(store, stored_site, "WL.level")[0]) == first.accepted


def test_a_reading_repeated_in_one_file_is_stored_once_and_counted_as_duplicate(
    ingestor: Ingestor, store: Store, stored_site: StoredSite, tmp_path: Path
) -> None:
    path = write(tmp_path, "channel,time,value\n"
                           "WL.level,2024-01-01T08:00:00,120\n"
                           "WL.level,2024-01-01T00:00:00Z,120\n")  # the same instant
    report = ingestor.ingest_file(path)
    assert (report.accepted, report.duplicates) == (1, 1)


# --- file encodings and headers -----------------------------------------------------------------


def test_a_file_with_crlf_line_ends_and_a_utf8_bom_is_read(
    ingestor: Ingestor, store: Store, stored_site: StoredSite, tmp_path: Path
) -> None:
    path = tmp_path / "windows.csv"
    path.write_bytes(b"\xef\xbb\xbfchannel,time,value\r\n"
                     b"WL.level,2024-01-01T00:00:00Z,120.5\r\n"
                     b"\r\n"
                     b"WL.level,2024-01-01T01:00:00Z,abc\r\n"
                     b"WL.level,2024-01-01T02:00:00Z,121\r\n")
    report = ingestor.ingest_file(path)
    assert (report.accepted, report.rejected) == (2, 1)
    rejection = kept(store, stored_site)[4]
    assert rejection.raw == "WL.level,2024-01-01T01:00:00Z,abc"
    assert rejection.reason == "value is not a number: 'abc'"
    assert readings(store, stored_site, "WL.level")[1] == [120.5, 121.0]


def test_a_raw_file_with_crlf_line_ends_reads_its_temperature_column(
    ingestor: Ingestor, store: Store, stored_site: StoredSite, tmp_path: Path
) -> None:
    path = tmp_path / "windows.csv"
    path.write_bytes(b"channel,time,raw,temperature\r\nP1.head,2024-01-01T00:00:00Z,8000,20\r\n")
    assert ingestor.ingest_file(path).accepted == 1


def test_the_last_line_needs_no_line_end(
    ingestor: Ingestor, store: Store, stored_site: StoredSite, tmp_path: Path
) -> None:
    path = write(tmp_path, "channel,time,value\nWL.level,2024-01-01T00:00:00Z,120.5")
    assert ingestor.ingest_file(path).accepted == 1


@pytest.mark.parametrize(
    "header", ["a,b,c", "channel,time", "channel,time,value,value", "channel;time;value"]
)
def test_a_header_that_is_not_long_csv_names_the_file_and_line_1(
    ingestor: Ingestor, tmp_path: Path, header: str
) -> None:
    path = write(tmp_path, f"{header}\nWL.level,2024-01-01T00:00:00Z,120.5\n")
    with pytest.raises(InputFileError) as caught:
        ingestor.ingest_file(path)
    assert str(caught.value).startswith(f"{path}, line 1: ")
    assert "channel,time,value" in str(caught.value)  # says what is expected


def test_an_empty_file_names_the_file_and_line_1(ingestor: Ingestor, tmp_path: Path) -> None:
    path = write(tmp_path, "")
    with pytest.raises(InputFileError, match=f"^{path}, line 1: .*empty"):
        ingestor.ingest_file(path)


def test_a_missing_file_names_the_path(ingestor: Ingestor, tmp_path: Path) -> None:
    path = tmp_path / "missing.csv"
    with pytest.raises(InputFileError, match=f"^{path}: cannot open the file"):
        ingestor.ingest_file(path)


def test_a_refused_header_stores_nothing(
    ingestor: Ingestor, store: Store, stored_site: StoredSite, tmp_path: Path
) -> None:
    with pytest.raises(InputFileError):
        ingestor.ingest_file(write(tmp_path, "a,b,c\nWL.level,2024-01-01T00:00:00Z,120\n"))
    assert store.reading_counts(stored_site.id)["readings"] == 0
    assert store.rejection_count(stored_site.id) == 0


# --- streaming ----------------------------------------------------------------------------------


def big_file(tmp_path: Path) -> tuple[Path, list[int], int]:
    """A file of several kB: runs of blank lines and a bad row now and then.

    Returns the path, the line numbers of the bad rows and the number of good rows.
    """
    lines = ["channel,time,value"]
    bad: list[int] = []
    good = 0
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    for n in range(400):
        time = (start + dt.timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
        if n % 37 == 0:
            lines += ["", "", ""]
        if n % 23 == 5:
            lines.append(f"WL.level,{time},not-a-number-{n}")
            bad.append(len(lines))
        else:
            lines.append(f"WL.level,{time},{100 + n / 8}")
            good += 1
    return write(tmp_path, "\n".join(lines) + "\n", "big.csv"), bad, good


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Read files in blocks of 1000 bytes; the list collects how often a block was read."""
    original = shuian.ingest.rows.iter_line_blocks
    blocks: list[int] = []

    def counting(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        for block in original(*args, **{**kwargs, "block_bytes": 1000}):  # type: ignore[arg-type]
            blocks.append(block.count)
            yield block

    monkeypatch.setattr(shuian.ingest.files, "iter_line_blocks", counting)
    return blocks


def test_a_file_larger_than_one_block_gives_the_same_result_and_line_numbers(
    ingestor: Ingestor,
    store: Store,
    stored_site: StoredSite,
    tmp_path: Path,
    small_blocks: list[int],
) -> None:
    path, bad, good = big_file(tmp_path)
    lines = path.read_text(encoding="utf-8").splitlines()
    progress: list[int] = []
    result = ingestor.ingest_file(path, on_progress=progress.append)
    assert len(small_blocks) > 5  # really read in several blocks
    assert (result.accepted, result.rejected) == (good, len(bad))
    stored = kept(store, stored_site)
    assert sorted(stored) == bad
    assert all(stored[n].raw == lines[n - 1] for n in bad)
    assert len(readings(store, stored_site, "WL.level")[0]) == good
    assert sum(progress) == path.stat().st_size


def test_the_block_size_setting_applies_to_files_read_afterwards(
    ingestor: Ingestor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shuian.ingest.rows, "BLOCK_BYTES", 1000)
    path, _, _ = big_file(tmp_path)
    progress: list[int] = []
    ingestor.ingest_file(path, on_progress=progress.append)
    assert len(progress) > 5  # one call for the header, one per block


def test_the_progress_callback_adds_up_to_the_file_size(
    ingestor: Ingestor, tmp_path: Path
) -> None:
    path = write(tmp_path, "channel,time,value\nWL.level,2024-01-01T00:00:00Z,120.5\n\n"
                           "WL.level,2024-01-01T01:00:00Z,121")  # no final line end
    progress: list[int] = []
    ingestor.ingest_file(path, on_progress=progress.append)
    assert sum(progress) == path.stat().st_size


# --- records, as the HTTP API receives them -----------------------------------------------------


def test_records_of_values_and_raw_readings_mixed_are_stored_and_rejections_name_the_index(
    ingestor: Ingestor, store: Store, stored_site: StoredSite
) -> None:
    records = [
        {"channel": "WL.level", "time": "2024-03-01T08:00:00", "value": 120.5},
        {"channel": "P1.head", "time": "2024-03-01T00:00:00Z", "raw": 8000},
        {"channel": "WL.level", "time": "2024-03-01T01:00:00Z", "value": 80},
        {"channel": "NOPE", "time": "2024-03-01T01:00:00Z", "raw": 1.0},
        {"channel": "T1.temp", "time": "2024-03-01T01:00:00Z", "raw": -5.0},
        {"channel": "WL.level", "time": "2024-03-01T02:00:00Z", "value": 121.0},
    ]
    report = ingestor.ingest_records(records, source="api")
    assert (report.accepted, report.duplicates, report.rejected) == (3, 0, 3)
    by_line = {r.line: r for r in report.rejections}
    assert sorted(by_line) == [2, 3, 4]
    assert "below the minimum" in by_line[2].reason
    assert by_line[3].reason == "unknown channel: 'NOPE'"
    assert "calibration gives no value" in by_line[4].reason
    assert readings(store, stored_site, "WL.level") == (
        ["2024-03-01T00:00:00.000000", "2024-03-01T02:00:00.000000"], [120.5, 121.0]
    )
    assert readings(store, stored_site, "P1.head")[1] == [pytest.approx(95 + 100 / 9.80665)]
    stored = kept(store, stored_site)
    assert sorted(stored) == [2, 3, 4]
    assert {r.source for r in stored.values()} == {"api"}
    assert '"NOPE"' in stored[3].raw


def test_records_posted_twice_are_duplicates(ingestor: Ingestor) -> None:
    records = [{"channel": "WL.level", "time": "2024-03-01T00:00:00Z", "value": 120.5},
               {"channel": "P1.head", "time": "2024-03-01T00:00:00Z", "raw": 8000.0}]
    ingestor.ingest_records(records, source="api")
    again = ingestor.ingest_records(records, source="api")
    assert (again.accepted, again.duplicates) == (0, 2)


def test_raw_records_take_their_temperature(ingestor: Ingestor) -> None:
    records = [{"channel": "P1.head", "time": "2024-03-01T00:00:00Z", "raw": 8000.0,
                "temperature": 21.5}]
    assert ingestor.ingest_records(records, source="api").accepted == 1


def test_an_ingest_report_as_json_has_counts_and_rejections(
    ingestor: Ingestor, values_file: Path
) -> None:
    data = ingestor.ingest_file(values_file).as_json()
    assert (data["accepted"], data["duplicates"], data["rejected"]) == (2, 0, len(REASONS))
    assert set(data["rejections"][0]) >= {"source", "line", "reason", "raw", "channel"}
