"""Ingest use case: every way in (files, the HTTP API) ends here.

Rows are validated and converted block by block, accepted readings are written in one bulk
statement per block and committed, rejected rows are kept with their reason. Writing the same
reading twice adds nothing: it is counted as a duplicate.

A block's rejections are kept before its readings are written (keeping one again adds nothing),
so a block that fails to commit can be sent again whole. Once its readings are committed, a
block counts as stored: the analysis that follows may fail (the database went away between the
two) without the caller being told the readings failed; the readings are judged by the next
evaluation (each channel's evaluation resumes after its last judged reading).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from shuian.errors import NoSiteError, StoreError
from shuian.faults import reason_of
from shuian.i18n import DEFAULT_LANG, Lang, render_stored
from shuian.ingest.files import Progress, read_file
from shuian.ingest.rows import RawRows
from shuian.ingest.validate import ChannelTable, validate
from shuian.readings import US_PER_S, ReadingBatch, Rejection
from shuian.services.analysis import Analyzer, EvaluationReport
from shuian.store import Store, StoredSite

log = logging.getLogger(__name__)

#: How many rejections an ingest report lists in full (all are kept in the store).
REPORTED_REJECTIONS = 20


@dataclass
class IngestReport:
    """What an ingest did: new readings, duplicates, rejections (the first ``limit`` in full)."""

    limit: int | None = REPORTED_REJECTIONS
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)

    def add(self, accepted: int, duplicates: int, rejections: Sequence[Rejection]) -> None:
        """Count one committed block."""
        self.accepted += accepted
        self.duplicates += duplicates
        self.rejected += len(rejections)
        room = len(rejections) if self.limit is None else self.limit - len(self.rejections)
        self.rejections.extend(rejections[: max(room, 0)])

    def as_json(self, lang: Lang = DEFAULT_LANG) -> dict[str, Any]:
        """The report as the JSON object the CLI and API print (reasons in ``lang``)."""
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "rejections": [
                {"source": r.source, "line": r.line, "channel": r.channel, "raw": r.raw,
                 "reason": render_stored(r.reason, r.reason_key, r.reason_params, lang)}
                for r in self.rejections
            ],
        }


class Ingestor:
    """Validates, converts and stores readings for one site of a store."""

    def __init__(
        self, store: Store, stored: StoredSite, *, analyzer: Analyzer | None = None
    ) -> None:
        self.store = store
        self.stored = stored
        self.analyzer = analyzer
        self.evaluation = EvaluationReport()
        #: Why analyses after a commit failed (the readings stayed stored), newest last.
        self.analysis_failures: list[str] = []
        ids = {c.code: c.id for c in store.channels(stored.id)}
        self.table = ChannelTable.from_site(stored.site, ids)

    def ingest_file(
        self, path: Path, *, encoding: str | None = None, on_progress: Progress | None = None
    ) -> IngestReport:
        """Ingest a long-CSV or TOA5 file, committing block by block.

        ``encoding``: ``utf-8``, ``gbk`` or ``gb18030``; None: detected (see
        :func:`~shuian.ingest.files.detect_encoding`).
        """
        blocks = read_file(path, self.stored.site, encoding=encoding, on_progress=on_progress)
        return self.ingest_blocks(blocks, report=IngestReport())

    def ingest_blocks(
        self, blocks: Iterable[RawRows], *, report: IngestReport | None = None
    ) -> IngestReport:
        """Ingest blocks of rows; each block is committed before the next is read."""
        report = report if report is not None else IngestReport(limit=None)
        # One writer thread commits block N while this thread reads and validates block N+1;
        # blocks are committed in order, and the report counts only committed blocks.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="shuian-writer") as writer:
            pending: Future[tuple[int, int, list[Rejection]]] | None = None
            for rows in blocks:
                now_us = int(dt.datetime.now(dt.UTC).timestamp() * US_PER_S)
                batch, rejections = validate(rows, self.table, now_us=now_us)
                if pending is not None:
                    _count_committed(pending, report)
                pending = writer.submit(self._commit, batch, rejections)
            if pending is not None:
                _count_committed(pending, report)
        return report

    def _commit(
        self, batch: ReadingBatch, rejections: list[Rejection]
    ) -> tuple[int, int, list[Rejection]]:
        self.store.write_rejections(self.stored.id, rejections)
        new = self.store.write_readings(batch)
        if self.analyzer is not None and len(batch):
            # Judge what just landed (incremental: only readings after each channel's mark).
            try:
                found = self.analyzer.evaluate(channel_ids=np.unique(batch.channel_id).tolist())
            except Exception as exc:  # noqa: BLE001 - stored all the same; judged next time
                reason = reason_of(exc)
                log.warning("readings stored; their analysis waits for the next run: %s", reason)
                self.analysis_failures = [*self.analysis_failures[-9:], reason]
            else:
                self.evaluation.merge(found)
        return new, len(batch) - new, rejections

    def ingest_records(self, records: Sequence[dict[str, Any]], *, source: str) -> IngestReport:
        """Ingest a batch of records as the HTTP API receives them.

        Each record has ``channel``, ``time`` and ``value`` (engineering value) or ``raw`` (with
        an optional ``temperature``); a rejection's ``line`` is the record's index in the batch.
        Every rejection is listed in the report.
        """
        frame = pd.DataFrame.from_records(
            list(records), columns=["channel", "time", "value", "raw", "temperature"]
        ).astype("str")
        frame = frame.where(pd.DataFrame(records).reindex(columns=frame.columns).notna())
        blocks: list[RawRows] = []
        is_raw = frame["raw"].notna().to_numpy()
        for kind, mask in (("value", ~is_raw), ("raw", is_raw)):
            index = np.flatnonzero(mask)
            if len(index) == 0:
                continue
            part = frame.iloc[index].reset_index(drop=True)
            blocks.append(RawRows(
                source=source,
                kind="raw" if kind == "raw" else "value",
                channel=part["channel"],
                time=part["time"],
                value=part[kind],
                line=index.astype(np.int64),
                text=_record_text(records, index),
                temperature=part["temperature"] if kind == "raw" else None,
            ))
        return self.ingest_blocks(blocks, report=IngestReport(limit=None))


def _count_committed(
    pending: Future[tuple[int, int, list[Rejection]]], report: IngestReport
) -> None:
    """Count a block once it is committed; if it failed, say what earlier blocks stored.

    The error keeps its class (the store away, or the data refused), so the caller still knows
    whose fault it is; its message tells how many readings are stored already, so that nobody
    is told "failed" for readings that were committed (sending again adds only duplicates).
    """
    try:
        report.add(*pending.result())
    except StoreError as exc:
        if not (report.accepted or report.duplicates or report.rejected) or isinstance(
            exc, NoSiteError
        ):
            raise
        raise type(exc)(
            f"{exc.message}; before this, {report.accepted} new reading(s), "
            f"{report.duplicates} duplicate(s) and {report.rejected} rejection(s) were stored: "
            "sending the same data again stores the rest (what is stored counts as duplicates)"
        ) from exc


def _record_text(
    records: Sequence[dict[str, Any]], index: NDArray[np.intp]
) -> Callable[[int], str]:
    """The JSON text of the record at a row position, for rejected records."""
    return lambda position: json.dumps(records[int(index[position])], default=str)
