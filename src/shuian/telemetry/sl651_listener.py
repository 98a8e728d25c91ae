"""The SL 651-2014 centre: a TCP listener for remote telemetry units (RTUs).

:class:`Sl651Listener` accepts any number of station connections on one port, cuts frames out
of each byte stream, checks their CRC, maps station address + element identifier to a channel
of the site (``telemetry: {sl651: {stations: ...}}``), stores the readings and only then answers
with the acknowledgement frame of the standard (down frame, same function code and serial
number, end EOT or ESC). Frames from all connections that arrive together are committed in one
ingest, so hundreds of stations reporting on the hour cost one transaction, not hundreds.

Nothing is lost: a frame that cannot be taken (malformed, CRC mismatch, unknown station,
wrong password, an element that maps to no channel) is kept as a rejection with its bytes in
hex and the reason; a frame whose readings could not be committed (the database is away) is
not acknowledged, so the station sends it again. A frame with a CRC mismatch is answered NAK
(``15``), which asks the station to send it again.

A report holding blocks that cannot be laid out (vendor blocks: an identifier written twice,
``79 79``, ``F9 F9``..., whose length no data-definition byte gives) is not lost: its standard
elements are stored, each such block is kept as a rejection (its bytes in hex, the byte offset
where alignment was lost and why), and the report is acknowledged, so that the station does not
send it again and again. A configuration, query or control frame (functions 40H to 51H: clock,
password, basic configuration, runtime parameters, status, pump/gate/valve control...) carries
parameters, not readings: it is kept with its decoded parameters ("configuration reply
(function 43H, read runtime parameters): not readings") and not answered, being the station's
reply to the centre's own query or command. A manual entry (function 35, ``F2 F2``) keeps its
text as sent, acknowledged.

A uniform-interval report (function 31) gives one reading per value, value *i* at the
observation time + *i* × the time step (see :mod:`shuian.telemetry.sl651`).

Multi-packet messages (SYN, mode M3) are put together per connection, keyed by station, function
code and packet total: packets before the last are not answered; once every packet is in, the
joined body is decoded and stored like a single report, then acknowledged with the packet
numbers (total, total); when the last packet has come and some are missing, the centre answers
NAK with the first missing packet's number, and a packet with a CRC mismatch is answered NAK
with its own number (the answers as yushun1990/sl651_bridge builds them, protocol/src/ack.rs and
bridge/src/session.rs; yu-xiaoyao/sl651-2014-server's centre likewise answers nothing before the
last packet and marks a missing one for NAK with its number; a station firmware in the public
code index, camera.c, sends its packets back to back without waiting). A message still
incomplete when its connection closes is kept as a rejection (every packet received, in hex, and
which are missing). A message is bounded to :data:`MAX_MESSAGE_BYTES`, a connection to
:data:`MAX_MESSAGES` messages in progress. A picture (function 36) is not a reading: it is
counted in the status (``pictures``) and kept as a rejection with its bytes in hex (only its
size when it is :data:`MAX_PICTURE_HEX` bytes or more); the store keeps a rejection's raw
text up to ``shuian.store.base.MAX_RAW_TEXT`` characters (a 128 KiB message in hex).

A site file configures it like this::

    telemetry:
      sl651:
        port: 5005
        stations:
          - address: "0012345678"          # 10 hex digits, quoted
            name: Dam crest gauge
            elements: {"39": WL.level, "38": LOG.batt, "20": RAIN.mm}
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
import threading
import zoneinfo
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shuian.errors import Sl651Error
from shuian.readings import Rejection
from shuian.telemetry.mqtt import Ingest, IngestOutcome, Reject
from shuian.telemetry.sl651 import (
    Element,
    Sl651Frame,
    acknowledgement,
    decode_body,
    decode_frame,
    frame_size,
    header_size,
)
from shuian.telemetry.status import SourceStatus

__all__ = ["Sl651Listener", "Sl651Settings", "Sl651Station", "frame_records"]

log = logging.getLogger(__name__)

#: Function codes of reports the centre acknowledges (Annex B: test to picture).
ACKNOWLEDGED_FUNCTIONS = frozenset(range(0x30, 0x37))
LINK_KEEP_ALIVE = 0x2F
#: Elements that describe other elements rather than being readings (time-step code).
STRUCTURAL_ELEMENTS = frozenset({"04"})
#: Time between the values of an array element (F4–FC).
ARRAY_STEP = dt.timedelta(minutes=5)
#: Most bytes kept of a run of bytes that is not a frame (the rest is counted).
MAX_GARBAGE = 4096
#: Seconds a station may take to send the rest of a frame it has begun.
FRAME_TIMEOUT = 30.0
#: Most bytes (whole packets) kept of one multi-packet message; beyond, it is kept as a rejection.
MAX_MESSAGE_BYTES = 1 << 20
#: Most multi-packet messages in progress on one connection; beyond, the oldest is closed.
MAX_MESSAGES = 8
#: Pictures of this many bytes or more keep only their size in their rejection (128 KiB: the
#: hex of a smaller one fits the store's raw text, ``shuian.store.base.MAX_RAW_TEXT``).
MAX_PICTURE_HEX = 128 * 1024
#: Seconds the listener waits, when it stops, for connections to keep what they still hold.
STOP_GRACE = 5.0


class Sl651Station(BaseModel):
    """One RTU: its address, and which channel each of its elements feeds.

    Attributes
    ----------
    address : the station address as 10 hex digits (quote it in YAML)
    name : a name for people (status pages); default the address
    password : 4 hex digits; when given, frames with another password are refused
    timezone : the station's clock (IANA name); default the site's
    elements : element identifier (two hex digits of Annex C, e.g. ``39`` river level,
        ``38`` supply voltage, or a vendor's) -> channel code
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    address: str = Field(pattern=r"^[0-9A-Fa-f]{10}$")
    name: str | None = None
    password: str | None = Field(default=None, pattern=r"^[0-9A-Fa-f]{4}$")
    timezone: str | None = None
    elements: dict[str, str] = Field(min_length=1)

    @field_validator("address", "password", mode="before")
    @classmethod
    def _quoted(cls, value: Any) -> Any:
        if isinstance(value, int):
            raise ValueError(f"{value} was read as a number: quote it, e.g. \"{value:010d}\"")
        return value.upper() if isinstance(value, str) else value

    @field_validator("elements", mode="before")
    @classmethod
    def _element_ids(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        ids: dict[str, Any] = {}
        for key, channel in value.items():
            # YAML reads 39 as a number and 07 as octal 7: both mean the two digits written.
            text = f"{key:02d}" if isinstance(key, int) else str(key).upper()
            if len(text) != 2 or any(c not in "0123456789ABCDEF" for c in text):
                raise ValueError(f"element {key!r}: an identifier is two hex digits, e.g. 39")
            ids[text] = channel
        return ids

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None and value not in zoneinfo.available_timezones():
            raise ValueError(f"unknown time zone {value!r} (an IANA name, e.g. Asia/Shanghai)")
        return value

    @property
    def label(self) -> str:
        """The name, else the address."""
        return self.name or self.address


class Sl651Settings(BaseModel):
    """The centre's listener (``telemetry: {sl651: ...}``).

    Attributes
    ----------
    host, port : where to listen (port 0: any free port, for tests)
    center : the centre address (1 byte); when given, frames addressed to another are refused
    acknowledge : answer reports (function codes 30–36) once stored (modes M2/M4)
    keep_open : end the acknowledgement with ESC (keep the link 10 minutes) instead of EOT
    idle_timeout : seconds of silence after which a connection is closed
    max_connections : connections open at once; one more is closed at once (and counted in
        ``refused``), so that a flood cannot take the centre's file descriptors
    stations : the RTUs and their element-to-channel maps
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "0.0.0.0"
    port: int = Field(default=5005, ge=0, le=65535)
    center: int | None = Field(default=None, ge=0, le=255)
    acknowledge: bool = True
    keep_open: bool = False
    idle_timeout: float = Field(default=600.0, gt=0)
    max_connections: int = Field(default=2000, ge=1)
    stations: tuple[Sl651Station, ...] = Field(min_length=1)

    @field_validator("stations")
    @classmethod
    def _unique(cls, stations: tuple[Sl651Station, ...]) -> tuple[Sl651Station, ...]:
        seen: set[str] = set()
        for station in stations:
            if station.address in seen:
                raise ValueError(f"station {station.address} is listed twice")
            seen.add(station.address)
        return stations


def frame_records(
    frame: Sl651Frame, station: Sl651Station
) -> tuple[list[dict[str, Any]], list[Element]]:
    """The readings of a report for a station's channels, and the elements that map to none.

    A reading's ``time`` is the element's observation time (ISO 8601, in the station's zone
    when it names one, else without an offset: the site's zone). A uniform-interval series
    (function 31, an element with a ``time_step``) gives one reading per value, value *i* at
    the observation time + *i* × the step (the first value is observed at the observation time;
    sources in :mod:`shuian.telemetry.sl651`). An array element (twelve 5-minute values,
    ``F4``–``FC``) likewise gives value *i* at the observation time + 5 *i* minutes: the first
    value is the observation time's (yushun1990/sl651_bridge, "表36: 观测时间是第一组数据时间";
    wainshine/SL651, "第1时段(0min)"; a real Fujian hourly report observed 12:20 and sent 13:15:25
    fits only this). Missing values (all F) and the time-step code are not readings.
    """
    zone = zoneinfo.ZoneInfo(station.timezone) if station.timezone else None
    records: list[dict[str, Any]] = []
    unmapped: list[Element] = []
    for item in frame.elements:
        if item.id in STRUCTURAL_ELEMENTS:
            continue
        channel = station.elements.get(item.id)
        if channel is None:
            unmapped.append(item)
            continue
        observed = item.observed_time or frame.observed_time or frame.send_time
        if observed is None:
            continue
        if item.values:
            step = item.time_step or ARRAY_STEP
            points = [(observed + i * step, v) for i, v in enumerate(item.values)]
        else:
            points = [(observed, item.value)]
        for time, value in points:
            if value is None:
                continue
            stamp = time.replace(tzinfo=zone) if zone is not None else time
            records.append({
                "channel": channel, "time": stamp.isoformat(), "value": value,
                "station": frame.station, "element": item.id, "serial": frame.serial,
            })
    return records, unmapped


@dataclass
class _Peer:
    """What the status shows of one station."""

    name: str
    station: str
    connections: int = 0
    address: str | None = None
    messages: int = 0
    rejected: int = 0
    pictures: int = 0
    last_message_at: dt.datetime | None = None
    last_error: str | None = None
    last_error_at: dt.datetime | None = None
    clock_offset_s: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "station": self.station, "connected": self.connections > 0,
            "address": self.address, "messages": self.messages, "rejected": self.rejected,
            "pictures": self.pictures,
            "last_message_at": _iso(self.last_message_at), "last_error": self.last_error,
            "last_error_at": _iso(self.last_error_at), "clock_offset_s": self.clock_offset_s,
        }


@dataclass
class _Message:
    """The packets of one multi-packet message received so far on a connection.

    ``packets`` maps a sequence number (1 to ``total``) to the packet's frame and bytes;
    ``dropped`` is set once the message passed :data:`MAX_MESSAGE_BYTES` (its packets were kept
    as a rejection, and the rest of it are kept one by one until a packet 1 begins another).
    """

    station: str
    function_code: int
    total: int
    packets: dict[int, tuple[Sl651Frame, bytes]] = field(default_factory=dict)
    last_seen: bool = False
    dropped: bool = False

    @property
    def size(self) -> int:
        """Bytes of the packets kept."""
        return sum(len(data) for _, data in self.packets.values())

    def missing(self) -> list[int]:
        """Sequence numbers not received yet."""
        return [n for n in range(1, self.total + 1) if n not in self.packets]

    def body(self) -> bytes:
        """The bodies of the packets, in sequence order, joined."""
        return b"".join(self.packets[n][0].body for n in sorted(self.packets))

    def raw(self) -> str:
        """The packets received, whole and in sequence order, in hex."""
        return b"".join(self.packets[n][1] for n in sorted(self.packets)).hex().upper()

    def serial(self) -> int:
        """The serial number packet 1 carries (0 before packet 1 has come)."""
        if 1 not in self.packets:
            return 0
        frame, _ = self.packets[1]
        head = frame.body[:4] if frame.mode == "ascii" else frame.body[:2].hex()
        try:
            return int(head, 16)
        except ValueError:
            return 0

    def describe(self) -> str:
        missing = self.missing()
        return (f"multi-packet message (function {self.function_code:02X}, {self.total} "
                f"packets, {len(self.packets)} received"
                + (f", missing {_numbers(missing)}" if missing else "") + ")")


@dataclass
class _Pending:
    """Work for the writer: readings and rejections of frames waiting for one commit."""

    records: list[dict[str, Any]] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    waiters: list[asyncio.Future[None]] = field(default_factory=list)


class _Rejected(Exception):
    """A frame kept as a rejection; ``answer`` is what to send back (None: nothing)."""

    def __init__(
        self,
        rejection: Rejection,
        answer: bytes | None,
        *,
        station: str | None = None,
        close: bool = False,
    ) -> None:
        super().__init__(rejection.reason)
        self.rejection = rejection
        self.answer = answer
        self.station = station
        self.close = close


class Sl651Listener:
    """The centre's TCP listener; runs its own event loop in a background thread.

    ``ingest(records, source)`` and ``reject(rejection)`` are called in one writer thread; both
    must commit before they return and raise if they could not.
    """

    def __init__(
        self,
        settings: Sl651Settings,
        ingest: Ingest,
        reject: Reject,
        *,
        timezone: str = "UTC",
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.settings = settings
        self._ingest = ingest
        self._reject = reject
        self._zone = zoneinfo.ZoneInfo(timezone)
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._stations = {s.address: s for s in settings.stations}
        self._peers = {s.address: _Peer(s.label, s.address) for s in settings.stations}
        self._lock = threading.Lock()
        self._listening = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._pending = _Pending()
        self._open: set[asyncio.StreamWriter] = set()
        self._wake: asyncio.Event | None = None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shuian-sl651")
        self.port: int = settings.port
        self._state = SourceStatus(
            "sl651", f"{settings.host}:{settings.port}", label="sl651",
            counts=("connections", "pictures", "refused"), clock=self._clock,
        )
        self._handlers: set[asyncio.Task[None]] = set()

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Listen in a background thread (returns at once; see :meth:`wait_listening`)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="shuian-sl651", daemon=True)
        self._thread.start()

    def wait_listening(self, timeout: float) -> bool:
        """Wait until the port is open; False if it is not yet (see ``last_error``)."""
        return self._listening.wait(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Close the port and every connection, and wait for the thread to end."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except OSError as exc:
            s = self.settings
            self._state.note_error(f"cannot listen on {s.host}:{s.port}: {exc}")
        finally:
            self._listening.clear()
            self._state.set(connected=False)

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        server = await asyncio.start_server(
            self._connection, self.settings.host, self.settings.port, limit=1 << 16
        )
        self.port = server.sockets[0].getsockname()[1]
        self._state.set(connected=True, endpoint=f"{self.settings.host}:{self.port}")
        self._listening.set()
        batcher = asyncio.create_task(self._batcher())
        await self._stop.wait()
        server.close()
        # Open connections end here: a frame not yet acknowledged comes again later; the
        # packets of incomplete messages are kept (as rejections) before the writer stops.
        for writer in list(self._open):
            writer.close()
        await server.wait_closed()
        if self._handlers:
            await asyncio.wait(list(self._handlers), timeout=STOP_GRACE)
        batcher.cancel()

    # -- status ---------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Where the listener stands, as JSON-ready values.

        ``kind`` (``sl651``), ``endpoint``, ``connected`` (listening), ``connections`` open,
        ``messages`` (frames, each packet of a multi-packet message one) received, readings
        ``accepted`` and ``duplicates``, ``rejected`` (frames, messages and elements kept as
        rejections), ``pictures`` received (kept as rejections, not counted in ``rejected``),
        ``failures`` (commits that failed, the frames left unacknowledged), ``refused``
        (connections over ``max_connections``),
        ``last_message_at``, ``last_error`` and ``last_error_at`` (an error older than the last
        message has passed), and ``peers``: per station, whether it is connected, from where,
        its frames, rejections, pictures, last error, and ``clock_offset_s`` (seconds its clock
        was ahead of the centre's at its last frame).
        """
        status = self._state.as_json()
        with self._lock:
            status["peers"] = [peer.as_json() for peer in self._peers.values()]
        return status

    def _peer(self, station: str) -> _Peer:
        """The status entry of a station (unknown stations get one too)."""
        peer = self._peers.get(station)
        if peer is None:
            peer = self._peers[station] = _Peer(f"{station} (unknown)", station)
        return peer

    # -- connections ----------------------------------------------------------------------

    async def _connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        host, port = writer.get_extra_info("peername")[:2]
        remote = f"{host}:{port}"
        if len(self._open) >= self.settings.max_connections:
            self._state.count(refused=1)
            self._state.note_error(f"{remote}: refused, {len(self._open)} connections are open "
                             f"(max_connections {self.settings.max_connections})")
            writer.close()
            return
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        self._state.count(connections=1)
        self._open.add(writer)
        stations: set[str] = set()
        messages: dict[tuple[str, int, int], _Message] = {}
        buffer = bytearray()
        try:
            while True:
                timeout = FRAME_TIMEOUT if buffer else self.settings.idle_timeout
                try:
                    chunk = await asyncio.wait_for(reader.read(1 << 16), timeout)
                except TimeoutError:
                    chunk = b""
                if not chunk:
                    if buffer:
                        await self._commit([], [self._rejection(
                            remote, bytes(buffer),
                            f"frame truncated: the connection ended after {len(buffer)} bytes"
                            + _expected(buffer),
                        )], station=None)
                    return
                buffer += chunk
                frames, garbage = _cut(buffer)
                if garbage:
                    await self._commit([], [self._rejection(
                        remote, garbage[:MAX_GARBAGE],
                        f"{len(garbage)} bytes that are not a frame (no 7E7E or SOH start)",
                    )], station=None)
                for data in frames:
                    answer, close = await self._frame(data, remote, stations, messages)
                    if answer is not None:
                        writer.write(answer)
                        await writer.drain()
                    if close:
                        return
        except ConnectionError:
            return
        except _NotStored as exc:
            self._state.count(failures=1)
            self._state.note_error(f"{remote}: not stored, the station will send it again: {exc}")
        finally:
            self._state.count(connections=-1)
            with self._lock:
                for station in stations:
                    self._peer(station).connections -= 1
            self._open.discard(writer)
            writer.close()
            try:
                await self._abandon(messages, "the connection closed")
            finally:
                if task is not None:
                    self._handlers.discard(task)

    async def _frame(
        self,
        data: bytes,
        remote: str,
        stations: set[str],
        messages: dict[tuple[str, int, int], _Message],
    ) -> tuple[bytes | None, bool]:
        """Take one frame; return the answer to send (if any) and whether to close after it."""
        self._state.count(messages=1)
        now = self._clock()
        self._state.set(last_message_at=now)
        try:
            frame = self._check(data, remote, messages)
        except _Rejected as rejected:
            await self._commit([], [rejected.rejection], station=rejected.station)
            return rejected.answer, rejected.close
        with self._lock:
            peer = self._peer(frame.station)
            peer.messages += 1
            peer.last_message_at = now
            peer.address = remote
            peer.clock_offset_s = self._clock_offset(frame, now)
            if frame.station not in stations:
                stations.add(frame.station)
                peer.connections += 1
        if frame.function_code == LINK_KEEP_ALIVE:
            return None, False
        if frame.packets is not None:
            return await self._packet(frame, data, remote, messages), False
        return await self._report(frame, data=data), False

    async def _report(
        self,
        frame: Sl651Frame,
        *,
        packets: tuple[int, int] | None = None,
        data: bytes | None = None,
    ) -> bytes | None:
        """Store a decoded report (one frame, or a whole multi-packet message); its answer.

        A configuration, query or control frame (40H to 51H) is kept, never stored as
        readings, and not answered: it is the station's reply to the centre's own query or
        command (mode M4), which needs no acknowledgement. A report's vendor blocks
        (``unparsed``) are kept as rejections with their offset; its standard elements are
        stored and it is acknowledged, so that the station does not send it again.
        """
        station = self._stations[frame.station]
        where = "of the frame" if packets is None else "of the joined body"
        if frame.is_configuration:
            await self._commit([], [], station=frame.station,
                               notes=[self._configuration(frame, station, data)])
            return None
        records, unmapped = frame_records(frame, station)
        rejections = [
            Rejection(
                f"sl651:{frame.station}", frame.serial,
                json.dumps({"station": frame.station, "element": e.id, "name": e.name,
                            "value": e.value, "values": list(e.values), "raw": e.raw}),
                f"station {station.label}: element {e.id} ({e.name}"
                f"{'' if e.standard else ', not standard'}) maps to no channel: add it under "
                "telemetry.sl651.stations[].elements",
            )
            for e in unmapped
        ]
        rejections += [
            Rejection(
                f"sl651:{frame.station}", frame.serial, block.data.hex().upper(),
                f"station {station.label}: bytes {block.offset} to "
                f"{block.offset + len(block.data) - 1} {where} (function "
                f"{frame.function_code:02X}H) could not be laid out: {block.reason}; the "
                "standard elements of the frame were stored and the frame acknowledged",
            )
            for block in frame.unparsed
        ]
        notes = [] if frame.picture is None else [self._picture(frame, station)]
        if frame.manual_entry is not None:
            notes.append(Rejection(
                f"sl651:{frame.station}", frame.serial, frame.manual_entry,
                f"station {station.label}: manual entry (人工置数, function "
                f"{frame.function_code:02X}H): its text is kept as sent, not read as readings"))
        await self._commit(records, rejections, station=frame.station, notes=notes)
        if notes:
            self._state.count(pictures=1)
            with self._lock:
                self._peer(frame.station).pictures += 1
        if self.settings.acknowledge and frame.function_code in ACKNOWLEDGED_FUNCTIONS:
            return self._answer(frame, packets=packets)
        return None

    def _configuration(
        self, frame: Sl651Frame, station: Sl651Station, data: bytes | None
    ) -> Rejection:
        """A configuration, query or control frame, kept: its parameters as JSON, not readings."""
        raw = json.dumps({
            "function": f"{frame.function_code:02X}",
            "frame": data.hex().upper() if data is not None else None,
            "send_time": frame.send_time.isoformat() if frame.send_time else None,
            "parameters": [{"id": p.id, "name": p.name, "value": p.value, "text": p.text,
                            "unit": p.unit, "raw": p.raw} for p in frame.parameters],
            "unparsed": [{"offset": u.offset, "hex": u.data.hex().upper(), "reason": u.reason}
                         for u in frame.unparsed],
        }, ensure_ascii=False)
        return Rejection(
            f"sl651:{frame.station}", frame.serial, raw,
            f"station {station.label}: configuration reply (function {frame.function_code:02X}H, "
            f"{frame.function_name}): not readings; kept with its parameters, not answered (a "
            "reply to the centre's query or command needs no acknowledgement)")

    def _picture(self, frame: Sl651Frame, station: Sl651Station) -> Rejection:
        """A picture, kept as a rejection: its bytes in hex, or its size alone when large."""
        picture = frame.picture or b""
        reason = (f"picture (function {frame.function_code:02X}) received, {len(picture)} bytes: "
                  "pictures are not stored as readings")
        if len(picture) < MAX_PICTURE_HEX:
            return Rejection(f"sl651:{frame.station}", frame.serial, picture.hex().upper(),
                             f"station {station.label}: {reason}")
        return Rejection(f"sl651:{frame.station}", frame.serial, "",
                         f"station {station.label}: {reason}; only its size is kept (a picture "
                         f"of {MAX_PICTURE_HEX // 1024} KiB or more is not kept in hex)")

    async def _packet(
        self,
        frame: Sl651Frame,
        data: bytes,
        remote: str,
        messages: dict[tuple[str, int, int], _Message],
    ) -> bytes | None:
        """Keep a packet of a multi-packet message; store the message once it is whole.

        Returns the answer: None before the last packet, the acknowledgement (with the packet
        numbers total, total) once the message is stored, NAK with the first missing packet's
        number when the last packet has come and some are missing.
        """
        assert frame.packets is not None
        total, sequence = frame.packets
        station = self._stations[frame.station]
        if not 1 <= sequence <= total:
            await self._commit([], [self._rejection(
                remote, data, f"station {station.label}: packet {sequence} of {total}: the "
                "sequence number is 1 to the packet total")], station=frame.station)
            return None
        key = (frame.station, frame.function_code, total)
        message = messages.get(key)
        if message is not None and sequence == 1 and (
                message.dropped or (1 in message.packets and message.packets[1][1] != data)):
            del messages[key]
            if not message.dropped:
                await self._keep_incomplete(message, "packet 1 came again, different: a new "
                                                     "message began")
            message = None
        if message is not None and message.dropped:
            await self._commit([], [Rejection(
                f"sl651:{frame.station}", None, data.hex().upper(),
                f"station {station.label}: packet {sequence} of {total} of a multi-packet "
                f"message (function {frame.function_code:02X}) dropped over "
                f"{MAX_MESSAGE_BYTES} bytes")], station=frame.station)
            return None
        if message is None:
            while len(messages) >= MAX_MESSAGES:
                oldest = messages.pop(next(iter(messages)))
                if not oldest.dropped:
                    await self._keep_incomplete(oldest, f"more than {MAX_MESSAGES} messages "
                                                        "were in progress on one connection")
            message = messages[key] = _Message(frame.station, frame.function_code, total)
        earlier = message.packets.get(sequence)
        message.packets[sequence] = (frame, data)
        if message.size > MAX_MESSAGE_BYTES:
            if earlier is None:
                del message.packets[sequence]
            else:
                message.packets[sequence] = earlier
            raw, described = message.raw() + data.hex().upper(), message.describe()
            message.packets.clear()
            message.dropped = True
            await self._commit([], [Rejection(
                f"sl651:{frame.station}", None, raw,
                f"station {station.label}: {described} passed {MAX_MESSAGE_BYTES} bytes with "
                f"packet {sequence}: dropped; the packets received so far, that one last, are "
                "kept in hex")], station=frame.station)
            return None
        message.last_seen = message.last_seen or sequence == total
        answers = self.settings.acknowledge and frame.function_code in ACKNOWLEDGED_FUNCTIONS
        missing = message.missing()
        if missing:
            if message.last_seen and answers:
                head = replace(frame, serial=message.serial())
                return self._answer(head, nak=True, packets=(total, missing[0]))
            return None
        del messages[key]
        head = message.packets[1][0]
        try:
            joined = decode_body(head, message.body())
        except Sl651Error as exc:
            await self._commit([], [Rejection(
                f"sl651:{frame.station}", None, message.raw(),
                f"station {station.label}: malformed {message.describe()}, byte {exc.offset} of "
                f"the joined body: {exc.problem}")], station=frame.station)
            return None
        return await self._report(joined, packets=(total, total))

    async def _keep_incomplete(self, message: _Message, why: str) -> None:
        """Keep the packets of a message that will not be completed, as one rejection."""
        station = self._stations.get(message.station)
        label = station.label if station is not None else message.station
        await self._commit([], [Rejection(
            f"sl651:{message.station}", None, message.raw(),
            f"station {label}: {message.describe()} incomplete when {why}; the packets received "
            "are kept in hex, in sequence order")], station=message.station)

    async def _abandon(
        self, messages: dict[tuple[str, int, int], _Message], why: str
    ) -> None:
        """Keep every message still in progress on a connection that ends."""
        try:
            for message in messages.values():
                if not message.dropped:
                    await self._keep_incomplete(message, why)
        except _NotStored as exc:
            self._state.count(failures=1)
            self._state.note_error(f"incomplete multi-packet messages not kept: {exc}")
        except asyncio.CancelledError:
            self._state.note_error(
                "incomplete multi-packet messages not kept: the listener stopped"
            )
            raise
        messages.clear()

    def _check(
        self, data: bytes, remote: str, messages: dict[tuple[str, int, int], _Message]
    ) -> Sl651Frame:
        """Decode a frame and check that this centre takes it; raises :class:`_Rejected`."""
        try:
            frame = decode_frame(data)
        except Sl651Error as exc:
            raise _Rejected(self._rejection(
                remote, data, f"malformed frame, byte {exc.offset}: {exc.problem}"), None) from exc
        at = frame.station
        if not frame.valid_crc:
            raise _Rejected(self._rejection(
                remote, data, f"CRC mismatch: computed {frame.crc_expected:04X}, the frame says "
                f"{frame.crc_found:04X}"), self._nak(frame, messages), station=at)
        if frame.direction != "up":
            raise _Rejected(self._rejection(
                remote, data, "a down frame (centre to station) was sent to the centre"),
                None, station=at)
        center = self.settings.center
        if center is not None and frame.center != center:
            raise _Rejected(self._rejection(
                remote, data, f"addressed to centre {frame.center}, this is centre {center}"),
                None, station=at)
        station = self._stations.get(at)
        if station is None:
            # Kept, so acknowledged: sending it again would not help.
            raise _Rejected(self._rejection(
                remote, data, f"unknown station {at}: add it under telemetry.sl651.stations"),
                self._acknowledged(frame), station=at)
        if station.password is not None and frame.password != station.password:
            raise _Rejected(self._rejection(
                remote, data, f"station {station.label}: password {frame.password} is not the "
                "configured one"), None, station=at, close=True)
        return frame

    def _nak(
        self, frame: Sl651Frame, messages: dict[tuple[str, int, int], _Message]
    ) -> bytes | None:
        """NAK for a frame with a CRC mismatch: send it again (a packet: by its number)."""
        if frame.direction != "up":
            return None
        if frame.packets is None:
            return self._answer(frame, nak=True) if frame.serial is not None else None
        total, sequence = frame.packets
        message = messages.get((frame.station, frame.function_code, total))
        serial = message.serial() if message is not None else 0
        return self._answer(replace(frame, serial=serial), nak=True, packets=(total, sequence))

    def _clock_offset(self, frame: Sl651Frame, now: dt.datetime) -> float | None:
        """Seconds the station's clock is ahead of the centre's (its send time against now).

        RTU clocks drift; readings are stamped with the station's clock, so an offset of
        minutes puts them at the wrong time. The transmission delay is counted in it too.
        """
        if frame.send_time is None:
            return None
        station = self._stations.get(frame.station)
        zone = zoneinfo.ZoneInfo(station.timezone) if station and station.timezone else self._zone
        return round((frame.send_time.replace(tzinfo=zone) - now).total_seconds(), 1)

    def _acknowledged(self, frame: Sl651Frame) -> bytes | None:
        """The acknowledgement of a report (None for other frames or when not answering)."""
        if (self.settings.acknowledge and frame.function_code in ACKNOWLEDGED_FUNCTIONS
                and frame.serial is not None):
            return self._answer(frame)
        return None

    def _answer(
        self, frame: Sl651Frame, *, nak: bool = False, packets: tuple[int, int] | None = None
    ) -> bytes:
        """The down frame answering ``frame``: acknowledgement, or NAK; the centre's clock."""
        local = self._clock().astimezone(self._zone).replace(tzinfo=None, microsecond=0)
        return acknowledgement(frame, send_time=local, keep_open=self.settings.keep_open,
                               nak=nak, packets=packets)

    def _rejection(self, remote: str, data: bytes, reason: str) -> Rejection:
        """A rejected frame or run of bytes: source ``sl651:<remote>``, bytes in hex."""
        return Rejection(f"sl651:{remote}", None, data.hex().upper(), reason)

    # -- the writer -----------------------------------------------------------------------

    async def _commit(
        self,
        records: list[dict[str, Any]],
        rejections: list[Rejection],
        *,
        station: str | None,
        notes: list[Rejection] | None = None,
    ) -> None:
        """Hand work to the writer and wait until it is committed; raises :class:`_NotStored`.

        ``notes`` are kept like rejections but are not errors (pictures): they are not counted
        as rejected and do not become the station's last error.
        """
        assert self._wake is not None
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.records.extend(records)
        self._pending.rejections.extend(rejections)
        self._pending.rejections.extend(notes or [])
        self._pending.waiters.append(future)
        self._wake.set()
        await future
        if rejections:
            self._state.count(rejected=len(rejections))
            if station is not None:
                with self._lock:
                    peer = self._peer(station)
                    peer.rejected += len(rejections)
                    peer.last_error = rejections[-1].reason
                    peer.last_error_at = self._clock()

    async def _batcher(self) -> None:
        """Commit what the connections have gathered, one ingest at a time."""
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            work, self._pending = self._pending, _Pending()
            if not work.waiters:
                continue
            try:
                report = await loop.run_in_executor(self._writer, self._write, work)
            except Exception as exc:  # noqa: BLE001 - not committed: nobody is acknowledged
                for waiter in work.waiters:
                    if not waiter.done():
                        waiter.set_exception(_NotStored(str(exc)))
                continue
            if report is not None:
                self._state.count(accepted=report.accepted, duplicates=report.duplicates,
                            rejected=report.rejected)
            for waiter in work.waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def _write(self, work: _Pending) -> IngestOutcome | None:
        """In the writer thread: keep the rejections, then ingest the readings."""
        for rejection in work.rejections:
            self._reject(rejection)
        return self._ingest(work.records, "sl651") if work.records else None


class _NotStored(Exception):
    """A commit failed: the frames waiting on it are not acknowledged."""


#: Where a frame may begin: 7E 7E (HEX/BCD mode) or SOH and a hex character (ASCII mode).
FRAME_START = re.compile(rb"\x7e\x7e|\x01[0-9A-Fa-f]")


def _cut(buffer: bytearray) -> tuple[list[bytes], bytes]:
    """Cut whole frames (either mode) from the front of ``buffer``; return them and stray bytes.

    Frames and stray bytes (those before a frame's start characters) are removed from the
    buffer; an incomplete frame stays in it.
    """
    frames: list[bytes] = []
    garbage = bytearray()
    while buffer:
        found = FRAME_START.search(buffer)
        # Without a start, keep a last 7E or SOH: it may begin the next frame.
        start = found.start() if found else len(buffer) - (buffer[-1] in (0x7E, 0x01))
        garbage += buffer[:start]
        del buffer[:start]
        if found is None or len(buffer) < header_size(bytes(buffer[:1])):
            break
        try:
            size = frame_size(bytes(buffer[:header_size(bytes(buffer[:1]))]))
        except Sl651Error:  # an SOH that does not begin an ASCII header
            garbage += buffer[:1]
            del buffer[:1]
            continue
        if len(buffer) < size:
            break
        frames.append(bytes(buffer[:size]))
        del buffer[:size]
    return frames, bytes(garbage)


def _expected(buffer: bytearray) -> str:
    try:
        size = frame_size(bytes(buffer[:header_size(bytes(buffer[:1]))]))
    except Sl651Error:
        return ""
    return f" of the {size} its length field announces"


def _numbers(numbers: list[int]) -> str:
    """Packet numbers for people: ``2, 5-7``."""
    runs: list[str] = []
    start = previous = numbers[0]
    for n in [*numbers[1:], -1]:
        if n != previous + 1:
            runs.append(f"{start}" if start == previous else f"{start}-{previous}")
            start = n
        previous = n
    return ", ".join(runs)


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
