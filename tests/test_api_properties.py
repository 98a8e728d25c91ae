"""Property-based run over the OpenAPI document: no request, however odd, is a server error.

Schemathesis generates requests for every operation from the app's own OpenAPI schema and
sends them over real HTTP (uvicorn on a loopback port) to the app over the test site, on SQLite
and on PostgreSQL, three times: without credentials (writes meet the authentication checks),
as an admin (a session: every handler, writes included) and with an ingest API key. Every
answer must be below 500 and, when it is an error, in the project's one JSON error shape.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from conftest import SITE_FILE, http_server
from shuian.api import create_app
from shuian.services.accounts import Accounts
from shuian.site import load_site
from shuian.store import open_store

#: The same examples on every run (CI must not depend on luck); set SHUIAN_PROPERTY_RANDOM=1
#: to explore new ones locally.
DERANDOMIZE = os.environ.get("SHUIAN_PROPERTY_RANDOM") is None
#: Examples per operation and credentials (about 40 operations, 3 credentials, 2 stores).
EXAMPLES = int(os.environ.get("SHUIAN_PROPERTY_EXAMPLES", "4"))
#: The property run's admin, whose name no generated request is likely to hit.
ADMIN = "property-admin"
PASSWORD = "a long property test password"


def _credentials(store_url: str) -> dict[str, Callable[[], dict[str, str]]]:
    """Store the test site and an admin; give, by name, how to make each credential's headers."""
    store = open_store(store_url)
    store.save_site(load_site(SITE_FILE), SITE_FILE.read_text(encoding="utf-8"))
    Accounts(store).add_user(ADMIN, role="admin", password=PASSWORD, actor="test")
    store.close()

    def admin() -> dict[str, str]:
        store = open_store(store_url)
        try:
            token = Accounts(store).login(ADMIN, PASSWORD, client="property").token
        finally:
            store.close()
        return {"Authorization": f"Bearer {token}"}

    def ingest_key() -> dict[str, str]:
        store = open_store(store_url)
        try:
            _, key = Accounts(store).create_api_key("property", scopes=["ingest"], actor="test")
        finally:
            store.close()
        return {"X-API-Key": key}

    return {"anonymous": dict, "admin": admin, "ingest key": ingest_key}


def _run(operation: Any, who: str, headers: dict[str, str], url: str) -> list[str]:
    """Send generated requests for ``operation`` with ``headers``; give the server errors."""
    failures: list[str] = []

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=DERANDOMIZE,
              suppress_health_check=list(HealthCheck))
    def check(case: schemathesis.Case) -> None:
        response = case.call(base_url=url, headers=headers)
        if response.status_code >= 500:
            failures.append(f"{who}: {case.method} {case.formatted_path} {case.query or ''}: "
                            f"{response.text[:200]}")
        elif response.status_code >= 400:
            body = response.json()
            assert set(body) == {"error"}, (who, case.method, case.path, body)
            assert {"type", "message", "status"} <= set(body["error"])

    check()
    return failures


def test_no_request_is_a_server_error(store_url: str) -> None:
    make = _credentials(store_url)
    headers = {who: new() for who, new in make.items()}
    failures: list[str] = []
    with http_server(create_app(store_url)) as url:
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
        for found in schema.get_all_operations():
            operation = found.ok()
            if operation.path == "/api/events":
                continue  # a stream that stays open: tests/test_events.py covers it
            for who in make:
                # A generated request may have revoked the key or ended the session: renew it.
                if who != "anonymous" and httpx.get(f"{url}/api/auth/me",
                                                    headers=headers[who]).status_code != 200:
                    headers[who] = make[who]()
                failures += _run(operation, who, headers[who], url)
    assert failures == []


@pytest.fixture(autouse=True)
def _quiet_server_errors(caplog: pytest.LogCaptureFixture) -> None:
    """A 5xx is reported by the assertion above, with the request; keep the log short."""
    caplog.set_level("CRITICAL", logger="shuian.api.errors")
