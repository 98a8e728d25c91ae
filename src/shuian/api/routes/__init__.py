"""The API's routes, one module per resource, all under ``/api``.

Every request's parameters are checked first (:func:`shuian.api.deps.plain_parameters`), then
whether reads need a login (:func:`shuian.api.auth.reads_allowed`).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from shuian.api.auth import reads_allowed
from shuian.api.deps import plain_parameters
from shuian.api.routes import (
    alarms,
    analysis,
    api_keys,
    audit,
    auth,
    cameras,
    channels,
    events,
    health,
    hydrology,
    jobs,
    media,
    readings,
    rejected,
    site,
    sites,
    telemetry,
    users,
)

__all__ = ["api_router"]

api_router = APIRouter(
    prefix="/api", dependencies=[Depends(plain_parameters), Depends(reads_allowed)]
)
ROUTERS = (
    health, site, sites, channels, readings, rejected, analysis, alarms, hydrology, events,
    auth, users, api_keys, audit, telemetry, jobs, media, cameras,
)
for module in ROUTERS:
    api_router.include_router(module.router)
