"""The listeners of a site: telemetry sources feeding the ingest service, and their status."""

from __future__ import annotations

import threading
from typing import Any

from shuian.readings import Rejection
from shuian.services.analysis import Analyzer
from shuian.services.ingest import Ingestor, IngestReport
from shuian.sources.base import Source, SourceContext
from shuian.sources.registry import open_sources
from shuian.store import Store, StoredSite


class Listeners:
    """Starts, stops and reports on the sources the site file configures.

    Which sources those are, and which module runs each kind, is the registry's to say
    (:mod:`shuian.sources.registry`).

    Every source ends in the one ingest service, which validates, stores, judges (checks,
    models, alarms) and only then lets the source acknowledge. Ingests from different sources
    take turns (one writer), so the analysis sees each committed block once.
    """

    def __init__(self, store: Store, stored: StoredSite) -> None:
        self.store = store
        self.stored = stored
        self.ingestor = Ingestor(store, stored, analyzer=Analyzer(store, stored))
        self._writer = threading.Lock()
        self.sources: dict[str, Source] = open_sources(
            stored.site.telemetry,
            SourceContext(self.ingest, self.reject, timezone=stored.site.reservoir.timezone),
        )

    def ingest(self, records: list[dict[str, Any]], source: str) -> IngestReport:
        """Validate, store and judge records (committed when this returns)."""
        with self._writer:
            return self.ingestor.ingest_records(records, source=source)

    def reject(self, rejection: Rejection) -> None:
        """Keep one rejected message (committed when this returns)."""
        with self._writer:
            self.store.write_rejections(self.stored.id, [rejection])

    def start(self) -> None:
        """Start every source in its own thread."""
        for source in self.sources.values():
            source.start()

    def stop(self) -> None:
        """Stop every source (un-acknowledged messages stay with their senders)."""
        for source in self.sources.values():
            source.stop()

    def status(self) -> dict[str, Any]:
        """Each source's status, by name (``mqtt``, ``sl651``, ``modbus:<logger>``)."""
        return {name: source.status() for name, source in self.sources.items()}
