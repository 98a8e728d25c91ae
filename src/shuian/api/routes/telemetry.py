"""``GET /api/telemetry``: the status of every telemetry source the server runs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

router = APIRouter(tags=["telemetry"])


@router.get("/telemetry")
def read_telemetry(request: Request) -> dict[str, Any]:
    """Answer each source's status (connected, messages, accepted, rejected, last error).

    An empty object when the server runs no listener.
    """
    listeners = getattr(request.app.state, "listeners", None)
    return {} if listeners is None else dict(listeners.status())
