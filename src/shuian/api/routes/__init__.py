"""The API's routes, one module per resource, all under ``/api``."""

from __future__ import annotations

from fastapi import APIRouter

from shuian.api.routes import (
    alarms,
    analysis,
    channels,
    events,
    health,
    hydrology,
    readings,
    rejected,
    site,
    sites,
)

__all__ = ["api_router"]

api_router = APIRouter(prefix="/api")
ROUTERS = (health, site, sites, channels, readings, rejected, analysis, alarms, hydrology, events)
for module in ROUTERS:
    api_router.include_router(module.router)
