"""The API's routes, one module per resource, all under ``/api``."""

from __future__ import annotations

from fastapi import APIRouter

from shuian.api.routes import (
    alarms,
    analysis,
    channels,
    health,
    hydrology,
    readings,
    rejected,
    site,
)

__all__ = ["api_router"]

api_router = APIRouter(prefix="/api")
for module in (health, site, channels, readings, rejected, analysis, alarms, hydrology):
    api_router.include_router(module.router)
