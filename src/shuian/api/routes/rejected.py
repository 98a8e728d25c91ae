"""``GET /api/rejected``: the rows that failed validation, kept with their reason."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from shuian.api.deps import LangDep, SiteDep, StoreDep
from shuian.api.schemas import RejectedPublic, RejectedRowPublic
from shuian.i18n import render_stored

router = APIRouter(tags=["rejected"])

#: Most rejected rows one page may hold.
MAX_PAGE = 1000


@router.get("/rejected")
def read_rejected(
    store: StoreDep,
    stored: SiteDep,
    lang: LangDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="rows per page")] = 100,
    offset: Annotated[int, Query(ge=0, le=2**62, description="rows to skip")] = 0,
) -> RejectedPublic:
    """Answer a page of rejected rows, newest first, with their source, raw text and reason."""
    rows = store.rejections(stored.id, limit=limit, offset=offset)
    return RejectedPublic(
        total=store.rejection_count(stored.id),
        items=[
            RejectedRowPublic(
                id=r.id,
                received_at=_utc(r.received_at),
                source=r.source,
                line=r.line,
                channel=r.channel,
                raw=r.raw,
                reason=render_stored(r.reason, r.reason_key, r.reason_params, lang),
            )
            for r in rows
        ],
    )


def _utc(moment: dt.datetime) -> dt.datetime:
    """Give ``moment`` in UTC; SQLite hands back the stored UTC time without its zone."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)
