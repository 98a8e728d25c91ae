"""What the bench scripts share: fresh databases on each backend, and a served API.

Light to import: the ingest bench measures the peak memory of processes that import it.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

PG_URL = os.environ.get("SHUIAN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


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
