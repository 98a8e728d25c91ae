"""Batches of readings as column arrays: the unit of work between ingest and store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: Microseconds per second: times travel as int64 microseconds since 1970-01-01 UTC.
US_PER_S = 1_000_000


@dataclass(frozen=True)
class ReadingBatch:
    """Accepted readings, one array element per reading.

    Attributes
    ----------
    channel_id : int64 array, the store's channel ids
    time_us : int64 array, microseconds since 1970-01-01 UTC
    value : float64 array, engineering values in the channel's unit (never NaN)
    raw : float64 array, the raw reading where one was given, NaN where none
    """

    channel_id: NDArray[np.int64]
    time_us: NDArray[np.int64]
    value: NDArray[np.float64]
    raw: NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.time_us)

    @classmethod
    def empty(cls) -> ReadingBatch:
        """A batch with no readings."""
        return cls(
            np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0), np.empty(0)
        )


@dataclass(frozen=True)
class Rejection:
    """A row that could not be accepted, kept with where it came from and why."""

    source: str
    line: int | None
    raw: str
    reason: str
    channel: str | None = None
    #: The reason's catalogue key and JSON parameters (``shuian.i18n``), when it has one:
    #: the API shows the reason in the reader's language from them.
    reason_key: str | None = None
    reason_params: dict[str, Any] | None = None
