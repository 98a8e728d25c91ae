"""Storage of analysis results.

Flags (with their history), model versions, alarms (with their lifecycle), how far each channel
has been judged, and the notifications' outbox and delivery log.

Plain SQLAlchemy Core shared by both backends; every bulk write is one statement.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import sqlalchemy.dialects.postgresql
import sqlalchemy.dialects.sqlite

from shuian.errors import InvalidRequestError, NotFoundError
from shuian.i18n import Message
from shuian.store import schema

SYSTEM_ACTOR = "shuian"
#: Messages kept per INSERT statement (12 values each, well inside SQLite's 32,766).
_OUTBOX_ROWS_PER_STATEMENT = 500


@dataclass(frozen=True)
class FlagRow:
    """A flag on one reading; a :class:`~shuian.i18n.Message` detail keeps its key too."""

    channel_id: int
    time_us: int
    kind: str
    detail: str | Message


@dataclass(frozen=True)
class StoredFlag:
    """A flag as kept in the store."""

    id: int
    channel_id: int
    time_us: int
    kind: str
    detail: str
    source: str
    active: bool
    set_by: str
    set_at: dt.datetime
    #: The detail's catalogue key and parameters (None: a manual comment, or an older row).
    detail_key: str | None = None
    detail_params: dict[str, Any] | None = None


@dataclass(frozen=True)
class StoredModel:
    """A fitted model version."""

    id: int
    channel_id: int
    version: int
    kind: str
    r2: float
    sigma: float
    n: int
    window_start_us: int
    window_end_us: int
    fitted_at: dt.datetime
    fit: dict[str, Any]


@dataclass(frozen=True)
class StoredAlarm:
    """An alarm and where it stands in its lifecycle."""

    id: int
    channel_id: int
    rule: str
    level: str
    peak_level: str
    state: str
    raised_us: int
    last_us: int
    cleared_us: int | None
    value: float | None
    message: str
    acknowledged_by: str | None
    acknowledged_at: dt.datetime | None
    acknowledge_comment: str | None
    #: The message's catalogue key and parameters (None: an alarm kept before the catalogue).
    message_key: str | None = None
    message_params: dict[str, Any] | None = None


@dataclass(frozen=True)
class OutboxMessage:
    """A message to send: one alarm event through one notifier.

    ``event`` holds the :class:`~shuian.notify.AlarmEvent`'s fields (JSON-able); ``key`` is its
    dedupe key. The outbox keeps a message once per key and notifier.
    """

    key: str
    notifier: str
    event: dict[str, Any]


@dataclass(frozen=True)
class OutboxEntry:
    """A message of the outbox and where its delivery stands (times in µs since 1970 UTC).

    ``state`` is ``pending`` (to send at ``next_try_us``), ``sent`` or ``gave_up`` (``last_error``
    says why); ``claimed_by`` is the runner holding it until ``lease_until_us``, or the last that
    tried it.
    """

    id: int
    key: str
    notifier: str
    event: dict[str, Any]
    state: str
    attempts: int
    next_try_us: int
    claimed_by: str | None
    lease_until_us: int | None
    last_error: str | None
    created_us: int
    done_us: int | None


@dataclass(frozen=True)
class AlarmEventRow:
    """One step of an alarm's history."""

    id: int
    alarm_id: int
    kind: str
    level: str
    time_us: int
    value: float | None
    message: str
    actor: str | None
    at: dt.datetime
    #: The message's catalogue key and parameters (None: a comment, or an older row).
    message_key: str | None = None
    message_params: dict[str, Any] | None = None


class AnalysisTables:
    """The analysis part of :class:`~shuian.store.Store` (mixed into it)."""

    engine: sa.Engine
    _translate: Callable[[], AbstractContextManager[None]]  # Store's: driver errors translated

    def _insert(self, table: sa.Table) -> Any:
        if self.engine.dialect.name == "postgresql":
            return sa.dialects.postgresql.insert(table)
        return sa.dialects.sqlite.insert(table)

    # -- flags ----------------------------------------------------------------------------

    def write_flags(self, rows: Sequence[FlagRow], *, actor: str = "check") -> int:
        """Keep computed flags (one statement); a flag already kept is left as it is."""
        if not rows:
            return 0
        now = dt.datetime.now(dt.UTC)
        values = [
            {"channel_id": r.channel_id, "time_us": r.time_us, "kind": r.kind,
             "source": "check", "active": True, "set_by": actor, "set_at": now,
             **message_columns("detail", r.detail)}
            for r in rows
        ]
        statement = self._insert(schema.flags).on_conflict_do_nothing()
        with self._translate(), self.engine.begin() as conn:
            result = conn.execute(statement, values)
        return int(result.rowcount or 0)

    def set_flag(
        self, *, channel_id: int, time_us: int, kind: str, actor: str, comment: str
    ) -> int:
        """Set (or set again) a manual flag on a reading; the change is kept with who and why."""
        now = dt.datetime.now(dt.UTC)
        f = schema.flags
        with self._translate(), self.engine.begin() as conn:
            flag_id = conn.scalar(
                sa.select(f.c.id).where(
                    f.c.channel_id == channel_id, f.c.time_us == time_us, f.c.kind == kind
                )
            )
            if flag_id is None:
                flag_id = conn.execute(
                    f.insert().values(channel_id=channel_id, time_us=time_us, kind=kind,
                                      detail=comment, source="manual", active=True,
                                      set_by=actor, set_at=now)
                ).inserted_primary_key[0]  # type: ignore[index]
            else:
                conn.execute(f.update().where(f.c.id == flag_id).values(active=True))
            conn.execute(schema.flag_events.insert().values(
                flag_id=flag_id, action="set", actor=actor, comment=comment, at=now))
        return int(flag_id)

    def clear_flag(self, flag_id: int, *, actor: str, comment: str) -> None:
        """Clear a flag (it stays in the history with who cleared it and why)."""
        f = schema.flags
        with self._translate(), self.engine.begin() as conn:
            updated = conn.execute(f.update().where(f.c.id == flag_id).values(active=False))
            if not updated.rowcount:
                raise NotFoundError(Message.of("error.no_flag", id=flag_id))
            conn.execute(schema.flag_events.insert().values(
                flag_id=flag_id, action="cleared", actor=actor, comment=comment,
                at=dt.datetime.now(dt.UTC)))

    def flags(
        self,
        channel_ids: Iterable[int],
        *,
        start_us: int | None = None,
        end_us: int | None = None,
        active_only: bool = True,
    ) -> list[StoredFlag]:
        """Flags of some channels, by channel and time (one query)."""
        f = schema.flags
        query = sa.select(
            f.c.id, f.c.channel_id, f.c.time_us, f.c.kind, f.c.detail, f.c.source, f.c.active,
            f.c.set_by, f.c.set_at, f.c.detail_key, f.c.detail_params,
        ).where(f.c.channel_id.in_(list(channel_ids)))
        if start_us is not None:
            query = query.where(f.c.time_us >= start_us)
        if end_us is not None:
            query = query.where(f.c.time_us < end_us)
        if active_only:
            query = query.where(f.c.active.is_(True))
        with self._translate(), self.engine.connect() as conn:
            rows = conn.execute(query.order_by(f.c.channel_id, f.c.time_us)).all()
        return [StoredFlag(*row) for row in rows]

    def flag_history(self, flag_id: int) -> list[dict[str, Any]]:
        """Who set and cleared a flag, when and why."""
        e = schema.flag_events
        with self._translate(), self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(e.c.action, e.c.actor, e.c.comment, e.c.at)
                .where(e.c.flag_id == flag_id).order_by(e.c.id)
            ).mappings().all()
        return [dict(row) for row in rows]

    # -- models ---------------------------------------------------------------------------

    def save_models(self, fits: Sequence[dict[str, Any]]) -> None:
        """Store new model versions; the version number counts up per channel.

        Each dict has channel_id, kind, r2, sigma, n, window_start_us, window_end_us and fit.
        """
        if not fits:
            return
        m = schema.models
        now = dt.datetime.now(dt.UTC)
        with self._translate(), self.engine.begin() as conn:
            latest = dict(
                conn.execute(
                    sa.select(m.c.channel_id, sa.func.max(m.c.version))
                    .where(m.c.channel_id.in_([f["channel_id"] for f in fits]))
                    .group_by(m.c.channel_id)
                ).all()
            )
            conn.execute(
                m.insert(),
                [{**f, "version": latest.get(f["channel_id"], 0) + 1, "fitted_at": now}
                 for f in fits],
            )

    def current_models(self, channel_ids: Iterable[int]) -> dict[int, StoredModel]:
        """The newest model version of each channel that has one (one query)."""
        m = schema.models
        newest = (
            sa.select(m.c.channel_id, sa.func.max(m.c.version).label("version"))
            .where(m.c.channel_id.in_(list(channel_ids)))
            .group_by(m.c.channel_id)
            .subquery()
        )
        query = sa.select(*m.c).join(
            newest, (m.c.channel_id == newest.c.channel_id) & (m.c.version == newest.c.version)
        )
        with self._translate(), self.engine.connect() as conn:
            return {row.channel_id: StoredModel(*row) for row in conn.execute(query)}

    def model_versions(self, channel_id: int) -> list[StoredModel]:
        """Every fitted version of a channel's model, newest first."""
        m = schema.models
        with self._translate(), self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(*m.c).where(m.c.channel_id == channel_id).order_by(m.c.version.desc())
            ).all()
        return [StoredModel(*row) for row in rows]

    # -- evaluation marks ---------------------------------------------------------------

    def evaluated_until(self, channel_ids: Iterable[int]) -> dict[int, int]:
        """How far (µs) each channel's readings have been judged by the alarm rules."""
        e = schema.evaluated
        with self._translate(), self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(e.c.channel_id, e.c.until_us).where(e.c.channel_id.in_(list(channel_ids)))
            ).all()
        return {int(c): int(u) for c, u in rows}

    def mark_evaluated(self, marks: dict[int, int]) -> None:
        """Record how far each channel has been judged (one statement)."""
        if not marks:
            return
        statement = self._insert(schema.evaluated)
        statement = statement.on_conflict_do_update(
            index_elements=["channel_id"], set_={"until_us": statement.excluded.until_us}
        )
        with self._translate(), self.engine.begin() as conn:
            conn.execute(statement, [{"channel_id": c, "until_us": u} for c, u in marks.items()])

    # -- alarms -----------------------------------------------------------------------------

    def open_alarms(self, channel_ids: Iterable[int] | None = None) -> list[StoredAlarm]:
        """Alarms not cleared yet (of some channels, or all)."""
        a = schema.alarms
        query = sa.select(*a.c).where(a.c.state != "cleared")
        if channel_ids is not None:
            query = query.where(a.c.channel_id.in_(list(channel_ids)))
        with self._translate(), self.engine.connect() as conn:
            return [StoredAlarm(*row) for row in conn.execute(query.order_by(a.c.id))]

    def alarms(
        self,
        *,
        channel_ids: Iterable[int],
        state: str | None = None,
        limit: int = 200,
        worst_first: bool = False,
    ) -> list[StoredAlarm]:
        """Alarms of some channels, newest first (``worst_first``: by level, then newest).

        ``state`` (open, raised, acknowledged or cleared) filters them.
        """
        a = schema.alarms
        query = sa.select(*a.c).where(a.c.channel_id.in_(list(channel_ids)))
        if state == "open":
            query = query.where(a.c.state != "cleared")
        elif state is not None:
            query = query.where(a.c.state == state)
        order = [a.c.raised_us.desc(), a.c.id.desc()]
        if worst_first:
            severity = sa.case({"alarm": 3, "warning": 2, "attention": 1}, value=a.c.level,
                               else_=0)
            order.insert(0, severity.desc())
        with self._translate(), self.engine.connect() as conn:
            rows = conn.execute(query.order_by(*order).limit(limit))
            return [StoredAlarm(*row) for row in rows]

    def alarm(self, alarm_id: int) -> StoredAlarm:
        """One alarm by id."""
        a = schema.alarms
        with self._translate(), self.engine.connect() as conn:
            row = conn.execute(sa.select(*a.c).where(a.c.id == alarm_id)).first()
        if row is None:
            raise NotFoundError(Message.of("error.no_alarm", id=alarm_id))
        return StoredAlarm(*row)

    def alarm_history(self, alarm_id: int) -> list[AlarmEventRow]:
        """Every step of an alarm's lifecycle, oldest first."""
        e = schema.alarm_events
        with self._translate(), self.engine.connect() as conn:
            rows = conn.execute(sa.select(*e.c).where(e.c.alarm_id == alarm_id).order_by(e.c.id))
            return [AlarmEventRow(*row) for row in rows]

    def record_alarm_step(
        self,
        *,
        channel_id: int,
        rule: str,
        kind: str,
        level: str,
        time_us: int,
        value: float | None,
        message: str | Message,
        actor: str = SYSTEM_ACTOR,
        outbox: Callable[[int], Sequence[OutboxMessage]] | None = None,
    ) -> int:
        """Apply one lifecycle step (raised, escalated, deescalated, cleared) and keep it.

        ``raised`` opens a new alarm (one open alarm per channel and rule); the other steps
        change the open one. An escalation asks for a new acknowledgement. ``outbox(alarm_id)``
        gives the messages the step sends, kept in the outbox in the same transaction as the
        step (so a step is never kept without its messages). A :class:`~shuian.i18n.Message`
        is kept as its English text and its key and parameters. Returns the alarm id.
        """
        a, e = schema.alarms, schema.alarm_events
        text = message_columns("message", message)
        now = dt.datetime.now(dt.UTC)
        with self._translate(), self.engine.begin() as conn:
            open_id = conn.scalar(
                sa.select(a.c.id).where(
                    a.c.channel_id == channel_id, a.c.rule == rule, a.c.state != "cleared"
                )
            )
            if kind == "raised" and open_id is None:
                alarm_id = conn.execute(
                    a.insert().values(
                        channel_id=channel_id, rule=rule, level=level, peak_level=level,
                        state="raised", raised_us=time_us, last_us=time_us, value=value, **text,
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
            elif open_id is None:
                return 0  # nothing open to change (already cleared)
            else:
                alarm_id = open_id
                # The alarm keeps the reason of its worst step; every step is in its events.
                changes: dict[str, Any] = {"last_us": time_us}
                if kind == "cleared":
                    changes |= {"state": "cleared", "cleared_us": time_us}
                else:
                    changes["level"] = level
                if kind == "escalated":  # worse again: a new reason, and a new acknowledgement
                    changes |= {"value": value, "state": "raised", **text}
                    peak = conn.scalar(sa.select(a.c.peak_level).where(a.c.id == alarm_id))
                    if _rank(level) > _rank(str(peak)):
                        changes["peak_level"] = level
                conn.execute(a.update().where(a.c.id == alarm_id).values(changes))
            conn.execute(e.insert().values(alarm_id=alarm_id, kind=kind, level=level,
                                           time_us=time_us, value=value, actor=actor, at=now,
                                           **text))
            if outbox is not None:
                now_us = int(now.timestamp() * 1_000_000)
                self._enqueue_outbox(conn, outbox(int(alarm_id)), now_us=now_us)
        return int(alarm_id)

    def acknowledge_alarm(self, alarm_id: int, *, actor: str, comment: str) -> StoredAlarm:
        """Acknowledge an open alarm: who, when and a comment are kept."""
        alarm = self.alarm(alarm_id)
        if alarm.state == "cleared":
            raise InvalidRequestError(Message.of("error.alarm_cleared", id=alarm_id))
        a, e = schema.alarms, schema.alarm_events
        now = dt.datetime.now(dt.UTC)
        with self._translate(), self.engine.begin() as conn:
            conn.execute(a.update().where(a.c.id == alarm_id).values(
                state="acknowledged", acknowledged_by=actor, acknowledged_at=now,
                acknowledge_comment=comment))
            conn.execute(e.insert().values(
                alarm_id=alarm_id, kind="acknowledged", level=alarm.level,
                time_us=int(now.timestamp() * 1_000_000), value=alarm.value,
                message=comment, actor=actor, at=now))
        return self.alarm(alarm_id)

    def alarm_steps_since(self, after_id: int, *, limit: int = 1000) -> list[dict[str, Any]]:
        """Alarm lifecycle steps after ``after_id``, oldest first (one query).

        Each with its alarm, channel and site: what a live display shows as it happens.
        """
        e, a, c, s = schema.alarm_events, schema.alarms, schema.channels, schema.sites
        query = (
            sa.select(
                e.c.id.label("step_id"), e.c.kind, e.c.level.label("step_level"), e.c.time_us,
                e.c.actor, a.c.id.label("alarm_id"), a.c.rule, a.c.level, a.c.peak_level,
                a.c.state, a.c.value, a.c.message, a.c.message_key, a.c.message_params,
                c.c.code.label("channel"),
                s.c.code.label("site"),
            )
            .join(a, a.c.id == e.c.alarm_id)
            .join(c, c.c.id == a.c.channel_id)
            .join(s, s.c.id == c.c.site_id)
            .where(e.c.id > after_id)
            .order_by(e.c.id)
            .limit(limit)
        )
        with self._translate(), self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

    def last_alarm_step_id(self) -> int:
        """The id of the newest alarm lifecycle step (0 when none)."""
        with self._translate(), self.engine.connect() as conn:
            return int(conn.scalar(sa.select(sa.func.max(schema.alarm_events.c.id))) or 0)

    # -- notifications: the outbox and the deliveries log ------------------------------------

    def enqueue_outbox(self, messages: Sequence[OutboxMessage], *, now_us: int) -> int:
        """Keep messages to send, due at once; return how many are new.

        A message already kept (same key and notifier) is not kept again. One statement per
        500 messages.
        """
        if not messages:
            return 0
        with self._translate(), self.engine.begin() as conn:
            return self._enqueue_outbox(conn, messages, now_us=now_us)

    def _enqueue_outbox(
        self, conn: sa.Connection, messages: Sequence[OutboxMessage], *, now_us: int
    ) -> int:
        """:meth:`enqueue_outbox` inside a transaction already open on ``conn``."""
        rows = [
            {"key": m.key, "notifier": m.notifier, "event": m.event, "state": "pending",
             "attempts": 0, "next_try_us": now_us, "created_us": now_us}
            for m in messages
        ]
        new = 0
        for first in range(0, len(rows), _OUTBOX_ROWS_PER_STATEMENT):
            part = rows[first:first + _OUTBOX_ROWS_PER_STATEMENT]
            statement = (
                self._insert(schema.outbox).values(part)
                .on_conflict_do_nothing(index_elements=["key", "notifier"])
                .returning(schema.outbox.c.id)
            )
            new += len(conn.execute(statement).all())
        return new

    def claim_outbox(
        self, runner: str, *, now_us: int, lease_us: int, limit: int
    ) -> list[OutboxEntry]:
        """Claim up to ``limit`` due messages for ``runner`` until ``now_us + lease_us``.

        Due: pending, its next try reached, held by no one (or its holder's lease is over: the
        holder died). One atomic statement, so two runners never claim the same message; on
        PostgreSQL a runner skips the rows another is claiming (``FOR UPDATE SKIP LOCKED``).
        Oldest due first. A store with nothing due is only read (no write lock on SQLite).
        """
        o = schema.outbox
        due = (
            (o.c.state == "pending")
            & (o.c.next_try_us <= now_us)
            & (o.c.lease_until_us.is_(None) | (o.c.lease_until_us < now_us))
        )
        pick = sa.select(o.c.id).where(due).order_by(o.c.next_try_us, o.c.id).limit(limit)
        with self._translate():
            with self._translate(), self.engine.connect() as conn:
                if conn.scalar(pick.limit(1)) is None:
                    return []
            if self.engine.dialect.name == "postgresql":
                # Picked once (a materialised CTE): as a plain IN subquery the planner may scan
                # it again for every row, each scan locking LIMIT more rows.
                picked = pick.with_for_update(skip_locked=True).cte("picked")
                pick = sa.select(picked.prefix_with("MATERIALIZED").c.id)
            claim = (
                sa.update(o)
                .where(o.c.id.in_(pick), due)
                .values(claimed_by=runner, lease_until_us=now_us + lease_us)
                .returning(*o.c)
            )
            with self._translate(), self.engine.begin() as conn:
                rows = conn.execute(claim).all()
        return sorted((OutboxEntry(*row) for row in rows), key=lambda e: (e.next_try_us, e.id))

    def hold_outbox(self, entry_id: int, runner: str, *, now_us: int, lease_us: int) -> bool:
        """Renew ``runner``'s lease on a message it is about to send (to ``now_us + lease_us``).

        False when the runner no longer holds it (its lease ran out: another may have it now);
        then it must not be sent.
        """
        o = schema.outbox
        with self._translate(), self.engine.begin() as conn:
            held = conn.execute(
                sa.update(o)
                .where(o.c.id == entry_id, o.c.claimed_by == runner, o.c.state == "pending",
                       o.c.lease_until_us >= now_us)
                .values(lease_until_us=now_us + lease_us)
            )
        return bool(held.rowcount)

    def finish_outbox(
        self,
        entry: OutboxEntry,
        runner: str,
        *,
        error: str | None,
        time_us: int,
        next_try_us: int | None,
    ) -> bool:
        """Keep the result of one attempt to send ``entry``, and log the attempt.

        Sent when ``error`` is None; else tried again at ``next_try_us``, or given up (the
        error kept as its reason) when that is None. The attempt goes to the deliveries log in
        the same transaction. False when ``runner`` no longer held the message (the outbox row
        is then left to its new holder; the attempt is logged all the same).
        """
        o = schema.outbox
        attempt = entry.attempts + 1
        changes: dict[str, Any] = {"attempts": attempt, "lease_until_us": None,
                                   "last_error": error}
        if error is None:
            changes |= {"state": "sent", "done_us": time_us}
        elif next_try_us is None:
            changes |= {"state": "gave_up", "done_us": time_us}
        else:
            changes["next_try_us"] = next_try_us
        with self._translate(), self.engine.begin() as conn:
            updated = conn.execute(
                sa.update(o)
                .where(o.c.id == entry.id, o.c.claimed_by == runner, o.c.state == "pending")
                .values(changes)
            )
            conn.execute(schema.deliveries.insert().values(
                key=entry.key, notifier=entry.notifier, attempt=attempt, ok=error is None,
                error=error, time_us=time_us))
        return bool(updated.rowcount)

    def postpone_outbox(self, entry_ids: Sequence[int], runner: str, *, next_try_us: int) -> None:
        """Let go of messages ``runner`` holds without trying them: due again at ``next_try_us``."""
        if not entry_ids:
            return
        o = schema.outbox
        with self._translate(), self.engine.begin() as conn:
            conn.execute(
                sa.update(o)
                .where(o.c.id.in_(list(entry_ids)), o.c.claimed_by == runner,
                       o.c.state == "pending")
                .values(lease_until_us=None, next_try_us=next_try_us)
            )

    def outbox(self, *, state: str | None = None, limit: int = 200) -> list[OutboxEntry]:
        """Messages of the outbox, newest first; ``state`` (pending, sent, gave_up) filters them."""
        o = schema.outbox
        query = sa.select(*o.c)
        if state is not None:
            query = query.where(o.c.state == state)
        with self._translate(), self.engine.connect() as conn:
            rows = conn.execute(query.order_by(o.c.id.desc()).limit(limit)).all()
        return [OutboxEntry(*row) for row in rows]

    def delivered(self, key: str, notifier: str) -> bool:
        """Whether a message with this key went out through this notifier successfully."""
        d = schema.deliveries
        with self._translate(), self.engine.connect() as conn:
            found = conn.scalar(
                sa.select(sa.func.count()).select_from(d).where(
                    d.c.key == key, d.c.notifier == notifier, d.c.ok.is_(True))
            )
        return bool(found)

    def delivery_log(self, *, limit: int = 200) -> list[dict[str, Any]]:
        """Delivery attempts, newest first."""
        d = schema.deliveries
        with self._translate(), self.engine.connect() as conn:
            rows = conn.execute(sa.select(*d.c).order_by(d.c.id.desc()).limit(limit)).mappings()
            return [dict(row) for row in rows]


def message_columns(column: str, message: str | Message) -> dict[str, Any]:
    """The values of a text column and its ``_key`` and ``_params`` columns for a sentence.

    A plain string (a comment a person wrote, a reason with no key yet) keeps no key.
    """
    if isinstance(message, Message):
        data = message.to_json()
        return {column: str(message), f"{column}_key": data["key"],
                f"{column}_params": data["params"]}
    return {column: message, f"{column}_key": None, f"{column}_params": None}


def _rank(level: str) -> int:
    return ("normal", "attention", "warning", "alarm").index(level)
