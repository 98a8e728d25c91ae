"""Alarms and their lifecycle.

``GET /api/alarms``
    Alarms, newest first (``state=open`` for those not cleared).
``GET /api/alarms/{id}``
    One alarm with its whole history.
``POST /api/alarms/{id}/acknowledge``
    Acknowledge an alarm: who (the logged-in operator), when and a comment are kept.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Query

from shuian.api.auth import OperatorDep
from shuian.api.deps import LangDep, SiteDep, StoreDep
from shuian.api.schemas import AlarmDetailPublic, AlarmEventPublic, AlarmPublic, CommentIn, RowId
from shuian.errors import NotFoundError
from shuian.i18n import DEFAULT_LANG, Lang, Message, render_stored
from shuian.store import Store, StoredSite
from shuian.store.analysis import StoredAlarm
from shuian.times import iso_utc

router = APIRouter(tags=["alarms"])


def alarm_public(
    alarm: StoredAlarm, codes: dict[int, str], lang: Lang = DEFAULT_LANG
) -> AlarmPublic:
    """An alarm as the API answers it (times in ISO 8601 UTC, the message in ``lang``)."""
    raised, last = iso_utc(times_us=np.array([alarm.raised_us, alarm.last_us], dtype=np.int64))
    cleared = (
        None
        if alarm.cleared_us is None
        else iso_utc(times_us=np.array([alarm.cleared_us], dtype=np.int64))[0]
    )
    return AlarmPublic(
        id=alarm.id, channel=codes.get(alarm.channel_id), rule=alarm.rule, level=alarm.level,
        peak_level=alarm.peak_level, state=alarm.state, raised=raised, last=last,
        cleared=cleared, value=alarm.value,
        message=render_stored(alarm.message, alarm.message_key, alarm.message_params, lang),
        acknowledged_by=alarm.acknowledged_by, acknowledged_at=alarm.acknowledged_at,
        acknowledge_comment=alarm.acknowledge_comment,
    )


def _codes(store: Store, stored: StoredSite) -> dict[int, str]:
    return {c.id: c.code for c in store.channels(stored.id)}


def _alarm_of_site(store: Store, stored: StoredSite, alarm_id: int) -> tuple[StoredAlarm,
                                                                             dict[int, str]]:
    codes = _codes(store, stored)
    alarm = store.alarm(alarm_id)
    if alarm.channel_id not in codes:
        raise NotFoundError(Message.of("error.no_alarm_in_site", id=alarm_id,
                                       site=stored.site.reservoir.code))
    return alarm, codes


@router.get("/alarms")
def read_alarms(
    store: StoreDep,
    stored: SiteDep,
    lang: LangDep,
    state: Annotated[
        Literal["open", "raised", "acknowledged", "cleared"] | None,
        Query(description="open = not cleared; default: all"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    order: Annotated[
        Literal["severity", "newest"] | None,
        Query(description="severity = worst level first, then newest; default: severity for "
                          "open alarms, newest otherwise"),
    ] = None,
) -> list[AlarmPublic]:
    """Answer the site's alarms: the open ones worst first, then newest; others newest first."""
    codes = _codes(store, stored)
    worst_first = order == "severity" or (order is None and state == "open")
    return [
        alarm_public(a, codes, lang)
        for a in store.alarms(channel_ids=codes, state=state, limit=limit,
                              worst_first=worst_first)
    ]


@router.get("/alarms/{alarm_id}")
def read_alarm(
    alarm_id: RowId, store: StoreDep, stored: SiteDep, lang: LangDep
) -> AlarmDetailPublic:
    """Answer one alarm with every step of its lifecycle (404 when unknown)."""
    alarm, codes = _alarm_of_site(store, stored, alarm_id)
    steps = store.alarm_history(alarm_id)
    times = iso_utc(times_us=np.array([s.time_us for s in steps], dtype=np.int64))
    history = [
        AlarmEventPublic(kind=s.kind, level=s.level, time=t, value=s.value, actor=s.actor,
                         message=render_stored(s.message, s.message_key, s.message_params, lang))
        for s, t in zip(steps, times, strict=True)
    ]
    return AlarmDetailPublic(**alarm_public(alarm, codes, lang).model_dump(), history=history)


@router.post("/alarms/{alarm_id}/acknowledge")
def acknowledge_alarm(
    operator: OperatorDep, alarm_id: RowId, body: CommentIn, store: StoreDep, stored: SiteDep,
    lang: LangDep,
) -> AlarmPublic:
    """Acknowledge an open alarm (400 when already cleared, 404 when unknown).

    Needs an operator or above (401, 403); the alarm keeps who acknowledged it (the logged-in
    user) and the comment, and so does the audit log. An acknowledged alarm that escalates
    later asks for a new acknowledgement.
    """
    _, codes = _alarm_of_site(store, stored, alarm_id)
    alarm = store.acknowledge_alarm(alarm_id, actor=operator.actor, comment=body.comment)
    store.audit(actor=operator.actor, action="alarm.acknowledge", target=f"alarm {alarm_id}",
                detail={"comment": body.comment, "level": alarm.level})
    return alarm_public(alarm, codes, lang)
