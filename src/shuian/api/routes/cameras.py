"""Cameras: their newest frames, frames at any past time beside that minute's readings, status.

``GET /api/cameras?site=``
    Every camera of the site: what it looks at, its newest frame (stale when older than three
    of its sampling intervals), its feed's status as the watching worker last wrote it, and
    its open alarms.
``GET /api/cameras/{code}/frame?site=&at=``
    The camera's newest frame taken at or before ``at`` (default now) and the newest reading
    at or before ``at`` of the reservoir level, inflow, outflow, rain and the camera's own
    gauge level: the image of a minute next to the readings of that minute.
``GET /api/cameras/{code}/frames?site=&start=&end=&limit=``
    The camera's frames taken in ``[start, end)``, oldest first (the time slider's marks).
``GET /api/alarms/{alarm_id}/media?site=``
    The frames kept with an alarm: annotated (its zone and what was found drawn), before, at
    and after the event.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Path, Query

from shuian.api.deps import SiteDep, StoreDep
from shuian.api.lang import LangDep
from shuian.api.schemas import (
    AlarmMediaListPublic,
    AlarmMediaPublic,
    CameraAlarmPublic,
    CameraFramePublic,
    CameraPublic,
    CamerasPublic,
    CameraStatusPublic,
    FramePublic,
    FramesPublic,
    ReadingAtPublic,
)
from shuian.errors import InvalidRequestError, NotFoundError
from shuian.i18n import render_stored
from shuian.site.cameras import Camera
from shuian.site.model import Site
from shuian.store import Store, StoredSite
from shuian.store.media import StoredMedia
from shuian.times import iso_utc, parse_time

router = APIRouter(tags=["cameras"])

_US = 1_000_000
#: A status written longer ago than this (s) is no longer "watched".
WATCHED_WITHIN_S = 60.0
#: How far back (s) the readings of a minute are looked for (hourly rain, say).
READINGS_WINDOW_S = 6 * 3600
#: Most frames one page of ``/frames`` holds.
MAX_FRAMES = 2000
#: Frames are older than this many sampling intervals: stale.
STALE_INTERVALS = 3

CameraCode = Annotated[str, Path(pattern=r"^[A-Za-z0-9_\-]{1,48}$")]


def _now_us() -> int:
    return time.time_ns() // 1000


def _iso(time_us: int) -> str:
    return str(iso_utc(times_us=np.array([time_us], dtype=np.int64))[0])


def _source(code: str) -> str:
    return f"camera:{code}"  # services.cameras.snapshot_source, without importing OpenCV


def _camera(stored: StoredSite, code: str) -> Camera:
    try:
        return stored.site.camera(code)
    except KeyError:
        known = ", ".join(c.code for c in stored.site.cameras) or "none"
        raise NotFoundError(f"site {stored.site.reservoir.code} has no camera {code!r} "
                            f"(its cameras: {known})") from None


def _frame(item: StoredMedia, camera: Camera, at_us: int) -> FramePublic:
    age = (at_us - item.taken_us) / _US
    return FramePublic(media_id=item.id, url=f"/api/media/{item.id}", taken_at=_iso(item.taken_us),
                       age_s=round(age, 1), stale=age > STALE_INTERVALS * camera.interval_s)


def _status(found: tuple[dict[str, Any], int] | None, now_us: int) -> CameraStatusPublic:
    if found is None:
        return CameraStatusPublic(watched=False)
    status, updated = found
    known = set(CameraStatusPublic.model_fields) - {"watched", "updated_at"}
    return CameraStatusPublic(
        watched=now_us - updated <= WATCHED_WITHIN_S * _US, updated_at=_iso(updated),
        **{k: v for k, v in status.items() if k in known and v is not None})


@router.get("/cameras")
def read_cameras(store: StoreDep, stored: SiteDep, lang: LangDep) -> CamerasPublic:
    """Answer every camera of the site with its newest frame, status and open alarms."""
    site = stored.site
    now = _now_us()
    newest = store.newest_media(stored.id, [_source(c.code) for c in site.cameras])
    statuses = store.camera_statuses(stored.id)
    ids = {c.code: c.id for c in store.channels(stored.id)}
    owners = {ids[ch.code]: camera.code for camera in site.cameras
              for ch in site.instrument_of(camera.video_channel).channels}
    alarms: dict[str, list[CameraAlarmPublic]] = {c.code: [] for c in site.cameras}
    for alarm in store.open_alarms(list(owners)):
        alarms[owners[alarm.channel_id]].append(CameraAlarmPublic(
            id=alarm.id, rule=alarm.rule, level=alarm.level, state=alarm.state,
            message=render_stored(alarm.message, alarm.message_key, alarm.message_params,
                                  lang)))
    cameras = []
    for camera in site.cameras:
        item = newest.get(_source(camera.code))
        cameras.append(CameraPublic(
            code=camera.code, name=camera.name, name_zh=camera.name_zh,
            looks_at=camera.looks_at, section=camera.section, chainage=camera.chainage,
            elevation=camera.elevation, interval_s=camera.interval_s,
            source=camera.source.kind,
            channels={"video": camera.video_channel, "level": camera.level_channel,
                      "confidence": camera.confidence_channel},
            status=_status(statuses.get(camera.code), now),
            latest=None if item is None else _frame(item, camera, now),
            alarms=alarms[camera.code]))
    return CamerasPublic(cameras=cameras)


def _minute_channels(site: Site, camera: Camera) -> dict[str, str | None]:
    """The channels whose readings go beside a frame: level, inflow, outflow, rain, gauge."""
    def first(quantity: str) -> str | None:
        return next((c.code for c in site.channels() if c.quantity == quantity), None)

    rain = next((i.channels[0].code for i in site.instruments if i.type == "rainfall"), None)
    return {
        "level": site.level_channel(),
        "inflow": site.hydrology.inflow_channel or first("inflow"),
        "outflow": site.hydrology.outflow_channel or first("outflow"),
        "rain": rain,
        "camera_level": camera.level_channel,
    }


def readings_at(store: Store, stored: StoredSite, channels: dict[str, str | None],
                at_us: int) -> dict[str, ReadingAtPublic | None]:
    """Each channel's newest reading at or before ``at_us`` (within six hours), one query."""
    infos = {c.code: c for c in store.channels(stored.id)}
    wanted = {name: infos[code] for name, code in channels.items()
              if code is not None and code in infos}
    found: dict[str, ReadingAtPublic | None] = dict.fromkeys(channels)
    if not wanted:
        return found
    ids, times, values = store.readings_many([i.id for i in wanted.values()],
                                             at_us - READINGS_WINDOW_S * _US, at_us + 1)
    for name, info in wanted.items():
        mine = np.flatnonzero(ids == info.id)
        if len(mine):
            last = mine[-1]  # sorted by channel, then time
            found[name] = ReadingAtPublic(channel=info.code, value=float(values[last]),
                                          unit=info.unit, time=_iso(int(times[last])))
    return found


@router.get("/cameras/{code}/frame")
def read_camera_frame(
    code: CameraCode, store: StoreDep, stored: SiteDep,
    at: Annotated[str | None, Query(description="ISO 8601; no offset: the site's zone; "
                                                 "default now")] = None,
) -> CameraFramePublic:
    """Answer the camera's frame at ``at`` and the readings of that minute (404: no camera)."""
    camera = _camera(stored, code)
    at_us = parse_time(name="at", text=at, timezone=stored.site.reservoir.timezone) \
        or _now_us()
    item = store.newest_media(stored.id, [_source(code)], at_us=at_us).get(_source(code))
    readings = readings_at(store, stored, _minute_channels(stored.site, camera), at_us)
    return CameraFramePublic(camera=code, at=_iso(at_us),
                             frame=None if item is None else _frame(item, camera, at_us),
                             readings=readings)


@router.get("/cameras/{code}/frames")
def read_camera_frames(
    code: CameraCode, store: StoreDep, stored: SiteDep,
    start: Annotated[str | None, Query(description="taken at or after, ISO 8601; default a "
                                                   "day before end")] = None,
    end: Annotated[str | None, Query(description="taken before, ISO 8601; default now")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_FRAMES)] = 500,
) -> FramesPublic:
    """Answer the camera's frames taken in ``[start, end)``, oldest first (the last ``limit``)."""
    _camera(stored, code)
    timezone = stored.site.reservoir.timezone
    end_us = parse_time(name="end", text=end, timezone=timezone) or _now_us() + 1
    start_us = parse_time(name="start", text=start, timezone=timezone) \
        or end_us - 86_400 * _US
    if end_us <= start_us:
        raise InvalidRequestError(f"end ({end}) must be after start ({start})")
    items = store.media_items(stored.id, source=_source(code), start_us=start_us, end_us=end_us,
                              limit=limit)
    return FramesPublic(frames=[
        FramePublic(media_id=m.id, url=f"/api/media/{m.id}", taken_at=_iso(m.taken_us))
        for m in reversed(items)])


@router.get("/alarms/{alarm_id}/media")
def read_alarm_media(
    alarm_id: Annotated[int, Path(ge=1, le=2**63 - 1)], store: StoreDep, stored: SiteDep,
) -> AlarmMediaListPublic:
    """Answer the frames kept with an alarm of the site (404 when the alarm is another's)."""
    alarm = store.alarm(alarm_id)
    if alarm.channel_id not in {c.id for c in store.channels(stored.id)}:
        raise NotFoundError(f"alarm {alarm_id} is not an alarm of site "
                            f"{stored.site.reservoir.code}")
    return AlarmMediaListPublic(media=[
        AlarmMediaPublic(media_id=m.id, url=f"/api/media/{m.id}", taken_at=_iso(m.taken_us),
                         role=role)
        for m, role in store.alarm_media(alarm_id)])
