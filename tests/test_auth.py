"""Specification of users, roles, sessions, API keys and the audit log, on SQLite and PostgreSQL.

Roles, lowest first: viewer < operator < engineer < admin. Reads are open (unless
``SHUIAN_REQUIRE_LOGIN_FOR_READS``); every write needs a login with a role high enough, or an
API key with the right scope: 401 without credentials, 403 when they are not enough, in the
one error shape.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from click.testing import Result
from typer.testing import CliRunner

from conftest import PASSWORD, Api, add_user, login_as, serve
from shuian.api import create_app
from shuian.cli import app
from shuian.services.accounts import ROLES, Accounts, AuthSettings
from shuian.store import Store, StoredSite, open_store
from shuian.store import schema as tables
from test_api_error_shape import error_of
from test_cli import as_json, ok, user_error

#: Every write endpoint and the lowest role that may use it.
REQUIRED: dict[str, str] = {
    "POST /api/readings": "operator",  # or an API key with scope ingest
    "POST /api/alarms/{alarm_id}/acknowledge": "operator",
    "POST /api/channels/{code}/flags": "engineer",
    "POST /api/flags/{flag_id}/clear": "engineer",
    "POST /api/models/fit": "engineer",
    "POST /api/analyze": "engineer",
    "POST /api/auth/logout": "viewer",
    "POST /api/users": "admin",
    "PATCH /api/users/{username}": "admin",
    "POST /api/api-keys": "admin",
    "DELETE /api/api-keys/{key_id}": "admin",
}
#: Writes open to anyone, and why.
OPEN_WRITES: dict[str, str] = {
    "POST /api/auth/login": "logging in needs no login",
    "POST /api/hydrology/route": "a what-if flood routing: it writes nothing",
}
#: Reads that need a role even when reads are open.
PROTECTED_READS: dict[str, str] = {
    "GET /api/users": "admin",
    "GET /api/api-keys": "admin",
    "GET /api/audit": "engineer",
    "GET /api/jobs": "engineer",
}


def write_routes() -> set[str]:
    """``METHOD /path`` of every operation of the API that is not a GET (OpenAPI document)."""
    app = create_app("sqlite:///:memory:")  # not started: only its routes are read
    return {
        f"{method.upper()} {path}"
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if method not in {"get", "head"}
    }


def call(api: Api, endpoint: str, **kw: Any) -> httpx.Response:
    """Call ``METHOD /path`` with 1 for every path parameter and an empty JSON body."""
    method, path = endpoint.split(" ")
    json = None if method in {"GET", "DELETE"} else {}
    return api.request(method, re.sub(r"\{[^}]+\}", "1", path), json=json, **kw)


def lower(role: str) -> str:
    """The role just below ``role``."""
    return ROLES[ROLES.index(role) - 1]


@dataclass
class Clock:
    """A clock the tests move by hand."""

    now: dt.datetime

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC))


@pytest.fixture
def api(store_url: str, stored_site: StoredSite, clock: Clock) -> Iterator[Api]:
    """The API over the test site, on a clock the test moves; nobody logged in."""
    with serve(create_app(store_url, auth=AuthSettings(clock=clock))) as client:
        yield client


def login(api: Api, username: str, password: str = PASSWORD) -> httpx.Response:
    return api.post("/api/auth/login", json={"username": username, "password": password})


def open_alarm(store: Store, stored: StoredSite) -> int:
    """Raise an alarm on WL.level; return its id."""
    channel = store.channel(stored.id, "WL.level")
    return store.record_alarm_step(channel_id=channel.id, rule="threshold", kind="raised",
                                   level="alarm", time_us=1_700_000_000_000_000, value=149.0,
                                   message="above the alarm limit")


def audit_entries(store: Store, action: str) -> list[tuple[str, str]]:
    return [(e.actor, e.target) for e in store.audit_log(action=action)]


# -- every write needs credentials -------------------------------------------------------------


def test_every_write_endpoint_is_either_protected_or_open_on_purpose() -> None:
    """A new write endpoint must be listed here with its role, or this fails."""
    assert write_routes() == set(REQUIRED) | set(OPEN_WRITES)


@pytest.mark.parametrize("endpoint", sorted(REQUIRED) + sorted(PROTECTED_READS))
def test_without_credentials_an_endpoint_answers_401(api: Api, endpoint: str) -> None:
    response = call(api, endpoint)
    message = error_of(response, status=401, type="AuthenticationError")
    assert "log in" in message
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "endpoint",
    [e for e, role in sorted((REQUIRED | PROTECTED_READS).items()) if role != "viewer"],
)
def test_a_role_below_the_one_needed_answers_403(
    api: Api, store_url: str, endpoint: str
) -> None:
    needed = (REQUIRED | PROTECTED_READS)[endpoint]
    below = login_as(api, store_url, lower(needed))
    message = error_of(call(below, endpoint), status=403, type="PermissionDeniedError")
    assert f"needs the {needed} role" in message


def test_wrong_credentials_are_refused_not_ignored(api: Api) -> None:
    for headers in ({"Authorization": "Bearer nope"}, {"X-API-Key": "shk_nope"},
                    {"Cookie": "shuian_session=nope"}):
        response = api.get("/api/auth/me", headers=headers)
        error_of(response, status=401, type="AuthenticationError")


# -- logging in and out ----------------------------------------------------------------------


def test_login_answers_a_token_and_sets_a_strict_http_only_cookie(
    api: Api, store_url: str, clock: Clock
) -> None:
    add_user(store_url, "zhang", "operator")
    response = login(api, "zhang")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["username"] == "zhang" and body["role"] == "operator"
    assert dt.datetime.fromisoformat(body["expires"]) == clock.now + dt.timedelta(hours=12)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"shuian_session={body['token']};")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=43200" in cookie
    for headers in ({"Authorization": f"Bearer {body['token']}"},
                    {"Cookie": f"shuian_session={body['token']}"}):
        me = api.get("/api/auth/me", headers=headers).json()
        assert me == {"name": "zhang", "kind": "user", "role": "operator", "scopes": []}


def test_a_wrong_password_and_an_unknown_user_get_the_same_401(api: Api, store_url: str) -> None:
    add_user(store_url, "zhang", "operator")
    wrong = error_of(login(api, "zhang", "not the password"), status=401,
                     type="AuthenticationError")
    unknown = error_of(login(api, "nobody", PASSWORD), status=401, type="AuthenticationError")
    assert wrong == unknown


def test_a_disabled_user_cannot_log_in(api: Api, store: Store, store_url: str) -> None:
    add_user(store_url, "zhang", "operator")
    Accounts(store).update_user("zhang", disabled=True, actor="test")
    error_of(login(api, "zhang"), status=401, type="AuthenticationError")


def test_five_failed_logins_in_five_minutes_lock_the_user_out_from_that_address(
    api: Api, store_url: str, clock: Clock
) -> None:
    add_user(store_url, "zhang", "operator")
    for _ in range(5):
        assert login(api, "zhang", "guess").status_code == 401
        clock.now += dt.timedelta(seconds=10)
    locked = login(api, "zhang")  # even the right password
    error_of(locked, status=429, type="TooManyAttemptsError")
    assert locked.headers["retry-after"] == str(5 * 60 - 50)  # the first failure ages out
    clock.now += dt.timedelta(seconds=250)
    assert login(api, "zhang").status_code == 200


def test_a_successful_login_forgets_the_failures(api: Api, store_url: str) -> None:
    add_user(store_url, "zhang", "operator")
    for _ in range(4):
        login(api, "zhang", "guess")
    assert login(api, "zhang").status_code == 200
    for _ in range(4):
        login(api, "zhang", "guess")
    assert login(api, "zhang").status_code == 200


def test_a_session_expires_12_hours_after_the_login(
    api: Api, store_url: str, clock: Clock
) -> None:
    operator = login_as(api, store_url, "operator")
    clock.now += dt.timedelta(hours=11, minutes=59)
    assert operator.get("/api/auth/me").status_code == 200
    clock.now += dt.timedelta(minutes=1)  # fixed, not sliding: using it did not extend it
    message = error_of(operator.post("/api/readings", json={"readings": []}), status=401,
                       type="AuthenticationError")
    assert "expired" in message


def test_after_logout_the_token_no_longer_works(api: Api, store_url: str) -> None:
    operator = login_as(api, store_url, "operator")
    response = operator.post("/api/auth/logout")
    assert response.status_code == 204
    assert 'shuian_session=""' in response.headers["set-cookie"]
    error_of(operator.get("/api/auth/me"), status=401, type="AuthenticationError")


def test_reads_are_open_by_default_and_health_always(api: Api) -> None:
    assert api.get("/api/channels").status_code == 200
    assert api.get("/api/health").status_code == 200


def test_reads_can_be_made_to_need_a_login(
    store_url: str, stored_site: StoredSite, store: Store
) -> None:
    _, ingest_key = Accounts(store).create_api_key("logger", scopes=["ingest"], actor="test")
    _, read_key = Accounts(store).create_api_key("display", scopes=["read"], actor="test")
    settings = AuthSettings(require_login_for_reads=True)
    with serve(create_app(store_url, auth=settings)) as api:
        error_of(api.get("/api/channels"), status=401, type="AuthenticationError")
        error_of(api.post("/api/hydrology/route", json={"inflow": [1, 2], "step_s": 60}),
                 status=401, type="AuthenticationError")
        assert api.get("/api/health").status_code == 200
        assert login_as(api, store_url, "viewer").get("/api/channels").status_code == 200
        assert api.get("/api/channels", headers={"X-API-Key": read_key}).status_code == 200
        error_of(api.get("/api/channels", headers={"X-API-Key": ingest_key}), status=403,
                 type="PermissionDeniedError")


def test_reads_need_a_login_when_the_environment_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHUIAN_REQUIRE_LOGIN_FOR_READS", "1")
    monkeypatch.setenv("SHUIAN_SESSION_HOURS", "8")
    settings = AuthSettings.from_settings()
    assert settings.require_login_for_reads
    assert settings.session_lifetime == dt.timedelta(hours=8)


# -- roles at work, and the audit log --------------------------------------------------------


def test_an_operator_acknowledges_as_himself_and_it_is_audited(
    api: Api, store_url: str, store: Store, stored_site: StoredSite
) -> None:
    alarm_id = open_alarm(store, stored_site)
    zhang = login_as(api, store_url, "operator", username="zhang")
    response = zhang.post(f"/api/alarms/{alarm_id}/acknowledge",
                          json={"by": "somebody else", "comment": "on site"})
    assert response.status_code == 200, response.text
    assert response.json()["acknowledged_by"] == "zhang"  # not the free text
    assert audit_entries(store, "alarm.acknowledge") == [("zhang", f"alarm {alarm_id}")]


def test_a_viewer_may_not_acknowledge(
    api: Api, store_url: str, store: Store, stored_site: StoredSite
) -> None:
    alarm_id = open_alarm(store, stored_site)
    viewer = login_as(api, store_url, "viewer")
    response = viewer.post(f"/api/alarms/{alarm_id}/acknowledge", json={})
    message = error_of(response, status=403, type="PermissionDeniedError")
    assert message == "user 'viewer' is viewer: this needs the operator role or above"
    assert store.alarm(alarm_id).state == "raised"


def test_an_ingest_key_posts_readings_and_nothing_else(
    api: Api, store: Store, stored_site: StoredSite
) -> None:
    _, key = Accounts(store).create_api_key("logger-crest", scopes=["ingest"], actor="test")
    logger = api.with_headers({"X-API-Key": key})
    reading = {"channel": "WL.level", "time": "2024-03-01T00:00Z", "value": 120.0}
    posted = logger.post("/api/readings", json={"readings": [reading]})
    assert posted.status_code == 200 and posted.json()["accepted"] == 1
    assert audit_entries(store, "readings.post") == [("key:logger-crest", "1 readings")]

    alarm_id = open_alarm(store, stored_site)
    refused = logger.post(f"/api/alarms/{alarm_id}/acknowledge", json={})
    message = error_of(refused, status=403, type="PermissionDeniedError")
    assert "API key 'logger-crest'" in message
    error_of(logger.post("/api/models/fit", json={}), status=403, type="PermissionDeniedError")


def test_an_engineer_flags_and_clears_and_both_are_audited(
    api: Api, store_url: str, store: Store
) -> None:
    li = login_as(api, store_url, "engineer", username="li")
    flag = li.post("/api/channels/WL.level/flags",
                   json={"time": "2024-03-01T08:00:00", "comment": "gauge cleaned"}).json()
    li.post(f"/api/flags/{flag['id']}/clear", json={"comment": "fine after all"})
    assert audit_entries(store, "flag.set") == [("li", f"flag {flag['id']}")]
    assert audit_entries(store, "flag.clear") == [("li", f"flag {flag['id']}")]
    assert [h["actor"] for h in store.flag_history(flag["id"])] == ["li", "li"]


def test_the_audit_log_lists_who_changed_what_newest_first(
    api: Api, store_url: str
) -> None:
    operator = login_as(api, store_url, "operator", username="zhang")
    engineer = login_as(api, store_url, "engineer", username="li")
    operator.post("/api/readings", json={"readings": []})
    engineer.post("/api/analyze")
    entries = engineer.get("/api/audit", params={"limit": 2}).json()
    assert [(e["actor"], e["action"]) for e in entries] == [
        ("li", "analysis.run"), ("zhang", "readings.post"),
    ]
    assert entries[1]["detail"] == {"accepted": 0, "duplicates": 0, "rejected": 0}


# -- users and API keys ----------------------------------------------------------------------


def test_passwords_are_kept_as_argon2id_hashes_only(store: Store, admin: Api) -> None:
    created = admin.post("/api/users", json={"username": "wang", "role": "engineer",
                                             "password": "a long enough password"})
    assert created.status_code == 201 and created.json()["password"] is None
    with store.engine.connect() as conn:
        rows = [tuple(map(str, r)) for r in conn.execute(sa.select(tables.users))]
    assert all("a long enough password" not in value for row in rows for value in row)
    stored = store.user("wang")
    assert stored is not None and stored.password_hash.startswith("$argon2id$")
    assert all(set(u) == {"username", "role", "disabled", "created_at"}
               for u in admin.get("/api/users").json())


def test_an_admin_creates_a_user_with_a_generated_password_shown_once(
    anonymous: Api, admin: Api
) -> None:
    created = admin.post("/api/users", json={"username": "wang", "role": "operator"}).json()
    assert len(created["password"]) >= 16
    assert login(anonymous, "wang", created["password"]).status_code == 200
    listed = {u["username"]: u for u in admin.get("/api/users").json()}
    assert listed["wang"]["role"] == "operator" and "password" not in listed["wang"]


def test_an_admin_changes_a_role_and_disabling_ends_the_sessions(
    anonymous: Api, store_url: str, admin: Api
) -> None:
    wang = login_as(anonymous, store_url, "operator", username="wang")
    promoted = admin.patch("/api/users/wang", json={"role": "engineer"}).json()
    assert promoted["role"] == "engineer"
    assert wang.get("/api/auth/me").json()["role"] == "engineer"  # at once, same session
    admin.patch("/api/users/wang", json={"disabled": True})
    error_of(wang.get("/api/auth/me"), status=401, type="AuthenticationError")
    error_of(admin.patch("/api/users/nobody", json={"disabled": True}), status=404,
             type="NotFoundError")


def test_the_last_admin_cannot_be_demoted(admin: Api) -> None:
    message = error_of(admin.patch("/api/users/admin", json={"role": "viewer"}), status=400,
                       type="InvalidRequestError")
    assert "last enabled admin" in message


def test_an_api_key_is_shown_once_and_kept_as_its_hash(
    anonymous: Api, admin: Api, store: Store
) -> None:
    created = admin.post("/api/api-keys", json={"name": "logger-crest", "scopes": ["ingest"]})
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith("shk_") and len(key) > 40
    listed = admin.get("/api/api-keys").json()
    assert [k["prefix"] for k in listed] == [key[:8]]
    assert key not in str(listed)
    with store.engine.connect() as conn:
        (row,) = conn.execute(sa.select(tables.api_keys)).mappings().all()
    assert row["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert key not in str(dict(row))
    me = anonymous.get("/api/auth/me", headers={"X-API-Key": key}).json()
    assert me == {"name": "logger-crest", "kind": "key", "role": None, "scopes": ["ingest"]}


def test_a_revoked_api_key_no_longer_works(anonymous: Api, admin: Api) -> None:
    created = admin.post("/api/api-keys", json={"name": "old", "scopes": ["ingest"]}).json()
    revoked = admin.delete(f"/api/api-keys/{created['id']}").json()
    assert revoked["revoked"]
    response = anonymous.post("/api/readings", json={"readings": []},
                        headers={"X-API-Key": created["key"]})
    error_of(response, status=401, type="AuthenticationError")


def test_an_unknown_scope_is_refused(admin: Api) -> None:
    response = admin.post("/api/api-keys", json={"name": "x", "scopes": ["everything"]})
    error_of(response, status=422, type="RequestValidationError")


# -- the command line --------------------------------------------------------------------------


@contextmanager
def _store(url: str) -> Iterator[Store]:
    """The store at ``url``, open for a few checks."""
    store = open_store(url)
    try:
        yield store
    finally:
        store.close()


def cli(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=input, catch_exceptions=True)


@pytest.fixture
def db(store_url: str) -> str:
    return store_url


def test_cli_adds_a_user_with_a_generated_password_printed_once(db: str, store_url: str) -> None:
    out = ok(cli("user", "add", "zhang", "--role", "operator", "--db", db)).stdout
    (password,) = re.findall(r"password: (\S+) \(shown once\)", out)
    users = as_json(cli("user", "list", "--json", "--db", db))
    assert [(u["username"], u["role"]) for u in users] == [("zhang", "operator")]
    assert password not in str(users)
    with _store(store_url) as store:
        assert Accounts(store).login("zhang", password, client="test").role == "operator"
        assert store.audit_log(action="user.create")[0].actor.startswith("cli:")


def test_cli_reads_a_password_from_stdin_and_changes_it(db: str, store_url: str) -> None:
    result = cli("user", "add", "li", "--role", "engineer", "--password-stdin", "--db", db,
                    input="first password\n")
    assert "shown once" not in ok(result).stdout
    out = ok(cli("user", "passwd", "li", "--db", db)).stdout
    (password,) = re.findall(r"password: (\S+) \(shown once\)", out)
    with _store(store_url) as store:
        assert Accounts(store).login("li", password, client="test").user.username == "li"


def test_cli_refuses_an_unknown_role_and_a_short_password(db: str) -> None:
    assert "unknown role 'boss'" in user_error(
        cli("user", "add", "x", "--role", "boss", "--db", db))
    assert "too short" in user_error(cli("user", "add", "x", "--role", "viewer",
                                            "--password-stdin", "--db", db, input="short\n"))


def test_cli_creates_an_api_key_printed_once_and_lists_its_prefix(
    db: str, store_url: str
) -> None:
    out = ok(cli("apikey", "create", "logger-crest", "--scope", "ingest", "--db", db)).stdout
    (key,) = re.findall(r"key: (shk_\S+) \(shown once\)", out)
    listed = ok(cli("apikey", "list", "--db", db)).stdout
    assert key[:8] in listed and key not in listed
    with _store(store_url) as store:
        principal = Accounts(store).api_key(key)
        assert principal is not None and principal.scopes == {"ingest"}


def test_cli_audit_lists_the_changes_as_json(db: str) -> None:
    ok(cli("user", "add", "zhang", "--role", "operator", "--db", db))
    ok(cli("apikey", "create", "logger", "--scope", "ingest", "--db", db))
    entries = as_json(cli("audit", "--json", "--db", db))
    assert [e["action"] for e in entries] == ["apikey.create", "user.create"]
    assert entries[1]["target"] == "user zhang"


def test_the_demo_creates_an_admin_and_prints_its_password_once(
    db: str, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    out = ok(cli("demo", "--days", "3", "--no-serve", "--db", db)).stdout
    (password,) = re.findall(r"admin password: (\S+) \(shown once\)", out)
    with _store(store_url) as store:
        assert Accounts(store).login("admin", password, client="test").role == "admin"
    again = ok(cli("demo", "--days", "3", "--no-serve", "--db", db)).stdout
    assert "admin password" not in again


