"""Readings that arrive over MQTT, with nothing lost and no message able to stop the source.

:class:`MqttSource` subscribes to the configured topics with QoS 1 in a persistent session
(MQTT 5, a fixed client id, ``clean_start`` off, a session expiry) and acknowledges a message
only after its readings are committed. Whose fault a failure is decides what happens to the
message, and :func:`shuian.faults.blame` alone decides it:

- the **system's** (the store is away): the message is not acknowledged; the source
  disconnects, waits ``retry_delay`` seconds and reconnects, and the broker delivers it again;
- the **message's own** (not JSON, nested deeper than :data:`MAX_DEPTH` levels, over
  ``max_payload`` bytes or ``max_records`` records, a NUL byte, a channel name the store cannot
  take, a time outside the supported range, or any other failure of its ingest): the message is
  kept as a rejection (source ``mqtt:<topic>``, its text with control characters escaped and
  capped at :data:`MAX_REJECTED_TEXT` characters, and the reason) and acknowledged, so that it
  cannot come back forever and hold up the topic.

Messages are ingested in batches: the messages waiting when the source gets to them (up to
``max_batch``, and about ``max_payload`` bytes of payload) go into one ingest, so one commit
and one evaluation by the analysis serve them all. A quiet broker gives batches of one message;
a busy one gives batches as large as the backlog that built up during the previous commit,
which is what lets ingest keep up. An unreadable payload in a batch is kept and acknowledged on
its own and does not hold up the others. If the batch's ingest fails for the system's fault,
none of its readable messages is acknowledged and all of them come again; if it fails for a
message's own, the batch is ingested again in halves until the message to blame is alone, and
only that one is kept as a rejection. ``max_batch`` is also sent to the broker as the MQTT 5
Receive Maximum (how many unacknowledged messages it may have on the way to the source at
once), and :data:`PACKET_FACTOR` times ``max_payload`` as the Maximum Packet Size: a larger
message the broker does not deliver at all (Mosquitto drops it and logs so), which bounds the
memory one message can take; a message between the two is kept as a rejection, unread.

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
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from shuian.faults import Fault, blame, printable, reason_of
from shuian.json_shape import scan_json
from shuian.readings import Rejection
from shuian.site.telemetry import MqttSettings
from shuian.sources.base import MAX_REJECTED_TEXT, Ingest, Reject, Source, SourceContext, keep
from shuian.sources.status import SourceStatus

__all__ = [
    "MAX_DEPTH",
    "PACKET_FACTOR",
    "MqttSource",
    "PayloadError",
    "open_sources",
    "parse_payload",
]

log = logging.getLogger(__name__)

#: Deepest nesting of arrays and objects a payload may have (the supported forms need 3).
MAX_DEPTH = 32

#: The largest packet the broker may send, in ``max_payload``: a payload up to this size is
#: received and kept as a rejection, a larger one is not delivered (MQTT 5 Maximum Packet Size).
PACKET_FACTOR = 16

#: The largest Maximum Packet Size MQTT can say (bytes).
MQTT_MAX_PACKET = 268_435_455


class PayloadError(ValueError):
    """A payload that is not JSON or not one of the supported forms; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_payload(
    payload: bytes | bytearray,
    topic: str,
    *,
    max_payload: int = 1 << 20,
    max_records: int = 10_000,
) -> list[dict[str, Any]]:
    """The records of a message, each with a channel (taken from the topic where missing).

    Parameters
    ----------
    payload : bytes
        The message, UTF-8 JSON in one of the supported forms.
    topic : str
        Its topic; the last level is the channel of records without one.
    max_payload : int
        Most bytes read; a larger payload is refused before it is parsed.
    max_records : int
        Most records one message may hold.

    Raises
    ------
    PayloadError
        The payload is too large (reason ``payload of N bytes ...``), not JSON (``not JSON:
        ...``), nested too deep (``nested deeper than 32 levels ...``), holds too many records
        (``N records ...``) or is not one of the supported forms (``malformed payload: ...``).
    """
    if len(payload) > max_payload:
        raise PayloadError(
            f"payload of {len(payload)} bytes, over the limit of {max_payload} bytes "
            "(telemetry.mqtt.max_payload): not read"
        )
    brackets = payload.count(b"[") + payload.count(b"{")
    # Measured before it is parsed (fewer brackets cannot be deeper).
    if brackets > MAX_DEPTH and scan_json(bytes(payload), max_depth=MAX_DEPTH).depth > MAX_DEPTH:
        raise PayloadError(
            f"nested deeper than {MAX_DEPTH} levels of arrays and objects: not read"
        )
    try:
        data = json.loads(bytes(payload).decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"not JSON: {printable(str(exc))}") from exc
    if isinstance(data, dict) and "readings" in data:
        data = data["readings"]
        if not isinstance(data, list):
            raise PayloadError("malformed payload: 'readings' must be a list of objects")
    records = data if isinstance(data, list) else [data]
    if len(records) > max_records:
        raise PayloadError(
            f"{len(records)} records in one message, over the limit of {max_records} "
            "(telemetry.mqtt.max_records): not read"
        )
    if not all(isinstance(record, dict) for record in records):
        raise PayloadError(
            "malformed payload: expected an object, a list of objects or {\"readings\": [...]}"
        )
    channel = topic.rsplit("/", 1)[-1]
    return [record if "channel" in record else {**record, "channel": channel}
            for record in records]


def _text(payload: bytes | bytearray) -> str:
    """The start of a payload as text for a rejection: control characters escaped, capped."""
    head = bytes(payload[: 4 * MAX_REJECTED_TEXT]).decode("utf-8", errors="replace")
    return printable(head[:MAX_REJECTED_TEXT])[:MAX_REJECTED_TEXT]




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
    once per message kept as a rejection; both must commit before they return and raise if they
    could not (what they raise is judged by :func:`shuian.faults.blame`).
    """

    def __init__(self, settings: MqttSettings, ingest: Ingest, reject: Reject) -> None:
        self.settings = settings
        self._ingest = ingest
        self._reject = reject
        self._stopping = threading.Event()
        self._reconnect = threading.Event()
        self._subscribed = threading.Event()
        self._thread: threading.Thread | None = None
        #: Messages received and not yet ingested, and their payload bytes (touched only in
        #: the source's thread).
        self._batch: list[mqtt.MQTTMessage] = []
        self._batch_bytes = 0
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
            properties.MaximumPacketSize = min(PACKET_FACTOR * s.max_payload, MQTT_MAX_PACKET)
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
                                      or len(self._batch) >= s.max_batch
                                      or self._batch_bytes >= s.max_payload):
                    self._ingest_batch()
            # Messages not ingested are not acknowledged: the broker delivers them again.
            self._batch.clear()
            self._batch_bytes = 0
            self._disconnect()
            if not self._stopping.is_set():
                # Un-acknowledged messages come again once we are back in the session.
                self._stopping.wait(s.retry_delay)

    def _disconnect(self) -> None:
        self._client.disconnect()
        for _ in range(20):  # let the DISCONNECT go out and the socket close
            if self._client.socket() is None or self._client.loop(timeout=0.05) != (
                MQTTErrorCode.MQTT_ERR_SUCCESS
            ):
                break
        self._subscribed.clear()
        self._state.set(connected=False)

    # -- status ---------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Where the source stands, as JSON-ready values.

        ``kind`` (``mqtt``), ``endpoint`` (the broker), ``connected``; ``messages`` received;
        readings ``accepted``, ``duplicates`` and ``rejected`` (records, and messages kept as
        rejections: unreadable, over a limit, or failing alone); ``failures`` (ingests that
        failed for the system's fault, the store away: their messages left for redelivery);
        ``last_message_at``, ``last_error`` and ``last_error_at`` (ISO 8601, UTC).
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
        self._batch_bytes += len(message.payload)

    # -- ingest (in the thread running run_forever) -----------------------------------------

    def _ingest_batch(self) -> None:
        """Ingest the waiting messages in one call; acknowledge each once it is settled.

        A message is settled when its readings are committed or it is kept as a rejection (see
        :meth:`_settle`). An unreadable payload is settled by itself, before the ingest. When
        the system is to blame (the store is away), the messages not settled yet are left for
        redelivery and the source reconnects.
        """
        batch, self._batch, self._batch_bytes = self._batch, [], 0
        s = self.settings
        try:
            readable: list[tuple[mqtt.MQTTMessage, list[dict[str, Any]]]] = []
            for message in batch:
                try:
                    records = parse_payload(message.payload, message.topic,
                                            max_payload=s.max_payload, max_records=s.max_records)
                except Exception as exc:  # noqa: BLE001 - judged in _settle
                    self._settle([(message, [])], exc)
                    continue
                readable.append((message, records))
            self._store(readable)
        except Exception as exc:  # noqa: BLE001 - the system's fault (_settle): not committed
            self._state.count(failures=1)
            self._state.note_error(
                f"{batch_source([m.topic for m in batch])}: not stored, will be delivered "
                f"again: {reason_of(exc)}"
            )
            self._reconnect.set()

    def _store(self, readable: list[tuple[mqtt.MQTTMessage, list[dict[str, Any]]]]) -> None:
        """Ingest readable messages in one call and acknowledge them; a failure is settled.

        Raises
        ------
        Exception
            The system is to blame (see :meth:`_settle`): nothing of the call is acknowledged.
        """
        records = [record for _, message_records in readable for record in message_records]
        try:
            if records:
                report = self._ingest(records, batch_source([m.topic for m, _ in readable]))
                self._state.count(accepted=report.accepted, duplicates=report.duplicates,
                                  rejected=report.rejected)
        except Exception as exc:  # noqa: BLE001 - judged in _settle
            self._settle(readable, exc)
            return
        for message, _ in readable:
            self._client.ack(message.mid, message.qos)

    def _settle(
        self, failed: list[tuple[mqtt.MQTTMessage, list[dict[str, Any]]]], exc: Exception
    ) -> None:
        """Decide what becomes of messages whose parse or ingest raised ``exc``: the one place.

        The system's fault (:func:`~shuian.faults.blame`): ``exc`` is raised again, the messages
        stay unacknowledged and come again. The messages' own: several are ingested again in
        halves, until the one to blame is alone; one alone is kept as a rejection (the payload
        text and the reason) and acknowledged.
        """
        if blame(exc) is Fault.SYSTEM:
            raise exc
        if len(failed) > 1:
            half = len(failed) // 2
            self._store(failed[:half])
            self._store(failed[half:])
            return
        [(message, _)] = failed
        source = f"mqtt:{message.topic}"
        if isinstance(exc, PayloadError):
            reason = exc.reason
        else:
            reason = f"could not be ingested: {reason_of(exc)}"
            self._state.note_error(f"{printable(source)}: kept as a rejection, {reason}")
        keep(self._reject, Rejection(source, None, _text(message.payload), reason))
        self._state.count(rejected=1)
        self._client.ack(message.mid, message.qos)


def open_sources(settings: MqttSettings, context: SourceContext) -> dict[str, Source]:
    """The MQTT source of a site (``telemetry: {mqtt: ...}``), by name: ``mqtt``."""
    return {"mqtt": MqttSource(settings, context.ingest, context.reject)}
