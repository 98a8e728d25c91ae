"""A channel's models, model components and flags; fitting and evaluating on demand.

``GET /api/channels/{code}/models``
    Every fitted version of the channel's model, newest first.
``GET /api/channels/{code}/components``
    Readings with the prediction split into hydrostatic, seasonal (thermal) and time effects.
``GET /api/channels/{code}/flags``, ``POST /api/channels/{code}/flags``
    The flags on the channel's readings; mark a reading suspect.
``POST /api/flags/{id}/clear``
    Clear a flag (kept in its history).
``POST /api/models/fit``, ``POST /api/analyze``
    Refit models; judge the readings not judged yet.

Every write needs an engineer or above (401 without credentials, 403 otherwise) and is in
the audit log.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query

from shuian.api.auth import EngineerDep
from shuian.api.deps import AnalyzerDep, LangDep, SiteDep, StoreDep
from shuian.api.routes.readings import DEFAULT_POINTS, MAX_POINTS
from shuian.api.schemas import (
    AnalysisPublic,
    CommentIn,
    ComponentsPublic,
    ExplanationPublic,
    FitIn,
    FitPublic,
    FlagClearedPublic,
    FlagIn,
    FlagPublic,
    ModelPublic,
    RowId,
)
from shuian.errors import InvalidRequestError
from shuian.i18n import Message, render_stored
from shuian.series.downsample import MIN_POINTS, downsample
from shuian.times import iso_utc, parse_time

router = APIRouter(tags=["analysis"])


def _nullable(values: Any) -> list[float | None]:
    """Floats for JSON, with None where NaN."""
    return [None if not math.isfinite(v) else v for v in np.asarray(values, float).tolist()]


@router.get("/channels/{code}/models")
def read_models(code: str, store: StoreDep, stored: SiteDep) -> list[ModelPublic]:
    """Answer every fitted version of a channel's model, newest first."""
    channel = store.channel(stored.id, code)
    versions = store.model_versions(channel.id)
    out = []
    for m in versions:
        start, end = iso_utc(times_us=np.array([m.window_start_us, m.window_end_us], np.int64))
        out.append(ModelPublic(
            version=m.version, kind=m.kind, r2=m.r2, sigma=m.sigma, n=m.n, window_start=start,
            window_end=end, fitted_at=m.fitted_at, terms=list(m.fit["terms"]),
            coefficients=dict(m.fit["coefficients"]),
        ))
    return out


@router.get("/channels/{code}/components")
def read_components(
    code: str,
    analyzer: AnalyzerDep,
    stored: SiteDep,
    start: Annotated[str | None, Query(description="ISO 8601, included")] = None,
    end: Annotated[str | None, Query(description="ISO 8601, excluded")] = None,
    max_points: Annotated[int, Query(ge=MIN_POINTS, le=MAX_POINTS)] = DEFAULT_POINTS,
) -> ComponentsPublic:
    """Answer a channel's readings with its current model's prediction split into effects.

    Downsampled like ``/readings`` (the same readings are kept for every series), so that an
    engineer can read "the crest moved 2.1 mm: 1.8 from the water, 0.4 seasonal, -0.1 other".
    404 when the channel is unknown or has no fitted model.
    """
    tz = stored.site.reservoir.timezone
    found = analyzer.components(
        code,
        start_us=parse_time(name="start", text=start, timezone=tz),
        end_us=parse_time(name="end", text=end, timezone=tz),
    )
    count = len(found.times_us)
    keep = (
        downsample(found.times_us, found.values, max_points)
        if count > max_points
        else np.arange(count)
    )
    spec = found.model.spec
    return ComponentsPublic(
        channel=code,
        unit=found.info.unit,
        model_version=found.stored_model.version,
        kind=spec.kind,
        sigma=found.model.sigma,
        warning_sigma=spec.warning_sigma,
        alarm_sigma=spec.alarm_sigma,
        count=count,
        returned=len(keep),
        times=iso_utc(times_us=found.times_us[keep]),
        values=_nullable(found.values[keep]),
        parts={name: _nullable(part[keep]) for name, part in found.parts.items()},
        residual=_nullable(found.residual[keep]),
    )


@router.get("/channels/{code}/explain")
def explain_change(
    code: str,
    analyzer: AnalyzerDep,
    stored: SiteDep,
    start: Annotated[str, Query(alias="from", description="first time, ISO 8601")],
    end: Annotated[str, Query(alias="to", description="second time, ISO 8601")],
    lang: LangDep,
) -> ExplanationPublic:
    """Answer why a channel changed between two times, split into the model's effects.

    ``change = Σ effects`` (hydrostatic, seasonal or thermal, time, other); ``sentence`` says it
    in words, e.g. "PL1.R changed +2.1 mm: +1.8 from the water level, +0.4 seasonal, ...".
    """
    tz = stored.site.reservoir.timezone
    from_us = parse_time(name="from", text=start, timezone=tz)
    to_us = parse_time(name="to", text=end, timezone=tz)
    if from_us is None or to_us is None:
        raise InvalidRequestError(Message.of("error.explain_times"))
    found = analyzer.explain(code, from_us=from_us, to_us=to_us)
    times = iso_utc(times_us=np.array([found.from_us, found.to_us], dtype=np.int64))
    return ExplanationPublic.model_validate(
        vars(found) | {"from": times[0], "to": times[1], "sentence": found.sentence().render(lang)}
    )


@router.get("/channels/{code}/flags")
def read_flags(
    code: str,
    store: StoreDep,
    stored: SiteDep,
    lang: LangDep,
    start: Annotated[str | None, Query(description="ISO 8601, included")] = None,
    end: Annotated[str | None, Query(description="ISO 8601, excluded")] = None,
    cleared: Annotated[bool, Query(description="include cleared flags")] = False,
) -> list[FlagPublic]:
    """Answer the flags on a channel's readings, by time."""
    tz = stored.site.reservoir.timezone
    channel = store.channel(stored.id, code)
    flags = store.flags(
        [channel.id],
        start_us=parse_time(name="start", text=start, timezone=tz),
        end_us=parse_time(name="end", text=end, timezone=tz),
        active_only=not cleared,
    )
    times = iso_utc(times_us=np.array([f.time_us for f in flags], dtype=np.int64))
    return [
        FlagPublic(id=f.id, time=t, kind=f.kind, source=f.source, active=f.active,
                   set_by=f.set_by,
                   detail=render_stored(f.detail, f.detail_key, f.detail_params, lang))
        for f, t in zip(flags, times, strict=True)
    ]


@router.post("/channels/{code}/flags")
def create_flag(
    engineer: EngineerDep, code: str, body: FlagIn, store: StoreDep, stored: SiteDep
) -> FlagPublic:
    """Mark a reading suspect; it is then left out of model fits and alarm rules.

    Needs an engineer or above; the flag's history keeps who set it (the logged-in user).
    """
    channel = store.channel(stored.id, code)
    time_us = parse_time(name="time", text=body.time, timezone=stored.site.reservoir.timezone)
    if time_us is None:
        raise InvalidRequestError(Message.of("error.flag_time"))
    flag_id = store.set_flag(channel_id=channel.id, time_us=time_us, kind="suspect",
                             actor=engineer.actor, comment=body.comment)
    store.audit(actor=engineer.actor, action="flag.set", target=f"flag {flag_id}",
                detail={"channel": code, "time": body.time, "comment": body.comment})
    flag = next(f for f in store.flags([channel.id], start_us=time_us, end_us=time_us + 1)
                if f.id == flag_id)
    return FlagPublic(id=flag.id, time=iso_utc(times_us=np.array([time_us]))[0],
                      kind=flag.kind, detail=flag.detail, source=flag.source,
                      active=flag.active, set_by=flag.set_by)


@router.post("/flags/{flag_id}/clear")
def clear_flag(
    engineer: EngineerDep, flag_id: RowId, body: CommentIn, store: StoreDep
) -> FlagClearedPublic:
    """Clear a flag; its history keeps who set and cleared it, when and why (engineers)."""
    store.clear_flag(flag_id, actor=engineer.actor, comment=body.comment)
    store.audit(actor=engineer.actor, action="flag.clear", target=f"flag {flag_id}",
                detail={"comment": body.comment})
    return FlagClearedPublic.model_validate(
        {"id": flag_id, "active": False, "history": store.flag_history(flag_id)}
    )


@router.post("/models/fit")
def fit_models(
    engineer: EngineerDep, body: FitIn, analyzer: AnalyzerDep, stored: SiteDep
) -> FitPublic:
    """Fit a new version of the models (of ``channels``, or all) up to ``end`` (default now).

    Needs an engineer or above.
    """
    end_us = parse_time(name="end", text=body.end, timezone=stored.site.reservoir.timezone)
    outcomes = analyzer.fit(end_us=end_us, codes=body.channels)
    analyzer.store.audit(
        actor=engineer.actor, action="models.fit",
        target=", ".join(body.channels) if body.channels else "all channels",
        detail={"end": body.end, "fitted": sum(1 for o in outcomes if o.ok),
                "failed": sum(1 for o in outcomes if not o.ok)},
    )
    return FitPublic.model_validate({"models": [vars(o) for o in outcomes]})


@router.post("/analyze")
def analyze(engineer: EngineerDep, analyzer: AnalyzerDep) -> AnalysisPublic:
    """Judge every reading not judged yet, and look for silent channels (no data).

    Needs an engineer or above.
    """
    report = analyzer.evaluate().as_json()
    analyzer.store.audit(actor=engineer.actor, action="analysis.run", target="site",
                         detail={k: report[k] for k in ("readings", "flags", "alarm_steps")})
    return AnalysisPublic.model_validate(report)
