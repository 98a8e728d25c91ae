"""Storage: one interface (:class:`Store`), SQLite embedded and PostgreSQL server backends.

``import shuian.store`` is light (no SQLAlchemy): the classes of :mod:`shuian.store.base` are
imported when first named, so that a command line's options can name :data:`DEFAULT_URL`
without loading the database layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shuian.errors import InvalidRequestError

if TYPE_CHECKING:
    from shuian.store.base import ChannelInfo, Store, StoredRejection, StoredSite

__all__ = ["ChannelInfo", "Store", "StoredRejection", "StoredSite", "DEFAULT_URL", "open_store"]

#: The default store: an SQLite file in the current folder.
DEFAULT_URL = "sqlite:///shuian.db"  # = shuian.settings.DEFAULT_DB, written out so the CLI
# starts without loading pydantic-settings (tests/test_settings.py checks they agree)

_FROM_BASE = frozenset({"ChannelInfo", "Store", "StoredRejection", "StoredSite"})


def __getattr__(name: str) -> Any:
    """The classes of :mod:`shuian.store.base`, imported on first use (PEP 562)."""
    if name in _FROM_BASE:
        from shuian.store import base

        value = getattr(base, name)
        globals()[name] = value  # found here from now on
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_store(url: str | None = None, *, migrate: bool = True) -> Store:
    """Open the store at ``url`` (default: ``$SHUIAN_DB`` or ``sqlite:///shuian.db``).

    ``sqlite:///PATH`` opens (or creates) an SQLite file; ``postgresql://...`` a PostgreSQL
    database. The schema is migrated to the newest version unless ``migrate`` is False.
    """
    from shuian.settings import settings

    url = url or settings().db.get_secret_value()
    if url.startswith("sqlite:"):
        from shuian.store.sqlite import SqliteStore

        store: Store = SqliteStore(url)
    elif url.startswith(("postgresql:", "postgres:", "postgresql+psycopg:")):
        from shuian.store.postgres import PostgresStore

        driver_url = "postgresql+psycopg:" + url.split(":", 1)[1]
        store = PostgresStore(driver_url)
        store.url = url
    else:
        raise InvalidRequestError(
            f"unsupported database URL {url!r}: use sqlite:///PATH.db or postgresql://HOST/DB"
        )
    if migrate:
        store.migrate()
    return store
