"""Benchmark: sustained MQTT ingest with analysis on, into SQLite and PostgreSQL.

Target (issue 6): 5,000 readings/s committed, p99 under 1 s from publish to commit.

For each backend a fresh store gets the Shimenzi demo site and ``--history-days`` of its
synthetic hourly history (the demo generator, without injected faults), with the models fitted
on that history but its last year and every stored reading judged, as ``build_demo`` does. The
history is generated once, up to the end of the run, and split: what comes before the split is
stored, what comes after it is published, so the published readings continue the stored series
without a jump.

Shape of the traffic: one "logger" publishes one message per scan on ``<prefix>/shimenzi/auto``
with all 28 automatic (hourly) channels of the site (the 10 manual, weekly ones are typed in,
not logged),
``{"readings": [{"channel", "time", "value", "sent"}, ...]}`` at QoS 1, where ``sent`` is the
publish time (Unix seconds; ingest ignores extra fields). To offer 5,000 readings/s from one site
the logger replays its scans faster than real time: ``--rate`` scans per second (default 200,
i.e. 5,600 readings/s), each scan one hour of data later than the one before. The analysis
therefore runs with a replay clock: its "now" (for the no-data rule) is the time of the newest
reading handed to ingest, as it would be on a live station; everything else (checks, models,
thresholds, rates, envelopes, alarms) runs unchanged on every committed block.

The publisher is a separate process (no shared GIL) that keeps a steady schedule. The listener
is an :class:`~shuian.sources.mqtt.MqttSource` (unique client id and topics) feeding
:class:`~shuian.services.telemetry.Listeners`' ingest (the writer lock, the ingest service with
its analyzer); its ingest callable is wrapped to stamp the commit time of every reading.

Figures: committed readings/s over the steady part (the readings published from 2 s (quick) or
5 s (at most a fifth of the run) after the first publish to the last, divided by the time from
the start of that part until the last of them was committed: a pipeline that keeps up shows the
offered load less a little, one that falls behind shows its own pace); p50/p99/max of commit
time minus publish time over every reading (one never committed counts with the time waited for
it, a lower bound); the listener process's CPU seconds per 1,000 readings (less sensitive than
the timings to what else runs on the machine); published == accepted and no duplicates.
Poison messages (issue 11: no message can stop a source): the publisher sends one poison
message among the scans, halfway (JSON nested 100,000 deep), which must be kept as a rejection
and acknowledged while every scan after it is stored: ``poison_published``,
``poison_broker_acked``, ``poison_kept`` (rejected rows from MQTT), and ``complete`` now also
needs the poison kept. The other sources get the same count on a fresh store of the test site
(tests/data/site.yaml), ``--poison-messages`` N good messages (200; 50 with --quick) with one
poison message in the middle, every source ending in the site's listeners' ingest (analysis
on): SL 651 (a station's reports on one connection, each sent once the previous one is
acknowledged; the poison a report observed in 2099), HTTP POST (batches with an ingest key; the
poison a reading with a NUL and 100 characters in its channel, year 0001 and a NUL in its
value: answered 200 and kept, or refused with a 4xx) and Modbus (pymodbus's server polled
every 0.1 s; the poison a NaN in one register for a few polls). Each gives ``sent``,
``acknowledged``, readings ``expected`` and ``stored``, ``duplicates``,
``poison_acknowledged``, ``poison_kept`` and ``complete`` (acknowledged N = stored N, no
duplicates, the poison acknowledged and kept), under ``<backend>.poison.<source>``.

Usage: ``python bench/telemetry.py [--quick] [--backend sqlite|postgresql|both] [--rate N]
[--poison-messages N] [--poison-only]``. The last line printed is one JSON object of the
figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import resource
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import sqlalchemy as sa

from common import GAUGE, SITE_FILE, drop, fresh_url, serving, sl651_report, sl651_send
from shuian.alarms.levels import US_PER_DAY
from shuian.demo.synthetic import generate_history
from shuian.readings import US_PER_S, ReadingBatch
from shuian.services.accounts import Accounts
from shuian.services.analysis import Analyzer, EvaluationReport
from shuian.services.demo import DEMO_SITE_FILE, EVALUATED_DAYS, demo_site_text
from shuian.services.ingest import IngestReport
from shuian.services.telemetry import Listeners
from shuian.site import parse_site
from shuian.site.telemetry import ModbusSettings, MqttSettings, Sl651Settings
from shuian.sources.modbus import ModbusPoller
from shuian.sources.mqtt import MqttSource
from shuian.sources.sl651 import Sl651Listener
from shuian.store import Store, StoredSite, open_store, schema

BROKER = ("127.0.0.1", 1883)
TARGET_READINGS_PER_S = 5_000.0
TARGET_P99_S = 1.0
HOUR_US = 3600 * US_PER_S
#: The poison message published among the scans: JSON nested 100,000 deep (once a
#: RecursionError that stopped the source for good). It must be kept as a rejection and
#: acknowledged, and every scan after it stored.
POISON = b"[" * 100_000 + b"]" * 100_000

Scan = list[tuple[str, str, float]]


# -- the site and its traffic ---------------------------------------------------------------


def build_site(store: Store, *, history_days: int, scans: int) -> tuple[StoredSite, list[Scan]]:
    """Store the demo site and its history up to the split; return the scans to publish.

    Mirrors ``build_demo`` (bulk write, fit on the history but its last year, judge every
    reading) on a history generated through the end of the run.
    """
    text = demo_site_text()
    site = parse_site(text, source=DEMO_SITE_FILE)
    store.save_site(site, text)
    stored = store.site(site.reservoir.code)
    ids = {c.code: c.id for c in store.channels(stored.id)}
    now = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    end = now - dt.timedelta(hours=2)  # the last scan: in the past, never refused as future
    split_us = int(end.timestamp() * US_PER_S) - scans * HOUR_US
    days = history_days + math.ceil(scans / 24) + 1
    history = generate_history(site, end=end, days=days, faults=False)
    automatic = [c.code for c in site.channels() if c.interval == 3600]

    stored_part = {code: (times <= split_us) for code, (times, _) in history.series.items()}
    batch = ReadingBatch(
        channel_id=np.concatenate([np.full(int(keep.sum()), ids[code], dtype=np.int64)
                                   for code, keep in stored_part.items()]),
        time_us=np.concatenate([history.series[code][0][keep]
                                for code, keep in stored_part.items()]),
        value=np.concatenate([history.series[code][1][keep]
                              for code, keep in stored_part.items()]),
        raw=np.full(sum(int(keep.sum()) for keep in stored_part.values()), np.nan),
    )
    store.write_readings(batch)
    analyzer = Analyzer(store, stored)
    start_us = int(batch.time_us.min())
    calibration = (history_days - EVALUATED_DAYS if history_days > 2 * EVALUATED_DAYS
                   else history_days)
    analyzer.fit(end_us=start_us + calibration * US_PER_DAY)
    analyzer.evaluate(notify=False, now_us=split_us)

    by_time: dict[int, Scan] = {}
    for code in automatic:
        times, values = history.series[code]
        after = times > split_us
        for t, v in zip(times[after].tolist(), values[after].tolist(), strict=True):
            by_time.setdefault(t, []).append((code, iso(t), v))
    return stored, [by_time[t] for t in sorted(by_time)[:scans]]


def iso(time_us: int) -> str:
    """ISO 8601 UTC with a ``Z``, as a logger would send it."""
    return dt.datetime.fromtimestamp(time_us / US_PER_S, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- the publisher (its own process) ------------------------------------------------------------


def publish(scans_path: Path, topic: str, rate: float) -> dict[str, float]:
    """Publish one message per scan at ``rate`` messages/s (QoS 1), on a steady schedule."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

    scans = json.loads(scans_path.read_text())
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{uuid.uuid4().hex}",
                         protocol=MQTTProtocolVersion.MQTTv5)
    client.max_inflight_messages_set(0)  # the broker on localhost acknowledges at once
    client.max_queued_messages_set(0)
    connected = threading.Event()
    client.on_connect = lambda *args: connected.set()
    client.connect(*BROKER)
    client.loop_start()
    assert connected.wait(10), "the publisher cannot connect to the broker"
    infos, late = [], []
    readings = 0
    first = time.time() + 0.2
    poison_at = len(scans) // 2
    poison = None
    for i, scan in enumerate(scans):
        if i == poison_at:
            poison = client.publish(topic, POISON, qos=1)
        due = first + i / rate
        pause = due - time.time()
        if pause > 0:
            time.sleep(pause)
        sent = time.time()
        late.append(sent - due)
        payload = json.dumps(
            {"readings": [{"channel": c, "time": t, "value": v, "sent": sent} for c, t, v in scan]}
        )
        infos.append(client.publish(topic, payload, qos=1))
        readings += len(scan)
    last = time.time()
    for info in infos:
        info.wait_for_publish(30)
    if poison is not None:
        poison.wait_for_publish(30)
    client.disconnect()
    client.loop_stop()
    return {
        "messages": len(infos), "readings": readings, "first": first, "last": last,
        "late_p99_ms": float(np.percentile(late, 99) * 1000),
        "acked": sum(info.is_published() for info in infos),
        "poison": int(poison is not None),
        "poison_acked": int(poison is not None and poison.is_published()),
    }


# -- the listener (this process) ---------------------------------------------------------------


class ReplayAnalyzer(Analyzer):
    """The analyzer with the replay clock: "now" is the newest reading handed to ingest."""

    clock_us: int | None = None

    def evaluate(self, *, channel_ids: Any = None, now_us: int | None = None,
                 notify: bool = True) -> EvaluationReport:
        return super().evaluate(channel_ids=channel_ids, notify=notify,
                                now_us=now_us if now_us is not None else self.clock_us)


class Recorder:
    """Wraps the listeners' ingest: sets the replay clock, stamps each reading's commit time."""

    def __init__(self, listeners: Listeners, analyzer: ReplayAnalyzer) -> None:
        self.listeners = listeners
        self.analyzer = analyzer
        self.sent: list[float] = []
        self.committed: list[float] = []
        self.calls = 0
        self.readings = 0

    def ingest(self, records: list[dict[str, Any]], source: str) -> IngestReport:
        newest = max(record["time"] for record in records)
        self.analyzer.clock_us = int(dt.datetime.fromisoformat(newest).timestamp() * US_PER_S)
        report = self.listeners.ingest(records, source)
        now = time.time()
        self.sent += [record["sent"] for record in records]
        self.committed += [now] * len(records)
        self.calls += 1
        self.readings += len(records)
        return report


def measure(url: str, *, seconds: float, rate: float, warmup: float, history_days: int,
            workdir: Path) -> dict[str, Any]:
    """Build the site in ``url``, publish for ``seconds`` and measure the listener."""
    scans_wanted = int(seconds * rate)
    store = open_store(url)
    try:
        started = time.perf_counter()
        stored, scans = build_site(store, history_days=history_days, scans=scans_wanted)
        build_s = time.perf_counter() - started
        scans_path = workdir / "scans.json"
        scans_path.write_text(json.dumps(scans))
        listeners = Listeners(store, stored)
        analyzer = ReplayAnalyzer(store, stored)
        listeners.ingestor.analyzer = analyzer
        recorder = Recorder(listeners, analyzer)
        prefix = f"shuian-bench/{uuid.uuid4().hex}"
        settings = MqttSettings(host=BROKER[0], port=BROKER[1],
                                client_id=f"shuian-bench-{uuid.uuid4().hex[:12]}",
                                topics=[f"{prefix}/#"], session_expiry=60, retry_delay=0.5)
        source = MqttSource(settings, recorder.ingest, listeners.reject)
        source.start()
        assert source.wait_subscribed(10), "the listener was not subscribed in time"
        cpu_before = cpu_seconds()
        load = os.getloadavg()[0]  # what else the machine was doing as publishing started
        out = subprocess.run(
            [sys.executable, __file__, "--publish", str(scans_path), "--topic",
             f"{prefix}/shimenzi/auto", "--rate", str(rate)],
            check=True, capture_output=True, text=True,
        ).stdout
        published = json.loads(out.strip().splitlines()[-1])
        deadline = time.monotonic() + max(60.0, seconds)
        while recorder.readings < published["readings"] and time.monotonic() < deadline:
            time.sleep(0.05)
        cpu = cpu_seconds() - cpu_before
        waited_until = time.time()
        time.sleep(0.5)  # anything still coming (duplicates) is counted
        source.stop()
        status = source.status()
        evaluation = listeners.ingestor.evaluation
        poison_kept = kept(store, stored, "mqtt:")
    finally:
        store.close()
    # Readings never committed count with the time waited for them (a lower bound).
    missing = max(published["readings"] - len(recorder.sent), 0)
    sent = np.asarray(recorder.sent + [published["last"]] * missing)
    committed = np.asarray(recorder.committed + [waited_until] * missing)
    latency = committed - sent
    # The steady part: readings published from ``warmup`` s after the first publish to the
    # last, over the time from its start until the last of them was committed.
    steady = sent >= published["first"] + warmup
    steady_s = float(committed[steady].max()) - (published["first"] + warmup)
    return {
        "build_s": round(build_s, 1),
        "offered_per_s": round(published["readings"] / (published["last"] - published["first"])),
        "readings_per_s": round(int(steady[: len(recorder.sent)].sum()) / steady_s),
        "p50_s": round(float(np.percentile(latency, 50)), 3),
        "p99_s": round(float(np.percentile(latency, 99)), 3),
        "max_s": round(float(latency.max()), 3),
        "published": published["readings"],
        "broker_acked_messages": published["acked"],
        "accepted": status["accepted"],
        "duplicates": status["duplicates"],
        "rejected": status["rejected"],
        "failures": status["failures"],
        "messages": status["messages"],
        "ingest_calls": recorder.calls,
        "readings_per_call": round(recorder.readings / max(recorder.calls, 1), 1),
        "drain_s": round(float(committed.max()) - published["last"], 2),
        "cpu_s_per_1000": round(cpu / max(recorder.readings, 1) * 1000, 3),
        "judged": evaluation.readings,
        "flags": sum(evaluation.flags.values()),
        "alarm_steps": len(evaluation.steps),
        "publisher_late_p99_ms": round(published["late_p99_ms"], 1),
        "load_1m": round(load, 2),
        "poison_published": published["poison"],
        "poison_broker_acked": published["poison_acked"],
        "poison_kept": poison_kept,
    }


def kept(store: Store, stored: StoredSite, source: str) -> int:
    """Rejected rows of the site whose source starts with ``source``."""
    t = schema.rejected
    query = sa.select(sa.func.count()).where(t.c.site_id == stored.id,
                                             t.c.source.startswith(source))
    with store.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def cpu_seconds() -> float:
    """User + system CPU time of this process (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- one poison message among N on the other sources ------------------------------------------


def poison_figures(url: str, n: int, workdir: Path) -> dict[str, dict[str, Any]]:
    """N good messages and one poison message on SL 651, HTTP POST and Modbus, into ``url``.

    The test site (tests/data/site.yaml) in a fresh store; every source ends in the site's
    :class:`Listeners` ingest (the HTTP API in its own ingest service), analysis on. Each
    source's figures: good messages ``sent`` and ``acknowledged``, readings ``expected`` and
    ``stored`` (exactly once: ``duplicates``), and the poison ``poison_acknowledged`` and
    ``poison_kept`` (rejected rows from that source); ``complete`` when all of them hold.
    """
    text = SITE_FILE.read_text(encoding="utf-8")
    store = open_store(url)
    try:
        store.save_site(parse_site(text, source=str(SITE_FILE)), text)
        stored = store.site()
        listeners = Listeners(store, stored)
        return {
            "sl651": poison_sl651(store, stored, listeners, n),
            "http": poison_http(url, store, stored, n),
            "modbus": poison_modbus(store, stored, listeners, n, workdir),
        }
    finally:
        store.close()


def stored_times(store: Store, stored: StoredSite, channel: str, start_us: int,
                 end_us: int) -> list[int]:
    """Stored reading times of ``channel`` in ``[start_us, end_us)``."""
    times, _ = store.readings(store.channel(stored.id, channel).id, start_us, end_us)
    return [int(t) for t in times]


def exactly_once(figures: dict[str, Any], times: list[int]) -> dict[str, Any]:
    """Add ``stored``, ``duplicates`` and ``complete`` to a source's figures."""
    figures["stored"] = len(times)
    figures["duplicates"] = len(times) - len(set(times))
    figures["complete"] = bool(
        figures["acknowledged"] == figures["sent"] and figures["stored"] == figures["expected"]
        and figures["duplicates"] == 0 and figures["poison_acknowledged"] == 1
        and figures["poison_kept"] >= 1)
    return figures


def poison_sl651(store: Store, stored: StoredSite, listeners: Listeners, n: int
                 ) -> dict[str, Any]:
    """N reports of a station on one connection, each sent once acknowledged; the poison in
    the middle is a report observed in 2099 (beyond the future allowance)."""
    listener = Sl651Listener(
        Sl651Settings(host="127.0.0.1", port=0, stations=[
            {"address": GAUGE, "elements": {"39": "WL.level", "38": "LOG.batt"}}]),
        listeners.ingest, listeners.reject, timezone=stored.site.reservoir.timezone,
    )
    listener.start()
    assert listener.wait_listening(10), "the SL 651 listener did not start"
    start = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(days=2)
    acknowledged = poison_acknowledged = 0
    sock: socket.socket | None = None
    try:
        for i in range(n + 1):
            poison = i == n // 2
            observed = (dt.datetime(2099, 1, 1, tzinfo=dt.UTC) if poison
                        else start + dt.timedelta(minutes=i))
            serial = 1 + i
            frame = sl651_report(serial, observed, {"39": 120.5, "38": 12.6})
            try:
                if sock is None:
                    sock = socket.create_connection(("127.0.0.1", listener.port), timeout=10)
                sl651_send(sock, frame, serial)
            except OSError:
                if sock is not None:
                    sock.close()
                sock = None
                continue
            if poison:
                poison_acknowledged += 1
            else:
                acknowledged += 1
    finally:
        if sock is not None:
            sock.close()
        listener.stop()
    start_us = int(start.timestamp() * US_PER_S)
    end_us = start_us + (n + 1) * 60 * US_PER_S
    # Both channels of a report have its time: a duplicate is a time twice in one channel.
    keyed = [t * 2 + i for i, channel in enumerate(("WL.level", "LOG.batt"))
             for t in stored_times(store, stored, channel, start_us, end_us)]
    figures = {"sent": n, "acknowledged": acknowledged, "expected": 2 * n,
               "poison_acknowledged": poison_acknowledged,
               "poison_kept": kept(store, stored, "sl651")}
    return exactly_once(figures, keyed)


def poison_http(url: str, store: Store, stored: StoredSite, n: int) -> dict[str, Any]:
    """N batches POSTed with an ingest key; the poison in the middle is a batch of one reading
    with a NUL and 100 characters in its channel, year 0001 and a NUL in its value."""
    key = Accounts(store).create_api_key("bench-poison", scopes=["ingest"], actor="bench")[1]
    start = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(days=3)
    acknowledged = poison_acknowledged = 0
    poison_status = None
    with serving(url) as base, httpx.Client(base_url=base, timeout=30,
                                            headers={"X-API-Key": key}) as client:
        for i in range(n + 1):
            record: dict[str, Any]
            if i == n // 2:
                record = {"channel": "WL\u0000" + "x" * 100, "time": "0001-01-01T00:00:00Z",
                          "value": "1\u0000"}
            else:
                record = {"channel": "LOG.airt", "value": 20.0,
                          "time": iso(int((start + dt.timedelta(minutes=i)).timestamp()
                                          * US_PER_S))}
            try:
                answer = client.post("/api/readings", json={"readings": [record]})
            except httpx.HTTPError:
                continue
            if i == n // 2:
                poison_status = answer.status_code
                # Answered 200 (taken, kept as a rejection) or 4xx (refused, the client
                # keeps it): either way never a 5xx, never left hanging.
                poison_acknowledged = int(answer.status_code == 200
                                          or 400 <= answer.status_code < 500)
            elif answer.status_code == 200:
                acknowledged += 1
    start_us = int(start.timestamp() * US_PER_S)
    times = stored_times(store, stored, "LOG.airt", start_us,
                         start_us + (n + 1) * 60 * US_PER_S)
    kept_rows = kept(store, stored, "api")
    figures = {"sent": n, "acknowledged": acknowledged, "expected": n,
               "poison_acknowledged": poison_acknowledged, "poison_status": poison_status,
               "poison_kept": kept_rows if poison_status == 200 else int(poison_status is not
                                                                         None)}
    return exactly_once(figures, times)


def registers(kind: str, number: float) -> list[int]:
    """The 16-bit registers holding ``number`` as ``kind`` (big-endian words)."""
    data = struct.pack({"float32": ">f", "uint16": ">H"}[kind], number)
    return list(struct.unpack(f">{len(data) // 2}H", data))


def poison_modbus(store: Store, stored: StoredSite, listeners: Listeners, n: int,
                  workdir: Path) -> dict[str, Any]:
    """N polls of a logger (pymodbus's server, tests/modbus_server.py) every 0.1 s; the
    poison in the middle: the air temperature register holds a NaN for a few polls."""
    from pymodbus.client import ModbusTcpClient

    good = registers("float32", 120.5) + registers("uint16", 1260) + registers("float32", 20.0)
    map_file = workdir / "modbus-map.json"
    map_file.write_text(json.dumps({"unit": 1, "holding": [{"address": 0, "values": good}],
                                    "input": [{"address": 0, "values": [0]}]}))
    server = subprocess.Popen(
        [sys.executable, str(SITE_FILE.parents[1] / "modbus_server.py"), str(map_file)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert line.startswith("PORT "), "the Modbus server did not start"
        port = int(line.split()[1])
        poller = ModbusPoller(ModbusSettings(
            name="bench", host="127.0.0.1", port=port, interval=0.1, timeout=2, retries=0,
            registers=[{"channel": "WL.level", "address": 0, "type": "float32"},
                       {"channel": "LOG.batt", "address": 2, "type": "uint16", "scale": 0.01},
                       {"channel": "LOG.airt", "address": 3, "type": "float32"}]),
            listeners.ingest, listeners.reject)
        start_us = time.time_ns() // 1000
        poller.start()
        writer = ModbusTcpClient("127.0.0.1", port=port, timeout=2)
        try:
            def polls() -> int:
                return int(poller.status()["messages"])

            def wait_polls(count: int) -> None:
                deadline = time.monotonic() + 60
                while polls() < count and time.monotonic() < deadline:
                    time.sleep(0.02)

            wait_polls(n // 2)
            assert writer.connect(), "cannot connect to the Modbus server"
            writer.write_registers(3, registers("float32", math.nan), device_id=1)
            wait_polls(polls() + 2)
            writer.write_registers(3, registers("float32", 20.0), device_id=1)
            wait_polls(n)
        finally:
            writer.close()
            poller.stop()
        status = poller.status()
    finally:
        server.kill()
        server.wait()
        if server.stdout is not None:
            server.stdout.close()
    end_us = time.time_ns() // 1000 + US_PER_S
    level = stored_times(store, stored, "WL.level", start_us, end_us)
    airt = stored_times(store, stored, "LOG.airt", start_us, end_us)
    batt = stored_times(store, stored, "LOG.batt", start_us, end_us)
    polled = int(status["messages"])
    figures = {"sent": polled, "acknowledged": polled, "expected": polled,
               # The poller went on past the NaN (the Modbus form of an acknowledgement).
               "poison_acknowledged": int(polled >= n and len(airt) < polled),
               "poison_kept": kept(store, stored, "modbus:bench"),
               "accepted": status["accepted"], "stored_all": len(level) + len(airt) + len(batt)}
    figures = exactly_once(figures, level)
    figures["complete"] = bool(figures["complete"] and len(batt) == polled
                               and figures["accepted"] == figures["stored_all"]
                               and status["duplicates"] == 0)
    return figures


COLUMNS = [
    ("backend", "backend", "{}"), ("offered/s", "offered_per_s", "{:,}"),
    ("committed/s", "readings_per_s", "{:,}"), ("ratio", "ratio_readings_per_s", "{:.2f}"),
    ("p50 s", "p50_s", "{:.3f}"), ("p99 s", "p99_s", "{:.3f}"), ("ratio", "ratio_p99", "{:.2f}"),
    ("max s", "max_s", "{:.3f}"), ("published", "published", "{:,}"),
    ("accepted", "accepted", "{:,}"), ("dup", "duplicates", "{}"),
    ("per call", "readings_per_call", "{}"), ("cpu s/1k", "cpu_s_per_1000", "{:.3f}"),
]


POISON_COLUMNS = [
    ("backend", "backend", "{}"), ("source", "source", "{}"), ("sent", "sent", "{:,}"),
    ("acknowledged", "acknowledged", "{:,}"), ("readings", "expected", "{:,}"),
    ("stored", "stored", "{:,}"), ("dup", "duplicates", "{}"),
    ("poison acked", "poison_acknowledged", "{}"), ("poison kept", "poison_kept", "{}"),
    ("complete", "complete", "{}"),
]


def table(rows: list[dict[str, Any]], columns: list[tuple[str, str, str]] = COLUMNS) -> str:
    """The figures as a plain text table."""
    cells = [[h for h, _, _ in columns]]
    cells += [[f.format(row[k]) for _, k, f in columns] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True))
                     for r in cells)


def main() -> None:
    """Parse arguments; publish and measure on each backend."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 s per backend (under a minute)")
    parser.add_argument("--seconds", type=float, default=60.0, help="publishing time per backend")
    parser.add_argument("--rate", type=float, default=200.0, help="scans (messages) per second")
    parser.add_argument("--history-days", type=int, default=1095)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--publish", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--topic", help=argparse.SUPPRESS)
    parser.add_argument("--poison-messages", type=int, default=None,
                        help="good messages around the poison one on SL 651, HTTP and Modbus "
                             "(default 200, 50 with --quick)")
    parser.add_argument("--poison-only", action="store_true",
                        help="only the poison figures of SL 651, HTTP and Modbus")
    args = parser.parse_args()
    if args.publish:
        print(json.dumps(publish(args.publish, args.topic, args.rate)))
        return
    seconds = 10.0 if args.quick else args.seconds
    warmup = min(2.0 if args.quick else 5.0, seconds / 5)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    figures: dict[str, Any] = {
        "target_readings_per_s": TARGET_READINGS_PER_S, "target_p99_s": TARGET_P99_S,
        "seconds": seconds, "scans_per_s": args.rate, "history_days": args.history_days,
    }
    poison_n = args.poison_messages or (50 if args.quick else 200)
    rows, poison_rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            url = fresh_url(backend, Path(tmp))
            try:
                poison = poison_figures(url, poison_n, Path(tmp))
            finally:
                drop(url)
            poison_rows += [{"backend": backend, "source": name, **f}
                            for name, f in poison.items()]
            print(f"{backend} poison: {poison}", file=sys.stderr)
            if args.poison_only:
                figures[backend] = {"poison": poison}
                continue
            url = fresh_url(backend, Path(tmp))
            try:
                result = measure(url, seconds=seconds, rate=args.rate, warmup=warmup,
                                 history_days=args.history_days, workdir=Path(tmp))
            finally:
                drop(url)
            result["ratio_readings_per_s"] = round(
                result["readings_per_s"] / TARGET_READINGS_PER_S, 3)
            result["ratio_p99"] = round(result["p99_s"] / TARGET_P99_S, 3)
            result["complete"] = (result["accepted"] == result["published"]
                                  and result["duplicates"] == 0
                                  and result["poison_kept"] == result["poison_published"])
            result["poison"] = poison
            poison_rows.insert(len(poison_rows) - len(poison), {
                "backend": backend, "source": "mqtt", "sent": result["published"],
                "acknowledged": result["accepted"], "expected": result["published"],
                "stored": result["accepted"], "duplicates": result["duplicates"],
                "poison_acknowledged": "-",  # the listener's PUBACK is not seen from here
                "poison_kept": result["poison_kept"], "complete": result["complete"]})
            result["meets_target"] = bool(result["complete"] and result["ratio_readings_per_s"] >= 1
                                          and result["ratio_p99"] < 1)
            figures[backend] = result
            rows.append({"backend": backend, **result})
            print(f"{backend}: {result}", file=sys.stderr)
    if rows:
        print(table(rows))
    print(table(poison_rows, POISON_COLUMNS))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
