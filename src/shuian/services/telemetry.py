"""The listeners of a site: telemetry sources feeding the ingest service, and their status."""

from __future__ import annotations

from typing import Any

from shuian.readings import Rejection
from shuian.services.analysis import Analyzer
from shuian.services.ingest import Ingestor
from shuian.store import Store, StoredSite
from shuian.telemetry.mqtt import MqttSource


class Listeners:
    """Starts, stops and reports on the sources the site file configures.

    Every source ends in the one ingest service, which validates, stores, judges (checks,
    models, alarms) and only then lets the source acknowledge.
    """

    def __init__(self, store: Store, stored: StoredSite) -> None:
        self.store = store
        self.stored = stored
        self.ingestor = Ingestor(store, stored, analyzer=Analyzer(store, stored))
        self.sources: dict[str, MqttSource] = {}
        settings = stored.site.telemetry
        if settings.mqtt is not None:
            self.sources["mqtt"] = MqttSource(settings.mqtt, self._ingest, self._reject)

    def _ingest(self, records: list[dict[str, Any]], source: str) -> Any:
        return self.ingestor.ingest_records(records, source=source)

    def _reject(self, rejection: Rejection) -> None:
        self.store.write_rejections(self.stored.id, [rejection])

    def start(self) -> None:
        """Start every source in its own thread."""
        for source in self.sources.values():
            source.start()

    def stop(self) -> None:
        """Stop every source (un-acknowledged messages stay with the broker)."""
        for source in self.sources.values():
            source.stop()

    def status(self) -> dict[str, Any]:
        """Each source's status: connected, messages, accepted, rejected, last error ..."""
        return {name: source.status() for name, source in self.sources.items()}
