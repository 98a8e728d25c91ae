"""Watching a site's cameras: frames in, snapshots kept, analysers run, readings and alarms out.

A :class:`CameraWatch` holds one feed per camera of the site file (:mod:`shuian.sources.cameras`,
each in its own thread with a bounded queue) and, at each :meth:`~CameraWatch.step`, takes the
frames the feeds have queued and :meth:`~CameraWatch.process` es them, camera by camera:

1. each frame is kept in the media store (source ``camera:<code>``, retention ``routine``), so
   the dashboard shows the newest and its time slider any past one;
2. the camera's analysers (:mod:`shuian.vision`) look at it: health first (a no-video alarm),
   then the staff gauge, intrusion, debris and spillway flow, as the site file configures;
3. one reading per frame goes to ``<code>.video`` (1 good, 0 a fault) and, where the gauge was
   read, the level to ``<code>.level`` with its confidence to ``<code>.confidence``, through the
   ingest service: so checks, models and alarms apply to them as to any channel;
4. an event that begins is raised as an alarm on the camera's channel (rule ``camera.<kind>``),
   notified like any other, with the frames before, at and after it and one annotated with its
   zone kept as ``event`` media linked to the alarm; the camera then samples at its
   ``event_interval_s`` until its events are over; an event that ends clears its alarm;
5. the level read is compared with the level sensor: apart by more than the gauge's tolerance
   for ``disagree_after_s``, the alarm "camera and sensor disagree" (``camera.disagree``);
6. the status of every camera (the feed's, with what was analysed) is written to the store.

A camera from which no frame came for its ``no_signal_after_s`` raises the no-video alarm
("no signal"). :func:`watch_cameras` is the worker's job that runs the watches of every site.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shuian.errors import ShuianError
from shuian.faults import Fault, blame, reason_of
from shuian.i18n import Message
from shuian.notify.build import build_notifiers
from shuian.notify.message import AlarmEvent
from shuian.services.analysis import Analyzer
from shuian.services.ingest import Ingestor
from shuian.services.media import MediaLibrary, default_media_dir
from shuian.services.outbox import outbox_messages
from shuian.site.cameras import Camera
from shuian.sources.cameras import CameraFeed, CapturedFrame, open_feed
from shuian.store import Store, StoredSite
from shuian.store.media import StoredMedia
from shuian.times import iso_utc

__all__ = ["ALARM_LEVELS", "CameraWatch", "FeedFactory", "snapshot_source", "watch_cameras"]

logger = logging.getLogger(__name__)

_US = 1_000_000

#: The level of each camera alarm (rule ``camera.<kind>``).
ALARM_LEVELS = {"intrusion": "alarm", "no_video": "warning", "disagree": "warning",
                "debris": "attention", "spillway_flow": "attention"}
#: Frames kept before an event's frame, and after it, with its alarm.
FRAMES_BEFORE = 2
FRAMES_AFTER = 2
#: Frames one camera's step analyses at most (the feed's queue bounds what waits).
MAX_FRAMES_PER_STEP = 64
#: Seconds between two status writes of a watch.
STATUS_EVERY_S = 2.0

#: Makes a camera's feed: ``open_feed`` with the watch's pictures and rendering (None: the
#: camera's frames are only given to :meth:`CameraWatch.process`, as the demo's history is).
FeedFactory = Callable[[Camera], CameraFeed | None]


def snapshot_source(code: str) -> str:
    """The media source of a camera's frames (``camera:<code>``)."""
    return f"camera:{code}"


def _event_source(code: str) -> str:
    return f"camera:{code}/event"


def _now_us() -> int:
    return time.time_ns() // 1000


@dataclass
class _Camera:
    """What the watch keeps of one camera between frames."""

    camera: Camera
    feed: CameraFeed | None
    analysers: list[Any]
    channel_ids: dict[str, int]
    open_alarms: dict[str, int] = field(default_factory=dict)  # kind -> alarm id
    recent: deque[tuple[int, bytes]] = field(default_factory=lambda: deque(maxlen=FRAMES_BEFORE))
    #: Alarm id -> (the event's time µs, frames after it still to keep).
    after: dict[int, tuple[int, int]] = field(default_factory=dict)
    last_frame_us: int | None = None
    analysed: int = 0
    analysis_s: float = 0.0
    undecodable: int = 0
    disagree_since_us: int | None = None
    last_level: float | None = None
    fast: bool = False


@dataclass(frozen=True)
class StepReport:
    """What one :meth:`CameraWatch.step` did: frames analysed, readings stored, alarm steps."""

    frames: int = 0
    readings: int = 0
    alarm_steps: int = 0

    def __add__(self, other: StepReport) -> StepReport:
        return StepReport(self.frames + other.frames, self.readings + other.readings,
                          self.alarm_steps + other.alarm_steps)


class CameraWatch:
    """The cameras of one site, their feeds and analysers (see the module docstring).

    Parameters
    ----------
    store : Store
    stored : StoredSite
        The site; its file's ``cameras:`` are watched.
    media : MediaLibrary, optional
        Where frames are kept; default the store's media folder.
    feeds : callable, optional
        Makes a camera's feed; default :func:`shuian.sources.cameras.open_feed` with the SL 651
        pictures of the media store and, for synthetic cameras, the demo's renderer.
    clock : callable, optional
        Now in µs since 1970 UTC.
    """

    def __init__(
        self, store: Store, stored: StoredSite, *, media: MediaLibrary | None = None,
        feeds: FeedFactory | None = None, clock: Callable[[], int] = _now_us,
    ) -> None:
        from shuian.vision.gauge import GaugeAnalyser
        from shuian.vision.health import HealthAnalyser
        from shuian.vision.intrusion import IntrusionAnalyser
        from shuian.vision.motion import DebrisAnalyser, SpillwayFlowAnalyser

        self.store = store
        self.stored = stored
        self.site = stored.site
        self.clock = clock
        self.media = media or MediaLibrary(store, default_media_dir(store.url))
        self.ingestor = Ingestor(store, stored, analyzer=Analyzer(store, stored))
        self.notifiers = ([] if self.site.notifications is None
                          else build_notifiers(self.site.notifications,
                                               self.site.reservoir.timezone))
        ids = {c.code: c.id for c in store.channels(stored.id)}
        self._renderer: Any = None
        factory = feeds or self._default_feed
        self.cameras: dict[str, _Camera] = {}
        for camera in self.site.cameras:
            analysers: list[Any] = [HealthAnalyser(camera.health)]
            if camera.gauge is not None:
                analysers.append(GaugeAnalyser(camera.gauge))
            if camera.intrusion is not None:
                analysers.append(IntrusionAnalyser(camera.intrusion))
            if camera.debris is not None:
                analysers.append(DebrisAnalyser(camera.debris))
            if camera.spillway_flow is not None:
                analysers.append(SpillwayFlowAnalyser(camera.spillway_flow))
            channels = {c.code: ids[c.code] for c in self.site.instrument_of(
                camera.video_channel).channels}
            self.cameras[camera.code] = _Camera(camera, factory(camera), analysers, channels)
        self._reopen_alarms()
        self._status_at = 0

    # -- feeds -----------------------------------------------------------------------------

    def _default_feed(self, camera: Camera) -> CameraFeed:
        render = None
        if camera.source.kind == "synthetic":
            render = self.renderer().render
        return open_feed(camera, clock=self.clock, pictures=self._pictures, render=render)

    def renderer(self) -> Any:
        """The demo's renderer of synthetic frames, from this site's level and rain."""
        from shuian.demo.cameras import DemoRenderer

        if self._renderer is None:
            self._renderer = DemoRenderer(self._level_and_rain, self.site.reservoir.timezone,
                                          self.site.reservoir.levels.normal - 1.0)
        return self._renderer

    def _level_and_rain(self, now_us: int) -> tuple[float | None, float]:
        """The site's level (m) and rain (mm) at ``now_us``: the newest within six hours."""
        site = self.site
        rain = next((i.channels[0].code for i in site.instruments if i.type == "rainfall"), None)
        codes = {"level": site.level_channel(), "rain": rain}
        infos = {c.code: c for c in self.store.channels(self.stored.id)}
        wanted = {name: infos[code] for name, code in codes.items() if code in infos}
        ids, _, values = self.store.readings_many([i.id for i in wanted.values()],
                                                  now_us - 6 * 3600 * _US, now_us + 1)
        found: dict[str, float] = {}
        for name, info in wanted.items():
            mine = np.flatnonzero(ids == info.id)
            if len(mine):
                found[name] = float(values[mine[-1]])
        return found.get("level"), found.get("rain", 0.0)

    def _pictures(self, station: str, after_us: int) -> list[tuple[int, bytes]]:
        """The SL 651 station's pictures taken after ``after_us``, oldest first (at most 16)."""
        items = self.store.media_items(self.stored.id, source=f"sl651:{station.upper()}",
                                       start_us=after_us + 1, limit=16)
        found = []
        for item in reversed(items):
            _, data = self.media.read(item.id)
            found.append((item.taken_us, data))
        return found

    def start(self) -> None:
        """Start every camera's feed (each in its own thread)."""
        for state in self.cameras.values():
            if state.feed is not None:
                state.feed.start()

    def stop(self) -> None:
        """Stop every feed."""
        for state in self.cameras.values():
            if state.feed is not None:
                state.feed.stop()

    # -- the work ----------------------------------------------------------------------------

    def step(self) -> StepReport:
        """Process what every feed has queued; look for silent cameras; write the status."""
        report = StepReport()
        now = self.clock()
        for state in self.cameras.values():
            if state.feed is None:
                continue
            frames = state.feed.queue.drain(MAX_FRAMES_PER_STEP)
            if frames:
                report += self.process(state.camera.code, frames)
            report += self._silence(state, now)
        if now - self._status_at >= STATUS_EVERY_S * _US:
            self.write_status(now)
        return report

    def process(self, code: str, frames: Sequence[CapturedFrame]) -> StepReport:
        """Keep, analyse and act on some frames of camera ``code``, oldest first."""
        from shuian.vision.frames import Frame, decode_image

        state = self.cameras[code]
        camera = state.camera
        records: list[dict[str, Any]] = []
        steps = 0
        for captured in sorted(frames, key=lambda f: f.time_us):
            started = time.perf_counter()
            try:
                image = decode_image(captured.data)
            except ShuianError as exc:
                state.undecodable += 1
                logger.warning("camera %s: a frame could not be read: %s", code, exc)
                continue
            self._keep(camera, captured.time_us, captured.data, "routine")
            findings = [a.step(Frame(captured.time_us, image)) for a in state.analysers]
            state.analysis_s += time.perf_counter() - started
            state.analysed += 1
            state.last_frame_us = captured.time_us
            time_text = iso_utc(times_us=np.array([captured.time_us]))[0]
            healthy = not findings[0].present
            records.append({"channel": camera.video_channel, "time": time_text,
                            "value": 1.0 if healthy else 0.0})
            for finding in findings:
                if finding.kind == "gauge_level":
                    if finding.present and finding.value is not None and healthy:
                        records += [
                            {"channel": camera.level_channel, "time": time_text,
                             "value": round(float(finding.value), 4)},
                            {"channel": camera.confidence_channel, "time": time_text,
                             "value": round(float(finding.confidence), 3)},
                        ]
                        state.last_level = float(finding.value)
                        steps += self._cross_check(state, captured.time_us, finding.value)
                    continue
                if finding.kind != "no_video" and not healthy:
                    continue  # a covered or frozen camera sees no events
                steps += self._event(state, finding, captured, image)
            steps += self._keep_after(state, captured)
            state.recent.append((captured.time_us, captured.data))
        stored = 0
        if records:
            stored = self.ingestor.ingest_records(records, source=f"camera:{code}").accepted
        self._pace(state)
        return StepReport(len(frames), stored, steps)

    # -- events and alarms -------------------------------------------------------------------

    def _event(self, state: _Camera, finding: Any, captured: CapturedFrame,
               image: np.ndarray[Any, Any]) -> int:
        """Raise or clear the alarm of an event finding; keep the event's frames."""
        kind = finding.kind
        open_id = state.open_alarms.get(kind)
        if finding.present and open_id is None:
            alarm_id = self._step(state, kind, "raised", captured.time_us, finding.value,
                                  self._message(finding))
            if alarm_id:
                state.open_alarms[kind] = alarm_id
                self._keep_event_frames(state, alarm_id, captured, image, finding)
            return 1
        if not finding.present and open_id is not None:
            self._step(state, kind, "cleared", captured.time_us, finding.value,
                       Message.of("camera.event_over", camera=state.camera.code))
            del state.open_alarms[kind]
            return 1
        return 0

    def _silence(self, state: _Camera, now_us: int) -> StepReport:
        """The no-video alarm of a camera from which no frame came for its no-signal time."""
        from shuian.vision.health import no_signal

        last = state.last_frame_us if state.last_frame_us is not None else self._started_us
        finding = no_signal(last, now_us, state.camera.no_signal_after_s)
        if finding.present and "no_video" not in state.open_alarms:
            alarm_id = self._step(state, "no_video", "raised", now_us, None,
                                  self._message(finding))
            if alarm_id:
                state.open_alarms["no_video"] = alarm_id
            return StepReport(alarm_steps=1)
        return StepReport()

    def _cross_check(self, state: _Camera, time_us: int, level: float) -> int:
        """Compare the level read with the sensor's; raise or clear ``camera.disagree``."""
        gauge = state.camera.gauge
        assert gauge is not None
        sensor = gauge.sensor_channel or self.site.level_channel()
        if sensor is None:
            return 0
        info = self.store.channel(self.stored.id, sensor)
        window = max(3 * state.camera.interval_s, 3600.0)
        times, values = self.store.readings(info.id, time_us - int(window * _US), time_us + 1)
        if len(values) == 0:
            return 0
        difference = level - float(values[-1])
        apart = abs(difference) > gauge.tolerance_m
        open_id = state.open_alarms.get("disagree")
        if not apart:
            state.disagree_since_us = None
            if open_id is None:
                return 0
            self._step(state, "disagree", "cleared", time_us, difference,
                       Message.of("camera.agree_again", camera=state.camera.code, sensor=sensor))
            del state.open_alarms["disagree"]
            return 1
        state.disagree_since_us = state.disagree_since_us or time_us
        if open_id is not None or time_us - state.disagree_since_us < gauge.disagree_after_s * _US:
            return 0
        alarm_id = self._step(
            state, "disagree", "raised", time_us, difference,
            Message.of("camera.disagree", camera=state.camera.code, level=round(level, 3),
                       sensor=sensor, sensor_level=round(float(values[-1]), 3),
                       difference=round(difference, 3), tolerance=gauge.tolerance_m))
        if alarm_id:
            state.open_alarms["disagree"] = alarm_id
        return 1

    def _step(self, state: _Camera, kind: str, step: str, time_us: int, value: float | None,
              message: Message) -> int:
        """Keep one lifecycle step of a camera alarm, with its notifications; the alarm id."""
        camera = state.camera
        channel = camera.level_channel if kind == "disagree" else camera.video_channel
        assert channel is not None
        rule, level = f"camera.{kind}", ALARM_LEVELS[kind]
        reservoir = self.site.reservoir

        def messages(alarm_id: int) -> list[Any]:
            event = AlarmEvent(
                alarm_id=alarm_id, site=reservoir.code,
                site_name=reservoir.name_zh if self.site.language == "zh" else reservoir.name,
                channel=channel, instrument=camera.code,
                rule=rule,  # type: ignore[arg-type]
                level=level,  # type: ignore[arg-type]
                state=step,  # type: ignore[arg-type]
                time_us=time_us, value=value, unit="m" if kind == "disagree" else "1",
                message=message.render("en"), synthetic=reservoir.synthetic,
                message_key=message.key, message_params=dict(message.params),
                language=self.site.language)
            return outbox_messages(event, self.notifiers)

        return self.store.record_alarm_step(
            channel_id=state.channel_ids[channel], rule=rule, kind=step, level=level,
            time_us=time_us, value=None if value is None else float(value), message=message,
            outbox=messages)

    @staticmethod
    def _message(finding: Any) -> Message:
        if finding.reason_key:
            return Message(finding.reason_key, dict(finding.params))
        return Message.of("camera.event", reason=finding.reason)

    def _reopen_alarms(self) -> None:
        """Take up the camera alarms left open by an earlier watch (one query)."""
        self._started_us = self.clock()
        by_channel = {cid: (state, code) for state in self.cameras.values()
                      for code, cid in state.channel_ids.items()}
        for alarm in self.store.open_alarms(list(by_channel)):
            if alarm.rule.startswith("camera."):
                state, _ = by_channel[alarm.channel_id]
                state.open_alarms[alarm.rule.removeprefix("camera.")] = alarm.id

    # -- media -------------------------------------------------------------------------------

    def _keep(self, camera: Camera, time_us: int, data: bytes, retention: str) -> StoredMedia:
        source = snapshot_source(camera.code) if retention == "routine" else _event_source(
            camera.code)
        return self.media.put(data, site_id=self.stored.id, source=source,
                              taken_at=_datetime(time_us), retention=retention)

    def _keep_event_frames(self, state: _Camera, alarm_id: int, captured: CapturedFrame,
                           image: np.ndarray[Any, Any], finding: Any) -> None:
        from shuian.vision.annotate import annotate
        from shuian.vision.frames import encode_jpeg

        camera = state.camera
        links = [(self._keep(camera, t, data, "event").id, "before")
                 for t, data in state.recent]
        links.append((self._keep(camera, captured.time_us, captured.data, "event").id, "at"))
        drawn = annotate(image, zone=finding.zone, boxes=finding.boxes,
                         caption=f"{camera.code} {finding.kind}: {finding.reason}")
        links.append((self.media.put(encode_jpeg(drawn), site_id=self.stored.id,
                                     source=f"{_event_source(camera.code)}/annotated",
                                     taken_at=_datetime(captured.time_us),
                                     retention="event").id, "annotated"))
        self.store.link_alarm_media(alarm_id, links)
        state.after[alarm_id] = (captured.time_us, FRAMES_AFTER)

    def _keep_after(self, state: _Camera, captured: CapturedFrame) -> int:
        """Keep this frame with the alarms still waiting for frames after their event."""
        for alarm_id, (event_us, left) in list(state.after.items()):
            if captured.time_us <= event_us:
                continue
            item = self._keep(state.camera, captured.time_us, captured.data, "event")
            self.store.link_alarm_media(alarm_id, [(item.id, "after")])
            if left <= 1:
                del state.after[alarm_id]
            else:
                state.after[alarm_id] = (event_us, left - 1)
        return 0

    def _pace(self, state: _Camera) -> None:
        """Sample at the event interval while an event is open, else at the usual one."""
        events = [k for k in state.open_alarms if k not in ("no_video", "disagree")]
        fast = bool(events) or bool(state.after)
        if fast != state.fast and state.feed is not None:
            camera = state.camera
            state.feed.set_interval(camera.event_interval_s if fast else camera.interval_s)
            state.fast = fast

    # -- status ------------------------------------------------------------------------------

    def status(self) -> dict[str, dict[str, Any]]:
        """Each camera's status: its feed's, and what the watch analysed (JSON-ready)."""
        found: dict[str, dict[str, Any]] = {}
        for code, state in self.cameras.items():
            feed = {} if state.feed is None else state.feed.status()
            found[code] = {
                **feed, "analysed": state.analysed, "undecodable": state.undecodable,
                "analysis_ms": round(1000 * state.analysis_s / state.analysed, 1)
                if state.analysed else None,
                "open_events": sorted(state.open_alarms),
                "last_level": state.last_level,
            }
        return found

    def write_status(self, now_us: int | None = None) -> None:
        """Write every camera's status to the store (one statement)."""
        now = self.clock() if now_us is None else now_us
        self.store.put_camera_status(self.stored.id, self.status(), now_us=now)
        self._status_at = now


def _datetime(time_us: int) -> Any:
    import datetime as dt

    return dt.datetime.fromtimestamp(time_us / _US, dt.UTC)


# --- the worker's job --------------------------------------------------------------------------

#: Seconds one run of the job watches before it returns (its next run follows at once).
SHIFT_S = 600.0
#: Seconds between two steps of a watch.
STEP_S = 0.5


def watch_cameras(context: Any, *, shift_s: float | None = None,
                  media_dir: Path | None = None) -> dict[str, dict[str, int]]:
    """The worker's ``watch_cameras`` job: watch every site's cameras for one shift.

    Payload (a one-off job): ``site``, one site's code; ``shift_s``, seconds to watch (default
    :data:`SHIFT_S`). Returns per site the frames analysed, readings stored and alarm steps.
    A site whose cameras fail for the input's fault is left out (logged); the system's fault
    ends the shift (the worker tries again).
    """
    store: Store = context.store
    stop: threading.Event = context.stop
    payload = context.payload
    shift = float(payload.get("shift_s", SHIFT_S if shift_s is None else shift_s))
    codes = [str(payload["site"])] if "site" in payload else store.sites()
    watches: dict[str, CameraWatch] = {}
    media = MediaLibrary(store, media_dir or default_media_dir(store.url))
    for code in codes:
        stored = store.site(code)
        if not stored.site.cameras:
            continue
        try:
            watches[code] = CameraWatch(store, stored, media=media)
        except Exception as exc:
            if blame(exc) is Fault.SYSTEM:
                raise
            logger.warning("site %s: its cameras cannot be watched: %s", code, reason_of(exc))
    totals = {code: StepReport() for code in watches}
    for watch in watches.values():
        watch.start()
    try:
        end = time.monotonic() + shift
        while watches and not stop.is_set() and time.monotonic() < end:
            for code, watch in watches.items():
                totals[code] += watch.step()
            stop.wait(STEP_S)
    finally:
        for watch in watches.values():
            watch.stop()
            try:
                watch.write_status()
            except Exception as exc:  # noqa: BLE001 - the store away: the status ages
                logger.warning("camera status not written: %s", reason_of(exc))
    return {code: {"frames": t.frames, "readings": t.readings, "alarm_steps": t.alarm_steps}
            for code, t in totals.items()}

