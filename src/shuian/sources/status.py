"""Where a telemetry source stands: its connection, counts, last message and last error.

Every source (MQTT, Modbus, SL 651) keeps one :class:`SourceStatus`, updated from its own
threads and read by the API (``GET /api/telemetry``) as JSON-ready values.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["COUNTS", "SourceStatus"]

log = logging.getLogger(__name__)

#: Counts every source keeps: messages received, readings accepted, duplicates and rejected,
#: failures (what could not be stored, left with the sender or kept for later).
COUNTS = ("messages", "accepted", "duplicates", "rejected", "failures")


class SourceStatus:
    """The status of one source, safe to update from several threads.

    Parameters
    ----------
    kind : ``mqtt``, ``modbus`` or ``sl651``
    endpoint : ``host:port`` of the broker, the logger or the listening socket
    label : names the source in log lines
    counts : counts of this kind of source beyond :data:`COUNTS`
    clock : the time of an error (UTC); default the system clock
    """

    def __init__(
        self,
        kind: str,
        endpoint: str,
        *,
        label: str,
        counts: Iterable[str] = (),
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.label = label
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._lock = threading.Lock()
        self._values: dict[str, Any] = {
            "kind": kind, "endpoint": endpoint, "connected": False,
            **dict.fromkeys((*COUNTS, *counts), 0),
            "last_message_at": None, "last_error": None, "last_error_at": None,
        }

    def set(self, **values: Any) -> None:
        """Set values (``connected``, ``endpoint``, ``last_message_at`` as a datetime ...)."""
        with self._lock:
            self._values.update(values)

    def count(self, **increments: int) -> None:
        """Add to counts."""
        with self._lock:
            for key, value in increments.items():
                self._values[key] += value

    def note_error(self, message: str) -> None:
        """Log an error and keep it as the last one, with its time."""
        log.warning("%s: %s", self.label, message)
        self.set(last_error=message, last_error_at=self._clock())

    def as_json(self) -> dict[str, Any]:
        """The values, times as ISO 8601 (UTC)."""
        with self._lock:
            values = dict(self._values)
        for key in ("last_message_at", "last_error_at"):
            if values[key] is not None:
                values[key] = values[key].isoformat()
        return values
