"""Readings polled over Modbus TCP: against a real Modbus server process, on both store backends.

The server is pymodbus's own (tests/modbus_server.py, run as a separate process) with a map of
defined registers; an address outside the map answers ILLEGAL DATA ADDRESS, as a logger does.
Tests set register values by writing them with a Modbus client, encoding the numbers with
``struct`` (not with the library under test), and poll every 0.2 s.
"""

from __future__ import annotations

import datetime as dt
import json
import select
import shutil
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from pymodbus.client import ModbusTcpClient

from conftest import SITE_FILE, TESTS, eventually
from shuian.errors import SiteError, StoreRefusedError, StoreUnavailableError
from shuian.readings import Rejection
from shuian.services.ingest import Ingestor, IngestReport
from shuian.site import parse_site
from shuian.site.telemetry import ModbusRegister, ModbusSettings
from shuian.sources import modbus
from shuian.sources.modbus import DecodeError, ModbusPoller, decode, plan_blocks
from shuian.store import Store, StoredSite, open_store

INTERVAL = 0.2  # s between polls
INTERVAL_US = 200_000
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
ONE_US = dt.timedelta(microseconds=1)

#: What the shared server holds: holding registers 0-99 (written by the tests) and input
#: registers 0-3 holding 12.5 as a float32, most significant word first, then least.
INPUT_12_5_BIG = [0x4148, 0x0000]
SERVER_MAP: dict[str, Any] = {
    "unit": 1,
    "holding": [{"address": 0, "values": [0] * 100}],
    "input": [{"address": 0, "values": INPUT_12_5_BIG + INPUT_12_5_BIG[::-1]}],
}

FORMATS = {"int16": "h", "uint16": "H", "int32": "i", "uint32": "I", "float32": "f",
           "float64": "d"}


def words(kind: str, number: float, word_order: str = "big") -> list[int]:
    """The 16-bit registers holding ``number`` as ``kind`` (big-endian bytes in each word)."""
    data = struct.pack(">" + FORMATS[kind], number)
    registers = list(struct.unpack(f">{len(data) // 2}H", data))
    return registers if word_order == "big" else registers[::-1]


# -- the server process ----------------------------------------------------------------------


class Server:
    """A Modbus TCP server process on 127.0.0.1 (pymodbus), started from a register map."""

    def __init__(self, directory: Path, register_map: dict[str, Any], port: int = 0) -> None:
        self.map_file = directory / "map.json"
        self.map_file.write_text(json.dumps(register_map), encoding="utf-8")
        self.log = directory / "server.log"
        self.port = port
        self.process: subprocess.Popen[str] | None = None
        self.start()

    def start(self) -> None:
        """Start the process (on the same port as before, if it ran) and wait until it listens."""
        with self.log.open("a", encoding="utf-8") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(TESTS / "modbus_server.py"), str(self.map_file),
                 "--port", str(self.port)],
                stdout=subprocess.PIPE, stderr=log, text=True,
            )
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], 15)
        line = self.process.stdout.readline() if ready else ""
        assert line.startswith("PORT "), f"the server did not start: {self.log.read_text()}"
        self.port = int(line.split()[1])

    def stop(self) -> None:
        """Kill the process (the poller sees the logger go away)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            assert self.process.stdout is not None
            self.process.stdout.close()
            self.process = None

    def write(self, address: int, registers: list[int]) -> None:
        """Write holding registers, as any Modbus client would."""
        client = ModbusTcpClient("127.0.0.1", port=self.port, timeout=2)
        try:
            assert client.connect()
            response = client.write_registers(address, registers, device_id=1)
            assert not response.isError(), response
        finally:
            client.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The logger most tests poll (each test writes the registers it reads)."""
    running = Server(tmp_path_factory.mktemp("modbus"), SERVER_MAP)
    yield running
    running.stop()


class Polling:
    """A test's pollers over the test site in ``store``, and what they stored."""

    def __init__(self, store: Store, stored_site: StoredSite, server: Server) -> None:
        self.store = store
        self.stored_site = stored_site
        self.server = server
        self.ingestor = Ingestor(store, stored_site)
        self.pollers: list[ModbusPoller] = []

    def ingest(self, records: list[dict[str, Any]], source: str) -> IngestReport:
        return self.ingestor.ingest_records(records, source=source)

    def reject(self, rejection: Rejection) -> None:
        self.store.write_rejections(self.stored_site.id, [rejection])

    def settings(self, registers: list[dict[str, Any]], **more: Any) -> ModbusSettings:
        return ModbusSettings.model_validate(
            {"name": "crest", "host": "127.0.0.1", "port": self.server.port,
             "interval": INTERVAL, "timeout": 1, "retries": 0, "registers": registers} | more
        )

    def start(
        self,
        registers: list[dict[str, Any]],
        ingest: Callable[[list[dict[str, Any]], str], IngestReport] | None = None,
        **more: Any,
    ) -> ModbusPoller:
        poller = ModbusPoller(self.settings(registers, **more), ingest or self.ingest,
                              self.reject)
        poller.start()
        self.pollers.append(poller)
        return poller

    def readings(self, channel: str) -> tuple[list[int], list[float]]:
        times, values = self.store.readings(self.store.channel(self.stored_site.id, channel).id)
        return times.tolist(), values.tolist()

    def count(self, channel: str) -> int:
        return len(self.readings(channel)[0])


@pytest.fixture
def polling(store: Store, stored_site: StoredSite, server: Server) -> Iterator[Polling]:
    setup = Polling(store, stored_site, server)
    yield setup
    for poller in setup.pollers:
        poller.stop()


# -- the register map (no server) ------------------------------------------------------------


def test_neighbouring_registers_of_a_table_are_read_with_one_request() -> None:
    registers = [
        ModbusRegister(channel="a", address=0, type="float32"),
        ModbusRegister(channel="b", address=2, type="uint16"),
        ModbusRegister(channel="c", address=3, type="float64"),
        ModbusRegister(channel="d", address=10, type="int16"),  # a gap: a new request
        ModbusRegister(channel="e", address=3, type="int32", table="input"),
    ]
    blocks = [(b.table, b.address, b.count, [r.channel for r in b.registers])
              for b in plan_blocks(registers)]
    assert blocks == [("holding", 0, 7, ["a", "b", "c"]), ("holding", 10, 1, ["d"]),
                      ("input", 3, 2, ["e"])]


def test_a_request_asks_for_at_most_125_registers() -> None:
    registers = [ModbusRegister(channel=f"c{n}", address=2 * n, type="float32")
                 for n in range(100)]  # 200 registers in a row
    blocks = plan_blocks(registers)
    assert [(b.address, b.count) for b in blocks] == [(0, 124), (124, 76)]


@pytest.mark.parametrize(
    ("kind", "number", "word_order"),
    [("int16", -2, "big"), ("uint16", 65535, "big"), ("int32", -70000, "big"),
     ("int32", -70000, "little"), ("uint32", 4_000_000_000, "little"),
     ("float32", -0.25, "little"), ("float64", 1e-300, "little"), ("float64", 3.5, "big")],
)
def test_registers_decode_as_their_type_and_word_order(
    kind: str, number: float, word_order: str
) -> None:
    register = ModbusRegister.model_validate(
        {"channel": "x", "address": 0, "type": kind, "word_order": word_order}
    )
    assert decode(register, words(kind, number, word_order)) == number


def test_a_float_that_is_not_a_number_cannot_be_decoded() -> None:
    register = ModbusRegister(channel="x", address=0, type="float32")
    with pytest.raises(DecodeError, match="not a finite number"):
        decode(register, [0x7FC0, 0x0000])


def test_overlapping_registers_of_a_table_are_refused_naming_both_channels() -> None:
    with pytest.raises(ValueError, match=r"channels 'WL\.level' \(holding 0-1\) and "
                                         r"'LOG\.batt' \(holding 1-1\) overlap"):
        ModbusSettings.model_validate({"name": "x", "host": "h", "registers": [
            {"channel": "WL.level", "address": 0, "type": "float32"},
            {"channel": "LOG.batt", "address": 1, "type": "uint16"},
        ]})
    # the same addresses in the two tables are different registers
    ModbusSettings.model_validate({"name": "x", "host": "h", "registers": [
        {"channel": "WL.level", "address": 0, "type": "float32"},
        {"channel": "LOG.batt", "address": 1, "type": "uint16", "table": "input"},
    ]})


# -- the site file ---------------------------------------------------------------------------


def site_with_modbus(*loggers: dict[str, Any]) -> str:
    data = yaml.safe_load(SITE_FILE.read_text(encoding="utf-8"))
    data["telemetry"] = {"modbus": list(loggers)}
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def logger(name: str = "crest", **more: Any) -> dict[str, Any]:
    return {"name": name, "host": "10.0.0.21",
            "registers": [{"channel": "WL.level", "address": 0, "type": "float32"},
                          {"channel": "LOG.batt", "address": 2, "type": "uint16",
                           "scale": 0.01}]} | more


def site_problems(text: str) -> list[str]:
    with pytest.raises(SiteError) as caught:
        parse_site(text, source="site.yaml")
    return caught.value.problems


def test_a_site_file_maps_modbus_registers_to_channels() -> None:
    site = parse_site(site_with_modbus(logger(), logger("toe", port=5020, unit=3)))
    crest, toe = site.telemetry.modbus
    assert (crest.name, crest.port, crest.unit, crest.interval) == ("crest", 502, 1, 60.0)
    assert (toe.port, toe.unit) == (5020, 3)
    assert crest.registers[1].scale == 0.01 and crest.registers[1].word_order == "big"


def test_a_register_naming_an_unknown_channel_is_reported_at_its_key() -> None:
    bad = logger()
    bad["registers"][1]["channel"] = "LOG.nope"
    [problem] = site_problems(site_with_modbus(bad))
    assert problem.endswith(
        "telemetry.modbus[0].registers[1].channel: unknown channel 'LOG.nope'"
    ), problem
    assert problem.startswith("line ")


def test_overlapping_registers_in_a_site_file_are_reported_at_the_logger_registers() -> None:
    bad = logger()
    bad["registers"][1]["address"] = 1
    [problem] = site_problems(site_with_modbus(bad))
    assert "telemetry.modbus[0].registers: " in problem
    assert "'WL.level' (holding 0-1) and 'LOG.batt' (holding 1-1) overlap" in problem


def test_two_loggers_with_one_name_are_refused() -> None:
    problems = site_problems(site_with_modbus(logger(), logger()))
    assert [p.split(": ", 1)[1] for p in problems] == [
        "telemetry.modbus[0].name: Modbus logger names must be unique; repeated: crest",
        "telemetry.modbus[1].name: Modbus logger names must be unique; repeated: crest",
    ]


# -- against the server ----------------------------------------------------------------------

#: channel, type, number in the registers, scale, offset: every type, in one holding block
#: (addresses 0-11), and a float32 in the input table.
CASES = [
    ("LOG.airt", "int16", -1234, 0.01, 0.0),
    ("LOG.rh", "uint16", 65000, 0.001, 0.0),
    ("PL1.radial", "int32", -123456, 0.001, 0.0),
    ("WL.level", "uint32", 3_000_000_000, 1e-8, 100.0),
    ("T1.temp", "float32", 21.5, 1.0, 0.0),
    ("P1.head", "float64", 120.123456789, 1.0, -0.5),
]


@pytest.mark.parametrize("word_order", ["big", "little"])
def test_every_type_and_word_order_is_stored_as_its_scaled_value(
    polling: Polling, word_order: str
) -> None:
    registers, address = [], 0
    for channel, kind, number, scale, offset in CASES:
        polling.server.write(address, words(kind, number, word_order))
        registers.append({"channel": channel, "address": address, "type": kind,
                          "word_order": word_order, "scale": scale, "offset": offset})
        address += struct.calcsize(FORMATS[kind]) // 2
    registers.append({"channel": "LOG.batt", "table": "input", "type": "float32",
                      "address": 0 if word_order == "big" else 2, "word_order": word_order})
    poller = polling.start(registers)
    assert [(b.table, b.count) for b in poller.blocks] == [("holding", 12), ("input", 2)]

    eventually(lambda: poller.status()["messages"] >= 2)
    poller.stop()
    expected = {channel: number * scale + offset for channel, _, number, scale, offset in CASES}
    expected["LOG.batt"] = 12.5
    for channel, value in expected.items():
        times, values = polling.readings(channel)
        assert values and set(values) == {value}, (channel, values)
        assert all(t % INTERVAL_US == 0 for t in times)  # on the clock: every 0.2 s
    status = poller.status()
    assert status["accepted"] == 7 * status["messages"] and status["rejected"] == 0
    assert status["connected"] is False and status["last_message_at"] is not None
    assert (status["kind"], status["endpoint"]) == ("modbus", f"127.0.0.1:{polling.server.port}")


def test_a_raw_register_is_converted_by_the_channels_conversion(polling: Polling) -> None:
    # coordinometers: displacement = sign × (reading − initial reading); initial 25 and 30 mm
    polling.server.write(40, [61, 54])  # 0.5 mm per count: 30.5 mm and 27 mm
    poller = polling.start([
        {"channel": "PL1.radial", "address": 40, "type": "uint16", "scale": 0.5, "kind": "raw"},
        {"channel": "PL1.tangential", "address": 41, "type": "uint16", "scale": 0.5,
         "kind": "raw"},
    ])
    eventually(lambda: polling.count("PL1.tangential") >= 1)
    poller.stop()
    assert set(polling.readings("PL1.radial")[1]) == {5.5}
    assert set(polling.readings("PL1.tangential")[1]) == {3.0}  # sign −1


def test_a_modbus_exception_is_kept_as_a_rejection_and_the_other_registers_are_stored(
    polling: Polling,
) -> None:
    polling.server.write(20, words("float32", float("nan")) + words("float32", 120.5))
    polling.server.write(99, [1250])
    poller = polling.start([
        {"channel": "T1.temp", "address": 20, "type": "float32"},  # NaN
        {"channel": "WL.level", "address": 22, "type": "float32"},
        {"channel": "LOG.batt", "address": 99, "type": "uint16", "scale": 0.01},
        {"channel": "LOG.rh", "address": 100, "type": "int16"},  # not defined by the logger
    ])
    eventually(lambda: poller.status()["messages"] >= 2)
    poller.stop()
    assert set(polling.readings("WL.level")[1]) == {120.5}
    assert set(polling.readings("LOG.batt")[1]) == {12.5}
    assert polling.count("T1.temp") == polling.count("LOG.rh") == 0

    kept = polling.store.rejections(polling.stored_site.id, limit=1000)
    assert {r.source for r in kept} == {"modbus:crest"}
    assert {r.channel for r in kept} == {"T1.temp", "LOG.rh"}
    exception = next(r for r in kept if r.channel == "LOG.rh")
    assert exception.reason == (
        "logger 'crest': holding register 100 (int16, channel LOG.rh): "
        "Modbus exception 2 (ILLEGAL_ADDRESS)"
    )
    assert exception.raw.startswith("unit 1 holding 100 count 1 at ")
    nan = next(r for r in kept if r.channel == "T1.temp")
    assert "holding register 20" in nan.reason and "not a finite number" in nan.reason
    assert "[0x7fc0, 0x0000]" in nan.raw
    # Kept once, not at every poll: the repeats are only counted.
    status = poller.status()
    assert status["rejected"] == len(kept) == 2
    assert status["repeated_failures"] == 2 * (status["messages"] - 1)


#: How a broken logger answers the request for T1.temp (a float32 at holding 10 holding
#: 21.5), what the rejection's reason ends with and what its text holds.
TEMP = words("float32", 21.5)
GARBAGE = [
    ("noise", "the logger answered bytes that are not a Modbus answer",
     "16 byte(s), 0001beef0004ff03deadbeefdeadbeef"),
    ("short", "the logger answered 1 register(s) to a request for 2",
     f"registers [0x{TEMP[0]:04x}]"),
    ("function", "the logger answered with function code 4, not 3",
     f"registers [0x{TEMP[0]:04x}, 0x{TEMP[1]:04x}]"),
    ("exception-99", "Modbus exception 99 (not a standard code)", "exception response, code 99"),
]


@pytest.mark.parametrize(("answer", "reason", "raw"), GARBAGE, ids=[g[0] for g in GARBAGE])
def test_a_logger_answering_garbage_is_kept_once_and_the_other_registers_are_stored(
    store: Store, stored_site: StoredSite, tmp_path: Path, answer: str, reason: str, raw: str
) -> None:
    own = Server(tmp_path, {
        "unit": 1, "holding": [{"address": 0, "values": words("float32", 120.5) + [0] * 8 + TEMP}],
        "input": [{"address": 0, "values": [0]}],
        "garbage": [{"table": "holding", "address": 10, "answer": answer}],
    })
    polling = Polling(store, stored_site, own)
    try:
        poller = polling.start([{"channel": "WL.level", "address": 0, "type": "float32"},
                                {"channel": "T1.temp", "address": 10, "type": "float32"}],
                               timeout=0.3)
        eventually(lambda: poller.status()["messages"] >= 3, what="three polls")
        assert poller._thread is not None and poller._thread.is_alive()
    finally:
        for poller in polling.pollers:
            poller.stop()
        own.stop()
    status = poller.status()
    assert set(polling.readings("WL.level")[1]) == {120.5} and polling.count("T1.temp") == 0
    assert polling.count("WL.level") == status["messages"] == status["accepted"]
    [kept] = polling.store.rejections(polling.stored_site.id)
    assert (kept.source, kept.channel) == ("modbus:crest", "T1.temp")
    assert kept.reason == (
        f"logger 'crest': holding register 10 (float32, channel T1.temp): {reason}"
    )
    assert kept.raw.startswith("unit 1 holding 10 count 2 at ") and kept.raw.endswith(raw)
    assert (status["rejected"], status["failures"]) == (1, 0), status
    assert status["repeated_failures"] == status["messages"] - 1


def test_a_poll_whose_ingest_fails_for_its_own_sake_is_kept_and_the_next_polls_are_stored(
    polling: Polling,
) -> None:
    refused: list[list[dict[str, Any]]] = []

    def refusing_the_first_poll(records: list[dict[str, Any]], source: str) -> IngestReport:
        if not refused:
            refused.append(records)
            raise StoreRefusedError("database x refused the data: value out of range")
        return polling.ingest(records, source)

    polling.server.write(60, words("float32", 118.25))
    poller = polling.start([{"channel": "WL.level", "address": 60, "type": "float32"}],
                           refusing_the_first_poll)
    eventually(lambda: poller.status()["accepted"] >= 3)
    poller.stop()
    [kept] = polling.store.rejections(polling.stored_site.id)
    assert kept.source == "modbus:crest" and kept.reason == (
        "logger 'crest': could not be ingested: database x refused the data: value out of range"
    )
    assert json.loads(kept.raw) == refused[0]
    status = poller.status()
    assert polling.count("WL.level") == status["accepted"] == status["messages"] - 1
    assert (status["rejected"], status["failures"], status["duplicates"]) == (1, 0, 0)


def test_polls_made_while_the_database_is_away_are_stored_once_it_is_back(
    polling: Polling, store_url: str, tmp_path: Path
) -> None:
    """The database really away (a port nothing listens on, an SQLite folder that does not
    exist): every poll waits in memory, a rejection too, and all are stored once it is back."""
    away_url = (f"sqlite:///{tmp_path / 'gone' / 'shuian.db'}" if store_url.startswith("sqlite")
                else "postgresql://postgres@127.0.0.1:9/test")
    away = open_store(away_url, migrate=False)
    live = polling.store
    polling.server.write(62, words("float32", 117.0))
    polling.server.write(64, words("float32", float("inf")))
    polling.ingestor.store = polling.store = away
    poller = polling.start([{"channel": "WL.level", "address": 62, "type": "float32"},
                            {"channel": "T1.temp", "address": 64, "type": "float32"}])
    try:
        eventually(lambda: poller.status()["failures"] >= 3)
        assert "not stored yet, tried again at the next poll" in poller.status()["last_error"]
    finally:
        polling.ingestor.store = polling.store = live
        away.close()
    made = poller.status()["messages"]
    eventually(lambda: poller.status()["accepted"] > made)
    poller.stop()
    status = poller.status()
    assert polling.count("WL.level") == status["accepted"] == status["messages"]
    assert status["duplicates"] == 0
    [kept] = polling.store.rejections(polling.stored_site.id)
    assert kept.channel == "T1.temp" and "not a finite number" in kept.reason


def test_a_spool_that_cannot_be_written_any_more_does_not_stop_the_polls(
    polling: Polling, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    polling.server.write(66, words("float32", 116.5))
    poller = ModbusPoller(
        polling.settings([{"channel": "WL.level", "address": 66, "type": "float32"}],
                         spool=str(spool / "crest.jsonl")),
        polling.ingest, polling.reject,
    )
    t0 = 1_709_251_200 * 1_000_000
    poller.poll(t0)  # polled by hand: no thread
    shutil.rmtree(spool)  # the spool's folder gone, a file in its place: the disk is in trouble
    spool.write_text("", encoding="utf-8")
    poller.poll(t0 + INTERVAL_US)
    poller.poll(t0 + 2 * INTERVAL_US)
    poller.stop()
    status = poller.status()
    assert "poll not written to the spool" in status["last_error"]
    assert polling.count("WL.level") == status["accepted"] == 3


def test_a_register_failing_again_after_reading_well_is_kept_again(polling: Polling) -> None:
    polling.server.write(20, words("float32", float("nan")))
    poller = polling.start([{"channel": "T1.temp", "address": 20, "type": "float32"}])
    eventually(lambda: poller.status()["messages"] >= 2)
    polling.server.write(20, words("float32", 21.5))
    eventually(lambda: polling.count("T1.temp") >= 1)
    polling.server.write(20, words("float32", float("nan")))
    eventually(lambda: poller.status()["rejected"] >= 2)
    poller.stop()
    assert len(polling.store.rejections(polling.stored_site.id)) == 2


def test_a_logger_that_goes_away_is_reported_and_polled_again_when_it_is_back(
    store: Store, stored_site: StoredSite, tmp_path: Path
) -> None:
    logger_map = {"unit": 1, "holding": [{"address": 0, "values": words("float32", 120.0)}],
                  "input": [{"address": 0, "values": [0]}]}
    own = Server(tmp_path, logger_map)
    polling = Polling(store, stored_site, own)
    try:
        poller = polling.start([{"channel": "WL.level", "address": 0, "type": "float32"}])
        eventually(lambda: polling.count("WL.level") >= 1)

        own.stop()
        eventually(lambda: poller.status()["failures"] >= 2)
        status = poller.status()
        assert status["connected"] is False
        assert f"cannot connect to the logger at 127.0.0.1:{own.port}" in status["last_error"]
        assert poller._thread is not None and poller._thread.is_alive()

        logger_map["holding"] = [{"address": 0, "values": words("float32", 121.0)}]
        own.map_file.write_text(json.dumps(logger_map), encoding="utf-8")
        own.start()  # back, on the same port
        eventually(lambda: 121.0 in polling.readings("WL.level")[1])
        assert poller.status()["connected"] is True
    finally:
        for poller in polling.pollers:
            poller.stop()
        own.stop()
    assert set(polling.readings("WL.level")[1]) == {120.0, 121.0}


@dataclass
class Counted:
    """What a collecting ingest reports (the store is not what this test is about)."""

    accepted: int
    duplicates: int = 0
    rejected: int = 0


def test_a_connection_the_logger_closed_between_polls_is_opened_again_within_the_poll(
    tmp_path: Path,
) -> None:
    own = Server(tmp_path, {"unit": 1, "holding": [{"address": 0, "values": [7]}],
                            "input": [{"address": 0, "values": [0]}]})
    polls: list[list[dict[str, Any]]] = []

    def collect(records: list[dict[str, Any]], source: str) -> Counted:
        polls.append(records)
        return Counted(len(records))

    settings = ModbusSettings.model_validate(
        {"name": "crest", "host": "127.0.0.1", "port": own.port, "interval": 1.5, "timeout": 1,
         "registers": [{"channel": "LOG.batt", "address": 0, "type": "uint16"}]}
    )
    poller = ModbusPoller(settings, collect, lambda rejection: None)
    try:
        poller.start()
        eventually(lambda: len(polls) == 1)
        own.stop()  # the logger drops the connection (and is back before the next poll)
        own.start()
        eventually(lambda: len(polls) == 2)
    finally:
        poller.stop()
        own.stop()
    assert poller.status()["failures"] == 0 and poller.status()["last_error"] is None
    assert [records[0]["value"] for records in polls] == [7.0, 7.0]


def test_readings_whose_ingest_fails_are_stored_exactly_once_at_a_later_poll(
    polling: Polling,
) -> None:
    failed: list[list[dict[str, Any]]] = []
    lock = threading.Lock()

    def database_down_three_times(records: list[dict[str, Any]], source: str) -> IngestReport:
        with lock:
            if len(failed) < 3:
                failed.append(records)
                raise StoreUnavailableError("the database cannot be reached")
        return polling.ingest(records, source)

    polling.server.write(30, words("float32", 118.25))
    poller = polling.start([{"channel": "WL.level", "address": 30, "type": "float32"}],
                           database_down_three_times)
    eventually(lambda: poller.status()["accepted"] >= 5)
    poller.stop()

    status = poller.status()
    times, values = polling.readings("WL.level")
    assert status["failures"] == 3 and "database cannot be reached" in status["last_error"]
    assert len(times) == status["messages"] == status["accepted"] and status["duplicates"] == 0
    assert set(values) == {118.25}
    # the polls first refused are among the stored, each once
    assert [len(records) for records in failed] == [1, 2, 3]
    refused = {(dt.datetime.fromisoformat(r["time"]) - EPOCH) // ONE_US for r in failed[-1]}
    assert refused <= set(times)


def test_with_a_spool_polls_not_stored_outlive_the_poller(
    polling: Polling, tmp_path: Path
) -> None:
    """The database is away, the listener stops (or dies): the next one stores those polls."""

    def database_down(records: list[dict[str, Any]], source: str) -> IngestReport:
        raise StoreUnavailableError("the database cannot be reached")

    spool = tmp_path / "spool" / "crest.jsonl"
    registers = [{"channel": "WL.level", "address": 30, "type": "float32"}]
    polling.server.write(30, words("float32", 118.25))
    first = polling.start(registers, database_down, spool=str(spool))
    eventually(lambda: first.status()["failures"] >= 3)
    first.stop()
    polled = first.status()["messages"]
    assert polling.count("WL.level") == 0
    assert len(spool.read_text().splitlines()) == polled  # one line per poll, on disk

    spool.write_text(spool.read_text() + '[{"channel": "WL.lev')  # a crash mid-write
    second = polling.start(registers, spool=str(spool))
    eventually(lambda: polling.count("WL.level") >= polled + 1)
    second.stop()
    assert spool.read_text() == ""  # emptied once everything is stored
    assert second.status()["duplicates"] == 0


def test_at_most_the_last_polls_wait_while_the_database_is_away(
    polling: Polling, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(modbus, "MAX_PENDING_POLLS", 3)

    def database_down(records: list[dict[str, Any]], source: str) -> IngestReport:
        raise StoreUnavailableError("the database cannot be reached")

    polling.server.write(30, words("float32", 118.25))
    poller = ModbusPoller(
        polling.settings([{"channel": "WL.level", "address": 30, "type": "float32"}]),
        database_down, polling.reject,
    )
    t0 = 1_709_251_200 * 1_000_000
    for n in range(5):  # polled by hand: no thread
        poller.poll(t0 + n * INTERVAL_US)
    assert len(poller._pending) == 3
    assert "(2 older poll(s) dropped: at most 3 wait)" in poller.status()["last_error"]

    poller._ingest = polling.ingest
    poller.poll(t0 + 5 * INTERVAL_US)
    poller.stop()
    times, _ = polling.readings("WL.level")
    assert [(t - t0) // INTERVAL_US for t in times] == [2, 3, 4, 5]


def test_a_site_with_modbus_loggers_is_polled_by_the_listeners(
    store: Store, server: Server
) -> None:
    from shuian.services.telemetry import Listeners

    server.write(50, words("float32", 119.0))
    crest = logger(host="127.0.0.1", port=server.port, interval=INTERVAL,
                   registers=[{"channel": "WL.level", "address": 50, "type": "float32"}])
    text = site_with_modbus(crest)
    store.save_site(parse_site(text), text)
    listeners = Listeners(store, store.site())
    listeners.start()
    try:
        eventually(lambda: listeners.status()["modbus:crest"]["accepted"] >= 1)
    finally:
        listeners.stop()
    status = listeners.status()["modbus:crest"]
    assert status["kind"] == "modbus" and status["last_error"] is None
