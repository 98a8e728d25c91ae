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
is an :class:`~shuian.telemetry.mqtt.MqttSource` (unique client id and topics) feeding
:class:`~shuian.services.telemetry.Listeners`' ingest (the writer lock, the ingest service with
its analyzer); its ingest callable is wrapped to stamp the commit time of every reading.

Figures: committed readings/s over the steady part (the readings published from 2 s (quick) or
5 s (at most a fifth of the run) after the first publish to the last, divided by the time from
the start of that part until the last of them was committed: a pipeline that keeps up shows the
offered load less a little, one that falls behind shows its own pace); p50/p99/max of commit
time minus publish time over every reading (one never committed counts with the time waited for
it, a lower bound); the listener process's CPU seconds per 1,000 readings (less sensitive than
the timings to what else runs on the machine); published == accepted and no duplicates.
Usage: ``python bench/telemetry.py [--quick] [--backend sqlite|postgresql|both] [--rate N]``.
The last line printed is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from common import drop, fresh_url
from shuian.alarms.levels import US_PER_DAY
from shuian.demo.synthetic import generate_history
from shuian.readings import US_PER_S, ReadingBatch
from shuian.services.analysis import Analyzer, EvaluationReport
from shuian.services.demo import DEMO_SITE_FILE, EVALUATED_DAYS, demo_site_text
from shuian.services.ingest import IngestReport
from shuian.services.telemetry import Listeners
from shuian.site import parse_site
from shuian.store import Store, StoredSite, open_store
from shuian.telemetry.mqtt import MqttSettings, MqttSource

BROKER = ("127.0.0.1", 1883)
TARGET_READINGS_PER_S = 5_000.0
TARGET_P99_S = 1.0
HOUR_US = 3600 * US_PER_S

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
    for i, scan in enumerate(scans):
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
    client.disconnect()
    client.loop_stop()
    return {
        "messages": len(infos), "readings": readings, "first": first, "last": last,
        "late_p99_ms": float(np.percentile(late, 99) * 1000),
        "acked": sum(info.is_published() for info in infos),
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
    }


def cpu_seconds() -> float:
    """User + system CPU time of this process (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


COLUMNS = [
    ("backend", "backend", "{}"), ("offered/s", "offered_per_s", "{:,}"),
    ("committed/s", "readings_per_s", "{:,}"), ("ratio", "ratio_readings_per_s", "{:.2f}"),
    ("p50 s", "p50_s", "{:.3f}"), ("p99 s", "p99_s", "{:.3f}"), ("ratio", "ratio_p99", "{:.2f}"),
    ("max s", "max_s", "{:.3f}"), ("published", "published", "{:,}"),
    ("accepted", "accepted", "{:,}"), ("dup", "duplicates", "{}"),
    ("per call", "readings_per_call", "{}"), ("cpu s/1k", "cpu_s_per_1000", "{:.3f}"),
]


def table(rows: list[dict[str, Any]]) -> str:
    """The figures as a plain text table."""
    cells = [[h for h, _, _ in COLUMNS]]
    cells += [[f.format(row[k]) for _, k, f in COLUMNS] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(COLUMNS))]
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
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
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
                                  and result["duplicates"] == 0)
            result["meets_target"] = bool(result["complete"] and result["ratio_readings_per_s"] >= 1
                                          and result["ratio_p99"] < 1)
            figures[backend] = result
            rows.append({"backend": backend, **result})
            print(f"{backend}: {result}", file=sys.stderr)
    print(table(rows))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
