"""``GET /api/telemetry``: the status of the telemetry sources the server runs for a site."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from shuian.api.deps import SiteDep

router = APIRouter(tags=["telemetry"])


@router.get("/telemetry")
def read_telemetry(request: Request, stored: SiteDep) -> dict[str, Any]:
    """Answer each source's status (connected, messages, accepted, rejected, last error).

    The sources of the site (``?site=CODE``, default the first); an empty object when the
    server runs no listener for it.
    """
    listeners = request.app.state.listeners.get(stored.id)
    return {} if listeners is None else dict(listeners.status())
