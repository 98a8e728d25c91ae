"""A write-ahead file of readings not yet stored, so that they outlive the process.

A source whose readings exist nowhere else once it has read them (a Modbus poll: the logger
keeps only its current values) writes each batch here before handing it to the ingest, and
empties the file once everything in it is committed. A process killed in between finds the
batches again when it starts. One JSON line per batch; a last line cut short by a crash is
skipped (its batch was never handed to the ingest, so it is the one reading lost with the
process, like a poll that was never made).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

__all__ = ["Spool"]

log = logging.getLogger(__name__)


class Spool:
    """Batches of records kept in ``path`` until :meth:`clear` (created on first use)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> list[list[dict[str, Any]]]:
        """The batches a previous process left, oldest first ([] when there is no file)."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        batches: list[list[dict[str, Any]]] = []
        for number, line in enumerate(lines, 1):
            try:
                batch = json.loads(line)
            except json.JSONDecodeError:
                log.warning("%s line %d: not a whole batch (cut short by a crash?), skipped",
                            self.path, number)
                continue
            if isinstance(batch, list):
                batches.append(batch)
        return batches

    def append(self, records: list[dict[str, Any]]) -> None:
        """Add a batch, on disk (flushed and synced) when this returns."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(records, separators=(",", ":")) + "\n")
            out.flush()
            os.fsync(out.fileno())

    def clear(self) -> None:
        """Forget every batch (all are stored)."""
        if self.path.exists():
            with self.path.open("w", encoding="utf-8") as out:
                out.flush()
                os.fsync(out.fileno())
