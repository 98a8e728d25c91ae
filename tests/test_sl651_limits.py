"""Specification: the SL 651 centre cannot be starved, and no frame can stop it.

An adversary (or a broken RTU) on loopback against the real listener: idle sockets, floods of
random bytes, multi-packet messages never finished, frames that fail for their own sake. Every
station from another address is still served, what is kept is bounded by the caps and the rest
counted, and every frame that is not the store's fault is kept and acknowledged. Storage runs on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import random
import resource
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import eventually
from shuian.protocols.sl651 import EOT, Sl651Frame, crc16, decode_frame, element, encode_frame
from shuian.services.ingest import IngestReport
from shuian.site.telemetry import Sl651Settings
from shuian.sources.sl651 import Sl651Listener
from shuian.store import Store, StoredSite
from test_sl651 import FRAMES, published
from test_sl651_listener import (
    GAUGE,
    OBSERVED,
    Centre,
    answer,
    body_of,
    connect,
    packets_of,
    report,
    silent,
)

#: Idle sockets one address opens: issue 11's 2,000 where the file descriptors allow (the
#: test holds one end of each, the listener, in this process, the other).
IDLE = min(2000, resource.getrlimit(resource.RLIMIT_NOFILE)[0] // 2 - 100)
#: A value the poisoned centre's ingest fails on, for that value's own sake.
POISON = 66.6


class PoisonedCentre(Centre):
    """A centre whose ingest fails on one value: a fault of the code that only it reaches."""

    def ingest(self, records: list[dict[str, Any]], source: str) -> IngestReport:
        if any(record.get("value") == POISON for record in records):
            raise RecursionError("maximum recursion depth exceeded (on the value 66.6)")
        return super().ingest(records, source)


@pytest.fixture
def centre(store: Store, stored_site: StoredSite, tmp_path: Path) -> Iterator[PoisonedCentre]:
    setup = PoisonedCentre(store, stored_site, tmp_path / "media")
    yield setup
    for listener in setup.listeners:
        listener.stop()


def from_address(host: str, listener: Sl651Listener) -> socket.socket:
    """A connection from another loopback address (all of 127/8 is this machine)."""
    return socket.create_connection(("127.0.0.1", listener.port), timeout=10,
                                    source_address=(host, 0))


def closed(conn: socket.socket) -> bool:
    """Whether the centre closed the connection (read to the end, answers ignored)."""
    try:
        while conn.recv(4096):
            pass
    except ConnectionError:
        pass
    return True


def hourly(n: int, **fields: Any) -> bytes:
    """The gauge's report for hour ``n`` (each its own reading)."""
    return report(serial=n, observed=OBSERVED + dt.timedelta(hours=n), **fields)


def flood_kept(centre: Centre, host: str = "127.0.0.1") -> list[Any]:
    """The rejections kept of what ``host`` sent before it was a station."""
    return [r for r in centre.store.rejections(centre.stored_site.id, limit=100_000)
            if r.source.startswith(f"sl651:{host}:")]


def summaries(centre: Centre) -> list[Any]:
    """The windows' summary rejections."""
    return [r for r in centre.rejections() if r.source == "sl651"]


# --- nobody can hold the centre's connections -----------------------------------------------


def test_idle_sockets_from_one_address_do_not_keep_a_station_of_another_out(
    centre: Centre,
) -> None:
    listener = centre.start()
    idle: list[socket.socket] = []
    try:
        for _ in range(IDLE):
            idle.append(socket.create_connection(("127.0.0.1", listener.port), timeout=10))
        eventually(lambda: listener.status()["refused_by_address"] == IDLE - 8,
                   what="every idle socket over max_connections_per_address refused")
        started = time.monotonic()
        with from_address("127.0.0.2", listener) as station:
            station.sendall(report(serial=5))
            ack = answer(station)
        took = time.monotonic() - started
        status = listener.status()
    finally:
        for conn in idle:
            conn.close()
    assert (ack.serial, ack.end) == (5, EOT) and took < 1.0
    assert centre.values() == [120.5]
    assert status["refused_by_address"] == IDLE - 8 and status["refused"] == 0
    assert status["window"]["addresses"][0] == {
        "address": "127.0.0.1", "connections": 8, "refused": IDLE - 8, "kept_chars": 0,
        "not_kept": 0, "not_kept_bytes": 0}
    assert "max_connections_per_address 8" in status["last_error"]


def test_a_connection_without_a_good_frame_is_closed_after_the_first_frame_timeout(
    centre: Centre,
) -> None:
    listener = centre.start(first_frame_timeout=0.5)
    stop = threading.Event()

    def trickle(conn: socket.socket) -> None:
        """A byte of noise every tenth of a second, never a frame."""
        try:
            while not stop.wait(0.1):
                conn.sendall(b"+")
        except OSError:
            return

    with connect(listener) as station:
        station.sendall(report(serial=1))
        assert answer(station).serial == 1  # a good frame: idle_timeout applies from now
        started = time.monotonic()
        with connect(listener) as idle, connect(listener) as noisy:
            sender = threading.Thread(target=trickle, args=(noisy,))
            sender.start()
            try:
                assert closed(idle) and closed(noisy)
                took = time.monotonic() - started
            finally:
                stop.set()
                sender.join()
        assert 0.4 < took < 5
        silent(station)  # still open: its first frame was good
        station.sendall(report(serial=2, observed=OBSERVED + dt.timedelta(hours=1)))
        assert answer(station).serial == 2
    assert listener.status()["timed_out"] == 2
    [noise] = flood_kept(centre)
    assert "frame truncated" not in noise.reason and "not a frame" in noise.reason


# --- garbage is capped, and counted ---------------------------------------------------------


def test_twenty_megabytes_of_random_bytes_add_at_most_the_cap_and_the_counts_say_the_rest(
    centre: Centre,
) -> None:
    listener = centre.start(first_frame_timeout=300)  # the cap, not the timeout, is tested
    noise = random.Random(651).randbytes(20 * 1024 * 1024)
    with connect(listener) as conn:
        conn.settimeout(300)
        conn.sendall(noise)
        conn.shutdown(socket.SHUT_WR)
        assert closed(conn)
    kept = flood_kept(centre)
    status = listener.status()
    assert 0 < sum(len(r.raw) + len(r.reason) for r in kept) <= 64 * 1024
    assert status["window"]["kept_chars"] <= 64 * 1024
    # What was not kept is counted, as received: nearly all of it.
    assert len(noise) - 1024 * 1024 < status["not_kept_bytes"] <= len(noise)
    assert status["window"]["not_kept_bytes"] == status["not_kept_bytes"]
    listener.stop()  # ends the window
    [summary] = summaries(centre)
    assert summary.reason.startswith(
        f"{status['not_kept']} rejections ({status['not_kept_bytes']} bytes as received) were "
        "counted, not kept, and 0 connections refused, from ")
    assert json.loads(summary.raw)["addresses"][0]["address"] == "127.0.0.1"


def test_when_the_window_ends_one_summary_says_what_was_dropped_and_the_caps_begin_again(
    centre: Centre,
) -> None:
    listener = centre.start(max_rejected_per_address=100, rejected_window=0.5)
    with connect(listener) as conn:
        conn.sendall(b"\x00" * 60)  # 120 characters of hex: over the cap alone
        eventually(lambda: listener.status()["not_kept"] == 1)
        eventually(lambda: len(summaries(centre)) == 1, what="the window's summary")
        assert flood_kept(centre) == []
        [summary] = summaries(centre)
        assert summary.reason.startswith(
            "1 rejections (60 bytes as received) were counted, not kept, and 0 connections "
            "refused, from ")
        assert "over max_rejected_per_address (100) or max_rejected_total" in summary.reason
        assert json.loads(summary.raw)["addresses"] == [{
            "address": "127.0.0.1", "connections": 1, "refused": 0, "kept_chars": 0,
            "not_kept": 1, "not_kept_bytes": 60}]
        conn.sendall(b"AT+CSQ\r\n")  # within the cap of a new window
        eventually(lambda: len(flood_kept(centre)) == 1)
    status = listener.status()
    assert (status["not_kept"], status["window"]["not_kept"]) == (1, 0)
    assert len(summaries(centre)) == 1  # a window that dropped nothing says nothing


def test_the_total_cap_holds_over_every_address(centre: Centre) -> None:
    listener = centre.start(max_rejected_per_address=200, max_rejected_total=300)
    with from_address("127.0.0.2", listener) as conn:
        conn.sendall(b"\x00" * 50)  # 100 characters of hex, and the reason's 52
        eventually(lambda: len(flood_kept(centre, "127.0.0.2")) == 1)
    with from_address("127.0.0.3", listener) as conn:
        conn.sendall(b"\x00" * 50)  # within its own cap, but not the total's
        eventually(lambda: listener.status()["not_kept"] == 1)
    assert len(flood_kept(centre, "127.0.0.2")) == 1 and flood_kept(centre, "127.0.0.3") == []
    [lost] = listener.status()["window"]["addresses"]
    assert (lost["address"], lost["not_kept"], lost["not_kept_bytes"]) == ("127.0.0.3", 1, 50)


def test_a_frame_over_the_cap_is_not_answered_and_is_kept_when_sent_again(
    centre: Centre,
) -> None:
    settings = {"max_rejected_per_address": 200}
    listener = centre.start(**settings)
    stranger = report(serial=3, station="0099999999")  # unknown: kept, so acknowledged
    with connect(listener) as conn:
        conn.sendall(b"\x00" * 50)
        eventually(lambda: len(flood_kept(centre)) == 1)
        conn.sendall(stranger)
        eventually(lambda: listener.status()["not_kept"] == 1)
        silent(conn)  # not kept: not answered, so the station sends it again
    listener.stop()
    listener = centre.start(**settings)
    with connect(listener) as conn:
        conn.sendall(stranger)
        assert answer(conn).serial == 3
    assert any("unknown station 0099999999" in r.reason for r in flood_kept(centre))


# --- multi-packet messages in progress are bounded ------------------------------------------


def messages(*totals: int) -> dict[int, list[bytes]]:
    """A report of the gauge for each packet total, in that many packets (each its own hour)."""
    return {t: packets_of(body_of(hourly(t)), t) for t in totals}


def test_messages_in_progress_on_a_connection_are_bounded_the_oldest_dropped_and_kept(
    centre: Centre,
) -> None:
    m = messages(2, 3, 4)
    listener = centre.start(max_messages_per_connection=2)
    with connect(listener) as conn:
        conn.sendall(m[2][0] + m[3][0] + m[4][0])
        eventually(lambda: len(centre.rejections()) == 1)
        conn.sendall(b"".join(m[3][1:]))  # the others are still in progress
        assert answer(conn).packets == (3, 3)
    eventually(lambda: len(centre.rejections()) == 2)  # the last, kept when the connection closed
    dropped = next(r for r in centre.rejections() if r.raw == m[2][0].hex().upper())
    assert dropped.reason == (
        "station crest gauge: multi-packet message (function 32, 2 packets, 1 received, "
        "missing 2) incomplete when more than 2 messages were in progress on one connection, "
        "the oldest dropped; the packets received are kept in hex, in sequence order")
    assert centre.count() == 1
    assert listener.status()["messages_dropped"] == 1


def test_the_bytes_of_messages_in_progress_on_a_connection_are_bounded(centre: Centre) -> None:
    m = messages(2, 3, 4)
    limit = len(m[3][0]) + len(m[4][0])
    listener = centre.start(max_message_bytes=limit, max_message_bytes_per_connection=limit)
    with connect(listener) as conn:
        conn.sendall(m[2][0] + m[3][0] + m[4][0])
        eventually(lambda: len(centre.rejections()) == 1)
        [dropped] = centre.rejections()
        assert dropped.raw == m[2][0].hex().upper()
        assert (f"incomplete when more than {limit} bytes of messages were in progress on one "
                "connection, the oldest dropped") in dropped.reason
    # The two that fit were still in progress: kept when the connection closed.
    eventually(lambda: len(centre.rejections()) == 3)
    closing = [r.raw for r in centre.rejections() if "when the connection closed" in r.reason]
    assert sorted(closing) == sorted([m[3][0].hex().upper(), m[4][0].hex().upper()])
    assert listener.status()["messages_dropped"] == 1


@pytest.mark.parametrize("bound", ["max_messages_total", "max_message_bytes_total"])
def test_messages_in_progress_over_all_connections_are_bounded(
    centre: Centre, bound: str
) -> None:
    m = messages(2, 3, 4)
    sizes = len(m[3][0]) + len(m[4][0])
    limits = ({"max_messages_per_connection": 2, "max_messages_total": 2}
              if bound == "max_messages_total" else
              {"max_message_bytes": sizes, "max_message_bytes_per_connection": sizes,
               "max_message_bytes_total": sizes})
    listener = centre.start(**limits)
    with connect(listener) as first, from_address("127.0.0.2", listener) as second:
        first.sendall(m[2][0])
        eventually(lambda: listener.status()["messages"] == 1)
        second.sendall(m[3][0] + m[4][0])
        eventually(lambda: len(centre.rejections()) == 1)
        [dropped] = centre.rejections()  # the oldest, of the other connection
        assert dropped.raw == m[2][0].hex().upper()
        assert "in progress in total, the oldest dropped" in dropped.reason
    eventually(lambda: len(centre.rejections()) == 3)
    closing = [r.raw for r in centre.rejections() if "when the connection closed" in r.reason]
    assert sorted(closing) == sorted([m[3][0].hex().upper(), m[4][0].hex().upper()])
    assert listener.status()["messages_dropped"] == 1


# --- no frame can stop the centre: kept and acknowledged, unless the store is away ----------


def beyond_the_year_9999() -> list[bytes]:
    """A uniform-interval report whose 29,002 steps of about 100 days pass the year 9999."""
    step = dt.timedelta(days=99, hours=23, minutes=59)
    head = encode_frame(Sl651Frame(
        center=1, station=GAUGE, password="1234", function_code=0x31, serial=40,
        send_time=dt.datetime(2099, 12, 31, 0, 1), station_class="K",
        observed_time=dt.datetime(2099, 12, 31),
        elements=(element("04", step / dt.timedelta(minutes=1)),
                  element("39", None, values=(12.0, 12.0), time_step=step, size=1,
                          decimals=0)),
    ))
    return packets_of(body_of(head) + b"\x12" * 29_000, 10, function=0x31)


def with_body(frame: bytes, body: bytes) -> bytes:
    """A single-packet HEX/BCD ``frame`` with another body, its length and CRC made right."""
    unsigned = frame[:11] + len(body).to_bytes(2, "big") + frame[13:14] + body + frame[-3:-2]
    return unsigned + crc16(unsigned).to_bytes(2, "big")


def inserted(frame: bytes, after: bytes, extra: bytes) -> bytes:
    """``frame`` with ``extra`` bytes in its body after the first ``after``."""
    body = body_of(frame)
    at = body.index(after) + len(after)
    return with_body(frame, body[:at] + extra + body[at:])


def manual_entry_with_nul(serial: int) -> bytes:
    """A manual entry (35H) whose text holds a NUL and an escape sequence."""
    frame = report(serial=serial, function=0x35)
    body = body_of(frame)
    return with_body(frame, body[:body.index(bytes.fromhex("F0F0"))] + bytes.fromhex("F2F2")
                     + b"Q 1.2\x00\x1b[2J")


def test_poison_frames_among_good_reports_are_kept_and_every_frame_acknowledged(
    centre: Centre,
) -> None:
    listener = centre.start(stations=[
        {"address": GAUGE, "name": "crest gauge", "elements": {"39": "WL.level"}}])
    good = [hourly(n) for n in range(12)]
    poison = [
        hourly(100, level=POISON),  # the ingest fails on it, for its own sake
        report(serial=101, observed=dt.datetime(2099, 1, 1, 8)),  # beyond the future allowance
        manual_entry_with_nul(102),
        hourly(103, extra=(element("20", 5.5),)),  # an element that maps to no channel
    ]
    frames = good[:6] + poison + good[6:]
    series = beyond_the_year_9999()

    async def send(n: int, data: bytes) -> bytes:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", listener.port, local_addr=(f"127.2.0.{n + 1}", 0))
        writer.write(data)
        await writer.drain()
        got = await asyncio.wait_for(reader.read(100), 60)
        writer.close()
        return got

    async def together() -> list[bytes]:  # at once: they are committed together
        return await asyncio.gather(send(len(frames), b"".join(series)),
                                    *(send(n, data) for n, data in enumerate(frames)))

    answers = [decode_frame(a) for a in asyncio.run(together())]
    assert answers[0].packets == (10, 10) and answers[0].end == EOT
    assert [(a.serial, a.end) for a in answers[1:]] == [
        (decode_frame(f).serial, EOT) for f in frames]
    assert centre.count() == 12 + 1  # the good reports, and the good level of report 103
    reasons = [r.reason for r in centre.store.rejections(centre.stored_site.id, limit=100_000)]
    assert sum("could not be stored (RecursionError: maximum recursion depth" in r
               for r in reasons) == 1
    assert sum("time is more than a day in the future" in r for r in reasons) >= 1 + 1
    # past the year 9999, the time is written as the sum that gives it: not a time
    assert sum("time is not ISO 8601" in r and "'2099-12-31T00:00:00 + " in r
               for r in reasons) >= 1
    assert sum("manual entry" in r for r in reasons) == 1
    assert sum("element 20 (" in r and "maps to no channel" in r for r in reasons) == 1
    assert listener.status()["failures"] == 0


@pytest.mark.parametrize("code", ["0410 0005", "0418 FF0005"])
def test_a_frame_the_codec_once_failed_on_keeps_what_can_be_laid_out_and_is_acknowledged(
    centre: Centre, code: str
) -> None:
    # A time-step code of two bytes, or FF 00 05: once a ValueError that dropped the connection.
    frame = inserted(report(serial=7), bytes.fromhex("F0F0 2403010800"), bytes.fromhex(code))
    listener = centre.start()
    with connect(listener) as conn:
        conn.sendall(frame)
        ack = answer(conn)
    assert (ack.serial, ack.end) == (7, EOT)
    assert centre.values() == [120.5] and centre.values("LOG.batt") == [12.6]
    [kept] = centre.rejections()
    assert "is not a time-step code, 3 bytes of BCD DDhhmm" in kept.reason


def test_no_mutated_frame_stops_the_centre(
    store: Store, stored_site: StoredSite, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    centre = Centre(store, stored_site, tmp_path / "media")
    listener = centre.start()
    rng = random.Random(11)
    seeds = [published(name) for name in sorted(FRAMES)] + [report()]
    sent = 0
    try:
        with caplog.at_level(logging.WARNING):
            for n in range(300):
                data = bytearray(rng.choice(seeds))
                for _ in range(rng.randint(1, 4)):
                    at = rng.randrange(len(data))
                    data[at:at + rng.randint(0, 2)] = rng.randbytes(rng.randint(0, 3))
                if data[:2] == b"\x7e\x7e" and len(data) > 16:  # often the length and CRC right
                    data[11:13] = ((data[11] & 0xF0) << 8 | (len(data) - 17) & 0xFFF).to_bytes(
                        2, "big")
                    data[-2:] = crc16(bytes(data[:-2])).to_bytes(2, "big")
                with from_address(f"127.3.{n // 200}.{n % 200 + 1}", listener) as conn:
                    conn.sendall(bytes(data))
                    conn.shutdown(socket.SHUT_WR)
                    assert closed(conn)
                sent += 1
            with connect(listener) as conn:
                conn.sendall(report(serial=9))
                assert answer(conn).serial == 9
    finally:
        listener.stop()
    assert sent == 300
    escaped = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert escaped == [], [r.getMessage() for r in escaped]
    assert listener.status()["failures"] == 0


def test_a_store_that_is_away_leaves_every_frame_of_the_batch_for_redelivery(
    centre: Centre,
) -> None:
    listener = centre.start()
    centre.fail_next = 1  # the database is unreachable once: ConnectionError, the system's
    with connect(listener) as conn:
        conn.sendall(hourly(1) + hourly(2))
        assert closed(conn)  # no answer: the station sends them again
    assert not any("could not be stored" in r.reason for r in centre.rejections())
    with connect(listener) as conn:
        conn.sendall(hourly(1) + hourly(2))
        assert [answer(conn).serial for _ in range(2)] == [1, 2]
    assert centre.count() == 2 and listener.status()["failures"] == 1


def test_the_bounds_must_be_in_order() -> None:
    with pytest.raises(ValueError, match="max_message_bytes .* is more than "
                                         "max_message_bytes_per_connection"):
        Sl651Settings(max_message_bytes=10 << 20, stations=[
            {"address": GAUGE, "elements": {"39": "WL.level"}}])

