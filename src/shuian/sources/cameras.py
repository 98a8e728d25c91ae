"""Camera feeds: frames from a stream, a snapshot URL, a drop folder, SL 651 or the demo.

A feed (:func:`open_feed`) runs in its own daemon thread and takes one frame of its camera at
each sampling time (the camera's ``interval_s``, or what :meth:`CameraFeed.set_interval` says
while an event is open) into a bounded :class:`FrameQueue`, which drops its oldest frame when
the analysis falls behind, and counts it. A feed that fails (a stream that drops, a server
away, a folder missing, an answer that is no picture) notes the error in its status, marks
itself disconnected and tries again after a back-off of 1 s, doubling to 60 s, back to 1 s after
a success. The camera's fault (an answer that is no picture, too large) is noted and the feed
goes on; nothing a camera sends is trusted beyond :data:`MAX_FRAME_BYTES`.

Streams (``rtsp://``, ``http://`` MJPEG ...) are read through OpenCV's FFmpeg backend, frame
after frame so that the picture taken is fresh, and the picture of each sampling time encoded
as JPEG.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shuian.errors import InvalidRequestError
from shuian.site.cameras import Camera
from shuian.sources.status import SourceStatus

__all__ = ["MAX_FRAME_BYTES", "CameraFeed", "CapturedFrame", "FrameQueue", "open_feed"]

logger = logging.getLogger(__name__)

#: The largest picture taken from a camera (bytes).
MAX_FRAME_BYTES = 16 * 1024 * 1024
#: Back-off after a failure (s): the first, and the most.
BACKOFF_S, BACKOFF_MAX_S = 1.0, 60.0
#: Files of a drop folder looked at per pass (the newest).
FOLDER_SCAN = 256
#: The pictures a camera may send, by their first bytes (JPEG's SOI marker, PNG's signature).
PICTURES = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}

Clock = Callable[[], int]
#: An SL 651 station's pictures kept since a time: (time µs, bytes), oldest first.
Pictures = Callable[[str, int], list[tuple[int, bytes]]]
#: The demo's picture of a camera at a time (JPEG bytes).
Render = Callable[[Camera, int], bytes]


def _now_us() -> int:
    return time.time_ns() // 1000


@dataclass(frozen=True)
class CapturedFrame:
    """A picture taken from a camera: its code, when (µs since 1970 UTC), JPEG or PNG bytes."""

    camera: str
    time_us: int
    data: bytes


class FrameQueue:
    """A bounded queue of frames, safe across threads: when full, the oldest goes (counted)."""

    def __init__(self, size: int) -> None:
        self._frames: deque[CapturedFrame] = deque(maxlen=size)
        self._lock = threading.Lock()
        self._dropped = 0

    def put(self, frame: CapturedFrame) -> None:
        """Add a frame; a full queue drops its oldest."""
        with self._lock:
            if len(self._frames) == self._frames.maxlen:
                self._dropped += 1
            self._frames.append(frame)

    def drain(self, limit: int | None = None) -> list[CapturedFrame]:
        """Take up to ``limit`` frames (all by default), oldest first."""
        with self._lock:
            count = len(self._frames) if limit is None else min(limit, len(self._frames))
            return [self._frames.popleft() for _ in range(count)]

    @property
    def dropped(self) -> int:
        """Frames dropped because the queue was full."""
        with self._lock:
            return self._dropped

    def __len__(self) -> int:
        with self._lock:
            return len(self._frames)


def masked(url: str) -> str:
    """A URL with any ``user:password@`` shown as ``***@``."""
    return re.sub(r"(?<=://)[^/@]*@", "***@", url)


class CameraFeed:
    """A camera's frames taken on a schedule in a thread (see the module docstring).

    Subclasses say how one frame is taken (:meth:`take`) and, for streams, how the connection
    is kept (:meth:`run`).
    """

    kind = ""

    def __init__(self, camera: Camera, *, clock: Clock = _now_us) -> None:
        self.camera = camera
        self.clock = clock
        self.queue = FrameQueue(camera.queue_frames)
        self.interval_s = camera.interval_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._taken: deque[float] = deque(maxlen=120)
        self.status_ = SourceStatus(camera.source.kind, self.endpoint(),
                                    label=f"camera {camera.code}",
                                    counts=("frames", "reconnects"))

    def endpoint(self) -> str:
        """Where the frames come from, any password hidden."""
        source = self.camera.source
        return masked(source.url or source.path or source.station or source.kind)

    # -- the thread -------------------------------------------------------------------------

    def start(self) -> None:
        """Start taking frames (returns at once)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._guarded, daemon=True,
                                        name=f"shuian-camera-{self.camera.code}"[:60])
        self._thread.start()

    def stop(self) -> None:
        """Stop, and wait for the thread a bounded time (the source's timeout and a second)."""
        self._stop.set()
        self._wake.set()
        self.close()
        if self._thread is not None:
            self._thread.join(self.camera.source.timeout_s + 1.0)

    def close(self) -> None:
        """Release a connection held (a stream's); nothing by default."""

    def set_interval(self, seconds: float) -> None:
        """Sample every ``seconds`` from now (faster while an event is open)."""
        self.interval_s = max(0.05, float(seconds))
        self._wake.set()

    def _guarded(self) -> None:
        try:
            self.run()
        except Exception:  # noqa: BLE001 - a bug must not end the camera silently
            logger.exception("camera %s: its feed stopped", self.camera.code)
            self.status_.note_error("the feed stopped on an unexpected error (see the log)")

    def run(self) -> None:
        """Take a frame at each sampling time until stopped; back off after a failure."""
        backoff = BACKOFF_S
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                taken = self.take()
            except InvalidRequestError as exc:  # the camera's fault: noted, and on
                self.status_.note_error(str(exc))
                taken = None
            except Exception as exc:  # noqa: BLE001 - anything else: away; back off
                self._failed(str(exc) or type(exc).__name__)
                self._sleep(backoff)
                backoff = min(2 * backoff, BACKOFF_MAX_S)
                continue
            backoff = BACKOFF_S
            for frame in taken or []:
                self._put(frame)
            self._sleep(max(0.0, self.interval_s - (time.monotonic() - started)))

    def _sleep(self, seconds: float) -> None:
        self._wake.clear()
        self._wake.wait(seconds)

    def _failed(self, reason: str) -> None:
        if self.status_.as_json()["connected"]:
            self.status_.count(reconnects=1)
        self.status_.set(connected=False)
        self.status_.note_error(reason[:300])

    def _put(self, frame: CapturedFrame) -> None:
        self.queue.put(frame)
        self._taken.append(time.monotonic())
        self.status_.count(frames=1)
        self.status_.set(connected=True,
                         last_message_at=dt.datetime.fromtimestamp(frame.time_us / 1e6, dt.UTC))

    def take(self) -> list[CapturedFrame] | None:
        """The frames of this sampling time (raise when the camera is away)."""
        raise NotImplementedError

    def picture(self, data: bytes) -> bytes:
        """``data`` if it is a JPEG or PNG of at most :data:`MAX_FRAME_BYTES`, else refused."""
        if len(data) > MAX_FRAME_BYTES:
            raise InvalidRequestError(f"the camera sent {len(data)} bytes, more than "
                                      f"{MAX_FRAME_BYTES}")
        if not any(data.startswith(magic) for magic in PICTURES):
            raise InvalidRequestError(f"the camera sent {len(data)} bytes starting "
                                      f"{data[:8]!r}, not a JPEG or PNG picture")
        return data

    def status(self) -> dict[str, Any]:
        """The feed's status, JSON-ready.

        Kind, endpoint, connected, frames, dropped, fps, interval, last frame, last error and
        reconnects.
        """
        values = self.status_.as_json()
        now = time.monotonic()
        recent = [t for t in self._taken if now - t <= 60.0]
        span = (now - recent[0]) if len(recent) > 1 else 0.0
        fps = (len(recent) - 1) / span if span > 0 else 0.0
        return {"kind": values["kind"], "endpoint": values["endpoint"],
                "connected": values["connected"], "frames": values["frames"],
                "dropped": self.queue.dropped, "fps": round(fps, 3),
                "interval_s": self.interval_s, "last_frame_at": values["last_message_at"],
                "last_error": values["last_error"], "last_error_at": values["last_error_at"],
                "reconnects": values["reconnects"]}


class StreamFeed(CameraFeed):
    """An RTSP or HTTP (MJPEG) stream through OpenCV's FFmpeg backend."""

    kind = "stream"

    def __init__(self, camera: Camera, *, clock: Clock = _now_us) -> None:
        super().__init__(camera, clock=clock)
        self._capture: Any = None

    def _release(self) -> None:
        """Release the stream, in the feed's own thread only.

        Releasing a capture while another thread reads from it crashes the process; the
        reader's read times out instead, after the source's timeout.
        """
        capture, self._capture = self._capture, None
        if capture is not None:
            capture.release()

    def _open(self) -> Any:
        import cv2

        timeout_ms = int(self.camera.source.timeout_s * 1000)
        capture = cv2.VideoCapture(str(self.camera.source.url), cv2.CAP_FFMPEG, [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            timeout_ms])
        if not capture.isOpened():
            capture.release()
            raise ConnectionError(f"the stream {self.endpoint()} cannot be opened")
        return capture

    def run(self) -> None:
        """Read the stream frame after frame; keep one at each sampling time; reconnect."""
        import cv2

        backoff = BACKOFF_S
        next_us = 0
        while not self._stop.is_set():
            try:
                if self._capture is None:
                    self._capture = self._open()
                    if self._stop.is_set():
                        break
                ok, image = self._capture.read()
                if not ok or image is None:
                    raise ConnectionError(f"the stream {self.endpoint()} ended or stalled")
            except Exception as exc:  # noqa: BLE001 - the stream away: back off, reconnect
                self._release()
                if self._stop.is_set():
                    break
                self._failed(str(exc) or type(exc).__name__)
                self._sleep(backoff)
                backoff = min(2 * backoff, BACKOFF_MAX_S)
                continue
            backoff = BACKOFF_S
            now = self.clock()
            if now >= next_us or self._wake.is_set():
                self._wake.clear()
                ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
                if ok:
                    self._put(CapturedFrame(self.camera.code, now, data.tobytes()))
                next_us = now + int(self.interval_s * 1e6)
        self._release()


class SnapshotFeed(CameraFeed):
    """An HTTP(S) URL answering one still per request."""

    kind = "snapshot"

    def take(self) -> list[CapturedFrame] | None:
        """GET the still (bounded in time and size)."""
        import httpx

        url = str(self.camera.source.url)
        with httpx.Client(timeout=self.camera.source.timeout_s) as client, \
                client.stream("GET", url) as answer:
            if answer.status_code != 200:
                raise InvalidRequestError(f"{self.endpoint()} answered HTTP "
                                          f"{answer.status_code}, not a picture")
            chunks, size = [], 0
            for chunk in answer.iter_bytes():
                size += len(chunk)
                if size > MAX_FRAME_BYTES:
                    raise InvalidRequestError(f"{self.endpoint()} sent more than "
                                              f"{MAX_FRAME_BYTES} bytes")
                chunks.append(chunk)
        data = self.picture(b"".join(chunks))
        return [CapturedFrame(self.camera.code, self.clock(), data)]


class FolderFeed(CameraFeed):
    """The newest still a camera dropped in a folder (its time: the file's)."""

    kind = "folder"

    def __init__(self, camera: Camera, *, clock: Clock = _now_us) -> None:
        super().__init__(camera, clock=clock)
        self._last: tuple[int, str] = (0, "")
        self._refused: set[tuple[str, int]] = set()

    def take(self) -> list[CapturedFrame] | None:
        """The newest file matching the pattern not taken yet, or nothing."""
        folder = Path(str(self.camera.source.path))
        if not folder.is_dir():
            raise FileNotFoundError(f"the drop folder {folder} does not exist")
        files = []
        for path in folder.glob(self.camera.source.pattern):
            try:
                stat = path.stat()
            except OSError:
                continue  # gone meanwhile
            if path.is_file():
                files.append((stat.st_mtime_ns // 1000, path.name, path, stat.st_size))
        files.sort(reverse=True)
        for time_us, name, path, size in files[:FOLDER_SCAN]:
            if (time_us, name) <= self._last:
                return None
            if (name, time_us) in self._refused:
                continue
            try:
                if size > MAX_FRAME_BYTES:
                    raise InvalidRequestError(f"{name}: {size} bytes, more than "
                                              f"{MAX_FRAME_BYTES}")
                data = self.picture(path.read_bytes())
            except InvalidRequestError as exc:
                self._refused.add((name, time_us))
                self.status_.note_error(f"{name}: {exc}")
                continue
            self._last = (time_us, name)
            return [CapturedFrame(self.camera.code, time_us, data)]
        return None


class PicturesFeed(CameraFeed):
    """The pictures (36H) an SL 651 station sends, as the media store keeps them."""

    kind = "sl651"

    def __init__(self, camera: Camera, pictures: Pictures, *, clock: Clock = _now_us) -> None:
        super().__init__(camera, clock=clock)
        self.pictures = pictures
        self._after_us = clock() - int(camera.interval_s * 3e6)

    def take(self) -> list[CapturedFrame] | None:
        """The station's pictures since the last taken."""
        found = self.pictures(str(self.camera.source.station), self._after_us)
        frames = [CapturedFrame(self.camera.code, t, self.picture(data)) for t, data in found]
        if found:
            self._after_us = max(t for t, _ in found)
        return frames


class SyntheticFeed(CameraFeed):
    """The demo's frames, rendered in code."""

    kind = "synthetic"

    def __init__(self, camera: Camera, render: Render, *, clock: Clock = _now_us) -> None:
        super().__init__(camera, clock=clock)
        self.render = render

    def take(self) -> list[CapturedFrame] | None:
        """The rendered frame of now."""
        now = self.clock()
        return [CapturedFrame(self.camera.code, now, self.render(self.camera, now))]


def open_feed(camera: Camera, *, clock: Clock = _now_us, pictures: Pictures | None = None,
              render: Render | None = None) -> CameraFeed:
    """The feed of a camera's source, not started yet.

    ``pictures`` gives an SL 651 station's pictures, ``render`` the demo's frames; a camera
    whose kind needs one that is missing is refused (:class:`InvalidRequestError`).
    """
    kind = camera.source.kind
    if kind == "stream":
        return StreamFeed(camera, clock=clock)
    if kind == "snapshot":
        return SnapshotFeed(camera, clock=clock)
    if kind == "folder":
        return FolderFeed(camera, clock=clock)
    if kind == "sl651":
        if pictures is None:
            raise InvalidRequestError(f"camera {camera.code}: an sl651 camera needs the "
                                      "station's pictures (the media store)")
        return PicturesFeed(camera, pictures, clock=clock)
    if render is None:
        raise InvalidRequestError(f"camera {camera.code}: a synthetic camera needs a renderer")
    return SyntheticFeed(camera, render, clock=clock)
