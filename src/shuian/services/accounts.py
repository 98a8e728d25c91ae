"""Accounts use case: users and roles, logins and sessions, API keys, the audit log.

Roles are ordered; each allows what the ones below it allow::

    viewer < operator < engineer < admin
    viewer    reads (when ``SHUIAN_REQUIRE_LOGIN_FOR_READS`` asks for a login to read at all)
    operator  acknowledges alarms, posts (manual) readings
    engineer  fits models, runs the analysis, sets and clears flags, reads the audit log
    admin     manages users and API keys

API keys are for devices and scripts: they carry scopes, not a role. ``ingest`` lets a key post
readings (and nothing else); ``read`` lets it read when reads need a login.

Passwords are hashed with argon2id (:class:`argon2.PasswordHasher`'s defaults, RFC 9106's
second recommended option); session tokens and API keys are 256-bit random strings
(:func:`secrets.token_urlsafe`) kept as their SHA-256. Sessions last ``session_lifetime``
(12 hours by default) from the login, not from the last request (fixed, not sliding: a
stolen token is good for at most that long). Failed logins are counted per user name and
client address in the store, so the limit holds across workers and restarts: after
``max_failures`` (5) within ``failure_window`` (5 minutes) the next attempt is refused with
:class:`~shuian.errors.TooManyAttemptsError` (HTTP 429) until the oldest failure is out of the
window, even with the right password. Each attempt is kept (and counted) before its password
is checked, in one transaction serialised per user and address, so that attempts arriving all
at once cannot all pass; a good password forgets the attempts up to its own, a refused attempt
is not kept (it does not extend the lock). The client address is the socket's peer, or, behind
a proxy listed in ``trusted_proxies``, the address the proxies name (see
:func:`shuian.api.auth.forwarded_client`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from shuian.errors import (
    AuthenticationError,
    InvalidRequestError,
    PermissionDeniedError,
    TooManyAttemptsError,
)
from shuian.i18n import Message
from shuian.services.roles import ROLES, SCOPES, Role, Scope
from shuian.settings import IPNetwork, Settings, networks
from shuian.settings import settings as process_settings
from shuian.store import Store
from shuian.store.auth import StoredApiKey, StoredUser

__all__ = [
    "ROLES",
    "SCOPES",
    "Accounts",
    "AuthSettings",
    "IPNetwork",
    "LoginSession",
    "Principal",
    "Role",
    "Scope",
    "hash_secret",
    "networks",
    "new_password",
    "require",
]


#: Characters a user name may hold.
USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
#: Shortest password a person may choose (generated ones are longer).
MIN_PASSWORD = 10
#: What every API key starts with (so that a leaked one is recognisable).
KEY_PREFIX = "shk_"

_hasher = PasswordHasher()
#: A hash to verify against when the user does not exist, so that answering takes as long.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


def hash_secret(secret: str) -> str:
    """The SHA-256 (hex) of a session token or API key: what the store keeps."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_password() -> str:
    """A generated password: 16 URL-safe characters (96 bits)."""
    return secrets.token_urlsafe(12)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class AuthSettings:
    """How the API authenticates.

    Parameters
    ----------
    session_lifetime : datetime.timedelta
        How long a session lasts from its login (``SHUIAN_SESSION_HOURS``, default 12).
    require_login_for_reads : bool
        Whether reading (GET) needs a login too (``SHUIAN_REQUIRE_LOGIN_FOR_READS=1``); by
        default reads are open, so that a wall display in the control room needs none.
    max_failures : int
        Failed logins of a user from one address allowed within ``failure_window``.
    failure_window : datetime.timedelta
        The window of the login rate limit.
    trusted_proxies : tuple of IPv4Network or IPv6Network
        The reverse proxies whose ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed
        (``SHUIAN_TRUSTED_PROXIES``: addresses or networks, by commas or spaces; made with
        :func:`~shuian.settings.networks`). Default none: the client is the socket's peer,
        whatever a request's headers say, so that a new header cannot dodge the login limit.
    clock : callable
        The time now (UTC); tests give their own.
    """

    session_lifetime: dt.timedelta = dt.timedelta(hours=12)
    require_login_for_reads: bool = False
    max_failures: int = 5
    failure_window: dt.timedelta = dt.timedelta(minutes=5)
    trusted_proxies: tuple[IPNetwork, ...] = ()
    clock: Callable[[], dt.datetime] = field(default=_now, compare=False)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> AuthSettings:
        """The process's settings (:func:`shuian.settings.settings` unless given) for the API.

        ``SHUIAN_SESSION_HOURS``, ``SHUIAN_REQUIRE_LOGIN_FOR_READS`` and
        ``SHUIAN_TRUSTED_PROXIES``; the others keep their defaults.

        Raises
        ------
        InvalidRequestError
            When a variable's value is not what it should be (named with the value).
        """
        given = process_settings() if settings is None else settings
        return cls(
            session_lifetime=dt.timedelta(hours=given.session_hours),
            require_login_for_reads=given.require_login_for_reads,
            trusted_proxies=given.trusted_proxies,
        )


@dataclass(frozen=True)
class Principal:
    """Who makes a request: a user (with a role) or an API key (with scopes)."""

    name: str
    kind: Literal["user", "key"]
    role: Role | None = None
    scopes: frozenset[str] = frozenset()

    @property
    def actor(self) -> str:
        """The name the audit log and histories keep: the user name, or ``key:NAME``."""
        return self.name if self.kind == "user" else f"key:{self.name}"

    def allows(self, role: Role, scope: Scope | None = None) -> bool:
        """Whether this user's role is ``role`` or above, or this key carries ``scope``."""
        if self.kind == "key":
            return scope is not None and scope in self.scopes
        assert self.role is not None
        return ROLES.index(self.role) >= ROLES.index(role)


@dataclass(frozen=True)
class LoginSession:
    """A session just opened: its token (given once), its user and its expiry."""

    token: str
    user: StoredUser
    role: Role
    expires: dt.datetime


def _role(role: str) -> Role:
    for known in ROLES:
        if role == known:
            return known
    raise InvalidRequestError(f"unknown role {role!r}; the roles are {', '.join(ROLES)}")


class Accounts:
    """Users, sessions and API keys of a store, under some :class:`AuthSettings`."""

    def __init__(self, store: Store, settings: AuthSettings | None = None) -> None:
        self.store = store
        self.settings = settings or AuthSettings()

    # -- users ------------------------------------------------------------------------------

    def add_user(
        self, username: str, *, role: str, password: str | None = None, actor: str
    ) -> tuple[StoredUser, str]:
        """Create a user; return it and its password (generated when None is given).

        Raises
        ------
        InvalidRequestError
            If the name is taken or not allowed, the role unknown or the password too short.
        """
        if not USERNAME.match(username):
            raise InvalidRequestError(
                f"user name {username!r}: use 1 to 64 letters, digits or . _ @ -"
            )
        checked = _role(role)
        password = new_password() if password is None else self._check_password(password)
        user = self.store.add_user(username=username, password_hash=_hasher.hash(password),
                                   role=checked, now=self.settings.clock())
        self.store.audit(actor=actor, action="user.create", target=f"user {username}",
                         detail={"role": checked})
        return user, password

    def update_user(
        self,
        username: str,
        *,
        actor: str,
        role: str | None = None,
        disabled: bool | None = None,
        password: str | None = None,
    ) -> StoredUser:
        """Change a user's role, disabled state or password (which ends its sessions).

        The last enabled admin cannot be demoted or disabled: nobody could manage users then.
        """
        checked = None if role is None else _role(role)
        current = self.store.user(username)
        if current is not None and current.role == "admin" and not current.disabled and (
            (checked is not None and checked != "admin") or disabled
        ):
            admins = [u for u in self.store.users() if u.role == "admin" and not u.disabled]
            if len(admins) == 1:
                raise InvalidRequestError(
                    f"{username!r} is the last enabled admin: make another user admin first"
                )
        password_hash = None if password is None else _hasher.hash(self._check_password(password))
        user = self.store.update_user(username, role=checked, disabled=disabled,
                                      password_hash=password_hash)
        detail: dict[str, Any] = {"role": checked, "disabled": disabled,
                                  "password": None if password is None else "changed"}
        self.store.audit(actor=actor, action="user.update", target=f"user {username}",
                         detail={k: v for k, v in detail.items() if v is not None})
        return user

    @staticmethod
    def _check_password(password: str) -> str:
        if len(password) < MIN_PASSWORD:
            raise InvalidRequestError(
                f"the password is too short: use at least {MIN_PASSWORD} characters"
            )
        return password

    # -- logins and sessions ------------------------------------------------------------------

    def login(self, username: str, password: str, *, client: str) -> LoginSession:
        """Check a user's password and open a session.

        Raises
        ------
        TooManyAttemptsError
            After too many failed logins of this user from this client (HTTP 429).
        AuthenticationError
            If the user is unknown or disabled or the password wrong (one message for all).
        """
        s = self.settings
        now = s.clock()
        attempt, earlier = self.store.record_login_attempt(
            username=username, client=client, now=now, window=s.failure_window,
            limit=s.max_failures,
        )
        if attempt is None:
            free_at = earlier[len(earlier) - s.max_failures] + s.failure_window
            wait = max(1, math.ceil((free_at - now).total_seconds()))
            raise TooManyAttemptsError(
                Message.of("error.too_many_logins", username=username, wait=wait),
                retry_after_s=wait,
            )
        user = self.store.user(username)
        try:
            _hasher.verify(_DUMMY_HASH if user is None else user.password_hash, password)
            ok = user is not None and not user.disabled
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        if not ok or user is None:  # the attempt stays kept: it is a failure
            raise AuthenticationError(Message.of("error.bad_login"))
        self.store.forget_login_failures(username=username, client=client, through=attempt)
        if _hasher.check_needs_rehash(user.password_hash):
            self.store.update_user(username, password_hash=_hasher.hash(password))
        token = secrets.token_urlsafe(32)
        expires = now + s.session_lifetime
        self.store.add_session(token_hash=hash_secret(token), user_id=user.id, created_at=now,
                               expires_at=expires)
        return LoginSession(token, user, _role(user.role), expires)

    def session(self, token: str) -> tuple[Principal, dt.datetime] | None:
        """The user of a session token and the session's expiry; None when unknown or expired."""
        found = self.store.session_user(hash_secret(token), now=self.settings.clock())
        if found is None or found[0].disabled:
            return None
        user, expires = found
        return Principal(user.username, "user", role=_role(user.role)), expires

    def logout(self, token: str) -> None:
        """End a session."""
        self.store.end_session(hash_secret(token))

    # -- API keys ---------------------------------------------------------------------------

    def create_api_key(
        self, name: str, *, scopes: Iterable[str], actor: str
    ) -> tuple[StoredApiKey, str]:
        """Create an API key with ``scopes``; return it and the key itself (shown once)."""
        if not USERNAME.match(name):
            raise InvalidRequestError(f"key name {name!r}: use 1 to 64 letters, digits or . _ @ -")
        wanted = sorted(set(scopes))
        unknown = [s for s in wanted if s not in SCOPES]
        if unknown or not wanted:
            raise InvalidRequestError(
                f"scopes {wanted}: give one or more of {', '.join(SCOPES)}"
            )
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        stored = self.store.add_api_key(name=name, key_hash=hash_secret(key), prefix=key[:8],
                                        scopes=wanted, created_by=actor,
                                        now=self.settings.clock())
        self.store.audit(actor=actor, action="apikey.create", target=f"api key {stored.id}",
                         detail={"name": name, "scopes": wanted})
        return stored, key

    def api_key(self, key: str) -> Principal | None:
        """The principal of an API key; None when unknown or revoked."""
        found = self.store.api_key(hash_secret(key))
        if found is None:
            return None
        return Principal(found.name, "key", scopes=frozenset(found.scopes))

    def revoke_api_key(self, key_id: int, *, actor: str) -> StoredApiKey:
        """Revoke an API key for good."""
        revoked = self.store.revoke_api_key(key_id)
        self.store.audit(actor=actor, action="apikey.revoke", target=f"api key {key_id}",
                         detail={"name": revoked.name})
        return revoked


def require(principal: Principal | None, role: Role, scope: Scope | None = None) -> Principal:
    """The principal when it may do what needs ``role`` (or, for a key, ``scope``).

    Raises
    ------
    AuthenticationError
        When nobody is logged in (HTTP 401).
    PermissionDeniedError
        When the role or the key's scopes do not allow it (HTTP 403).
    """
    if principal is None:
        how = f"the {role} role" + ("" if scope is None else f" or an API key with scope {scope}")
        raise AuthenticationError(
            f"log in first: this needs {how} (POST /api/auth/login, then the shuian_session "
            "cookie or 'Authorization: Bearer TOKEN'; or 'X-API-Key: KEY')"
        )
    if not principal.allows(role, scope):
        if principal.kind == "key":
            raise PermissionDeniedError(
                f"API key {principal.name!r} (scopes {sorted(principal.scopes)}) may not do this:"
                f" it needs " + (f"scope {scope}" if scope else f"a user with the {role} role")
            )
        raise PermissionDeniedError(Message.of(
            "error.role_needed", name=principal.name, role=principal.role, needed=role
        ))
    return principal
