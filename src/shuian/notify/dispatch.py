"""Deliver alarm events through every notifier: once each, with retries, every attempt logged.

:class:`Dispatcher` sends each event through each notifier that accepts it (level, state),
unless the :class:`DeliveryLog` already holds a successful delivery of the event's
:func:`~shuian.notify.message.dedupe_key` by that notifier. A failed send is retried after a
back-off; retries go in rounds (every pending message once, then one pause, then the failures
again), so a dead server delays the whole batch by the sum of the pauses, not by that times the
number of messages. One notifier's failure never stops another's. A message that exhausts its
attempts stays unsent in the log and is tried again at the next :meth:`Dispatcher.deliver`.

The log is a :class:`DeliveryLog`: :class:`MemoryDeliveryLog` here (tests, dry runs), a table
in the store for the real thing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from shuian.errors import NotificationError
from shuian.notify.channels import Notifier
from shuian.notify.message import AlarmEvent, dedupe_key

logger = logging.getLogger(__name__)

Outcome = Literal["sent", "failed", "already_sent", "filtered"]


class DeliveryLog(Protocol):
    """Where deliveries are remembered: every attempt, and whether a message has gone out."""

    def delivered(self, key: str, notifier: str) -> bool:
        """Whether an attempt to send ``key`` through ``notifier`` has succeeded."""
        ...

    def record(
        self, key: str, notifier: str, attempt: int, ok: bool, error: str | None, time_us: int
    ) -> None:
        """Remember one attempt (its number within one delivery, from 1) and its result."""
        ...


@dataclass(frozen=True)
class DeliveryAttempt:
    """One attempt to send one message through one notifier, as :class:`MemoryDeliveryLog` keeps it.

    Attributes
    ----------
    key : str
        The event's dedupe key, ``"{alarm_id}:{state}:{level}"``.
    notifier : str
        The notifier's name.
    attempt : int
        1 for the first attempt of a :meth:`Dispatcher.deliver` call, 2 for its first retry, ...
    ok : bool
        The message was accepted.
    error : str or None
        Why it was not; None when ``ok``.
    time_us : int
        When the attempt ended, µs since 1970-01-01 UTC.
    """

    key: str
    notifier: str
    attempt: int
    ok: bool
    error: str | None
    time_us: int


@dataclass
class MemoryDeliveryLog:
    """A :class:`DeliveryLog` in memory, for tests and dry runs; ``attempts`` in order."""

    attempts: list[DeliveryAttempt] = field(default_factory=list)

    def delivered(self, key: str, notifier: str) -> bool:
        """Whether an attempt to send ``key`` through ``notifier`` has succeeded."""
        return any(a.ok and a.key == key and a.notifier == notifier for a in self.attempts)

    def record(
        self, key: str, notifier: str, attempt: int, ok: bool, error: str | None, time_us: int
    ) -> None:
        """Append one attempt."""
        self.attempts.append(DeliveryAttempt(key, notifier, attempt, ok, error, time_us))


@dataclass(frozen=True)
class Delivery:
    """What became of one event at one notifier in one :meth:`Dispatcher.deliver` call.

    Attributes
    ----------
    key : str
        The event's dedupe key.
    notifier : str
        The notifier's name.
    outcome : {"sent", "failed", "already_sent", "filtered"}
        ``already_sent``: the log held a successful delivery, nothing was sent; ``filtered``:
        the notifier does not send this level or state.
    attempts : int
        Attempts made in this call (0 for ``already_sent`` and ``filtered``).
    error : str or None
        The last attempt's error when ``failed``.
    """

    key: str
    notifier: str
    outcome: Outcome
    attempts: int = 0
    error: str | None = None


def _now_us() -> int:
    return time.time_ns() // 1_000


class Dispatcher:
    """Send alarm events through notifiers, once per alarm state, retrying failures.

    Parameters
    ----------
    notifiers : list of Notifier
        With distinct names.
    log : DeliveryLog
        Remembers attempts; decides what has been sent.
    attempts : int
        Attempts per message per :meth:`deliver` call (at least 1).
    backoff_s : sequence of float
        Pause before retry 1, 2, ...; the last is repeated when there are more retries.
    sleep : callable
        Pauses for a number of seconds; tests pass one that does not wait.
    clock : callable
        Returns now in µs since 1970-01-01 UTC, for the log.
    """

    def __init__(
        self,
        notifiers: Sequence[Notifier],
        log: DeliveryLog,
        *,
        attempts: int = 3,
        backoff_s: Sequence[float] = (1.0, 5.0, 30.0),
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], int] = _now_us,
    ) -> None:
        names = [n.name for n in notifiers]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"notifier names must be distinct; given more than once: {twice}")
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, not {attempts}")
        if not backoff_s or min(backoff_s) < 0:
            raise ValueError(f"backoff_s must be one or more pauses >= 0 s, not {backoff_s!r}")
        self.notifiers = list(notifiers)
        self.log = log
        self.attempts = attempts
        self.backoff_s = tuple(float(s) for s in backoff_s)
        self._sleep = sleep
        self._clock = clock

    def deliver(self, events: Iterable[AlarmEvent]) -> list[Delivery]:
        """Send each event through each notifier that accepts it and has not sent it yet.

        Parameters
        ----------
        events : iterable of AlarmEvent
            In any order; an event given twice (same dedupe key) is sent once.

        Returns
        -------
        list of Delivery
            One per (event key, notifier), in the order of the events, then the notifiers.
        """
        results: dict[tuple[str, str], Delivery] = {}
        pending: list[tuple[AlarmEvent, Notifier]] = []
        for event in events:
            key = dedupe_key(event)
            for notifier in self.notifiers:
                slot = (key, notifier.name)
                if slot in results:
                    continue
                if not notifier.accepts(event):
                    results[slot] = Delivery(key, notifier.name, "filtered")
                elif self.log.delivered(key, notifier.name):
                    results[slot] = Delivery(key, notifier.name, "already_sent")
                else:
                    results[slot] = Delivery(key, notifier.name, "failed")
                    pending.append((event, notifier))
        for attempt in range(1, self.attempts + 1):
            if not pending:
                break
            if attempt > 1:
                self._sleep(self.backoff_s[min(attempt - 2, len(self.backoff_s) - 1)])
            failed: list[tuple[AlarmEvent, Notifier]] = []
            for event, notifier in pending:
                key = dedupe_key(event)
                error = self._try(event, notifier)
                self.log.record(key, notifier.name, attempt, error is None, error, self._clock())
                outcome: Outcome = "sent" if error is None else "failed"
                results[(key, notifier.name)] = Delivery(
                    key, notifier.name, outcome, attempt, error
                )
                if error is not None:
                    failed.append((event, notifier))
            pending = failed
        for event, notifier in pending:
            logger.warning(
                "alarm %s not delivered by %s after %d attempts: %s",
                dedupe_key(event),
                notifier.name,
                self.attempts,
                results[(dedupe_key(event), notifier.name)].error,
            )
        return list(results.values())

    @staticmethod
    def _try(event: AlarmEvent, notifier: Notifier) -> str | None:
        """Send once; the error text on failure, None on success."""
        try:
            notifier.send(event)
        except NotificationError as exc:
            return exc.message
        except Exception as exc:  # a notifier's bug must not silence the other notifiers
            logger.exception("notifier %s failed unexpectedly", notifier.name)
            return f"unexpected {type(exc).__name__} in notifier {notifier.name!r}: {exc}"
        return None
