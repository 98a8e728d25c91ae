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
observation time + *i* × the time step (see :mod:`shuian.protocols.sl651.hexmode`).

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
which are missing). A picture (function 36, JPEG bytes after ``F3 F3``, usually a multi-packet
message) is not a reading: it is handed to ``pictures`` (the media store: an image of the
station's source, taken at the frame's observation time) before the report is acknowledged,
and counted in the status (``pictures``). A picture that is not a JPEG image, or that the media
store refuses, is kept as a rejection with its bytes in hex and the reason (the store keeps a
rejection's raw text up to ``shuian.store.base.MAX_RAW_TEXT`` characters); the report is
acknowledged all the same. A listener given no ``pictures`` keeps each picture's size only, as
a rejection.

A frame that fails for its own sake (a time outside the supported range, a NUL, a fault of the
code that only it reaches) is kept as a rejection and acknowledged; only a failure that
:func:`shuian.faults.blame` calls the system's (the store is away) leaves it unacknowledged, so
that the station sends it again. A commit of many frames that one of them spoils is made again
frame by frame, so the others are stored and acknowledged.

Nobody can starve the centre (settings in :class:`Sl651Settings`). A connection must send a
good frame (of a configured station, its CRC and password right) within
``first_frame_timeout`` seconds of opening; after it, ``idle_timeout`` applies. One remote
address holds at most ``max_connections_per_address`` connections: more are closed at once and
counted in ``refused_by_address``. Multi-packet messages in progress are bounded per message,
per connection and in total, in count and bytes: the oldest is dropped and kept as a rejection
with the reason. The rejected text an address causes before it is a station (bytes that are not
a frame, malformed frames, CRC mismatches, unknown stations, wrong passwords) and its incomplete
messages (never acknowledged, so sent again) are capped per address and in total in each window
of ``rejected_window`` seconds: the rest is counted (``not_kept``, ``not_kept_bytes``), neither
kept nor answered (so a station sends it again later), and when the window ends one summary
rejection says how much was dropped, and from where.

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
import threading
import zoneinfo
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from shuian.errors import Sl651Error
from shuian.faults import Fault, blame, reason_of
from shuian.protocols.sl651 import (
    Element,
    Sl651Frame,
    acknowledgement,
    cut_frames,
    decode_body,
    decode_frame,
    frame_size,
    header_size,
)
from shuian.readings import Rejection
from shuian.site.telemetry import Sl651Settings, Sl651Station
from shuian.sources.base import Ingest, KeepPicture, Reject, Source, SourceContext
from shuian.sources.status import SourceStatus

__all__ = ["Sl651Listener", "frame_records", "open_sources"]

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
#: Seconds a station may take to send the rest of a frame it has begun, or to take an answer.
FRAME_TIMEOUT = 30.0
#: Stations not in the site file that get an entry of their own in the status (the rest none).
MAX_UNKNOWN_PEERS = 64
#: Remote addresses the window's counts are kept for once they have no connection open; the
#: counts of more are added up under "other addresses".
MAX_ADDRESSES = 4096
#: Addresses named in the status and in a window's summary rejection (those that lost most).
SHOWN_ADDRESSES = 20
#: The first bytes of a JPEG image (SOI, then a marker's FF; ITU-T T.81, Table B.1).
JPEG_START = b"\xff\xd8\xff"
#: Seconds the listener waits, when it stops, for connections to keep what they still hold.
STOP_GRACE = 5.0


def frame_records(
    frame: Sl651Frame, station: Sl651Station
) -> tuple[list[dict[str, Any]], list[Element]]:
    """The readings of a report for a station's channels, and the elements that map to none.

    A reading's ``time`` is the element's observation time (ISO 8601, in the station's zone
    when it names one, else without an offset: the site's zone). A uniform-interval series
    (function 31, an element with a ``time_step``) gives one reading per value, value *i* at
    the observation time + *i* × the step (the first value is observed at the observation time;
    sources in :mod:`shuian.protocols.sl651.hexmode`). An array element (twelve 5-minute values,
    ``F4``–``FC``) likewise gives value *i* at the observation time + 5 *i* minutes: the first
    value is the observation time's (yushun1990/sl651_bridge, "表36: 观测时间是第一组数据时间";
    wainshine/SL651, "第1时段(0min)"; a real Fujian hourly report observed 12:20 and sent 13:15:25
    fits only this). Missing values (all F) and the time-step code are not readings. A time past
    the year 9999 is written as the sum that gives it, which the ingest rejects with the reason.
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
            points = [(_later(observed, i * step), v) for i, v in enumerate(item.values)]
        else:
            points = [(observed, item.value)]
        for time, value in points:
            if value is None:
                continue
            if isinstance(time, dt.datetime):
                time = (time.replace(tzinfo=zone) if zone is not None else time).isoformat()
            records.append({
                "channel": channel, "time": time, "value": value,
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


@dataclass(eq=False)
class _Message:
    """The packets of one multi-packet message received so far on a connection.

    ``packets`` maps a sequence number (1 to ``total``) to the packet's frame and bytes, and
    ``size`` counts their bytes; ``dropped`` is set once the message passed its bound (its
    packets were kept as a rejection, and the rest of it are kept one by one until a packet 1
    begins another).
    """

    station: str
    function_code: int
    total: int
    packets: dict[int, tuple[Sl651Frame, bytes]] = field(default_factory=dict)
    size: int = 0
    last_seen: bool = False
    dropped: bool = False

    def put(self, sequence: int, packet: tuple[Sl651Frame, bytes] | None) -> None:
        """Keep a packet under its number (None: forget the number's)."""
        earlier = self.packets.pop(sequence, None)
        if earlier is not None:
            self.size -= len(earlier[1])
        if packet is not None:
            self.packets[sequence] = packet
            self.size += len(packet[1])

    def drop(self) -> None:
        """Forget every packet: the message passed its bound."""
        self.packets.clear()
        self.size = 0
        self.dropped = True

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


_MessageKey = tuple[str, int, int]  # station, function code, packet total


@dataclass(eq=False)
class _Connection:
    """One station connection: where from, its stations, its messages in progress."""

    host: str
    remote: str  # host:port
    stations: set[str] = field(default_factory=set)
    messages: dict[_MessageKey, _Message] = field(default_factory=dict)
    #: Whether a good frame came (then ``idle_timeout`` applies, not ``first_frame_timeout``).
    good: bool = False


@dataclass
class _Address:
    """One remote address: connections open, and what it cost in the window so far."""

    connections: int = 0
    refused: int = 0
    kept: int = 0  # characters of rejected text kept
    not_kept: int = 0  # rejections counted, not kept (over a cap)
    not_kept_bytes: int = 0  # their bytes as received

    def add(self, other: _Address) -> None:
        """Add another address's window counts to these."""
        self.refused += other.refused
        self.kept += other.kept
        self.not_kept += other.not_kept
        self.not_kept_bytes += other.not_kept_bytes

    def as_json(self, address: str) -> dict[str, Any]:
        return {"address": address, "connections": self.connections, "refused": self.refused,
                "kept_chars": self.kept, "not_kept": self.not_kept,
                "not_kept_bytes": self.not_kept_bytes}


class _Picture(NamedTuple):
    """A report's picture to keep: its bytes, when taken, its serial, and what it is."""

    data: bytes
    taken: dt.datetime
    serial: int | None
    what: str


@dataclass(eq=False)
class _Job:
    """Readings and rejections of one frame (or message), committed before it is answered.

    ``raw`` is what to keep if the job's own data are refused (the frame in hex); ``picture``
    is a picture to keep, and ``refused`` why it was not.
    """

    records: list[dict[str, Any]]
    rejections: list[Rejection]
    source: str
    raw: str
    done: asyncio.Future[None]
    picture: _Picture | None = None
    refused: str | None = None


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


class _Keep(NamedTuple):
    """A rejection to keep if its address's caps allow.

    ``owner`` is the connection it came from, ``size`` the bytes it held as received, and
    ``station`` the station whose status counts it (None: no station's).
    """

    owner: _Connection
    rejection: Rejection
    size: int
    station: str | None


class Sl651Listener:
    """The centre's TCP listener; runs its own event loop in a background thread.

    ``ingest(records, source)``, ``reject(rejection)`` and ``pictures(data, source, taken)``
    are called in one writer thread; each must commit before it returns and raise if it could
    not.
    """

    def __init__(
        self,
        settings: Sl651Settings,
        ingest: Ingest,
        reject: Reject,
        *,
        timezone: str = "UTC",
        clock: Callable[[], dt.datetime] | None = None,
        pictures: KeepPicture | None = None,
    ) -> None:
        self.settings = settings
        self._ingest = ingest
        self._reject = reject
        self._keep_picture = pictures
        self._zone = zoneinfo.ZoneInfo(timezone)
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._stations = {s.address: s for s in settings.stations}
        self._peers = {s.address: _Peer(s.label, s.address) for s in settings.stations}
        self._lock = threading.Lock()
        self._listening = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._pending: list[_Job] = []
        self._open: set[asyncio.StreamWriter] = set()
        self._wake: asyncio.Event | None = None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shuian-sl651")
        self.port: int = settings.port
        self._state = SourceStatus(
            "sl651", f"{settings.host}:{settings.port}", label="sl651",
            counts=("connections", "pictures", "refused", "refused_by_address", "timed_out",
                    "messages_dropped", "not_kept", "not_kept_bytes"),
            clock=self._clock,
        )
        self._handlers: set[asyncio.Task[None]] = set()
        # Multi-packet messages in progress on every connection, oldest first.
        self._assembling: dict[_Message, _Connection] = {}
        # The window of the rejected-text caps: per address, the addresses no longer listed.
        self._addresses: dict[str, _Address] = {}
        self._others = _Address()
        self._kept_total = 0
        self._window_started = self._clock()
        self._full_noted = False  # a refusal over max_connections was logged this window

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
            self._connection, self.settings.host, self.settings.port, limit=1 << 16,
            backlog=1024,
        )
        self.port = server.sockets[0].getsockname()[1]
        self._state.set(connected=True, endpoint=f"{self.settings.host}:{self.port}")
        self._listening.set()
        batcher = asyncio.create_task(self._batcher())
        windows = asyncio.create_task(self._windows())
        await self._stop.wait()
        windows.cancel()
        server.close()
        # Open connections end here: a frame not yet acknowledged comes again later; the
        # packets of incomplete messages are kept (as rejections) before the writer stops,
        # and so is the summary of what the caps dropped.
        for writer in list(self._open):
            writer.close()
        await server.wait_closed()
        if self._handlers:
            await asyncio.wait(list(self._handlers), timeout=STOP_GRACE)
        try:
            await asyncio.wait_for(self._end_window(), STOP_GRACE)
        except TimeoutError:
            self._state.note_error("the summary of rejections not kept was not stored: the "
                                   "listener stopped")
        batcher.cancel()

    # -- status ---------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Where the listener stands, as JSON-ready values.

        ``kind`` (``sl651``), ``endpoint``, ``connected`` (listening), ``connections`` open,
        ``messages`` (frames, each packet of a multi-packet message one) received, readings
        ``accepted`` and ``duplicates``, ``rejected`` (frames, messages and elements kept as
        rejections), ``pictures`` kept in the media store (a picture refused is ``rejected``),
        ``failures`` (commits that failed, the frames left unacknowledged), ``refused``
        (connections over ``max_connections``), ``refused_by_address`` (over
        ``max_connections_per_address``), ``timed_out`` (connections closed for sending no
        good frame within ``first_frame_timeout``), ``messages_dropped`` (multi-packet
        messages dropped over a bound), ``not_kept`` and ``not_kept_bytes`` (rejections over
        the rejected-text caps, counted and not kept, and their bytes as received),
        ``last_message_at``, ``last_error`` and ``last_error_at`` (an error older than the last
        message has passed); ``window``: the caps' window so far (``started_at``,
        ``kept_chars`` of rejected text, ``not_kept``, ``not_kept_bytes``, and the
        :data:`SHOWN_ADDRESSES` addresses that lost most, each with its ``connections``,
        ``refused``, ``kept_chars``, ``not_kept`` and ``not_kept_bytes``); and ``peers``: per
        station, whether it is connected, from where, its frames, rejections, pictures, last
        error, and ``clock_offset_s`` (seconds its clock was ahead of the centre's at its last
        frame).
        """
        status = self._state.as_json()
        with self._lock:
            status["peers"] = [peer.as_json() for peer in self._peers.values()]
            total = self._window_total()
            status["window"] = {
                "started_at": _iso(self._window_started), "kept_chars": self._kept_total,
                "not_kept": total.not_kept, "not_kept_bytes": total.not_kept_bytes,
                "addresses": [counts.as_json(address)
                              for address, counts in self._worst(SHOWN_ADDRESSES)],
            }
        return status

    def _peer(self, station: str) -> _Peer:
        """The status entry of a station (unknown stations get one too)."""
        peer = self._peers.get(station)
        if peer is None:
            peer = self._peers[station] = _Peer(f"{station} (unknown)", station)
        return peer

    def _window_total(self) -> _Address:
        """The window's counts over every address (hold ``_lock``)."""
        total = _Address()
        for counts in (*self._addresses.values(), self._others):
            total.add(counts)
        return total

    def _worst(self, count: int) -> list[tuple[str, _Address]]:
        """The addresses that lost most this window (hold ``_lock``)."""
        lost = [(a, c) for a, c in self._addresses.items() if c.not_kept or c.refused]
        lost.sort(key=lambda item: (item[1].not_kept_bytes, item[1].refused), reverse=True)
        return lost[:count]

    # -- connections ----------------------------------------------------------------------

    async def _connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        peername = writer.get_extra_info("peername")
        if not peername:  # gone before it could be served
            writer.close()
            return
        host, port = peername[:2]
        remote = f"{host}:{port}"
        s = self.settings
        if len(self._open) >= s.max_connections:
            self._state.count(refused=1)
            message = (f"{remote}: refused, {len(self._open)} connections are open "
                       f"(max_connections {s.max_connections})")
            if not self._full_noted:  # logged once a window, however many are refused
                self._full_noted = True
                self._state.note_error(message)
            else:
                self._state.set(last_error=message, last_error_at=self._clock())
            writer.close()
            return
        if not self._admit(host, remote):
            writer.close()
            return
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        self._state.count(connections=1)
        self._open.add(writer)
        conn = _Connection(host, remote)
        buffer = bytearray()
        loop = asyncio.get_running_loop()
        first_frame_by = loop.time() + s.first_frame_timeout
        try:
            while True:
                timeout = FRAME_TIMEOUT if buffer else s.idle_timeout
                if not conn.good:
                    timeout = min(timeout, first_frame_by - loop.time())
                try:
                    chunk: bytes | None = await asyncio.wait_for(
                        reader.read(1 << 16), max(timeout, 0))
                except TimeoutError:
                    chunk = None
                if not chunk:
                    if chunk is None and not conn.good:
                        self._state.count(timed_out=1)
                    if buffer:
                        ended = "ended" if chunk is not None else "timed out"
                        await self._keep([_Keep(conn, self._rejection(
                            remote, bytes(buffer),
                            f"frame truncated: the connection {ended} after {len(buffer)} "
                            f"bytes" + _expected(buffer),
                        ), len(buffer), None)])
                    return
                buffer += chunk
                frames, garbage = cut_frames(buffer)
                if garbage:
                    await self._keep([_Keep(conn, self._rejection(
                        remote, garbage[:MAX_GARBAGE],
                        f"{len(garbage)} bytes that are not a frame (no 7E7E or SOH start)",
                    ), len(garbage), None)])
                for data in frames:
                    answer, close = await self._frame(data, conn)
                    if answer is not None:
                        writer.write(answer)
                        await asyncio.wait_for(writer.drain(), FRAME_TIMEOUT)
                    if close:
                        return
        except (ConnectionError, TimeoutError):  # gone, or not taking its answers
            return
        except _NotStored as exc:
            self._state.count(failures=1)
            self._state.note_error(f"{remote}: not stored, the station will send it again: {exc}")
        finally:
            self._state.count(connections=-1)
            with self._lock:
                for station in conn.stations:
                    self._peer(station).connections -= 1
            self._open.discard(writer)
            writer.close()
            try:
                await self._abandon(conn, "the connection closed")
            finally:
                self._leave(host)
                if task is not None:
                    self._handlers.discard(task)

    def _admit(self, host: str, remote: str) -> bool:
        """Count a new connection from ``host``; False (refused) over the per-address limit."""
        limit = self.settings.max_connections_per_address
        with self._lock:
            counts = self._addresses.setdefault(host, _Address())
            if counts.connections < limit:
                counts.connections += 1
                return True
            counts.refused += 1
            first = counts.refused == 1
        self._state.count(refused_by_address=1)
        message = (f"{remote}: refused, {limit} connections from {host} are open "
                   f"(max_connections_per_address {limit})")
        if first:  # logged once per address and window, however many are refused
            self._state.note_error(message)
        else:
            self._state.set(last_error=message, last_error_at=self._clock())
        return False

    def _leave(self, host: str) -> None:
        """A connection from ``host`` ended; forget the address once nothing needs it."""
        with self._lock:
            counts = self._addresses.get(host)
            if counts is None:
                return
            counts.connections -= 1
            if counts.connections > 0:
                return
            if (counts.kept or counts.not_kept or counts.refused) and (
                    len(self._addresses) <= MAX_ADDRESSES):
                return  # its window counts are kept until the window ends
            self._others.add(counts)
            del self._addresses[host]

    async def _frame(self, data: bytes, conn: _Connection) -> tuple[bytes | None, bool]:
        """Take one frame; return the answer to send (if any) and whether to close after it.

        A frame that fails for its own sake is kept as a rejection with the reason and
        acknowledged (when it is a report); one that fails for the system's is not stored and
        raises :class:`_NotStored`, so that the station sends it again.
        """
        self._state.count(messages=1)
        try:
            return await self._take(data, conn)
        except _NotStored:
            raise
        except Exception as exc:  # noqa: BLE001 - whose fault it is decides
            if _system(exc):
                raise _NotStored(reason_of(exc)) from exc
            log.warning("sl651: a frame from %s could not be taken", conn.remote, exc_info=True)
            kept = await self._keep_one(_Keep(conn, self._rejection(
                conn.remote, data, f"could not be taken ({reason_of(exc)}): kept here, and "
                "acknowledged so that the station does not send it again"), len(data), None))
            return (self._acknowledgement_of(data) if kept else None), False

    async def _take(self, data: bytes, conn: _Connection) -> tuple[bytes | None, bool]:
        """Check a frame, then store it; its answer and whether to close after it."""
        now = self._clock()
        self._state.set(last_message_at=now)
        try:
            frame = self._check(data, conn)
        except _Rejected as rejected:
            kept = await self._keep_one(_Keep(conn, rejected.rejection, len(data),
                                              rejected.station))
            # Not kept (over the caps): not answered either, so a station sends it again.
            return (rejected.answer if kept else None), rejected.close
        conn.good = True
        with self._lock:
            peer = self._peer(frame.station)
            peer.messages += 1
            peer.last_message_at = now
            peer.address = conn.remote
            peer.clock_offset_s = self._clock_offset(frame, now)
            if frame.station not in conn.stations:
                conn.stations.add(frame.station)
                peer.connections += 1
        if frame.function_code == LINK_KEEP_ALIVE:
            return None, False
        if frame.packets is not None:
            return await self._packet(frame, data, conn), False
        return await self._report(frame, data=data), False

    async def _report(
        self,
        frame: Sl651Frame,
        *,
        packets: tuple[int, int] | None = None,
        data: bytes | None = None,
        raw: str = "",
    ) -> bytes | None:
        """Store a decoded report (one frame, or a whole multi-packet message); its answer.

        A configuration, query or control frame (40H to 51H) is kept, never stored as
        readings, and not answered: it is the station's reply to the centre's own query or
        command (mode M4), which needs no acknowledgement. A report's vendor blocks
        (``unparsed``) are kept as rejections with their offset; its standard elements are
        stored and it is acknowledged, so that the station does not send it again. ``raw``
        (default: ``data`` in hex) is what is kept if the store refuses what the report holds.
        """
        station = self._stations[frame.station]
        raw = raw or (data.hex().upper() if data is not None else "")
        where = "of the frame" if packets is None else "of the joined body"
        if frame.is_configuration:
            await self._commit([], [], station=frame.station, raw=raw,
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
        picture = None if frame.picture is None else self._picture(frame, station, rejections)
        notes = []
        if frame.manual_entry is not None:
            notes.append(Rejection(
                f"sl651:{frame.station}", frame.serial, frame.manual_entry,
                f"station {station.label}: manual entry (人工置数, function "
                f"{frame.function_code:02X}H): its text is kept as sent, not read as readings"))
        job = await self._commit(records, rejections, station=frame.station, notes=notes,
                                 raw=raw, picture=picture)
        if job.picture is not None and job.refused is None:
            self._state.count(pictures=1)
            with self._lock:
                self._peer(frame.station).pictures += 1
        elif job.refused is not None:
            self._note_rejected(frame.station, [job.refused])
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

    def _picture(
        self, frame: Sl651Frame, station: Sl651Station, rejections: list[Rejection]
    ) -> _Picture | None:
        """A report's picture to keep: its bytes and when it was taken (the observation time).

        A picture that is not a JPEG image, or when the listener keeps no pictures, becomes a
        rejection (added to ``rejections``) instead; None then.
        """
        picture = frame.picture or b""
        source = f"sl651:{frame.station}"
        what = (f"station {station.label}: picture (function {frame.function_code:02X}H) of "
                f"{len(picture)} bytes")
        if self._keep_picture is None:
            rejections.append(Rejection(source, frame.serial, "", f"{what} not kept: this "
                                        "centre has no media store (only its size is kept)"))
            return None
        if not picture.startswith(JPEG_START):
            rejections.append(Rejection(
                source, frame.serial, picture.hex().upper(),
                f"{what} not kept: it is not a JPEG image (SL 651 pictures are JPEG, beginning "
                f"FF D8 FF; this one begins {picture[:4].hex(' ').upper() or 'empty'})"))
            return None
        taken = frame.observed_time or frame.send_time or self._clock()
        if taken.tzinfo is None:
            zone = zoneinfo.ZoneInfo(station.timezone) if station.timezone else self._zone
            taken = taken.replace(tzinfo=zone)
        return _Picture(picture, taken, frame.serial, what)

    async def _packet(self, frame: Sl651Frame, data: bytes, conn: _Connection) -> bytes | None:
        """Keep a packet of a multi-packet message; store the message once it is whole.

        Returns the answer: None before the last packet, the acknowledgement (with the packet
        numbers total, total) once the message is stored, NAK with the first missing packet's
        number when the last packet has come and some are missing. Messages in progress are
        bounded (see :meth:`_over_bounds`); whatever is dropped is kept, as the caps allow.
        """
        assert frame.packets is not None
        total, sequence = frame.packets
        station = self._stations[frame.station]
        limit = self.settings.max_message_bytes
        keep: list[_Keep] = []
        if not 1 <= sequence <= total:
            await self._keep([_Keep(conn, self._rejection(
                conn.remote, data, f"station {station.label}: packet {sequence} of {total}: "
                "the sequence number is 1 to the packet total"), len(data), frame.station)])
            return None
        key = (frame.station, frame.function_code, total)
        message = conn.messages.get(key)
        if message is not None and sequence == 1 and (
                message.dropped or (1 in message.packets and message.packets[1][1] != data)):
            self._forget(message, conn)
            if not message.dropped:
                keep.append(self._incomplete(
                    conn, message, "packet 1 came again, different: a new message began"))
            message = None
        if message is not None and message.dropped:
            await self._keep([_Keep(conn, Rejection(
                f"sl651:{frame.station}", None, data.hex().upper(),
                f"station {station.label}: packet {sequence} of {total} of a multi-packet "
                f"message (function {frame.function_code:02X}) dropped over {limit} bytes"),
                len(data), frame.station)])
            return None
        if message is None:
            message = conn.messages[key] = _Message(frame.station, frame.function_code, total)
            self._assembling[message] = conn
        earlier = message.packets.get(sequence)
        message.put(sequence, (frame, data))
        if message.size > limit:
            message.put(sequence, earlier)
            raw, described = message.raw() + data.hex().upper(), message.describe()
            size = message.size + len(data)
            message.drop()
            self._state.count(messages_dropped=1)
            keep.append(_Keep(conn, Rejection(
                f"sl651:{frame.station}", None, raw,
                f"station {station.label}: {described} passed {limit} bytes with packet "
                f"{sequence}: dropped; the packets received so far, that one last, are kept in "
                "hex"), size, frame.station))
            await self._keep(keep)
            return None
        keep += self._over_bounds(conn, message)
        message.last_seen = message.last_seen or sequence == total
        answers = self.settings.acknowledge and frame.function_code in ACKNOWLEDGED_FUNCTIONS
        missing = message.missing()
        if missing:
            await self._keep(keep)
            if message.last_seen and answers:
                head = replace(frame, serial=message.serial())
                return self._answer(head, nak=True, packets=(total, missing[0]))
            return None
        self._forget(message, conn)
        await self._keep(keep)
        head = message.packets[1][0]
        try:
            joined = decode_body(head, message.body())
        except Sl651Error as exc:
            await self._keep([_Keep(conn, Rejection(
                f"sl651:{frame.station}", None, message.raw(),
                f"station {station.label}: malformed {message.describe()}, byte {exc.offset} of "
                f"the joined body: {exc.problem}"), message.size, frame.station)])
            return None
        return await self._report(joined, packets=(total, total), raw=message.raw())

    def _over_bounds(self, conn: _Connection, message: _Message) -> list[_Keep]:
        """Drop the oldest messages in progress (not ``message``) while a bound is passed.

        The bounds: ``max_messages_per_connection`` and ``max_message_bytes_per_connection``
        on ``conn``, ``max_messages_total`` and ``max_message_bytes_total`` over every
        connection. Returns what to keep of the dropped messages.
        """
        s = self.settings
        keep: list[_Keep] = []
        while True:
            mine = conn.messages.values()
            if len(mine) > s.max_messages_per_connection:
                why = f"more than {s.max_messages_per_connection} messages were in progress on "
            elif sum(m.size for m in mine) > s.max_message_bytes_per_connection:
                why = (f"more than {s.max_message_bytes_per_connection} bytes of messages were "
                       "in progress on ")
            else:
                break
            oldest = next(m for m in mine if m is not message)
            keep += self._drop(conn, oldest, why + "one connection, the oldest dropped")
        while True:
            if len(self._assembling) > s.max_messages_total:
                why = f"more than {s.max_messages_total} messages were in progress "
            elif sum(m.size for m in self._assembling) > s.max_message_bytes_total:
                why = f"more than {s.max_message_bytes_total} bytes of messages were in progress "
            else:
                break
            oldest, owner = next((m, c) for m, c in self._assembling.items() if m is not message)
            keep += self._drop(owner, oldest, why + "in total, the oldest dropped")
        return keep

    def _drop(self, owner: _Connection, message: _Message, why: str) -> list[_Keep]:
        """Drop a message in progress over a bound; what to keep of it."""
        self._forget(message, owner)
        self._state.count(messages_dropped=1)
        return [] if message.dropped else [self._incomplete(owner, message, why)]

    def _forget(self, message: _Message, owner: _Connection) -> None:
        """A message is no longer in progress (whole, dropped, or its connection closed)."""
        key = (message.station, message.function_code, message.total)
        if owner.messages.get(key) is message:
            del owner.messages[key]
        self._assembling.pop(message, None)

    def _incomplete(self, owner: _Connection, message: _Message, why: str) -> _Keep:
        """What to keep of a message that will not be completed: its packets, in one rejection."""
        station = self._stations.get(message.station)
        label = station.label if station is not None else message.station
        return _Keep(owner, Rejection(
            f"sl651:{message.station}", None, message.raw(),
            f"station {label}: {message.describe()} incomplete when {why}; the packets received "
            "are kept in hex, in sequence order"), message.size, message.station)

    async def _abandon(self, conn: _Connection, why: str) -> None:
        """Keep every message still in progress on a connection that ends."""
        keep = [self._incomplete(conn, m, why) for m in conn.messages.values() if not m.dropped]
        for message in list(conn.messages.values()):
            self._forget(message, conn)
        try:
            await self._keep(keep)
        except _NotStored as exc:
            self._state.count(failures=1)
            self._state.note_error(f"incomplete multi-packet messages not kept: {exc}")
        except asyncio.CancelledError:
            self._state.note_error(
                "incomplete multi-packet messages not kept: the listener stopped"
            )
            raise

    def _check(self, data: bytes, conn: _Connection) -> Sl651Frame:
        """Decode a frame and check that this centre takes it; raises :class:`_Rejected`."""
        remote = conn.remote
        try:
            frame = decode_frame(data)
        except Sl651Error as exc:
            raise _Rejected(self._rejection(
                remote, data, f"malformed frame, byte {exc.offset}: {exc.problem}"), None) from exc
        at = frame.station
        if not frame.valid_crc:
            raise _Rejected(self._rejection(
                remote, data, f"CRC mismatch: computed {frame.crc_expected:04X}, the frame says "
                f"{frame.crc_found:04X}"), self._nak(frame, conn.messages), station=at)
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

    def _nak(self, frame: Sl651Frame, messages: dict[_MessageKey, _Message]) -> bytes | None:
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

    def _acknowledgement_of(self, data: bytes) -> bytes | None:
        """The acknowledgement of a frame that could not be taken, when it is a report."""
        try:
            frame = decode_frame(data)
        except Exception:  # noqa: BLE001 - a frame that cannot be read is not answered
            return None
        if not frame.valid_crc or frame.direction != "up":
            return None
        return self._acknowledged(frame)

    # -- what is kept of an address: the rejected-text caps ---------------------------------

    async def _keep(self, keep: list[_Keep]) -> None:
        """Keep rejections as their addresses' caps allow (one commit per station counted).

        Raises :class:`_NotStored` if the store could not take them.
        """
        kept: dict[str | None, list[Rejection]] = {}
        for item in keep:
            if self._charge(item.owner.host, item.rejection, item.size):
                kept.setdefault(item.station, []).append(item.rejection)
        for station, rejections in kept.items():
            await self._commit([], rejections, station=station)

    async def _keep_one(self, item: _Keep) -> bool:
        """Keep one rejection if its address's caps allow; whether it was kept."""
        if not self._charge(item.owner.host, item.rejection, item.size):
            return False
        await self._commit([], [item.rejection], station=item.station)
        return True

    def _charge(self, host: str, rejection: Rejection, size: int) -> bool:
        """Whether a rejection from ``host`` fits the window's caps (then it is counted in them).

        One that does not is counted (with ``size``, its bytes as received) and not kept.
        """
        s = self.settings
        chars = len(rejection.raw) + len(rejection.reason)
        with self._lock:
            counts = self._addresses.setdefault(host, _Address())
            if (counts.kept + chars <= s.max_rejected_per_address
                    and self._kept_total + chars <= s.max_rejected_total):
                counts.kept += chars
                self._kept_total += chars
                return True
            counts.not_kept += 1
            counts.not_kept_bytes += size
            first = counts.not_kept == 1
        self._state.count(not_kept=1, not_kept_bytes=size)
        if first:
            self._state.note_error(
                f"{host}: over max_rejected_per_address ({s.max_rejected_per_address}) or "
                f"max_rejected_total ({s.max_rejected_total}) characters of rejected text: what "
                "it sends that is rejected is counted, not kept, until the window ends")
        return False

    async def _windows(self) -> None:
        """End a window of the rejected-text caps every ``rejected_window`` seconds."""
        while True:
            await asyncio.sleep(self.settings.rejected_window)
            await self._end_window()

    async def _end_window(self) -> None:
        """Keep one summary of what the window's caps dropped (if anything); begin the next."""
        s = self.settings
        now = self._clock()
        with self._lock:
            total = self._window_total()
            summary = None
            if total.not_kept or total.refused:
                worst = self._worst(SHOWN_ADDRESSES)
                rest = _Address()
                rest.add(total)
                for _, counts in worst:
                    rest.not_kept -= counts.not_kept
                    rest.not_kept_bytes -= counts.not_kept_bytes
                    rest.refused -= counts.refused
                addresses = [counts.as_json(address) for address, counts in worst]
                if rest.not_kept or rest.refused:
                    addresses.append({"address": "other addresses", "refused": rest.refused,
                                      "not_kept": rest.not_kept,
                                      "not_kept_bytes": rest.not_kept_bytes})
                summary = Rejection("sl651", None, json.dumps({
                    "from": _iso(self._window_started), "to": _iso(now),
                    "not_kept": total.not_kept, "not_kept_bytes": total.not_kept_bytes,
                    "refused_by_address": total.refused, "addresses": addresses,
                }), (
                    f"{total.not_kept} rejections ({total.not_kept_bytes} bytes as received) "
                    f"were counted, not kept, and {total.refused} connections refused, from "
                    f"{_iso(self._window_started)} to {_iso(now)}: over "
                    f"max_rejected_per_address ({s.max_rejected_per_address}) or "
                    f"max_rejected_total ({s.max_rejected_total}) characters of rejected text "
                    f"a window, or max_connections_per_address "
                    f"({s.max_connections_per_address}); by address in the raw text"))
            for address, counts in list(self._addresses.items()):
                if counts.connections:
                    counts.refused = counts.kept = counts.not_kept = counts.not_kept_bytes = 0
                else:
                    del self._addresses[address]
            self._others = _Address()
            self._kept_total = 0
            self._window_started = now
            self._full_noted = False
        if summary is None:
            return
        try:
            await self._commit([], [summary], station=None)
        except _NotStored as exc:
            self._state.count(failures=1)
            self._state.note_error(f"the summary of rejections not kept was not stored: {exc}")

    # -- the writer -----------------------------------------------------------------------

    async def _commit(
        self,
        records: list[dict[str, Any]],
        rejections: list[Rejection],
        *,
        station: str | None,
        notes: list[Rejection] | None = None,
        raw: str = "",
        picture: _Picture | None = None,
    ) -> _Job:
        """Hand work to the writer and wait until it is committed; raises :class:`_NotStored`.

        ``notes`` are kept like rejections but are not errors (configuration replies): they
        are not counted as rejected and do not become the station's last error. ``raw`` is
        what is kept, as a rejection, if the store refuses the work itself (see
        :meth:`_write`). ``picture`` is kept by ``pictures``; the job says if it was refused.
        """
        assert self._wake is not None
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        source = f"sl651:{station}" if station is not None else "sl651"
        job = _Job(records, [*rejections, *(notes or [])], source, raw, done, picture)
        self._pending.append(job)
        self._wake.set()
        await done
        if rejections:
            self._state.count(rejected=len(rejections))
            self._note_rejected(station, [r.reason for r in rejections])
        return job

    def _note_rejected(self, station: str | None, reasons: list[str]) -> None:
        """Count a station's rejections in its status; the last is its last error."""
        if station is None:
            return
        with self._lock:
            if station in self._peers or (
                    len(self._peers) < len(self._stations) + MAX_UNKNOWN_PEERS):
                peer = self._peer(station)
                peer.rejected += len(reasons)
                peer.last_error = reasons[-1]
                peer.last_error_at = self._clock()

    async def _batcher(self) -> None:
        """Commit what the connections have gathered, one ingest at a time."""
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            jobs, self._pending = self._pending, []
            if not jobs:
                continue
            counts, failures = await loop.run_in_executor(self._writer, self._write, jobs)
            accepted, duplicates, rejected = counts
            self._state.count(accepted=accepted, duplicates=duplicates, rejected=rejected)
            for job, failure in zip(jobs, failures, strict=True):
                if job.done.done():
                    continue
                if failure is None:
                    job.done.set_result(None)
                else:
                    job.done.set_exception(_NotStored(failure))

    def _write(self, jobs: list[_Job]) -> tuple[tuple[int, int, int], list[str | None]]:
        """In the writer thread: commit the jobs; the counts, and per job why it was not stored.

        The jobs are committed together. If the store is away (the system's fault, see
        :func:`shuian.faults.blame`) none is stored. If what a job holds spoils the commit (the
        input's fault), the jobs are committed one by one, and the one that fails alone is
        kept as a rejection (its ``raw``, with the reason) instead: it is stored all the same,
        and answered, so that the station does not send it again.
        """
        counts = [0, 0, 0]
        try:
            self._store(jobs, counts)
            return (counts[0], counts[1], counts[2]), [None] * len(jobs)
        except Exception as exc:  # noqa: BLE001 - whose fault it is decides
            failure: BaseException = exc
            if _system(exc):
                return (counts[0], counts[1], counts[2]), [reason_of(exc)] * len(jobs)
        if len(jobs) > 1:
            log.info("sl651: what one of %d frames holds spoiled their commit (%s): committing "
                     "them one by one", len(jobs), reason_of(failure))
        failures: list[str | None] = []
        away: str | None = None
        for job in jobs:
            if away is not None:
                failures.append(away)
                continue
            try:
                if len(jobs) > 1:
                    self._store([job], counts)
                    failures.append(None)
                    continue
            except Exception as exc:  # noqa: BLE001 - whose fault it is decides
                failure = exc
                if _system(exc):
                    away = reason_of(exc)
                    failures.append(away)
                    continue
            try:
                self._reject(Rejection(
                    job.source, None, job.raw or json.dumps(job.records, default=str),
                    f"could not be stored ({reason_of(failure)}): kept here instead; a report "
                    "is acknowledged all the same, so that the station does not send it again"))
                counts[2] += 1
                failures.append(None)
            except Exception as exc:  # noqa: BLE001 - not kept: the station sends it again
                failures.append(reason_of(exc))
                away = reason_of(exc) if _system(exc) else None
        return (counts[0], counts[1], counts[2]), failures

    def _store(self, jobs: list[_Job], counts: list[int]) -> None:
        """Keep the jobs' rejections and pictures, then ingest their readings in one call.

        A picture the media store refuses (the input's fault) is kept as a rejection instead,
        and its job says why (``refused``). The counts are added to ``counts``.
        """
        for job in jobs:
            for rejection in job.rejections:
                self._reject(rejection)
            if job.picture is not None and self._keep_picture is not None:
                data, taken, serial, what = job.picture
                try:
                    self._keep_picture(data, job.source, taken)
                except Exception as exc:  # noqa: BLE001 - whose fault it is decides
                    if _system(exc):
                        raise
                    job.refused = f"{what} not kept: {reason_of(exc)}"
                    self._reject(Rejection(job.source, serial, data.hex().upper(), job.refused))
                    counts[2] += 1
        records = [record for job in jobs for record in job.records]
        if records:
            outcome = self._ingest(records, "sl651")
            counts[0] += outcome.accepted
            counts[1] += outcome.duplicates
            counts[2] += outcome.rejected


def _system(exc: BaseException) -> bool:
    """Whether a failure is the system's (the store is away): then nothing is acknowledged.

    The one place the listener asks :func:`shuian.faults.blame`; stations send again what was
    not acknowledged.
    """
    return blame(exc) is Fault.SYSTEM


class _NotStored(Exception):
    """A commit failed: the frames waiting on it are not acknowledged."""


def _expected(buffer: bytearray) -> str:
    try:
        size = frame_size(bytes(buffer[:header_size(bytes(buffer[:1]))]))
    except Sl651Error:
        return ""
    return f" of the {size} its length field announces"


def _later(time: dt.datetime, offset: dt.timedelta) -> dt.datetime | str:
    """``time + offset``, or the sum written out when it is past the year 9999."""
    try:
        return time + offset
    except OverflowError:
        return f"{time.isoformat()} + {offset}"


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


def open_sources(settings: Sl651Settings, context: SourceContext) -> dict[str, Source]:
    """The SL 651 centre of a site (``telemetry: {sl651: ...}``), by name: ``sl651``."""
    return {"sl651": Sl651Listener(settings, context.ingest, context.reject,
                                   timezone=context.timezone, pictures=context.keep_picture)}
