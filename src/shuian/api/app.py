"""The application: the JSON API under ``/api``, the dashboard at ``/``, the docs at ``/docs``.

Every request passes, in order: :class:`~shuian.api.security.SecurityHeaders` (on the way back:
the headers of every answer), :class:`~shuian.api.security.OriginCheck` (a foreign page's write:
403), :class:`~shuian.api.limits.BodyLimits` (a body too large or too deep: 413, 400), then the
routes, whose first dependency checks the parameters (:func:`shuian.api.deps.plain_parameters`)
and whose write dependencies the credentials, before any bulk body is parsed.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

from shuian import __version__
from shuian.api.errors import install_error_handlers
from shuian.api.limits import BodyLimits, ServerLimits
from shuian.api.routes import api_router
from shuian.api.security import (
    SECURITY_HEADERS,
    OriginCheck,
    SecurityHeaders,
    docs_csp,
)
from shuian.services.accounts import AuthSettings
from shuian.services.events import EventHub, watch
from shuian.services.media import MediaLibrary, default_media_dir
from shuian.services.telemetry import Listeners
from shuian.services.worker import Worker
from shuian.settings import settings
from shuian.store import Store, open_store
from shuian.web import INDEX_HTML, STATIC_DIR

__all__ = ["create_app"]

DESCRIPTION = """\
Shuian (水安) monitors a reservoir and its dam: its site, channels and readings.

Times are ISO 8601. Answers give them in UTC (ending in `Z`); a time sent without an offset
is read in the site's time zone. Every error answers
`{"error": {"type", "message", "status"}}`.

Reads are open (unless the server sets `SHUIAN_REQUIRE_LOGIN_FOR_READS`); every write needs
a login (`POST /api/auth/login`: the `shuian_session` cookie, or `Authorization: Bearer TOKEN`)
with a role high enough (viewer < operator < engineer < admin), or an API key
(`X-API-Key: KEY`) with the right scope: 401 without credentials, 403 when not enough.
"""


def create_app(
    url: str | None = None,
    *,
    worker: Callable[[Store], Worker] | None = None,
    auth: AuthSettings | None = None,
    listeners: Sequence[Listeners] = (),
    limits: ServerLimits | None = None,
    allowed_origins: Sequence[str] | None = None,
    media_dir: Path | None = None,
) -> FastAPI:
    """Build the application for the store at ``url``.

    The store is opened (and its schema migrated) once, when the application starts, and
    closed when it stops; routes share it through ``app.state.store``.

    Parameters
    ----------
    url : str, optional
        Database URL (``sqlite:///PATH`` or ``postgresql://HOST/DB``); default ``$SHUIAN_DB``
        or ``sqlite:///shuian.db``.
    worker : callable, optional
        Makes the background worker (:class:`~shuian.services.worker.Worker`) for the store
        once it is open; the worker runs in a thread while the application runs: notification
        delivery, no-data scans, model refits (``shuian serve`` passes one). None: the
        application runs no background work (``shuian worker`` runs it in another process).
    auth : AuthSettings, optional
        Session lifetime, login rate limit, whether reads need a login; default from the
        environment (``SHUIAN_SESSION_HOURS``, ``SHUIAN_REQUIRE_LOGIN_FOR_READS``).
    listeners : sequence of Listeners, optional
        The sites' telemetry listeners (one per site that has telemetry), run beside the app
        (``shuian serve``); ``GET /api/telemetry?site=CODE`` answers their status.
    limits : ServerLimits, optional
        Body size, JSON depth and counts, readings per POST; default from the environment
        (``SHUIAN_MAX_BODY_MB`` ..., see :class:`~shuian.api.limits.ServerLimits`).
    allowed_origins : sequence of str, optional
        Origins besides the server's own whose pages may change data
        (``https://dam.example.org``); default ``$SHUIAN_ALLOWED_ORIGINS``.
    media_dir : Path, optional
        The media folder (images, pictures, reports; ``GET /api/media``); default
        ``$SHUIAN_MEDIA_DIR``, else ``media`` beside an SQLite file, else ``./media``.

    Returns
    -------
    FastAPI
        The application; serve it with uvicorn (``uvicorn --factory --no-proxy-headers
        shuian.api:create_app``: the app decides whose X-Forwarded-For it believes).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(url)
        app.state.store = store
        app.state.media = MediaLibrary(store, media_dir or default_media_dir(url))
        app.state.ingestors = {}  # by site id
        app.state.analyzers = {}
        app.state.events = EventHub()
        app.state.listeners = {site.stored.id: site for site in listeners}
        # Background work stops at the next pause when told, never in the middle of a query
        # (a cancelled worker thread would go on holding a database connection).
        stop = asyncio.Event()
        tasks = [asyncio.create_task(watch(store, app.state.events, stop=stop))]
        # The worker finishes the job it runs (a handler is told to stop soon) and returns.
        worker_stop = threading.Event()
        app.state.worker = None if worker is None else worker(store)
        thread = None
        if app.state.worker is not None:
            thread = threading.Thread(target=app.state.worker.run, args=(worker_stop,),
                                      name="shuian-worker", daemon=True)
            thread.start()
        try:
            yield
        finally:
            stop.set()
            worker_stop.set()
            await asyncio.gather(*tasks)
            if thread is not None:
                await asyncio.to_thread(thread.join)
            store.close()

    app = FastAPI(
        title="Shuian",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served below from the installed Swagger UI, not from a CDN
        redoc_url=None,
    )
    process = settings()
    app.state.auth = auth or AuthSettings.from_settings(process)
    app.state.limits = limits = limits or ServerLimits.from_settings(process)
    if allowed_origins is None:
        allowed_origins = process.allowed_origins
    install_error_handlers(app, headers=SECURITY_HEADERS)
    # The last added runs first.
    app.add_middleware(BodyLimits, limits=limits)
    app.add_middleware(OriginCheck, allowed=allowed_origins)
    app.add_middleware(SecurityHeaders)
    app.include_router(api_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount("/docs-static", StaticFiles(directory=swagger_ui_path), name="docs-static")

    docs_page = get_swagger_ui_html(
        openapi_url=app.openapi_url or "/openapi.json",
        title="Shuian API",
        swagger_js_url="/docs-static/swagger-ui-bundle.js",
        swagger_css_url="/docs-static/swagger-ui.css",
        swagger_favicon_url="/docs-static/favicon-32x32.png",
    )
    docs_policy = docs_csp(bytes(docs_page.body).decode())

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        """Serve the interactive API docs (Swagger UI from the installed package).

        Its policy allows its one inline script, by hash, and nothing else inline.
        """
        return HTMLResponse(docs_page.body, headers={"Content-Security-Policy": docs_policy})

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        """Serve the dashboard's first page."""
        return FileResponse(INDEX_HTML, media_type="text/html")

    return app
