"""The standalone HST analysis of a spreadsheet export: one CSV in, a fitted model out.

An engineer exports a channel from a spreadsheet as CSV with the columns ``time``, ``value``
and ``level`` (reservoir level, m), in any order, and gets the model's R², σ, coefficients, the
readings outside the envelope and, per row, the prediction split into its hydrostatic,
seasonal (or thermal) and time effects. Any other column is a temperature (°C): with one, and
no model given, the model is HTT on those columns.

Rows:

- ``time`` is ISO 8601 (``2011-03-29T19:59``, ``2011-03-29``); a time with an offset is
  converted to UTC, a time without one is taken as UTC (the model works at a daily scale,
  where the site's time zone shifts nothing that matters);
- a row with a value and a level is a reading; a row with a level and an empty value adds to
  the level series only (useful for lagged levels and lagged means);
- a row whose time, value, level or a temperature cannot be read (``'＜51.0'``, ``'n/a'``)
  is rejected with its line number and the reason, as is a reading too early to have the level
  or temperature history its model needs; rejections are kept in the result, never raised.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shuian.errors import InputFileError, InvalidRequestError
from shuian.models import hst
from shuian.readings import Rejection
from shuian.services.text_file import read_text
from shuian.site.analysis import ModelSpec
from shuian.times import iso_us, iso_utc

REQUIRED_COLUMNS = ("time", "value", "level")
FLAG_NAMES = ("", "warning", "alarm")



@dataclass(frozen=True, eq=False)
class HstResult:
    r"""The analysis of one CSV file.

    Attributes
    ----------
    source : str
        The file analysed.
    model : FittedModel
        The fitted model (store it with ``model.to_json()``).
    frame : pandas.DataFrame
        One row per reading, in time order: ``line`` (of the file), ``time`` (UTC),
        ``value``, ``predicted``, ``hydrostatic``, ``seasonal`` (``thermal`` for HTT),
        ``time_effect``, ``residual`` and ``flag`` (``''``, ``'warning'`` or ``'alarm'``).
    outliers : list of dict
        Readings with :math:`|r| > k_{warning}\,\sigma`: ``line``, ``time``, ``value``,
        ``predicted``, ``residual``, ``flag``.
    rejections : list of Rejection
        Rows that were not used, with line number and reason.
    """

    source: str
    model: hst.FittedModel[ModelSpec]
    frame: pd.DataFrame
    outliers: list[dict[str, Any]]
    rejections: list[Rejection]

    @property
    def r2(self) -> float:
        """Coefficient of determination of the fit."""
        return self.model.r2

    @property
    def sigma(self) -> float:
        """Residual standard deviation (the value's unit)."""
        return self.model.sigma

    @property
    def coefficients(self) -> dict[str, float]:
        """Coefficients by term name."""
        return self.model.coefficient_map

    def as_json(self) -> dict[str, Any]:
        """The figures as plain JSON types."""
        return {
            "r2": self.model.r2,
            "sigma": self.model.sigma,
            "n": self.model.n,
            "terms": list(self.model.terms),
            "coefficients": self.model.coefficient_map,
            "outliers": self.outliers,
            "rejected": [
                {"line": r.line, "raw": r.raw, "reason": r.reason} for r in self.rejections
            ],
        }

    def write_csv(self, path: str | Path) -> None:
        """Write the per-row results (:data:`RESULT_COLUMNS`), times in ISO 8601 UTC.

        For an HTT model the ``seasonal`` column holds the thermal effect.
        """
        out = self.frame.copy()
        out["time"] = iso_utc(times_us=_times_us(self.frame))
        out[list(RESULT_COLUMNS)].to_csv(path, index=False, float_format="%.10g")


#: Columns of the per-row result file.
RESULT_COLUMNS = (
    "time", "value", "predicted", "hydrostatic", "seasonal", "time_effect", "residual", "flag"
)


def _times_us(frame: pd.DataFrame) -> np.ndarray[Any, np.dtype[np.int64]]:
    return frame["time"].to_numpy(dtype="datetime64[us]").astype(np.int64)


@dataclass
class _Rows:
    reading_line: list[int]
    reading_raw: list[str]
    reading_time: list[int]
    value: list[float]
    level_time: list[int]
    level: list[float]
    temperature: dict[str, tuple[list[int], list[float]]]


def _number(text: str) -> float | None:
    """The cell as a finite float; None when it is not one."""
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _read(path: Path, source: str) -> tuple[list[str], _Rows, list[Rejection]]:
    handle = io.StringIO(read_text(path, source), newline="")
    rejections: list[Rejection] = []
    with handle:
        reader = csv.reader(handle)
        header = [name.strip() for name in next(reader, [])]
        lowered = [name.lower() for name in header]
        for column in REQUIRED_COLUMNS:
            if column not in lowered:
                raise InputFileError(
                    f"{source}: line 1: the header has no {column!r} column (found "
                    f"{header}); the file needs the columns time, value, level and optionally "
                    "temperature columns"
                )
        index = {name: lowered.index(name) for name in REQUIRED_COLUMNS}
        extra = [(i, name) for i, name in enumerate(header) if lowered[i] not in REQUIRED_COLUMNS]
        rows = _Rows([], [], [], [], [], [], {name: ([], []) for _, name in extra})

        def reject(line: int, row: list[str], reason: str) -> None:
            rejections.append(Rejection(source, line, ",".join(row), reason))

        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                reject(line, row, f"{len(row)} fields where the header has {len(header)}")
                continue
            cells = {name: row[i].strip() for name, i in index.items()}
            moment = iso_us(cells["time"])
            if moment is None:
                reject(line, row, f"time {cells['time']!r} is not an ISO 8601 date or time")
                continue
            level = _number(cells["level"])
            value = _number(cells["value"])
            if level is None:
                what = "is empty" if cells["level"] == "" else "is not a number"
                reject(line, row, f"level {cells['level']!r} {what}")
                continue
            if value is None and cells["value"] != "":
                reject(line, row, f"value {cells['value']!r} is not a number")
                continue
            temperatures: list[tuple[str, float]] = []
            bad = ""
            for i, name in extra:
                text = row[i].strip()
                if text == "":
                    continue
                number = _number(text)
                if number is None:
                    bad = f"temperature {name} {text!r} is not a number"
                    break
                temperatures.append((name, number))
            if bad:
                reject(line, row, bad)
                continue
            rows.level_time.append(moment)
            rows.level.append(level)
            for name, number in temperatures:
                rows.temperature[name][0].append(moment)
                rows.temperature[name][1].append(number)
            if value is not None:
                rows.reading_line.append(line)
                rows.reading_raw.append(",".join(row))
                rows.reading_time.append(moment)
                rows.value.append(value)
    return header, rows, rejections


def _series(times: list[int], values: list[float]) -> hst.DailySeries:
    return hst.DailySeries(np.array(times, dtype=np.int64), np.array(values, dtype=np.float64))


def analyse_csv(path: str | Path, *, spec: ModelSpec | None = None) -> HstResult:
    """Fit an HST (or HTT) model to a CSV export and classify every reading.

    Parameters
    ----------
    path : str or Path
        CSV with a header naming ``time``, ``value``, ``level`` and optional temperature
        columns (see the module docstring for the rules per row).
    spec : ModelSpec, optional
        The model; by default plain HST (:math:`H^{1..3}`, two harmonics, θ and ln(1+θ)), or HTT
        on the extra columns when the file has any. θ starts at the first reading.

    Returns
    -------
    HstResult
        Fit, per-row effects and residuals, outliers and rejected rows.

    Raises
    ------
    InputFileError
        If the file cannot be read or its header lacks a required column (or a temperature
        column the spec names).
    InvalidRequestError
        If too few rows are usable for the model (the message names the file).
    """
    source = str(path)
    header, rows, rejections = _read(Path(path), source)
    temperature_names = list(rows.temperature)
    if spec is None:
        spec = (
            ModelSpec(kind="htt", temperature_channels=tuple(temperature_names))
            if temperature_names
            else ModelSpec()
        )
    if spec.kind == "htt":
        for name in spec.temperature_channels:
            if name not in rows.temperature:
                raise InputFileError(
                    f"{source}: line 1: the header has no temperature column {name!r} for the "
                    f"htt model (found {header})"
                )
    level = _series(rows.level_time, rows.level) if rows.level_time else None
    temperatures = {name: _series(*rows.temperature[name]) for name in spec.temperature_channels}

    line = np.array(rows.reading_line, dtype=np.int64)
    times = np.array(rows.reading_time, dtype=np.int64)
    values = np.array(rows.value, dtype=np.float64)
    order = np.argsort(times, kind="stable")
    line, times, values = line[order], times[order], values[order]
    keep = _with_history(spec, times, rows, temperatures)
    if not keep.all():
        need = hst.history_days(spec)
        for i in np.flatnonzero(~keep):
            reason = f"needs {need:g} days of level and temperature history before it"
            raw = rows.reading_raw[int(order[i])]
            rejections.append(Rejection(source, int(line[i]), raw, reason))
        line, times, values = line[keep], times[keep], values[keep]
    rejections.sort(key=lambda r: r.line or 0)
    if times.size == 0:
        raise InvalidRequestError(f"{source}: no usable readings (rows with a value and a level)")

    reference_us = int(times[0])
    try:
        model = hst.fit(spec, times, values, level, temperatures, reference_us=reference_us)
    except InvalidRequestError as exc:
        raise InvalidRequestError(f"{source}: {exc.message}") from exc
    parts = hst.components(model, times, level, temperatures)
    residual = values - parts["predicted"]
    flags = hst.envelope_flags(residual, model.sigma, spec.warning_sigma, spec.alarm_sigma)
    seasonal = hst.THERMAL if spec.kind == "htt" else hst.SEASONAL
    flag_text = np.array(FLAG_NAMES, dtype=object)[flags]
    frame = pd.DataFrame(
        {
            "line": line,
            "time": pd.to_datetime(times, unit="us", utc=True),
            "value": values,
            "predicted": parts["predicted"],
            "hydrostatic": parts[hst.HYDROSTATIC],
            "seasonal": parts[seasonal],  # the thermal effect for an HTT model
            "time_effect": parts[hst.TIME],
            "residual": residual,
            "flag": flag_text,
        }
    )
    out = np.flatnonzero(flags > 0)
    stamps = iso_utc(times_us=times[out]) if out.size else []
    outliers = [
        {
            "line": int(line[i]),
            "time": stamp,
            "value": float(values[i]),
            "predicted": float(parts["predicted"][i]),
            "residual": float(residual[i]),
            "flag": FLAG_NAMES[int(flags[i])],
        }
        for i, stamp in zip(out, stamps, strict=True)
    ]
    return HstResult(source, model, frame, outliers, rejections)


def _with_history(
    spec: ModelSpec,
    times: np.ndarray[Any, np.dtype[np.int64]],
    rows: _Rows,
    temperatures: dict[str, hst.DailySeries],
) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Readings late enough to have the level or temperature history the model needs."""
    keep = np.ones(times.size, dtype=bool)
    if spec.lagged_means and spec.kind != "seasonal" and rows.level_time:
        need = hst.LAGGED_MEAN_WINDOWS[-1][1] * hst.US_PER_DAY
        keep &= times - need >= min(rows.level_time)
    if spec.kind == "htt":
        need = max(spec.temperature_windows) * hst.US_PER_DAY
        for series in temperatures.values():
            if series.times_us.size:
                keep &= times - need >= int(series.times_us.min())
    return keep
