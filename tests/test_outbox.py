"""The notification outbox: ingest keeps messages, runners deliver them in the background.

Runs on SQLite and PostgreSQL, with a real HTTP webhook on 127.0.0.1 that can stop answering
(it accepts the request, reads it and never replies) and come back.

Specification (issue 11, item 5):
- a dead webhook never holds the ingest: while it hangs, readings flow at full rate, each
  ingest returns in well under the webhook's timeout, and the messages wait in the outbox;
- when the webhook comes back, each message is delivered exactly once;
- two runners at once on the same store never send a message twice;
- a runner killed mid-send leaves its message to another once its lease is over, not before;
- a runner whose lease ran out does not send; a notifier gone from the site file gives its
  messages up, with the reason kept; a notifier that fails costs one attempt per pass.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import eventually, serve_handler
from shuian.notify import AlarmEvent, RetryPolicy, WebhookNotifier, dedupe_key
from shuian.services.analysis import Analyzer
from shuian.services.ingest import Ingestor
from shuian.services.outbox import (
    deliver_due,
    deliver_pending,
    queue_notifications,
)
from shuian.site import parse_site
from shuian.store import Store, StoredSite, open_store

SITE_FILE = Path(__file__).parent / "data" / "analysis_site.yaml"
SECOND = 1_000_000
#: Tried again 0.2 s after each failure, never given up: the tests wait for conditions only.
QUICK = RetryPolicy(attempts=1000, backoff_s=(0.2,))


# --- a webhook that can hang ----------------------------------------------------------------


@dataclass
class Hook:
    """A webhook on 127.0.0.1. Answering: 204 after ``delay_s``, the body kept in ``accepted``.
    Not answering: the request is read and counted in ``held``, and never answered."""

    url: str = ""
    delay_s: float = 0.0
    answering: threading.Event = field(default_factory=threading.Event)
    closing: threading.Event = field(default_factory=threading.Event)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    held: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def keys(self) -> Counter[str]:
        with self.lock:
            return Counter(body["key"] for body in self.accepted)


@pytest.fixture
def hook() -> Iterator[Hook]:
    state = Hook()
    state.answering.set()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if not state.answering.is_set():
                with state.lock:
                    state.held += 1
                state.closing.wait()  # accepted, and never answered
                return
            if state.delay_s:
                state.closing.wait(state.delay_s)
            with state.lock:
                state.accepted.append(json.loads(body))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with serve_handler(Handler) as port:
        state.url = f"http://127.0.0.1:{port}/hooks/alarms"
        try:
            yield state
        finally:
            state.closing.set()  # let the held requests end before the server stops


def save_site(store: Store, url: str | None, *, timeout_s: float = 2.0) -> StoredSite:
    """The analysis test site, its webhook ``duty-room`` at ``url`` (None: no notifications)."""
    data = yaml.safe_load(SITE_FILE.read_text(encoding="utf-8"))
    if url is None:
        del data["notifications"]
    else:
        data["notifications"]["webhooks"][0] |= {"url": url, "timeout_s": timeout_s}
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    site = parse_site(text, source="analysis_site.yaml")
    store.save_site(site, text)
    return store.site(site.reservoir.code)


EVENT = AlarmEvent(
    alarm_id=1, site="anares", site_name="Analysis Test Reservoir", channel="PL1.tangential",
    instrument="PL1", rule="threshold", level="alarm", state="raised",
    time_us=1_721_865_600_000_000, value=45.0, unit="mm",
    message="PL1.tangential 45 mm is above the alarm limit 40", synthetic=False,
)


def events(count: int) -> list[AlarmEvent]:
    return [replace(EVENT, alarm_id=k + 1) for k in range(count)]


def keep(store: Store, url: str, found: list[AlarmEvent]) -> set[str]:
    """Keep ``found`` in the outbox for the webhook at ``url``; their keys."""
    assert queue_notifications(store, found, [WebhookNotifier(url, name="duty-room")]) == len(
        found
    )
    return {dedupe_key(e) for e in found}


def now_us() -> int:
    return time.time_ns() // 1_000


class Passes:
    """Passes of deliver_due in a thread, one every ``every_s`` (as the worker's job makes)."""

    def __init__(self, store: Store, *, every_s: float = 0.05, **options: Any) -> None:
        self.sent = 0
        self._stop = threading.Event()

        def run() -> None:
            while not self._stop.is_set():
                done = deliver_due(store, stop=self._stop, **options)
                self.sent += sum(d.outcome == "sent" for d in done)
                self._stop.wait(every_s)

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


# --- the ingest is never held ---------------------------------------------------------------


def test_a_webhook_that_never_answers_does_not_slow_the_ingest_and_gets_each_message_once(
    store: Store, hook: Hook
) -> None:
    timeout_s = 3.0
    hook.answering.clear()
    stored = save_site(store, hook.url, timeout_s=timeout_s)
    ingestor = Ingestor(store, stored, analyzer=Analyzer(store, stored))
    runner = Passes(store, policy=QUICK, lease_s=30)
    try:
        first = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=1000)
        took = []
        for i in range(1000):  # readings at full rate; every tenth raises alarms
            record = {"channel": "PL1.tangential", "value": 45.0 if i % 10 == 0 else 5.0,
                      "time": (first + dt.timedelta(minutes=i)).isoformat()}
            start = time.perf_counter()
            assert ingestor.ingest_records([record], source="api").accepted == 1
            took.append(time.perf_counter() - start)
            if hook.held >= 2:  # the runner hung on the webhook for a whole timeout, twice
                break
        assert hook.held >= 2, "the runner never tried the webhook while readings flowed"
        assert max(took) < timeout_s / 3, (
            f"{len(took)} ingests while the webhook hung: the slowest took {max(took):.3f} s, "
            f"median {sorted(took)[len(took) // 2]:.3f} s; the webhook's timeout is {timeout_s} s"
        )
        kept = [e.key for e in store.outbox(limit=10_000)]
        assert ingestor.evaluation.notifications == len(kept) >= len(took) // 10
        assert hook.keys() == Counter()

        hook.answering.set()  # the webhook comes back
        eventually(lambda: set(hook.keys()) == set(kept), timeout=60,
                   what="every kept message delivered",
                   detail=lambda: f"{len(hook.keys())} of {len(kept)}, {runner.sent} sent")
    finally:
        runner.stop()
    assert deliver_due(store) == []  # nothing left to send
    assert hook.keys() == Counter(set(kept)), "a message was delivered twice"
    assert {e.state for e in store.outbox(limit=10_000)} == {"sent"}
    assert runner.sent == len(kept)


# --- runners ----------------------------------------------------------------------------------


def test_two_runners_at_once_never_send_a_message_twice(
    store: Store, store_url: str, hook: Hook
) -> None:
    save_site(store, hook.url)
    hook.delay_s = 0.02  # each send takes a while, so the two runners overlap
    kept = keep(store, hook.url, events(40))
    other = open_store(store_url)  # another process's store: its own connections
    runners = []
    try:
        runners = [Passes(store, batch=4, runner="one"), Passes(other, batch=4, runner="two")]
        eventually(lambda: set(hook.keys()) == kept, timeout=60, what="40 messages delivered",
                   detail=lambda: f"{len(hook.keys())} delivered")
    finally:
        for runner in runners:
            runner.stop()
        other.close()
    assert hook.keys() == Counter(kept)
    assert len(store.delivery_log(limit=1000)) == 40  # one attempt each
    assert {e.claimed_by for e in store.outbox()} == {"one", "two"}  # both took a share


def test_a_runner_killed_mid_send_leaves_its_message_to_another_once_its_lease_is_over(
    store: Store, store_url: str, hook: Hook
) -> None:
    hook.answering.clear()
    save_site(store, hook.url, timeout_s=60)  # the doomed runner waits a minute for an answer
    [key] = keep(store, hook.url, events(1))
    doomed = subprocess.Popen([
        sys.executable, "-c",
        "import sys; from shuian.store import open_store; "
        "from shuian.services.outbox import deliver_due; "
        "deliver_due(open_store(sys.argv[1]), runner='doomed', lease_s=120)",
        store_url,
    ])
    try:
        eventually(lambda: hook.held == 1, timeout=60, what="the doomed runner is sending",
                   detail=lambda: f"exit code {doomed.poll()}")
    finally:
        doomed.kill()
        doomed.wait()
    [entry] = store.outbox()
    assert (entry.state, entry.claimed_by, entry.attempts) == ("pending", "doomed", 0)
    hook.answering.set()

    assert deliver_due(store, runner="survivor") == []  # its lease holds: not taken over early
    after_lease = now_us() + 121 * SECOND
    [delivery] = deliver_due(store, runner="survivor", clock=lambda: after_lease)

    assert (delivery.key, delivery.outcome, delivery.attempt) == (key, "sent", 1)
    assert hook.keys() == Counter({key: 1})
    [entry] = store.outbox()
    assert (entry.state, entry.claimed_by, entry.done_us) == ("sent", "survivor", after_lease)


def test_a_claim_takes_at_most_its_batch_and_no_message_another_runner_holds(
    store: Store, hook: Hook
) -> None:
    save_site(store, hook.url)
    kept = keep(store, hook.url, events(10))
    t = now_us()
    first = store.claim_outbox("one", now_us=t, lease_us=SECOND, limit=4)
    second = store.claim_outbox("two", now_us=t, lease_us=SECOND, limit=4)
    rest = store.claim_outbox("three", now_us=t, lease_us=SECOND, limit=4)
    assert [len(first), len(second), len(rest)] == [4, 4, 2]
    assert {e.key for e in first + second + rest} == kept


def test_a_runner_whose_lease_ran_out_does_not_send(store: Store, hook: Hook) -> None:
    save_site(store, hook.url)
    keep(store, hook.url, events(1))
    t = now_us()
    [slow] = store.claim_outbox("slow", now_us=t, lease_us=SECOND, limit=10)
    assert store.claim_outbox("quick", now_us=t + SECOND // 2, lease_us=SECOND, limit=10) == []
    [taken] = store.claim_outbox("quick", now_us=t + 2 * SECOND, lease_us=SECOND, limit=10)
    assert taken.id == slow.id

    assert not store.hold_outbox(slow.id, "slow", now_us=t + 2 * SECOND, lease_us=SECOND)
    assert not store.finish_outbox(slow, "slow", error=None, time_us=t + 2 * SECOND,
                                   next_try_us=None)  # the late result is not taken
    assert store.hold_outbox(taken.id, "quick", now_us=t + 2 * SECOND, lease_us=SECOND)
    assert [e.state for e in store.outbox()] == ["pending"]


def test_a_command_delivers_what_is_pending_at_its_end_and_a_dead_notifier_costs_one_try(
    store: Store, hook: Hook
) -> None:
    save_site(store, hook.url)
    kept = keep(store, hook.url, events(45))
    done = deliver_pending(store, batch=20)
    assert [d.outcome for d in done] == ["sent"] * 45
    assert hook.keys() == Counter(kept)

    more = keep(store, hook.url, [replace(e, state="escalated") for e in events(30)])
    with socket.socket() as probe:  # a port nothing listens on: the connection is refused
        probe.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{probe.getsockname()[1]}/hooks"
    done = deliver_pending(store, batch=20,
                           notifiers=lambda site: [WebhookNotifier(refused, name="duty-room")])
    assert Counter(d.outcome for d in done) == {"failed": 1, "postponed": 29}  # one try in all
    assert {e.state for e in store.outbox(limit=100) if e.key in more} == {"pending"}


def test_a_runner_stops_and_lets_go_of_what_it_has_not_tried(store: Store, hook: Hook) -> None:
    save_site(store, hook.url)
    kept = keep(store, hook.url, events(3))
    stop = threading.Event()
    stop.set()
    assert deliver_due(store, runner="leaving", stop=stop) == []
    assert [(e.state, e.lease_until_us) for e in store.outbox()] == [("pending", None)] * 3
    [*done] = deliver_due(store, runner="staying")  # due at once for the next runner
    assert {d.key for d in done} == kept and hook.keys() == Counter(kept)


# --- failures ---------------------------------------------------------------------------------


def test_a_notifier_gone_from_the_site_file_gives_its_messages_up_with_the_reason(
    store: Store, hook: Hook
) -> None:
    save_site(store, hook.url)
    [key] = keep(store, hook.url, events(1))
    save_site(store, None)  # the site file no longer has notifications

    [delivery] = deliver_due(store)
    assert (delivery.key, delivery.outcome) == (key, "gave_up")
    [entry] = store.outbox(state="gave_up")
    assert entry.last_error == (
        "notifier 'duty-room' is no longer among the notifications of site 'anares'"
    )
    assert hook.keys() == Counter()
    assert [(d["key"], d["ok"], d["error"]) for d in store.delivery_log()] == [
        (key, False, entry.last_error)
    ]


def test_a_failing_notifier_costs_one_attempt_per_pass_and_its_messages_wait_together(
    store: Store, hook: Hook
) -> None:
    save_site(store, hook.url)
    kept = keep(store, hook.url, events(5))
    t = now_us()
    policy = RetryPolicy(attempts=3, backoff_s=(60,))
    with socket.socket() as probe:  # a port nothing listens on: the connection is refused
        probe.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{probe.getsockname()[1]}/hooks"
    found = deliver_due(store, policy=policy, clock=lambda: t,
                        notifiers=lambda site: [WebhookNotifier(refused, name="duty-room")])
    assert [d.outcome for d in found] == ["failed"] + ["postponed"] * 4
    entries = store.outbox()
    assert sorted(e.attempts for e in entries) == [0, 0, 0, 0, 1]
    assert {e.next_try_us for e in entries} == {t + 60 * SECOND}
    assert {e.lease_until_us for e in entries} == {None}

    done = deliver_due(store, policy=policy, clock=lambda: t + 60 * SECOND)  # the site's hook
    assert [d.outcome for d in done] == ["sent"] * 5
    assert hook.keys() == Counter(kept)
