"""Readings over MQTT: against the real Mosquitto at 127.0.0.1:1883, on both store backends.

Every test has its own topics and client id, so tests never see each other's messages.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.publish as publish
import pytest
from paho.mqtt.enums import MQTTProtocolVersion

from conftest import SITE_FILE, eventually, serve
from shuian.api import create_app
from shuian.errors import StoreRefusedError, StoreUnavailableError
from shuian.readings import Rejection
from shuian.services.ingest import Ingestor, IngestReport
from shuian.site import parse_site
from shuian.site.telemetry import MqttSettings
from shuian.sources.mqtt import (
    MqttSource,
    PayloadError,
    batch_source,
    parse_payload,
)
from shuian.store import Store, StoredSite

BROKER = ("127.0.0.1", 1883)
T0 = 1_709_251_200  # 2024-03-01T00:00:00Z


def iso(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def send(topic: str, *payloads: Any) -> None:
    """Publish payloads with QoS 1 (dicts and lists as JSON, bytes as they are)."""
    publish.multiple(
        [{"topic": topic, "qos": 1,
          "payload": p if isinstance(p, bytes) else json.dumps(p)} for p in payloads],
        hostname=BROKER[0], port=BROKER[1], protocol=MQTTProtocolVersion.MQTTv5,
    )


def stored_count(store: Store, stored_site: StoredSite, channel: str) -> int:
    return len(store.readings(store.channel(stored_site.id, channel).id)[0])


class Setup:
    """A test's topic prefix, settings, ingestor, and the sources it started."""

    def __init__(self, store: Store, stored_site: StoredSite) -> None:
        self.store = store
        self.stored_site = stored_site
        self.prefix = f"shuian-test/{uuid.uuid4().hex}"
        self.settings = MqttSettings(
            host=BROKER[0], port=BROKER[1], client_id=f"shuian-test-{uuid.uuid4().hex[:12]}",
            topics=[f"{self.prefix}/#"], session_expiry=30, retry_delay=0.1,
        )
        self.ingestor = Ingestor(store, stored_site)
        self.sources: list[MqttSource] = []

    def ingest(self, records: list[dict[str, Any]], source: str) -> IngestReport:
        return self.ingestor.ingest_records(records, source=source)

    def reject(self, rejection: Rejection) -> None:
        self.store.write_rejections(self.stored_site.id, [rejection])

    def start(
        self,
        ingest: Callable[[list[dict[str, Any]], str], IngestReport] | None = None,
        **settings: Any,
    ) -> MqttSource:
        source = MqttSource(
            self.settings.model_copy(update=settings), ingest or self.ingest, self.reject
        )
        source.start()
        self.sources.append(source)
        assert source.wait_subscribed(10)
        return source

    def count(self, channel: str = "WL.level") -> int:
        return stored_count(self.store, self.stored_site, channel)


@pytest.fixture
def mq(store: Store, stored_site: StoredSite) -> Iterator[Setup]:
    setup = Setup(store, stored_site)
    yield setup
    for source in setup.sources:
        source.stop()


def reading(seconds: int, value: float = 120.0, channel: str = "WL.level") -> dict[str, Any]:
    return {"channel": channel, "time": iso(seconds), "value": value}


# -- payload forms (no broker) -----------------------------------------------------------


def test_a_payload_is_one_reading_a_list_or_an_object_with_readings() -> None:
    one = reading(T0)
    assert parse_payload(json.dumps(one).encode(), "a/b") == [one]
    assert parse_payload(json.dumps([one, one]).encode(), "a/b") == [one, one]
    assert parse_payload(json.dumps({"readings": [one]}).encode(), "a/b") == [one]


def test_a_record_without_channel_takes_the_last_topic_level() -> None:
    records = parse_payload(b'{"time": "2024-03-01T00:00:00Z", "value": 1}', "s/testres/WL.level")
    assert records[0]["channel"] == "WL.level"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [(b"{not json", "not JSON: "), (b"\xff\xfe", "not JSON: "), (b"[1, 2]", "malformed payload"),
     (b'{"readings": 3}', "malformed payload")],
)
def test_an_unreadable_payload_says_why(payload: bytes, reason: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_payload(payload, "a/b")
    assert caught.value.reason.startswith(reason)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [(b"[" * 100_000 + b"]" * 100_000, "nested deeper than 32 levels"),
     (b"[" * 33 + b"]" * 33, "nested deeper than 32 levels"),
     (b"x" * (1 << 20) + b"!",
      "payload of 1048577 bytes, over the limit of 1048576 bytes (telemetry.mqtt.max_payload)"),
     (json.dumps([reading(T0)] * 4).encode(),
      "4 records in one message, over the limit of 3 (telemetry.mqtt.max_records)")],
    ids=["nested 100,000 levels", "nested 33 levels", "too large", "too many records"],
)
def test_a_payload_over_a_limit_says_which(payload: bytes, reason: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_payload(payload, "a/b", max_records=3)
    assert caught.value.reason.startswith(reason), caught.value.reason


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    deep_in_text = {**reading(T0), "note": "[" * 100 + '\\"{' * 50}
    assert parse_payload(json.dumps(deep_in_text).encode(), "a/b") == [deep_in_text]
    at_the_limit: Any = []
    for _ in range(30):
        at_the_limit = [at_the_limit]
    record = {**reading(T0), "extra": at_the_limit}  # 32 levels: the object and 31 lists
    assert parse_payload(json.dumps(record).encode(), "a/b") == [record]


@pytest.mark.parametrize(
    ("topics", "source"),
    [(["s/a/WL1"], "mqtt:s/a/WL1"), (["s/a/WL1", "s/a/WL1"], "mqtt:s/a/WL1"),
     (["s/a/WL1", "s/a/AT1"], "mqtt:s/a/+"), (["s/a/WL1", "s/b/AT1"], "mqtt:s/+/+"),
     (["s/a", "s/a/b"], "mqtt:s/a/#"), (["s/a/WL1", "s/b/x/y"], "mqtt:s/+/#"),
     (["a/x", "b/x"], "mqtt:+/x")],
)
def test_a_batch_from_several_topics_is_named_by_a_filter_matching_them_all(
    topics: list[str], source: str
) -> None:
    assert batch_source(topics) == source


def test_topic_filters_are_checked() -> None:
    with pytest.raises(ValueError, match="'#' must be a whole, last level"):
        MqttSettings(client_id="x", topics=["a/#/b"])


# -- against the broker ------------------------------------------------------------------


def test_a_published_reading_is_stored_once(mq: Setup) -> None:
    source = mq.start()
    send(f"{mq.prefix}/WL.level", {"time": iso(T0), "value": 120.5})
    eventually(lambda: source.status()["accepted"] == 1)
    assert mq.count() == 1
    status = source.status()
    assert status["connected"] and status["messages"] == 1 and status["last_message_at"]


def test_a_batch_payload_is_stored(mq: Setup) -> None:
    source = mq.start()
    send(f"{mq.prefix}/batch",
         {"readings": [reading(T0 + i * 60) for i in range(5)]
          + [reading(T0, 20.0, "LOG.airt")]})
    eventually(lambda: source.status()["accepted"] == 6)
    assert (mq.count(), mq.count("LOG.airt")) == (5, 1)


def test_invalid_json_is_kept_with_its_text_and_reason_and_the_source_keeps_working(
    mq: Setup,
) -> None:
    source = mq.start()
    topic = f"{mq.prefix}/WL.level"
    send(topic, b"{broken", {"time": iso(T0), "value": 121.0})
    eventually(lambda: mq.count() == 1)
    [kept] = mq.store.rejections(mq.stored_site.id)
    assert (kept.source, kept.line, kept.raw) == (f"mqtt:{topic}", None, "{broken")
    assert kept.reason.startswith("not JSON: ")
    assert source.status()["rejected"] == 1


def test_a_record_that_fails_validation_is_kept_with_its_reason(mq: Setup) -> None:
    source = mq.start()
    send(f"{mq.prefix}/x", [reading(T0), reading(T0, 999.0)])
    eventually(lambda: source.status()["rejected"] == 1)
    [kept] = mq.store.rejections(mq.stored_site.id)
    assert kept.line == 1 and kept.source == f"mqtt:{mq.prefix}/x"
    assert mq.count() == 1


def test_a_message_whose_ingest_fails_is_delivered_again_and_stored_once(mq: Setup) -> None:
    calls: list[int] = []

    def ingest_failing_once(records: list[dict[str, Any]], source: str) -> IngestReport:
        calls.append(len(records))
        if len(calls) == 1:
            raise StoreUnavailableError("the database cannot be reached")
        return mq.ingest(records, source)

    source = mq.start(ingest_failing_once)
    send(f"{mq.prefix}/WL.level", reading(T0))
    eventually(lambda: source.status()["accepted"] == 1)
    assert mq.count() == 1 and len(calls) == 2
    status = source.status()
    assert status["failures"] == 1 and "database cannot be reached" in status["last_error"]


def test_a_message_that_fails_for_its_own_sake_is_kept_and_does_not_block_the_others(
    mq: Setup,
) -> None:
    """A failure that is not the store's (a payload the ingest cannot handle) would come back
    forever; the message is kept as a rejection with the error, the others are stored."""

    def ingest_choking_on_a_poison_pill(records: list[dict[str, Any]], source: str) -> IngestReport:
        if any(record.get("value") == "poison" for record in records):
            raise TypeError("cannot handle this record")
        return mq.ingest(records, source)

    source = mq.start(ingest_choking_on_a_poison_pill)
    send(f"{mq.prefix}/WL.level", reading(T0), {**reading(T0 + 60), "value": "poison"},
         reading(T0 + 120))
    eventually(lambda: source.status()["accepted"] == 2 and source.status()["rejected"] == 1)
    [kept] = mq.store.rejections(mq.stored_site.id)
    assert kept.reason == "could not be ingested: TypeError: cannot handle this record"
    assert '"poison"' in kept.raw and kept.source == f"mqtt:{mq.prefix}/WL.level"
    status = source.status()
    assert status["failures"] == 0 and status["last_error_at"] is not None
    assert mq.count() == 2


def test_an_unacknowledged_message_comes_to_the_restarted_source(mq: Setup) -> None:
    def database_down(records: list[dict[str, Any]], source: str) -> IngestReport:
        raise StoreUnavailableError("the database cannot be reached")

    first = mq.start(database_down, retry_delay=60)  # does not reconnect by itself
    send(f"{mq.prefix}/WL.level", reading(T0))
    eventually(lambda: first.status()["failures"] == 1)
    first.stop()
    assert mq.count() == 0

    second = mq.start()  # the same client id: the broker kept the session and the message
    eventually(lambda: second.status()["accepted"] == 1)
    assert mq.count() == 1


def test_the_same_reading_twice_is_a_duplicate_and_stored_once(mq: Setup) -> None:
    source = mq.start()
    send(f"{mq.prefix}/WL.level", reading(T0), reading(T0))
    eventually(lambda: source.status()["messages"] == 2)
    eventually(lambda: source.status()["duplicates"] == 1)
    assert source.status()["accepted"] == 1 and mq.count() == 1


def test_every_published_reading_is_stored(mq: Setup) -> None:
    n = 200
    source = mq.start()
    send(f"{mq.prefix}/WL.level", *[reading(T0 + i * 60, 100 + i / 10) for i in range(n)])
    eventually(lambda: source.status()["accepted"] == n, timeout=20)
    status = source.status()
    assert (n, mq.count(), status["accepted"], status["duplicates"]) == (n, n, n, 0), status


def test_a_site_with_mqtt_telemetry_is_served_by_the_listeners(
    store: Store, tmp_path: Path
) -> None:
    """The site file's telemetry section starts a source feeding the one ingest service, and
    the server answers its status at /api/telemetry."""
    import yaml

    from shuian.services.telemetry import Listeners

    topic = f"shuian/test/{uuid.uuid4().hex}"
    data = yaml.safe_load(SITE_FILE.read_text(encoding="utf-8"))
    data["telemetry"] = {"mqtt": {"client_id": f"shuian-{uuid.uuid4().hex[:8]}",
                                  "topics": [f"{topic}/#"]}}
    text = yaml.safe_dump(data, allow_unicode=True)
    store.save_site(parse_site(text), text)
    listeners = Listeners(store, store.site())
    listeners.start()
    try:
        source = listeners.sources["mqtt"]
        assert source.wait_subscribed(10)
        send(f"{topic}/WL.level", reading(T0))
        eventually(lambda: listeners.status()["mqtt"]["accepted"] == 1)
        with serve(create_app(store.url, listeners=[listeners])) as client:
            status = client.get("/api/telemetry").json()
        assert status["mqtt"]["connected"] and status["mqtt"]["accepted"] == 1
    finally:
        listeners.stop()


# -- batches: the messages waiting are ingested together ------------------------------------


class Held:
    """An ingest that holds its first call until released, so that the messages sent meanwhile
    wait and come in the next batch; it records the number of records of every call and fails
    the ``fail`` calls after the first."""

    def __init__(self, mq: Setup, fail: int = 0) -> None:
        self.mq = mq
        self.fail = fail
        self.holding = threading.Event()
        self.release = threading.Event()
        self.calls: list[int] = []
        self.sources: list[str] = []

    def __call__(self, records: list[dict[str, Any]], source: str) -> IngestReport:
        self.calls.append(len(records))
        self.sources.append(source)
        if len(self.calls) == 1:
            self.holding.set()
            assert self.release.wait(10)
        elif self.fail:
            self.fail -= 1
            raise StoreUnavailableError("the database cannot be reached")
        return self.mq.ingest(records, source)

    def pile_up(self, *sends: tuple[str, list[Any]]) -> None:
        """While the first call is held, send messages; then let it go."""
        assert self.holding.wait(10)
        for topic, payloads in sends:
            send(topic, *payloads)
        time.sleep(0.3)  # on their way to the source, which is busy
        self.release.set()


def nothing_comes_again(mq: Setup, source: MqttSource) -> None:
    """Every message was acknowledged: a new source in the same session (client id) gets only
    a message published after it started (the broker would deliver the earlier ones first)."""
    source.stop()
    again = mq.start()
    send(f"{mq.prefix}/LOG.batt", reading(T0, 12.5, "LOG.batt"))
    eventually(lambda: again.status()["accepted"] + again.status()["duplicates"] == 1,
               what="the message published after the restart")
    status = again.status()
    assert (status["messages"], status["rejected"]) == (1, 0), status


def test_a_rejection_the_store_refuses_is_kept_by_its_reason_and_acknowledged(
    mq: Setup,
) -> None:
    def refusing_the_text(rejection: Rejection) -> None:
        if rejection.raw:
            raise StoreRefusedError("database x refused the data: value too long")
        mq.reject(rejection)

    source = MqttSource(mq.settings, mq.ingest, refusing_the_text)
    mq.sources.append(source)
    source.start()
    assert source.wait_subscribed(10)
    send(f"{mq.prefix}/WL.level", b"{broken", reading(T0))
    eventually(lambda: mq.count() == 1 and source.status()["rejected"] == 1)
    [kept] = mq.store.rejections(mq.stored_site.id)
    assert (kept.source, kept.raw) == (f"mqtt:{mq.prefix}/WL.level", "")
    assert kept.reason.startswith("not JSON: ") and kept.reason.endswith(
        " (its text could not be kept: database x refused the data: value too long)")
    nothing_comes_again(mq, source)


def test_messages_waiting_are_ingested_together_and_an_unreadable_one_is_kept_apart(
    mq: Setup,
) -> None:
    held = Held(mq)
    source = mq.start(held)
    topic = f"{mq.prefix}/WL.level"
    send(topic, reading(T0))
    held.pile_up((topic, [reading(T0 + 60), b"{broken", reading(T0 + 120)]))
    eventually(lambda: mq.count() == 3)
    assert held.calls == [1, 2]  # the two readable messages: one ingest
    [kept] = mq.store.rejections(mq.stored_site.id)
    assert (kept.source, kept.raw) == (f"mqtt:{topic}", "{broken")
    status = source.status()
    assert (status["messages"], status["accepted"], status["rejected"]) == (4, 3, 1)
    nothing_comes_again(mq, source)


def test_a_batch_whose_ingest_fails_comes_again_whole_and_is_stored_once(mq: Setup) -> None:
    held = Held(mq, fail=1)
    source = mq.start(held)
    topic = f"{mq.prefix}/WL.level"
    send(topic, reading(T0))
    held.pile_up((topic, [reading(T0 + 60 * i) for i in range(1, 4)]))
    eventually(lambda: source.status()["accepted"] == 4)
    assert held.calls[1] == 3 and sum(held.calls[2:]) == 3, held.calls
    status = source.status()
    assert (status["failures"], status["duplicates"], mq.count()) == (1, 0, 4)
    nothing_comes_again(mq, source)


def test_a_record_refused_in_a_batch_from_several_topics_names_them_and_its_place(
    mq: Setup,
) -> None:
    held = Held(mq)
    source = mq.start(held)
    send(f"{mq.prefix}/a/WL.level", reading(T0))
    held.pile_up((f"{mq.prefix}/a/WL.level", [reading(T0 + 60)]),
                 (f"{mq.prefix}/b/x", [[reading(T0 + 120), reading(T0 + 180, 999.0)]]))
    eventually(lambda: source.status()["rejected"] == 1)
    assert held.calls == [1, 3]
    [kept] = mq.store.rejections(mq.stored_site.id)
    assert kept.source == f"mqtt:{mq.prefix}/+/+" and kept.line == 2  # its index in the batch
    assert mq.count() == 3


def test_a_batch_holds_at_most_max_batch_messages(mq: Setup) -> None:
    held = Held(mq)
    source = mq.start(held, max_batch=2)
    topic = f"{mq.prefix}/WL.level"
    send(topic, reading(T0))
    held.pile_up((topic, [reading(T0 + 60 * i) for i in range(1, 6)]))
    eventually(lambda: source.status()["accepted"] == 6)
    assert max(held.calls[1:]) <= 2 and sum(held.calls[1:]) == 5, held.calls
    assert mq.count() == 6
