"""What the bench scripts share: interleaved measurements, fresh databases, a served API, SL 651.

Light to import (the standard library and psycopg; the API and threadpoolctl only inside the
functions that need them): the ingest bench measures the peak memory of processes that import it.

On a loaded machine (2 cores shared with other work) a figure taken a minute after another can
differ by 3x, so a ratio of two figures measured apart means little. :func:`interleaved` takes
the two (or more) sides in turn, round after round, and :func:`pairwise` reports the median of
the per-round ratios and their spread: each ratio compares two runs that saw about the same load.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import psycopg

T = TypeVar("T")

PG_URL = os.environ.get("SHUIAN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
#: The small test site (tests/data/site.yaml): WL.level, LOG.batt, LOG.airt, LOG.rh ...
SITE_FILE = Path(__file__).resolve().parents[1] / "tests" / "data" / "site.yaml"
#: The SL 651 station of the bench sites, and the station clock's zone (Asia/Shanghai).
GAUGE = "0012345678"
STATION_ZONE = dt.timezone(dt.timedelta(hours=8))


def fresh_url(backend: str, workdir: Path) -> str:
    """An empty database: a new SQLite file or a new PostgreSQL schema."""
    if backend == "sqlite":
        return f"sqlite:///{workdir / f'{uuid.uuid4().hex}.db'}"
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


def drop(url: str) -> None:
    """Drop a PostgreSQL bench schema (nothing for SQLite: its file goes with the workdir)."""
    if "search_path" in url:
        schema = url.rsplit("%3D", 1)[1]
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(url: str) -> Iterator[str]:
    """Serve the API over the store at ``url`` in a thread; yield its base URL."""
    import uvicorn

    from shuian.api import create_app

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(url), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join()


def sl651_report(serial: int, observed: dt.datetime, elements: Mapping[str, float]) -> bytes:
    """A timed report (function 32) of :data:`GAUGE` observed at ``observed`` (aware), with
    ``elements`` (identifier -> value, e.g. ``{"39": 120.5}``), sent a minute later."""
    from shuian.protocols.sl651 import Sl651Frame, element, encode_frame

    local = observed.astimezone(STATION_ZONE).replace(tzinfo=None)
    return encode_frame(Sl651Frame(
        center=1, station=GAUGE, password="1234", function_code=0x32, serial=serial,
        send_time=local + dt.timedelta(minutes=1), station_class="K", observed_time=local,
        elements=tuple(element(ident, value) for ident, value in elements.items()),
    ))


def sl651_send(sock: socket.socket, frame: bytes, serial: int) -> float:
    """Send a report on a connected socket; seconds until the centre acknowledged ``serial``.

    Raises OSError (``TimeoutError`` after the socket's timeout) when no acknowledgement came,
    ``ConnectionError`` when the centre closed the connection.
    """
    from shuian.protocols.sl651 import decode_frame

    sock.sendall(frame)
    began = time.monotonic()
    data = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("the centre closed the connection without an answer")
        data += chunk
        try:
            answer = decode_frame(data)
        except Exception:  # noqa: BLE001 - not all of the answer yet
            continue
        if answer.serial == serial:
            return time.monotonic() - began
        data = b""


def interleaved(sides: Mapping[str, Callable[[], T]], rounds: int) -> dict[str, list[T]]:
    """Measure every side once per round, in turn, for ``rounds`` rounds.

    The order is reversed every other round (A B, B A, A B, ...), so that neither side always
    runs first (after a warm cache, or just before the other's load ends). Returns each side's
    results in round order: ``result[a][i]`` and ``result[b][i]`` were taken back to back.
    """
    names = list(sides)
    results: dict[str, list[T]] = {name: [] for name in names}
    for i in range(rounds):
        for name in names if i % 2 == 0 else reversed(names):
            results[name].append(sides[name]())
    return results


def pairwise(numerators: Sequence[float], denominators: Sequence[float]) -> dict[str, float]:
    """Median, min and max of the per-round ratios ``numerators[i] / denominators[i]``."""
    ratios = [a / b for a, b in zip(numerators, denominators, strict=True)]
    return {
        "median": round(statistics.median(ratios), 3),
        "min": round(min(ratios), 3),
        "max": round(max(ratios), 3),
        "rounds": len(ratios),
    }


def blas_info() -> dict[str, Any]:
    """The BLAS that NumPy runs (threadpoolctl): library, version, kernel, threads, and the
    OpenBLAS settings in the environment that change the kernel (OPENBLAS_CORETYPE, L2_SIZE)."""
    from threadpoolctl import threadpool_info

    libraries = [
        {key: info.get(key) for key in ("internal_api", "version", "architecture", "num_threads",
                                          "threading_layer", "filepath")}
        for info in threadpool_info()
        if info.get("user_api") == "blas"
    ]
    env = {name: os.environ.get(name) for name in
           ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    return {"libraries": libraries, "env": env}
