"""``GET /api/channels``: every channel of the site."""

from __future__ import annotations

from fastapi import APIRouter

from shuian.api.deps import SiteDep, StoreDep
from shuian.api.schemas import ChannelPublic

router = APIRouter(tags=["channels"])


@router.get("/channels")
def read_channels(store: StoreDep, stored: SiteDep) -> list[ChannelPublic]:
    """Every channel with its instrument, type, quantity, unit and physical limits, by code."""
    return [
        ChannelPublic(
            code=c.code,
            instrument=c.instrument,
            type=c.type,
            quantity=c.quantity,
            unit=c.unit,
            limit_min=c.limit_min,
            limit_max=c.limit_max,
        )
        for c in store.channels(stored.id)
    ]
