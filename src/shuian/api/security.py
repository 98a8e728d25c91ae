"""What every response says to the browser, and which pages may change data here.

:class:`SecurityHeaders` adds to every response, errors and static files included:

- ``Content-Security-Policy`` :data:`CSP`: scripts, styles, connections and frames from this
  server only (the dashboard has no inline script or style), images also as ``data:`` URLs
  (the page's empty icon, Swagger UI's), no plugins, no ``<base>``, forms posting here only,
  and ``frame-ancestors 'none'``; the docs page (``/docs``) sends its own policy, which also
  allows its one inline script by its hash (:func:`docs_csp`);
- ``X-Frame-Options: DENY`` (the same as ``frame-ancestors`` for older browsers),
  ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: same-origin``.

:class:`OriginCheck` refuses (403) a state-changing request (POST, PUT, PATCH, DELETE) that a
browser sent from another page: its ``Origin`` (or, without one, its ``Referer``) is neither
the server's own origin (scheme, host and port as the request reached it: the ``Host`` header;
https when a trusted proxy says so, see :func:`shuian.api.auth.is_https`) nor one of the
allowed origins (``SHUIAN_ALLOWED_ORIGINS``: behind a proxy that changes the host, name the
public origin there). A request with neither header (a device, a script, the command line) is
no browser's: it goes on to the authentication.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Mapping

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shuian.api.auth import is_https
from shuian.api.errors import shuian_error_response
from shuian.errors import PermissionDeniedError
from shuian.faults import printable
from shuian.settings import origin_of

__all__ = [
    "CSP",
    "SECURITY_HEADERS",
    "OriginCheck",
    "SecurityHeaders",
    "docs_csp",
    "origin_of",
]

#: The policy of every response but the docs page.
CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

#: The headers every response carries (a response's own Content-Security-Policy wins).
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

#: The methods that change data, and so must come from our own pages when a browser sends them.
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def docs_csp(html: str) -> str:
    """The policy of a page that runs the inline scripts of ``html`` (and nothing else inline).

    Parameters
    ----------
    html : str
        The page (Swagger UI's, as FastAPI writes it): each ``<script>`` without ``src`` is
        allowed by its SHA-256 hash.

    Returns
    -------
    str
        :data:`CSP` with ``script-src 'self'`` and those hashes.
    """
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(code.encode()).digest()).decode() + "'"
        for code in _INLINE_SCRIPT.findall(html)
    )
    return f"{CSP}; script-src 'self' {hashes}"


class SecurityHeaders:
    """Add :data:`SECURITY_HEADERS` to every HTTP response that does not set its own.

    Parameters
    ----------
    app : ASGIApp
        The application.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers as the response starts."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


class OriginCheck:
    """Refuse a state-changing request a browser sent from another origin (see the module).

    Parameters
    ----------
    app : ASGIApp
        The application.
    allowed : iterable of str
        Origins allowed besides the server's own (``https://dam.example.org``).
    """

    def __init__(self, app: ASGIApp, allowed: Iterable[str] = ()) -> None:
        self.app = app
        self.allowed = {o for o in map(origin_of, allowed) if o is not None}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 403 to a foreign browser's write; pass every other request on."""
        if scope["type"] == "http" and scope["method"] in STATE_CHANGING:
            refusal = self.refusal(scope)
            if refusal is not None:
                await shuian_error_response(refusal)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope) -> PermissionDeniedError | None:
        """Why the request is refused, or None when it may go on."""
        headers = Headers(scope=scope)
        said, header = headers.get("origin"), "Origin"
        if said is None:
            said, header = headers.get("referer"), "Referer"
        if said is None:
            return None
        own = _own_origin(scope, headers)
        origin = origin_of(said)
        if origin is not None and (origin == own or origin in self.allowed):
            return None
        here = "unknown" if own is None else f"{own[0]}://{own[1]}:{own[2]}"
        return PermissionDeniedError(
            f"{scope['method']} {printable(scope['path'])[:200]} refused: its {header} "
            f"'{printable(said)[:200]}' is not this server's origin ({here}); a page of another "
            "site may not change data here (SHUIAN_ALLOWED_ORIGINS names more origins)"
        )


def _own_origin(scope: Scope, headers: Headers) -> tuple[str, str, int] | None:
    """The server's own origin as the request reached it (its Host header, http or https)."""
    host = headers.get("host")
    if host is None:
        return None
    scheme = "https" if scope.get("scheme") == "https" or is_https(Request(scope)) else "http"
    return origin_of(f"{scheme}://{host}")
