"""Readings that arrive over MQTT, with nothing lost.

:class:`MqttSource` subscribes to the configured topics with QoS 1 in a persistent session
(MQTT 5, a fixed client id, ``clean_start`` off, a session expiry) and acknowledges a message
only after its readings are committed. A message whose ingest fails (the database is down) is
not acknowledged: the source disconnects, waits ``retry_delay`` seconds and reconnects, and the
broker delivers the message again. A payload that cannot be read is kept as a rejection (source
``mqtt:<topic>``, the text and the reason) and acknowledged; the source keeps working.

Messages are ingested in batches: the messages waiting when the source gets to them (up to
``max_batch``) go into one ingest, so one commit and one evaluation by the analysis serve them
all. A quiet broker gives batches of one message; a busy one gives batches as large as the
backlog that built up during the previous commit, which is what lets ingest keep up. An
unreadable payload in a batch is kept and acknowledged on its own and does not hold up the
others; if the batch's ingest fails, none of its readable messages is acknowledged and all of
them come again. ``max_batch`` is also sent to the broker as the MQTT 5 Receive Maximum (how many
unacknowledged messages it may have on the way to the source at once).

Payloads are JSON, in one of these forms::

    {"channel": "WL.level", "time": "2024-03-01T00:00:00Z", "value": 120.5}
    [{"channel": ..., "time": ..., "value": ...}, ...]
    {"readings": [{"channel": ..., "time": ..., "raw": 8000.0, "temperature": 21.5}, ...]}

A record has ``time`` and ``value`` (engineering value) or ``raw`` (with an optional
``temperature``), as the HTTP API takes them. A record without ``channel`` takes the last level
of its topic as the channel: topic ``shuian/<site>/WL.level`` with payload
``{"time": ..., "value": ...}``. Records are then validated like any other ingest; a record
that fails is kept as a rejection with its index in the ingest as its line: its index in the
payload when the batch holds one message, else its index among the batch's records. The
rejection's source is ``mqtt:<topic>``, or, for a batch from several topics, ``mqtt:`` and a
filter matching them all (``mqtt:shuian/testres/+``).

Examples
--------
>>> settings = MqttSettings(client_id="shuian-testres", topics=["shuian/testres/#"])
>>> source = MqttSource(  # doctest: +SKIP
...     settings,
...     ingest=lambda records, source: ingestor.ingest_records(records, source=source),
...     reject=lambda rejection: store.write_rejections(stored.id, [rejection]),
... )
>>> source.run_forever()  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
from collections.abc import Callable
from typing import Any, Literal, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions
from pydantic import BaseModel, ConfigDict, Field, field_validator

from shuian.errors import MqttError, StoreError
from shuian.readings import Rejection
from shuian.telemetry.status import SourceStatus

__all__ = [
    "IngestOutcome",
    "MqttError",
    "MqttSettings",
    "MqttSource",
    "PayloadError",
    "parse_payload",
]

log = logging.getLogger(__name__)

#: How much of an unreadable payload a rejection keeps (characters).
MAX_REJECTED_TEXT = 2000


class PayloadError(ValueError):
    """A payload that is not JSON or not one of the supported forms; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MqttSettings(BaseModel):
    """Where the readings come from: broker, client id, topics (``telemetry: {mqtt: ...}``).

    Attributes
    ----------
    host, port : the broker
    client_id : fixed, so that the broker keeps the session (and un-acknowledged messages)
    topics : topic filters; ``+`` and ``#`` wildcards allowed
    username : optional; the password is read from the environment variable ``password_env``
    qos : 1 (at least once; duplicates are harmless) or 2
    keepalive : seconds between pings
    session_expiry : seconds the broker keeps the session while the source is away
    retry_delay : seconds to wait before reconnecting after a failed ingest or a lost connection
    max_batch : most messages ingested together (one commit); also the MQTT 5 Receive Maximum
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    client_id: str = Field(min_length=1, max_length=128)
    topics: list[str] = Field(min_length=1)
    username: str | None = None
    password_env: str | None = None
    qos: Literal[1, 2] = 1
    keepalive: int = Field(default=30, ge=5)
    session_expiry: int = Field(default=7 * 24 * 3600, ge=1)
    retry_delay: float = Field(default=5.0, gt=0)
    max_batch: int = Field(default=1000, ge=1, le=65535)

    @field_validator("topics")
    @classmethod
    def _valid_filters(cls, topics: list[str]) -> list[str]:
        for topic in topics:
            levels = topic.split("/")
            for position, level in enumerate(levels):
                if "#" in level and (level != "#" or position != len(levels) - 1):
                    raise ValueError(f"topic {topic!r}: '#' must be a whole, last level")
                if "+" in level and level != "+":
                    raise ValueError(f"topic {topic!r}: '+' must be a whole level")
            if not topic:
                raise ValueError("a topic must not be empty")
        return topics

    def password(self) -> str | None:
        """The password from the environment variable ``password_env`` (None if not set)."""
        if self.password_env is None:
            return None
        value = os.environ.get(self.password_env)
        if value is None:
            raise MqttError(
                f"telemetry.mqtt.password_env names {self.password_env!r}, which is not set: "
                "set that environment variable or remove password_env"
            )
        return value


class IngestOutcome(Protocol):
    """What an ingest reports (an :class:`~shuian.services.ingest.IngestReport` does)."""

    @property
    def accepted(self) -> int:
        """New readings stored."""

    @property
    def duplicates(self) -> int:
        """Readings already stored."""

    @property
    def rejected(self) -> int:
        """Records kept as rejections."""


#: Ingests records (committing them) under a source name; raises if they were not committed.
Ingest = Callable[[list[dict[str, Any]], str], IngestOutcome]
#: Keeps one rejection (committing it); raises if it was not kept.
Reject = Callable[[Rejection], None]


def parse_payload(payload: bytes | bytearray, topic: str) -> list[dict[str, Any]]:
    """The records of a message, each with a channel (taken from the topic where missing).

    Raises
    ------
    PayloadError
        The payload is not JSON (reason ``not JSON: ...``) or not one of the supported forms
        (reason ``malformed payload: ...``).
    """
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"not JSON: {exc}") from exc
    if isinstance(data, dict) and "readings" in data:
        data = data["readings"]
        if not isinstance(data, list):
            raise PayloadError("malformed payload: 'readings' must be a list of objects")
    records = data if isinstance(data, list) else [data]
    if not all(isinstance(record, dict) for record in records):
        raise PayloadError(
            "malformed payload: expected an object, a list of objects or {\"readings\": [...]}"
        )
    channel = topic.rsplit("/", 1)[-1]
    return [record if "channel" in record else {**record, "channel": channel}
            for record in records]


def _text(payload: bytes | bytearray) -> str:
    return payload.decode("utf-8", errors="replace")[:MAX_REJECTED_TEXT]


def batch_source(topics: list[str]) -> str:
    """The source name of records from messages on ``topics``: ``mqtt:`` and a topic filter.

    One topic gives itself; several give their common levels, ``+`` where they differ and
    ``#`` for levels not all of them have.

    >>> batch_source(["shuian/a/WL1", "shuian/a/AT1"])
    'mqtt:shuian/a/+'
    >>> batch_source(["shuian/a/WL1", "shuian/b/auto/1"])
    'mqtt:shuian/+/#'
    """
    distinct = sorted(set(topics))
    if len(distinct) == 1:
        return f"mqtt:{distinct[0]}"
    split = [topic.split("/") for topic in distinct]
    shortest = min(len(levels) for levels in split)
    common = [
        level_set.pop() if len(level_set := {levels[i] for levels in split}) == 1 else "+"
        for i in range(shortest)
    ]
    if any(len(levels) > shortest for levels in split):
        common = [*common[:-1], "#"] if common and common[-1] == "+" else [*common, "#"]
    return "mqtt:" + "/".join(common)


class MqttSource:
    """Subscribes to a broker and ingests every message, acknowledging it once committed.

    ``ingest(records, source)`` and ``reject(rejection)`` are called in the source's own thread
    (the one running :meth:`run_forever`), ``ingest`` once per batch of messages and ``reject``
    once per unreadable payload; both must commit before they return and raise if they could
    not.
    """

    def __init__(self, settings: MqttSettings, ingest: Ingest, reject: Reject) -> None:
        self.settings = settings
        self._ingest = ingest
        self._reject = reject
        self._stopping = threading.Event()
        self._reconnect = threading.Event()
        self._subscribed = threading.Event()
        self._thread: threading.Thread | None = None
        #: Messages received and not yet ingested (touched only in the source's thread).
        self._batch: list[mqtt.MQTTMessage] = []
        self._state = SourceStatus("mqtt", f"{settings.host}:{settings.port}",
                                   label=f"mqtt {settings.client_id}")
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=settings.client_id,
            protocol=MQTTProtocolVersion.MQTTv5,
            reconnect_on_failure=False,
            manual_ack=True,
        )
        if settings.username is not None:
            client.username_pw_set(settings.username, settings.password())
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Run :meth:`run_forever` in a background thread."""
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self.run_forever, name=f"shuian-mqtt-{self.settings.client_id}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Disconnect (the broker keeps the session) and wait for the thread to end."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wait_subscribed(self, timeout: float) -> bool:
        """Wait until the broker has confirmed the subscriptions; False if it has not yet."""
        return self._subscribed.wait(timeout)

    def run_forever(self) -> None:
        """Connect, receive and reconnect until :meth:`stop` is called."""
        s = self.settings
        while not self._stopping.is_set():
            self._reconnect.clear()
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = s.session_expiry
            properties.ReceiveMaximum = s.max_batch
            try:
                self._client.connect(
                    s.host, s.port, keepalive=s.keepalive, clean_start=False,
                    properties=properties,
                )
            except OSError as exc:
                self._state.note_error(f"cannot reach the MQTT broker at {s.host}:{s.port}: {exc}")
                self._stopping.wait(s.retry_delay)
                continue
            while not (self._stopping.is_set() or self._reconnect.is_set()):
                waiting = len(self._batch)
                # With messages waiting, only look for more that are already here.
                if self._client.loop(timeout=0.0 if waiting else 0.1) != (
                    MQTTErrorCode.MQTT_ERR_SUCCESS
                ):
                    self._state.note_error(f"lost the connection to {s.host}:{s.port}")
                    self._reconnect.set()
                elif self._batch and (len(self._batch) == waiting
                                      or len(self._batch) >= s.max_batch):
                    self._ingest_batch()
            # Messages not ingested are not acknowledged: the broker delivers them again.
            self._batch.clear()
            self._disconnect()
            if not self._stopping.is_set():
                # Un-acknowledged messages come again once we are back in the session.
                self._stopping.wait(s.retry_delay)

    def _disconnect(self) -> None:
        self._client.disconnect()
        for _ in range(20):  # let the DISCONNECT go out and the socket close
            if self._client.loop(timeout=0.05) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                break
        self._subscribed.clear()
        self._state.set(connected=False)

    # -- status ---------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Where the source stands, as JSON-ready values.

        ``kind`` (``mqtt``), ``endpoint`` (the broker), ``connected``; ``messages`` received;
        readings ``accepted``, ``duplicates`` and ``rejected`` (records, unreadable payloads,
        messages that failed alone); ``failures`` (ingests that the store refused, their
        messages left for redelivery); ``last_message_at``, ``last_error`` and
        ``last_error_at`` (ISO 8601, UTC).
        """
        return self._state.as_json()

    # -- paho callbacks (in the thread running run_forever) ---------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            self._state.note_error(f"the broker refused the connection: {reason_code}")
            self._reconnect.set()
            return
        self._state.set(connected=True)
        options = SubscribeOptions(
            qos=self.settings.qos, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB
        )
        client.subscribe([(topic, options) for topic in self.settings.topics])

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        refused = [
            f"{topic} ({code})"
            for topic, code in zip(self.settings.topics, reason_codes, strict=False)
            if code.is_failure
        ]
        if refused:
            self._state.note_error(f"the broker refused the subscriptions {', '.join(refused)}")
        self._subscribed.set()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._state.set(connected=False)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self._state.count(messages=1)
        self._state.set(last_message_at=dt.datetime.now(dt.UTC))
        self._batch.append(message)

    # -- ingest (in the thread running run_forever) -----------------------------------------

    def _ingest_batch(self) -> None:
        """Ingest the waiting messages in one call; acknowledge each once it is committed.

        An unreadable payload is kept as a rejection and acknowledged by itself, before the
        ingest. When the store fails (the database is away), the messages not acknowledged yet
        are left for redelivery and the source reconnects. Any other failure is the messages'
        own: they are tried one by one, and one that fails alone is kept as a rejection with
        the error and acknowledged, so that it cannot block the topic by coming back forever.
        """
        batch, self._batch = self._batch, []
        readable: list[tuple[mqtt.MQTTMessage, list[dict[str, Any]]]] = []
        source = batch_source([message.topic for message in batch])
        try:
            for message in batch:
                try:
                    readable.append((message, parse_payload(message.payload, message.topic)))
                except PayloadError as exc:
                    source = f"mqtt:{message.topic}"
                    self._reject(Rejection(source, None, _text(message.payload), exc.reason))
                    self._state.count(rejected=1)
                    self._client.ack(message.mid, message.qos)
            self._store(readable)
        except Exception as exc:  # noqa: BLE001 - not committed: leave them for redelivery
            self._state.count(failures=1)
            self._state.note_error(f"{source}: not stored, will be delivered again: {exc}")
            self._reconnect.set()

    def _store(self, readable: list[tuple[mqtt.MQTTMessage, list[dict[str, Any]]]]) -> None:
        """Ingest readable messages in one call and acknowledge them; see :meth:`_ingest_batch`.

        Raises
        ------
        StoreError
            Nothing of the failed call is acknowledged.
        """
        records = [record for _, message_records in readable for record in message_records]
        try:
            if records:
                report = self._ingest(records, batch_source([m.topic for m, _ in readable]))
                self._state.count(accepted=report.accepted, duplicates=report.duplicates,
                            rejected=report.rejected)
        except StoreError:
            raise
        except Exception as exc:  # noqa: BLE001 - the messages' own failure (see above)
            if len(readable) > 1:
                for item in readable:
                    self._store([item])
                return
            message = readable[0][0]
            reason = f"could not be ingested: {type(exc).__name__}: {exc}"
            self._reject(Rejection(f"mqtt:{message.topic}", None, _text(message.payload), reason))
            self._state.count(rejected=1)
            self._state.note_error(f"mqtt:{message.topic}: kept as a rejection, {reason}")
        for message, _ in readable:
            self._client.ack(message.mid, message.qos)
