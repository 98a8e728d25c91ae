"""Analysis use cases: fit the channels' models, and judge readings the moment they land.

:meth:`Analyzer.evaluate` is incremental: it judges only the readings after each channel's mark
(how far the alarm rules have seen it), with just enough earlier readings as context for the
checks and the persistence rules. Whatever the number of channels, it reads the store with one
query for the readings (the level and temperature channels included), one for models, one for
flags, one for open alarms and the marks, and writes flags, marks and the notifications to send
(to the outbox, never sent here) in one statement each; only alarm lifecycle steps (rare) are
written one by one.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from shuian.alarms.levels import (
    US_PER_DAY,
    Band,
    band_at,
    envelope_levels,
    level_name,
    level_number,
    rate_levels,
    threshold_levels,
    transitions,
)
from shuian.checks import check_tail, exclusion_mask
from shuian.errors import InvalidRequestError, NotFoundError
from shuian.i18n import CATALOGUE, Message, key_of_text
from shuian.models import hst
from shuian.notify import AlarmEvent, Notifier, build_notifiers
from shuian.readings import US_PER_S
from shuian.services.outbox import outbox_messages
from shuian.services.reservoir import level_jump_limit
from shuian.site import Channel
from shuian.site.analysis import Checks, ModelSpec, Thresholds
from shuian.store import ChannelInfo, Store, StoredSite
from shuian.store.analysis import FlagRow, OutboxMessage, StoredAlarm, StoredModel
from shuian.store.base import EARLIEST_US

#: Describes the reading at a position of the new readings, for an alarm's message.
Describe = Callable[[int], Message]

#: Shortest span of readings (days) over which yearly harmonics can be fitted.
MIN_SEASONAL_SPAN_DAYS = 330
#: Readings of context before the first new one (the checks' windows, the persistence rules).
CONTEXT_READINGS = 50
#: Flag kinds that keep a reading out of the rate and envelope rules and the model fits.
EXCLUDING_KINDS = ("limits", "spike", "stuck", "suspect")


@dataclass(frozen=True)
class ChannelPlan:
    """What the analysis does with one channel."""

    info: ChannelInfo
    channel: Channel
    model: ModelSpec | None
    #: The channel's checks, with the defaults the site implies (the level's jump limit).
    checks: Checks
    thresholds: Thresholds | None

    @property
    def interval_s(self) -> float | None:
        """Expected seconds between readings."""
        return self.channel.interval


@dataclass(frozen=True)
class FitOutcome:
    """The result of fitting one channel's model."""

    channel: str
    kind: str
    ok: bool
    r2: float | None = None
    sigma: float | None = None
    n: int | None = None
    error: str | None = None
    coefficients: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ChannelComponents:
    """A channel's readings, its model's prediction split into effects, and the residuals."""

    info: ChannelInfo
    stored_model: StoredModel
    model: hst.FittedModel[ModelSpec]
    times_us: NDArray[np.int64]
    values: NDArray[np.float64]
    parts: dict[str, NDArray[np.float64]]
    residual: NDArray[np.float64]


@dataclass(frozen=True)
class Explanation:
    """A channel's change between two readings, split into the model's effects (channel unit).

    ``change`` equals the sum of ``effects`` (hydrostatic, seasonal or thermal, time, other).
    """

    channel: str
    unit: str
    from_us: int
    to_us: int
    from_value: float
    to_value: float
    change: float
    effects: dict[str, float]

    def sentence(self) -> Message:
        """The change in words, e.g. "PL1.R changed +2.1 mm: +1.8 from the water level, ..."."""
        parts = [
            Message.of("explain.effect", value=v, effect=_term("effect", k))
            for k, v in self.effects.items()
        ]
        return Message.of("explain.sentence", channel=self.channel, change=self.change,
                          unit=self.unit, effects=parts)


@dataclass(frozen=True)
class AlarmStep:
    """One step of an alarm's lifecycle found by an evaluation."""

    channel: str
    rule: str
    kind: str
    level: str
    time_us: int
    value: float | None
    #: The reason, in English.
    message: str
    #: The same reason as a catalogue message, rendered in the reader's language where shown.
    sentence: Message | None = None

    @classmethod
    def of(cls, channel: str, rule: str, kind: str, level: str, time_us: int,
           value: float | None, message: Message) -> AlarmStep:
        """A step whose reason is a catalogue message (kept as English text and as itself)."""
        return cls(channel, rule, kind, level, time_us, value, str(message), message)


@dataclass
class EvaluationReport:
    """What an evaluation judged and found."""

    readings: int = 0
    flags: Counter[str] = field(default_factory=Counter)
    steps: list[AlarmStep] = field(default_factory=list)
    #: Messages kept in the outbox for raised and escalated alarms (sent later, not here).
    notifications: int = 0

    def merge(self, other: EvaluationReport) -> None:
        """Add another evaluation's findings to this one."""
        self.readings += other.readings
        self.flags.update(other.flags)
        self.steps += other.steps
        self.notifications += other.notifications

    def as_json(self) -> dict[str, Any]:
        """The report as one JSON object."""
        return {
            "readings": self.readings,
            "flags": dict(self.flags),
            "alarm_steps": dict(Counter(s.kind for s in self.steps)),
            "steps": [{k: v for k, v in vars(s).items() if k != "sentence"} for s in self.steps],
            "notifications": self.notifications,
        }


class Analyzer:
    """Fits models and evaluates readings for one site of a store."""

    def __init__(self, store: Store, stored: StoredSite) -> None:
        self.store = store
        self.stored = stored
        site = stored.site
        self.timezone = site.reservoir.timezone
        infos = {c.code: c for c in store.channels(stored.id)}
        self.plans: dict[int, ChannelPlan] = {}
        level_code = site.level_channel()
        for channel in site.channels():
            info = infos[channel.code]
            checks = channel.checks
            if channel.code == level_code and checks.jump_per_hour is None:
                checks = checks.model_copy(update={"jump_per_hour": level_jump_limit(site)})
            self.plans[info.id] = ChannelPlan(
                info, channel, site.model_of(channel), checks, site.thresholds_of(channel)
            )
        self.by_code = {p.info.code: p for p in self.plans.values()}
        self.level_id = self._level_channel()
        self.reference_us = (
            None
            if site.analysis.reference_date is None
            else int(pd.Timestamp(site.analysis.reference_date, tz="UTC").value // 1000)
        )
        self.notifiers: list[Notifier] = (
            [] if site.notifications is None
            else build_notifiers(site.notifications, self.timezone)
        )

    def _month_days(self, times_us: NDArray[np.int64]) -> NDArray[np.int64]:
        """``month * 100 + day`` of each time in the site's zone (for seasonal thresholds)."""
        local = pd.DatetimeIndex(pd.to_datetime(times_us, unit="us", utc=True)).tz_convert(
            self.timezone
        )
        return np.asarray(local.month * 100 + local.day, dtype=np.int64)

    def _level_channel(self) -> int | None:
        code = self.stored.site.level_channel()
        return None if code is None else self.by_code[code].info.id

    # -- fitting ----------------------------------------------------------------------------

    def fit(self, *, end_us: int | None = None, codes: Sequence[str] | None = None) -> list[
        FitOutcome
    ]:
        """Fit and store a new model version for every modelled channel (or ``codes``).

        Each model is fitted over its ``fit_window_days`` up to ``end_us`` (default: now),
        leaving out readings flagged as limits, spike, stuck or suspect.
        """
        plans = self._modelled(codes)
        if not plans:
            return []
        end_us = end_us if end_us is not None else _now_us()
        longest = max(p.model.fit_window_days for p in plans if p.model is not None)
        start_us = end_us - longest * US_PER_DAY
        series = self._read(plans, start_us, end_us + 1, level_days=_level_days(plans))
        excluded = self._excluded(plans, start_us, end_us + 1)
        outcomes, rows = [], []
        for plan in plans:
            spec = plan.model
            assert spec is not None
            times, values = series.get(plan.info.id, (np.empty(0, np.int64), np.empty(0)))
            keep = (times >= end_us - spec.fit_window_days * US_PER_DAY) & series.covered(
                spec, times
            )
            times, values = times[keep], values[keep].copy()
            values[np.isin(times, excluded.get(plan.info.id, []))] = np.nan
            try:
                if len(times) == 0:
                    raise InvalidRequestError("no readings in the fit window")
                span_days = (int(times[-1]) - int(times[0])) / US_PER_DAY
                if spec.kind != "htt" and spec.harmonics and span_days < MIN_SEASONAL_SPAN_DAYS:
                    raise InvalidRequestError(
                        f"{span_days:.0f} days of readings cannot separate the seasonal effect "
                        f"from the time effect: fit over at least {MIN_SEASONAL_SPAN_DAYS} days"
                    )
                reference = self._reference(times)
                model = hst.fit(spec, times, values, series.level, series.temperatures(spec),
                                reference_us=reference)
            except InvalidRequestError as exc:
                outcomes.append(FitOutcome(plan.info.code, spec.kind, False, error=exc.message))
                continue
            rows.append({
                "channel_id": plan.info.id, "kind": spec.kind, "r2": _finite(model.r2),
                "sigma": model.sigma, "n": model.n, "window_start_us": model.window[0],
                "window_end_us": model.window[1], "fit": model.to_json(_spec_json),
            })
            outcomes.append(FitOutcome(plan.info.code, spec.kind, True, model.r2, model.sigma,
                                       model.n, coefficients=model.coefficient_map))
        self.store.save_models(rows)
        return outcomes

    def _reference(self, times: NDArray[np.int64]) -> int:
        """Origin of θ: the site's reference date, else the first reading of the fit window."""
        return self.reference_us if self.reference_us is not None else int(times[0])

    def _modelled(self, codes: Sequence[str] | None) -> list[ChannelPlan]:
        if codes:
            unknown = [c for c in codes if c not in self.by_code]
            if unknown:
                raise InvalidRequestError(f"unknown channel(s) {unknown}: 'shuian channels'")
            chosen = [self.by_code[c] for c in codes]
        else:
            chosen = list(self.plans.values())
        return [p for p in chosen if p.model is not None]

    # -- evaluation ---------------------------------------------------------------------------

    def evaluate(
        self,
        *,
        channel_ids: Iterable[int] | None = None,
        now_us: int | None = None,
        notify: bool = True,
    ) -> EvaluationReport:
        """Judge every reading not judged yet: flags, thresholds, rate, model envelope, no data.

        Raises, escalates and clears alarms. When ``notify`` and the site file has
        ``notifications``, the messages raised and escalated alarms call for are kept in the
        outbox (``notifications`` in the report counts them); nothing is sent here: a delivery
        runner sends them (:mod:`shuian.services.outbox`), so a dead receiver never holds an
        evaluation, nor the ingest that runs it.
        """
        ids = [i for i in (channel_ids or self.plans) if i in self.plans]
        report = EvaluationReport()
        if not ids:
            return report
        plans = [self.plans[i] for i in ids]
        marks = self.store.evaluated_until(ids)
        first_new = min(marks.get(i, hst_earliest()) for i in ids)
        span = max((p.interval_s or 3600.0) for p in plans) * CONTEXT_READINGS * US_PER_S
        start_us = max(first_new - int(span), hst_earliest())
        series = self._read(plans, start_us, None, level_days=_level_days(plans))
        excluded = self._excluded(plans, start_us, None)
        models = {
            cid: hst.FittedModel.from_json(m.fit, ModelSpec.model_validate)
            for cid, m in self.store.current_models(ids).items()
        }
        open_alarms = {(a.channel_id, a.rule): a for a in self.store.open_alarms(ids)}
        flag_rows: list[FlagRow] = []
        new_marks: dict[int, int] = {}
        steps: list[tuple[ChannelPlan, AlarmStep]] = []
        for plan in plans:
            cid = plan.info.id
            times, values = series.get(cid, (np.empty(0, np.int64), np.empty(0)))
            new_from = int(np.searchsorted(times, marks.get(cid, hst_earliest()), side="right"))
            if new_from >= len(times):
                continue
            report.readings += len(times) - new_from
            flags = check_tail(
                times, values, new_from, checks=plan.checks,
                interval_s=plan.interval_s, limit_min=plan.info.limit_min,
                limit_max=plan.info.limit_max, unit=plan.info.unit,
            )
            flag_rows += [FlagRow(cid, int(f.time_us), str(f.kind), f.message or str(f.detail))
                          for f in flags]
            report.flags.update(str(k) for k in flags.kind)
            # Thresholds see every reading but those an engineer marked suspect: a sudden real
            # jump must not hide as a "spike". Rate and envelope leave data-check flags out.
            suspect = np.isin(times, excluded.get(cid, []))
            plain = np.where(suspect, np.nan, values)
            judged = plain.copy()
            judged[exclusion_mask(flags, len(values), EXCLUDING_KINDS)] = np.nan
            for rule, levels, describe in self._rules(
                plan, times, plain, judged, new_from, models.get(cid), series, open_alarms
            ):
                steps += self._steps(plan, rule, times[new_from:], values[new_from:], levels,
                                     describe, open_alarms.get((cid, rule)))
            steps += self._no_data_gaps(plan, times, new_from, open_alarms.get((cid, "no_data")))
            new_marks[cid] = int(times[-1])
        steps += self._no_data_now(plans, series, now_us if now_us is not None else _now_us(),
                                   open_alarms, steps)
        self.store.write_flags(flag_rows)
        for plan, step in sorted(steps, key=lambda s: s[1].time_us):
            sends = notify and self.notifiers and step.kind in ("raised", "escalated")
            self.store.record_alarm_step(
                channel_id=plan.info.id, rule=step.rule, kind=step.kind, level=step.level,
                time_us=step.time_us, value=step.value, message=step.sentence or step.message,
                outbox=self._messages(plan, step, report) if sends else None,
            )
            report.steps.append(step)
        self.store.mark_evaluated(new_marks)
        return report

    def _rules(
        self,
        plan: ChannelPlan,
        times: NDArray[np.int64],
        plain: NDArray[np.float64],
        judged: NDArray[np.float64],
        new_from: int,
        model: hst.FittedModel[ModelSpec] | None,
        series: _Series,
        open_alarms: dict[tuple[int, str], StoredAlarm],
    ) -> list[tuple[str, NDArray[np.int8], Describe]]:
        """Level series (new readings only) and how to describe a reading, per rule.

        ``plain`` holds the values without the suspect ones, ``judged`` also without those the
        data checks flagged (spike, stuck, limits).
        """
        cid, code, unit = plan.info.id, plan.info.code, plan.info.unit
        new_t, new_v = times[new_from:], judged[new_from:]
        out: list[tuple[str, NDArray[np.int8], Describe]] = []
        thresholds = plan.thresholds
        if thresholds is not None:
            initial = _open_level(open_alarms.get((cid, "threshold")))
            new_plain = plain[new_from:]
            days = self._month_days(new_t) if thresholds.seasons else None
            levels = threshold_levels(new_plain, thresholds, initial_level=initial,
                                      month_day=days)

            def describe_threshold(i: int) -> Message:
                band = band_at(thresholds, int(levels[i]), None if days is None else int(days[i]))
                message = _threshold_message(code, unit, float(new_plain[i]), band,
                                             int(levels[i]))
                if np.isfinite(new_plain[i]) and not np.isfinite(new_v[i]):
                    message = Message.of("alarm.flagged", message=message)
                return message

            out.append(("threshold", levels, describe_threshold))
            if thresholds.rate is not None:
                previous = None if new_from == 0 else (int(times[new_from - 1]),
                                                       float(judged[new_from - 1]))
                rates = rate_levels(new_t, new_v, thresholds.rate, previous=previous)
                limits = thresholds.rate

                def describe_rate(i: int) -> Message:
                    return Message.of(
                        "alarm.rate", channel=code, level=_level(int(rates[i])), unit=unit,
                        limit=_rate_limit(limits, int(rates[i])),
                    )

                out.append(("rate", rates, describe_rate))
        if model is not None and plan.model is not None:
            envelope = self._envelope(plan, times, judged, new_from, model, series, open_alarms)
            if envelope is not None:
                out.append(envelope)
        return out

    def _envelope(
        self,
        plan: ChannelPlan,
        times: NDArray[np.int64],
        judged: NDArray[np.float64],
        new_from: int,
        model: hst.FittedModel[ModelSpec],
        series: _Series,
        open_alarms: dict[tuple[int, str], StoredAlarm],
    ) -> tuple[str, NDArray[np.int8], Describe] | None:
        spec = plan.model
        assert spec is not None
        context = max(new_from - spec.persistence_for(plan.interval_s), 0)
        t = times[context:]
        covered = series.covered(model.spec, t)  # readings the level (and temperatures) reach
        if not covered.any():
            return None
        try:
            found = hst.components(model, t[covered], series.level,
                                   series.temperatures(model.spec))
        except InvalidRequestError:
            return None  # the level or a temperature has a hole here
        parts = {key: np.full(len(t), np.nan) for key in found}
        for key, part in found.items():
            parts[key][covered] = part
        residuals = judged[context:] - parts["predicted"]
        levels = envelope_levels(
            residuals, model.sigma, warning_sigma=spec.warning_sigma,
            alarm_sigma=spec.alarm_sigma, persistence=spec.persistence_for(plan.interval_s),
            initial_level=_open_level(open_alarms.get((plan.info.id, "envelope"))),
        )[new_from - context:]
        new_parts = {k: v[new_from - context:] for k, v in parts.items()}
        new_res = residuals[new_from - context:]

        def describe(i: int) -> Message:
            return _envelope_message(plan, model, float(judged[new_from + i]), float(new_res[i]),
                                     {k: float(v[i]) for k, v in new_parts.items()})

        return "envelope", levels, describe

    def _steps(
        self,
        plan: ChannelPlan,
        rule: str,
        times: NDArray[np.int64],
        values: NDArray[np.float64],
        levels: NDArray[np.int8],
        describe: Describe,
        open_alarm: StoredAlarm | None,
    ) -> list[tuple[ChannelPlan, AlarmStep]]:
        steps = []
        for change in transitions(levels, open_level=_open_level(open_alarm)):
            value = float(values[change.index])
            message = describe(change.index)
            steps.append((plan, AlarmStep.of(
                plan.info.code, rule, change.kind, level_name(change.level),
                int(times[change.index]), value if math.isfinite(value) else None,
                message if change.kind != "cleared"
                else Message.of("alarm.cleared", channel=plan.info.code),
            )))
        return steps

    def _no_data_gaps(
        self,
        plan: ChannelPlan,
        times: NDArray[np.int64],
        new_from: int,
        open_alarm: StoredAlarm | None,
    ) -> list[tuple[ChannelPlan, AlarmStep]]:
        """No-data alarms for silences between the new readings (history replay, late data)."""
        if plan.interval_s is None:
            return []
        allowed = plan.checks.no_data_factor * plan.interval_s * US_PER_S
        first = max(new_from - 1, 0)
        gaps = np.diff(times[first:])
        steps = []
        silences = np.flatnonzero(gaps > allowed)
        if open_alarm is not None:  # data came back: the open alarm was that silence
            steps.append(self._no_data_step(plan, "cleared", int(times[new_from]), None))
            if new_from > 0:
                silences = silences[silences != 0]
        for i in silences:
            start = int(times[first + i])
            steps.append(self._no_data_step(plan, "raised", start + int(allowed), start))
            steps.append(self._no_data_step(plan, "cleared", int(times[first + i + 1]), None))
        return steps

    def _no_data_now(
        self,
        plans: list[ChannelPlan],
        series: _Series,
        now_us: int,
        open_alarms: dict[tuple[int, str], StoredAlarm],
        steps: list[tuple[ChannelPlan, AlarmStep]],
    ) -> list[tuple[ChannelPlan, AlarmStep]]:
        """No-data alarms for channels silent longer than allowed at ``now``."""
        raised = []
        for plan in plans:
            if plan.interval_s is None:
                continue
            times, _ = series.get(plan.info.id, (np.empty(0, np.int64), np.empty(0)))
            if len(times) == 0:
                continue
            allowed = plan.checks.no_data_factor * plan.interval_s * US_PER_S
            last = int(times[-1])
            already = (plan.info.id, "no_data") in open_alarms and not any(
                p is plan and s.rule == "no_data" and s.kind == "cleared" for p, s in steps
            )
            if now_us - last > allowed and not already:
                raised.append(self._no_data_step(plan, "raised", last + int(allowed), last))
        return raised

    def _no_data_step(
        self, plan: ChannelPlan, kind: str, time_us: int, last_us: int | None
    ) -> tuple[ChannelPlan, AlarmStep]:
        interval_h = (plan.interval_s or 0) / 3600
        message = (
            Message.of("alarm.no_data", channel=plan.info.code, interval_h=interval_h,
                       since=_local(last_us, self.timezone))
            if last_us is not None
            else Message.of("alarm.no_data.back", channel=plan.info.code)
        )
        return plan, AlarmStep.of(plan.info.code, "no_data", kind, "warning", time_us, None,
                                  message)

    def _messages(
        self, plan: ChannelPlan, step: AlarmStep, report: EvaluationReport
    ) -> Callable[[int], list[OutboxMessage]]:
        """The outbox messages of a step, made once its alarm id is known (counted in report)."""

        def messages(alarm_id: int) -> list[OutboxMessage]:
            found = outbox_messages(self._event(alarm_id, plan, step), self.notifiers)
            report.notifications += len(found)
            return found

        return messages

    def _event(self, alarm_id: int, plan: ChannelPlan, step: AlarmStep) -> AlarmEvent:
        site = self.stored.site
        reservoir = site.reservoir
        text = {"key": None, "params": None} if step.sentence is None else step.sentence.to_json()
        return AlarmEvent(
            alarm_id=alarm_id, site=reservoir.code,
            site_name=reservoir.name_zh if site.language == "zh" else reservoir.name,
            channel=plan.info.code, instrument=plan.info.instrument,
            rule=step.rule,  # type: ignore[arg-type]
            level=step.level,  # type: ignore[arg-type]
            state=step.kind,  # type: ignore[arg-type]
            time_us=step.time_us, value=step.value, unit=plan.info.unit,
            message=step.message, synthetic=reservoir.synthetic,
            message_key=text["key"], message_params=text["params"], language=site.language,
        )

    # -- components ---------------------------------------------------------------------------

    def components(
        self, code: str, *, start_us: int | None = None, end_us: int | None = None
    ) -> ChannelComponents:
        """A channel's readings, its current model's prediction split into effects, the residuals.

        The effects are constant, hydrostatic, seasonal (thermal for HTT) and time. Readings
        before the level (or temperature) history the model needs are left NaN.
        """
        plan = self.by_code.get(code)
        if plan is None:
            raise NotFoundError(Message.of("error.no_channel", code=code))
        stored_model = self.store.current_models([plan.info.id]).get(plan.info.id)
        if stored_model is None or plan.model is None:
            raise NotFoundError(Message.of("error.no_model", code=code))
        model = hst.FittedModel.from_json(stored_model.fit, ModelSpec.model_validate)
        start = EARLIEST_US if start_us is None else start_us
        series = self._read([plan], start, end_us, level_days=_level_days([plan]))
        times, values = series.get(plan.info.id, (np.empty(0, np.int64), np.empty(0)))
        covered = series.covered(model.spec, times)
        parts: dict[str, NDArray[np.float64]] = {}
        if covered.any():
            found = hst.components(model, times[covered], series.level,
                                   series.temperatures(model.spec))
            for key, part in found.items():
                parts[key] = np.full(len(times), np.nan)
                parts[key][covered] = part
        residual = values - parts["predicted"] if parts else np.full(len(times), np.nan)
        return ChannelComponents(plan.info, stored_model, model, times, values, parts, residual)

    def explain(self, code: str, *, from_us: int, to_us: int) -> Explanation:
        """Why a channel changed between two readings: the change split into the model's effects.

        The readings nearest to ``from_us`` and ``to_us`` are compared: the change of value is
        the change of the hydrostatic, seasonal (thermal) and time effects plus the change of
        the residual ("other").
        """
        found = self.components(code, start_us=min(from_us, to_us) - 7 * US_PER_DAY,
                                end_us=max(from_us, to_us) + 7 * US_PER_DAY)
        usable = np.flatnonzero(np.isfinite(found.residual))
        if len(usable) == 0:
            raise InvalidRequestError(Message.of("error.no_modelled_readings", code=code))
        ends = []
        for target in (from_us, to_us):
            ends.append(int(usable[np.argmin(np.abs(found.times_us[usable] - target))]))
        a, b = ends
        effects = {
            name: float(part[b] - part[a])
            for name, part in found.parts.items()
            if name not in ("predicted", "constant")
        }
        effects["other"] = float(found.residual[b] - found.residual[a])
        return Explanation(
            channel=code, unit=found.info.unit,
            from_us=int(found.times_us[a]), to_us=int(found.times_us[b]),
            from_value=float(found.values[a]), to_value=float(found.values[b]),
            change=float(found.values[b] - found.values[a]), effects=effects,
        )

    # -- reading ------------------------------------------------------------------------------

    def _read(
        self, plans: list[ChannelPlan], start_us: int, end_us: int | None, *, level_days: float
    ) -> _Series:
        """Readings of the channels, the level and the HTT temperatures, in two queries.

        The channels judged here are read from ``start_us`` (their context); those that drive
        models (the level, temperatures, rainfall) as far back as the models need, even when
        they are judged too.
        """
        drivers = {self.level_id} if self.level_id is not None else set()
        for plan in plans:
            if plan.model is not None:
                drivers |= {self.by_code[c].info.id for c in _drivers(plan.model)}
        own = {p.info.id for p in plans} - drivers
        earliest = start_us - int((level_days + 2) * US_PER_DAY)
        parts: dict[int, tuple[NDArray[np.int64], NDArray[np.float64]]] = {}
        for ids, since in ((sorted(drivers), earliest), (sorted(own), start_us)):
            if not ids:
                continue
            channel, times, values = self.store.readings_many(ids, since, end_us)
            cut = np.searchsorted(channel, ids + [max(ids) + 1])
            parts |= {cid: (times[cut[k]:cut[k + 1]], values[cut[k]:cut[k + 1]])
                      for k, cid in enumerate(ids)}
        return _Series(parts, self.level_id, self.by_code)

    def _excluded(
        self, plans: list[ChannelPlan], start_us: int, end_us: int | None
    ) -> dict[int, NDArray[np.int64]]:
        """Times of stored flags that keep readings out (manual suspect flags included)."""
        flags = self.store.flags([p.info.id for p in plans], start_us=start_us, end_us=end_us)
        out: dict[int, list[int]] = {}
        for f in flags:
            if f.kind in EXCLUDING_KINDS:
                out.setdefault(f.channel_id, []).append(f.time_us)
        return {cid: np.array(t, dtype=np.int64) for cid, t in out.items()}


@dataclass
class _Series:
    """Readings of one evaluation by channel id; the level and temperatures as daily series."""

    parts: dict[int, tuple[NDArray[np.int64], NDArray[np.float64]]]
    level_id: int | None
    by_code: dict[str, ChannelPlan]

    def get(
        self, cid: int, default: tuple[NDArray[np.int64], NDArray[np.float64]]
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """The readings of one channel."""
        return self.parts.get(cid, default)

    @property
    def level(self) -> hst.DailySeries | None:
        """The reservoir level readings (interpolated in time by the model)."""
        if self.level_id is None or self.level_id not in self.parts:
            return None
        return hst.DailySeries(*self.parts[self.level_id])

    def temperatures(self, spec: ModelSpec) -> dict[str, hst.DailySeries] | None:
        """The readings of the model's driving channels: HTT temperatures, rainfall."""
        codes = _drivers(spec)
        if not codes:
            return None
        return {code: hst.DailySeries(*self.parts[self.by_code[code].info.id]) for code in codes}

    def covered(self, spec: ModelSpec, times: NDArray[np.int64]) -> NDArray[np.bool_]:
        """Readings whose time the level and temperatures reach, their history included."""
        need = int((hst.history_days(spec) + 5 * spec.level_lag_days) * US_PER_DAY)
        ok = np.ones(len(times), dtype=bool)
        drivers = [] if spec.kind == "seasonal" else [self.level_id]
        drivers += [self.by_code[c].info.id for c in _drivers(spec)]
        for cid in drivers:
            if cid is None or cid not in self.parts or len(self.parts[cid][0]) == 0:
                return np.zeros(len(times), dtype=bool)
            first, last = self.parts[cid][0][0], self.parts[cid][0][-1]
            ok &= (times >= first + need) & (times <= last + US_PER_DAY)
        return ok


def _drivers(spec: ModelSpec) -> list[str]:
    """Codes of the channels a model reads besides the level: temperatures, rainfall."""
    codes = list(spec.temperature_channels) if spec.kind == "htt" else []
    return codes + ([spec.rain_channel] if spec.rain_channel is not None else [])


def _level_days(plans: list[ChannelPlan]) -> float:
    days = 0.0
    for plan in plans:
        if plan.model is not None:
            days = max(days, hst.history_days(plan.model), 5 * plan.model.level_lag_days)
    return days


def _open_level(alarm: StoredAlarm | None) -> int:
    return 0 if alarm is None else level_number(alarm.level)


def _threshold_message(
    code: str, unit: str, value: float, band: Band | None, level: int
) -> Message:
    if level == 0:
        return Message.of("alarm.threshold.back", channel=code)
    reading = {"channel": code, "value": value, "unit": unit, "level": _level(level)}
    if band is not None:
        labelled = {} if band.label is None else {"label": _term("band", band.label)}
        suffix = "" if band.label is None else "_band"
        if band.max is not None and value > band.max:
            return Message("alarm.threshold.above" + suffix,
                           reading | labelled | {"limit": band.max})
        if band.min is not None and value < band.min:
            return Message("alarm.threshold.below" + suffix,
                           reading | labelled | {"limit": band.min})
    return Message("alarm.threshold.at", reading)


def _level(level: int) -> Message:
    """A level's name (attention, warning, alarm) as a word of the catalogue."""
    return Message.of(f"state.{level_name(level)}")


def _term(family: str, word: str) -> Message | str:
    """A word of the catalogue (``effect.time``, the band labelled "flood-limit level") or itself.

    Labels are matched by their English text (a site file's own label stays as written).
    """
    key = f"{family}.{word}" if family != "band" else key_of_text("band.", word)
    return Message.of(key) if key is not None and key in _CATALOGUE_KEYS else word


def _spec_json(spec: ModelSpec) -> dict[str, Any]:
    return spec.model_dump(mode="json")


def _rate_limit(rate: Any, level: int) -> str:
    limit = getattr(rate, level_name(level), None) if level else None
    return "-" if limit is None else f"{limit:g}"


def _envelope_message(
    plan: ChannelPlan,
    model: hst.FittedModel[ModelSpec],
    value: float,
    residual: float,
    parts: dict[str, float],
) -> Message:
    code, unit = plan.info.code, plan.info.unit
    if not math.isfinite(residual):
        return Message.of("alarm.envelope.back", channel=code)
    effects = [
        Message.of("alarm.envelope.effect", name=_term("component", name), part=part)
        for name, part in parts.items() if name not in ("predicted", "constant")
    ]
    return Message.of(
        "alarm.envelope", channel=code, value=value, unit=unit,
        sigmas=residual / model.sigma, kind=model.spec.kind.upper(),
        predicted=parts["predicted"], sigma=model.sigma, effects=effects,
    )


_CATALOGUE_KEYS = frozenset(CATALOGUE)


def _finite(value: float) -> float:
    return value if math.isfinite(value) else 0.0


def _local(time_us: int | None, timezone: str) -> str:
    if time_us is None:
        return "-"
    stamp = pd.Timestamp(time_us * 1000, tz="UTC").tz_convert(timezone)
    return f"{stamp:%Y-%m-%d %H:%M}"


def _now_us() -> int:
    return int(dt.datetime.now(dt.UTC).timestamp() * US_PER_S)


def hst_earliest() -> int:
    """The mark of a channel never judged: before any reading (µs)."""
    return EARLIEST_US
