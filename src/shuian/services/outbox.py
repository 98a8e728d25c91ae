"""Deliver the alarms' notifications from the store, in the background: the outbox.

The analysis never sends: in the transaction that stores an alarm step it keeps one message per
event and notifier in the outbox (:func:`outbox_messages`; :func:`queue_notifications` keeps
messages of events already stored), so a webhook that does not answer cannot
hold an ingest, its commit or the acknowledgements behind it. :func:`deliver_due` makes one
pass over the messages that are due; the worker's ``deliver_notifications`` job makes passes
(:func:`deliver_pending`) while a server or a worker runs (``shuian serve``, ``shuian worker``,
``shuian listen``), one worker at a time.

A pass claims a batch of due messages with a lease (until now + ``lease_s``), in one atomic
statement, so two runners (threads, processes, machines) never claim the same message. Before
each send the runner renews its lease on that message, and sends only if it still holds it; a
runner that dies mid-send leaves its messages to whoever claims them once the lease is over.
``lease_s`` must be longer than any one send can take (a notifier's timeouts), or a slow send
could overlap the next runner's.

Each attempt is kept in the deliveries log. A failed message is tried again after the
:class:`~shuian.notify.RetryPolicy`'s back-off, and given up after its last attempt with the
reason kept (``store.outbox(state="gave_up")``). When a notifier fails, its other messages of
the same pass are not tried: they wait for the same back-off (a dead server costs one timeout
per pass, not one per message). Delivery is at least once: a runner that sent a message and
then lost the database before keeping the result sends it again later; receivers can drop a
repeat by its ``key``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence

from shuian.errors import ShuianError
from shuian.faults import reason_of
from shuian.notify import (
    AlarmEvent,
    Delivery,
    Notifier,
    RetryPolicy,
    addressed,
    build_notifiers,
    dedupe_key,
    distinct_names,
    send_once,
)
from shuian.store import Store
from shuian.store.analysis import OutboxEntry, OutboxMessage

logger = logging.getLogger(__name__)

#: The notifiers of a site, by its code.
NotifierSource = Callable[[str], Sequence[Notifier]]

_US_PER_S = 1_000_000


def _now_us() -> int:
    return time.time_ns() // 1_000


def runner_name() -> str:
    """A name no other runner has: ``host:pid:random`` (at most 64 characters)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def queue_notifications(
    store: Store,
    events: Iterable[AlarmEvent],
    notifiers: Sequence[Notifier],
    *,
    now_us: int | None = None,
) -> int:
    """Keep one outbox message per event and notifier that sends it (one statement).

    An event kept before (same :func:`~shuian.notify.dedupe_key`) is not kept again. Returns
    how many messages are new; they are due at once.
    """
    messages = [m for event in events for m in outbox_messages(event, notifiers)]
    return store.enqueue_outbox(messages, now_us=_now_us() if now_us is None else now_us)


def outbox_messages(event: AlarmEvent, notifiers: Sequence[Notifier]) -> list[OutboxMessage]:
    """The messages ``event`` calls for: one per notifier that sends it.

    Each is keyed by the event's :func:`~shuian.notify.dedupe_key`.
    """
    return [
        OutboxMessage(dedupe_key(event), name, dataclasses.asdict(event))
        for name in addressed(event, notifiers)
    ]


def site_notifiers(store: Store) -> NotifierSource:
    """The notifiers each site's file describes, read when asked.

    A changed site file counts from the next pass on.
    """

    def notifiers(code: str) -> Sequence[Notifier]:
        site = store.site(code).site
        if site.notifications is None:
            return []
        return build_notifiers(site.notifications, site.reservoir.timezone)

    return notifiers


def deliver_due(
    store: Store,
    *,
    runner: str | None = None,
    policy: RetryPolicy | None = None,
    batch: int = 20,
    lease_s: float = 120.0,
    notifiers: NotifierSource | None = None,
    clock: Callable[[], int] = _now_us,
    stop: threading.Event | None = None,
) -> list[Delivery]:
    """Send the outbox's due messages once: one pass (see the module docstring).

    Parameters
    ----------
    store : Store
        Where the outbox is.
    runner : str, optional
        This runner's name, unique among runners (default: a new :func:`runner_name`).
    policy : RetryPolicy, optional
        When a failed message is tried again, and when given up; default ``RetryPolicy()``.
    batch : int
        Messages claimed by this pass, at most.
    lease_s : float
        Seconds a claim holds, renewed before each send; longer than any one send can take.
    notifiers : callable, optional
        Site code to its notifiers; default :func:`site_notifiers` (the site files).
    clock : callable
        Now in µs since 1970-01-01 UTC.
    stop : threading.Event, optional
        When set, the pass ends before its next send and lets go of the rest at once.

    Returns
    -------
    list of Delivery
        One per message claimed and not lost to another runner, in the order they were tried.
    """
    return _deliver(store, runner=runner or runner_name(), policy=policy or RetryPolicy(),
                    batch=batch, lease_s=lease_s, resolve=notifiers or site_notifiers(store),
                    clock=clock, stop=stop, down={})


def _deliver(
    store: Store,
    *,
    runner: str,
    policy: RetryPolicy,
    batch: int,
    lease_s: float,
    resolve: NotifierSource,
    clock: Callable[[], int],
    stop: threading.Event | None,
    down: dict[tuple[str, str], int],
) -> list[Delivery]:
    """One pass of :func:`deliver_due`.

    ``down`` holds the (site, notifier) pairs that failed, with their next try; the pass adds
    its own failures to it, so that passes may share it.
    """
    lease_us = int(lease_s * _US_PER_S)
    entries = store.claim_outbox(runner, now_us=clock(), lease_us=lease_us, limit=batch)
    sites: dict[str, dict[str, Notifier] | str] = {}
    postponed: dict[int, list[int]] = {}
    results: list[Delivery] = []
    for i, entry in enumerate(entries):
        if stop is not None and stop.is_set():
            store.postpone_outbox([e.id for e in entries[i:]], runner, next_try_us=clock())
            break
        site = str(entry.event.get("site"))
        if (site, entry.notifier) in down:
            next_try_us = down[(site, entry.notifier)]
            postponed.setdefault(next_try_us, []).append(entry.id)
            results.append(Delivery(entry.key, entry.notifier, "postponed",
                                    next_try_us=next_try_us))
            continue
        if site not in sites:
            sites[site] = _notifiers_of(resolve, site)
        found = _attempt(store, entry, runner, sites[site], policy, clock, lease_us)
        if found is None:
            continue  # another runner holds it now
        results.append(found)
        if found.next_try_us is not None:  # its other messages wait for the same back-off
            down[(site, entry.notifier)] = found.next_try_us
    for next_try_us, ids in postponed.items():
        store.postpone_outbox(ids, runner, next_try_us=next_try_us)
    return results


def deliver_pending(
    store: Store,
    *,
    runner: str | None = None,
    policy: RetryPolicy | None = None,
    batch: int = 20,
    lease_s: float = 120.0,
    notifiers: NotifierSource | None = None,
    clock: Callable[[], int] = _now_us,
    max_passes: int = 50,
    stop: threading.Event | None = None,
) -> list[Delivery]:
    """Passes of :func:`deliver_due` until none is left due: a command's end, the worker's job.

    The worker's ``deliver_notifications`` job (:mod:`shuian.services.worker`) runs it. A
    notifier that fails is not tried again by the later passes (its messages wait for its
    back-off), so a dead one costs one timeout. ``max_passes`` bounds the passes; ``stop``, when
    set, ends them before the next send; the other parameters are :func:`deliver_due`'s.
    """
    runner = runner or runner_name()
    policy = policy or RetryPolicy()
    resolve = notifiers or site_notifiers(store)
    down: dict[tuple[str, str], int] = {}
    done: list[Delivery] = []
    for _ in range(max_passes):
        found = _deliver(store, runner=runner, policy=policy, batch=batch, lease_s=lease_s,
                         resolve=resolve, clock=clock, stop=stop, down=down)
        done += found
        if len(found) < batch or (stop is not None and stop.is_set()):
            break
    return done


def _notifiers_of(resolve: NotifierSource, site: str) -> dict[str, Notifier] | str:
    """The site's notifiers by name, or why they cannot be had (a password variable not set)."""
    try:
        found = list(resolve(site))
        distinct_names(found)
    except (ShuianError, ValueError) as exc:
        return f"the notifiers of site {site!r} cannot be built: {reason_of(exc)}"
    return {n.name: n for n in found}


def _attempt(
    store: Store,
    entry: OutboxEntry,
    runner: str,
    notifiers: dict[str, Notifier] | str,
    policy: RetryPolicy,
    clock: Callable[[], int],
    lease_us: int,
) -> Delivery | None:
    """Try one message once and keep the result; None when the runner lost it to another."""
    attempt = entry.attempts + 1
    give_up = False
    try:
        event = AlarmEvent(**entry.event)
    except TypeError as exc:
        error: str | None = f"the stored message cannot be read: {reason_of(exc)}"
        give_up = True
    else:
        if isinstance(notifiers, str):
            error = notifiers
        elif entry.notifier not in notifiers:
            error = (f"notifier {entry.notifier!r} is no longer among the notifications of "
                     f"site {event.site!r}")
            give_up = True
        else:
            if not store.hold_outbox(entry.id, runner, now_us=clock(), lease_us=lease_us):
                return None
            error = send_once(notifiers[entry.notifier], event)
    now = clock()
    next_try = None if give_up or error is None else policy.next_try_us(attempt, now_us=now)
    store.finish_outbox(entry, runner, error=error, time_us=now, next_try_us=next_try)
    if error is None:
        return Delivery(entry.key, entry.notifier, "sent", attempt)
    if next_try is None:
        logger.warning("notification %s by %s given up after attempt %d: %s",
                       entry.key, entry.notifier, attempt, error)
        return Delivery(entry.key, entry.notifier, "gave_up", attempt, error)
    logger.warning("notification %s by %s failed (attempt %d), tried again in %.0f s: %s",
                   entry.key, entry.notifier, attempt, (next_try - now) / _US_PER_S, error)
    return Delivery(entry.key, entry.notifier, "failed", attempt, error, next_try)
