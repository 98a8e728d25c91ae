"""Bounds on what a client may send: body size, JSON depth and counts, readings per POST.

Every request passes :class:`BodyLimits` (a pure ASGI middleware) before authentication,
routing or any parsing:

- a ``Content-Length`` above the limit is answered 413 before a byte of the body is read;
- a body sent without one (chunked) is counted as it arrives and answered 413 at the limit;
- a JSON body's shape is measured (:func:`~shuian.json_shape.scan_json`, vectorised, no
  parse) and a body nested
  deeper than ``max_json_depth`` is answered 400, one with more than ``max_json_items`` values
  in one array or object 413, each message naming the limit and the variable that sets it.

The bulk endpoints (:data:`BULK_PATHS`: ``POST /api/readings``, ``POST /api/hydrology/route``)
take up to ``max_body_bytes``, every other request up to ``max_small_body_bytes``; the bulk
endpoints parse their body in a worker thread, after authentication (:func:`json_body`), and
``POST /api/readings`` refuses more than ``max_records`` readings before building any.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shuian.api.errors import shuian_error_response
from shuian.errors import InvalidRequestError, TooLargeError
from shuian.json_shape import JsonShape, scan_json
from shuian.settings import MiB, Settings
from shuian.settings import settings as process_settings

__all__ = [
    "BULK_PATHS",
    "BodyLimits",
    "ServerLimits",
    "json_body",
    "json_body_openapi",
]

#: The endpoints that take big bodies (a batch of readings, a flood hydrograph).
BULK_PATHS = frozenset({"/api/readings", "/api/hydrology/route"})
#: Methods whose body is read (and so bounded and measured).
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Bodies larger than this are measured in a worker thread, not on the event loop (bytes).
THREAD_ABOVE = 64 * 1024
#: The key of the request's JSON shape in the ASGI scope's state.
SHAPE_KEY = "shuian.json_shape"


class ServerLimits(BaseModel):
    """What one request may hold; every limit is refused with a message that names it.

    Parameters
    ----------
    max_body_bytes : int
        Most bytes of a body on the bulk endpoints (``SHUIAN_MAX_BODY_MB``, default 16 MiB).
    max_small_body_bytes : int
        Most bytes of a body on every other endpoint (``SHUIAN_MAX_SMALL_BODY_KB``, default
        1 MiB): logins, users, flags, comments are small.
    max_json_depth : int
        Most levels of nested arrays and objects in a JSON body (``SHUIAN_MAX_JSON_DEPTH``,
        default 32).
    max_json_items : int
        Most values in one JSON array or object (``SHUIAN_MAX_JSON_ITEMS``, default 1,000,000:
        a design hydrograph's steps).
    max_records : int
        Most readings in one ``POST /api/readings`` (``SHUIAN_MAX_RECORDS``, default 100,000).
    """

    model_config = ConfigDict(frozen=True)

    max_body_bytes: int = Field(default=16 * MiB, ge=1024)
    max_small_body_bytes: int = Field(default=1 * MiB, ge=1024)
    max_json_depth: int = Field(default=32, ge=2, le=10_000)
    max_json_items: int = Field(default=1_000_000, ge=1)
    max_records: int = Field(default=100_000, ge=1)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> ServerLimits:
        """The limits the process's settings set (``SHUIAN_MAX_*``, see the class).

        Parameters
        ----------
        settings : Settings, optional
            Default :func:`shuian.settings.settings` (the environment).

        Raises
        ------
        InvalidRequestError
            When a variable is not a positive number within its range, named with its value.
        """
        given = process_settings() if settings is None else settings
        return cls(
            max_body_bytes=int(given.max_body_mb * MiB),
            max_small_body_bytes=int(given.max_small_body_kb * 1024),
            max_json_depth=given.max_json_depth,
            max_json_items=given.max_json_items,
            max_records=given.max_records,
        )

    def body_limit(self, path: str) -> int:
        """Most body bytes a request to ``path`` may send."""
        return self.max_body_bytes if path in BULK_PATHS else self.max_small_body_bytes


#: The variable that sets each limit, for the messages that name it.
_VARIABLE = {
    "max_body_bytes": "SHUIAN_MAX_BODY_MB",
    "max_small_body_bytes": "SHUIAN_MAX_SMALL_BODY_KB",
    "max_json_depth": "SHUIAN_MAX_JSON_DEPTH",
    "max_json_items": "SHUIAN_MAX_JSON_ITEMS",
    "max_records": "SHUIAN_MAX_RECORDS",
}


def check_shape(shape: JsonShape, limits: ServerLimits) -> None:
    """Refuse a JSON body nested too deep (400) or with too many values in one place (413)."""
    if shape.depth > limits.max_json_depth:
        raise InvalidRequestError(
            f"the JSON body nests {shape.depth} levels deep; at most {limits.max_json_depth} "
            f"are allowed ({_VARIABLE['max_json_depth']})"
        )
    if shape.items > limits.max_json_items:
        raise TooLargeError(
            f"the JSON body has {shape.items} values in one array or object; at most "
            f"{limits.max_json_items} are allowed ({_VARIABLE['max_json_items']})"
        )


# -- the middleware ------------------------------------------------------------------------------


def _too_large(limit: int, path: str) -> TooLargeError:
    variable = _VARIABLE["max_body_bytes" if path in BULK_PATHS else "max_small_body_bytes"]
    return TooLargeError(
        f"the request body is larger than {limit} bytes, the most {path} takes ({variable}); "
        "send less at a time"
    )


class BodyLimits:
    """Bound every request body before anything else reads it (see the module).

    A pure ASGI middleware: the body is read here, at most the limit, measured, and handed on
    to the application as it came, with its :class:`JsonShape` in the scope's state.

    Parameters
    ----------
    app : ASGIApp
        The application to protect.
    limits : ServerLimits
        The limits.
    """

    def __init__(self, app: ASGIApp, limits: ServerLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a request over a limit at once; pass every other one on."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        limit = self.limits.body_limit(path)
        declared = [v for k, v in scope["headers"] if k == b"content-length"]
        if declared:
            if len(declared) > 1 or not declared[0].isdigit():
                refusal = InvalidRequestError("Content-Length must be one number of bytes")
                await shuian_error_response(refusal)(scope, receive, send)
                return
            if int(declared[0]) > limit:
                await shuian_error_response(_too_large(limit, path))(scope, receive, send)
                return
        if scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before its body was complete
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await shuian_error_response(_too_large(limit, path))(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        del chunks
        if body:
            try:
                shape = await _measured(body, self.limits)
            except InvalidRequestError as exc:
                await shuian_error_response(exc)(scope, receive, send)
                return
            scope.setdefault("state", {})[SHAPE_KEY] = shape
        await self.app(scope, _replay(body, receive), send)


async def _measured(body: bytes, limits: ServerLimits) -> JsonShape:
    """The body's shape, checked against the limits (in a worker thread when it is big)."""
    if len(body) > THREAD_ABOVE:
        shape = await asyncio.to_thread(scan_json, body, max_depth=limits.max_json_depth)
    else:
        shape = scan_json(body, max_depth=limits.max_json_depth)
    check_shape(shape, limits)
    return shape


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the body read already, then whatever the client sends next."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()  # the disconnect, when it comes
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


# -- bulk bodies: parsed in a worker thread, after authentication ------------------------------

M = TypeVar("M", bound=BaseModel)


def json_body(model: type[M], *, max_items: str | None = None, counted: str = "items") -> Any:
    """A dependency giving the request's JSON body as ``model``, parsed in a worker thread.

    Declare it after the route's authentication dependency: FastAPI solves dependencies in
    order, so a request without the right credentials is refused before its body is parsed.
    The route declares its body for the docs with :func:`json_body_openapi`.

    Parameters
    ----------
    model : type of BaseModel
        What the body must be.
    max_items : str, optional
        A field of :class:`ServerLimits` bounding the body's largest array (a 413 naming it,
        before anything is built), e.g. ``"max_records"`` for readings.
    counted : str
        What the largest array holds, for the message (``"readings"``).

    Returns
    -------
    fastapi.params.Depends
        For ``Annotated[model, json_body(model)]``.

    Raises
    ------
    RequestValidationError
        When the body is not JSON or not a ``model`` (HTTP 422, each problem at its place).
    TooLargeError
        When the largest array holds more than ``max_items`` values (HTTP 413).
    """

    async def parsed(request: Request) -> M:
        limits: ServerLimits = request.app.state.limits
        body = await request.body()
        if max_items is not None:
            shape = request.scope.get("state", {}).get(SHAPE_KEY) or await asyncio.to_thread(
                scan_json, body
            )
            most = getattr(limits, max_items)
            if shape.items > most:
                raise TooLargeError(
                    f"{request.method} {request.url.path} takes at most {most} {counted} "
                    f"({_VARIABLE[max_items]}); this body has {shape.items} in one list: send "
                    "them in smaller batches"
                )
        try:
            return await asyncio.to_thread(model.model_validate_json, body)
        except ValidationError as exc:
            raise RequestValidationError(
                [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
            ) from None

    parsed.__doc__ = f"Give the request's body as {model.__name__}, parsed in a worker thread."
    return Depends(parsed)


def json_body_openapi(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of a route that reads its body with :func:`json_body`."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return inline(definitions[ref.removeprefix("#/$defs/")])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(value) for value in node]
        return node

    return {"requestBody": {"required": True,
                            "content": {"application/json": {"schema": inline(schema)}}}}

