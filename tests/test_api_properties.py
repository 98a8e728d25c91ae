"""Property-based run over the OpenAPI document: no request, however odd, is a server error.

Schemathesis generates requests for every operation from the app's own OpenAPI schema (the
test site is stored; the requests carry no credentials, so writes meet the authentication
checks); every answer must be below 500 and, when it is an error, in the project's one JSON
error shape.
"""

from __future__ import annotations

import os
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings

from shuian.api import create_app
from shuian.services.accounts import Accounts
from shuian.site import load_site
from shuian.store import open_store

TESTS = Path(__file__).parent
#: The same examples on every run (CI must not depend on luck); set SHUIAN_PROPERTY_RANDOM=1
#: to explore new ones locally.
DERANDOMIZE = os.environ.get("SHUIAN_PROPERTY_RANDOM") is None


def _app(tmp: Path) -> object:
    url = f"sqlite:///{tmp / 'properties.db'}"
    store = open_store(url)
    site_file = TESTS / "data" / "site.yaml"
    store.save_site(load_site(site_file), site_file.read_text(encoding="utf-8"))
    Accounts(store).add_user("prop", role="admin", password="a long test password",
                             actor="test")
    store.close()
    return create_app(url)


def test_no_request_is_a_server_error(tmp_path: Path) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", _app(tmp_path))
    failures: list[str] = []
    for found in schema.get_all_operations():
        operation = found.ok()
        if operation.path == "/api/events":
            continue  # a stream that stays open: tests/test_events.py covers it

        @given(case=operation.as_strategy())
        @settings(max_examples=5, deadline=None, database=None, derandomize=DERANDOMIZE,
                  suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            response = case.call()
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.text[:200]}")
            elif response.status_code >= 400:
                body = response.json()
                assert set(body) == {"error"}, (case.method, case.path, body)
                assert {"type", "message", "status"} <= set(body["error"])

        check()
    assert failures == []
