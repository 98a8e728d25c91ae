"""The site-less flood routing an engineer runs on two CSV files.

``RES.csv`` describes the reservoir with an uncontrolled outlet, as HEC-HMS's "outflow curve"
reservoir method does: the columns ``level``, ``storage`` and ``outflow`` (in any order), one
row per level, levels and storages strictly increasing. ``FLOW.csv`` holds the inflow
hydrograph: the columns ``time`` and ``inflow``; ``time`` is either ISO 8601 (a time without an
offset is taken as UTC) or hours from the start, at a fixed step.

The inflow is routed by the Modified Puls method (:func:`shuian.hydrology.routing.route_puls`)
with *linear* interpolation in both tables, as HEC-HMS does, so that results compare with
HEC-HMS's. Units are SI (m, m³, m³/s) or, with ``units="us"``, US customary (ft, acre-ft, cfs;
storages are converted to ft³ for the routing and back for the results).

Any problem with a file's structure (a missing column, a cell that is not a number, levels that
do not increase, an irregular step) raises :class:`~shuian.errors.InputFileError` naming the
file, the line and the column.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from shuian.errors import InputFileError, InvalidRequestError
from shuian.hydrology.routing import ACRE_FOOT_FT3, RoutingResult, route_puls
from shuian.hydrology.storage import StageStorage
from shuian.services.text_file import read_text
from shuian.times import iso_us, iso_utc

FloatArray = NDArray[np.float64]

#: Columns of the reservoir table.
TABLE_COLUMNS = ("level", "storage", "outflow")
#: Columns of the inflow file.
INFLOW_COLUMNS = ("time", "inflow")
#: Columns of the result file.
RESULT_COLUMNS = ("time", "inflow", "outflow", "level", "storage")
#: Hours given as numbers may differ from the fixed step by this much (h), for rounding.
_HOURS_TOLERANCE = 1e-6


Units = Literal["si", "us"]

__all__ = ["INFLOW_COLUMNS", "RESULT_COLUMNS", "TABLE_COLUMNS", "RoutingFileResult", "route_csv"]


@dataclass(frozen=True, eq=False)
class RoutingFileResult:
    """The routing of one inflow file through one reservoir table.

    Attributes
    ----------
    table_source, inflow_source : str
        The files read.
    units : {"si", "us"}
        Units of the files and of every figure here: m, m³, m³/s or ft, acre-ft, cfs.
    result : RoutingResult
        The routing in the routing's units (storage in ft³ for ``"us"``).
    start_us : int or None
        The first inflow time (µs since 1970 UTC) when the inflow had ISO times; None when it
        had hours.
    start_hours : float
        The first inflow time in hours when the inflow had hours (else 0).
    """

    table_source: str
    inflow_source: str
    units: Units
    result: RoutingResult
    start_us: int | None
    start_hours: float

    @property
    def storage(self) -> FloatArray:
        """Storage at each step in the file's unit (m³ or acre-ft)."""
        factor = ACRE_FOOT_FT3 if self.units == "us" else 1.0
        return np.asarray(self.result.storage / factor, dtype=np.float64)

    def times(self) -> list[str] | list[float]:
        """Each step's time as the inflow file gave it: ISO 8601 UTC, or hours."""
        if self.start_us is None:
            return [self.start_hours + float(t) / 3600.0 for t in self.result.times]
        offsets = np.rint(self.result.times * 1e6).astype(np.int64)
        return iso_utc(times_us=self.start_us + offsets)

    def summary(self) -> dict[str, Any]:
        """Peak flows, maximum level and storage, time of peak outflow, balance.

        Keys ``peak_inflow``, ``peak_outflow``, ``max_level``, ``max_storage`` (in the file's
        units), ``time_of_peak_outflow`` (ISO 8601 UTC, or hours like the inflow file),
        ``attenuation`` and ``mass_balance_error`` (relative).
        """
        figures = self.result.summary()
        peak_step = int(np.argmax(self.result.outflow))
        return {
            "peak_inflow": figures["peak_inflow"],
            "peak_outflow": figures["peak_outflow"],
            "max_level": figures["max_level"],
            "max_storage": float(np.max(self.storage)),
            "time_of_peak_outflow": self.times()[peak_step],
            "attenuation": figures["attenuation"],
            "mass_balance_error": figures["mass_balance_error"],
        }

    def as_json(self) -> dict[str, Any]:
        """The summary's keys, ``units`` and ``series`` (one list per result column)."""
        return {
            **self.summary(),
            "units": self.units,
            "series": {
                "time": self.times(),
                "inflow": self.result.inflow.tolist(),
                "outflow": self.result.outflow.tolist(),
                "level": self.result.level.tolist(),
                "storage": self.storage.tolist(),
            },
        }

    def write_csv(self, path: str | Path) -> None:
        """Write :data:`RESULT_COLUMNS`, one row per inflow step, in the file's units."""
        times = [t if isinstance(t, str) else f"{t:.10g}" for t in self.times()]
        numbers = np.column_stack(
            [self.result.inflow, self.result.outflow, self.result.level, self.storage]
        )
        with Path(path).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(RESULT_COLUMNS)
            for time, row in zip(times, numbers.tolist(), strict=True):
                writer.writerow([time, *(f"{value:.10g}" for value in row)])


def _rows(path: Path, columns: tuple[str, ...]) -> tuple[str, list[tuple[int, dict[str, str]]]]:
    """The data rows of a CSV file as (line, {column: cell}), after checking its header."""
    source = str(path)
    handle = io.StringIO(read_text(path, source), newline="")
    rows: list[tuple[int, dict[str, str]]] = []
    with handle:
        reader = csv.reader(handle)
        header = [name.strip().lower() for name in next(reader, [])]
        if sorted(header) != sorted(columns):
            raise InputFileError(
                f"{source}: line 1: the header is {header}; the file needs exactly the "
                f"columns {', '.join(columns)}"
            )
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise InputFileError(
                    f"{source}: line {reader.line_num}: {len(row)} fields where the header has "
                    f"{len(header)}"
                )
            rows.append((reader.line_num, {h: c.strip() for h, c in zip(header, row, strict=True)}))
    if len(rows) < 2:
        raise InputFileError(f"{source}: {len(rows)} data row(s); the file needs at least two")
    return source, rows


def _number(source: str, line: int, column: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise InputFileError(f"{source}: line {line}: column {column}: {text!r} is not a number")
    return value


def _read_table(path: Path) -> tuple[FloatArray, FloatArray, FloatArray]:
    source, rows = _rows(path, TABLE_COLUMNS)
    values = np.array(
        [[_number(source, line, c, cells[c]) for c in TABLE_COLUMNS] for line, cells in rows]
    )
    for k, column in enumerate(TABLE_COLUMNS[:2]):
        bad = np.flatnonzero(np.diff(values[:, k]) <= 0)
        if bad.size:
            line = rows[int(bad[0]) + 1][0]
            raise InputFileError(
                f"{source}: line {line}: column {column}: {values[bad[0] + 1, k]:.10g} does not "
                f"exceed the row before ({values[bad[0], k]:.10g}); {column}s must increase "
                "strictly"
            )
    return values[:, 0], values[:, 1], values[:, 2]


def read_inflow(path: Path) -> tuple[FloatArray, float, int | None, float]:
    """Inflow, step (s), first time (µs, ISO files) and first hour (hour files)."""
    source, rows = _rows(path, INFLOW_COLUMNS)
    inflow = np.array([_number(source, line, "inflow", cells["inflow"]) for line, cells in rows])
    first = rows[0][1]["time"]
    hours_given = iso_us(first) is None
    if hours_given:
        hours = np.array([_number(source, line, "time", cells["time"]) for line, cells in rows])
        step = hours[1] - hours[0]
        tolerance = _HOURS_TOLERANCE
        seconds = step * 3600.0
        times: FloatArray = hours
    else:
        stamps: list[int] = []
        for line, cells in rows:
            moment = iso_us(cells["time"])
            if moment is None:
                raise InputFileError(
                    f"{source}: line {line}: column time: {cells['time']!r} is not an ISO 8601 "
                    "time like the first row's (or give every time in hours from the start)"
                )
            stamps.append(moment)
        times = np.array(stamps, dtype=np.float64)
        step = times[1] - times[0]
        tolerance = 0.5
        seconds = step / 1e6
    if step <= 0:
        raise InputFileError(f"{source}: line {rows[1][0]}: column time: the times must increase")
    off = np.flatnonzero(np.abs(np.diff(times) - step) > tolerance)
    if off.size:
        line = rows[int(off[0]) + 1][0]
        unit, scale = ("h", 1.0) if hours_given else ("s", 1e-6)
        raise InputFileError(
            f"{source}: line {line}: column time: a step of "
            f"{(times[off[0] + 1] - times[off[0]]) * scale:g} {unit} where the first step is "
            f"{step * scale:g} {unit}; the routing needs a fixed step: resample the inflow"
        )
    start_us = None if hours_given else int(times[0])
    start_hours = float(times[0]) if hours_given else 0.0
    return inflow, float(seconds), start_us, start_hours


def route_csv(
    table_path: str | Path,
    inflow_path: str | Path,
    *,
    start_level: float,
    units: Units = "si",
) -> RoutingFileResult:
    """Route the inflow of ``inflow_path`` through the reservoir of ``table_path``.

    Parameters
    ----------
    table_path : str or Path
        CSV with the columns ``level``, ``storage``, ``outflow`` (m, m³, m³/s; or ft,
        acre-ft, cfs).
    inflow_path : str or Path
        CSV with the columns ``time`` (ISO 8601 or hours) and ``inflow``, at a fixed step.
    start_level : float
        Level at the first inflow time (m or ft); the start outflow is the table's outflow
        there.
    units : {"si", "us"}
        The files' units.

    Returns
    -------
    RoutingFileResult

    Raises
    ------
    InputFileError
        If a file cannot be read or its structure is wrong (file, line, column named).
    InvalidRequestError
        If ``units`` is unknown, the start level lies outside the table, or the flood rises
        above the table.
    """
    if units not in ("si", "us"):
        raise InvalidRequestError(f"units {units!r} must be 'si' or 'us'")
    table = Path(table_path)
    levels, storages, outflows = _read_table(table)
    inflow, dt_s, start_us, start_hours = read_inflow(Path(inflow_path))
    if not levels[0] <= start_level <= levels[-1]:
        raise InvalidRequestError(
            f"start level {start_level:.10g} is outside the table {table} (levels "
            f"{levels[0]:.10g} to {levels[-1]:.10g}); extend the table or start within it"
        )
    factor = ACRE_FOOT_FT3 if units == "us" else 1.0
    curve = StageStorage(levels, storages * factor, linear=True)
    start_storage = float(curve.storage(start_level))
    outflow, storage = route_puls(inflow, dt_s, curve.storages, outflows, start_storage)
    lo, hi = curve.storage_range
    level = curve.level(np.clip(storage, lo, hi))
    times = np.arange(inflow.size, dtype=np.float64) * dt_s
    result = RoutingResult(times, inflow, outflow, storage, level)
    return RoutingFileResult(str(table), str(inflow_path), units, result, start_us, start_hours)
