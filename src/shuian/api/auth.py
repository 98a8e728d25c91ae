"""Who makes a request, and whether the request's role or scope allows it.

A request authenticates with one of:

- the ``shuian_session`` cookie set by ``POST /api/auth/login`` (HttpOnly, SameSite=Strict:
  the dashboard);
- ``Authorization: Bearer TOKEN`` with the token the login answered (scripts, tests);
- ``X-API-Key: KEY`` with a key made by an admin (devices and scripts; scopes, no role).

Every write endpoint declares what it needs with one of the typed dependencies below
(:data:`OperatorDep`, :data:`IngestDep`, :data:`EngineerDep`, :data:`AdminDep`); it answers 401
(with ``WWW-Authenticate``) without credentials, or with wrong or expired ones, and 403 when
the role or the key's scopes are not enough. Reads (GET) are open unless
``SHUIAN_REQUIRE_LOGIN_FOR_READS`` is set: then :func:`reads_allowed` asks for a viewer (or a
key with scope ``read``) on every read but ``/api/health``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from shuian.api.deps import StoreDep
from shuian.errors import AuthenticationError
from shuian.services.accounts import Accounts, AuthSettings, Principal, Role, Scope, require

__all__ = [
    "SESSION_COOKIE",
    "AccountsDep",
    "AdminDep",
    "EngineerDep",
    "IngestDep",
    "OperatorDep",
    "PrincipalDep",
    "UserDep",
    "get_accounts",
    "get_principal",
    "reads_allowed",
    "session_token",
]

#: The name of the session cookie.
SESSION_COOKIE = "shuian_session"


def get_settings(request: Request) -> AuthSettings:
    """Give the application's authentication settings (``app.state.auth``)."""
    settings: AuthSettings = request.app.state.auth
    return settings


def get_accounts(request: Request, store: StoreDep) -> Accounts:
    """Give the accounts service over the application's store and settings.

    Parameters
    ----------
    request : Request
        The current request (its app holds the settings).
    store : Store
        The application's store.

    Returns
    -------
    Accounts
        Users, sessions and API keys.
    """
    return Accounts(store, get_settings(request))


AccountsDep = Annotated[Accounts, Depends(get_accounts)]


def session_token(request: Request) -> str | None:
    """The session token a request carries (``Authorization: Bearer`` first, then the cookie)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.cookies.get(SESSION_COOKIE) or None


def get_principal(request: Request, accounts: AccountsDep) -> Principal | None:
    """Give who makes the request, or None when it carries no credentials.

    Parameters
    ----------
    request : Request
        The current request.
    accounts : Accounts
        The accounts service.

    Returns
    -------
    Principal or None
        The user of the session, or the API key; None without credentials.

    Raises
    ------
    AuthenticationError
        If the request carries an unknown or revoked API key, or an unknown or expired session
        token (HTTP 401): credentials that do not work are refused, not ignored.
    """
    key = request.headers.get("x-api-key")
    if key is not None:
        principal = accounts.api_key(key.strip())
        if principal is None:
            raise AuthenticationError("the API key is unknown or revoked: ask an admin for one")
        return principal
    token = session_token(request)
    if token is None:
        return None
    found = accounts.session(token)
    if found is None:
        raise AuthenticationError(
            "the session has expired or ended: log in again (POST /api/auth/login)"
        )
    return found[0]


PrincipalDep = Annotated[Principal | None, Depends(get_principal)]


def _needs(role: Role, scope: Scope | None = None) -> object:
    def dependency(principal: PrincipalDep) -> Principal:
        return require(principal, role, scope)

    dependency.__doc__ = f"Give the request's principal if it has the {role} role" + (
        "" if scope is None else f" or is an API key with scope {scope}"
    )
    return Depends(dependency)


#: Any logged-in user, or any API key.
UserDep = Annotated[Principal, _needs("viewer", "read")]
#: An operator or above (acknowledging alarms).
OperatorDep = Annotated[Principal, _needs("operator")]
#: An operator or above, or an API key with scope ``ingest`` (posting readings).
IngestDep = Annotated[Principal, _needs("operator", "ingest")]
#: An engineer or above (models, analysis, flags, the audit log).
EngineerDep = Annotated[Principal, _needs("engineer")]
#: An admin (users and API keys).
AdminDep = Annotated[Principal, _needs("admin")]


def reads_allowed(request: Request) -> None:
    """Let a read through, asking for a viewer when reads need a login.

    Installed on the whole API router; it looks at reads only (GET and HEAD, and the what-if
    ``POST /api/hydrology/route``, which writes nothing): every write has its own dependency.
    ``/api/health`` and the login stay open.

    Raises
    ------
    AuthenticationError
        When reads need a login and the request carries no working credentials (HTTP 401).
    PermissionDeniedError
        When the credentials are an API key without scope ``read`` (HTTP 403).
    """
    if not get_settings(request).require_login_for_reads:
        return
    if request.url.path in {"/api/health", "/api/auth/login"}:
        return
    if request.method not in {"GET", "HEAD"} and request.url.path != "/api/hydrology/route":
        return
    accounts = Accounts(request.app.state.store, get_settings(request))
    require(get_principal(request, accounts), "viewer", "read")
