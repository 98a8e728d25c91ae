"""Specification of the failed-login limit and of the client address it counts, on both backends.

After ``max_failures`` (5) failed logins of a user from one address within ``failure_window``
(5 minutes), every further attempt answers 429 with ``Retry-After`` until the oldest failure is
out of the window, even with the right password. The limit holds when the attempts come all at
once (each attempt is recorded before its password is checked, then counted), from several
processes sharing the database, and whatever ``X-Forwarded-For`` says: that header is believed
only from a configured proxy (``SHUIAN_TRUSTED_PROXIES``).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from conftest import PASSWORD, Api, add_user, serve
from shuian.api import create_app
from shuian.api.auth import forwarded_client
from shuian.errors import AuthenticationError, InvalidRequestError, TooManyAttemptsError
from shuian.services.accounts import Accounts, AuthSettings, networks
from shuian.settings import Settings
from shuian.store import StoredSite, open_store
from test_api_error_shape import error_of
from test_auth import Clock

#: Concurrent attempts in the tests below (as many as the server's thread pool runs at once).
ATTEMPTS = 40
#: The failed logins allowed within the window (AuthSettings' default).
LIMIT = 5


@pytest.fixture
def clock() -> Clock:
    return Clock(dt.datetime(2026, 1, 1, 0, 0, tzinfo=dt.UTC))


def _api(store_url: str, settings: AuthSettings) -> Iterator[Api]:
    add_user(store_url, "zhang", "operator")
    with serve(create_app(store_url, auth=settings)) as client:
        yield client


@pytest.fixture
def api(store_url: str, stored_site: StoredSite, clock: Clock) -> Iterator[Api]:
    """The API with the user ``zhang``, trusting no proxy, on the test's clock."""
    yield from _api(store_url, AuthSettings(clock=clock))


@pytest.fixture
def behind_proxy(store_url: str, stored_site: StoredSite, clock: Clock) -> Iterator[Api]:
    """The API with the user ``zhang`` behind a proxy on this host (the test client's address)."""
    yield from _api(store_url, AuthSettings(clock=clock, trusted_proxies=networks(["127.0.0.1"])))


def login(api: Api, password: str = PASSWORD, **headers: str) -> httpx.Response:
    return api.post("/api/auth/login", json={"username": "zhang", "password": password},
                    headers=headers)


def statuses(responses: list[httpx.Response]) -> dict[int, int]:
    """How many responses had each status."""
    counted: dict[int, int] = {}
    for response in responses:
        counted[response.status_code] = counted.get(response.status_code, 0) + 1
    return counted


# -- all at once -----------------------------------------------------------------------------


def test_forty_concurrent_wrong_passwords_get_at_most_the_limit_of_401s(
    api: Api, clock: Clock
) -> None:
    with ThreadPoolExecutor(ATTEMPTS) as pool:
        responses = list(pool.map(lambda _: login(api, "a wrong guess"), range(ATTEMPTS)))
    counted = statuses(responses)
    assert set(counted) <= {401, 429}, counted
    assert counted.get(401, 0) <= LIMIT, counted
    assert counted[429] >= ATTEMPTS - LIMIT, counted
    for refused in (r for r in responses if r.status_code == 429):
        error_of(refused, status=429, type="TooManyAttemptsError")
        assert refused.headers["retry-after"] == str(5 * 60)  # all failed at this instant

    locked = login(api)  # the right password: refused until the window has passed
    error_of(locked, status=429, type="TooManyAttemptsError")
    clock.now += dt.timedelta(seconds=299)
    assert login(api).headers["retry-after"] == "1"
    clock.now += dt.timedelta(seconds=1)
    assert login(api).status_code == 200


def test_refused_attempts_do_not_extend_the_lock(api: Api, clock: Clock) -> None:
    for _ in range(LIMIT):
        assert login(api, "a wrong guess").status_code == 401
    for _ in range(10):
        clock.now += dt.timedelta(seconds=20)
        assert login(api, "a wrong guess").status_code == 429
    clock.now += dt.timedelta(seconds=100)  # 5 minutes after the last counted failure
    assert login(api).status_code == 200


def test_the_limit_holds_across_processes_sharing_the_database(
    store_url: str, clock: Clock
) -> None:
    """Each worker has its own store (own connections, as another process would)."""
    add_user(store_url, "zhang", "operator")
    stores = [open_store(store_url) for _ in range(4)]
    settings = AuthSettings(clock=clock)

    def attempt(i: int) -> str:
        try:
            Accounts(stores[i % len(stores)], settings).login("zhang", "a wrong guess",
                                                              client="10.0.0.9")
        except TooManyAttemptsError:
            return "refused"
        except AuthenticationError:
            return "wrong"
        return "in"

    try:
        with ThreadPoolExecutor(ATTEMPTS) as pool:
            outcomes = list(pool.map(attempt, range(ATTEMPTS)))
        assert outcomes.count("wrong") <= LIMIT, outcomes
        assert outcomes.count("refused") >= ATTEMPTS - LIMIT, outcomes
        with pytest.raises(TooManyAttemptsError):
            Accounts(stores[0], settings).login("zhang", PASSWORD, client="10.0.0.9")
        other = Accounts(stores[1], settings).login("zhang", PASSWORD, client="10.0.0.10")
        assert other.user.username == "zhang"  # another address is not locked out
    finally:
        for store in stores:
            store.close()


def test_a_login_in_the_middle_of_failures_forgets_only_the_earlier_ones(
    api: Api, clock: Clock
) -> None:
    for _ in range(LIMIT - 1):
        assert login(api, "a wrong guess").status_code == 401
    assert login(api).status_code == 200
    for _ in range(LIMIT):
        assert login(api, "a wrong guess").status_code == 401
    error_of(login(api), status=429, type="TooManyAttemptsError")


# -- whose address -----------------------------------------------------------------------------


def test_a_new_x_forwarded_for_on_each_try_does_not_dodge_the_limit(api: Api) -> None:
    tries = [login(api, "a wrong guess", **{"X-Forwarded-For": f"203.0.113.{i}"})
             for i in range(LIMIT + 3)]
    assert [r.status_code for r in tries] == [401] * LIMIT + [429] * 3
    locked = login(api, **{"X-Forwarded-For": "198.51.100.1"})
    error_of(locked, status=429, type="TooManyAttemptsError")


def test_behind_a_trusted_proxy_x_forwarded_for_names_the_client(behind_proxy: Api) -> None:
    for _ in range(LIMIT):
        assert login(behind_proxy, "a wrong guess", **{"X-Forwarded-For": "203.0.113.5"}
                     ).status_code == 401
    locked = login(behind_proxy, **{"X-Forwarded-For": "203.0.113.5"})
    error_of(locked, status=429, type="TooManyAttemptsError")
    # The proxy appends the address it saw: what the client wrote to its left is not believed.
    spoofed = login(behind_proxy, **{"X-Forwarded-For": "198.51.100.1, 203.0.113.5"})
    error_of(spoofed, status=429, type="TooManyAttemptsError")
    assert login(behind_proxy, **{"X-Forwarded-For": "203.0.113.6"}).status_code == 200


TRUSTED = networks(["127.0.0.1", "10.0.0.0/8", "fd00::/8"])


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        ("192.0.2.1", ["203.0.113.5"], "192.0.2.1"),  # an untrusted peer: its header is ignored
        ("127.0.0.1", [], "127.0.0.1"),  # a proxy that did not say: the proxy
        ("127.0.0.1", ["203.0.113.5"], "203.0.113.5"),
        ("127.0.0.1", ["198.51.100.1, 203.0.113.5"], "203.0.113.5"),  # right-most untrusted
        ("127.0.0.1", ["203.0.113.5, 10.1.2.3"], "203.0.113.5"),  # through two proxies
        ("127.0.0.1", ["198.51.100.1", "203.0.113.5, 10.1.2.3"], "203.0.113.5"),  # two headers
        ("127.0.0.1", ["10.0.0.1, 10.1.2.3"], "10.0.0.1"),  # only proxies: the first of them
        ("127.0.0.1", ["not an address, 10.1.2.3"], "10.1.2.3"),  # the chain breaks: last hop
        ("127.0.0.1", ["203.0.113.5:4711"], "203.0.113.5"),  # with a port
        ("127.0.0.1", ["[2001:db8::1]:4711"], "2001:db8::1"),
        ("::ffff:127.0.0.1", ["2001:db8::1, fd00::2"], "2001:db8::1"),  # IPv4 peer as IPv6
        ("fd00::1", ["203.0.113.5"], "203.0.113.5"),
        ("testclient", ["203.0.113.5"], "testclient"),  # not an address: nobody's proxy
    ],
)
def test_the_client_is_the_right_most_address_not_a_trusted_proxy(
    peer: str, forwarded_for: list[str], client: str
) -> None:
    assert forwarded_client(peer, forwarded_for, TRUSTED) == client


def test_no_proxy_is_trusted_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHUIAN_TRUSTED_PROXIES", raising=False)
    assert AuthSettings.from_settings().trusted_proxies == ()
    settings = AuthSettings.from_settings(
        Settings.from_env({"SHUIAN_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8 ::1"}))
    assert settings.trusted_proxies == (
        ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
    )


def test_a_wrong_trusted_proxy_is_named() -> None:
    with pytest.raises(InvalidRequestError, match=r"SHUIAN_TRUSTED_PROXIES: 'proxy\.lan' is not"):
        Settings.from_env({"SHUIAN_TRUSTED_PROXIES": "127.0.0.1,proxy.lan"})


# -- the session cookie --------------------------------------------------------------------------


def cookie_attributes(response: httpx.Response) -> dict[str, str]:
    """The attributes of the session cookie a response sets, by lower-case name."""
    (cookie,) = [c for c in response.headers.get_list("set-cookie")
                 if c.startswith("shuian_session=")]
    _, *attributes = (part.strip() for part in cookie.split(";"))
    return {name.lower(): value for name, _, value in (a.partition("=") for a in attributes)}


def test_the_session_cookie_is_http_only_same_site_and_for_the_whole_site(api: Api) -> None:
    attributes = cookie_attributes(login(api))
    assert "httponly" in attributes
    assert attributes["samesite"].lower() in {"lax", "strict"}
    assert attributes["path"] == "/"
    assert "secure" not in attributes  # plain http on this host: a Secure cookie would be lost


def test_the_session_cookie_is_secure_over_https(api: Api) -> None:
    response = api.post("https://shuian.test/api/auth/login",
                        json={"username": "zhang", "password": PASSWORD})
    assert "secure" in cookie_attributes(response)


def test_the_session_cookie_is_secure_when_a_trusted_proxy_says_https(behind_proxy: Api) -> None:
    assert "secure" in cookie_attributes(login(behind_proxy, **{"X-Forwarded-Proto": "https"}))


def test_x_forwarded_proto_from_anyone_else_is_not_believed(api: Api) -> None:
    assert "secure" not in cookie_attributes(login(api, **{"X-Forwarded-Proto": "https"}))


def test_logout_with_the_cookie_ends_the_session_on_the_server(api: Api) -> None:
    token = login(api).json()["token"]
    cookie = {"Cookie": f"shuian_session={token}"}
    response = api.post("/api/auth/logout", headers=cookie)
    assert response.status_code == 204
    cleared = cookie_attributes(response)
    assert cleared["max-age"] == "0" and cleared["path"] == "/"
    for headers in (cookie, {"Authorization": f"Bearer {token}"}):
        error_of(api.get("/api/auth/me", headers=headers), status=401,
                 type="AuthenticationError")
        error_of(api.post("/api/readings", json={"readings": []}, headers=headers), status=401,
                 type="AuthenticationError")


def test_logout_with_an_ended_session_still_clears_the_cookie(api: Api) -> None:
    token = login(api).json()["token"]
    cookie = {"Cookie": f"shuian_session={token}"}
    assert api.post("/api/auth/logout", headers=cookie).status_code == 204
    again = api.post("/api/auth/logout", headers=cookie)  # a second tab, or an expired session
    assert again.status_code == 204
    assert cookie_attributes(again)["max-age"] == "0"
