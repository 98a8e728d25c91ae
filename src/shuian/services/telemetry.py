"""The listeners of a site: telemetry sources feeding the ingest service, and their status."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

from shuian.readings import Rejection
from shuian.services.analysis import Analyzer
from shuian.services.ingest import Ingestor, IngestReport
from shuian.services.media import MediaLibrary, default_media_dir
from shuian.sources.base import Source, SourceContext
from shuian.sources.registry import open_sources
from shuian.store import Store, StoredSite


class Listeners:
    """Starts, stops and reports on the sources the site file configures.

    Which sources those are, and which module runs each kind, is the registry's to say
    (:mod:`shuian.sources.registry`).

    Every source ends in the one ingest service, which validates, stores, judges (checks,
    models, alarms) and only then lets the source acknowledge. Ingests from different sources
    take turns (one writer), so the analysis sees each committed block once. Pictures (SL 651
    function 36) go to the media library under ``media_dir`` (default: the store's, see
    :func:`~shuian.services.media.default_media_dir`), retention class ``routine``.
    """

    def __init__(self, store: Store, stored: StoredSite, *, media_dir: Path | None = None) -> None:
        self.store = store
        self.stored = stored
        self.media = MediaLibrary(store, media_dir or default_media_dir(store.url))
        self.ingestor = Ingestor(store, stored, analyzer=Analyzer(store, stored))
        self._writer = threading.Lock()
        self.sources: dict[str, Source] = open_sources(
            stored.site.telemetry,
            SourceContext(self.ingest, self.reject, timezone=stored.site.reservoir.timezone,
                          keep_picture=self.keep_picture),
        )

    def ingest(self, records: list[dict[str, Any]], source: str) -> IngestReport:
        """Validate, store and judge records (committed when this returns)."""
        with self._writer:
            return self.ingestor.ingest_records(records, source=source)

    def reject(self, rejection: Rejection) -> None:
        """Keep one rejected message (committed when this returns)."""
        with self._writer:
            self.store.write_rejections(self.stored.id, [rejection])

    def keep_picture(self, data: bytes, source: str, taken_at: dt.datetime) -> None:
        """Keep a station's picture (JPEG) as an image of the site (committed when this returns)."""
        with self._writer:
            self.media.put(data, site_id=self.stored.id, source=source, taken_at=taken_at,
                           content_type="image/jpeg", retention="routine")

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
