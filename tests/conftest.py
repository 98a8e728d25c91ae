"""Shared fixtures: every storage test runs on SQLite and on PostgreSQL.

PostgreSQL is the server at ``SHUIAN_TEST_PG`` (default: 127.0.0.1:5432, database ``test``);
each test gets a fresh schema there. When the server is unreachable the PostgreSQL tests fail,
so a CI run without PostgreSQL cannot pass quietly.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn
from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, sync_playwright

from shuian.api import create_app
from shuian.services.accounts import Accounts
from shuian.site import Site, load_site
from shuian.store import Store, StoredSite, open_store

TESTS = Path(__file__).parent
DATA = TESTS / "data"
SITE_FILE = DATA / "site.yaml"
PG_URL = os.environ.get("SHUIAN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty store: an SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shuian.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    conninfo = PG_URL.replace("postgresql://", "postgresql://", 1)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def site() -> Site:
    """The small test site of tests/data/site.yaml."""
    return load_site(SITE_FILE)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An empty, migrated store on each backend."""
    store = open_store(store_url)
    yield store
    store.close()


@pytest.fixture
def stored_site(store: Store, site: Site) -> StoredSite:
    """The test site saved in the store."""
    store.save_site(site, SITE_FILE.read_text(encoding="utf-8"))
    return store.site()


class Api:
    """A synchronous client of the application, which runs in an event loop in a thread.

    This is what Starlette's TestClient does; it is written out here because the TestClient
    warns about (deprecates) the httpx it would use. ``headers`` go with every request
    (:meth:`login` gives a client that sends a session token).
    """

    def __init__(
        self,
        portal: BlockingPortal,
        client: httpx.AsyncClient,
        headers: dict[str, str] | None = None,
    ) -> None:
        self._portal = portal
        self._client = client
        self.headers = headers or {}

    def _call(self, method: str, url: str, headers: dict[str, str] | None, **kw: Any) -> Any:
        response = self._portal.call(
            partial(self._client.request, method, url, headers=self.headers | (headers or {}),
                    **kw)
        )
        self._client.cookies.clear()  # credentials only by the headers given
        return response

    def get(
        self, url: str, *, params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        return self._call("GET", url, headers, params=params)

    def post(
        self, url: str, *, json: Any = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return self._call("POST", url, headers, json=json)

    def patch(
        self, url: str, *, json: Any = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return self._call("PATCH", url, headers, json=json)

    def delete(self, url: str, *, headers: dict[str, str] | None = None) -> httpx.Response:
        return self._call("DELETE", url, headers)

    def request(
        self, method: str, url: str, *, json: Any = None, content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Any request; ``content`` sends bytes as they are (a body no JSON value makes)."""
        if content is not None:
            return self._call(method, url, headers, content=content)
        return self._call(method, url, headers, json=json)

    def with_headers(self, headers: dict[str, str]) -> Api:
        """The same application, with ``headers`` on every request."""
        return Api(self._portal, self._client, self.headers | headers)

    def login(self, username: str, password: str) -> Api:
        """Log in; the same application, sending the session token."""
        response = self.post("/api/auth/login", json={"username": username,
                                                      "password": password})
        assert response.status_code == 200, response.text
        return self.with_headers({"Authorization": f"Bearer {response.json()['token']}"})


#: The password of the users the tests create.
PASSWORD = "correct horse battery"


def add_user(store_url: str, username: str, role: str, password: str = PASSWORD) -> None:
    """Create a user in the store at ``store_url`` (as the command line would)."""
    store = open_store(store_url)
    try:
        Accounts(store).add_user(username, role=role, password=password, actor="test")
    finally:
        store.close()


def login_as(api: Api, store_url: str, role: str, username: str | None = None) -> Api:
    """Create a user with ``role`` (named after the role unless ``username``) and log in."""
    username = username or role
    add_user(store_url, username, role)
    return api.login(username, PASSWORD)


@contextmanager
def serve(app: FastAPI, *, raise_app_exceptions: bool = True) -> Iterator[Api]:
    """Start ``app`` (its lifespan opens the store), yield a client, stop it."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(app.router.lifespan_context(app)),
    ):
        client = httpx.AsyncClient(transport=transport, base_url="http://shuian.test")
        try:
            yield Api(portal, client)
        finally:
            portal.call(client.aclose)


@pytest.fixture
def anonymous(store_url: str, stored_site: StoredSite) -> Iterator[Api]:
    """A client of the API over a store holding the test site, not logged in."""
    with serve(create_app(store_url)) as api:
        yield api


@pytest.fixture
def client(anonymous: Api) -> Api:
    """A client of the API over a store holding the test site (reads need no login)."""
    return anonymous


@pytest.fixture
def viewer(anonymous: Api, store_url: str) -> Api:
    """A client logged in as ``viewer`` (role viewer), over the test site."""
    return login_as(anonymous, store_url, "viewer")


@pytest.fixture
def operator(anonymous: Api, store_url: str) -> Api:
    """A client logged in as ``operator`` (role operator), over the test site."""
    return login_as(anonymous, store_url, "operator")


@pytest.fixture
def engineer(anonymous: Api, store_url: str) -> Api:
    """A client logged in as ``engineer`` (role engineer), over the test site."""
    return login_as(anonymous, store_url, "engineer")


@pytest.fixture
def admin(anonymous: Api, store_url: str) -> Api:
    """A client logged in as ``admin`` (role admin), over the test site."""
    return login_as(anonymous, store_url, "admin")


@pytest.fixture
def empty_client(store_url: str) -> Iterator[Api]:
    """A client of the API over a store holding no site yet."""
    with serve(create_app(store_url)) as api:
        yield api


# --- a real HTTP receiver ------------------------------------------------------------------


@dataclass
class Receiver:
    """Records every request body; answers ``fail_first`` requests with HTTP 500 first."""

    url: str = ""
    fail_first: int = 0
    bodies: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with state.lock:
                state.requests += 1
                failing = state.requests <= state.fail_first
                if not failing:
                    state.bodies.append(json.loads(body))
                    state.headers.append(dict(self.headers))
            self.send_response(500 if failing else 204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    with serve_handler(Handler) as port:
        state.url = f"http://127.0.0.1:{port}/hooks/alarms?token=s3cret"
        yield state


@contextmanager
def serve_handler(handler: type[BaseHTTPRequestHandler]) -> Iterator[int]:
    """Serve ``handler`` on a free port of 127.0.0.1 in a thread; the port, until the end."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def http_server(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` over real HTTP (uvicorn in a thread) on a free local port; yield its URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)


# --- a real browser ----------------------------------------------------------------------------

ARTIFACTS = Path(__file__).parents[1] / "test-artifacts"
#: The browser the page tests drive: ``SHUIAN_CHROMIUM``, else Debian's chromium on the PATH.
#: ``make test`` installs it when missing (``make browser``); a run without it fails, not skips.
CHROMIUM = os.environ.get("SHUIAN_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium (Debian's), driven by Playwright, for a module's tests."""
    if not Path(CHROMIUM).is_file():
        pytest.fail(
            f"no Chromium at {CHROMIUM}: run `make browser` (installs Debian's chromium) or set "
            "SHUIAN_CHROMIUM to a Chromium executable"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


def screenshot(page: Page, name: str) -> None:
    """Keep a full-page screenshot as test-artifacts/NAME.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def eventually(
    predicate: Callable[[], bool],
    timeout: float = 10.0,
    what: str = "the condition",
    detail: Callable[[], str] = lambda: "",
) -> None:
    """Poll ``predicate`` until it holds; fail naming ``what`` (and ``detail()``) if it never
    does within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not so after {timeout} s. {detail()}")
        time.sleep(0.02)
