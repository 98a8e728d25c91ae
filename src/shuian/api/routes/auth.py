"""Logging in and out.

``POST /api/auth/login``
    Check a user name and password; open a session (cookie and token).
``POST /api/auth/logout``
    End the request's session.
``GET /api/auth/me``
    Who the request's credentials are.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from shuian.api.auth import SESSION_COOKIE, AccountsDep, PrincipalDep, session_token
from shuian.api.schemas import LoginIn, MePublic, SessionPublic
from shuian.errors import AuthenticationError

router = APIRouter(prefix="/auth", tags=["auth"])


def client_address(request: Request) -> str:
    """The client's address, as the login rate limit counts it."""
    return request.client.host if request.client is not None else "unknown"


@router.post("/login")
def login(
    body: LoginIn, request: Request, response: Response, accounts: AccountsDep
) -> SessionPublic:
    """Check a user name and password and open a session.

    The answer holds the session token (send it as ``Authorization: Bearer TOKEN``) and sets it
    as the ``shuian_session`` cookie (HttpOnly, SameSite=Strict) for the dashboard. A session
    lasts 12 hours from the login (``SHUIAN_SESSION_HOURS``). 401 when the name or password is
    wrong; 429 (with ``Retry-After``) after 5 failed logins of a user from one address within
    5 minutes.
    """
    session = accounts.login(body.username, body.password, client=client_address(request))
    lifetime = accounts.settings.session_lifetime
    response.set_cookie(
        SESSION_COOKIE, session.token, max_age=int(lifetime.total_seconds()), httponly=True,
        samesite="strict", secure=request.url.scheme == "https", path="/",
    )
    return SessionPublic(token=session.token, username=session.user.username,
                         role=session.role, expires=session.expires)


@router.post("/logout", status_code=204)
def logout(request: Request, response: Response, principal: PrincipalDep,
           accounts: AccountsDep) -> None:
    """End the request's session (its token no longer works) and drop the cookie.

    401 without a session.
    """
    token = session_token(request)
    if principal is None or principal.kind != "user" or token is None:
        raise AuthenticationError("no session to end: log in first (POST /api/auth/login)")
    accounts.logout(token)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")


@router.get("/me")
def me(principal: PrincipalDep) -> MePublic:
    """Answer who the request's credentials are (401 without any)."""
    if principal is None:
        raise AuthenticationError("no credentials: log in first (POST /api/auth/login)")
    return MePublic(name=principal.name, kind=principal.kind, role=principal.role,
                    scopes=sorted(principal.scopes))
