"""Who makes a request, and whether the request's role or scope allows it.

A request authenticates with one of:

- the ``shuian_session`` cookie set by ``POST /api/auth/login`` (HttpOnly, SameSite=Strict,
  Path=/, Secure over https: the dashboard, which keeps no token in its own storage);
- ``Authorization: Bearer TOKEN`` with the token the login answered (scripts, tests);
- ``X-API-Key: KEY`` with a key made by an admin (devices and scripts; scopes, no role).

Every write endpoint declares what it needs with one of the typed dependencies below
(:data:`OperatorDep`, :data:`IngestDep`, :data:`EngineerDep`, :data:`AdminDep`); it answers 401
(with ``WWW-Authenticate``) without credentials, or with wrong or expired ones, and 403 when
the role or the key's scopes are not enough. Reads (GET) are open unless
``SHUIAN_REQUIRE_LOGIN_FOR_READS`` is set: then :func:`reads_allowed` asks for a viewer (or a
key with scope ``read``) on every read but ``/api/health``.

Who the client is (the address the login limit counts, whether it came over https) is the
socket's peer unless that peer is one of ``AuthSettings.trusted_proxies``: then
``X-Forwarded-For`` and ``X-Forwarded-Proto`` say (:func:`forwarded_client`). Serve the app
with uvicorn's ``proxy_headers`` off (``shuian serve`` does; ``uvicorn --no-proxy-headers``),
so that the app, not the server, decides whom to believe.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Annotated

from fastapi import Depends, Request

from shuian.api.deps import StoreDep
from shuian.errors import AuthenticationError
from shuian.i18n import Message
from shuian.services.accounts import (
    Accounts,
    AuthSettings,
    IPNetwork,
    Principal,
    Role,
    Scope,
    require,
)

__all__ = [
    "SESSION_COOKIE",
    "AccountsDep",
    "AdminDep",
    "EngineerDep",
    "IngestDep",
    "OperatorDep",
    "PrincipalDep",
    "UserDep",
    "client_address",
    "forwarded_client",
    "get_accounts",
    "get_principal",
    "is_https",
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


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address in ``text`` (``1.2.3.4``, ``1.2.3.4:80``, ``[::1]:80``), or None."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # an IPv4 address with its port
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None, trusted: Sequence[IPNetwork]
) -> bool:
    return address is not None and any(address in network for network in trusted)


def forwarded_client(peer: str, forwarded_for: Sequence[str], trusted: Sequence[IPNetwork]) -> str:
    """The client's address: the peer's, or behind trusted proxies the one they name.

    Each proxy appends the address it was connected from to ``X-Forwarded-For``; what a client
    wrote there itself is to the left. So the client is the right-most address that is not a
    trusted proxy, read only when the peer is one. When every address is a proxy, the left-most
    is the client; an entry that is not an address ends the chain at the proxy that passed it.

    Parameters
    ----------
    peer : str
        The socket's peer address (``request.client.host``).
    forwarded_for : sequence of str
        The ``X-Forwarded-For`` headers, in the order received (comma-separated addresses).
    trusted : sequence of IPv4Network or IPv6Network
        The proxies to believe.

    Returns
    -------
    str
        The client's address; ``peer`` as given when the peer is not a trusted proxy.
    """
    nearest = _address(peer)
    if nearest is None or not _trusted(nearest, trusted):
        return peer
    hops = [hop for header in forwarded_for for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break
        nearest = address
        if not _trusted(address, trusted):
            break
    return str(nearest)


def _peer(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def client_address(request: Request) -> str:
    """The address of a request's client, as the login limit counts it (see the module)."""
    return forwarded_client(_peer(request), request.headers.getlist("x-forwarded-for"),
                            get_settings(request).trusted_proxies)


def is_https(request: Request) -> bool:
    """Whether the client reached us over https (directly, or as a trusted proxy says)."""
    if request.url.scheme == "https":
        return True
    if not _trusted(_address(_peer(request)), get_settings(request).trusted_proxies):
        return False
    said = request.headers.get("x-forwarded-proto", "").rpartition(",")[2]
    return said.strip().lower() == "https"


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
            raise AuthenticationError(Message.of("error.api_key_unknown"))
        return principal
    token = session_token(request)
    if token is None:
        return None
    found = accounts.session(token)
    if found is None:
        raise AuthenticationError(Message.of("error.session_expired"))
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
