"""How one message is sent and when a failed one is tried again: the parts of delivery.

Messages are not sent where alarms are raised: the analysis keeps one message per event and
notifier in the store's outbox, and a delivery loop (:mod:`shuian.services.outbox`) sends them
later. This module holds what that loop needs and that involves no store: which notifiers send
an event (:func:`addressed`), one attempt that never raises (:func:`send_once`), when to try
again after a failure or give up (:class:`RetryPolicy`), and what became of a message in one
pass (:class:`Delivery`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from shuian import faults
from shuian.errors import NotificationError
from shuian.notify.channels import Notifier
from shuian.notify.message import AlarmEvent

logger = logging.getLogger(__name__)

Outcome = Literal["sent", "failed", "gave_up", "postponed"]

_US_PER_S = 1_000_000


@dataclass(frozen=True)
class Delivery:
    """What became of one message (an event through one notifier) in one delivery pass.

    Attributes
    ----------
    key : str
        The event's dedupe key, ``"{alarm_id}:{state}:{level}:{time_us}"``.
    notifier : str
        The notifier's name.
    outcome : {"sent", "failed", "gave_up", "postponed"}
        ``failed``: the attempt failed and the message is tried again later; ``gave_up``: it
        failed for the last time, or cannot be sent at all (its notifier is gone); ``postponed``:
        not tried, because its notifier failed for another message in the same pass.
    attempt : int
        The message's attempt number, from 1 (0 when ``postponed``).
    error : str or None
        Why the attempt failed; None when ``sent``.
    next_try_us : int or None
        When a ``failed`` or ``postponed`` message is tried again (µs since 1970 UTC).
    """

    key: str
    notifier: str
    outcome: Outcome
    attempt: int = 0
    error: str | None = None
    next_try_us: int | None = None


@dataclass(frozen=True)
class RetryPolicy:
    """How often a message is tried, and the pauses between its attempts.

    Parameters
    ----------
    attempts : int
        Attempts per message before it is given up (at least 1).
    backoff_s : sequence of float
        Pause (s) after failed attempt 1, 2, ...; the last pause is repeated. The default
        tries a message 8 times over about 2.8 hours.

    Examples
    --------
    >>> policy = RetryPolicy(attempts=3, backoff_s=(10, 60))
    >>> policy.next_try_us(1, now_us=0), policy.next_try_us(2, now_us=0)
    (10000000, 60000000)
    >>> policy.next_try_us(3, now_us=0) is None  # the third failure was the last attempt
    True
    """

    attempts: int = 8
    backoff_s: Sequence[float] = (10.0, 60.0, 300.0, 900.0, 1800.0, 3600.0)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, not {self.attempts}")
        if not self.backoff_s or min(self.backoff_s) < 0:
            raise ValueError(
                f"backoff_s must be one or more pauses >= 0 s, not {self.backoff_s!r}"
            )

    def next_try_us(self, attempt: int, *, now_us: int) -> int | None:
        """When (µs since 1970) to try again after failed attempt ``attempt``; None: give up."""
        if attempt >= self.attempts:
            return None
        pause = self.backoff_s[min(attempt - 1, len(self.backoff_s) - 1)]
        return now_us + int(pause * _US_PER_S)


def addressed(event: AlarmEvent, notifiers: Sequence[Notifier]) -> list[str]:
    """Names of the notifiers that send ``event`` (its level and state are theirs)."""
    return [n.name for n in notifiers if n.accepts(event)]


def send_once(notifier: Notifier, event: AlarmEvent) -> str | None:
    """Send ``event`` through ``notifier`` once: None when delivered, else why not.

    Never raises: a notifier's own bug is an error text too, so one notifier cannot silence the
    others. The text is one printable line of at most 500 characters (what the store keeps).
    """
    try:
        notifier.send(event)
    except NotificationError as exc:
        return faults.printable(exc.message)[: faults.MAX_REASON]
    except Exception as exc:  # a notifier's bug must not silence the other notifiers
        logger.exception("notifier %s failed unexpectedly", notifier.name)
        text = f"unexpected {type(exc).__name__} in notifier {notifier.name!r}: {exc}"
        return faults.printable(text)[: faults.MAX_REASON]
    return None


def distinct_names(notifiers: Sequence[Notifier]) -> None:
    """Refuse notifiers that share a name (the outbox and the deliveries log key on it).

    Raises
    ------
    ValueError
        Naming the names given more than once.
    """
    names = [n.name for n in notifiers]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValueError(f"notifier names must be distinct; given more than once: {twice}")
