"""The reservoir's hydrology: its state now, its water balance, and "what if" flood routing.

``GET /api/hydrology/state``
    Level, storage (and share of the design storage), latest inflow and outflow.
``GET /api/hydrology/balance``
    Volumes of inflow (water balance) and of release per purpose, per year, month or day.
``POST /api/hydrology/route``
    Route a flood (a hydrograph, or a design flood from its peak and volume) from the
    reservoir's current level or a given one, under the site's operating rule.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, model_validator

from shuian.api.deps import SiteDep, StoreDep
from shuian.api.limits import json_body, json_body_openapi
from shuian.api.schemas import BalancePublic, HydrologyStatePublic, RoutePublic
from shuian.services.hydrology import Hydrology
from shuian.times import parse_time

router = APIRouter(prefix="/hydrology", tags=["hydrology"])


class DesignFloodIn(BaseModel):
    """A design flood from its peak and volume."""

    peak: float = Field(gt=0, description="m³/s")
    volume: float = Field(gt=0, description="m³ above the base flow")
    plateau_s: float = Field(default=0.0, ge=0, description="seconds the peak is held")
    base: float = Field(default=0.0, ge=0, description="base flow, m³/s")
    step_s: float = Field(default=300.0, gt=0)


class RouteIn(BaseModel):
    """A flood to route: ``inflow`` every ``step_s`` seconds, or a ``design`` flood."""

    inflow: list[float] | None = Field(default=None, min_length=2, max_length=1_000_000)
    step_s: float | None = Field(default=None, gt=0, description="seconds between inflows")
    start: str | None = Field(default=None, description="time of the first inflow, ISO 8601")
    design: DesignFloodIn | None = None
    start_level: float | None = Field(default=None, description="m; default: the level now")

    @model_validator(mode="after")
    def _one_flood(self) -> RouteIn:
        if (self.inflow is None) == (self.design is None):
            raise ValueError("give either inflow (with step_s) or design")
        if self.inflow is not None and self.step_s is None:
            raise ValueError("inflow needs step_s")
        return self


@router.get("/state", response_model_exclude_unset=True)
def read_state(store: StoreDep, stored: SiteDep) -> HydrologyStatePublic:
    """Answer the reservoir's state now: level, storage, percent of design, inflow, outflow.

    ``percent_of_design`` is given with a level (and a design storage in the site file).
    """
    return HydrologyStatePublic.model_validate(Hydrology(store, stored).state())


@router.get("/balance", response_model_exclude_unset=True)
def read_balance(
    store: StoreDep,
    stored: SiteDep,
    start: Annotated[str | None, Query(description="ISO 8601, included")] = None,
    end: Annotated[str | None, Query(description="ISO 8601, excluded")] = None,
    period: Annotated[list[Literal["year", "month", "day"]] | None, Query()] = None,
) -> BalancePublic:
    """Answer the volumes (m³) of inflow and of release per purpose, per period.

    One list per period asked for (default ``year`` and ``month``).
    """
    tz = stored.site.reservoir.timezone
    return BalancePublic.model_validate(Hydrology(store, stored).balance(
        start_us=parse_time(name="start", text=start, timezone=tz),
        end_us=parse_time(name="end", text=end, timezone=tz),
        periods=tuple(period or ("year", "month")),
    ))


@router.post("/route", openapi_extra=json_body_openapi(RouteIn))
def route_flood(
    body: Annotated[RouteIn, json_body(RouteIn)], store: StoreDep, stored: SiteDep
) -> RoutePublic:
    """Route a flood: "what if this flood comes now?" (from the level now, unless given).

    Answers ``peak_inflow``, ``peak_outflow``, ``attenuation``, ``max_level``,
    ``max_storage``, the times of the peaks, the characteristic levels exceeded and the series.
    """
    hydrology = Hydrology(store, stored)
    if body.design is not None:
        d = body.design
        report = hydrology.route_design_flood(
            peak=d.peak, volume=d.volume, plateau_s=d.plateau_s, dt_s=d.step_s, base=d.base,
            start_level=body.start_level,
        )
    else:
        assert body.inflow is not None and body.step_s is not None
        tz = stored.site.reservoir.timezone
        start_us = parse_time(name="start", text=body.start, timezone=tz)
        report = hydrology.route(
            np.asarray(body.inflow, dtype=np.float64), body.step_s,
            start_level=body.start_level, start_us=start_us,
        )
    return RoutePublic.model_validate(report.as_json())
