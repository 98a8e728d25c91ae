"""``GET /api/events``: live updates as server-sent events.

``event: reading`` carries ``{"site", "channel", "time", "value"}`` for each channel with a new
newest reading; ``event: alarm`` carries an alarm lifecycle step (raised, escalated,
acknowledged, cleared ...) with the alarm's state. Updates reach a display within about a
second of a reading being stored, whichever way it came in.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sse_starlette import EventSourceResponse

from shuian.api.deps import LangDep
from shuian.i18n import render_stored

router = APIRouter(tags=["events"])


@router.get(
    "/events",
    response_class=EventSourceResponse,
    responses={200: {"description": "server-sent events: hello, then reading and alarm",
                     "content": {"text/event-stream": {"schema": {"type": "string"}}}}},
)
async def stream_events(
    request: Request,
    lang: LangDep,
    site: Annotated[str | None, Query(description="only this reservoir's events")] = None,
) -> EventSourceResponse:
    """Stream the site's (or every site's) new readings and alarm steps as they happen."""
    hub = request.app.state.events
    subscription = hub.subscribe(site)

    async def events() -> AsyncIterator[dict[str, Any]]:
        try:
            yield {"event": "hello", "data": json.dumps({"site": site})}
            while True:
                event = await subscription.queue.get()
                data = event.data
                if event.kind == "alarm":  # its message in the reader's language
                    data = data | {"message": render_stored(
                        data["message"], data.get("message_key"), data.get("message_params"),
                        lang)}
                yield {"event": event.kind, "data": json.dumps(data, default=str)}
        finally:
            hub.unsubscribe(subscription)

    return EventSourceResponse(events(), ping=15)
