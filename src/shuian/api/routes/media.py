"""Media: binary objects (camera images, SL 651 pictures, photos, reports) and their metadata.

``GET /api/media?site=&source=&start=&end=``
    A page of a site's objects taken in ``[start, end)``, newest first (metadata only).
``GET /api/media/{media_id}``
    The object's bytes, streamed, with the type read from them when they were kept. Images are
    shown inline, everything else is a download; the bytes never change (they are named by
    their hash), so a browser may keep them. Reads need a login when reads do
    (``SHUIAN_REQUIRE_LOGIN_FOR_READS``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Annotated, BinaryIO
from urllib.parse import quote

import numpy as np
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from shuian.api.deps import SiteDep, StoreDep
from shuian.api.schemas import MediaListPublic, MediaPublic
from shuian.errors import InvalidRequestError
from shuian.media import EXTENSIONS, IMAGE_TYPES, KEPT_TYPES
from shuian.services.media import MediaLibrary
from shuian.store.media import StoredMedia
from shuian.times import iso_utc, parse_time

router = APIRouter(tags=["media"])

#: Most objects one page may hold.
MAX_PAGE = 1000
#: Bytes read from the file per chunk sent.
CHUNK = 256 * 1024
#: Objects up to this size (bytes) are read whole and their file closed before sending: a page
#: that leaves before a camera frame arrives then leaves no file open.
WHOLE_BYTES = 2 * 1024 * 1024
#: The bytes of an object never change: a browser may keep them (a year), for this user only.
CACHE_CONTROL = "private, max-age=31536000, immutable"
#: An object is data, never a page that runs: no scripts, no plugins, no frames, even inline.
MEDIA_CSP = "default-src 'none'; img-src 'self'; media-src 'self'; sandbox"


def get_media(request: Request) -> MediaLibrary:
    """Give the application's media library (``app.state.media``, made at startup)."""
    media: MediaLibrary = request.app.state.media
    return media


MediaDep = Annotated[MediaLibrary, Depends(get_media)]


def _public(items: list[StoredMedia]) -> list[MediaPublic]:
    taken = iso_utc(times_us=np.array([m.taken_us for m in items], dtype=np.int64))
    stored = iso_utc(times_us=np.array([m.stored_us for m in items], dtype=np.int64))
    return [
        MediaPublic(id=m.id, source=m.source, taken_at=t, stored_at=s, size=m.size,
                    content_type=m.content_type, retention=m.retention, name=m.name,
                    sha256=m.sha256, url=f"/api/media/{m.id}")
        for m, t, s in zip(items, taken, stored, strict=True)
    ]


@router.get("/media")
def list_media(
    store: StoreDep,
    stored: SiteDep,
    source: Annotated[str | None, Query(max_length=128, description="e.g. sl651:0012345678")]
    = None,
    start: Annotated[
        str | None, Query(description="taken at or after, ISO 8601 (no offset: site zone)")
    ] = None,
    end: Annotated[
        str | None, Query(description="taken before, ISO 8601 (no offset: site zone)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="objects per page")] = 100,
    offset: Annotated[int, Query(ge=0, le=2**62, description="objects to skip")] = 0,
) -> MediaListPublic:
    """Answer a page of a site's media taken in ``[start, end)``, newest first.

    400 when ``start`` or ``end`` is not an ISO 8601 time, or ``end`` is not after ``start``.
    """
    timezone = stored.site.reservoir.timezone
    start_us = parse_time(name="start", text=start, timezone=timezone)
    end_us = parse_time(name="end", text=end, timezone=timezone)
    if start_us is not None and end_us is not None and end_us <= start_us:
        raise InvalidRequestError(f"end ({end}) must be after start ({start})")
    items = store.media_items(stored.id, source=source, start_us=start_us, end_us=end_us,
                              limit=limit, offset=offset)
    total = store.media_count(stored.id, source=source, start_us=start_us, end_us=end_us)
    return MediaListPublic(total=total, items=_public(items))


def _disposition(item: StoredMedia) -> str:
    """``inline`` for an image, else ``attachment``, with the file name (RFC 6266, 5987)."""
    kind = "inline" if item.content_type in IMAGE_TYPES else "attachment"
    name = item.name or f"media-{item.id}{EXTENSIONS.get(item.content_type, '')}"
    plain = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_"
                    for c in name)
    return f"{kind}; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


def _chunks(source: BinaryIO) -> Iterator[bytes]:
    with source:
        while chunk := source.read(CHUNK):
            yield chunk


@router.get(
    "/media/{media_id}",
    response_class=StreamingResponse,
    responses={200: {"content": {kind: {} for kind in sorted(KEPT_TYPES)},
                     "description": "the object's bytes"}},
)
def read_media(media_id: int, media: MediaDep) -> StreamingResponse:
    """Stream an object's bytes with its type, size, a file name and immutable caching.

    404 when there is no such object, or its file is missing from the media folder.
    """
    item, source = media.open(media_id)
    size = os.fstat(source.fileno()).st_size  # the open file: retention cannot take it now
    body: Iterator[bytes] | bytes = _chunks(source)
    if size <= WHOLE_BYTES:  # a camera frame: read at once, the file closed whatever the client
        with source:
            body = source.read()
    return StreamingResponse(iter([body]) if isinstance(body, bytes) else body,
                             media_type=item.content_type, headers={
        "Content-Length": str(size),
        "Content-Disposition": _disposition(item),
        "Cache-Control": CACHE_CONTROL,
        "ETag": f'"{item.sha256}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": MEDIA_CSP,
    })
