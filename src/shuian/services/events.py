"""Live events: what changed in the store, pushed to every connected display.

:class:`ChangeWatcher` polls the store (one query per site for the newest reading of every
channel, one for new alarm steps) and turns differences into events, whichever way the readings
came in (HTTP, a file ingested by the CLI in another process, telemetry). :class:`EventHub` fans
the events out to every subscriber (one queue per server-sent-event connection).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shuian.errors import ShuianError
from shuian.store import Store
from shuian.times import iso_utc

logger = logging.getLogger(__name__)

#: Seconds between two looks at the store.
POLL_S = 0.5
#: Events a slow subscriber may fall behind by before the oldest are dropped.
QUEUE_SIZE = 10_000


@dataclass(frozen=True)
class Event:
    """One thing that changed: a new reading of a channel, or an alarm step."""

    kind: str  # reading | alarm
    site: str
    data: dict[str, Any]


@dataclass(eq=False)  # each subscription is its own (hashable by identity)
class Subscription:
    """A subscriber's queue of events, for one site or all of them (``site`` None)."""

    site: str | None
    queue: asyncio.Queue[Event] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))


class EventHub:
    """Delivers every published event to every subscriber of its site (in the event loop)."""

    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()

    def subscribe(self, site: str | None) -> Subscription:
        """A new subscription; call :meth:`unsubscribe` when the connection closes."""
        subscription = Subscription(site)
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Forget a subscription."""
        self._subscriptions.discard(subscription)

    @property
    def subscribers(self) -> int:
        """How many subscriptions are open."""
        return len(self._subscriptions)

    def publish(self, events: list[Event]) -> None:
        """Queue events for their subscribers; a full queue drops its oldest event."""
        for subscription in list(self._subscriptions):
            for event in events:
                if subscription.site is not None and subscription.site != event.site:
                    continue
                if subscription.queue.full():
                    subscription.queue.get_nowait()
                subscription.queue.put_nowait(event)


class ChangeWatcher:
    """Finds what changed in the store since the last look."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._latest: dict[tuple[str, str], tuple[int, float]] = {}
        self._last_step = store.last_alarm_step_id()
        self._primed = False

    def poll(self) -> list[Event]:
        """New readings (the newest per channel) and new alarm steps since the last call.

        The first call only takes note of the store as it is.
        """
        events: list[Event] = []
        for code in self.store.sites():
            stored = self.store.site(code)
            rows = self.store.latest(stored.id)
            changed = [
                (channel, time_us, value)
                for channel, time_us, value in rows
                if self._latest.get((code, channel)) != (time_us, value)
            ]
            self._latest.update({(code, ch): (t, v) for ch, t, v in changed})
            if changed and self._primed:
                times = iso_utc(times_us=np.array([t for _, t, _ in changed], dtype=np.int64))
                events += [
                    Event("reading", code, {"site": code, "channel": ch, "time": when,
                                            "value": value})
                    for (ch, _, value), when in zip(changed, times, strict=True)
                ]
        steps = self.store.alarm_steps_since(self._last_step)
        if steps:
            self._last_step = int(steps[-1]["step_id"])
            times = iso_utc(times_us=np.array([s["time_us"] for s in steps], dtype=np.int64))
            events += [
                Event("alarm", str(s["site"]), {**s, "time": when})
                for s, when in zip(steps, times, strict=True)
            ]
        self._primed = True
        return events


async def pause(stop: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds`` or until ``stop`` is set; whether it was set."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True


async def watch(
    store: Store, hub: EventHub, *, stop: asyncio.Event, every_s: float = POLL_S
) -> None:
    """Poll the store for changes (in a worker thread) and publish them until ``stop`` is set."""
    watcher: ChangeWatcher | None = None
    while not stop.is_set():
        try:
            if watcher is None:
                watcher = await asyncio.to_thread(ChangeWatcher, store)
            if hub.subscribers:
                hub.publish(await asyncio.to_thread(watcher.poll))
            else:
                await asyncio.to_thread(watcher.poll)  # keep the snapshot current
        except ShuianError:
            pass  # no site yet, or the database is away: look again next time
        except Exception:  # a live display must not stop for good: say why, look again
            logger.exception("the live-event watcher failed; trying again")
        await pause(stop, every_s)
