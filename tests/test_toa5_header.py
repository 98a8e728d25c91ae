"""Specification of the TOA5 header parser, checked against real logger files."""

from __future__ import annotations

from pathlib import Path

import pytest

from shuian.errors import InputFileError
from shuian.ingest.toa5 import (
    Toa5Column,
    Toa5Environment,
    Toa5Header,
    is_toa5,
    parse_toa5_header,
)

REFERENCE = Path(__file__).parent / "data" / "toa5"

ENV_LINE = '"TOA5","St","CR1000X","1","CR1000X.Std.03.02","CPU:P.CR1X","2438","Hourly"'


def header_lines(name: str) -> list[str]:
    """The first four lines of a reference file, as a TOA5 reader would pass them."""
    text = (REFERENCE / name).read_text(encoding="utf-8")
    return text.splitlines()[:4]


def parse_file(name: str) -> Toa5Header:
    return parse_toa5_header(header_lines(name), source=name)


def env(table: str) -> Toa5Environment:
    # ORIGIN-pytoa5.txt: _exp_env_daily / _exp_env_hourly in pytoa5's tests/test_toa5.py
    return Toa5Environment(
        file_type="TOA5",
        station_name="TestLogger",
        logger_model="CR1000X",
        logger_serial="12342",
        logger_os="CR1000X.Std.03.02",
        program_name="CPU:TestLogger.CR1X",
        program_signature="2438",
        table_name=table,
    )


def cols(*triples: tuple[str, str, str]) -> tuple[Toa5Column, ...]:
    return tuple(Toa5Column(*t) for t in triples)


# --- files that parse --------------------------------------------------------------------------


def test_hourly_file() -> None:
    header = parse_file("TestLogger_Hourly_1.dat")
    assert header.environment == env("Hourly")
    assert header.columns == cols(
        ("TIMESTAMP", "TS", ""),
        ("RECORD", "RN", ""),
        ("BattV", "Volts", "Avg"),
        ("PTemp_C_Min", "Deg C", "Min"),
        ("PTemp_C_Max", "Deg C", "Max"),
        ("AirT_C(42)", "Deg C", "Smp"),
        ("RelHumid_Avg(3)", "% ", "Avg"),  # the unit keeps its trailing space
    )
    assert header.header_lines == 4
    assert [c.name for c in header.value_columns] == [
        "BattV",
        "PTemp_C_Min",
        "PTemp_C_Max",
        "AirT_C(42)",
        "RelHumid_Avg(3)",
    ]


def test_daily_file_with_empty_units_and_time_of_extreme_columns() -> None:
    header = parse_file("TestLogger_Daily_1.dat")
    assert header.environment == env("Daily")
    assert header.columns == cols(
        ("TIMESTAMP", "TS", ""),
        ("RECORD", "RN", ""),
        ("BattV_Min", "Volts", "Min"),
        ("BattV_TMn", "", "TMn"),
        ("PTemp", "oC", "Smp"),
        ("PTemp_C_Min", "Deg C", "Min"),
        ("PTemp_C_TMn", "", "TMn"),
        ("PTemp_C_Max", "Deg C", "Max"),
        ("PTemp_C_TMx", "", "TMx"),
    )
    assert len(header.value_columns) == 7


def test_unquoted_file_with_trailing_empty_columns() -> None:
    header = parse_file("unquoted_example_from_reader_test.txt")
    # ORIGIN-euracresearch.txt: Environment{TOA5, Station, CR1000, S11, ...}
    assert header.environment == Toa5Environment(
        "TOA5", "Station", "CR1000", "S11", "CR1000.Std.32.03", "CPU:T1.CR1", "4242", "Table"
    )
    assert header.columns == cols(
        ("TIMESTAMP", "TS", ""), ("RECORD", "RN", ""), ("Batt_V_Avg", "Volts", "Avg")
    )
    assert header.value_columns == cols(("Batt_V_Avg", "Volts", "Avg"))


def test_record_column_is_optional() -> None:
    header = parse_toa5_header(
        [ENV_LINE, '"TIMESTAMP","BattV"', '"TS","Volts"', '"","Avg"'], source="x.dat"
    )
    assert header.value_columns == cols(("BattV", "Volts", "Avg"))


def test_more_than_four_lines_are_ignored_and_bom_is_skipped() -> None:
    lines = ["\ufeff" + ENV_LINE, '"TIMESTAMP","A"', '"TS","m"', '"","Smp"', "not,a,header"]
    header = parse_toa5_header(lines, source="x.dat")
    assert header.environment.file_type == "TOA5"
    assert header.value_columns == cols(("A", "m", "Smp"))


def test_escaped_quote_in_a_field_is_not_a_cut_short_line() -> None:
    header = parse_toa5_header(
        [ENV_LINE, '"TIMESTAMP","A"', '"TS","in ""H2O"', '"","Smp"'], source="x.dat"
    )
    assert header.value_columns == cols(("A", 'in "H2O', "Smp"))


def test_header_is_frozen() -> None:
    header = parse_file("TestLogger_Hourly_1.dat")
    with pytest.raises(AttributeError):
        header.environment.table_name = "Other"  # type: ignore[misc]


# --- files that are refused --------------------------------------------------------------------

BAD_FILES = [
    ("TestLogger_Hourly_Bad01.dat", None, "the file is empty"),
    ("TestLogger_Hourly_Bad02.dat", 1, "cut short"),
    ("TestLogger_Hourly_Bad03.dat", 1, "line is empty"),
    ("TestLogger_Hourly_Bad04.dat", 1, "the first field is 'TOA6', expected 'TOA5'"),
    ("TestLogger_Hourly_Bad05.dat", 1, "environment line has 9 fields, expected 8"),
    ("TestLogger_Hourly_Bad06.dat", 3, "the units line is missing"),
    ("TestLogger_Hourly_Bad07.dat", 2, "the column names line is missing"),
    ("TestLogger_Hourly_Bad08.dat", 2, "cut short"),
    ("TestLogger_Hourly_Bad09.dat", 3, "cut short"),
    ("TestLogger_Hourly_Bad10.dat", 3, "units line has 7 fields but the column names line"),
    ("TestLogger_Hourly_Bad11.dat", 3, "units line has 6 fields but the column names line"),
    ("TestLogger_Hourly_Bad12.dat", 2, "duplicate column name(s): 'AirT_C(42)'"),
]


def test_every_bad_reference_file_is_covered() -> None:
    on_disk = sorted(p.name for p in REFERENCE.glob("TestLogger_Hourly_Bad*.dat"))
    assert on_disk == [name for name, _, _ in BAD_FILES]


@pytest.mark.parametrize(("name", "line", "reason"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_reference_file_is_refused(name: str, line: int | None, reason: str) -> None:
    with pytest.raises(InputFileError) as info:
        parse_file(name)
    message = str(info.value)
    assert message.startswith(f"{name}: ")
    if line is not None:
        assert f": line {line}: " in message
    assert reason in message
    assert info.value.status == 422


BAD_HEADERS = [
    pytest.param(
        ["TOA3,Station,CR1000,S11,CR1000.Std.32.03,CPU:T1.CR1,4242,Table"],
        1,
        "the first field is 'TOA3'",
        id="toa3",
    ),
    pytest.param(['"TOB1","St","CR1000"', '"SECONDS"'], 1, "the first field is 'TOB1'", id="tob1"),
    pytest.param(
        ["TOA5,Station,CR1000,S11,CR1000.Std.32.03,CPU:T1.CR1"],
        1,
        "environment line has 6 fields, expected 8",
        id="short-environment",
    ),
    pytest.param(
        [ENV_LINE, '"TIMESTAMP","A"', '"TS","m"', '"","Smp","Avg"'],
        4,
        "processing line has 3 fields but the column names line (line 2) has 2",
        id="processing-length",
    ),
    pytest.param(
        [ENV_LINE, '"RECORD","TIMESTAMP","A"', '"RN","TS","m"', '"","","Smp"'],
        2,
        "the first column is 'RECORD', expected 'TIMESTAMP'",
        id="no-leading-timestamp",
    ),
    pytest.param(
        [ENV_LINE, '"TIMESTAMP","","A"', '"TS","","m"', '"","","Smp"'],
        2,
        "column 2 has an empty name",
        id="empty-name",
    ),
    pytest.param(
        [ENV_LINE, '"TIMESTAMP","A",""', '"TS","m","V"', '"","Smp",""'],
        2,
        "column 3 has an empty name",
        id="trailing-column-with-unit-is-not-dropped",
    ),
    pytest.param([ENV_LINE, ",,", ",,", ",,"], 2, "names no column", id="all-columns-empty"),
    pytest.param(
        [ENV_LINE, '"TIMESTAMP"x,"A"', '"TS","m"', '"","Smp"'],
        2,
        "not valid CSV",
        id="garbage-after-quote",
    ),
    pytest.param(
        [ENV_LINE, '"TIMESTAMP","A"', '"TS","m"', ""], 4, "line is empty", id="empty-line-4"
    ),
]


@pytest.mark.parametrize(("lines", "line", "reason"), BAD_HEADERS)
def test_bad_header_is_refused(lines: list[str], line: int, reason: str) -> None:
    with pytest.raises(InputFileError) as info:
        parse_toa5_header(lines, source="site/logger.dat")
    message = str(info.value)
    assert message.startswith(f"site/logger.dat: line {line}: ")
    assert reason in message


# --- sniffing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("TestLogger_Hourly_1.dat", True),
        ("TestLogger_Daily_1.dat", True),
        ("unquoted_example_from_reader_test.txt", True),
        ("TestLogger_Hourly_Bad04.dat", False),
    ],
)
def test_is_toa5_on_reference_files(name: str, expected: bool) -> None:
    assert is_toa5(header_lines(name)[0]) is expected


@pytest.mark.parametrize(
    ("first_line", "expected"),
    [
        ('\ufeff"TOA5","St"', True),
        ('"TOA5","St"\r\n', True),
        ("", False),
        ('"TOA50","St"', False),
        ('"TOB1","St"', False),
        ("timestamp,value", False),
    ],
)
def test_is_toa5(first_line: str, expected: bool) -> None:
    assert is_toa5(first_line) is expected
