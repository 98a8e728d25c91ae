"""Specification of TOA5 ingest through the site's loggers, on SQLite and on PostgreSQL.

The test site maps logger TestLogger, table Hourly: BattV -> LOG.batt, AirT_C(42) -> LOG.airt,
RelHumid_Avg(3) -> LOG.rh; the logger clock is in the site zone (Asia/Shanghai, UTC+8).
Reference files: pytoa5's test files (copies in tests/data/toa5, see ORIGIN-pytoa5.txt there).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shuian.errors import InputFileError
from shuian.services.ingest import Ingestor
from shuian.site import parse_site
from shuian.store import Store, StoredSite

REFERENCE = Path(__file__).parent / "data" / "toa5"
SITE_FILE = Path(__file__).parent / "data" / "site.yaml"


HEADER = (
    '"TOA5","TestLogger","CR1000X","12342","CR1000X.Std.03.02","CPU:TestLogger.CR1X","2438",'
    '"Hourly"\n'
    '"TIMESTAMP","RECORD","BattV","AirT_C(42)","RelHumid_Avg(3)"\n'
    '"TS","RN","Volts","Deg C","% "\n'
    '"","","Avg","Smp","Avg"\n'
)


@pytest.fixture
def ingestor(store: Store, stored_site: StoredSite) -> Ingestor:
    return Ingestor(store, stored_site)


def series(store: Store, stored: StoredSite, code: str) -> tuple[list[str], list[float]]:
    times, values = store.readings(store.channel(stored.id, code).id)
    stamps = times.astype("datetime64[us]").astype("datetime64[s]")
    return np.datetime_as_string(stamps).tolist(), values.tolist()


def nothing_stored(store: Store, stored: StoredSite) -> bool:
    return (store.reading_counts(stored.id)["readings"] == 0
            and store.rejection_count(stored.id) == 0)


def test_an_hourly_file_is_stored_through_the_logger_map_in_utc(
    ingestor: Ingestor, store: Store, stored_site: StoredSite
) -> None:
    report = ingestor.ingest_file(REFERENCE / "TestLogger_Hourly_1.dat")
    assert (report.accepted, report.duplicates, report.rejected) == (9, 0, 0)
    utc = ["2021-06-18T13:00:00", "2021-06-18T14:00:00", "2021-06-18T15:00:00"]  # 21:00+08 ...
    assert series(store, stored_site, "LOG.batt") == (utc, [13.23, 13.31, 13.36])
    assert series(store, stored_site, "LOG.airt") == (utc, [26.29, 25.14, 23.64])
    assert series(store, stored_site, "LOG.rh") == (utc, [49.31, 54.85, 63.28])


def test_unmapped_columns_are_not_stored(
    ingestor: Ingestor, store: Store, stored_site: StoredSite
) -> None:
    ingestor.ingest_file(REFERENCE / "TestLogger_Hourly_1.dat")
    assert store.reading_counts(stored_site.id)["by_type"] == {"air_temperature": 9}


def test_the_same_logger_file_twice_adds_nothing(ingestor: Ingestor) -> None:
    ingestor.ingest_file(REFERENCE / "TestLogger_Hourly_1.dat")
    again = ingestor.ingest_file(REFERENCE / "TestLogger_Hourly_1.dat")
    assert (again.accepted, again.duplicates, again.rejected) == (0, 9, 0)


def test_a_logger_clock_in_its_own_zone_is_honoured(store: Store, stored_site: StoredSite) -> None:
    text = SITE_FILE.read_text(encoding="utf-8").replace(
        "    table: Hourly\n", "    table: Hourly\n    timezone: UTC\n"
    )
    store.save_site(parse_site(text), text)
    Ingestor(store, store.site()).ingest_file(REFERENCE / "TestLogger_Hourly_1.dat")
    assert series(store, stored_site, "LOG.batt")[0][0] == "2021-06-18T21:00:00"


def test_a_table_without_a_logger_in_the_site_file_names_it_and_the_fix(
    ingestor: Ingestor, store: Store, stored_site: StoredSite
) -> None:
    path = REFERENCE / "TestLogger_Daily_1.dat"
    with pytest.raises(InputFileError) as caught:
        ingestor.ingest_file(path)
    message = str(caught.value)
    assert message.startswith(f"{path}, line 1: ")
    assert "TestLogger/Daily" in message
    assert "TestLogger/Hourly" in message  # the loggers it knows
    assert "loggers:" in message  # where to add it
    assert nothing_stored(store, stored_site)


def test_a_logger_file_with_no_mapped_column_is_refused(
    ingestor: Ingestor, tmp_path: Path
) -> None:
    path = tmp_path / "other.dat"
    path.write_text(HEADER.replace('"BattV","AirT_C(42)","RelHumid_Avg(3)"', '"A","B","C"')
                    + '"2022-01-01 00:00:00",1,1,2,3\n', encoding="utf-8")
    with pytest.raises(InputFileError, match="none of the columns .* is mapped"):
        ingestor.ingest_file(path)


@pytest.mark.parametrize("number", range(1, 13), ids=lambda n: f"Bad{n:02d}")
def test_each_bad_reference_file_is_refused_with_a_reason_and_nothing_is_stored(
    ingestor: Ingestor, store: Store, stored_site: StoredSite, number: int
) -> None:
    path = REFERENCE / f"TestLogger_Hourly_Bad{number:02d}.dat"
    with pytest.raises(InputFileError) as caught:
        ingestor.ingest_file(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    assert "line " in message
    assert len(message) > len(str(path)) + 20  # a reason, not just the file name
    assert nothing_stored(store, stored_site)


def test_nan_values_are_rejected_rows_with_a_reason(
    ingestor: Ingestor, store: Store, stored_site: StoredSite, tmp_path: Path
) -> None:
    path = tmp_path / "nan.dat"
    rows = ('"2022-01-01 08:00:00",1,12.5,"NAN",50\n'
            '"2022-01-01 09:00:00",2,NAN,5.5,51\n'
            '"2022-01-01 10:00:00",3,12.7,6.5,52\n')
    path.write_text(HEADER + rows, encoding="utf-8")
    report = ingestor.ingest_file(path)
    assert (report.accepted, report.rejected) == (7, 2)
    by_line = {r.line: r for r in store.rejections(stored_site.id)}
    assert sorted(by_line) == [5, 6]
    assert by_line[5].channel == "LOG.airt"
    assert by_line[5].raw == rows.splitlines()[0]
    assert "NAN" in by_line[5].reason
    assert by_line[6].channel == "LOG.batt"
    assert series(store, stored_site, "LOG.batt")[1] == [12.5, 12.7]
    assert series(store, stored_site, "LOG.rh")[0][0] == "2022-01-01T00:00:00"


def test_a_logger_value_outside_the_channel_limits_is_rejected(
    ingestor: Ingestor, store: Store, stored_site: StoredSite, tmp_path: Path
) -> None:
    path = tmp_path / "limits.dat"
    path.write_text(HEADER + '"2022-01-01 08:00:00",1,12.5,5.0,150\n', encoding="utf-8")
    report = ingestor.ingest_file(path)
    assert (report.accepted, report.rejected) == (2, 1)
    assert report.rejections[0].reason == "value 150 is above the maximum 100 of channel LOG.rh"


def test_an_unquoted_logger_file_with_crlf_line_ends_is_read(
    ingestor: Ingestor, store: Store, stored_site: StoredSite, tmp_path: Path
) -> None:
    path = tmp_path / "unquoted.dat"
    text = HEADER.replace('"', "") + "2022-01-01 08:00:00,1,12.5,5.0,50\n"
    path.write_bytes(text.replace("\n", "\r\n").encode("utf-8"))
    assert ingestor.ingest_file(path).accepted == 3


def save_site_with_the_reader_test_logger(store: Store) -> None:
    """The test site, also mapping logger Station/Table (column Batt_V_Avg) to LOG.batt."""
    text = SITE_FILE.read_text(encoding="utf-8").replace(
        "loggers:\n",
        "loggers:\n  - station: Station\n    table: Table\n    timezone: UTC\n"
        "    columns: {Batt_V_Avg: LOG.batt}\n",
    )
    store.save_site(parse_site(text), text)


def test_an_unquoted_file_with_trailing_empty_columns_is_read_row_by_row(
    store: Store, stored_site: StoredSite
) -> None:
    # euracresearch/toa5's reader test: every header line and every row ends in five empty
    # columns, as some loggers write them; the header and its rows agree on eight columns.
    save_site_with_the_reader_test_logger(store)
    report = Ingestor(store, store.site()).ingest_file(
        REFERENCE / "unquoted_example_from_reader_test.txt"
    )
    assert (report.accepted, report.rejected) == (2, 0), report.rejections
    assert series(store, stored_site, "LOG.batt") == (
        ["2020-06-07T23:45:00", "2020-06-08T00:00:00"], [12.52, 12.56]
    )


def test_a_row_with_more_values_than_its_header_is_kept_as_a_rejection(
    ingestor: Ingestor, store: Store, stored_site: StoredSite, tmp_path: Path
) -> None:
    path = tmp_path / "wide.dat"
    path.write_text(HEADER + '"2022-01-01 08:00:00",1,12.5,5.0,50,99\n', encoding="utf-8")
    report = ingestor.ingest_file(path)
    assert (report.accepted, report.rejected) == (0, 1)  # the line is kept once, no channel
    [rejection] = report.rejections
    assert rejection.reason == "the line has more fields than the header's 5 column(s)"
    assert (rejection.line, rejection.channel) == (5, None)


def test_a_value_under_an_empty_trailing_header_field_is_kept_as_a_rejection(
    store: Store, stored_site: StoredSite, tmp_path: Path
) -> None:
    save_site_with_the_reader_test_logger(store)
    source = (REFERENCE / "unquoted_example_from_reader_test.txt").read_text(encoding="utf-8")
    path = tmp_path / "stray.dat"
    path.write_text(source + "2020-06-08 00:15,2,12.57,,7.5,,,\n", encoding="utf-8")
    report = Ingestor(store, store.site()).ingest_file(path)
    assert (report.accepted, report.rejected) == (2, 1)
    assert (report.rejections[0].line, report.rejections[0].reason) == (
        7, "the line has more fields than the header's 3 column(s)"
    )


def test_a_line_with_two_bad_columns_keeps_both_reasons_each_with_its_channel(
    ingestor: Ingestor, store: Store, stored_site: StoredSite, tmp_path: Path
) -> None:
    path = tmp_path / "two.dat"
    row = '"2022-01-01 08:00:00",1,"low",5.0,"wet"'
    path.write_text(HEADER + row + "\n", encoding="utf-8")
    report = ingestor.ingest_file(path)
    assert (report.accepted, report.rejected) == (1, 2)
    kept = {(r.line, r.channel): r for r in store.rejections(stored_site.id)}
    assert sorted(kept, key=str) == [(5, "LOG.batt"), (5, "LOG.rh")]
    assert kept[5, "LOG.batt"].reason == "value is not a number: 'low'"
    assert kept[5, "LOG.rh"].reason == "value is not a number: 'wet'"
    assert all(r.raw == row for r in kept.values())


@pytest.mark.parametrize(
    "bad",
    [b'"2022-01-01 09:00:00",2,12.6,\xff5,51', b'"2022-01-01 09:00:00",2,12.6,5\r5,51',
     b'"2022-01-01 09:00:00",2,12.6,"5.5,51'],
    ids=["not text", "bare CR", "quote not closed"],
)
def test_a_logger_line_that_cannot_be_read_is_one_rejection_and_the_others_are_stored(
    ingestor: Ingestor, store: Store, stored_site: StoredSite, tmp_path: Path, bad: bytes
) -> None:
    path = tmp_path / "bad.dat"
    path.write_bytes(HEADER.encode() + b'"2022-01-01 08:00:00",1,12.5,5.0,50\n' + bad + b"\n"
                     + b'"2022-01-01 10:00:00",3,12.7,6.5,52\n')
    report = ingestor.ingest_file(path)
    assert (report.accepted, report.rejected) == (6, 1)
    [rejection] = store.rejections(stored_site.id)
    assert (rejection.line, rejection.channel) == (6, None)
    assert rejection.reason.startswith("the line ")
    assert series(store, stored_site, "LOG.batt")[1] == [12.5, 12.7]
