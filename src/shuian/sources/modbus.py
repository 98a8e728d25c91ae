r"""Readings polled from data loggers over Modbus TCP, with nothing lost.

:class:`ModbusPoller` reads a logger's registers every ``interval`` seconds, on the clock
(``interval: 60`` polls on every minute), and ingests one reading per register, stamped with
the time of the poll (UTC). The site file maps registers to channels
(``telemetry: {modbus: [...]}``, :class:`ModbusSettings`): the table, the address (0-based, as
sent in the request), the type and word order, and a linear scaling

.. math:: x = r \cdot \mathrm{scale} + \mathrm{offset}

where :math:`r` is the number the register(s) hold. ``kind: value`` stores :math:`x` as the
engineering value; ``kind: raw`` stores it as the raw reading, which the channel's conversion
turns into the engineering value (a vibrating-wire reading in digits, say).

Registers that follow each other in one table are read with one request of at most
:data:`MAX_BLOCK` registers (the Modbus limit for a read). A request answered with a Modbus
exception (an address the logger does not define, say) is repeated register by register, so
one bad register does not take its neighbours with it; a register that still fails, or holds no
number (a float NaN or infinity), is kept as a rejection (source ``modbus:<name>``) naming the
logger, table, address and the exception or value, and the other registers are stored. So is a
block the logger answered with something that is not the answer to the request: bytes that are
not a Modbus frame, another function code, or another number of registers (the first
:data:`MAX_HEARD` bytes heard are kept, in hex). A register failing again for the same reason
is kept once, not at every poll (``repeated_failures`` counts the repeats).

A logger that cannot be reached, or answers nothing at all, is not a rejection: the status says
so (``last_error``, ``failures``) and the next poll connects again. A poll whose ingest fails
because the system is to blame (:func:`shuian.faults.blame`: the database is away) stays in
memory, up to :data:`MAX_PENDING_POLLS` polls, and is ingested before the next poll's readings,
so nothing polled is lost while the database is away; each reading is keyed by (channel, time),
so a retried poll is stored once. With ``spool`` (a file) each poll is also written to disk
before the ingest, so polls outlive a restart of the process as well. A poll whose ingest fails
for its own sake is kept as one rejection (its readings as JSON, and the reason) and the poller
goes on: no poll can hold up the ones after it.

Examples
--------
>>> settings = ModbusSettings(
...     name="crest", host="10.0.0.21", interval=60,
...     registers=[{"channel": "WL.level", "address": 0, "type": "float32"},
...                {"channel": "LOG.batt", "address": 2, "type": "uint16", "scale": 0.01}],
... )
>>> [(b.table, b.address, b.count) for b in plan_blocks(settings.registers)]
[('holding', 0, 3)]
>>> poller = ModbusPoller(settings, ingest=listeners.ingest,  # doctest: +SKIP
...                       reject=listeners.reject)
>>> poller.start()  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pymodbus.client import ModbusTcpClient
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import ConnectionException, ModbusException
from pymodbus.pdu import ModbusPDU

from shuian.faults import Fault, blame, reason_of
from shuian.readings import US_PER_S, Rejection
from shuian.site.telemetry import WORDS, ModbusRegister, ModbusSettings, Table
from shuian.sources.base import MAX_REJECTED_TEXT, Ingest, Reject, Source, SourceContext, keep
from shuian.sources.spool import Spool
from shuian.sources.status import SourceStatus
from shuian.times import iso_utc

__all__ = [
    "MAX_BLOCK",
    "MAX_HEARD",
    "MAX_PENDING_POLLS",
    "Block",
    "DecodeError",
    "ModbusPoller",
    "decode",
    "open_sources",
    "plan_blocks",
]

log = logging.getLogger(__name__)

#: Most registers one read request may ask for (Modbus application protocol 1.1b3, 6.3).
MAX_BLOCK = 125

#: Polls kept in memory while their ingest fails; beyond this the oldest is dropped.
MAX_PENDING_POLLS = 1000

#: Bytes of an answer that is not a Modbus frame kept in its rejection.
MAX_HEARD = 64

#: The function code that reads each table.
FUNCTION: dict[str, int] = {"holding": 3, "input": 4}

_DATATYPES: dict[str, ModbusTcpClient.DATATYPE] = {
    name: ModbusTcpClient.DATATYPE[name.upper()] for name in WORDS
}


# -- pure parts: which requests, and what the registers mean -------------------------------


@dataclass(frozen=True)
class Block:
    """One read request: ``count`` registers of ``table`` from ``address``, and their readings."""

    table: Table
    address: int
    count: int
    registers: tuple[ModbusRegister, ...]


def plan_blocks(
    registers: Sequence[ModbusRegister], max_count: int = MAX_BLOCK
) -> list[Block]:
    """The fewest read requests for ``registers``: neighbours of one table read together.

    Registers are merged only where they follow each other with no gap: an address the logger
    does not define would make it answer the whole request with an exception.

    Parameters
    ----------
    registers : Sequence[ModbusRegister]
        The readings of a logger (not overlapping).
    max_count : int
        Most registers per request (125 for reading holding or input registers).

    Returns
    -------
    list of Block
        Holding blocks, then input blocks, each by address.
    """
    blocks: list[Block] = []
    for table in ("holding", "input"):
        run: list[ModbusRegister] = []
        for register in sorted((r for r in registers if r.table == table),
                               key=lambda r: r.address):
            if run and register.address == run[-1].end and register.end - run[0].address <= (
                max_count
            ):
                run.append(register)
                continue
            if run:
                blocks.append(_block(run))
            run = [register]
        if run:
            blocks.append(_block(run))
    return blocks


def _block(run: list[ModbusRegister]) -> Block:
    return Block(run[0].table, run[0].address, run[-1].end - run[0].address, tuple(run))


class DecodeError(ValueError):
    """Registers that do not hold a usable number; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def decode(register: ModbusRegister, words: Sequence[int]) -> float:
    """The number a register holds, scaled: x = r × scale + offset.

    The registers are decoded by pymodbus (``convert_from_registers``) in the register's type
    and word order.

    Parameters
    ----------
    register : ModbusRegister
        The reading's map entry.
    words : Sequence[int]
        Its 16-bit registers as read, first address first.

    Returns
    -------
    float
        x, in the channel's unit (``kind: value``) or its raw reading's unit (``kind: raw``).

    Raises
    ------
    DecodeError
        Not as many registers as the type takes, or the result is not finite (a float NaN or
        infinity).

    Examples
    --------
    >>> r = ModbusRegister(channel="LOG.batt", address=0, type="int32", word_order="little",
    ...                    scale=0.001)
    >>> decode(r, [0x3138, 0x0000])  # 12600 mV, least significant register first
    12.6
    """
    if len(words) != register.words:
        raise DecodeError(
            f"the logger answered {len(words)} register(s) for a {register.type}, which takes "
            f"{register.words}"
        )
    number = ModbusTcpClient.convert_from_registers(
        list(words), _DATATYPES[register.type], word_order=register.word_order
    )
    if not isinstance(number, int | float):  # pragma: no cover - numeric types only
        raise DecodeError(f"not a number: {number!r}")
    value = float(number) * register.scale + register.offset
    if not math.isfinite(value):
        raise DecodeError(f"holds {number!r}, not a finite number")
    return value


# -- the poller -----------------------------------------------------------------------------


@dataclass
class _Poll:
    """What one poll read and has not yet been committed."""

    records: list[dict[str, Any]]
    rejections: list[Rejection] = field(default_factory=list)


class ModbusPoller:
    """Polls one logger in its own thread and ingests every reading, keeping what fails.

    ``ingest(records, source)`` and ``reject(rejection)`` are called in the poller's thread;
    both must commit before they return and raise if they could not. When the system is to
    blame (:func:`shuian.faults.blame`) the poll is kept in memory and tried again at the next
    poll; otherwise it is kept as a rejection.
    """

    def __init__(self, settings: ModbusSettings, ingest: Ingest, reject: Reject) -> None:
        self.settings = settings
        self.source = f"modbus:{settings.name}"
        self.blocks = plan_blocks(settings.registers)
        self._ingest = ingest
        self._reject = reject
        self._client = ModbusTcpClient(
            settings.host, port=settings.port, timeout=settings.timeout,
            retries=settings.retries, trace_packet=self._hear,
        )
        #: The start of what the logger sent since the last request, and how many bytes.
        self._heard = b""
        self._heard_bytes = 0
        self._spool = Spool(settings.spool) if settings.spool is not None else None
        # Polls a previous process read and did not store come first.
        self._pending: deque[_Poll] = deque(
            _Poll(records=batch) for batch in (self._spool.load() if self._spool else [])
        )
        self._dropped = 0  # polls dropped from a full _pending since the last good ingest
        # Registers failing now, with their reason: a failure is kept once, not at every poll.
        self._failing: dict[tuple[str, int], str] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._state = SourceStatus("modbus", f"{settings.host}:{settings.port}",
                                   label=f"modbus {settings.name}",
                                   counts=("repeated_failures",))

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Run :meth:`run_forever` in a background thread."""
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self.run_forever, name=f"shuian-modbus-{self.settings.name}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop polling (after a last try to store what is pending) and wait for the thread."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                return  # still in a poll or an ingest: it closes the connection when done
            self._thread = None
        self._client.close()  # type: ignore[no-untyped-call]
        self._state.set(connected=False)

    def run_forever(self) -> None:
        """Poll on every multiple of ``interval`` on the clock until :meth:`stop` is called."""
        interval_us = max(round(self.settings.interval * US_PER_S), 1)
        while not self._stopping.is_set():
            slot_us = (_now_us() // interval_us + 1) * interval_us
            while not self._stopping.is_set() and (wait_us := slot_us - _now_us()) > 0:
                self._stopping.wait(wait_us / US_PER_S)
            if self._stopping.is_set():
                break
            try:
                self.poll(slot_us)
            except Exception as exc:  # noqa: BLE001 - the poller outlives any one poll
                log.exception("modbus %s: poll failed", self.settings.name)
                self._state.count(failures=1)
                self._state.note_error(f"the poll failed: {exc!r}")
        try:
            failure = self._flush()
            if failure is not None:
                self._state.note_error(f"stopped with readings not stored: {failure}")
        except Exception:  # noqa: BLE001 - stopping regardless
            log.exception("modbus %s: pending polls not stored", self.settings.name)
        finally:
            self._client.close()  # type: ignore[no-untyped-call]
            self._state.set(connected=False)

    def poll(self, time_us: int) -> None:
        """Read every register once, stamp the readings ``time_us``, and store them.

        Parameters
        ----------
        time_us : int
            The poll's time, microseconds since 1970-01-01 UTC.
        """
        stamp = iso_utc(times_us=np.array([time_us], dtype=np.int64))[0]
        poll = self._read(stamp)
        if poll is not None and (poll.records or poll.rejections):
            self._pending.append(poll)
            if poll.records and self._spool is not None:
                try:
                    self._spool.append(poll.records)  # on disk before the ingest sees it
                except OSError as exc:  # the disk: still in memory, and the ingest goes on
                    self._state.note_error(f"poll not written to the spool {self._spool.path}: "
                                           f"{reason_of(exc)}")
        failure = self._flush()
        if failure is None:
            self._dropped = 0
            if self._spool is not None:
                self._spool.clear()
            return
        while self._spool is None and len(self._pending) > MAX_PENDING_POLLS:
            oldest = self._pending.popleft()
            self._dropped += 1
            log.error("modbus %s: more than %d polls wait to be stored: the oldest (%d "
                      "readings) is dropped", self.settings.name, MAX_PENDING_POLLS,
                      len(oldest.records))
        if self._dropped:
            failure += (f" ({self._dropped} older poll(s) dropped: at most {MAX_PENDING_POLLS} "
                        "wait)")
        self._state.note_error(failure)

    # -- reading the logger ---------------------------------------------------------------

    def _read(self, stamp: str) -> _Poll | None:
        """The readings and rejections of one poll; None if the logger could not be reached."""
        s = self.settings
        connect = self._client.connect  # untyped in pymodbus: returns whether it is connected
        if not self._client.connected and not connect():  # type: ignore[no-untyped-call]
            self._fail(f"cannot connect to the logger at {s.host}:{s.port}")
            return None
        self._state.set(connected=True)
        poll = _Poll(records=[])
        for block in self.blocks:
            try:
                self._read_block(block, stamp, poll)
            except (ModbusException, OSError) as exc:
                self._client.close()  # type: ignore[no-untyped-call]
                if self._heard_bytes and not isinstance(exc, ConnectionException):
                    # An answer came that is not a Modbus frame: the logger's fault, kept;
                    # the next block goes on a new connection.
                    self._garbled(poll, block, stamp, "bytes that are not a Modbus answer",
                                  f"{self._heard_bytes} byte(s), {self._heard.hex()}")
                    continue
                # No answer, or the connection lost twice: keep what was read; the next
                # poll connects again.
                self._fail(f"lost the logger at {s.host}:{s.port} reading {block.table} "
                           f"{block.address}-{block.address + block.count - 1}: {exc}")
                break
        else:
            self._state.count(messages=1)
            self._state.set(last_message_at=dt.datetime.now(dt.UTC))
        return poll

    def _read_block(self, block: Block, stamp: str, poll: _Poll) -> None:
        response = self._request(block.table, block.address, block.count)
        function = int(getattr(response, "function_code", 0))
        if function & 0x7F != FUNCTION[block.table]:
            self._garbled(poll, block, stamp, f"with function code {function}, not "
                          f"{FUNCTION[block.table]}", _registers(response))
            return
        if response.isError() and len(block.registers) > 1:
            # One bad address fails the whole request: ask for each reading alone.
            for register in block.registers:
                self._read_block(_block([register]), stamp, poll)
            return
        if not response.isError() and len(response.registers) != block.count:
            self._garbled(poll, block, stamp, f"{len(response.registers)} register(s) to a "
                          f"request for {block.count}", _registers(response))
            return
        for register in block.registers:
            if response.isError():
                self._keep_once(poll, register, self._exception(register, response, stamp))
                continue
            start = register.address - block.address
            words = list(response.registers[start:start + register.words])
            try:
                x = decode(register, words)
            except DecodeError as exc:
                self._keep_once(poll, register, self._rejection(
                    register, f"{register.table} {register.address}: registers "
                    f"[{', '.join(f'0x{w:04x}' for w in words)}] at {stamp}", exc.reason,
                ))
                continue
            self._failing.pop((register.table, register.address), None)
            poll.records.append({"channel": register.channel, "time": stamp, register.kind: x})

    def _garbled(self, poll: _Poll, block: Block, stamp: str, answer: str, heard: str) -> None:
        """Keep each register of a block the logger answered with ``answer`` (once)."""
        raw = (f"unit {self.settings.unit} {block.table} {block.address} count {block.count} "
               f"at {stamp}: {heard}")
        for register in block.registers:
            self._keep_once(poll, register, self._rejection(
                register, raw, f"the logger answered {answer}"))

    def _keep_once(self, poll: _Poll, register: ModbusRegister, rejection: Rejection) -> None:
        """Keep a register's failure the first time it happens, not again at every poll.

        Once the register reads well, or fails for another reason, the next failure is kept
        again; the repeats are counted in ``repeated_failures``.
        """
        key = (register.table, register.address)
        if self._failing.get(key) == rejection.reason:
            self._state.count(repeated_failures=1)
            return
        self._failing[key] = rejection.reason
        poll.rejections.append(rejection)

    def _request(self, table: Table, address: int, count: int) -> ModbusPDU:
        read = (self._client.read_holding_registers if table == "holding"
                else self._client.read_input_registers)
        self._heard, self._heard_bytes = b"", 0
        try:
            return read(address, count=count, device_id=self.settings.unit)
        except ConnectionException:
            # Loggers close idle connections: once more on a new one (pymodbus connects).
            self._client.close()  # type: ignore[no-untyped-call]
            return read(address, count=count, device_id=self.settings.unit)

    def _hear(self, sending: bool, data: bytes) -> bytes:
        """Note what the logger sent (pymodbus traces the bytes on the wire through this)."""
        if not sending:
            self._heard, self._heard_bytes = bytes(data[:MAX_HEARD]), len(data)
        return data

    def _exception(self, register: ModbusRegister, response: ModbusPDU, stamp: str
    ) -> Rejection:
        code = int(getattr(response, "exception_code", 0))
        try:
            name = ExcCodes(code).name
        except ValueError:
            name = "not a standard code"
        return self._rejection(
            register,
            f"unit {self.settings.unit} {register.table} {register.address} count "
            f"{register.words} at {stamp}: exception response, code {code}",
            f"Modbus exception {code} ({name})",
        )

    def _rejection(self, register: ModbusRegister, raw: str, why: str) -> Rejection:
        reason = f"logger {self.settings.name!r}: {register.describe()}: {why}"
        return Rejection(self.source, None, raw, reason, register.channel)

    # -- storing --------------------------------------------------------------------------

    def _flush(self) -> str | None:
        """Store the pending polls, oldest first.

        What fails because the system is to blame stays for the next poll, and the reason is
        returned; a poll failing for its own sake is kept as a rejection (:meth:`_ingest_polls`).
        """
        polls = list(self._pending)
        readings = sum(len(poll.records) for poll in polls)
        try:
            self._ingest_polls(polls)
        except Exception as exc:  # noqa: BLE001 - the system's fault: kept for the next poll
            self._state.count(failures=1)
            return (f"{readings} readings of {len(polls)} poll(s) not stored yet, tried again "
                    f"at the next poll: {reason_of(exc)}")
        while self._pending:
            poll = self._pending[0]
            while poll.rejections:
                try:
                    keep(self._reject, poll.rejections[0])
                except Exception as exc:  # noqa: BLE001 - the system's fault: next poll
                    self._state.count(failures=1)
                    return ("a rejection not kept yet, tried again at the next poll: "
                            f"{reason_of(exc)}")
                poll.rejections.pop(0)
                self._state.count(rejected=1)
            self._pending.popleft()
        return None

    def _ingest_polls(self, polls: list[_Poll]) -> None:
        """Ingest the readings of ``polls`` in one call; a poll failing alone becomes a rejection.

        When the ingest fails for the input's sake (:func:`~shuian.faults.blame`), the polls are
        ingested again in halves until the one to blame is alone; its readings are then kept
        as one rejection (their JSON, the reason) instead, and the others are stored.

        Raises
        ------
        Exception
            The system is to blame (the database is away): the polls keep their readings.
        """
        records = [record for poll in polls for record in poll.records]
        if not records:
            return
        try:
            report = self._ingest(records, self.source)
        except Exception as exc:  # noqa: BLE001 - only the system's fault goes up
            if blame(exc) is Fault.SYSTEM:
                raise
            if len(polls) > 1:
                half = len(polls) // 2
                self._ingest_polls(polls[:half])
                self._ingest_polls(polls[half:])
                return
            [poll] = polls
            reason = f"logger {self.settings.name!r}: could not be ingested: {reason_of(exc)}"
            text = json.dumps(poll.records, separators=(",", ":"))[:MAX_REJECTED_TEXT]
            poll.rejections.insert(0, Rejection(self.source, None, text, reason))
            poll.records = []
            self._state.note_error(f"a poll kept as a rejection: {reason}")
            return
        self._state.count(accepted=report.accepted, duplicates=report.duplicates,
                          rejected=report.rejected)
        for poll in polls:
            poll.records = []

    # -- status ---------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Where the poller stands, as JSON-ready values.

        ``kind`` (``modbus``), ``endpoint`` (``host:port``), ``connected``; ``messages`` (polls
        that read every block); readings ``accepted``, ``duplicates`` and ``rejected``
        (readings refused by validation and registers kept as rejections); ``failures``
        (polls that could not reach the logger, and ingests that raised, the readings kept for
        the next poll); ``repeated_failures`` (a register failing again as before: kept once);
        ``last_message_at`` (ISO 8601, UTC), ``last_error`` and ``last_error_at``.
        """
        return self._state.as_json()

    def _fail(self, message: str) -> None:
        self._state.count(failures=1)
        self._state.set(connected=False)
        self._state.note_error(message)


def _registers(response: ModbusPDU) -> str:
    """The registers of an answer, in hex, for a rejection."""
    words = list(getattr(response, "registers", None) or [])
    return f"registers [{', '.join(f'0x{w:04x}' for w in words[:MAX_BLOCK])}]"


def _now_us() -> int:
    """The wall clock, microseconds since 1970-01-01 UTC."""
    return time.time_ns() // 1000


def open_sources(
    settings: tuple[ModbusSettings, ...], context: SourceContext
) -> dict[str, Source]:
    """The Modbus pollers of a site (``telemetry: {modbus: [...]}``), by name ``modbus:<name>``."""
    return {f"modbus:{logger.name}": ModbusPoller(logger, context.ingest, context.reject)
            for logger in settings}
