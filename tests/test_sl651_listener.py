"""Specification of the SL 651-2014 centre (``shuian.sources.sl651``).

Stations connect over real TCP sockets; readings land in the real store (SQLite and
PostgreSQL). A report is acknowledged only once its readings are committed; anything that cannot
be taken is kept as a rejection with its bytes, and the listener keeps serving everyone else.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError
from typer.testing import CliRunner

from conftest import SITE_FILE, eventually, serve
from shuian.api import create_app
from shuian.cli import app
from shuian.errors import SiteError
from shuian.protocols.sl651 import (
    EOT,
    ETB,
    ETX,
    HEADER,
    NAK,
    Sl651Frame,
    crc16,
    decode_body,
    decode_frame,
    element,
    encode_frame,
    frame_size,
    header_size,
)
from shuian.readings import Rejection
from shuian.services.ingest import Ingestor, IngestReport
from shuian.services.media import MediaLibrary
from shuian.services.telemetry import Listeners
from shuian.site import parse_site
from shuian.site.telemetry import Sl651Settings, Sl651Station
from shuian.sources.sl651 import Sl651Listener
from shuian.store import Store, StoredSite
from shuian.store.base import MAX_RAW_TEXT
from test_sl651 import FUJIAN_UNIFORM, published

SHUIAN = Path(sys.executable).parent / "shuian"
GAUGE = "0012345678"
OBSERVED = dt.datetime(2024, 3, 1, 8, 0)  # station clock: the site's zone, Asia/Shanghai
NOW = dt.datetime(2024, 3, 1, 0, 5, tzinfo=dt.UTC)


def report(
    serial: int = 1,
    *,
    station: str = GAUGE,
    observed: dt.datetime = OBSERVED,
    level: float | None = 120.5,
    function: int = 0x32,
    extra: tuple[Any, ...] = (),
) -> bytes:
    """A timed report (32) of the gauge: water level (39), supply voltage (38) and extras."""
    elements = (element("39", level), element("38", 12.6), *extra)
    return encode_frame(Sl651Frame(
        center=1, station=station, password="1234", function_code=function, serial=serial,
        send_time=observed + dt.timedelta(minutes=1), station_class="K",
        observed_time=observed, elements=elements,
    ))


class Centre:
    """A running listener for one test, with the store behind it."""

    def __init__(self, store: Store, stored_site: StoredSite, media_dir: Path) -> None:
        self.store = store
        self.stored_site = stored_site
        self.ingestor = Ingestor(store, stored_site)
        self.media = MediaLibrary(store, media_dir)
        self.fail_next = 0
        self.listeners: list[Sl651Listener] = []

    def ingest(self, records: list[dict[str, Any]], source: str) -> IngestReport:
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("database unreachable (simulated by the test's ingest)")
        return self.ingestor.ingest_records(records, source=source)

    def reject(self, rejection: Rejection) -> None:
        self.store.write_rejections(self.stored_site.id, [rejection])

    def keep_picture(self, data: bytes, source: str, taken_at: dt.datetime) -> None:
        self.media.put(data, site_id=self.stored_site.id, source=source, taken_at=taken_at,
                       content_type="image/jpeg")

    def start(self, *, pictures: bool = True, **settings: Any) -> Sl651Listener:
        stations = settings.pop("stations", [
            {"address": GAUGE, "name": "crest gauge",
             "elements": {"39": "WL.level", "38": "LOG.batt"}},
        ])
        listener = Sl651Listener(
            Sl651Settings(host="127.0.0.1", port=0, stations=stations, **settings),
            self.ingest, self.reject, timezone="Asia/Shanghai", clock=lambda: NOW,
            pictures=self.keep_picture if pictures else None,
        )
        listener.start()
        assert listener.wait_listening(10)
        self.listeners.append(listener)
        return listener

    def count(self, channel: str = "WL.level") -> int:
        return len(self.store.readings(self.store.channel(self.stored_site.id, channel).id)[0])

    def values(self, channel: str = "WL.level") -> list[float]:
        return [float(v) for v in
                self.store.readings(self.store.channel(self.stored_site.id, channel).id)[1]]

    def times(self, channel: str = "WL.level") -> list[str]:
        """Reading times in UTC, as "YYYY-MM-DD hh:mm"."""
        micros = self.store.readings(self.store.channel(self.stored_site.id, channel).id)[0]
        return [dt.datetime.fromtimestamp(int(us) / 1e6, dt.UTC).strftime("%Y-%m-%d %H:%M")
                for us in micros]

    def rejections(self) -> list[Any]:
        return self.store.rejections(self.stored_site.id, limit=1000)

    def images(self) -> list[Any]:
        return self.store.media_items(self.stored_site.id, limit=1000)


@pytest.fixture
def centre(store: Store, stored_site: StoredSite, tmp_path: Path) -> Iterator[Centre]:
    setup = Centre(store, stored_site, tmp_path / "media")
    yield setup
    for listener in setup.listeners:
        listener.stop()


def connect(listener: Sl651Listener) -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", listener.port), timeout=10)
    return conn


def answer(conn: socket.socket) -> Sl651Frame:
    """Read one down frame (either mode) from the centre, and not a byte of the next one.

    Answers sent together (a batch of frames committed at once) may come in one segment.
    """
    data = received(conn, 1)
    data += received(conn, header_size(data) - len(data))
    return decode_frame(data + received(conn, frame_size(data) - len(data)))


def received(conn: socket.socket, count: int) -> bytes:
    """Exactly ``count`` bytes from the centre."""
    data = b""
    while len(data) < count:
        chunk = conn.recv(count - len(data))
        assert chunk, "the centre closed the connection without answering"
        data += chunk
    return data


# --- reports are stored, then acknowledged --------------------------------------------------


def test_a_report_is_stored_then_acknowledged_with_its_serial_number(centre: Centre) -> None:
    listener = centre.start()
    with connect(listener) as conn:
        conn.sendall(report(serial=7))
        ack = answer(conn)
    assert (ack.direction, ack.function_code, ack.serial, ack.end) == ("down", 0x32, 7, EOT)
    assert (ack.station, ack.center, ack.valid_crc) == (GAUGE, 1, True)
    assert ack.send_time == dt.datetime(2024, 3, 1, 8, 5)  # the centre's clock, station zone
    # the station sent at 08:01 by its clock, the centre received at 08:05 by its own
    assert listener.status()["peers"][0]["clock_offset_s"] == -240.0
    assert centre.values() == [120.5]
    assert centre.values("LOG.batt") == [12.6]
    assert centre.times() == ["2024-03-01 00:00"]  # 08:00 Beijing time is 00:00 UTC


def test_an_ascii_mode_report_is_answered_in_ascii_mode(centre: Centre) -> None:
    listener = centre.start()
    ascii_report = encode_frame(decode_frame(report(serial=4)), mode="ascii")
    assert ascii_report[:1] == b"\x01"
    bad = bytearray(encode_frame(decode_frame(report(serial=5)), mode="ascii"))
    bad[-1:] = b"0" if bad[-1:] != b"0" else b"1"
    with connect(listener) as conn:
        conn.sendall(ascii_report)
        ack = answer(conn)
        assert (ack.mode, ack.serial, ack.end) == ("ascii", 4, EOT)
        conn.sendall(bytes(bad))
        nak = answer(conn)
        assert (nak.mode, nak.serial, nak.end) == ("ascii", 5, NAK)
    assert centre.values() == [120.5]
    assert "CRC mismatch" in centre.rejections()[0].reason


def test_the_acknowledgement_keeps_the_link_open_when_configured(centre: Centre) -> None:
    listener = centre.start(keep_open=True)
    with connect(listener) as conn:
        conn.sendall(report())
        assert answer(conn).end == 0x1B  # ESC


def test_several_frames_on_one_connection_are_each_acknowledged(centre: Centre) -> None:
    listener = centre.start()
    frames = [report(serial=n, observed=OBSERVED + dt.timedelta(hours=n)) for n in range(5)]
    with connect(listener) as conn:
        conn.sendall(b"".join(frames))  # back to back, in one write
        serials = [answer(conn).serial for _ in frames]
    assert serials == [0, 1, 2, 3, 4]
    assert centre.count() == 5


def test_a_frame_split_across_writes_is_put_together(centre: Centre) -> None:
    listener = centre.start()
    data = report()
    with connect(listener) as conn:
        for part in (data[:5], data[5:20], data[20:]):
            conn.sendall(part)
            time.sleep(0.05)
        assert answer(conn).serial == 1
    assert centre.count() == 1


def test_a_report_sent_again_is_stored_once(centre: Centre) -> None:
    listener = centre.start()
    with connect(listener) as conn:
        for _ in range(2):
            conn.sendall(report())
            answer(conn)
    assert centre.count() == 1
    assert listener.status()["duplicates"] == 2  # level and voltage


def test_a_link_keep_alive_is_not_answered_but_shows_the_station_connected(
    centre: Centre,
) -> None:
    listener = centre.start()
    keep_alive = encode_frame(Sl651Frame(
        center=1, station=GAUGE, password="1234", function_code=0x2F, serial=3,
        send_time=OBSERVED,
    ))
    with connect(listener) as conn:
        conn.sendall(keep_alive)
        eventually(lambda: listener.status()["peers"][0]["connected"])
        conn.settimeout(0.3)
        with pytest.raises(TimeoutError):
            conn.recv(100)
        peer = listener.status()["peers"][0]
        assert peer["name"] == "crest gauge" and peer["messages"] == 1
        assert peer["address"].startswith("127.0.0.1:")
    eventually(lambda: not listener.status()["peers"][0]["connected"])
    assert centre.count() == 0


def test_five_minute_arrays_become_readings_every_five_minutes_from_the_observation_time(
    centre: Centre,
) -> None:
    listener = centre.start(stations=[
        {"address": GAUGE, "elements": {"F5": "WL.level"}},
    ])
    levels = tuple([120.0 + i / 100 for i in range(11)] + [None])
    frame = encode_frame(Sl651Frame(
        center=1, station=GAUGE, password="1234", function_code=0x34, serial=1,
        send_time=OBSERVED, station_class="K", observed_time=OBSERVED,
        elements=(element("F5", None, values=levels),),
    ))
    with connect(listener) as conn:
        conn.sendall(frame)
        answer(conn)
    times = centre.times()
    assert len(times) == 11  # the invalid twelfth value is not a reading
    assert (times[0], times[-1]) == ("2024-03-01 00:00", "2024-03-01 00:50")  # 08:00, 08:50
    assert centre.values()[:2] == [120.0, 120.01]


def test_a_missing_value_is_not_a_reading(centre: Centre) -> None:
    listener = centre.start()
    with connect(listener) as conn:
        conn.sendall(report(level=None))
        answer(conn)
    assert centre.count() == 0 and centre.count("LOG.batt") == 1


# --- uniform-interval reports (function 31) --------------------------------------------------


def test_a_uniform_interval_report_gives_a_reading_per_value_at_its_own_time(
    centre: Centre,
) -> None:
    listener = centre.start()
    step = dt.timedelta(minutes=10)
    levels = (120.0, 120.1, None, 120.3)
    data = encode_frame(Sl651Frame(
        center=1, station=GAUGE, password="1234", function_code=0x31, serial=8,
        send_time=OBSERVED + dt.timedelta(minutes=31), station_class="K", observed_time=OBSERVED,
        elements=(element("04", 10.0), element("39", None, values=levels, time_step=step)),
    ))
    with connect(listener) as conn:
        conn.sendall(data)
        ack = answer(conn)
    assert (ack.function_code, ack.serial, ack.end) == (0x31, 8, EOT)
    # 08:00, 08:10, (08:20 missing), 08:30 Beijing time: the first value at the observation time.
    assert centre.times() == ["2024-03-01 00:00", "2024-03-01 00:10", "2024-03-01 00:30"]
    assert centre.values() == [120.0, 120.1, 120.3]
    assert centre.rejections() == []


def test_the_published_uniform_interval_report_is_stored_step_by_step(centre: Centre) -> None:
    # The Fujian frame of test_sl651 (12 levels of 28.96 m from 10:05, every 5 minutes); mapped
    # to a channel whose limits take 28.96.
    listener = centre.start(stations=[
        {"address": "1000000006", "elements": {"39": "LOG.batt"}},
    ])
    with connect(listener) as conn:
        conn.sendall(bytes.fromhex(FUJIAN_UNIFORM))
        assert answer(conn).serial == 0x2F7E
    times = centre.times("LOG.batt")
    assert len(times) == 12
    assert (times[0], times[-1]) == ("2022-12-05 02:05", "2022-12-05 03:00")  # 10:05 to 11:00
    assert set(centre.values("LOG.batt")) == {28.96}


# --- frames of real RTUs (tests/data/sl651/frames.yaml) -----------------------------------------


def test_a_report_with_a_vendor_block_is_stored_kept_and_acknowledged(centre: Centre) -> None:
    # A published hourly report with a vendor block 7D 7D inserted before its level (synthetic,
    # see the data file); its levels and voltage go to channels whose limits take them.
    listener = centre.start(stations=[{"address": "0030700300", "name": "Beijing river",
                                       "elements": {"F5": "LOG.rh", "39": "LOG.airt",
                                                    "38": "LOG.batt"}}])
    frame = published("synthetic_7d7d_before_the_level")
    with connect(listener) as conn:
        conn.sendall(frame)
        ack = answer(conn)
    assert (ack.function_code, ack.serial, ack.end) == (0x34, 0xBE3F, EOT)  # not sent again
    assert centre.values("LOG.batt") == [13.7]
    assert centre.values("LOG.airt") == [4.28]
    assert centre.values("LOG.rh") == [4.28] * 12
    [kept] = [r for r in centre.rejections() if "could not be laid out" in r.reason]
    assert kept.raw == "7D7D0338A11201"
    assert kept.reason.startswith("station Beijing river: bytes 82 to 88 of the frame (function "
                                  "34H) could not be laid out: vendor block 7D 7D")
    assert kept.reason.endswith("decoding resumed at byte 89; the standard elements of the "
                                "frame were stored and the frame acknowledged")


def test_a_configuration_reply_is_kept_never_stored_as_readings_nor_answered(
    centre: Centre,
) -> None:
    # Runtime parameter 20 (timed-report interval, 1 h) is not rainfall, nor 23 anything else.
    listener = centre.start(stations=[{"address": "1000000006", "name": "Fujian station",
                                       "elements": {"20": "LOG.rh", "23": "LOG.batt",
                                                    "39": "LOG.airt"}}])
    with connect(listener) as conn:
        conn.sendall(published("fujian_43_runtime_parameters")
                     + published("fujian_42_modify_runtime")
                     + published("fujian_4a_set_clock"))
        silent(conn)
        conn.sendall(published("fujian_33_added"))  # the same connection goes on
        assert answer(conn).serial == 0x2F7A
    assert centre.values("LOG.rh") == [0.0]  # PJ of the added report, not the 1 h interval
    assert centre.count("LOG.batt") == 0  # nor the sampling interval
    assert centre.values("LOG.airt") == [28.96]
    kept = {r.reason.split(" (function ")[1][:3]: r for r in centre.rejections()
            if "configuration reply" in r.reason}
    assert sorted(kept) == ["42H", "43H", "4AH"]
    runtime = kept["43H"]
    assert runtime.reason == (
        "station Fujian station: configuration reply (function 43H, read runtime parameters): "
        "not readings; kept with its parameters, not answered (a reply to the centre's query "
        "or command needs no acknowledgement)")
    raw = json.loads(runtime.raw)
    assert raw["frame"] == published("fujian_43_runtime_parameters").hex().upper()
    assert [(p["id"], p["name"], p["value"], p["unit"]) for p in raw["parameters"]] == [
        ("20", "timed-report interval", 1.0, "h"), ("23", "sampling interval", 300.0, "s")]
    unmapped = [r for r in centre.rejections() if "maps to no channel" in r.reason]  # 26, 38
    assert listener.status()["rejected"] == len(unmapped) == 2  # replies kept, not errors


def test_a_manual_entry_keeps_its_text_and_is_acknowledged(centre: Centre) -> None:
    listener = centre.start(stations=[{"address": "1000000006", "elements": {"39": "LOG.airt"}}])
    with connect(listener) as conn:
        conn.sendall(published("fujian_35_manual_entry"))
        ack = answer(conn)
    assert (ack.function_code, ack.serial, ack.end) == (0x35, 0x2F7D, EOT)
    [kept] = centre.rejections()
    assert kept.raw == "Q 1.234"
    assert kept.reason == ("station 1000000006: manual entry (人工置数, function 35H): its text "
                           "is kept as sent, not read as readings")


# --- multi-packet messages (SYN, M3) ------------------------------------------------------------


def packets_of(body: bytes, count: int, *, function: int = 0x32) -> list[bytes]:
    """``body`` in ``count`` packets (SYN) from the gauge: the last ends ETX, the others ETB."""
    size = -(-len(body) // count)
    head = Sl651Frame(center=1, station=GAUGE, password="1234", function_code=function,
                      serial=None, send_time=None)
    return [
        encode_frame(replace(head, packets=(count, n), body=body[(n - 1) * size:n * size],
                             end=ETX if n == count else ETB))
        for n in range(1, count + 1)
    ]


def body_of(frame: bytes) -> bytes:
    """The body of a HEX/BCD single-packet frame."""
    return frame[HEADER + 1:-3]


def silent(conn: socket.socket) -> None:
    """The centre sends nothing (for 0.3 s)."""
    conn.settimeout(0.3)
    with pytest.raises(TimeoutError):
        conn.recv(100)
    conn.settimeout(10)


def picture_body(picture: bytes, serial: int = 4) -> bytes:
    """The body of a picture report (36): header groups, then F3 F3 and the picture's bytes."""
    return (serial.to_bytes(2, "big") + bytes.fromhex("240301080100" "F1F1") + bytes.fromhex(GAUGE)
            + b"K" + bytes.fromhex("F0F02403010800" "F3F3") + picture)


def test_a_multi_packet_report_is_answered_once_whole_and_stored_like_one(
    centre: Centre,
) -> None:
    listener = centre.start()
    packets = packets_of(body_of(report(serial=21)), 3)
    with connect(listener) as conn:
        for packet in packets[:2]:
            conn.sendall(packet)
            silent(conn)  # no answer before the last packet
        conn.sendall(packets[2])
        ack = answer(conn)
    assert (ack.direction, ack.packets, ack.end) == ("down", (3, 3), EOT)
    assert decode_body(ack, ack.body).serial == 21
    assert centre.values() == [120.5] and centre.values("LOG.batt") == [12.6]
    status = listener.status()
    assert (status["messages"], status["accepted"], status["rejected"]) == (3, 2, 0)


def test_a_missing_packet_is_asked_for_with_nak_and_its_number(centre: Centre) -> None:
    listener = centre.start()
    first, second, third = packets_of(body_of(report(serial=22)), 3)
    with connect(listener) as conn:
        conn.sendall(first + third)
        nak = answer(conn)
        assert (nak.packets, nak.end) == ((3, 2), NAK)
        assert decode_body(nak, nak.body).serial == 22
        assert centre.count() == 0
        conn.sendall(second)
        ack = answer(conn)
    assert (ack.packets, ack.end) == ((3, 3), EOT)
    assert centre.count() == 1


def test_a_packet_with_a_crc_mismatch_is_asked_for_again_by_its_number(centre: Centre) -> None:
    listener = centre.start()
    first, second = packets_of(body_of(report(serial=23)), 2)
    bad = bytearray(second)
    bad[-1] ^= 0xFF
    with connect(listener) as conn:
        conn.sendall(first + bytes(bad))
        nak = answer(conn)
        assert (nak.packets, nak.end) == ((2, 2), NAK)
        conn.sendall(second)
        assert answer(conn).packets == (2, 2)
    assert centre.count() == 1
    [rejection] = centre.rejections()
    assert rejection.reason.startswith("CRC mismatch") and rejection.raw == bad.hex().upper()


#: A small JPEG image: start of image, an APP0 marker, bytes, end of image.
JPEG = bytes.fromhex("FFD8FFE0") + bytes(range(256)) * 3 + bytes.fromhex("FFD9")
#: The observation time of picture_body (08:00 at the station, Asia/Shanghai), in µs UTC.
PICTURE_TAKEN_US = int(dt.datetime(2024, 3, 1, 0, 0, tzinfo=dt.UTC).timestamp()) * 1_000_000


def test_a_picture_becomes_an_image_of_the_station_taken_at_its_observation_time(
    centre: Centre,
) -> None:
    listener = centre.start()
    with connect(listener) as conn:
        conn.sendall(b"".join(packets_of(picture_body(JPEG), 3, function=0x36)))
        ack = answer(conn)
    assert (ack.function_code, ack.packets, ack.end) == (0x36, (3, 3), EOT)
    assert centre.count() == 0 and centre.rejections() == []
    [image] = centre.images()
    assert (image.source, image.content_type, image.retention, image.size) == (
        f"sl651:{GAUGE}", "image/jpeg", "routine", len(JPEG))
    assert image.taken_us == PICTURE_TAKEN_US
    assert centre.media.read(image.id) == (image, JPEG)
    status = listener.status()
    assert (status["pictures"], status["rejected"]) == (1, 0)
    assert status["peers"][0]["pictures"] == 1 and status["peers"][0]["last_error"] is None


def test_a_picture_of_many_packets_is_kept_whole(centre: Centre) -> None:
    listener = centre.start()
    picture = JPEG[:4] + bytes(range(256)) * 400  # 100 kB in 26 packets
    with connect(listener) as conn:
        conn.sendall(b"".join(packets_of(picture_body(picture), 26, function=0x36)))
        assert answer(conn).packets == (26, 26)
    [image] = centre.images()
    assert centre.media.read(image.id)[1] == picture


def test_a_picture_sent_again_is_one_image(centre: Centre) -> None:
    listener = centre.start()
    with connect(listener) as conn:
        for _ in range(2):  # the station did not see the first answer
            conn.sendall(b"".join(packets_of(picture_body(JPEG), 3, function=0x36)))
            assert answer(conn).packets == (3, 3)
    assert len(centre.images()) == 1 and listener.status()["pictures"] == 2


def test_a_picture_that_is_not_a_jpeg_is_kept_as_a_rejection_with_its_reason(
    centre: Centre,
) -> None:
    listener = centre.start()
    picture = bytes(140_000)
    packets = packets_of(picture_body(picture), 36, function=0x36)  # 3.9 kB a packet
    with connect(listener) as conn:
        conn.sendall(b"".join(packets))
        assert answer(conn).packets == (36, 36)  # acknowledged: sending it again cannot help
    assert centre.images() == []
    [kept] = centre.rejections()
    assert kept.reason == ("station crest gauge: picture (function 36H) of 140000 bytes not "
                           "kept: it is not a JPEG image (SL 651 pictures are JPEG, beginning "
                           "FF D8 FF; this one begins 00 00 00 00)")
    assert kept.raw == picture.hex().upper()[:MAX_RAW_TEXT] and kept.source == f"sl651:{GAUGE}"
    status = listener.status()
    assert (status["pictures"], status["rejected"]) == (0, 1)
    assert status["peers"][0]["last_error"] == kept.reason


def test_a_picture_the_media_store_refuses_is_kept_as_a_rejection(centre: Centre) -> None:
    centre.media.max_object_bytes = 100
    listener = centre.start()
    with connect(listener) as conn:
        conn.sendall(b"".join(packets_of(picture_body(JPEG), 3, function=0x36)))
        assert answer(conn).packets == (3, 3)
    assert centre.images() == []
    [kept] = centre.rejections()
    assert kept.reason.startswith(f"station crest gauge: picture (function 36H) of {len(JPEG)} "
                                  f"bytes not kept: the object has {len(JPEG)} bytes, more "
                                  "than the 100 bytes")
    assert kept.raw == JPEG.hex().upper()
    status = listener.status()
    assert (status["pictures"], status["rejected"]) == (0, 1)
    assert status["peers"][0]["last_error"] == kept.reason


def test_a_centre_without_a_media_store_keeps_a_pictures_size(centre: Centre) -> None:
    listener = centre.start(pictures=False)
    with connect(listener) as conn:
        conn.sendall(b"".join(packets_of(picture_body(JPEG), 3, function=0x36)))
        assert answer(conn).packets == (3, 3)
    [kept] = centre.rejections()
    assert (kept.raw, kept.reason) == ("", f"station crest gauge: picture (function 36H) of "
                                           f"{len(JPEG)} bytes not kept: this centre has no "
                                           "media store (only its size is kept)")


def test_an_incomplete_message_is_kept_with_its_packets_when_the_connection_closes(
    centre: Centre,
) -> None:
    listener = centre.start()
    first, _, third, _ = packets_of(body_of(report(serial=24)), 4)
    with connect(listener) as conn:
        conn.sendall(first + third)
        silent(conn)  # the last packet has not come: nothing to ask for yet
    eventually(lambda: len(centre.rejections()) == 1)
    [kept] = centre.rejections()
    assert kept.raw == (first + third).hex().upper()
    assert kept.reason == (
        "station crest gauge: multi-packet message (function 32, 4 packets, 2 received, "
        "missing 2, 4) incomplete when the connection closed; the packets received are kept "
        "in hex, in sequence order")
    assert centre.count() == 0


def test_an_incomplete_message_is_kept_when_the_listener_stops(centre: Centre) -> None:
    listener = centre.start()
    first, _ = packets_of(body_of(report(serial=25)), 2)
    with connect(listener) as conn:
        conn.sendall(first)
        eventually(lambda: listener.status()["messages"] == 1)
        listener.stop()
    [kept] = centre.rejections()
    assert kept.raw == first.hex().upper() and "missing 2" in kept.reason


def test_a_message_over_its_bound_is_dropped_and_kept(centre: Centre) -> None:
    listener = centre.start(max_message_bytes=60)
    first, second, third = packets_of(body_of(report(serial=26)), 3)  # 31 bytes each
    with connect(listener) as conn:
        conn.sendall(first + second + third)
        silent(conn)
    eventually(lambda: len(centre.rejections()) == 2)
    dropped, after = sorted(centre.rejections(), key=lambda r: len(r.raw), reverse=True)
    assert dropped.raw == (first + second).hex().upper()
    assert dropped.reason == (
        "station crest gauge: multi-packet message (function 32, 3 packets, 1 received, "
        "missing 2-3) passed 60 bytes with packet 2: dropped; the packets received so far, "
        "that one last, are kept in hex")
    assert after.raw == third.hex().upper() and "packet 3 of 3" in after.reason
    assert centre.count() == 0


def test_a_malformed_joined_body_is_kept_with_every_packet(centre: Centre) -> None:
    listener = centre.start()
    packets = packets_of(bytes.fromhex("0001"), 2)  # too short for a serial and a send time
    with connect(listener) as conn:
        conn.sendall(b"".join(packets))
        silent(conn)
    [kept] = centre.rejections()
    assert kept.reason.startswith("station crest gauge: malformed multi-packet message "
                                  "(function 32, 2 packets, 2 received), byte 0 of the joined "
                                  "body: serial number and send time truncated")
    assert kept.raw == b"".join(packets).hex().upper()


# --- what cannot be taken is kept, and the listener goes on ---------------------------------


def test_a_crc_mismatch_is_kept_with_both_values_and_answered_nak(centre: Centre) -> None:
    listener = centre.start()
    bad = bytearray(report(serial=9))
    bad[-1] ^= 0xFF
    with connect(listener) as conn:
        conn.sendall(bytes(bad))
        nak = answer(conn)
        assert (nak.end, nak.serial) == (NAK, 9)
        conn.sendall(report(serial=10))  # the same connection goes on
        assert answer(conn).serial == 10
    [rejection] = centre.rejections()
    good = crc16(bytes(bad[:-2]))
    assert rejection.reason == (f"CRC mismatch: computed {good:04X}, the frame says "
                                f"{int.from_bytes(bad[-2:]):04X}")
    assert rejection.raw == bytes(bad).hex().upper()
    assert rejection.source.startswith("sl651:127.0.0.1:")
    assert centre.count() == 1
    assert listener.status()["peers"][0]["last_error"] == rejection.reason


def test_bytes_that_are_not_a_frame_are_kept_and_the_next_frame_is_taken(
    centre: Centre,
) -> None:
    listener = centre.start()
    with connect(listener) as conn:
        conn.sendall(b"AT+CSQ\r\n" + report())
        assert answer(conn).serial == 1
    [rejection] = centre.rejections()
    assert rejection.raw == b"AT+CSQ\r\n".hex().upper()
    assert "8 bytes that are not a frame" in rejection.reason
    assert centre.count() == 1


def test_a_malformed_frame_is_kept_with_the_byte_offset(centre: Centre) -> None:
    listener = centre.start()
    data = bytearray(report())
    data[13] = 0x09  # not STX or SYN
    data[-2:] = crc16(bytes(data[:-2])).to_bytes(2, "big")
    with connect(listener) as conn:
        conn.sendall(bytes(data) + report(serial=2))
        assert answer(conn).serial == 2
    [rejection] = centre.rejections()
    assert rejection.reason.startswith("malformed frame, byte 13: ")
    assert "start-of-text character 09" in rejection.reason


def test_a_frame_cut_short_by_the_station_is_kept_as_truncated(centre: Centre) -> None:
    listener = centre.start()
    data = report()
    with connect(listener) as conn:
        conn.sendall(data[:30])
    eventually(lambda: len(centre.rejections()) == 1)
    [rejection] = centre.rejections()
    assert rejection.reason == (f"frame truncated: the connection ended after 30 bytes of the "
                                f"{len(data)} its length field announces")
    assert rejection.raw == data[:30].hex().upper()
    assert listener.status()["connected"]


def test_an_unknown_station_is_kept_and_acknowledged(centre: Centre) -> None:
    listener = centre.start()
    with connect(listener) as conn:
        conn.sendall(report(station="0099999999"))
        assert answer(conn).station == "0099999999"
    [rejection] = centre.rejections()
    assert rejection.reason == ("unknown station 0099999999: add it under "
                                "telemetry.sl651.stations")
    peers = {p["station"]: p for p in listener.status()["peers"]}
    assert peers["0099999999"]["rejected"] == 1


def test_an_element_mapped_to_no_channel_is_kept_and_the_others_stored(centre: Centre) -> None:
    listener = centre.start()
    vendor = element("7A", 3.5, decimals=1, size=2)
    with connect(listener) as conn:
        conn.sendall(report(extra=(element("20", 1.5), vendor)))
        answer(conn)
    assert centre.count() == 1 and centre.count("LOG.batt") == 1
    reasons = sorted(r.reason for r in centre.rejections())
    assert reasons == [
        "station crest gauge: element 20 (current rainfall (since last report)) maps to no "
        "channel: add it under telemetry.sl651.stations[].elements",
        "station crest gauge: element 7A (element 7A, not standard) maps to no channel: add it "
        "under telemetry.sl651.stations[].elements",
    ]
    assert all(r.source == f"sl651:{GAUGE}" for r in centre.rejections())


def test_a_wrong_password_is_kept_and_the_connection_closed(centre: Centre) -> None:
    listener = centre.start(stations=[
        {"address": GAUGE, "password": "9999", "elements": {"39": "WL.level"}},
    ])
    with connect(listener) as conn:
        conn.sendall(report())
        assert conn.recv(100) == b""
    assert "password 1234 is not the configured one" in centre.rejections()[0].reason
    assert centre.count() == 0


def test_a_reading_outside_its_channel_limits_is_kept_by_the_ingest(centre: Centre) -> None:
    listener = centre.start()
    with connect(listener) as conn:
        conn.sendall(report(level=999.0))
        answer(conn)  # the frame was taken: its bad reading is kept, not lost
    [rejection] = centre.rejections()
    assert rejection.channel == "WL.level" and '"station": "0012345678"' in rejection.raw


# --- nothing acknowledged is lost ---------------------------------------------------------


def test_a_report_that_could_not_be_stored_is_not_acknowledged(centre: Centre) -> None:
    listener = centre.start()
    centre.fail_next = 1
    with connect(listener) as conn:
        conn.sendall(report())
        assert conn.recv(100) == b""  # closed without an answer: the station sends it again
    status = listener.status()
    assert status["failures"] == 1 and "database unreachable" in status["last_error"]
    with connect(listener) as conn:
        conn.sendall(report())
        assert answer(conn).serial == 1
    assert centre.count() == 1


def test_hundreds_of_stations_report_at_once(centre: Centre) -> None:
    stations = [f"{n:010d}" for n in range(1, 301)]
    listener = centre.start(stations=[
        {"address": s, "elements": {"39": "WL.level", "38": "LOG.batt"}} for s in stations
    ])

    async def station(n: int, address: str) -> int | None:
        # Each from an address of its own (all of 127/8 is loopback), as stations in the field.
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", listener.port, local_addr=(f"127.1.{n // 200}.{n % 200 + 1}", 0))
        # Each station reports a different hour, so every report is a new reading.
        writer.write(report(serial=n, station=address,
                            observed=OBSERVED + dt.timedelta(hours=n)))
        await writer.drain()
        data = await asyncio.wait_for(reader.read(100), 30)
        writer.close()
        return decode_frame(data).serial

    async def everyone() -> list[int | None]:
        return await asyncio.gather(*(station(n, s) for n, s in enumerate(stations)))

    serials = asyncio.run(everyone())
    assert serials == list(range(300))
    assert centre.count() == 300
    status = listener.status()
    assert (status["messages"], status["accepted"], status["rejected"]) == (300, 600, 0)
    assert sum(p["messages"] for p in status["peers"]) == 300


def test_connections_over_the_limit_are_closed_and_the_others_served(centre: Centre) -> None:
    listener = centre.start(max_connections=2)
    with connect(listener) as first, connect(listener):
        eventually(lambda: listener.status()["connections"] == 2)
        with connect(listener) as third:
            assert third.recv(100) == b""  # closed at once
        first.sendall(report(serial=1))
        assert answer(first).serial == 1
    status = listener.status()
    assert status["refused"] == 1 and "max_connections 2" in status["last_error"]


# --- settings -------------------------------------------------------------------------------


def test_element_identifiers_read_as_numbers_by_yaml_mean_their_digits() -> None:
    station = Sl651Station(address=GAUGE, elements={39: "WL.level", 7: "X", "f5": "Y"})
    assert station.elements == {"39": "WL.level", "07": "X", "F5": "Y"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"address": 12345678, "elements": {"39": "WL.level"}}, "quote it"),
        ({"address": "12345", "elements": {"39": "WL.level"}}, "String should match"),
        ({"address": GAUGE, "elements": {"3G": "WL.level"}}, "two hex digits"),
        ({"address": GAUGE, "elements": {}}, "at least 1 item"),
        ({"address": GAUGE, "timezone": "Mars/Olympus", "elements": {"39": "W"}},
         "unknown time zone"),
    ],
)
def test_a_station_setting_that_cannot_be_right_is_refused(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Sl651Station(**fields)


def test_a_station_listed_twice_is_refused() -> None:
    station = {"address": GAUGE, "elements": {"39": "WL.level"}}
    with pytest.raises(ValidationError, match="station 0012345678 is listed twice"):
        Sl651Settings(stations=[station, station])


# --- the site file, and a station that outlives the centre ----------------------------------


def test_a_site_file_mapping_an_element_to_an_unknown_channel_is_refused() -> None:
    data = yaml.safe_load(SITE_FILE.read_text(encoding="utf-8"))
    data["telemetry"] = {"sl651": {"stations": [
        {"address": GAUGE, "elements": {"39": "WL.level", "38": "NOPE.batt"}},
    ]}}
    with pytest.raises(SiteError) as caught:
        parse_site(yaml.safe_dump(data), source="site.yaml")
    assert any("telemetry.sl651.stations[0].elements.38: element 38 maps to unknown channel "
               "'NOPE.batt'" in problem for problem in caught.value.problems)


def station_reports(port: int, frames: list[bytes], acknowledged: list[int]) -> None:
    """An RTU in mode M2: send each report until it is acknowledged, reconnecting as needed."""
    conn: socket.socket | None = None
    for serial, frame in enumerate(frames):
        deadline = time.monotonic() + 60
        while True:
            assert time.monotonic() < deadline, f"report {serial} never acknowledged"
            try:
                if conn is None:
                    conn = socket.create_connection(("127.0.0.1", port), timeout=2)
                conn.sendall(frame)
                if answer(conn).serial == serial:
                    acknowledged.append(serial)
                    break
            except (OSError, AssertionError):
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.1)
    if conn is not None:
        conn.close()


def test_the_centre_killed_mid_stream_loses_no_acknowledged_report(
    store: Store, store_url: str, tmp_path: Path
) -> None:
    """``shuian listen`` killed with SIGKILL and started again: the station sends again what
    was not acknowledged; every acknowledged report is stored, none twice."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = yaml.safe_load(SITE_FILE.read_text(encoding="utf-8"))
    data["telemetry"] = {"sl651": {"host": "127.0.0.1", "port": port, "stations": [
        {"address": GAUGE, "elements": {"39": "WL.level", "38": "LOG.batt"}},
    ]}}
    text = yaml.safe_dump(data)
    store.save_site(parse_site(text), text)
    n = 100
    frames = [report(serial=i, observed=OBSERVED + dt.timedelta(hours=i)) for i in range(n)]
    acknowledged: list[int] = []
    log = tmp_path / "listen.log"

    def listen() -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen([str(SHUIAN), "listen", "--db", store_url],
                                    stdout=out, stderr=subprocess.STDOUT)

    centre = listen()
    rtu = threading.Thread(target=station_reports, args=(port, frames, acknowledged))
    try:
        rtu.start()
        eventually(lambda: len(acknowledged) >= 40, timeout=60)
        centre.send_signal(signal.SIGKILL)
        centre.wait(10)
        killed_at = len(acknowledged)
        centre = listen()
        rtu.join(120)
        assert not rtu.is_alive(), log.read_text()
    finally:
        centre.kill()
        centre.wait(10)
    assert killed_at < n and acknowledged == list(range(n))
    assert centre_count(store) == n, log.read_text()


def centre_count(store: Store) -> int:
    site = store.site()
    return len(store.readings(store.channel(site.id, "WL.level").id)[0])


# --- shuian sl651 send: a station's part, for commissioning ---------------------------------


def shuian(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_send_replays_frames_to_a_centre_and_shows_its_answers(centre: Centre) -> None:
    listener = centre.start()
    keep_alive = encode_frame(Sl651Frame(
        center=1, station=GAUGE, password="1234", function_code=0x2F, serial=8,
        send_time=OBSERVED,
    ))
    code, stdout, _ = shuian("sl651", "send", f"127.0.0.1:{listener.port}",
                             report(serial=7).hex(), keep_alive.hex(), "--timeout", "0.5",
                             "--json")
    assert code == 0
    acknowledged, unanswered = json.loads(stdout)
    answer = acknowledged["answer"]
    assert (answer["direction"], answer["serial"], answer["function_code"]) == ("down", 7, "32")
    assert unanswered == {"answer": None}  # a keep-alive is not answered
    assert centre.values() == [120.5]

    code, stdout, _ = shuian("sl651", "send", f"127.0.0.1:{listener.port}",
                             report(serial=9, observed=OBSERVED + dt.timedelta(hours=1)).hex())
    assert code == 0
    assert "frame 1: answered, down frame, function 32 (timed), serial 9, end EOT" in stdout


def test_send_says_clearly_when_the_centre_cannot_be_reached() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the probe is
    code, _, stderr = shuian("sl651", "send", f"127.0.0.1:{port}", report().hex())
    assert code == 1
    assert stderr.startswith(f"error: cannot connect to the centre at 127.0.0.1:{port}")
    code, _, stderr = shuian("sl651", "send", "nowhere", report().hex())
    assert code == 1 and "give HOST:PORT" in stderr
    code, _, stderr = shuian("sl651", "send", "127.0.0.1:1", "7E7EZZ")
    assert code == 1 and "not an even number of hex digits" in stderr


def test_send_reports_a_centre_that_hangs_up(centre: Centre) -> None:
    listener = centre.start(stations=[
        {"address": GAUGE, "password": "9999", "elements": {"39": "WL.level"}},
    ])
    code, stdout, stderr = shuian("sl651", "send", f"127.0.0.1:{listener.port}", report().hex())
    assert code == 1
    assert "the centre closed the connection without answering" in stdout + stderr


# --- several sites in one store -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_listen_runs_the_listeners_of_every_site_and_the_api_answers_per_site(
    store: Store, store_url: str, tmp_path: Path
) -> None:
    """A bureau's server holds several reservoirs: each site's stations feed that site."""
    ports = {}
    for code in ("upper", "lower"):
        data = yaml.safe_load(SITE_FILE.read_text(encoding="utf-8"))
        data["reservoir"]["code"] = code
        ports[code] = free_port()
        data["telemetry"] = {"sl651": {"host": "127.0.0.1", "port": ports[code], "stations": [
            {"address": GAUGE, "name": f"{code} gauge", "elements": {"39": "WL.level"}},
        ]}}
        text = yaml.safe_dump(data)
        store.save_site(parse_site(text), text)
    log = tmp_path / "listen.log"
    with log.open("wb") as out:
        centre = subprocess.Popen([str(SHUIAN), "listen", "--db", store_url], stdout=out,
                                  stderr=subprocess.STDOUT)
    try:
        for level, code in ((120.5, "upper"), (99.5, "lower")):
            eventually(lambda code=code: _accepts(ports[code]), timeout=30)
            station_reports(ports[code], [report(serial=0, level=level)], [])
    finally:
        centre.kill()
        centre.wait(10)
    output = log.read_text()
    assert "listening for upper: sl651" in output and "listening for lower: sl651" in output
    for level, code in ((120.5, "upper"), (99.5, "lower")):
        site = store.site(code)
        values = store.readings(store.channel(site.id, "WL.level").id)[1]
        assert values.tolist() == [level], (code, output)


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def test_the_api_answers_the_telemetry_of_the_site_asked_for(store: Store) -> None:
    running = []
    for code in ("upper", "lower"):
        data = yaml.safe_load(SITE_FILE.read_text(encoding="utf-8"))
        data["reservoir"]["code"] = code
        data["telemetry"] = {"sl651": {"host": "127.0.0.1", "port": 0, "stations": [
            {"address": GAUGE, "name": f"{code} gauge", "elements": {"39": "WL.level"}},
        ]}}
        text = yaml.safe_dump(data)
        store.save_site(parse_site(text), text)
        running.append(Listeners(store, store.site(code)))
    with serve(create_app(store.url, listeners=running)) as client:
        for code in ("upper", "lower"):
            status = client.get("/api/telemetry", params={"site": code}).json()
            assert status["sl651"]["peers"][0]["name"] == f"{code} gauge"
        assert client.get("/api/telemetry").json()["sl651"]["peers"][0]["name"] == "upper gauge"


def test_listen_warns_when_a_port_is_taken(store: Store, store_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        data = yaml.safe_load(SITE_FILE.read_text(encoding="utf-8"))
        data["telemetry"] = {"sl651": {"host": "127.0.0.1", "port": port, "stations": [
            {"address": GAUGE, "elements": {"39": "WL.level"}},
        ]}}
        text = yaml.safe_dump(data)
        store.save_site(parse_site(text), text)
        centre = subprocess.Popen([str(SHUIAN), "listen", "--db", store_url],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            warning = _first_line(centre, "warning:", timeout=30)
        finally:
            centre.kill()
            centre.wait(10)
            assert centre.stderr is not None
            centre.stderr.close()
    assert warning.startswith(f"warning: testres sl651: cannot listen on 127.0.0.1:{port}")


def _first_line(process: subprocess.Popen[str], start: str, timeout: float) -> str:
    """The first line of the process's stderr that begins with ``start`` ("" if none comes)."""
    assert process.stderr is not None
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([process.stderr], [], [], left)
        if not ready:
            break
        line = process.stderr.readline()
        if not line:
            break
        if line.startswith(start):
            return line
    return ""
