"""Shared fixtures: every storage test runs on SQLite and on PostgreSQL.

PostgreSQL is the server at ``SHUIAN_TEST_PG`` (default: 127.0.0.1:5432, database ``test``);
each test gets a fresh schema there. When the server is unreachable the PostgreSQL tests fail,
so a CI run without PostgreSQL cannot pass quietly.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from shuian.site import Site, load_site
from shuian.store import Store, StoredSite, open_store

TESTS = Path(__file__).parent
DATA = TESTS / "data"
REFERENCE = TESTS.parents[1] / "shared" / "reference"
SITE_FILE = DATA / "site.yaml"
PG_URL = os.environ.get("SHUIAN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty store: an SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shuian.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    conninfo = PG_URL.replace("postgresql://", "postgresql://", 1)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def site() -> Site:
    """The small test site of tests/data/site.yaml."""
    return load_site(SITE_FILE)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An empty, migrated store on each backend."""
    store = open_store(store_url)
    yield store
    store.close()


@pytest.fixture
def stored_site(store: Store, site: Site) -> StoredSite:
    """The test site saved in the store."""
    store.save_site(site, SITE_FILE.read_text(encoding="utf-8"))
    return store.site()
