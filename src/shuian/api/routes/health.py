"""``GET /api/health``: is the service up, which database, which site."""

from __future__ import annotations

from fastapi import APIRouter

from shuian import __version__
from shuian.api.deps import StoreDep
from shuian.api.schemas import HealthPublic
from shuian.errors import NoSiteError

router = APIRouter(tags=["health"])


@router.get("/health")
def read_health(store: StoreDep) -> HealthPublic:
    """Answer ``ok`` with the version, the database kind and the site code.

    Answers even when the store holds no site yet (``site`` is then null), so a monitor can
    tell "up but empty" from "down".
    """
    try:
        code: str | None = store.site().site.reservoir.code
    except NoSiteError:
        code = None
    database = "sqlite" if store.engine.dialect.name == "sqlite" else "postgresql"
    return HealthPublic(version=__version__, database=database, site=code)
