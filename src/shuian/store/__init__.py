"""Storage: one interface (:class:`Store`), SQLite embedded and PostgreSQL server backends."""

from __future__ import annotations

from shuian.errors import InvalidRequestError
from shuian.settings import DEFAULT_DB, settings
from shuian.store.base import ChannelInfo, Store, StoredRejection, StoredSite

__all__ = ["ChannelInfo", "Store", "StoredRejection", "StoredSite", "DEFAULT_URL", "open_store"]

#: The default store: an SQLite file in the current folder.
DEFAULT_URL = DEFAULT_DB


def open_store(url: str | None = None, *, migrate: bool = True) -> Store:
    """Open the store at ``url`` (default: ``$SHUIAN_DB`` or ``sqlite:///shuian.db``).

    ``sqlite:///PATH`` opens (or creates) an SQLite file; ``postgresql://...`` a PostgreSQL
    database. The schema is migrated to the newest version unless ``migrate`` is False.
    """
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
