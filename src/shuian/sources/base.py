"""What every source is given and gives: where readings go, how rejections are kept, its status.

A source (:mod:`~shuian.sources.mqtt`, :mod:`~shuian.sources.modbus`,
:mod:`~shuian.sources.sl651`) runs in its own thread(s), hands what it receives to an
:data:`Ingest` (committed when it returns, only then acknowledged to the sender), keeps what
cannot be taken through a :data:`Reject`, and reports where it stands as JSON
(:class:`Source`, ``status()``). The kinds of source are named in
:mod:`shuian.sources.registry`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from shuian.faults import Fault, blame, printable, reason_of
from shuian.readings import Rejection

__all__ = [
    "MAX_REJECTED_TEXT",
    "Ingest",
    "IngestOutcome",
    "Reject",
    "Source",
    "SourceContext",
    "keep",
]

log = logging.getLogger(__name__)

#: How much of a rejected payload a rejection keeps (characters).
MAX_REJECTED_TEXT = 2000


class IngestOutcome(Protocol):
    """What an ingest reports (an :class:`~shuian.services.ingest.IngestReport` does)."""

    @property
    def accepted(self) -> int:
        """New readings stored."""

    @property
    def duplicates(self) -> int:
        """Readings already stored."""

    @property
    def rejected(self) -> int:
        """Records kept as rejections."""


#: Ingests records (committing them) under a source name; raises if they were not committed.
Ingest = Callable[[list[dict[str, Any]], str], IngestOutcome]
#: Keeps one rejection (committing it); raises if it was not kept.
Reject = Callable[[Rejection], None]
#: Keeps one picture (committing it): its bytes, its source (``sl651:<station>``) and when it
#: was taken (with its zone). Raises if it was not kept: an error :func:`shuian.faults.blame`
#: calls the input's (the bytes are refused) becomes a rejection, any other leaves the message
#: unacknowledged.
KeepPicture = Callable[[bytes, str, dt.datetime], None]


class Source(Protocol):
    """A running source: runs in its own thread(s), reports where it stands."""

    def start(self) -> None:
        """Start receiving (returns at once)."""

    def stop(self) -> None:
        """Stop receiving; what was not acknowledged stays with the sender."""

    def status(self) -> dict[str, Any]:
        """JSON-ready: ``kind``, ``connected``, counts, ``last_message_at``, ``last_error``."""


@dataclass(frozen=True)
class SourceContext:
    """What every source of a site is given when it is opened.

    Attributes
    ----------
    ingest : validates, stores and judges records (committed when it returns)
    reject : keeps one rejected message (committed when it returns)
    timezone : the site's zone (IANA name), for stations whose clocks keep local time
    keep_picture : keeps a picture in the site's media store (None: pictures are rejected,
        their size kept)
    """

    ingest: Ingest
    reject: Reject
    timezone: str
    keep_picture: KeepPicture | None = None


def keep(reject: Reject, rejection: Rejection) -> None:
    """Keep a rejection; if the store refuses even that (the input's fault), keep the reason.

    A rejection the store cannot take for its own sake (it should not happen: the store caps
    and cleans every field) is kept again without its text, the store's reason added; if that
    fails too, it is logged. Either way the input may be acknowledged when this returns.

    Raises
    ------
    Exception
        Whatever the system is to blame for (the store is away): nothing was kept, so the
        input must not be acknowledged.
    """
    try:
        reject(rejection)
        return
    except Exception as exc:  # noqa: BLE001 - only the system's fault goes up
        if blame(exc) is Fault.SYSTEM:
            raise
        refused = reason_of(exc)
    minimal = Rejection(
        printable(rejection.source)[:200], rejection.line, "",
        f"{printable(rejection.reason)} (its text could not be kept: {refused})",
    )
    try:
        reject(minimal)
    except Exception as exc:  # noqa: BLE001 - only the system's fault goes up
        if blame(exc) is Fault.SYSTEM:
            raise
        log.error("%s: a rejection could not be kept (%s): %s", minimal.source,
                  reason_of(exc), minimal.reason)
