"""Camera feeds against a real stream server process, a snapshot URL, a folder, SL 651."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from shuian.site.cameras import Camera
from shuian.sources.cameras import CapturedFrame, FrameQueue, open_feed
from shuian.vision.frames import decode_image

TESTS = Path(__file__).parent


def eventually(condition: Callable[[], object], *, what: str, within_s: float = 15.0) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"not within {within_s} s: {what}")


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3-second MJPEG video whose frames show their number."""
    path = tmp_path_factory.mktemp("video") / "numbers.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for n in range(30):
        image = np.full((240, 320, 3), 40, np.uint8)
        cv2.putText(image, str(n), (60, 160), cv2.FONT_HERSHEY_SIMPLEX, 3, (255, 255, 255), 6)
        writer.write(image)
    writer.release()
    return path


class CameraServer:
    """tests/camera_server.py in its own process, on a port kept across restarts."""

    def __init__(self, video: Path) -> None:
        self.video = video
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(TESTS / "camera_server.py"), "--video", str(self.video),
             "--port", str(self.port)], stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        assert self.process.stdout.readline().split() == ["listening", str(self.port)]

    def unplug(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"


@pytest.fixture
def server(video: Path) -> Iterator[CameraServer]:
    running = CameraServer(video)
    running.start()
    yield running
    if running.process is not None and running.process.poll() is None:
        running.unplug()


def camera(kind: str, **source: object) -> Camera:
    return Camera.model_validate({"code": "CAM", "name": "test", "looks_at": "dam_crest",
                                  "interval_s": 0.2, "queue_frames": 4,
                                  "source": {"kind": kind, "timeout_s": 3, **source}})


def test_a_stream_is_read_unplugged_and_read_again(server: CameraServer) -> None:
    feed = open_feed(camera("stream", url=server.url("stream.mjpg")))
    feed.start()
    try:
        eventually(lambda: len(feed.queue) >= 2, what="frames from the stream")
        frames = feed.queue.drain()
        images = [decode_image(f.data) for f in frames]
        assert images[0].shape == (240, 320, 3)
        assert not np.array_equal(images[0], images[-1])  # the picture moves on
        assert feed.status()["connected"] is True and feed.status()["fps"] >= 0
        server.unplug()
        eventually(lambda: feed.status()["connected"] is False, what="the stream seen gone")
        assert feed.status()["last_error"]
        server.start()
        eventually(lambda: feed.status()["connected"] is True and feed.status()["reconnects"]
                   >= 1, what="the stream back")
        feed.queue.drain()
        eventually(lambda: len(feed.queue) >= 1, what="frames after the reconnection")
    finally:
        started = time.monotonic()
        feed.stop()
        assert time.monotonic() - started < 5


def test_a_snapshot_url_gives_stills_and_a_wrong_answer_is_named(server: CameraServer) -> None:
    feed = open_feed(camera("snapshot", url=server.url("snapshot.jpg")))
    feed.start()
    try:
        eventually(lambda: len(feed.queue) >= 2, what="stills")
        assert decode_image(feed.queue.drain()[0].data).shape == (240, 320, 3)
    finally:
        feed.stop()
    wrong = open_feed(camera("snapshot", url=server.url("nothing.jpg")))
    wrong.start()
    try:
        eventually(lambda: wrong.status()["last_error"], what="the error noted")
        assert "HTTP 404" in wrong.status()["last_error"] and len(wrong.queue) == 0
    finally:
        wrong.stop()


def test_a_drop_folder_gives_its_new_stills_and_names_what_is_not_one(tmp_path: Path) -> None:
    feed = open_feed(camera("folder", path=str(tmp_path)))
    feed.start()
    try:
        for n, name in enumerate(["a.jpg", "b.jpg"]):
            image = np.full((60, 80, 3), 50 * (n + 1), np.uint8)
            (tmp_path / name).write_bytes(cv2.imencode(".jpg", image)[1].tobytes())
            os.utime(tmp_path / name, (time.time() + n, time.time() + n))
            eventually(lambda: len(feed.queue) >= 1, what=f"{name} taken")
            taken = feed.queue.drain()
            assert len(taken) == 1 and decode_image(taken[0].data)[0, 0, 0] == 50 * (n + 1)
        (tmp_path / "c.jpg").write_text("<html>a page, not a picture</html>")
        os.utime(tmp_path / "c.jpg", (time.time() + 5, time.time() + 5))
        eventually(lambda: "c.jpg" in (feed.status()["last_error"] or ""), what="c.jpg refused")
        assert "not a JPEG or PNG" in feed.status()["last_error"] and len(feed.queue) == 0
    finally:
        feed.stop()
    missing = open_feed(camera("folder", path=str(tmp_path / "nowhere")))
    missing.start()
    try:
        eventually(lambda: missing.status()["last_error"], what="the missing folder noted")
        assert "does not exist" in missing.status()["last_error"]
    finally:
        missing.stop()


def test_the_queue_drops_its_oldest_and_counts_them() -> None:
    queue = FrameQueue(3)
    for n in range(5):
        queue.put(CapturedFrame("CAM", n, b""))
    assert queue.dropped == 2 and [f.time_us for f in queue.drain()] == [2, 3, 4]
    assert len(queue) == 0


def test_sl651_pictures_and_synthetic_frames_and_a_faster_interval() -> None:
    picture = cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))[1].tobytes()
    asked: list[tuple[str, int]] = []

    def pictures(station: str, after_us: int) -> list[tuple[int, bytes]]:
        asked.append((station, after_us))
        return [(after_us + 1, picture)] if len(asked) < 3 else []

    feed = open_feed(camera("sl651", station="0012345678"), pictures=pictures)
    feed.start()
    eventually(lambda: len(feed.queue) >= 2, what="the station's pictures")
    feed.stop()
    assert asked[0][0] == "0012345678" and asked[1][1] == asked[0][1] + 1
    synthetic = open_feed(camera("synthetic").model_copy(update={"interval_s": 5.0}),
                          render=lambda cam, now: picture)
    synthetic.start()
    try:
        eventually(lambda: len(synthetic.queue) >= 1, what="the first rendered frame")
        synthetic.set_interval(0.1)
        eventually(lambda: len(synthetic.queue) >= 3, what="faster frames", within_s=3)
    finally:
        synthetic.stop()


def test_stop_returns_while_a_connection_hangs() -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts, never answers
    try:
        feed = open_feed(camera("snapshot", url=f"http://127.0.0.1:{silent.getsockname()[1]}/"))
        feed.start()
        time.sleep(0)  # the feed's thread is now connecting
        started = time.monotonic()
        feed.stop()
        assert time.monotonic() - started < 5
    finally:
        silent.close()
