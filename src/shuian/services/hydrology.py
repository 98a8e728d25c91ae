"""Hydrology use cases for a site: the reservoir's state, its water balance, flood routing.

The duty operator's questions: how much water do we hold, what is flowing in, and if this flood
keeps coming, how high will the water get and what must we release?
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from shuian.errors import InvalidRequestError
from shuian.hydrology.balance import inflow_from_balance, volumes
from shuian.hydrology.design_flood import design_hydrograph
from shuian.hydrology.outlets import total_capacity
from shuian.hydrology.routing import RoutingResult, operating_rule, route
from shuian.readings import US_PER_S
from shuian.services.reservoir import outlet_of, stage_storage
from shuian.site import Site
from shuian.store import Store, StoredSite
from shuian.times import iso_utc

#: Most steps one routing may take (a year of one-minute steps is 525,600).
MAX_STEPS = 2_000_000
#: Level step (m) of the release table built from the outlets and the operating rule.
RULE_STEP_M = 0.05
#: Periods of the water-balance volumes.
PERIODS: dict[str, Literal["D", "MS", "YS"]] = {"day": "D", "month": "MS", "year": "YS"}
#: Characteristic levels checked after a routing, in rising order (the dead level, always
#: below a flood, is left out).
CHARACTERISTIC = ("flood_control", "normal", "design_flood", "check_flood", "crest")


@dataclass(frozen=True)
class RouteReport:
    """A routed flood: the series, the summary, and the characteristic levels exceeded."""

    result: RoutingResult
    start_us: int | None
    start_level: float
    exceeded: dict[str, float]

    def as_json(self) -> dict[str, Any]:
        """Summary keys (times as ISO 8601 UTC when the flood has a start time) and series."""
        summary: dict[str, Any] = dict(self.result.summary())
        times: list[str] | list[float]
        if self.start_us is not None:
            stamps = self.start_us + (self.result.times * US_PER_S).astype(np.int64)
            times = iso_utc(times_us=stamps)
            for key in ("time_of_peak_inflow", "time_of_peak_outflow", "time_of_max_level"):
                at = np.array([self.start_us + int(summary[key] * US_PER_S)], dtype=np.int64)
                summary[key] = iso_utc(times_us=at)[0]
        else:
            times = (self.result.times / 3600.0).tolist()
        return summary | {
            "start_level": self.start_level,
            "levels_exceeded": self.exceeded,
            "series": {
                "time": times,
                "inflow": self.result.inflow.tolist(),
                "outflow": self.result.outflow.tolist(),
                "level": self.result.level.tolist(),
                "storage": self.result.storage.tolist(),
            },
        }


class Hydrology:
    """Stage-storage, outlets, operating rule and water balance of one site of a store."""

    def __init__(self, store: Store, stored: StoredSite) -> None:
        self.store = store
        self.stored = stored
        site: Site = stored.site
        self.curve = stage_storage(site)
        self.outlets = [outlet_of(spec) for spec in site.hydrology.outlets]
        self.ids = {c.code: c.id for c in store.channels(stored.id)}

    # -- state ------------------------------------------------------------------------------

    def release_table(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The release (m³/s) at levels (m) from the outlets' capacity and the operating rule."""
        site = self.stored.site
        if not self.outlets:
            raise InvalidRequestError(
                "the site file describes no outlets: add hydrology.outlets (spillway bays, "
                "bottom outlets, intakes) to route floods"
            )
        low, high = self.curve.level_range
        levels = np.unique(np.concatenate([np.arange(low, high, RULE_STEP_M), [high]]))
        capacity = total_capacity(levels, self.outlets)
        operation = site.hydrology.operation
        if operation is None:
            return levels, capacity
        marks = site.reservoir.levels
        release = operating_rule(
            levels, capacity,
            safe_discharge=operation.safe_discharge,
            trigger_level=operation.trigger_level or marks.design_flood,
            hold_level=operation.hold_level or marks.flood_control,
            base_release=operation.base_release,
        )
        return levels, release

    def state(self) -> dict[str, Any]:
        """Now: level, storage and its share of the design storage, latest inflow and outflow."""
        site = self.stored.site
        latest = {code: (t, v) for code, t, v in self.store.latest(self.stored.id)}
        level_code = site.level_channel()
        out: dict[str, Any] = {"time": None, "level": None, "storage": None}
        if level_code is not None and level_code in latest:
            time_us, level = latest[level_code]
            storage = float(self.curve.storage(level))
            out |= {
                "time": iso_utc(times_us=np.array([time_us], dtype=np.int64))[0],
                "level": level,
                "storage": storage,
                "percent_of_design": (
                    None if not site.reservoir.design_storage
                    else 100.0 * storage / site.reservoir.design_storage
                ),
            }
        hydrology = site.hydrology
        for key, code in (("inflow", hydrology.inflow_channel),
                          ("outflow", hydrology.outflow_channel)):
            out[key] = latest[code][1] if code in latest else None
        out["levels"] = site.reservoir.levels.model_dump()
        return out

    # -- water balance ---------------------------------------------------------------------------

    def balance(
        self,
        *,
        start_us: int | None = None,
        end_us: int | None = None,
        periods: tuple[str, ...] = ("year", "month"),
    ) -> dict[str, Any]:
        """Volumes (m³) of inflow and of release per purpose, per year, month or day.

        The inflow comes from the water balance ``I = O + dS/dt`` on the level and the
        measured total outflow; a measured inflow channel, when the site has one, is listed
        beside it for comparison. One query reads every channel involved.
        """
        site = self.stored.site
        hydrology = site.hydrology
        level_code = site.level_channel()
        if level_code is None or hydrology.outflow_channel is None:
            raise InvalidRequestError(
                "the water balance needs the reservoir level and the total outflow: set "
                "analysis.level_channel and hydrology.outflow_channel in the site file"
            )
        series: dict[str, str] = {"outflow": hydrology.outflow_channel}
        series |= {f"release_{purpose}": code for purpose, code in hydrology.releases.items()}
        if hydrology.inflow_channel is not None:
            series["measured_inflow"] = hydrology.inflow_channel
        codes = [level_code, *series.values()]
        ids = [self.ids[c] for c in codes]
        channel, times, values = self.store.readings_many(ids, start_us, end_us)
        parts = {cid: (times[channel == cid], values[channel == cid]) for cid in ids}
        level_t, level_v = parts[self.ids[level_code]]
        if len(level_t) < 3:
            raise InvalidRequestError(f"too few level readings ({len(level_t)}) in that period")
        out_t, out_v = parts[self.ids[hydrology.outflow_channel]]
        outflow_at_level = np.interp(level_t, out_t, out_v) if len(out_t) else level_v * np.nan
        computed = inflow_from_balance(level_t, level_v, outflow_at_level, self.curve)
        flows: dict[str, tuple[NDArray[np.int64], NDArray[np.float64]]] = {
            "inflow": (computed.times_us, computed.inflow)
        }
        for name, code in series.items():
            flows[name] = parts[self.ids[code]]
        tz = site.reservoir.timezone
        report: dict[str, Any] = {"unit": "m3", "timezone": tz}
        for period in periods:
            if period not in PERIODS:
                raise InvalidRequestError(f"unknown period {period!r}: day, month or year")
            table = pd.DataFrame({
                name: volumes(t, v, freq=PERIODS[period], timezone=tz)
                for name, (t, v) in flows.items() if len(t) > 1
            })
            report[period] = [
                {"period": _label(stamp, period), **{k: _num(v) for k, v in row.items()}}
                for stamp, row in table.iterrows()
            ]
        return report

    # -- routing ----------------------------------------------------------------------------

    def route(
        self,
        inflow: NDArray[np.float64],
        dt_s: float,
        *,
        start_level: float | None = None,
        start_us: int | None = None,
    ) -> RouteReport:
        """Route an inflow hydrograph (m³/s every ``dt_s``) from ``start_level`` (default: now).

        The release follows the outlets' capacity under the site's operating rule (and its
        pre-release, when set).
        """
        if start_level is None:
            start_level = self.state()["level"]
            if start_level is None:
                raise InvalidRequestError(
                    "no level reading to start from: give --start-level (m)"
                )
        levels, release = self.release_table()
        operation = self.stored.site.hydrology.operation
        pre: dict[str, Any] = {}
        if operation is not None and operation.pre_release is not None:
            capacity = total_capacity(levels, self.outlets)
            pre = {
                "pre_release": (operation.pre_release.hours * 3600.0,
                                operation.pre_release.target_level),
                "pre_release_flows": np.minimum(operation.safe_discharge, capacity),
            }
        result = route(inflow, dt_s, self.curve, levels, release, float(start_level), **pre)
        marks = self.stored.site.reservoir.levels.model_dump()
        top = float(np.max(result.level))
        exceeded = {name: marks[name] for name in CHARACTERISTIC if top > marks[name]}
        return RouteReport(result, start_us, float(start_level), exceeded)

    def route_design_flood(
        self,
        *,
        peak: float,
        volume: float,
        plateau_s: float = 0.0,
        dt_s: float = 300.0,
        base: float = 0.0,
        start_level: float | None = None,
    ) -> RouteReport:
        """Route a design flood built from its peak (m³/s) and volume (m³).

        Raises
        ------
        InvalidRequestError
            When the flood would need more than :data:`MAX_STEPS` steps (choose a longer step).
        """
        duration_s = 2.0 * volume / peak + plateau_s  # a triangle's base, plus the plateau
        if duration_s / dt_s > MAX_STEPS:
            raise InvalidRequestError(
                f"a flood of {volume:g} m³ peaking at {peak:g} m³/s lasts about "
                f"{duration_s / 3600:.0f} h: more than {MAX_STEPS:,} steps of {dt_s:g} s; "
                "choose a longer step"
            )
        _, flows = design_hydrograph(peak, volume, dt_s, plateau_s=plateau_s, base=base)
        now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
        return self.route(flows, dt_s, start_level=start_level,
                          start_us=int(now.timestamp()) * US_PER_S)


def _label(stamp: Any, period: str) -> str:
    fmt = {"day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}[period]
    return str(pd.Timestamp(stamp).strftime(fmt))


def _num(value: Any) -> float | None:
    number = float(value)
    return None if np.isnan(number) else number
