"""Replay issue 11's attacks on a served Shuian, on loopback: tries and failures per class.

The target is the real thing: ``shuian serve`` in a subprocess on a free port of 127.0.0.1 (its
HTTP API, its SL 651 centre and its MQTT source, as the site file configures them), over a
temporary SQLite store or ``--db URL`` (an empty store: a SQLite file or a PostgreSQL database
or schema; ``--db postgresql`` makes a fresh schema in ``$SHUIAN_TEST_PG`` and drops it after).
The site is tests/data/site.yaml with an SL 651 centre (one station, ``0012345678``), an MQTT
source on the shared Mosquitto at 127.0.0.1:1883 (topics of this run only), a webhook on a local
receiver, and alarm thresholds on ``LOG.airt`` (warning above 40, alarm above 50 °C).

Every attack is bounded (sizes, counts, time) and sent to 127.0.0.1 only. Each class runs on its
own: an exception in it counts as one failure of that class, and a server that died or stopped
answering is counted against the class and started again. Each class also counts the
tracebacks the server logged while it ran (none expected: hostile input is a user mistake).

Classes, in order (what must hold; issue 11's numbers in brackets):

- ``security_headers`` (4): CSP with frame-ancestors (or X-Frame-Options), nosniff and a
  Referrer-Policy on pages, API answers, errors and static files.
- ``ids_and_parameters`` (8): ids 2^31 and 2^63-1 answer 404, 2^63 a 4xx, never 5xx; a NUL or
  control character in a path or query parameter answers 400.
- ``json_bounds`` (3): deep JSON (100,000 levels) and too many readings answer 4xx promptly.
- ``big_body`` (3): a 200 MB POST (declared, chunked; without and with credentials; to the
  readings and to the login) is refused with a 4xx (413 once authenticated) while the server's
  resident memory grows by less than 64 MB (sending stops at +300 MB growth: bounded).
- ``login_limit`` (4): 40 concurrent wrong passwords, then the right one: at most 5 answered
  401, the right one refused (429).
- ``forwarded_for`` (4): wrong passwords with a new X-Forwarded-For (and Forwarded) each time
  are still limited; the right one then refused.
- ``cross_origin`` (4): POST /api/analyze with a valid session cookie from another origin
  (another port of the same host, ``null``, another site) answers 403; the same request from
  the page's own origin answers 200 (the control, so that a refusal for another reason fails).
- ``browser_token`` (4): after signing in on the dashboard in headless Chromium, no
  localStorage entry holds the session token, and the page offers a way to sign out (skipped,
  and said so, when no Chromium is installed).
- ``time_range`` (2): readings at years 1, 1899 and 9999 are rejected with their reason while
  the good rows of the same batch are committed and reported so; a later batch of 2001 is taken.
- ``new_year_race`` (2, PostgreSQL only): two writers (their own connections) storing the first
  readings of the same new year at once both commit, round after round, and across a New Year.
- ``mqtt_poison`` (1): nested JSON, a NUL (escaped and raw), a 100-character channel, year 0001
  and an 8 MB payload, each followed by a good reading on the served MQTT source: each is kept
  as a rejection (its stored text capped) and the good reading after it is stored; at the end
  acknowledged N = stored N, no duplicates.
- ``sl651_idle_sockets`` (6): 2,000 idle connections from 127.0.0.2, then a real station from
  127.0.0.3 is acknowledged within 10 s (30 s without ``--quick``).
- ``sl651_garbage`` (6): 20 MB of random bytes from 127.0.0.4 add less than 2 M characters of
  rejected rows, are counted (rows or the listener's status), and a station is acknowledged
  after them.
- ``csv_malformed`` (7): a long CSV with a GBK byte after 4 MB and a bare CR inside a line:
  ``shuian ingest`` rejects those lines with file, line and reason and stores every other row,
  no traceback; a re-run finds the same rows (duplicates) and goes on.
- ``csv_long_line`` (7): a 20 MB line is rejected with less than 1 MB kept; the rows around it
  are stored.
- ``hostile_text`` (9): ``shuian rejected`` prints a kept row holding ANSI escapes, CR, BEL and
  Rich markup with every control character escaped and the markup shown as text, no traceback.
- ``dead_webhook`` (5): with a webhook that never answers, a station reporting over SL 651
  (one report raises an alarm) and a device POSTing readings, each as fast as it is answered,
  are each answered within 2 s; once the webhook answers again the alarm's messages reach it,
  each once.

Usage: ``python bench/attacks.py [--quick] [--db URL|postgresql] [--only CLASS ...]``. It
prints a row per class (class, tries, failures, what failed) and, as its last line, one JSON
object ``{"classes": {name: {"tries", "failures"[, "skipped"]}}, "failures": total}``. The exit
status is 0 even with failures (the JSON says).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime as dt
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import sqlalchemy as sa
import yaml
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from common import (
    GAUGE,
    PG_URL,
    SITE_FILE,
    drop,
    free_port,
    fresh_url,
    sl651_report,
    sl651_send,
)
from shuian.readings import US_PER_S, Rejection
from shuian.services.accounts import Accounts
from shuian.services.ingest import Ingestor
from shuian.site import parse_site
from shuian.store import StoredSite, open_store, schema

SHUIAN = Path(sys.executable).parent / "shuian"
BROKER = ("127.0.0.1", 1883)
PASSWORD = "correct horse battery"
MB = 1 << 20
#: Failed logins of a user from one address the server allows (AuthSettings' default).
LOGIN_LIMIT = 5


# -- what a class found ----------------------------------------------------------------------


@dataclass
class Outcome:
    """Tries and what failed, for one class."""

    tries: int = 0
    failed: list[str] = field(default_factory=list)
    skipped: str | None = None

    def check(self, ok: bool, what: str) -> bool:
        """Count one try; keep ``what`` when it failed. Returns ``ok``."""
        self.tries += 1
        if not ok:
            self.failed.append(what)
        return ok


# -- the webhook receiver --------------------------------------------------------------------


class Webhook:
    """A local HTTP receiver: answers 204 and keeps each body, or (dead) never answers."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.dead = threading.Event()
        self.lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if hook.dead.is_set():
                    # Never answer: hold the connection until revived (at most 2 minutes).
                    deadline = time.monotonic() + 120
                    while hook.dead.is_set() and time.monotonic() < deadline:
                        time.sleep(0.05)
                    self.close_connection = True
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with hook.lock:
                    with contextlib.suppress(ValueError):
                        hook.bodies.append(json.loads(body))
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/alarms"

    def close(self) -> None:
        """Stop receiving."""
        self.dead.clear()
        self.server.shutdown()
        self.server.server_close()


# -- the target: shuian serve over a fresh store ------------------------------------------------


def attack_site(*, sl651_port: int, prefix: str, webhook: str) -> str:
    """The test site with telemetry (SL 651, MQTT), a webhook and thresholds on LOG.airt."""
    site = yaml.safe_load(SITE_FILE.read_text(encoding="utf-8"))
    for instrument in site["instruments"]:
        for channel in instrument["channels"]:
            if channel["code"].startswith("LOG."):
                channel.update(model=False, checks={"spike_window": None, "stuck_readings": None})
            if channel["code"] == "LOG.airt":
                channel["thresholds"] = {"warning": {"max": 40.0}, "alarm": {"max": 50.0},
                                         "hysteresis": 1.0}
    site["telemetry"] = {
        "mqtt": {"host": BROKER[0], "port": BROKER[1], "client_id": f"attack-{prefix[-12:]}",
                 "topics": [f"{prefix}/#"], "session_expiry": 60, "retry_delay": 0.5},
        "sl651": {"host": "127.0.0.1", "port": sl651_port, "stations": [
            {"address": GAUGE, "name": "crest gauge",
             "elements": {"39": "WL.level", "38": "LOG.batt", "02": "LOG.airt"}}]},
    }
    site["notifications"] = {"webhooks": [
        {"name": "duty-room", "url": webhook, "levels": ["warning", "alarm"],
         "timeout_s": 2.0}]}
    return yaml.safe_dump(site, allow_unicode=True, sort_keys=False)


class Target:
    """``shuian serve`` over a store holding the attack site, its users and an ingest key."""

    def __init__(self, url: str, workdir: Path, quick: bool) -> None:
        self.url = url
        self.workdir = workdir
        self.quick = quick
        self.webhook = Webhook()
        self.sl651_port = free_port()
        self.prefix = f"shuian-attack/{uuid.uuid4().hex}"
        text = attack_site(sl651_port=self.sl651_port, prefix=self.prefix,
                           webhook=self.webhook.url)
        self.site_file = workdir / "site.yaml"
        self.site_file.write_text(text, encoding="utf-8")
        self.store = open_store(url)
        self.store.save_site(parse_site(text, source=str(self.site_file)), text)
        self.stored: StoredSite = self.store.site()
        accounts = Accounts(self.store)
        for role in ("admin", "engineer", "operator"):
            accounts.add_user(f"attack-{role}", role=role, password=PASSWORD, actor="attacks")
        for victim in ("victim-a", "victim-b", "victim-c"):
            accounts.add_user(victim, role="engineer", password=PASSWORD, actor="attacks")
        self.ingest_key = accounts.create_api_key("attack-device", scopes=["ingest"],
                                                  actor="attacks")[1]
        self.log = workdir / "serve.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.base = ""
        self.start()
        self.tokens = {role: self.login(f"attack-{role}")
                       for role in ("admin", "engineer", "operator")}

    # -- the server process ---------------------------------------------------------------------

    def start(self) -> None:
        """Start ``shuian serve`` on a free port; wait until the API and both sources are up."""
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(SHUIAN), "serve", "--db", self.url, "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"shuian serve ended at once: {self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                answer = httpx.get(f"{self.base}/api/telemetry", timeout=2)
                if answer.status_code == 200:
                    sources = answer.json().values()
                    if sources and all(s.get("connected") for s in sources):
                        return
            time.sleep(0.1)
        raise RuntimeError(f"shuian serve did not come up in 60 s: {self.log_tail()}")

    def alive(self) -> bool:
        """Whether the server runs and answers GET /api/health within 5 s."""
        if self.process is None or self.process.poll() is not None:
            return False
        try:
            return httpx.get(f"{self.base}/api/health", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        """Stop the server (SIGINT, then SIGKILL after 10 s)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def close(self) -> None:
        """Stop the server and the receiver, release the store."""
        self.stop()
        self.webhook.close()
        self.store.close()

    def rss_mb(self) -> float:
        """The server's resident memory now (MB)."""
        assert self.process is not None
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status)[1]) / 1024  # type: ignore[index]

    def log_text(self) -> str:
        """What the server printed so far."""
        return self.log.read_text(encoding="utf-8", errors="replace")

    def log_tail(self) -> str:
        """The last lines the server printed, on one line."""
        return " | ".join(self.log_text().strip().splitlines()[-5:])

    # -- the API ----------------------------------------------------------------------------

    def client(self, timeout: float = 15.0) -> httpx.Client:
        """An HTTP client of the server (no cookies kept between uses by the attacks)."""
        return httpx.Client(base_url=self.base, timeout=timeout,
                            limits=httpx.Limits(max_connections=64))

    def login(self, username: str) -> str:
        """Log in ``username``; its session token."""
        with self.client() as client:
            answer = client.post("/api/auth/login",
                                 json={"username": username, "password": PASSWORD})
        answer.raise_for_status()
        return str(answer.json()["token"])

    def auth(self, role: str) -> dict[str, str]:
        """The headers of a logged-in ``role``."""
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def post_readings(self, records: list[dict[str, Any]], timeout: float = 15.0
                      ) -> httpx.Response:
        """POST /api/readings with the ingest key."""
        with self.client(timeout) as client:
            return client.post("/api/readings", json={"readings": records},
                               headers={"X-API-Key": self.ingest_key})

    # -- the store, as an operator would look ----------------------------------------------------

    def times(self, channel: str, start: dt.datetime, end: dt.datetime) -> list[int]:
        """Stored reading times of ``channel`` in ``[start, end)`` (µs)."""
        info = self.store.channel(self.stored.id, channel)
        times, _ = self.store.readings(info.id, us(start), us(end))
        return [int(t) for t in times]

    def rejected(self) -> tuple[int, int]:
        """Rejected rows of the site and the characters they hold (raw, reason, channel)."""
        t = schema.rejected
        size = (sa.func.coalesce(sa.func.length(t.c.raw), 0)
                + sa.func.coalesce(sa.func.length(t.c.reason), 0)
                + sa.func.coalesce(sa.func.length(t.c.channel), 0))
        query = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(size), 0)).where(
            t.c.site_id == self.stored.id)
        with self.store.engine.connect() as conn:
            count, chars = conn.execute(query).one()
        return int(count), int(chars)

    def rejected_settled(self, limit_s: float) -> tuple[int, int]:
        """:meth:`rejected` once it has not changed for 1.5 s (or after ``limit_s``)."""
        deadline = time.monotonic() + limit_s
        last, since = self.rejected(), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.25)
            now = self.rejected()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= 1.5:
                break
        return last

    def newest_rejections(self, count: int) -> list[Any]:
        """The newest ``count`` rejected rows."""
        return self.store.rejections(self.stored.id, limit=count)

    def cli(self, *args: str, timeout: float = 180.0) -> subprocess.CompletedProcess[str]:
        """Run ``shuian ARGS --db URL`` (the standard streams as text, undecodable escaped)."""
        return subprocess.run(
            [str(SHUIAN), *args, "--db", self.url], capture_output=True, timeout=timeout,
            text=True, encoding="utf-8", errors="backslashreplace", cwd=self.workdir,
            env={**os.environ, "COLUMNS": "200"},
        )


def us(moment: dt.datetime) -> int:
    """Microseconds since 1970 (UTC) of an aware datetime."""
    return int(moment.timestamp() * US_PER_S)


def iso(moment: dt.datetime) -> str:
    """ISO 8601 UTC with a ``Z``."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def recent(minutes: int) -> dt.datetime:
    """A whole minute ``minutes`` before now (UTC)."""
    return dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(
        minutes=minutes)


# -- HTTP: headers, ids, bodies, logins, origins --------------------------------------------------


def security_headers(t: Target, o: Outcome) -> None:
    """Security headers on a page, API answers, an error, a static file and the docs."""
    with t.client() as client:
        answers = {
            "GET /": client.get("/"),
            "GET /api/health": client.get("/api/health"),
            "GET /api/site": client.get("/api/site"),
            "GET /api/nothing-here (404)": client.get("/api/nothing-here"),
            "POST /api/analyze anonymous (401)": client.post("/api/analyze"),
            "GET /static/app.js": client.get("/static/app.js"),
            "GET /docs": client.get("/docs"),
        }
    for what, answer in answers.items():
        h = answer.headers
        csp = h.get("content-security-policy", "")
        missing = [name for name, ok in [
            ("Content-Security-Policy", bool(csp)),
            ("frame-ancestors or X-Frame-Options",
             "frame-ancestors" in csp or "x-frame-options" in h),
            ("X-Content-Type-Options: nosniff",
             h.get("x-content-type-options", "").lower() == "nosniff"),
            ("Referrer-Policy", "referrer-policy" in h),
        ] if not ok]
        o.check(not missing, f"{what}: no {', '.join(missing)}")


def ids_and_parameters(t: Target, o: Outcome) -> None:
    """Ids beyond 32 and 64 bits, NUL and control characters in parameters."""
    big, top = 2**31, 2**63 - 1
    with t.client() as client:
        for what, method, path, role, want in [
            ("alarm 2^31", "GET", f"/api/alarms/{big}", None, {404}),
            ("alarm 2^63-1", "GET", f"/api/alarms/{top}", None, {404}),
            ("alarm 2^63", "GET", f"/api/alarms/{top + 1}", None, {400, 404, 422}),
            ("acknowledge alarm 2^31", "POST", f"/api/alarms/{big}/acknowledge", "operator",
             {404}),
            ("clear flag 2^31", "POST", f"/api/flags/{big}/clear", "engineer", {404}),
            ("revoke API key 2^31", "DELETE", f"/api/api-keys/{big}", "admin", {404}),
            ("revoke API key 2^63-1", "DELETE", f"/api/api-keys/{top}", "admin", {404}),
            ("rejected offset 2^62", "GET", f"/api/rejected?offset={2**62}", None, {200}),
            ("NUL in a channel code", "GET", "/api/channels/WL.level%00/readings", None, {400}),
            ("ESC in a channel code", "GET", "/api/channels/WL%1B[2J/readings", None, {400}),
            ("NUL in start", "GET", "/api/channels/WL.level/readings?start=2024%00", None,
             {400}),
            ("NUL in a model channel", "GET", "/api/channels/%00/models", None, {400}),
            ("NUL in explain from", "GET",
             "/api/channels/WL.level/explain?from=2024-01-01%00&to=2024-02-01", None, {400}),
            ("NUL in site", "GET", "/api/latest?site=%00", None, {400}),
            ("NUL in audit action", "GET", "/api/audit?action=a%00b", "admin", {400}),
            ("CR LF in a user name", "PATCH", "/api/users/x%0D%0Ay", "admin", {400, 404}),
        ]:
            headers = t.auth(role) if role else {}
            body = {"comment": "attack"} if method == "POST" else (
                {"role": "viewer"} if method == "PATCH" else None)
            try:
                status = str(client.request(method, path, headers=headers, json=body)
                             .status_code)
            except httpx.HTTPError as exc:
                status = f"nothing ({type(exc).__name__}: {exc})"
            o.check(status in {str(w) for w in want},
                    f"{what}: {method} {path} answered {status}, not "
                    f"{'/'.join(map(str, sorted(want)))}")


def json_bounds(t: Target, o: Outcome) -> None:
    """Deep JSON and too many readings: a prompt 4xx, never 5xx."""
    depth = 100_000
    reading = '{"channel": "LOG.batt", "time": "2024-03-01T00:00:00Z", "value": 12.5}'
    bodies = {
        "a readings list nested 100,000 deep": b'{"readings": ' + b"[" * depth + b"]" * depth
        + b"}",
        "a value nested 100,000 deep": (
            b'{"readings": [{"channel": "LOG.batt", "time": "2024-03-01T00:00:00Z", "value": '
            + b'{"a": ' * depth + b"1" + b"}" * depth + b"}]}"),
        "150,000 readings (more than a batch may hold)": (
            '{"readings": [' + ", ".join([reading] * 150_000) + "]}").encode(),
    }
    with t.client(timeout=30) as client:
        for what, body in bodies.items():
            for who, headers in [("anonymous", {}), ("with the ingest key",
                                                     {"X-API-Key": t.ingest_key})]:
                started = time.monotonic()
                try:
                    answer = client.post("/api/readings", content=body, headers={
                        **headers, "Content-Type": "application/json"})
                    status = str(answer.status_code)
                except httpx.HTTPError as exc:
                    status = f"no answer ({type(exc).__name__})"
                took = time.monotonic() - started
                o.check(status.startswith("4") and took < 10,
                        f"{what}, {who}: {status} after {took:.1f} s (want 4xx within 10 s)")
    o.check(t.alive(), "the server stopped answering after the deep JSON")


def stream_post(t: Target, path: str, size: int, *, chunked: bool,
                headers: dict[str, str]) -> tuple[str, float, int]:
    """POST ``size`` bytes of a JSON body to ``path``, streamed; stop early when answered.

    Returns the status (or why there was none), the server's largest resident-memory growth
    seen (MB) and the bytes sent. Sending stops once the server has grown by 300 MB.
    """
    base_rss = peak = t.rss_mb()
    head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{t.port}",
            "Content-Type: application/json", "Connection: close"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}")
    prefix, suffix = b'{"readings": [], "pad": "', b'"}'
    sent = 0
    with socket.create_connection(("127.0.0.1", t.port), timeout=10) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        block = b"x" * MB
        try:
            while sent < size:
                part = block[: size - sent]
                if sent == 0:
                    part = prefix + part[len(prefix):]
                if sent + len(part) >= size:
                    part = part[: len(part) - len(suffix)] + suffix
                sock.sendall(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
                sent += len(part)
                if sent % (16 * MB) < MB:
                    peak = max(peak, t.rss_mb())
                    if peak - base_rss > 300:
                        break
                if select.select([sock], [], [], 0)[0]:
                    break  # the server answered (or closed) before the end of the body
            else:
                if chunked:
                    sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass  # the server stopped reading: its answer says why
        status = "no answer"
        try:
            sock.settimeout(20)
            first = sock.recv(4096).split(b"\r\n", 1)[0].decode(errors="replace")
            status = first.split(" ")[1] if first.startswith("HTTP/") else f"no answer {first!r}"
        except (OSError, IndexError) as exc:
            status = f"no answer ({type(exc).__name__})"
        peak = max(peak, t.rss_mb())
    return status, peak - base_rss, sent


def big_body(t: Target, o: Outcome) -> None:
    """200 MB POSTs, streamed: refused before they are read; the server's memory stays small."""
    size = 200 * MB
    key = {"X-API-Key": t.ingest_key}
    for what, path, chunked, headers, want in [
        ("anonymous, Content-Length", "/api/readings", False, {}, {"401", "413"}),
        ("anonymous, chunked", "/api/readings", True, {}, {"401", "413"}),
        ("with the ingest key, Content-Length", "/api/readings", False, key, {"413"}),
        ("with the ingest key, chunked", "/api/readings", True, key, {"413"}),
        ("to the login, chunked", "/api/auth/login", True, {}, {"400", "401", "413", "422"}),
    ]:
        status, grew, sent = stream_post(t, path, size, chunked=chunked, headers=headers)
        o.check(status in want and grew < 64,
                f"200 MB {what} ({path}): {status} after {sent / MB:.0f} MB sent, server grew "
                f"{grew:.0f} MB (want {'/'.join(sorted(want))}, < 64 MB)")


def login_limit(t: Target, o: Outcome) -> None:
    """40 concurrent wrong passwords, then the right one."""
    def wrong(_: int) -> int | str:
        with t.client(timeout=60) as client:
            try:
                return client.post("/api/auth/login", json={
                    "username": "victim-a", "password": "wrong password"}).status_code
            except httpx.HTTPError as exc:
                return f"nothing ({type(exc).__name__})"

    with concurrent.futures.ThreadPoolExecutor(40) as pool:
        statuses = list(pool.map(wrong, range(40)))
    o.check(statuses.count(401) <= LOGIN_LIMIT,
            f"{statuses.count(401)} of 40 concurrent wrong passwords answered 401 (limit "
            f"{LOGIN_LIMIT}; the others: {sorted(map(str, set(statuses) - {401}))})")
    o.check(all(s in (401, 429) for s in statuses),
            f"wrong passwords answered {sorted(map(str, set(statuses) - {401, 429}))}")
    with t.client(timeout=60) as client:
        right = client.post("/api/auth/login", json={"username": "victim-a",
                                                     "password": PASSWORD})
    o.check(right.status_code == 429,
            f"the right password after 40 wrong ones answered {right.status_code}, not 429")
    o.check(right.status_code != 429 or "retry-after" in right.headers,
            "the 429 says no Retry-After")


def forwarded_for(t: Target, o: Outcome) -> None:
    """Wrong passwords each with a new X-Forwarded-For and Forwarded header."""
    statuses = []
    with t.client() as client:
        for i in range(3 * LOGIN_LIMIT):
            address = f"203.0.113.{i + 1}"
            statuses.append(client.post(
                "/api/auth/login", json={"username": "victim-b", "password": "wrong"},
                headers={"X-Forwarded-For": address, "X-Real-IP": address,
                         "Forwarded": f"for={address}"}).status_code)
        right = client.post("/api/auth/login", json={"username": "victim-b",
                                                     "password": PASSWORD},
                            headers={"X-Forwarded-For": "198.51.100.7",
                                     "Forwarded": "for=198.51.100.7"})
    o.check(statuses.count(401) <= LOGIN_LIMIT,
            f"{statuses.count(401)} of {len(statuses)} wrong passwords with a new "
            f"X-Forwarded-For each answered 401 (limit {LOGIN_LIMIT})")
    o.check(statuses[-1] == 429, f"the last wrong password answered {statuses[-1]}, not 429")
    o.check(right.status_code == 429,
            f"the right password with a new X-Forwarded-For answered {right.status_code}, "
            "not 429")
    o.check(all(s in (401, 429) for s in statuses),
            f"wrong passwords answered {sorted(set(statuses) - {401, 429})}")


def cross_origin(t: Target, o: Outcome) -> None:
    """A form POST /api/analyze carrying a valid session cookie, from other origins."""
    with t.client() as client:
        login = client.post("/api/auth/login",
                            json={"username": "attack-engineer", "password": PASSWORD})
    cookie = login.cookies.get("shuian_session")
    if not o.check(login.status_code == 200 and bool(cookie),
                   f"log in for the cookie: {login.status_code}, cookie {bool(cookie)}"):
        return
    other_port = free_port()
    form = {"Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"shuian_session={cookie}"}
    with t.client(timeout=60) as client:
        for what, origin, want in [
            ("another port of the same host", f"http://127.0.0.1:{other_port}", 403),
            ("another site", "http://attacker.example", 403),
            ("an opaque origin (null)", "null", 403),
            ("the page's own origin (control)", t.base, 200),
        ]:
            answer = client.post("/api/analyze", content=b"run=1",
                                 headers={**form, "Origin": origin,
                                          "Referer": f"{origin}/form.html"})
            client.cookies.clear()
            o.check(answer.status_code == want,
                    f"POST /api/analyze with the cookie from {what} ({origin}) answered "
                    f"{answer.status_code}, not {want}")


def browser_token(t: Target, o: Outcome) -> None:
    """Sign in on the dashboard in Chromium: no token in localStorage, a way to sign out."""
    chromium = os.environ.get("SHUIAN_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).is_file():
        o.skipped = f"no Chromium at {chromium}"
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking"])
        try:
            context = browser.new_context()
            page = context.new_page()
            page.goto(t.base + "/", wait_until="load")
            # The sign-in dialog the page opens when a write needs a login.
            page.evaluate("() => { import('/static/api.js').then((m) => { "
                          "window.__attackLogin = m.login().catch(() => null); }); }")
            page.wait_for_selector("#login-username", state="visible", timeout=10_000)
            page.fill("#login-username", "victim-c")
            page.fill("#login-password", PASSWORD)
            page.click("#login button[value=login]")
            deadline = time.monotonic() + 10
            cookie = None
            while cookie is None and time.monotonic() < deadline:
                cookie = next((c["value"] for c in context.cookies()
                               if c["name"] == "shuian_session"), None)
                page.wait_for_timeout(100)
            if not o.check(cookie is not None, "signing in on the page set no session cookie"):
                return
            page.wait_for_timeout(500)  # let the page store whatever it stores
            stored = page.evaluate("() => Object.entries(localStorage)")
            holding = [key for key, value in stored if cookie in value]
            o.check(not holding, f"localStorage {holding} holds the session token")
            tokenish = [key for key, value in stored if "token" in key.lower() and value]
            o.check(not tokenish, f"localStorage keeps {tokenish} after signing in")
            session_only = page.evaluate("() => Object.entries(sessionStorage)")
            o.check(not [k for k, v in session_only if cookie in v],
                    "sessionStorage holds the session token")
            logout = page.get_by_role(
                "button", name=re.compile(r"sign out|log ?out|退出|注销", re.I)).count()
            o.check(logout > 0, "the signed-in page has no sign-out button")
        finally:
            browser.close()


# -- times and partitions ---------------------------------------------------------------------


def time_range(t: Target, o: Outcome) -> None:
    """Readings out of the supported range beside good ones, then a batch of 2001."""
    good = [{"channel": "LOG.batt", "time": "2001-06-01T00:00:00Z", "value": 12.5},
            {"channel": "LOG.batt", "time": iso(recent(30)), "value": 12.6}]
    bad = [{"channel": "LOG.batt", "time": "0001-01-01T00:00:00Z", "value": 12.5},
           {"channel": "LOG.batt", "time": "1899-06-01T00:00:00Z", "value": 12.5},
           {"channel": "LOG.batt", "time": "9999-12-31T23:59:59Z", "value": 12.5}]
    answer = t.post_readings(bad + good)
    if not o.check(answer.status_code == 200,
                   f"a batch with years 1, 1899 and 9999 answered {answer.status_code}: "
                   f"{answer.text[:200]}"):
        return
    report = answer.json()
    o.check(report.get("accepted") == len(good),
            f"the good rows beside them: accepted {report.get('accepted')}, not {len(good)}")
    lines = sorted(r.get("line") for r in report.get("rejections", []))
    o.check(lines == [0, 1, 2], f"rejected lines {lines}, not [0, 1, 2]")
    for rejection in report.get("rejections", []):
        o.check(bool(rejection.get("reason")), f"line {rejection.get('line')}: no reason")
    stored = t.times("LOG.batt", dt.datetime(2001, 1, 1, tzinfo=dt.UTC),
                     dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    o.check(len(stored) == len(good), f"stored {len(stored)} of the {len(good)} good rows")
    later = t.post_readings([{"channel": "LOG.batt", "time": "2001-06-01T01:00:00Z",
                              "value": 12.7}])
    o.check(later.status_code == 200 and later.json().get("accepted") == 1,
            f"a later batch of 2001 answered {later.status_code}: {later.text[:200]}")


def new_year_race(t: Target, o: Outcome) -> None:
    """Two writers storing the first readings of a year at once, round after round."""
    if not t.url.startswith("postgresql"):
        o.skipped = "partitions are PostgreSQL's"
        return
    rounds = 3 if t.quick else 10
    stores = [open_store(t.url) for _ in range(2)]
    try:
        ingestors = [Ingestor(store, store.site()) for store in stores]
        for round_ in range(rounds):
            year = 1931 + 2 * round_  # a year no one has written yet
            times = [dt.datetime(year, 12, 31, 23, 59, 59, tzinfo=dt.UTC),
                     dt.datetime(year + 1, 1, 1, tzinfo=dt.UTC)]
            barrier = threading.Barrier(2)
            errors: list[str] = []

            def write(i: int, moment: dt.datetime, barrier: threading.Barrier = barrier,
                      errors: list[str] = errors) -> None:
                barrier.wait(10)
                try:
                    report = ingestors[i].ingest_records(
                        [{"channel": "LOG.rh", "time": iso(moment), "value": 50.0}],
                        source="attack:race")
                    if report.accepted != 1:
                        errors.append(f"writer {i}: accepted {report.accepted}")
                except Exception as exc:  # noqa: BLE001 - what fails is the finding
                    errors.append(f"writer {i}: {type(exc).__name__}: {exc}"[:200])

            # The new year's first readings at once, then the two sides of the New Year.
            for pair in ([times[1] + dt.timedelta(seconds=1), times[1] + dt.timedelta(
                    seconds=2)], times):
                threads = [threading.Thread(target=write, args=(i, m))
                           for i, m in enumerate(pair)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join(30)
            o.check(not errors, f"round {round_ + 1} (year {year + 1}): {'; '.join(errors)}")
        stored = t.times("LOG.rh", dt.datetime(1931, 1, 1, tzinfo=dt.UTC),
                         dt.datetime(1931 + 2 * rounds + 1, 1, 1, tzinfo=dt.UTC))
        o.check(len(stored) == 4 * rounds,
                f"stored {len(stored)} of the {4 * rounds} raced readings")
    finally:
        for store in stores:
            store.close()


# -- telemetry: MQTT, SL 651 ---------------------------------------------------------------------


def mqtt_poison(t: Target, o: Outcome) -> None:
    """Poison messages, each followed by a good reading, on the served MQTT source."""
    wait = 8.0 if t.quick else 15.0
    topic = f"{t.prefix}/attack"
    start = recent(600)
    poisons: list[tuple[str, bytes]] = [
        ("nested JSON (100,000 levels)", b"[" * 100_000 + b"]" * 100_000),
        ("a NUL in a channel (JSON escape)", json.dumps(
            {"channel": "WL\u0000level", "time": iso(start), "value": 120.0}).encode()),
        ("a raw NUL byte", b'{"channel": "WL.level", "time": "2024\x00", "value": 1}'),
        ("a 100-character channel", json.dumps(
            {"channel": "C" * 100, "time": iso(start), "value": 1.0}).encode()),
        ("year 0001", json.dumps(
            {"channel": "WL.level", "time": "0001-01-01T00:00:00Z", "value": 120.0}).encode()),
        ("an 8 MB payload", b"{" + b"x" * (8 * MB)),
    ]
    sent: list[dt.datetime] = []
    stuck: str | None = None
    for i, (what, payload) in enumerate(poisons):
        if stuck is not None:
            o.check(False, f"{what}: not tried, the source stopped at {stuck}")
            continue
        moment = start + dt.timedelta(minutes=i)
        before = t.rejected()[0]
        good = json.dumps({"channel": "LOG.batt", "time": iso(moment), "value": 12.0 + i / 10})
        publish(topic, [payload, good.encode()])
        sent.append(moment)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and not t.times(
                "LOG.batt", moment, moment + dt.timedelta(seconds=1)):
            time.sleep(0.1)
        if not o.check(bool(t.times("LOG.batt", moment, moment + dt.timedelta(seconds=1))),
                       f"{what}: the good reading after it was not stored within {wait:.0f} s "
                       "(the source stopped)"):
            stuck = what
            continue
        kept = t.newest_rejections(max(t.rejected()[0] - before, 1))
        mine = [r for r in kept if r.source.startswith("mqtt:")]
        o.check(bool(mine), f"{what}: not kept as a rejection")
        longest = max((len(r.raw) + len(r.reason) + len(r.channel or "") for r in mine),
                      default=0)
        o.check(longest < MB, f"{what}: a rejection keeps {longest / MB:.1f} M characters")
    stored = t.times("LOG.batt", start, start + dt.timedelta(minutes=len(poisons)))
    o.check(len(stored) == len(sent) and len(set(stored)) == len(stored),
            f"acknowledged {len(sent)} good readings, stored {len(stored)} "
            f"({len(stored) - len(set(stored))} duplicates)")


def publish(topic: str, payloads: list[bytes]) -> None:
    """Publish ``payloads`` in turn at QoS 1 and wait until the broker has each."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"attack-{uuid.uuid4().hex}",
                         protocol=MQTTProtocolVersion.MQTTv5)
    client.connect(*BROKER)
    client.loop_start()
    try:
        for payload in payloads:
            client.publish(topic, payload, qos=1).wait_for_publish(30)
    finally:
        client.disconnect()
        client.loop_stop()


def report_frame(serial: int, observed: dt.datetime, airt: float = 20.0) -> bytes:
    """A timed report of the gauge: water level (39), supply voltage (38), air temperature
    (02)."""
    return sl651_report(serial, observed, {"39": 120.5, "38": 12.6, "02": airt})


def station_acknowledged(t: Target, source: str, serial: int, within: float) -> str | None:
    """Send a report from ``source`` (a loopback address); None when acknowledged in time,
    else what happened. Connects again while refused or closed, until ``within`` s."""
    deadline = time.monotonic() + within
    frame = report_frame(serial, recent(2000 + serial))  # older than dead_webhook's reports
    what = "never connected"
    while time.monotonic() < deadline:
        try:
            with socket.socket() as sock:
                sock.settimeout(max(0.2, min(5.0, deadline - time.monotonic())))
                sock.bind((source, 0))
                sock.connect(("127.0.0.1", t.sl651_port))
                sl651_send(sock, frame, serial)
                return None
        except OSError as exc:
            what = f"{type(exc).__name__}: {exc}"
        time.sleep(0.2)
    return f"not acknowledged within {within:.0f} s ({what})"


def sl651_idle_sockets(t: Target, o: Outcome) -> None:
    """2,000 idle connections from one address, then a real station from another."""
    within = 10.0 if t.quick else 30.0
    idle: list[socket.socket] = []
    refused = 0
    try:
        for _ in range(2000):
            sock = socket.socket()
            sock.settimeout(2)
            try:
                sock.bind(("127.0.0.2", 0))
                sock.connect(("127.0.0.1", t.sl651_port))
                idle.append(sock)
            except OSError:
                refused += 1
                sock.close()
        problem = station_acknowledged(t, "127.0.0.3", 101, within)
        o.check(problem is None,
                f"after {len(idle)} idle sockets ({refused} refused) a real station was "
                f"{problem}")
    finally:
        for sock in idle:
            sock.close()


def sl651_garbage(t: Target, o: Outcome) -> None:
    """20 MB of random bytes to the centre, then a real station."""
    before = t.rejected()
    size, sent = 20 * MB, 0
    with socket.socket() as sock:
        sock.settimeout(10)
        sock.bind(("127.0.0.4", 0))
        sock.connect(("127.0.0.1", t.sl651_port))
        with contextlib.suppress(OSError):
            while sent < size:
                sock.sendall(os.urandom(64 * 1024))
                sent += 64 * 1024
    after = t.rejected_settled(60.0)
    rows, chars = after[0] - before[0], after[1] - before[1]
    o.check(chars < 2 * MB,
            f"{sent / MB:.0f} MB of random bytes added {rows:,} rejected rows holding "
            f"{chars / MB:.1f} M characters (want < 2 M)")
    with t.client() as client:
        status = client.get("/api/telemetry").json()
    sl651 = status.get("sl651", {})
    o.check(sl651.get("rejected", 0) > 0 or rows > 0,
            "the garbage is counted nowhere (no rejected rows, no count in the status)")
    problem = station_acknowledged(t, "127.0.0.5", 102, 10.0 if t.quick else 30.0)
    o.check(problem is None, f"after the garbage a real station was {problem}")


# -- files --------------------------------------------------------------------------------------


def ingest_file(t: Target, o: Outcome, path: Path, what: str) -> dict[str, Any] | None:
    """Run ``shuian ingest PATH --no-analyze --json``; its report, or None when it failed."""
    run = t.cli("ingest", str(path), "--no-analyze", "--json")
    o.check("Traceback" not in run.stderr + run.stdout,
            f"{what}: a traceback: {run.stderr.strip().splitlines()[-1:] if run.stderr else ''}")
    try:
        report: dict[str, Any] = json.loads(run.stdout)
    except ValueError:
        o.check(False, f"{what}: exit {run.returncode}, no report: "
                       f"{(run.stderr or run.stdout).strip()[-200:]}")
        return None
    return report


def csv_malformed(t: Target, o: Outcome) -> None:
    """A long CSV with a GBK byte after 4 MB and a bare CR inside a line."""
    path = t.workdir / "gbk-after-4MB.csv"
    start = dt.datetime(2019, 1, 1, tzinfo=dt.UTC)
    lines = [b"channel,time,value\n"]
    size, n = len(lines[0]), 0
    while size < 4 * MB + 1000:
        line = f"LOG.rh,{iso(start + dt.timedelta(minutes=n))},50\n".encode()
        lines.append(line)
        size += len(line)
        n += 1
    gbk_line = len(lines) + 1
    lines.append(f"LOG.rh,{iso(start + dt.timedelta(minutes=n))},".encode() + "五十".encode("gbk")
                 + b"\n")
    n += 1
    cr_line = len(lines) + 1
    lines.append(f"LOG.rh,{iso(start + dt.timedelta(minutes=n))},5\r1\n".encode())
    n += 1
    after = 1000
    for k in range(after):
        lines.append(f"LOG.rh,{iso(start + dt.timedelta(minutes=n + k))},51\n".encode())
    path.write_bytes(b"".join(lines))
    good = len(lines) - 1 - 2
    end = start + dt.timedelta(minutes=n + after)
    for run_ in ("first run", "re-run"):
        report = ingest_file(t, o, path, run_)
        if report is None:
            return
        taken = report.get("accepted", 0) + report.get("duplicates", 0)
        o.check(taken == good, f"{run_}: accepted + duplicates {taken:,}, not {good:,} "
                               f"(rejected {report.get('rejected')})")
    stored = t.times("LOG.rh", start, end)
    o.check(len(stored) == good, f"stored {len(stored):,} of the {good:,} good rows")
    kept = [r for r in t.newest_rejections(50) if r.source.endswith(path.name)]
    lines_kept = {r.line for r in kept}
    o.check(gbk_line in lines_kept, f"the GBK line {gbk_line} is not kept as a rejection "
                                    f"(kept lines {sorted(lines_kept, key=str)[:5]})")
    o.check(cr_line in lines_kept, f"the line {cr_line} with a bare CR is not kept as a "
                                   "rejection")


def csv_long_line(t: Target, o: Outcome) -> None:
    """A 20 MB line between two good rows."""
    path = t.workdir / "line-of-20MB.csv"
    start = dt.datetime(2018, 1, 1, tzinfo=dt.UTC)
    path.write_bytes(
        b"channel,time,value\n"
        + f"LOG.rh,{iso(start)},40\n".encode()
        + b"C" * (20 * MB) + f",{iso(start + dt.timedelta(minutes=1))},41\n".encode()
        + f"LOG.rh,{iso(start + dt.timedelta(minutes=2))},42\n".encode()
    )
    before = t.rejected()
    report = ingest_file(t, o, path, "a 20 MB line")
    if report is None:
        return
    o.check(report.get("accepted") == 2 and report.get("rejected") == 1,
            f"accepted {report.get('accepted')} (want 2), rejected {report.get('rejected')} "
            "(want 1)")
    after = t.rejected()
    o.check(after[1] - before[1] < MB,
            f"the rejected line keeps {(after[1] - before[1]) / MB:.1f} M characters (want < 1 M)")
    kept = [r for r in t.newest_rejections(5) if r.source.endswith(path.name)]
    o.check(any(r.line == 3 for r in kept), "the long line is not kept with its line (3)")
    o.check(len(t.times("LOG.rh", start, start + dt.timedelta(minutes=3))) == 2,
            "the rows around it are not both stored")


# -- the terminal ---------------------------------------------------------------------------------


HOSTILE = "\x1b[2J\x1b[31mred\x1b[0m [bold]bold[/bold] [/nope] \r\x07\x1b]0;title\x07 end"


def hostile_text(t: Target, o: Outcome) -> None:
    """``shuian rejected`` prints a row of hostile text escaped."""
    t.store.write_rejections(t.stored.id, [Rejection(
        source="mqtt:attack/\x1b[5mblink", line=1, raw=HOSTILE, reason=f"unknown {HOSTILE}",
        channel="\x1b[1mX")])
    run = t.cli("rejected", "--limit", "3", timeout=60)
    shown = run.stdout
    o.check(run.returncode == 0 and "Traceback" not in run.stderr,
            f"exit {run.returncode}: {run.stderr.strip().splitlines()[-1:]}")
    controls = sorted({repr(ch) for ch in shown if not ch.isprintable() and ch != "\n"})
    o.check(not controls, f"printed the control characters {', '.join(controls)}")
    o.check("[bold]bold[/bold]" in shown, "Rich markup in stored text was not printed as text")
    o.check("[/nope]" in shown, "a stray closing tag in stored text was not printed as text")


# -- notifications ------------------------------------------------------------------------------


def dead_webhook(t: Target, o: Outcome) -> None:
    """A webhook that never answers while readings flow; delivered once when it is back.

    A station reports over SL 651 and a device POSTs readings, each as fast as it is answered;
    one of the station's reports raises an alarm on LOG.airt (its element 02) and the next
    ones clear it. Every answer (SL 651 acknowledgement, HTTP 200) must come within 2 s.
    """
    flow_s = 5.0 if t.quick else 20.0
    patience = 10.0 if t.quick else 30.0
    bound = 2.0
    t.webhook.dead.set()
    timings: list[tuple[str, float]] = []
    lock = threading.Lock()
    stop = threading.Event()
    start = recent(110)  # the newest LOG.airt readings: an alarm is judged on the newest

    def note(what: str, took: float) -> None:
        with lock:
            timings.append((what, took))

    def post_flow() -> None:
        n = 0
        while not stop.is_set():
            began = time.monotonic()
            try:
                answer = t.post_readings([{"channel": "LOG.batt", "value": 12.5, "time": iso(
                    start + dt.timedelta(seconds=n))}], timeout=patience)
                ok = answer.status_code == 200
            except httpx.HTTPError:
                ok = False
            note("POST", time.monotonic() - began if ok else float("inf"))
            n += 1

    def station_flow() -> None:
        n = 0
        with socket.socket() as sock:
            sock.settimeout(patience)
            sock.bind(("127.0.0.6", 0))
            sock.connect(("127.0.0.1", t.sl651_port))
            while not stop.is_set() and n < 100:  # a report a minute, up to 10 minutes ago
                time.sleep(0.05)
                airt = 55.0 if n == 3 else 20.0  # the fourth report raises the alarm
                serial = 1000 + n
                frame = report_frame(serial, start + dt.timedelta(minutes=n), airt=airt)
                try:
                    took = sl651_send(sock, frame, serial)
                except OSError:
                    note("alarm report" if n == 3 else "report", float("inf"))
                    return
                note("alarm report" if n == 3 else "report", took)
                n += 1

    flows = [threading.Thread(target=post_flow), threading.Thread(target=station_flow)]
    try:
        for thread in flows:
            thread.start()
        time.sleep(flow_s)
    finally:
        stop.set()
        for thread in flows:
            thread.join(patience + 5)
    for what in ("alarm report", "report", "POST"):
        took = [s for w, s in timings if w == what]
        slow = [s for s in took if s > bound]
        o.check(bool(took) and not slow,
                f"{len(slow)} of {len(took)} {what}s answered after more than {bound:.0f} s "
                f"while the webhook was dead (longest {max(took, default=0):.1f} s)")
    with t.client() as client:
        alarms = client.get("/api/alarms").json()
    raised = [a for a in alarms if isinstance(a, dict) and a.get("channel") == "LOG.airt"]
    o.check(bool(raised), "the report at 55 °C raised no alarm on LOG.airt: nothing was sent "
                          "to the dead webhook (the class could not be tried)")
    t.webhook.dead.clear()
    # The outbox tries again 10 s after a failed attempt, then after 60 s (RetryPolicy).
    deadline = time.monotonic() + (25.0 if t.quick else 75.0)
    mine: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not mine:
        time.sleep(0.2)
        with t.webhook.lock:
            mine = [b for b in t.webhook.bodies if b.get("channel") == "LOG.airt"]
    time.sleep(2.0)  # anything sent twice comes now
    with t.webhook.lock:
        mine = [b for b in t.webhook.bodies if b.get("channel") == "LOG.airt"]
    o.check(bool(mine), "the alarm's message never reached the webhook once it answered again")
    keys = [b.get("key") for b in mine]
    o.check(len(keys) == len(set(keys)), f"the webhook got {len(keys)} messages for "
                                         f"{len(set(keys))} alarm steps (sent twice)")


# -- running the classes -----------------------------------------------------------------------


ATTACKS: dict[str, Callable[[Target, Outcome], None]] = {
    "security_headers": security_headers,
    "ids_and_parameters": ids_and_parameters,
    "json_bounds": json_bounds,
    "big_body": big_body,
    "login_limit": login_limit,
    "forwarded_for": forwarded_for,
    "cross_origin": cross_origin,
    "browser_token": browser_token,
    "time_range": time_range,
    "new_year_race": new_year_race,
    "mqtt_poison": mqtt_poison,
    "sl651_idle_sockets": sl651_idle_sockets,
    "sl651_garbage": sl651_garbage,
    "csv_malformed": csv_malformed,
    "csv_long_line": csv_long_line,
    "hostile_text": hostile_text,
    "dead_webhook": dead_webhook,
}


def run_class(t: Target, name: str) -> tuple[Outcome, float]:
    """Run one class on its own: a crash is one failure; a dead server is restarted."""
    outcome = Outcome()
    logged = t.log_text().count("Traceback")
    started = time.monotonic()
    try:
        ATTACKS[name](t, outcome)
    except Exception as exc:  # noqa: BLE001 - one class's crash is that class's failure
        where = [frame for frame in traceback.extract_tb(exc.__traceback__)
                 if frame.filename == __file__][-1]
        outcome.check(False, f"the attack crashed: {type(exc).__name__}: {exc} "
                             f"(line {where.lineno})"[:300])
    took = time.monotonic() - started
    if not t.alive():
        outcome.check(False, f"the server died or stopped answering: {t.log_tail()[-300:]}")
        t.stop()
        t.start()
    if outcome.skipped is None:
        new = t.log_text().count("Traceback") - logged
        outcome.check(new == 0, f"the server logged {new} traceback(s)")
    return outcome, took


@contextlib.contextmanager
def database(choice: str | None, workdir: Path) -> Iterator[str]:
    """The store URL to attack: a temporary SQLite file, a fresh PostgreSQL schema, or as given."""
    if choice in (None, "sqlite", "postgresql"):
        url = fresh_url(choice or "sqlite", workdir)
        try:
            yield url
        finally:
            drop(url)
    else:
        yield choice


def table(rows: list[tuple[str, Outcome, float]]) -> str:
    """One line per class: class, tries, failures, seconds, what failed."""
    out = [f"{'class':<20} {'tries':>5} {'fail':>5} {'s':>5}  what failed"]
    for name, outcome, took in rows:
        what = f"skipped: {outcome.skipped}" if outcome.skipped else "; ".join(
            " ".join(failed.split())[:300] for failed in outcome.failed)
        out.append(f"{name:<20} {outcome.tries:>5} {len(outcome.failed):>5} {took:>5.1f}  "
                   f"{what[:1500]}")
    return "\n".join(out)


def main() -> None:
    """Parse the arguments, start the target, replay each class, print the table and JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter waits (under a minute)")
    parser.add_argument("--db", help=f"store URL (empty), or 'postgresql' for a fresh schema "
                                     f"at {PG_URL}; default a temporary SQLite file")
    parser.add_argument("--only", nargs="+", choices=list(ATTACKS), help="run only these")
    args = parser.parse_args()
    names = args.only or list(ATTACKS)
    rows: list[tuple[str, Outcome, float]] = []
    with tempfile.TemporaryDirectory(prefix="shuian-attacks-") as tmp, \
            database(args.db, Path(tmp)) as url:
        target = Target(url, Path(tmp), args.quick)
        try:
            for name in names:
                outcome, took = run_class(target, name)
                rows.append((name, outcome, took))
                print(f"{name}: {outcome.tries} tries, {len(outcome.failed)} failed "
                      f"({took:.1f} s)", file=sys.stderr, flush=True)
        finally:
            target.close()
    print(table(rows))
    classes: dict[str, dict[str, Any]] = {}
    for name, outcome, _ in rows:
        classes[name] = {"tries": outcome.tries, "failures": len(outcome.failed)}
        if outcome.skipped:
            classes[name]["skipped"] = outcome.skipped
    print(json.dumps({"db": url.split("?")[0].split(":")[0], "classes": classes,
                      "failures": sum(len(o.failed) for _, o, _ in rows)}))


if __name__ == "__main__":
    main()
