"""One JSON shape for every error the API answers.

::

    {"error": {"type": "NotFoundError", "message": "no channel 'X' ...", "status": 404}}

``type`` is the class name of the error (a :class:`~shuian.errors.ShuianError` subclass,
``RequestValidationError`` for a request FastAPI could not parse, ``HTTPException`` for an
unknown path or method, ``InternalError`` for a bug), ``status`` repeats the HTTP status.
``message`` is in the request's language (:func:`shuian.api.lang.request_lang`) when the
error carries a sentence of the catalogue, else as it was raised.

A 401 (:class:`~shuian.errors.AuthenticationError`) also sends ``WWW-Authenticate``; a 429
(:class:`~shuian.errors.TooManyAttemptsError`) sends ``Retry-After`` in seconds. A
``RequestValidationError`` names at most :data:`MAX_PROBLEMS` problems (and how many more).

The middleware that answers before routing (a body too large, a foreign origin) answers in the
same shape with :func:`shuian_error_response`. A 500 is sent from outside every middleware, so
it carries the headers given to :func:`install_error_handlers` itself (the security headers).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from shuian.api.lang import request_lang
from shuian.errors import AuthenticationError, ShuianError, TooManyAttemptsError
from shuian.i18n import DEFAULT_LANG, Lang, render

__all__ = ["MAX_PROBLEMS", "error_response", "install_error_handlers", "shuian_error_response"]

logger = logging.getLogger(__name__)

#: Most problems one 422 names (a batch of 100,000 bad readings is not a 10 MB message).
MAX_PROBLEMS = 20


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


def shuian_error_response(exc: ShuianError, lang: Lang = DEFAULT_LANG) -> JSONResponse:
    """The one error response for one of Shuian's errors (its class, message and status).

    Parameters
    ----------
    exc : ShuianError
        The error; a 401 adds ``WWW-Authenticate``, a 429 ``Retry-After``.
    lang : {"en", "zh"}, optional
        The reader's language, for an error that carries a sentence of the catalogue.

    Returns
    -------
    JSONResponse
        ``{"error": {"type", "message", "status"}}`` with the error's status.
    """
    headers: dict[str, str] = {}
    if isinstance(exc, TooManyAttemptsError):
        headers["Retry-After"] = str(exc.retry_after_s)
    elif isinstance(exc, AuthenticationError):
        headers["WWW-Authenticate"] = 'Bearer realm="shuian"'
    return error_response(
        error_type=type(exc).__name__, message=exc.text(lang), status=exc.status,
        headers=headers,
    )


async def _shuian_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ShuianError)
    return shuian_error_response(exc, request_lang(request))


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    problems = [
        f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
        for error in errors[:MAX_PROBLEMS]
    ]
    if len(errors) > MAX_PROBLEMS:
        problems.append(f"and {len(errors) - MAX_PROBLEMS} more problems")
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


def install_error_handlers(app: FastAPI, *, headers: Mapping[str, str] | None = None) -> None:
    """Make ``app`` answer every error in the one shape.

    Parameters
    ----------
    app : FastAPI
        The application to install the handlers on.
    headers : mapping of str to str, optional
        Headers a 500 carries: it is answered from outside every middleware, so the ones that
        add headers to the other answers never see it (the security headers).
    """

    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(
            error_type="InternalError",
            message=render("error.internal", request_lang(request)),
            status=500,
            headers=headers,
        )

    app.add_exception_handler(ShuianError, _shuian_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, internal_error)
