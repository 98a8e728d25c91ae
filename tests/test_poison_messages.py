"""No message can stop a source: poison among good messages, over MQTT, on both store backends.

Against the real Mosquitto at 127.0.0.1:1883. For each class of poison (unparseable, nested
too deep, a NUL byte, a channel name longer than the store takes, a time outside the supported
range, a payload over the size limit, too many records) N good messages are published with one
poison among them, and the source must: store the N good readings, keep the poison as a
rejection with its reason, store nothing twice, stay connected, and have acknowledged every
message (a restarted source with the same session gets none of them again). Only a store that
is away leaves messages unacknowledged, and they all arrive once it is back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.publish as publish
import pytest
from paho.mqtt.enums import MQTTProtocolVersion

from conftest import eventually
from shuian.sources.base import MAX_REJECTED_TEXT
from shuian.sources.mqtt import MAX_DEPTH
from shuian.store import Store, StoredSite, open_store
from test_mqtt import BROKER, T0, Setup, iso, nothing_comes_again, reading

#: Good messages published with each poison.
N = 20
MB = 1 << 20


@dataclass(frozen=True)
class Poison:
    """A message that must be kept as a rejection: its payload, and what its reason says."""

    name: str
    payload: bytes
    reason: str
    #: The last level of the topic it is published on (the channel of records without one).
    level: str = "WL.level"


def as_json(data: object) -> bytes:
    return json.dumps(data).encode()


def records(n: int) -> list[dict[str, object]]:
    return [reading(T0 + 86_400 + 60 * i) for i in range(n)]


POISONS = [
    Poison("unparseable", b'{"channel": "WL.level", "time": ', "not JSON"),
    Poison("not UTF-8", b'{"channel": "WL.level", "value": "\xff\xfe"}', "not JSON"),
    Poison("nested 100,000 levels", b"[" * 100_000 + b"]" * 100_000,
           f"nested deeper than {MAX_DEPTH} levels"),
    Poison("nested 40 levels", b"[" * 40 + b"]" * 40, f"nested deeper than {MAX_DEPTH} levels"),
    Poison("a raw NUL byte", b'{"channel": "WL.level", "time": "2024\x00", "value": 1}',
           "not JSON"),
    Poison("a NUL in a channel", as_json({**reading(T0), "channel": "WL\u0000level"}),
           "channel"),
    Poison("a NUL in a value", as_json({**reading(T0), "value": "12\u00000"}), "value"),
    Poison("a 100-character channel", as_json({**reading(T0), "channel": "C" * 100}), "channel"),
    Poison("a 100-character channel from the topic",
           as_json({"time": iso(T0), "value": 120.0}), "channel", level="C" * 100),
    Poison("year 0001", as_json({**reading(T0), "time": "0001-01-01T00:00:00Z"}),
           "earliest date"),
    Poison("year 9999", as_json({**reading(T0), "time": "9999-12-31T23:59:59Z"}), "future"),
    Poison("a payload over the size limit",
           as_json({**reading(T0), "note": "x" * (2 * MB)}), "max_payload"),
    Poison("an 8 MB payload", b"{" + b"x" * (8 * MB), "max_payload"),
    Poison("too many records", as_json({"readings": records(10_001)}), "max_records"),
]


@pytest.fixture
def mq(store: Store, stored_site: StoredSite) -> Iterator[Setup]:
    setup = Setup(store, stored_site)
    yield setup
    for source in setup.sources:
        source.stop()


def good(i: int) -> bytes:
    """Good message ``i``: one WL.level reading a minute after the one before."""
    return as_json(reading(T0 + 60 * i, 120.0 + i / 10))


def publish_with_poison(mq: Setup, poison: Poison) -> None:
    """N good messages with the poison in the middle, in one go (QoS 1)."""
    messages = [{"topic": f"{mq.prefix}/WL.level", "payload": good(i), "qos": 1}
                for i in range(N)]
    messages.insert(N // 2, {"topic": f"{mq.prefix}/{poison.level}", "payload": poison.payload,
                             "qos": 1})
    publish.multiple(messages, hostname=BROKER[0], port=BROKER[1],
                     protocol=MQTTProtocolVersion.MQTTv5)


@pytest.mark.parametrize("poison", POISONS, ids=[p.name for p in POISONS])
def test_a_poison_message_is_kept_and_every_good_one_is_stored(
    mq: Setup, poison: Poison
) -> None:
    source = mq.start()
    publish_with_poison(mq, poison)
    eventually(lambda: source.status()["messages"] == N + 1
               and source.status()["accepted"] == N and source.status()["rejected"] == 1,
               timeout=30, what=f"{N} good messages stored and the poison kept",
               detail=lambda: str(source.status()))

    assert mq.count() == N
    [kept] = mq.store.rejections(mq.stored_site.id)
    # its topic, or for a record refused in a batch from both topics, the filter of the two
    assert kept.source in (f"mqtt:{mq.prefix}/{poison.level}", f"mqtt:{mq.prefix}/+")
    assert poison.reason in kept.reason, kept.reason
    assert not kept.reason.startswith("could not be ingested"), kept.reason  # refused for a reason
    for text in (kept.raw, kept.reason, kept.channel or "", kept.source):
        assert "\x00" not in text
    assert len(kept.raw) <= MAX_REJECTED_TEXT and len(kept.reason) <= MAX_REJECTED_TEXT
    status = source.status()
    assert status["connected"] and (status["duplicates"], status["failures"]) == (0, 0), status
    nothing_comes_again(mq, source)


# -- only a store that is away holds messages back -------------------------------------------


def away_url(store_url: str, tmp_path: Path) -> str:
    """A URL of the same kind where no database can be reached: a port nothing listens on,
    or an SQLite file in a folder that does not exist."""
    if store_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'gone' / 'shuian.db'}"
    return "postgresql://postgres@127.0.0.1:9/test"  # the discard port: connection refused


def test_while_the_store_is_away_nothing_is_acknowledged_and_all_arrive_once_it_is_back(
    mq: Setup, store_url: str, tmp_path: Path
) -> None:
    away = open_store(away_url(store_url, tmp_path), migrate=False)
    live = mq.store
    mq.ingestor.store = mq.store = away  # every write goes to the database that is away
    try:
        first = mq.start()
        publish_with_poison(mq, POISONS[0])
        eventually(lambda: first.status()["messages"] > N + 1 and first.status()["failures"] > 1,
                   timeout=30, what="the messages delivered again and failing again",
                   detail=lambda: str(first.status()))
        first.stop()
        status = first.status()
        assert (status["accepted"], status["rejected"]) == (0, 0), status
        assert "not stored, will be delivered again" in status["last_error"]
    finally:
        mq.ingestor.store = mq.store = live
        away.close()
    assert mq.count() == 0 and mq.store.rejections(mq.stored_site.id) == []

    second = mq.start()  # the same session: the broker kept every message
    eventually(lambda: second.status()["accepted"] == N and second.status()["rejected"] == 1,
               timeout=30, what="all of them stored once the store is back",
               detail=lambda: str(second.status()))
    assert mq.count() == N and second.status()["duplicates"] == 0
    [kept] = mq.store.rejections(mq.stored_site.id)
    assert kept.reason.startswith("not JSON")
    nothing_comes_again(mq, second)
