"""The application: the JSON API under ``/api``, the dashboard at ``/``, the docs at ``/docs``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from shuian import __version__
from shuian.api.errors import install_error_handlers
from shuian.api.routes import api_router
from shuian.store import open_store
from shuian.web import INDEX_HTML, STATIC_DIR

__all__ = ["create_app"]

DESCRIPTION = """\
Shuian (水安) monitors a reservoir and its dam: its site, channels and readings.

Times are ISO 8601. Answers give them in UTC (ending in `Z`); a time sent without an offset
is read in the site's time zone. Every error answers
`{"error": {"type", "message", "status"}}`.
"""


def create_app(url: str | None = None) -> FastAPI:
    """Build the application for the store at ``url``.

    The store is opened (and its schema migrated) once, when the application starts, and
    closed when it stops; routes share it through ``app.state.store``.

    Parameters
    ----------
    url : str, optional
        Database URL (``sqlite:///PATH`` or ``postgresql://HOST/DB``); default ``$SHUIAN_DB``
        or ``sqlite:///shuian.db``.

    Returns
    -------
    FastAPI
        The application; serve it with uvicorn (``uvicorn --factory shuian.api:create_app``).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(url)
        app.state.store = store
        app.state.ingestor = None
        try:
            yield
        finally:
            store.close()

    app = FastAPI(
        title="Shuian",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(api_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        """Serve the dashboard's first page."""
        return FileResponse(INDEX_HTML, media_type="text/html")

    return app
