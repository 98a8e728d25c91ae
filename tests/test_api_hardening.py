"""Specification of the API's bounds and defences, on SQLite and PostgreSQL (issue 11).

- Bodies are bounded before they are read: a declared size over the limit is a 413 before a
  byte of it is read or the credentials are looked at; a chunked body is cut at the limit; JSON
  is bounded in depth and in values per array, a batch in readings; memory stays put.
- Ids beyond the id columns' range are a 404; a control character in a path or query
  parameter is a 400 naming the parameter.
- Every answer carries the security headers (pages, API answers, errors, static files, docs),
  and the pages still work under the policy (a real Chromium).
- A browser's write from another origin is refused (403); the server's own pages, allowed
  origins and clients that are no browser (no Origin, no Referer) go on.
"""

from __future__ import annotations

import os
import select
import socket
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, expect

from conftest import SITE_FILE, Api, http_server, login_as, serve
from shuian.api import create_app
from shuian.api.limits import ServerLimits
from shuian.api.security import CSP
from shuian.errors import InvalidRequestError
from shuian.json_shape import JsonShape, scan_json
from shuian.services.accounts import Accounts, AuthSettings, networks
from shuian.settings import Settings
from shuian.site import load_site
from shuian.store import Store, StoredSite, open_store
from test_api_error_shape import error_of

MiB = 1024 * 1024


def reading(channel: str = "WL.level", minute: int = 0) -> dict[str, Any]:
    return {"channel": channel, "time": f"2024-03-01T00:{minute:02}:00Z", "value": 120.0}


def nested(depth: int) -> bytes:
    """A JSON value ``depth`` arrays deep."""
    return b"[" * depth + b"]" * depth


def send(api: Api, path: str, body: bytes) -> httpx.Response:
    """POST ``body`` as it is (JSON values cannot nest 100,000 deep on this side either)."""
    return api.request("POST", path, content=body, headers={"Content-Type": "application/json"})


@pytest.fixture
def ingest_key(store: Store, stored_site: StoredSite) -> str:
    """An API key with scope ingest, over the test site."""
    _, key = Accounts(store).create_api_key("logger", scopes=["ingest"], actor="test")
    return key


@pytest.fixture
def limited(store_url: str, ingest_key: str) -> Iterator[Api]:
    """A client with the ingest key of an app with small limits (2 MiB bodies, 1,000 values
    per array, 10 readings per POST)."""
    limits = ServerLimits(max_body_bytes=2 * MiB, max_json_items=1000, max_records=10)
    with serve(create_app(store_url, limits=limits)) as api:
        yield api.with_headers({"X-API-Key": ingest_key})


# -- bodies ------------------------------------------------------------------------------------


def rss_mb() -> float:
    """This process's resident memory now, MB (the served app runs in it, in a thread)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MiB


def raw_post(url: str, path: str, head: list[str], blocks: Iterable[bytes]) -> tuple[
        int, str, int]:
    """POST over a socket, sending ``blocks`` of the body until the server answers.

    Returns the status, the answer's body and the bytes of the request body sent.
    """
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    sent = 0
    with socket.create_connection((parts.hostname, parts.port), timeout=20) as sock:
        lines = [f"POST {path} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close", *head]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        try:
            for block in blocks:
                if select.select([sock], [], [], 0.05)[0]:
                    break  # answered before the end of the body
                sock.sendall(block)
                sent += len(block)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading: its answer says why
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass  # closed with the rest of the body unread: what came before the reset stands
    head_text, _, body = answer.partition(b"\r\n\r\n")
    return int(head_text.split(b" ")[1]), body.decode(errors="replace"), sent


def padding(size: int, *, chunked: bool) -> Iterator[bytes]:
    """A JSON body of ``size`` bytes in 1 MiB blocks (chunk-framed when ``chunked``)."""
    block = b"x" * MiB
    for start in range(0, size, MiB):
        part = block[: min(MiB, size - start)]
        yield b"%x\r\n%s\r\n" % (len(part), part) if chunked else part
    if chunked:
        yield b"0\r\n\r\n"


def test_a_declared_body_over_the_limit_is_refused_before_it_is_read_or_authenticated(
    store_url: str, stored_site: StoredSite
) -> None:
    with http_server(create_app(store_url)) as url:
        before = rss_mb()
        status, body, sent = raw_post(
            url, "/api/readings",
            ["Content-Type: application/json", f"Content-Length: {200 * MiB}"],
            padding(200 * MiB, chunked=False),
        )
        grew = rss_mb() - before
    assert status == 413  # not 401: nothing of the request was looked at
    assert "larger than 16777216 bytes" in body and "SHUIAN_MAX_BODY_MB" in body
    assert sent < 16 * MiB  # answered on its headers, long before the limit was sent
    assert grew < 32


def test_a_chunked_body_is_cut_at_the_limit(store_url: str, ingest_key: str) -> None:
    limits = ServerLimits(max_body_bytes=2 * MiB)
    with http_server(create_app(store_url, limits=limits)) as url:
        before = rss_mb()
        status, body, sent = raw_post(
            url, "/api/readings",
            ["Content-Type: application/json", "Transfer-Encoding: chunked",
             f"X-API-Key: {ingest_key}"],
            padding(200 * MiB, chunked=True),
        )
        grew = rss_mb() - before
    assert status == 413
    assert "larger than 2097152 bytes" in body
    assert sent < 64 * MiB  # the server stopped reading near the limit, not at the end
    assert grew < 32


def test_other_endpoints_take_small_bodies_only(anonymous: Api) -> None:
    response = anonymous.post("/api/auth/login",
                              json={"username": "x" * (2 * MiB), "password": "y"})
    message = error_of(response, status=413, type="TooLargeError")
    assert "larger than 1048576 bytes" in message and "SHUIAN_MAX_SMALL_BODY_KB" in message


def test_json_nested_too_deep_is_refused_before_the_credentials_are_looked_at(
    anonymous: Api,
) -> None:
    for body in (b'{"readings": ' + nested(100_000) + b"}",
                 b'{"readings": [{"value": ' + b'{"a": ' * 100_000 + b"1" + b"}" * 100_001
                 + b"]}"):
        response = send(anonymous, "/api/readings", body)
        message = error_of(response, status=400, type="InvalidRequestError")
        assert "at most 32 are allowed (SHUIAN_MAX_JSON_DEPTH)" in message
    assert anonymous.get("/api/health").status_code == 200


def test_json_up_to_the_depth_limit_goes_on_to_validation(anonymous: Api) -> None:
    at_limit = b'{"design": ' + nested(31) + b"}"  # the object and 31 arrays: 32 levels
    error_of(send(anonymous, "/api/hydrology/route", at_limit),
             status=422, type="RequestValidationError")
    over = b'{"design": ' + nested(32) + b"}"
    error_of(send(anonymous, "/api/hydrology/route", over),
             status=400, type="InvalidRequestError")


def test_brackets_and_commas_inside_strings_do_not_count(limited: Api) -> None:
    odd = '[[[[' * 20 + ',' * 2000 + '\\"]]]'
    response = limited.post("/api/readings", json={"readings": [reading(odd)]})
    assert response.status_code == 200, response.text
    assert response.json()["rejected"] == 1  # an unknown channel, kept with its reason


def test_too_many_values_in_one_array_are_refused(limited: Api) -> None:
    response = limited.post("/api/hydrology/route",
                            json={"inflow": [1.0] * 1001, "step_s": 60, "start_level": 120.0})
    message = error_of(response, status=413, type="TooLargeError")
    assert "1001 values in one array" in message and "SHUIAN_MAX_JSON_ITEMS" in message
    response = limited.post("/api/hydrology/route", json={"inflow": [1.0] * 1000, "step_s": 60,
                                                          "start_level": 120.0})
    message = error_of(response, status=400, type="InvalidRequestError")
    assert "no outlets" in message  # 1,000 reach the routing itself (the test site has none)


def test_a_batch_over_the_records_limit_is_refused_whole_and_nothing_is_stored(
    limited: Api,
) -> None:
    response = limited.post("/api/readings",
                            json={"readings": [reading(minute=m) for m in range(11)]})
    message = error_of(response, status=413, type="TooLargeError")
    assert "at most 10 readings (SHUIAN_MAX_RECORDS)" in message
    assert limited.get("/api/channels/WL.level/readings").json()["count"] == 0
    response = limited.post("/api/readings",
                            json={"readings": [reading(minute=m) for m in range(10)]})
    assert response.json()["accepted"] == 10


def test_a_bulk_body_is_parsed_only_once_the_credentials_allow_it(
    anonymous: Api, viewer: Api
) -> None:
    not_json = b'{"readings": [oops'
    error_of(send(anonymous, "/api/readings", not_json),
             status=401, type="AuthenticationError")
    error_of(send(viewer, "/api/readings", not_json),
             status=403, type="PermissionDeniedError")


def test_a_bad_bulk_body_names_its_problems_at_most_twenty(operator: Api) -> None:
    response = operator.post("/api/readings", json={"readings": [{}] * 30})
    message = error_of(response, status=422, type="RequestValidationError")
    problems = message.split("; ")
    assert problems[0] == "body.readings.0.channel: Field required"
    assert len(problems) == 21 and problems[-1] == "and 40 more problems"


@pytest.mark.parametrize(
    ("text", "shape"),
    [
        (b"", JsonShape(0, 0)),
        (b"12.5", JsonShape(0, 1)),
        (b"[]", JsonShape(1, 1)),
        (b"[1, 2, [3, 4, 5]]", JsonShape(2, 3)),
        (b'{"a": {"b": [1, 2]}, "c": 3}', JsonShape(3, 2)),
        (b'{"a": "[[[,,,"}', JsonShape(1, 1)),  # brackets and commas in a string
        (b'["x\\"[[,", 1]', JsonShape(1, 2)),  # an escaped quote does not end the string
        (b'["x\\\\", [[1]]]', JsonShape(3, 2)),  # an escaped backslash does not escape
        (b'["\\\\\\"[[[["]', JsonShape(1, 1)),  # three backslashes and a quote: escaped
        ("[\"水位\", [\"[\"]]".encode(), JsonShape(2, 2)),  # UTF-8 text
    ],
)
def test_the_shape_of_a_json_text_is_measured_without_parsing(
    text: bytes, shape: JsonShape
) -> None:
    assert scan_json(text) == shape


def test_limits_come_from_the_environment_and_a_bad_value_is_named() -> None:
    limits = ServerLimits.from_settings(Settings.from_env({
        "SHUIAN_MAX_BODY_MB": "2", "SHUIAN_MAX_SMALL_BODY_KB": "64", "SHUIAN_MAX_JSON_DEPTH": "8",
        "SHUIAN_MAX_RECORDS": "500"}))
    assert (limits.max_body_bytes, limits.max_small_body_bytes, limits.max_json_depth,
            limits.max_json_items, limits.max_records) == (2 * MiB, 64 * 1024, 8, 1_000_000, 500)
    assert ServerLimits.from_settings(Settings.from_env({})) == ServerLimits()
    for env, named in [({"SHUIAN_MAX_BODY_MB": "lots"}, "SHUIAN_MAX_BODY_MB='lots'"),
                       ({"SHUIAN_MAX_RECORDS": "-1"}, "SHUIAN_MAX_RECORDS='-1'"),
                       ({"SHUIAN_MAX_JSON_DEPTH": "1"}, "SHUIAN_MAX_JSON_DEPTH='1'")]:
        with pytest.raises(InvalidRequestError, match=named):
            ServerLimits.from_settings(Settings.from_env(env))


# -- ids and parameters ----------------------------------------------------------------------

ROW_ENDPOINTS = [
    ("GET", "/api/alarms/{}"),
    ("POST", "/api/alarms/{}/acknowledge"),
    ("POST", "/api/flags/{}/clear"),
    ("DELETE", "/api/api-keys/{}"),
]


@pytest.mark.parametrize(("method", "path"), ROW_ENDPOINTS, ids=[p for _, p in ROW_ENDPOINTS])
def test_an_id_no_row_can_have_is_not_found(admin: Api, method: str, path: str) -> None:
    body = {"comment": "probe"} if method == "POST" else None
    for row in (0, -1, 2**31, 2**63 - 1, 2**63, 10**30, "1" + "0" * 5000):
        response = admin.request(method, path.format(row), json=body)
        error_of(response, status=404, type="NotFoundError")


CONTROL_CASES = [
    ("GET", "/api/channels/WL.level%00/readings", "path parameter 'code'"),
    ("GET", "/api/channels/WL%1B[2J/readings", "path parameter 'code'"),
    ("GET", "/api/channels/%00/models", "path parameter 'code'"),
    ("GET", "/api/channels/WL.level/readings?start=2024%00", "query parameter 'start'"),
    ("GET", "/api/channels/WL.level/explain?from=2024-01-01%00&to=2024-02-01",
     "query parameter 'from'"),
    ("GET", "/api/latest?site=%00", "query parameter 'site'"),
    ("GET", "/api/audit?action=a%00b", "query parameter 'action'"),
    ("GET", "/api/alarms?state%07=open", "query parameter 'state\\x07'"),
    ("PATCH", "/api/users/x%0D%0Ay", "path parameter 'username'"),
]


def test_a_control_character_in_a_parameter_is_refused_naming_it(admin: Api) -> None:
    for method, path, named in CONTROL_CASES:
        body = {"role": "viewer"} if method == "PATCH" else None
        message = error_of(admin.request(method, path, json=body), status=400,
                           type="InvalidRequestError")
        assert message.startswith(f"the {named} holds a control character"), (path, message)


def test_a_control_character_in_a_name_or_comment_is_refused_at_its_field(
    admin: Api, anonymous: Api
) -> None:
    response = anonymous.post("/api/auth/login", json={"username": "a\x00b", "password": "x"})
    message = error_of(response, status=422, type="RequestValidationError")
    assert message == "body.username: Value error, holds a control character (\\x00)"
    response = admin.post("/api/channels/WL.level/flags",
                          json={"time": "2024-03-01T00:00Z", "comment": "see\x1b[2J"})
    message = error_of(response, status=422, type="RequestValidationError")
    assert message == "body.comment: Value error, holds a control character (\\x1b)"
    response = admin.post("/api/channels/WL.level/flags",
                          json={"time": "2024-03-01T00:00Z", "comment": "line one\nline two"})
    assert response.status_code == 200, response.text  # a comment may have lines


# -- security headers ----------------------------------------------------------------------------

HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


@pytest.fixture
def with_a_bug(store_url: str, stored_site: StoredSite) -> Iterator[Api]:
    """The app with one more route that fails (a 500), served."""
    app = create_app(store_url)

    @app.get("/api/bug")
    def bug() -> None:
        raise RuntimeError("a bug")

    with serve(app, raise_app_exceptions=False) as api:
        yield api


def test_every_answer_carries_the_security_headers(with_a_bug: Api) -> None:
    answers = {
        "page": with_a_bug.get("/"),
        "200": with_a_bug.get("/api/health"),
        "404": with_a_bug.get("/api/nothing-here"),
        "401": with_a_bug.post("/api/analyze"),
        "403 origin": with_a_bug.post("/api/analyze", headers={"Origin": "http://evil.test"}),
        "413": with_a_bug.post("/api/auth/login", json={"username": "x" * (2 * MiB)}),
        "500": with_a_bug.get("/api/bug"),
        "static": with_a_bug.get("/static/app.js"),
        "static 404": with_a_bug.get("/static/nothing.js"),
        "docs files": with_a_bug.get("/docs-static/swagger-ui.css"),
    }
    assert answers["500"].status_code == 500
    for what, answer in answers.items():
        assert {name: answer.headers.get(name) for name in HEADERS} == HEADERS, what
        assert answer.headers["content-security-policy"] == CSP, what
    assert "frame-ancestors 'none'" in CSP and "default-src 'self'" in CSP


def test_the_docs_page_may_run_its_own_inline_script_only(client: Api) -> None:
    docs = client.get("/docs")
    policy = docs.headers["content-security-policy"]
    assert policy.startswith(CSP)
    assert policy.endswith("script-src 'self' 'sha256-"
                           + policy.rsplit("'sha256-", 1)[1])
    assert policy.count("'sha256-") == 1 and "unsafe-inline" not in policy
    assert {name: docs.headers.get(name) for name in HEADERS} == HEADERS


VIOLATIONS = """
window.violations = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.violations.push(`${e.violatedDirective} ${e.blockedURI}`));
"""


@pytest.fixture(scope="module")
def page_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The test site served over HTTP (SQLite): the pages' policy does not depend on it."""
    url = f"sqlite:///{tmp_path_factory.mktemp('pages') / 'shuian.db'}"
    store = open_store(url)
    store.save_site(load_site(SITE_FILE), SITE_FILE.read_text(encoding="utf-8"))
    store.close()
    with http_server(create_app(url)) as served:
        yield served


@pytest.mark.parametrize(("path", "ready"), [
    ("/", "body[data-ready=true]"),
    ("/docs", "#swagger-ui .swagger-ui"),  # drawn by the inline script, run by its hash
])
def test_the_pages_work_under_their_policy(
    browser: Browser, page_server: str, path: str, ready: str
) -> None:
    context = browser.new_context(base_url=page_server)
    try:
        page = context.new_page()
        page.add_init_script(VIOLATIONS)
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(path)
        expect(page.locator(ready).first).to_be_attached(timeout=15_000)
        assert page.evaluate("window.violations") == []
        assert [e for e in errors if "Content Security Policy" in e] == []
    finally:
        context.close()


# -- origins ---------------------------------------------------------------------------------------


def test_a_write_from_another_origin_is_refused_before_authentication(
    engineer: Api, anonymous: Api
) -> None:
    for headers in ({"Origin": "http://attacker.example"},
                    {"Origin": "http://shuian.test:8080"},  # another port of the same host
                    {"Origin": "https://shuian.test"},  # another scheme
                    {"Origin": "null"},  # a sandboxed frame, a redirect
                    {"Referer": "http://attacker.example/form.html"}):
        message = error_of(engineer.post("/api/analyze", headers=headers), status=403,
                           type="PermissionDeniedError")
        said = next(iter(headers))
        assert message.startswith(f"POST /api/analyze refused: its {said} "), message
        assert "not this server's origin (http://shuian.test:80)" in message
        error_of(anonymous.post("/api/analyze", headers=headers), status=403,
                 type="PermissionDeniedError")


def test_a_write_from_the_own_origin_or_from_no_browser_goes_on(engineer: Api) -> None:
    for headers in ({"Origin": "http://shuian.test"},
                    {"Origin": "http://SHUIAN.test:80"},
                    {"Referer": "http://shuian.test/#/overview"},
                    {}):  # a device, a script, the command line
        response = engineer.post("/api/analyze", headers=headers)
        assert response.status_code == 200, (headers, response.text)


def test_reads_from_another_origin_are_not_refused(client: Api) -> None:
    assert client.get("/api/health", headers={"Origin": "http://attacker.example"}) \
        .status_code == 200


def test_allowed_origins_and_a_trusted_proxy_s_https_are_the_server_s_own(
    store_url: str, stored_site: StoredSite
) -> None:
    behind_proxy = AuthSettings(trusted_proxies=networks(["127.0.0.1"]))
    app = create_app(store_url, auth=behind_proxy, allowed_origins=["https://dam.example.org"])
    with serve(app) as api:
        engineer = login_as(api, store_url, "engineer")
        for headers in ({"Origin": "https://dam.example.org"},
                        {"Origin": "https://shuian.test", "X-Forwarded-Proto": "https"}):
            assert engineer.post("/api/analyze", headers=headers).status_code == 200, headers
        error_of(engineer.post("/api/analyze", headers={"Origin": "https://other.example.org"}),
                 status=403, type="PermissionDeniedError")
    with serve(create_app(store_url)) as api:  # no trusted proxy: its header is not believed
        error_of(api.post("/api/analyze", headers={"Origin": "https://shuian.test",
                                                   "X-Forwarded-Proto": "https"}),
                 status=403, type="PermissionDeniedError")


def test_allowed_origins_come_from_the_environment_checked() -> None:
    assert Settings.from_env({"SHUIAN_ALLOWED_ORIGINS":
                              "https://a.example, http://b.example:8080"}).allowed_origins == (
        "https://a.example", "http://b.example:8080")
    with pytest.raises(InvalidRequestError, match="'dam.example' is not an origin"):
        Settings.from_env({"SHUIAN_ALLOWED_ORIGINS": "dam.example"})
