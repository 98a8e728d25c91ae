"""Campbell Scientific TOA5 header parsing.

A TOA5 file (written by LoggerNet, PC400, RTDAQ or a logger's ``TableFile``) starts with four
comma-separated header lines; the data rows that follow are read elsewhere with pandas::

    "TOA5","TestLogger","CR1000X","12342","CR1000X.Std.03.02","CPU:TestLogger.CR1X","2438","Hourly"
    "TIMESTAMP","RECORD","BattV","AirT_C(42)","RelHumid_Avg(3)"
    "TS","RN","Volts","Deg C","% "
    "","","Avg","Smp","Avg"

1. environment: file type, station name, logger model, logger serial number, logger OS version,
   program name, program signature, table name (always eight fields);
2. column (field) names;
3. units;
4. processing (``Avg``, ``Smp``, ``Min``, ``TMn`` ...).

Fields may be quoted or not. Campbell makes the ``TIMESTAMP`` and ``RECORD`` columns optional;
Shuian requires ``TIMESTAMP`` as the first column (readings without a time cannot be stored) and
accepts files with or without ``RECORD``.

Source: Campbell Scientific, *LoggerNet Instruction Manual*, appendix "Campbell Scientific File
Formats", section TOA5.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from shuian.errors import InputFileError

__all__ = [
    "TOA5_HEADER_LINES",
    "Toa5Column",
    "Toa5Environment",
    "Toa5Header",
    "is_toa5",
    "parse_toa5_header",
]

#: Number of header lines before the first data row.
TOA5_HEADER_LINES = 4

_ENVIRONMENT_FIELDS = 8
_LINE_NAMES = ("environment", "column names", "units", "processing")
_TIMESTAMP = "TIMESTAMP"
_RECORD = "RECORD"
_BOM = "\ufeff"


@dataclass(frozen=True)
class Toa5Environment:
    """The first TOA5 header line: where the data come from.

    All fields are kept as the text found in the file (the serial number and the program
    signature are numbers in practice, but nothing in Shuian computes with them).
    """

    file_type: str
    station_name: str
    logger_model: str
    logger_serial: str
    logger_os: str
    program_name: str
    program_signature: str
    table_name: str


@dataclass(frozen=True)
class Toa5Column:
    """One column of a TOA5 table: its name, unit and processing, as written by the logger.

    ``unit`` and ``processing`` are kept verbatim, trailing spaces included (``"% "``); they may
    be empty.
    """

    name: str
    unit: str
    processing: str


@dataclass(frozen=True)
class Toa5Header:
    """The parsed four header lines of a TOA5 file."""

    environment: Toa5Environment
    columns: tuple[Toa5Column, ...]
    #: Fields on each header line, the trailing empty ones (``,,,``) included: the width the
    #: data rows of such a file share with their header.
    field_count: int

    @property
    def header_lines(self) -> int:
        """Number of lines to skip before the first data row (always 4)."""
        return TOA5_HEADER_LINES

    @property
    def value_columns(self) -> tuple[Toa5Column, ...]:
        """The measured columns: every column after ``TIMESTAMP`` and, if present, ``RECORD``."""
        start = 1
        if len(self.columns) > 1 and self.columns[1].name == _RECORD:
            start = 2
        return self.columns[start:]


def is_toa5(first_line: str) -> bool:
    """Tell cheaply whether a file's first line looks like a TOA5 environment line.

    Used to pick the reader for a file; :func:`parse_toa5_header` does the real checks.

    Parameters
    ----------
    first_line : str
        The first line of the file, with or without its line ending.

    Returns
    -------
    bool
        True when the line starts with the field ``TOA5`` (quoted or not) followed by a comma.

    Examples
    --------
    >>> is_toa5('"TOA5","Station","CR1000"')
    True
    >>> is_toa5('TOB1,Station,CR1000')
    False
    """
    line = first_line.removeprefix(_BOM)
    return line.startswith(('"TOA5",', "TOA5,"))


def parse_toa5_header(lines: Sequence[str], *, source: str) -> Toa5Header:
    """Parse the four header lines of a TOA5 file.

    Parameters
    ----------
    lines : Sequence[str]
        The first lines of the file (up to four; more are ignored), without line endings. A file
        with fewer than four lines is reported as truncated.
    source : str
        The file name or other label used in error messages.

    Returns
    -------
    Toa5Header
        The environment and the columns. Trailing columns whose name, unit and processing are
        all empty (written by some tools as ``,,,``) are no columns; ``field_count`` still
        counts them, as the data rows of such a file carry the same empty fields.

    Raises
    ------
    InputFileError
        If the header is not a valid TOA5 header; the message names ``source``, the 1-based line
        number and the problem: empty file, missing lines, a line cut short inside a quoted
        field, a file type other than ``TOA5``, an environment line without exactly eight
        fields, header lines of different lengths, an empty or duplicate column name, or a first
        column other than ``TIMESTAMP``.

    Examples
    --------
    >>> header = parse_toa5_header(
    ...     [
    ...         "TOA5,Station,CR1000,S11,CR1000.Std.32.03,CPU:T1.CR1,4242,Table",
    ...         "TIMESTAMP,RECORD,Batt_V_Avg",
    ...         "TS,RN,Volts",
    ...         ",,Avg",
    ...     ],
    ...     source="example.dat",
    ... )
    >>> header.environment.table_name
    'Table'
    >>> [c.name for c in header.value_columns]
    ['Batt_V_Avg']
    """
    if len(lines) == 0:
        raise InputFileError(
            f"{source}: the file is empty; expected a TOA5 file starting with 4 header lines"
        )
    # Check line 1 before looking further, so that a TOB1 or CSV file is named as such rather
    # than reported as a truncated TOA5 file.
    environment = _environment(
        _split_line(lines[0].removeprefix(_BOM), source=source, line_no=1), source=source
    )
    rows = [
        _split_line(line, source=source, line_no=line_no)
        for line_no, line in enumerate(lines[1:TOA5_HEADER_LINES], start=2)
    ]
    if len(rows) < TOA5_HEADER_LINES - 1:
        present = len(rows) + 1
        missing = _LINE_NAMES[present]
        raise InputFileError(
            f"{source}: line {present + 1}: the {missing} line is missing: the file has only "
            f"{present} of the {TOA5_HEADER_LINES} TOA5 header lines (truncated file?)"
        )
    columns = _columns(rows[0], rows[1], rows[2], source=source)
    return Toa5Header(environment=environment, columns=columns, field_count=len(rows[0]))


def _split_line(line: str, *, source: str, line_no: int) -> list[str]:
    """Split one header line into its CSV fields, refusing lines cut short or malformed."""
    if line == "":
        raise InputFileError(
            f"{source}: line {line_no}: the line is empty; expected the TOA5 "
            f"{_LINE_NAMES[line_no - 1]} line"
        )
    if _ends_inside_quotes(line):
        raise InputFileError(
            f"{source}: line {line_no}: the line is cut short: a quoted field is not closed "
            f"(truncated or damaged {_LINE_NAMES[line_no - 1]} line)"
        )
    try:
        rows = list(csv.reader([line], strict=True))
    except csv.Error as exc:
        raise InputFileError(
            f"{source}: line {line_no}: the {_LINE_NAMES[line_no - 1]} line is not valid CSV: {exc}"
        ) from exc
    if len(rows) != 1:
        raise InputFileError(
            f"{source}: line {line_no}: expected one CSV record, found {len(rows)} "
            "(a line break inside the line?)"
        )
    return rows[0]


def _ends_inside_quotes(line: str) -> bool:
    """Tell whether a CSV line ends inside a quoted field (``"a","b`` ends inside quotes).

    A quote opens a quoted field only at the start of a field; inside a quoted field a doubled
    quote is an escaped quote and a single quote closes the field.
    """
    in_quotes = False
    at_field_start = True
    i = 0
    while i < len(line):
        char = line[i]
        if in_quotes:
            if char == '"':
                if i + 1 < len(line) and line[i + 1] == '"':
                    i += 1
                else:
                    in_quotes = False
        elif char == '"' and at_field_start:
            in_quotes = True
        at_field_start = not in_quotes and char == ","
        i += 1
    return in_quotes


def _environment(fields: list[str], *, source: str) -> Toa5Environment:
    """Build the environment from the first line's fields, checking type and field count."""
    if fields[0] != "TOA5":
        found = fields[0] if len(fields[0]) <= 20 else fields[0][:20] + "..."
        raise InputFileError(
            f"{source}: line 1: not a TOA5 file: the first field is {found!r}, expected 'TOA5' "
            "(export the table as TOA5 from LoggerNet or PC400)"
        )
    if len(fields) != _ENVIRONMENT_FIELDS:
        raise InputFileError(
            f"{source}: line 1: the environment line has {len(fields)} fields, expected "
            f"{_ENVIRONMENT_FIELDS} (file type, station, logger model, serial number, OS, "
            "program name, program signature, table name)"
        )
    return Toa5Environment(*fields)


def _columns(
    names: list[str], units: list[str], processing: list[str], *, source: str
) -> tuple[Toa5Column, ...]:
    """Zip the names, units and processing lines into columns, checking their consistency."""
    if len(units) != len(names):
        raise InputFileError(
            f"{source}: line 3: the units line has {len(units)} fields but the column names line "
            f"(line 2) has {len(names)}"
        )
    if len(processing) != len(names):
        raise InputFileError(
            f"{source}: line 4: the processing line has {len(processing)} fields but the column "
            f"names line (line 2) has {len(names)}"
        )
    triples = list(zip(names, units, processing, strict=True))
    while triples and triples[-1] == ("", "", ""):
        triples.pop()
    if not triples:
        raise InputFileError(f"{source}: line 2: the column names line names no column")
    for position, (name, _, _) in enumerate(triples, start=1):
        if name == "":
            raise InputFileError(f"{source}: line 2: column {position} has an empty name")
    duplicates = sorted(
        name for name, count in Counter(n for n, _, _ in triples).items() if count > 1
    )
    if duplicates:
        listed = ", ".join(repr(name) for name in duplicates)
        raise InputFileError(
            f"{source}: line 2: duplicate column name(s): {listed}; each column needs a unique "
            "name (check the Alias and field names in the logger program)"
        )
    if triples[0][0] != _TIMESTAMP:
        raise InputFileError(
            f"{source}: line 2: the first column is {triples[0][0]!r}, expected 'TIMESTAMP' "
            "(collect the table with time stamps included)"
        )
    return tuple(Toa5Column(name, unit, proc) for name, unit, proc in triples)
