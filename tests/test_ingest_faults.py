"""An ingest tells the truth about what it stored when the store fails part way.

The store is real (SQLite and PostgreSQL); only its readings writes are made to fail from a
chosen call on, as a database that goes away between two blocks would.
"""

from __future__ import annotations

from typing import Any

import pytest

from shuian.errors import StoreUnavailableError
from shuian.readings import ReadingBatch
from shuian.services.analysis import Analyzer
from shuian.services.ingest import Ingestor
from shuian.store import Store, StoredSite


class _GoesAway:
    """Wraps a real store; its readings writes fail from the ``fail_from``-th call on."""

    def __init__(self, store: Store, fail_from: int) -> None:
        self._store = store
        self._fail_from = fail_from
        self.writes = 0

    def write_readings(self, batch: ReadingBatch) -> int:
        self.writes += 1
        if self.writes >= self._fail_from:
            raise StoreUnavailableError(f"database {self._store.url}: connection lost")
        return self._store.write_readings(batch)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def _records(hours: range, **extra: float) -> list[dict[str, Any]]:
    return [{"channel": "WL.level", "time": f"2024-03-01T{h:02d}:00:00Z", **extra} for h in hours]


def test_a_failure_after_a_committed_part_keeps_its_class_and_says_what_is_stored(
    store: Store, stored_site: StoredSite
) -> None:
    failing = _GoesAway(store, fail_from=2)
    ingestor = Ingestor(failing, stored_site)  # type: ignore[arg-type]
    records = _records(range(3), value=120.0) + [
        {"channel": "P1.head", "time": "2024-03-01T00:00:00Z", "raw": 8000.0}
    ]

    with pytest.raises(StoreUnavailableError) as caught:
        ingestor.ingest_records(records, source="api")

    assert "3 new reading(s)" in caught.value.message
    assert "sending the same data again stores the rest" in caught.value.message
    assert len(store.readings(store.channel(stored_site.id, "WL.level").id)[0]) == 3


def test_a_failure_before_anything_is_stored_is_the_stores_error_unchanged(
    store: Store, stored_site: StoredSite
) -> None:
    ingestor = Ingestor(_GoesAway(store, fail_from=1), stored_site)  # type: ignore[arg-type]

    with pytest.raises(StoreUnavailableError, match="connection lost$"):
        ingestor.ingest_records(_records(range(2), value=120.0), source="api")


def test_an_analysis_failing_after_the_commit_does_not_fail_the_stored_readings(
    store: Store, stored_site: StoredSite
) -> None:
    class _BrokenAnalyzer(Analyzer):
        def evaluate(self, **kwargs: Any) -> Any:
            raise StoreUnavailableError("database x: connection lost")

    ingestor = Ingestor(store, stored_site, analyzer=_BrokenAnalyzer(store, stored_site))
    report = ingestor.ingest_records(_records(range(2), value=120.0), source="api")

    assert report.accepted == 2
    assert ingestor.analysis_failures == ["database x: connection lost"]
