"""A camera for the tests: an HTTP server process streaming a video file as MJPEG.

``python tests/camera_server.py --video FILE --port N`` serves ``/stream.mjpg``
(multipart/x-mixed-replace, the video's frames looped at its frame rate) and ``/snapshot.jpg``
(the frame of now); it prints ``listening PORT`` first (``--port 0``: a free port).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2

BOUNDARY = "shuianframe"


def load(path: str) -> tuple[list[bytes], float]:
    """The video's frames as JPEG bytes, and its frame rate."""
    capture = cv2.VideoCapture(path)
    fps = capture.get(cv2.CAP_PROP_FPS) or 10.0
    frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(cv2.imencode(".jpg", image)[1].tobytes())
    capture.release()
    if not frames:
        sys.exit(f"{path}: no frames")
    return frames, fps


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--video", required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    frames, fps = load(args.video)
    started = time.monotonic()

    def now_frame() -> bytes:
        return frames[int((time.monotonic() - started) * fps) % len(frames)]

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path.startswith("/snapshot.jpg"):
                data = now_frame()
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            if not self.path.startswith("/stream.mjpg"):
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
            self.end_headers()
            try:
                while True:
                    data = now_frame()
                    self.wfile.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                                     f"Content-Length: {len(data)}\r\n\r\n".encode() + data
                                     + b"\r\n")
                    time.sleep(1.0 / fps)
            except (BrokenPipeError, ConnectionResetError):
                return

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"listening {server.server_address[1]}", flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
