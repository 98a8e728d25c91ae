"""The audit log: who changed what, when.

``GET /api/audit``
    The newest entries first (engineers and admins).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from shuian.api.auth import EngineerDep
from shuian.api.deps import StoreDep
from shuian.api.schemas import AuditPublic

router = APIRouter(tags=["audit"])


@router.get("/audit")
def read_audit(
    engineer: EngineerDep,
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
    action: Annotated[str | None, Query(description="only this action, e.g. flag.set")] = None,
) -> list[AuditPublic]:
    """Answer the audit log, newest first (engineers and admins).

    Every write through the API or the command line is in it: acknowledgements, readings
    posted, flags, model fits, analyses, users and API keys.
    """
    return [AuditPublic.model_validate(vars(e)) for e in store.audit_log(limit=limit,
                                                                          action=action)]
