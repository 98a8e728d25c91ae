"""Commands of the hydrology: ``route`` (flood routing, with or without a site), ``balance``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from shuian.cli.common import DbOption, JsonOption, app, out, print_json, store_for, user_errors
from shuian.errors import InvalidRequestError
from shuian.store import DEFAULT_URL


@app.command()
def route(
    inflow: Annotated[
        Path | None, typer.Option(help="Inflow hydrograph CSV: time,inflow (ISO or hours).")
    ] = None,
    table: Annotated[
        Path | None,
        typer.Option(help="Without a site: reservoir CSV level,storage,outflow (HEC-HMS style)."),
    ] = None,
    start_level: Annotated[float | None, typer.Option(help="Level at the start (m or ft).")] = None,
    units: Annotated[str, typer.Option(help="si (m, m3, m3/s) or us (ft, acre-ft, cfs).")] = "si",
    peak: Annotated[float | None, typer.Option(help="Design flood peak (m3/s).")] = None,
    volume: Annotated[float | None, typer.Option(help="Design flood volume (m3).")] = None,
    plateau_min: Annotated[float, typer.Option(help="Minutes the peak is held.")] = 0.0,
    step_min: Annotated[float, typer.Option(help="Step of a design flood (minutes).")] = 5.0,
    out_file: Annotated[Path | None, typer.Option("--out", help="Write the series to CSV.")] = None,
    db: DbOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """Route a flood through the reservoir (level-pool, Modified Puls).

    With --table, no site is needed: the reservoir is the table's storage-outflow relation.
    Otherwise the site's stage-storage curve, outlets and operating rule are used, from
    --start-level or the level now, for --inflow FILE or a design flood (--peak, --volume).
    """
    if units not in ("si", "us"):
        with user_errors():
            raise InvalidRequestError(f"--units {units!r}: use si or us")
    if table is not None:
        from shuian.services.route_file import route_csv

        with user_errors():
            if inflow is None or start_level is None:
                raise InvalidRequestError("--table needs --inflow FILE and --start-level")
            result = route_csv(table, inflow, start_level=start_level,
                               units="us" if units == "us" else "si")
            if out_file is not None:
                result.write_csv(out_file)
        _show(result.as_json(), as_json)
        return
    from shuian.services.hydrology import Hydrology

    with store_for(db) as store:
        hydrology = Hydrology(store, store.site())
        if inflow is not None:
            from shuian.services.route_file import read_inflow

            flows, dt_s, start_us, _ = read_inflow(inflow)
            report = hydrology.route(flows, dt_s, start_level=start_level, start_us=start_us)
        elif peak is not None and volume is not None:
            report = hydrology.route_design_flood(
                peak=peak, volume=volume, plateau_s=plateau_min * 60, dt_s=step_min * 60,
                start_level=start_level,
            )
        else:
            raise InvalidRequestError("give --inflow FILE, or --peak and --volume")
        found = report.as_json()
        if out_file is not None:
            _write_series(out_file, found["series"])
    _show(found, as_json)


def _write_series(path: Path, series: dict[str, list[Any]]) -> None:
    import pandas as pd

    columns = ["time", "inflow", "outflow", "level", "storage"]
    pd.DataFrame({c: series[c] for c in columns}).to_csv(path, index=False, float_format="%.10g")


def _show(found: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(found)
        return
    out.print(
        f"peak inflow {found['peak_inflow']:.4g}, peak outflow {found['peak_outflow']:.4g} "
        f"(at {found['time_of_peak_outflow']}), attenuation {found['attenuation']:.0%}"
    )
    out.print(f"max level {found['max_level']:.3f}, max storage {found['max_storage']:.6g}")
    exceeded = found.get("levels_exceeded")
    if exceeded:
        out.print("levels exceeded: " + ", ".join(f"{k} ({v:g})" for k, v in exceeded.items()))
    out.print(f"mass balance error {found['mass_balance_error']:.1e}")


@app.command()
def balance(
    start: Annotated[str | None, typer.Option(help="From (ISO 8601).")] = None,
    end: Annotated[str | None, typer.Option(help="Up to (ISO 8601).")] = None,
    period: Annotated[
        list[str] | None, typer.Option(help="year, month or day (repeatable).")
    ] = None,
    db: DbOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """Volumes of inflow (from the water balance) and of release per purpose."""
    from shuian.services.hydrology import Hydrology
    from shuian.times import parse_time

    with store_for(db) as store:
        stored = store.site()
        tz = stored.site.reservoir.timezone
        report = Hydrology(store, stored).balance(
            start_us=parse_time(name="--start", text=start, timezone=tz),
            end_us=parse_time(name="--end", text=end, timezone=tz),
            periods=tuple(period or ("year", "month")),
        )
    if as_json:
        print_json(report)
        return
    for name in ("year", "month", "day"):
        for row in report.get(name, []):
            cells = "  ".join(
                f"{k} {v / 1e6:,.2f}" for k, v in row.items() if k != "period" and v is not None
            )
            out.print(f"{row['period']:<10} {cells}  (million m3)")
