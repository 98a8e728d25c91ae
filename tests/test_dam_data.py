"""The real gravity dam: HST on its inverted pendulums (tests/data/dam-data, see its ORIGIN.txt).

The upstream-downstream component (``_ud``, mm) of each pendulum is fitted with plain HST
(H^1..3, two yearly harmonics, θ, ln(1+θ)) against the upstream level reading at or before each
pendulum reading (the pendulum file's own level column is mostly empty). ORIGIN.txt reports
R² 0.93-0.95 for IP3-IP6 and 0.5-0.6 for the crest stations IP1, IP2. The level record holds
non-numeric entries ('＜51.0', below the staff gauge) that must be rejected, not crash a run.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from shuian.services.hst_file import analyse_csv

DAM_DATA = Path(__file__).parent / "data" / "dam-data"
PENDULUMS = DAM_DATA / "inverted_pendulums.csv"
WATER_LEVEL = DAM_DATA / "water_level.csv"


def numeric_levels() -> pd.DataFrame:
    raw = pd.read_csv(WATER_LEVEL, dtype=str)
    levels = pd.DataFrame(
        {"t": pd.to_datetime(raw.time), "level": pd.to_numeric(raw.upstream, errors="coerce")}
    )
    return levels.dropna().sort_values("t", kind="stable")


def pendulum_rows(station: str) -> pd.DataFrame:
    """time, value (the _ud component, mm), level (the last upstream reading at or before)."""
    pendulums = pd.read_csv(PENDULUMS, dtype={"time": str})
    rows = pendulums[["time", f"{station}_ud"]].dropna()
    rows = rows.assign(t=pd.to_datetime(rows.time)).sort_values("t", kind="stable")
    joined = pd.merge_asof(rows, numeric_levels(), on="t", direction="backward")
    return pd.DataFrame(
        {"time": joined.time, "value": joined[f"{station}_ud"], "level": joined.level}
    )


@pytest.mark.parametrize(
    ("station", "least_r2"),
    [("IP3", 0.93), ("IP4", 0.93), ("IP5", 0.93), ("IP6", 0.93), ("IP1", 0.45), ("IP2", 0.45)],
)
def test_plain_hst_explains_the_pendulums(tmp_path: Path, station: str, least_r2: float) -> None:
    rows = pendulum_rows(station)
    path = tmp_path / f"{station}.csv"
    rows.to_csv(path, index=False)

    result = analyse_csv(path)

    assert result.model.terms == (
        "a0", "H1", "H2", "H3", "sin1", "cos1", "sin2", "cos2", "theta", "log",
    )  # fmt: skip
    assert result.model.n == len(rows)
    assert result.rejections == []
    assert result.r2 >= least_r2
    effects = result.frame[["hydrostatic", "seasonal", "time_effect"]].sum(axis=1)
    constant = result.coefficients["a0"]
    assert (effects + constant - result.frame.predicted).abs().max() < 1e-9


def test_non_numeric_levels_are_rejected_with_their_line_and_reason(tmp_path: Path) -> None:
    # The whole level record, as level-only rows (empty value) on the lines they have in
    # water_level.csv, followed by IP4's readings: '＜51.0' rows are refused by line number.
    with WATER_LEVEL.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        level_rows = [(reader.line_num, row["time"], row["upstream"]) for row in reader]
    bad_lines = [line for line, _, upstream in level_rows if upstream == "＜51.0"]
    assert len(bad_lines) == 20 and bad_lines[0] == 20
    path = tmp_path / "IP4_with_level_record.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["time", "value", "level"])
        for _, time, upstream in level_rows:
            writer.writerow([time, "", upstream])
        for row in pendulum_rows("IP4").itertuples(index=False):
            writer.writerow([row.time, row.value, row.level])

    result = analyse_csv(path)

    assert [r.line for r in result.rejections] == bad_lines
    assert all(r.reason == "level '＜51.0' is not a number" for r in result.rejections)
    assert result.rejections[0].raw == "2010-11-27T07:59,,＜51.0"
    assert result.as_json()["rejected"][0]["line"] == 20
    assert result.r2 >= 0.93
