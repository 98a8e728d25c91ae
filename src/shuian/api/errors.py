"""One JSON shape for every error the API answers.

::

    {"error": {"type": "NotFoundError", "message": "no channel 'X' ...", "status": 404}}

``type`` is the class name of the error (a :class:`~shuian.errors.ShuianError` subclass,
``RequestValidationError`` for a request FastAPI could not parse, ``HTTPException`` for an
unknown path or method, ``InternalError`` for a bug), ``status`` repeats the HTTP status.

A 401 (:class:`~shuian.errors.AuthenticationError`) also sends ``WWW-Authenticate``; a 429
(:class:`~shuian.errors.TooManyAttemptsError`) sends ``Retry-After`` in seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from shuian.errors import AuthenticationError, ShuianError, TooManyAttemptsError

__all__ = ["error_response", "install_error_handlers"]

logger = logging.getLogger(__name__)


def error_response(
    *, error_type: str, message: str, status: int, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """Build the one error response.

    Parameters
    ----------
    error_type : str
        Name of the error class.
    message : str
        What was wrong and how to fix it, for a person.
    status : int
        HTTP status code, repeated in the body.
    headers : mapping of str to str, optional
        Extra response headers (``Allow`` on a 405).

    Returns
    -------
    JSONResponse
        ``{"error": {"type", "message", "status"}}`` with that status.
    """
    body = {"error": {"type": error_type, "message": message, "status": status}}
    return JSONResponse(body, status_code=status, headers=headers)


async def _shuian_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ShuianError)
    headers: dict[str, str] = {}
    if isinstance(exc, TooManyAttemptsError):
        headers["Retry-After"] = str(exc.retry_after_s)
    elif isinstance(exc, AuthenticationError):
        headers["WWW-Authenticate"] = 'Bearer realm="shuian"'
    return error_response(
        error_type=type(exc).__name__, message=exc.message, status=exc.status, headers=headers
    )


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()
    ]
    return error_response(
        error_type="RequestValidationError", message="; ".join(problems), status=422
    )


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return error_response(
        error_type="HTTPException",
        message=str(exc.detail),
        status=exc.status_code,
        headers=exc.headers,
    )


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(
        error_type="InternalError",
        message="internal error; the server log has the details",
        status=500,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Make ``app`` answer every error in the one shape.

    Parameters
    ----------
    app : FastAPI
        The application to install the handlers on.
    """
    app.add_exception_handler(ShuianError, _shuian_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _internal_error)
