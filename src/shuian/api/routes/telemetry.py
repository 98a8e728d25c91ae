"""``GET /api/telemetry``: the status of the telemetry sources the server runs for a site."""

from __future__ import annotations

from fastapi import APIRouter, Request

from shuian.api.deps import SiteDep
from shuian.api.schemas import TelemetryPublic

router = APIRouter(tags=["telemetry"])


@router.get("/telemetry", response_model_exclude_unset=True)
def read_telemetry(request: Request, stored: SiteDep) -> TelemetryPublic:
    """Answer each source's status (connected, messages, accepted, rejected, last error).

    The sources of the site (``?site=CODE``, default the first); an empty object when the
    server runs no listener for it.
    """
    listeners = request.app.state.listeners.get(stored.id)
    return TelemetryPublic.model_validate({} if listeners is None else listeners.status())
