"""Fault drills for telemetry: every reading the broker acknowledged is stored exactly once.

Each drill publishes a stream of readings over MQTT with QoS 1, counting what the broker
acknowledged to the publisher (PUBACK), injects one fault mid-stream, and then checks by
counting: published N, stored N, duplicates 0 (the stored times are exactly the acknowledged
ones, each once).

- the ``shuian listen`` process killed with SIGKILL and started again (both store backends,
  the shared Mosquitto at 127.0.0.1:1883);
- the broker stopped and started again (a private Mosquitto with persistence, on a free port);
- PostgreSQL stopped for 10 seconds (a private cluster on a free port, never the shared one).

A missing tool (mosquitto, initdb) fails the drill with the name of what to install.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from conftest import SITE_FILE, eventually
from shuian.services.telemetry import Listeners
from shuian.site import parse_site
from shuian.sources.mqtt import MqttSource
from shuian.store import Store, StoredSite, open_store

SHUIAN = Path(sys.executable).parent / "shuian"
MOSQUITTO = os.environ.get("SHUIAN_MOSQUITTO", "/usr/sbin/mosquitto")
PG_BIN = Path(os.environ.get("SHUIAN_PG_BIN", "/usr/lib/postgresql/15/bin"))
SHARED_BROKER_PORT = 1883
T0 = 1_709_251_200  # 2024-03-01T00:00:00Z
CHANNEL = "WL.level"


# -- helpers -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def require(path: Path | str, package: str) -> Path:
    """The executable at ``path``; fails the drill (never skips) if it is not there."""
    if not os.access(path, os.X_OK):
        pytest.fail(f"this fault drill needs {path}: install {package} "
                    "(or point the SHUIAN_* variable of this module at it)")
    return Path(path)


def iso(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def reading_time(index: int) -> int:
    """The time of reading ``index`` of a stream (one minute apart), in µs as stored."""
    return (T0 + 60 * index) * 1_000_000


def save_site_with_mqtt(store: Store, port: int, prefix: str) -> None:
    """Save the test site with a ``telemetry: mqtt`` section: the broker at ``port``, the
    topics under ``prefix``, a new client id, a quick retry."""
    mqtt_settings = {
        "host": "127.0.0.1", "port": port, "client_id": f"shuian-drill-{uuid.uuid4().hex[:12]}",
        "topics": [f"{prefix}/#"], "session_expiry": 120, "retry_delay": 0.2,
    }
    data = yaml.safe_load(SITE_FILE.read_text(encoding="utf-8"))
    data["telemetry"] = {"mqtt": mqtt_settings}
    text = yaml.safe_dump(data, allow_unicode=True)
    store.save_site(parse_site(text), text)


def stored_times(store: Store, channel: str = CHANNEL) -> list[int]:
    stored = store.site()
    return [int(t) for t in store.readings(store.channel(stored.id, channel).id)[0]]


class Publisher:
    """Publishes readings with QoS 1; knows which of them the broker acknowledged (PUBACK).

    paho keeps every QoS 1 message until its PUBACK, also while the broker is away, and sends
    it again after reconnecting; a message counts as published once it is acknowledged.
    """

    def __init__(self, port: int, topic: str) -> None:
        self.topic = topic
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"shuian-drill-pub-{uuid.uuid4().hex[:12]}",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        self.client.on_publish = self._on_publish
        self.client.reconnect_delay_set(min_delay=1, max_delay=1)
        self._acknowledged_mids: list[int] = []  # appended by paho's thread
        self._sent: dict[int, list[int]] = {}  # mid -> reading indices
        self.progress = 0  # how far the stream has got (the next reading index)
        self.client.connect("127.0.0.1", port, clean_start=False)
        self.client.loop_start()
        eventually(self.client.is_connected, 10, "the publisher is connected")

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int,
                    reason_code: ReasonCode, properties: Properties) -> None:
        if not reason_code.is_failure:
            self._acknowledged_mids.append(mid)

    def publish(self, indices: list[int]) -> None:
        """One message holding the readings ``indices`` of the stream."""
        payload = json.dumps([{"channel": CHANNEL, "time": iso(T0 + 60 * i),
                               "value": 100.0 + i % 400 / 10} for i in indices])
        info = self.client.publish(self.topic, payload, qos=1)
        self._sent[info.mid] = indices

    def stream(self, indices: range, per_message: int, pause: float) -> threading.Thread:
        """Publish ``indices`` in messages of ``per_message``, ``pause`` s apart, in a thread."""
        def run() -> None:
            for start in range(indices.start, indices.stop, per_message):
                self.publish(list(range(start, min(start + per_message, indices.stop))))
                self.progress = min(start + per_message, indices.stop)
                time.sleep(pause)

        thread = threading.Thread(target=run, name="drill-publisher", daemon=True)
        thread.start()
        return thread

    def all_acknowledged(self) -> bool:
        return set(self._acknowledged_mids) >= set(self._sent)

    def acknowledged(self) -> set[int]:
        """The indices of the readings the broker acknowledged."""
        return {i for mid in set(self._acknowledged_mids) for i in self._sent.get(mid, [])}

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def check_exactly_once(publisher: Publisher, n: int, times: list[int]) -> None:
    """Published N (acknowledged), stored N, duplicates 0, and every acknowledged one is there."""
    acknowledged = publisher.acknowledged()
    expected = {reading_time(i) for i in acknowledged}
    missing = sorted(i for i in acknowledged if reading_time(i) not in set(times))
    assert (len(acknowledged), len(times), len(times) - len(set(times))) == (n, n, 0), missing
    assert set(times) == expected, f"missing readings {missing[:20]}"


# -- 1. the ingest process killed with SIGKILL mid-stream -------------------------------------


class ListenProcess:
    """``shuian listen --db URL`` in a subprocess, its output in a log file."""

    def __init__(self, db: str, log: Path) -> None:
        self.db = db
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [str(SHUIAN), "listen", "--db", self.db],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def output(self) -> str:
        return f"listener output:\n{self.log.read_text(errors='replace')[-3000:]}"


def test_the_listener_killed_mid_stream_loses_nothing_and_stores_nothing_twice(
    store: Store, store_url: str, tmp_path: Path
) -> None:
    n, per_message = 2000, 10
    prefix = f"shuian-drill/{uuid.uuid4().hex}"
    save_site_with_mqtt(store, SHARED_BROKER_PORT, prefix)
    listener = ListenProcess(store_url, tmp_path / "listen.log")
    publisher = Publisher(SHARED_BROKER_PORT, f"{prefix}/{CHANNEL}")
    try:
        listener.start()
        # Until its first connection the broker keeps nothing for the listener: offer reading
        # 0 until it is stored (the broker keeps the listener's session from then on).
        deadline = time.monotonic() + 30
        while not stored_times(store):
            assert time.monotonic() < deadline, f"nothing stored. {listener.output()}"
            publisher.publish([0])
            time.sleep(0.5)

        # A steady stream: the listener is killed a third of the way through (with messages
        # delivered to it and not yet acknowledged) and started again while the stream goes on.
        stream = publisher.stream(range(1, n), per_message, pause=0.01)
        eventually(lambda: publisher.progress >= n // 3, 30, "a third of the stream is out")
        listener.kill()
        assert stream.is_alive(), "the stream ended before the kill: not a mid-stream drill"
        listener.start()

        stream.join(60)
        eventually(publisher.all_acknowledged, 30, "the broker acknowledged every message")
        eventually(lambda: len(stored_times(store)) >= n, 60, f"{n} readings stored",
                   lambda: f"stored {len(stored_times(store))}. {listener.output()}")
        assert listener.running() and "Traceback" not in listener.output(), listener.output()
        check_exactly_once(publisher, n, stored_times(store))
    finally:
        listener.stop()
        publisher.close()


# -- 2. the broker stopped and started again ---------------------------------------------------


class PrivateBroker:
    """A Mosquitto of this test only, with persistence, on a free port."""

    def __init__(self, directory: Path) -> None:
        self.mosquitto = require(MOSQUITTO, "mosquitto")
        self.directory = directory
        self.port = free_port()
        self.config = directory / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {directory}/\n"
            "autosave_interval 1\n"
            f"user {pwd.getpwuid(os.geteuid()).pw_name}\n"  # no dropping to 'mosquitto'
            f"log_dest file {directory}/mosquitto.log\n",
            encoding="utf-8",
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [str(self.mosquitto), "-c", str(self.config)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        )
        eventually(lambda: port_open(self.port), 10, f"mosquitto listens on {self.port}",
                   self.log)

    def stop(self) -> None:
        """SIGTERM: Mosquitto saves its persistence file on the way out."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def log(self) -> str:
        path = self.directory / "mosquitto.log"
        if not path.exists():
            return ""
        return f"mosquitto log:\n{path.read_text(errors='replace')[-3000:]}"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[PrivateBroker]:
    directory = tmp_path / "mosquitto"
    directory.mkdir()
    broker = PrivateBroker(directory)
    broker.start()
    try:
        yield broker
    finally:
        if broker.proc is not None and broker.proc.poll() is None:
            broker.proc.kill()
            broker.proc.wait(10)


def test_a_broker_restarted_mid_stream_loses_no_acknowledged_reading(
    store: Store, broker: PrivateBroker
) -> None:
    n, per_message = 2000, 10
    prefix = f"shuian-drill/{uuid.uuid4().hex}"
    save_site_with_mqtt(store, broker.port, prefix)
    listeners = Listeners(store, store.site())
    listeners.start()
    publisher = Publisher(broker.port, f"{prefix}/{CHANNEL}")
    try:
        source = listeners.sources["mqtt"]
        assert isinstance(source, MqttSource)
        eventually(lambda: source.wait_subscribed(0.1), 10, "the listener is subscribed")
        # A steady stream: the broker stops a third of the way through (holding messages for
        # the listener, some delivered and not yet acknowledged) and starts again; the rest of
        # the stream waits in the publisher meanwhile.
        stream = publisher.stream(range(n), per_message, pause=0.01)
        eventually(lambda: publisher.progress >= n // 3, 30, "a third of the stream is out")
        broker.stop()
        assert stream.is_alive(), "the stream ended before the restart: not a mid-stream drill"
        eventually(lambda: not source.status()["connected"], 10, "the listener sees it gone")
        broker.start()

        stream.join(60)
        eventually(publisher.all_acknowledged, 30, "the broker acknowledged every message",
                   broker.log)
        eventually(lambda: len(stored_times(store)) >= n, 60, f"{n} readings stored",
                   lambda: f"stored {len(stored_times(store))}; {source.status()}. "
                           f"{broker.log()}")
        check_exactly_once(publisher, n, stored_times(store))
        status = source.status()  # each reading was new once; the rest came again
        assert status["connected"] and status["accepted"] == n, status
    finally:
        publisher.close()
        listeners.stop()


# -- 3. PostgreSQL stopped for 10 seconds ------------------------------------------------------


class PrivateCluster:
    """A PostgreSQL cluster of this test only (trust auth, a free port, its own socket dir).

    initdb refuses to run as root, so as root the cluster belongs to the ``postgres`` user.
    """

    def __init__(self) -> None:
        self.initdb = require(PG_BIN / "initdb", "postgresql (server)")
        self.pg_ctl = require(PG_BIN / "pg_ctl", "postgresql (server)")
        self.as_owner: list[str] = []
        owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            runuser = require("/usr/sbin/runuser", "util-linux (runuser)")
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                pytest.fail("as root this drill runs initdb as the user 'postgres', which does "
                            "not exist: install the postgresql server package")
            self.as_owner = [str(runuser), "-u", owner.pw_name, "--"]
        self.directory = Path(tempfile.mkdtemp(prefix="shuian-pg-"))  # not in root's tmp_path
        if owner is not None:
            os.chown(self.directory, owner.pw_uid, owner.pw_gid)
        self.data = self.directory / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        result = subprocess.run([*self.as_owner, *args], capture_output=True, text=True,
                                timeout=60, check=False)
        assert result.returncode == 0, f"{' '.join(args)}: {result.stdout}{result.stderr}"

    def create(self) -> None:
        self._run(str(self.initdb), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "--no-sync", "-E", "UTF8", "--locale", "C")

    def start(self) -> None:
        self._run(str(self.pg_ctl), "-D", str(self.data), "-l", str(self.directory / "log"),
                  "-w", "-t", "30",
                  "-o", f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1",
                  "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.pg_ctl), "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run([*self.as_owner, str(self.pg_ctl), "-D", str(self.data), "-m",
                            "immediate", "-w", "stop"], capture_output=True, check=False)
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    cluster = PrivateCluster()
    try:
        cluster.create()
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


def test_postgresql_stopped_for_ten_seconds_mid_stream_loses_nothing(
    cluster: PrivateCluster,
) -> None:
    n, per_message, third = 1500, 10, 500
    prefix = f"shuian-drill/{uuid.uuid4().hex}"
    store = open_store(cluster.url)
    save_site_with_mqtt(store, SHARED_BROKER_PORT, prefix)
    stored: StoredSite = store.site()
    listeners = Listeners(store, stored)
    listeners.start()
    publisher = Publisher(SHARED_BROKER_PORT, f"{prefix}/{CHANNEL}")
    try:
        source = listeners.sources["mqtt"]
        assert isinstance(source, MqttSource)
        eventually(lambda: source.wait_subscribed(0.1), 10, "the listener is subscribed")
        # A steady stream: the database stops a third of the way through (an ingest may be
        # committing), stays away 10 s while the stream goes on, and the rest comes after.
        stream = publisher.stream(range(2 * third), per_message, pause=0.02)
        eventually(lambda: publisher.progress >= third, 30, "a third of the stream is out")
        cluster.stop("fast")
        stopped = time.monotonic()
        assert stream.is_alive(), "the stream ended before the stop: not a mid-stream drill"
        eventually(lambda: source.status()["failures"] > 0
                   and "not stored, will be delivered again" in str(source.status()["last_error"]),
                   10, "ingests fail while the database is down", lambda: str(source.status()))
        stream.join(30)
        time.sleep(max(0.0, 10.0 - (time.monotonic() - stopped)))  # the outage lasts 10 s
        cluster.start()

        publisher.stream(range(2 * third, n), per_message, pause=0.005).join(30)
        eventually(publisher.all_acknowledged, 30, "the broker acknowledged every message")
        eventually(lambda: len(stored_times(store)) >= n, 30, f"{n} readings stored",
                   lambda: f"stored {len(stored_times(store))}; {source.status()}")
        check_exactly_once(publisher, n, stored_times(store))
    finally:
        publisher.close()
        listeners.stop()
        store.close()
