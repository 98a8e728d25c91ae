"""Storage of users, login sessions, API keys, login attempts and the audit log.

Secrets are never kept: passwords as argon2id hashes, session tokens and API keys as the
SHA-256 of the token (they are random, 256 bits, so a fast hash is enough). Hashing is done by
:mod:`shuian.services.accounts`; this mixin only keeps rows.

Plain SQLAlchemy Core shared by both backends. SQLite gives times back without a zone: they are
all UTC, and :func:`_utc` says so.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from shuian.errors import InvalidRequestError, NotFoundError
from shuian.store import schema


@dataclass(frozen=True)
class StoredUser:
    """A user account: its role, whether it is disabled, and its password hash."""

    id: int
    username: str
    password_hash: str
    role: str
    created_at: dt.datetime
    disabled: bool


@dataclass(frozen=True)
class StoredApiKey:
    """An API key as kept: its name, first characters (``prefix``) and scopes, never the key."""

    id: int
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_by: str
    created_at: dt.datetime
    revoked: bool


@dataclass(frozen=True)
class AuditEntry:
    """One change: who (``actor``) did what (``action``) to what (``target``), when."""

    id: int
    at: dt.datetime
    actor: str
    action: str
    target: str
    detail: dict[str, Any]


def _utc(moment: dt.datetime) -> dt.datetime:
    """A stored time with its zone (SQLite keeps UTC times without one)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _lock_key(username: str, client: str) -> int:
    """A signed 64-bit number for a user and client: the key of PostgreSQL's advisory lock."""
    digest = hashlib.sha256(f"login\0{username}\0{client}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _user(row: Sequence[Any]) -> StoredUser:
    return StoredUser(int(row[0]), row[1], row[2], row[3], _utc(row[4]), bool(row[5]))


def _key(row: Sequence[Any]) -> StoredApiKey:
    return StoredApiKey(int(row[0]), row[1], row[2], tuple(row[3]), row[4], _utc(row[5]),
                        bool(row[6]))


class AuthTables:
    """The accounts part of :class:`~shuian.store.Store` (mixed into it)."""

    engine: sa.Engine
    _translate: Callable[[], AbstractContextManager[None]]  # Store's: driver errors translated

    # -- users ----------------------------------------------------------------------------

    def add_user(
        self, *, username: str, password_hash: str, role: str, now: dt.datetime
    ) -> StoredUser:
        """Keep a new user; :class:`InvalidRequestError` when the name is taken."""
        u = schema.users
        with self._translate(), self.engine.begin() as conn:
            if conn.scalar(sa.select(u.c.id).where(u.c.username == username)) is not None:
                raise InvalidRequestError(
                    f"user {username!r} exists already; change it with PATCH /api/users/"
                    f"{username} or 'shuian user passwd {username}'"
                )
            conn.execute(u.insert().values(username=username, password_hash=password_hash,
                                           role=role, created_at=now, disabled=False))
        found = self.user(username)
        assert found is not None
        return found

    def user(self, username: str) -> StoredUser | None:
        """The user named ``username``, or None."""
        u = schema.users
        with self._translate(), self.engine.connect() as conn:
            row = conn.execute(sa.select(*u.c).where(u.c.username == username)).first()
        return None if row is None else _user(row)

    def users(self) -> list[StoredUser]:
        """Every user, by name."""
        u = schema.users
        with self._translate(), self.engine.connect() as conn:
            return [_user(row) for row in conn.execute(sa.select(*u.c).order_by(u.c.username))]

    def update_user(
        self,
        username: str,
        *,
        role: str | None = None,
        disabled: bool | None = None,
        password_hash: str | None = None,
    ) -> StoredUser:
        """Change a user's role, disabled state or password hash.

        Disabling a user or changing the password ends the user's sessions.
        """
        u = schema.users
        changes: dict[str, Any] = {
            k: v for k, v in
            (("role", role), ("disabled", disabled), ("password_hash", password_hash))
            if v is not None
        }
        found = self.user(username)
        if found is None:
            raise NotFoundError(f"no user {username!r}; GET /api/users lists the users")
        with self._translate(), self.engine.begin() as conn:
            if changes:
                conn.execute(u.update().where(u.c.id == found.id).values(changes))
            if disabled or password_hash is not None:
                conn.execute(schema.sessions.delete().where(schema.sessions.c.user_id == found.id))
        updated = self.user(username)
        assert updated is not None
        return updated

    # -- sessions -------------------------------------------------------------------------

    def add_session(
        self, *, token_hash: str, user_id: int, created_at: dt.datetime, expires_at: dt.datetime
    ) -> None:
        """Keep a login session (by the hash of its token)."""
        with self._translate(), self.engine.begin() as conn:
            conn.execute(schema.sessions.insert().values(
                token_hash=token_hash, user_id=user_id, created_at=created_at,
                expires_at=expires_at))

    def session_user(
        self, token_hash: str, *, now: dt.datetime
    ) -> tuple[StoredUser, dt.datetime] | None:
        """The user of a session not expired yet and its expiry; None otherwise.

        An expired session is deleted when it is met.
        """
        s, u = schema.sessions, schema.users
        with self._translate(), self.engine.connect() as conn:
            row = conn.execute(
                sa.select(*u.c, s.c.expires_at).join(s, s.c.user_id == u.c.id)
                .where(s.c.token_hash == token_hash)
            ).first()
        if row is None:
            return None
        expires = _utc(row[-1])
        if expires <= now:
            self.end_session(token_hash)
            return None
        return _user(row[:-1]), expires

    def end_session(self, token_hash: str) -> None:
        """Forget a session (logout)."""
        with self._translate(), self.engine.begin() as conn:
            conn.execute(schema.sessions.delete().where(schema.sessions.c.token_hash == token_hash))

    # -- API keys ---------------------------------------------------------------------------

    def add_api_key(
        self, *, name: str, key_hash: str, prefix: str, scopes: Sequence[str], created_by: str,
        now: dt.datetime,
    ) -> StoredApiKey:
        """Keep a new API key (by the hash of the key)."""
        k = schema.api_keys
        with self._translate(), self.engine.begin() as conn:
            key_id = conn.execute(k.insert().values(
                name=name, key_hash=key_hash, prefix=prefix, scopes=list(scopes),
                created_by=created_by, created_at=now, revoked=False,
            )).inserted_primary_key[0]  # type: ignore[index]
        return self._api_key(k.c.id == key_id)

    def _api_key(self, where: sa.ColumnElement[bool]) -> StoredApiKey:
        k = schema.api_keys
        columns = (k.c.id, k.c.name, k.c.prefix, k.c.scopes, k.c.created_by, k.c.created_at,
                   k.c.revoked)
        with self._translate(), self.engine.connect() as conn:
            row = conn.execute(sa.select(*columns).where(where)).first()
        if row is None:
            raise NotFoundError("no such API key; GET /api/api-keys lists the keys")
        return _key(row)

    def api_key(self, key_hash: str) -> StoredApiKey | None:
        """The key whose hash is ``key_hash`` if it is not revoked, else None."""
        try:
            found = self._api_key(schema.api_keys.c.key_hash == key_hash)
        except NotFoundError:
            return None
        return None if found.revoked else found

    def api_keys(self) -> list[StoredApiKey]:
        """Every API key (revoked ones too), oldest first."""
        k = schema.api_keys
        columns = (k.c.id, k.c.name, k.c.prefix, k.c.scopes, k.c.created_by, k.c.created_at,
                   k.c.revoked)
        with self._translate(), self.engine.connect() as conn:
            return [_key(row) for row in conn.execute(sa.select(*columns).order_by(k.c.id))]

    def revoke_api_key(self, key_id: int) -> StoredApiKey:
        """Revoke a key for good (it stays listed); :class:`NotFoundError` when unknown."""
        k = schema.api_keys
        with self._translate(), self.engine.begin() as conn:
            if not conn.execute(k.update().where(k.c.id == key_id).values(revoked=True)).rowcount:
                raise NotFoundError(f"no API key {key_id}; GET /api/api-keys lists the keys")
        return self._api_key(k.c.id == key_id)

    # -- login attempts (the login rate limit) ---------------------------------------------

    def record_login_attempt(
        self, *, username: str, client: str, now: dt.datetime, window: dt.timedelta, limit: int
    ) -> tuple[int | None, list[dt.datetime]]:
        """Keep a login attempt of a user from a client, unless ``limit`` are in the window.

        The attempt is kept before its password is checked, and stays as a failure unless
        :meth:`forget_login_failures` removes it after a good password. Deciding and keeping is
        one transaction serialised per user and client (PostgreSQL: an advisory lock; SQLite:
        the one writer), so that attempts arriving all at once, from any number of threads or
        processes, cannot all pass: at most ``limit`` are kept within ``window``.

        Parameters
        ----------
        username, client : str
            The user name tried and the client's address (both cut to the column's 64).
        now : datetime.datetime
            The time of the attempt (UTC).
        window : datetime.timedelta
            How far back attempts count; older ones are forgotten here too.
        limit : int
            The attempts allowed within ``window``.

        Returns
        -------
        tuple of (int or None, list of datetime.datetime)
            The kept attempt's id (None when refused: nothing was kept), and the times of the
            attempts in the window before this one, oldest first.
        """
        f = schema.login_failures
        username, client = username[:64], client[:64]
        mine = (f.c.username == username) & (f.c.client == client)
        old = (sa.select(f.c.id).where(f.c.at < now - window).limit(1000)
               .with_for_update(skip_locked=True))  # nobody waits on another's clean-up
        with self._translate(), self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_lock_key(username, client))))
            conn.execute(f.delete().where(f.c.id.in_(old)))  # on SQLite: takes the write lock
            earlier = [_utc(at) for at in conn.scalars(
                sa.select(f.c.at).where(mine, f.c.at > now - window).order_by(f.c.at, f.c.id)
            )]
            if len(earlier) >= limit:
                return None, earlier
            attempt = conn.execute(f.insert().values(username=username, client=client, at=now)
                                   ).inserted_primary_key[0]  # type: ignore[index]
        return int(attempt), earlier

    def forget_login_failures(self, *, username: str, client: str, through: int) -> None:
        """Forget a user's attempts from a client up to attempt ``through`` (a good password).

        Attempts made after it (still being checked, from the same address) stay counted.
        """
        f = schema.login_failures
        with self._translate(), self.engine.begin() as conn:
            conn.execute(f.delete().where(f.c.username == username[:64],
                                          f.c.client == client[:64], f.c.id <= through))

    # -- audit log --------------------------------------------------------------------------

    def audit(
        self, *, actor: str, action: str, target: str, detail: dict[str, Any] | None = None,
        now: dt.datetime | None = None,
    ) -> None:
        """Append one entry to the audit log."""
        with self._translate(), self.engine.begin() as conn:
            conn.execute(schema.audit_log.insert().values(
                at=now or dt.datetime.now(dt.UTC), actor=actor, action=action, target=target,
                detail=detail or {}))

    def audit_log(self, *, limit: int = 200, action: str | None = None) -> list[AuditEntry]:
        """The newest ``limit`` entries of the audit log (of one ``action``), newest first."""
        a = schema.audit_log
        query = sa.select(*a.c)
        if action is not None:
            query = query.where(a.c.action == action)
        with self._translate(), self.engine.connect() as conn:
            rows = conn.execute(query.order_by(a.c.id.desc()).limit(limit)).all()
        return [AuditEntry(int(r[0]), _utc(r[1]), r[2], r[3], r[4], dict(r[5])) for r in rows]
