"""Logging in and out.

``POST /api/auth/login``
    Check a user name and password; open a session (cookie and token).
``POST /api/auth/logout``
    End the request's session and clear the cookie.
``GET /api/auth/me``
    Who the request's credentials are.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from shuian.api.auth import (
    SESSION_COOKIE,
    AccountsDep,
    PrincipalDep,
    client_address,
    is_https,
    session_token,
)
from shuian.api.schemas import LoginIn, MePublic, SessionPublic
from shuian.errors import AuthenticationError
from shuian.i18n import Message

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/login")
def login(
    body: LoginIn, request: Request, response: Response, accounts: AccountsDep
) -> SessionPublic:
    """Check a user name and password and open a session.

    The answer holds the session token for API clients (send it as ``Authorization: Bearer
    TOKEN``) and sets it as the ``shuian_session`` cookie (HttpOnly, SameSite=Strict, Path=/,
    Secure over https) for the dashboard, which uses the cookie only. A session lasts 12 hours
    from the login (``SHUIAN_SESSION_HOURS``). 401 when the name or password is wrong; 429
    (with ``Retry-After``, in seconds) after 5 failed logins of a user from one address within
    5 minutes, however many arrive at once.
    """
    session = accounts.login(body.username, body.password, client=client_address(request))
    lifetime = accounts.settings.session_lifetime
    response.set_cookie(
        SESSION_COOKIE, session.token, max_age=int(lifetime.total_seconds()), httponly=True,
        samesite="strict", secure=is_https(request), path="/",
    )
    return SessionPublic(token=session.token, username=session.user.username,
                         role=session.role, expires=session.expires)


@router.post("/logout", status_code=204)
def logout(request: Request, response: Response, accounts: AccountsDep) -> None:
    """End the request's session (its token no longer works) and clear the cookie.

    The session is deleted on the server, by the cookie or the bearer token. A session that has
    ended already (another tab, expiry) answers 204 too, and clears the cookie; 401 when the
    request carries no session at all.
    """
    token = session_token(request)
    if token is None:
        raise AuthenticationError(Message.of("error.no_session"))
    accounts.logout(token)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                           secure=is_https(request))


@router.get("/me")
def me(principal: PrincipalDep) -> MePublic:
    """Answer who the request's credentials are (401 without any)."""
    if principal is None:
        raise AuthenticationError(Message.of("error.no_credentials"))
    return MePublic(name=principal.name, kind=principal.kind, role=principal.role,
                    scopes=sorted(principal.scopes))
