"""``GET /api/site``: the reservoir, the dam and the monitoring network."""

from __future__ import annotations

from fastapi import APIRouter

from shuian.api.deps import SiteDep
from shuian.site import Site

router = APIRouter(tags=["site"])


@router.get("/site")
def read_site(stored: SiteDep) -> Site:
    """Answer the site as its file defines it: reservoir, dam, instruments, channels.

    The reservoir carries its names (English and Chinese), time zone, whether its data are
    synthetic, its characteristic levels and its stage-storage-area curve. 409 when the store
    holds no site yet.
    """
    return stored.site
