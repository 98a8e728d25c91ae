"""Commands of the analysis: models, checks and alarms.

``fit``, ``analyze``, ``alarms``, ``ack``, ``flag``, ``unflag``, ``flags``, ``hst``.

``ack``, ``flag`` and ``unflag`` are in the audit log as ``cli:<operating-system user>``, with
the ``--by`` name in the entry's detail.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shuian.cli.common import (
    DbOption,
    JsonOption,
    app,
    cli_actor,
    deliver_queued,
    iso_local,
    out,
    print_json,
    store_for,
    user_errors,
)
from shuian.store import DEFAULT_URL

if TYPE_CHECKING:
    from shuian.store import Store, StoredSite
    from shuian.store.analysis import StoredAlarm

ActorOption = Annotated[str, typer.Option("--by", help="Who does it (kept in the history).")]
CommentOption = Annotated[str, typer.Option("--comment", help="Why (kept in the history).")]


def alarm_json(alarm: StoredAlarm, codes: dict[int, str], timezone: str) -> dict[str, Any]:
    """An alarm as the JSON object the CLI and API print."""
    return {
        "id": alarm.id,
        "channel": codes.get(alarm.channel_id),
        "rule": alarm.rule,
        "level": alarm.level,
        "peak_level": alarm.peak_level,
        "state": alarm.state,
        "raised": iso_local(alarm.raised_us, timezone),
        "last": iso_local(alarm.last_us, timezone),
        "cleared": iso_local(alarm.cleared_us, timezone),
        "value": alarm.value,
        "message": alarm.message,
        "acknowledged_by": alarm.acknowledged_by,
        "acknowledged_at": alarm.acknowledged_at,
        "acknowledge_comment": alarm.acknowledge_comment,
    }


def _codes(store: Store, stored: StoredSite) -> dict[int, str]:
    return {c.id: c.code for c in store.channels(stored.id)}


@app.command()
def alarms(
    state: Annotated[
        str | None,
        typer.Option(help="open, raised, acknowledged or cleared (default: all)."),
    ] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 200,
    db: DbOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """List alarms with their state, level and reason."""
    with store_for(db) as store:
        stored = store.site()
        codes = _codes(store, stored)
        found = store.alarms(channel_ids=codes, state=state, limit=limit)
        tz = stored.site.reservoir.timezone
        rows = [alarm_json(a, codes, tz) for a in found]
    if as_json:
        print_json({"count": len(rows), "alarms": rows})
        return
    out.print(f"{len(rows)} alarm(s)")
    for row in rows:
        out.print(
            f"#{row['id']} {row['state']:<12} {row['level']:<9} {row['channel']:<10} "
            f"{row['rule']:<9} {row['raised']}  {row['message']}"
        )


@app.command()
def ack(
    alarm_id: Annotated[int, typer.Argument(help="The alarm's number.")],
    by: ActorOption,
    comment: CommentOption = "",
    db: DbOption = DEFAULT_URL,
) -> None:
    """Acknowledge an alarm (who, when and why are kept)."""
    with store_for(db) as store:
        alarm = store.acknowledge_alarm(alarm_id, actor=by, comment=comment)
        store.audit(actor=cli_actor(), action="alarm.acknowledge", target=f"alarm {alarm_id}",
                    detail={"by": by, "comment": comment, "level": alarm.level})
    out.print(f"alarm #{alarm.id} acknowledged by {by}")


@app.command()
def flag(
    channel: Annotated[str, typer.Argument(help="Channel code.")],
    time: Annotated[str, typer.Argument(help="The reading's time (ISO 8601).")],
    by: ActorOption,
    comment: CommentOption,
    db: DbOption = DEFAULT_URL,
) -> None:
    """Mark a reading as suspect; it is then left out of model fits."""
    from shuian.times import parse_time

    with store_for(db) as store:
        stored = store.site()
        info = store.channel(stored.id, channel)
        time_us = parse_time(name="TIME", text=time, timezone=stored.site.reservoir.timezone)
        assert time_us is not None
        flag_id = store.set_flag(
            channel_id=info.id, time_us=time_us, kind="suspect", actor=by, comment=comment
        )
        store.audit(actor=cli_actor(), action="flag.set", target=f"flag {flag_id}",
                    detail={"by": by, "channel": channel, "time": time, "comment": comment})
    out.print(f"flag #{flag_id}: {channel} at {time} marked suspect by {by}")


@app.command()
def unflag(
    flag_id: Annotated[int, typer.Argument(help="The flag's number ('shuian flags').")],
    by: ActorOption,
    comment: CommentOption,
    db: DbOption = DEFAULT_URL,
) -> None:
    """Clear a flag (it stays in the history with who cleared it and why)."""
    with store_for(db) as store:
        store.clear_flag(flag_id, actor=by, comment=comment)
        store.audit(actor=cli_actor(), action="flag.clear", target=f"flag {flag_id}",
                    detail={"by": by, "comment": comment})
    out.print(f"flag #{flag_id} cleared by {by}")


@app.command()
def flags(
    channel: Annotated[str, typer.Argument(help="Channel code.")],
    db: DbOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """List the active flags of a channel's readings."""
    with store_for(db) as store:
        stored = store.site()
        info = store.channel(stored.id, channel)
        tz = stored.site.reservoir.timezone
        rows = [
            {"id": f.id, "time": iso_local(f.time_us, tz), "kind": f.kind, "detail": f.detail,
             "source": f.source, "set_by": f.set_by}
            for f in store.flags([info.id])
        ]
    if as_json:
        print_json({"channel": channel, "flags": rows})
        return
    out.print(f"{len(rows)} flag(s) on {channel}")
    for row in rows:
        out.print(f"#{row['id']} {row['time']} {row['kind']:<8} {row['detail']}")


@app.command()
def fit(
    channel: Annotated[
        list[str] | None, typer.Option("--channel", help="Only these channels (repeatable).")
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="End of the fit window (ISO 8601; default now).")
    ] = None,
    db: DbOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """Fit a new version of each channel's model (HST/HTT) and keep it with its statistics."""
    from shuian.services.analysis import Analyzer
    from shuian.times import parse_time

    with store_for(db) as store:
        stored = store.site()
        end_us = parse_time(name="--end", text=end, timezone=stored.site.reservoir.timezone)
        outcomes = Analyzer(store, stored).fit(end_us=end_us, codes=channel)
    rows = [vars(o) for o in outcomes]
    if as_json:
        print_json({"models": rows})
        return
    for o in outcomes:
        if o.ok:
            out.print(f"{o.channel:<10} {o.kind:<8} R² {o.r2:.4f}  σ {o.sigma:.4g}  n {o.n}")
        else:
            out.print(f"{o.channel:<10} {o.kind:<8} not fitted: {o.error}")


@app.command()
def analyze(db: DbOption = DEFAULT_URL, as_json: JsonOption = False) -> None:
    """Judge every reading not judged yet, and check for silent channels (no data)."""
    from shuian.services.analysis import Analyzer

    with store_for(db) as store:
        report = Analyzer(store, store.site()).evaluate()
        sent = deliver_queued(store) if report.notifications else {}
    found = report.as_json() | {"delivered": sent}
    if as_json:
        print_json(found)
        return
    out.print(f"judged {found['readings']} readings: flags {found['flags']}, "
              f"alarm steps {found['alarm_steps']}, notifications {found['notifications']}"
              + (f" (sent {sent['sent']}, failed {sent['failed']}: 'shuian deliveries')"
                 if sent else ""))
    for step in report.steps[:20]:
        out.print(f"  {step.kind:<11} {step.level:<9} {step.channel:<10} {step.message}")


@app.command()
def deliveries(
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
    db: DbOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """List notification delivery attempts (webhook, e-mail): sent, failed, with the error."""
    with store_for(db) as store:
        rows = store.delivery_log(limit=limit)
    if as_json:
        print_json({"deliveries": rows})
        return
    out.print(f"{len(rows)} delivery attempt(s)")
    for row in rows:
        state = "sent" if row["ok"] else f"FAILED: {row['error']}"
        out.print(f"  {row['key']:<40} {row['notifier']:<12} try {row['attempt']} {state}")


@app.command()
def explain(
    channel: Annotated[str, typer.Argument(help="Channel code.")],
    start: Annotated[str, typer.Option("--from", help="First reading's time (ISO 8601).")],
    end: Annotated[str, typer.Option("--to", help="Second reading's time (ISO 8601).")],
    db: DbOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """Say why a channel changed between two times: water level, season, ageing, other."""
    from shuian.services.analysis import Analyzer
    from shuian.times import parse_time

    with store_for(db) as store:
        stored = store.site()
        tz = stored.site.reservoir.timezone
        from_us = parse_time(name="--from", text=start, timezone=tz)
        to_us = parse_time(name="--to", text=end, timezone=tz)
        assert from_us is not None and to_us is not None
        found = Analyzer(store, stored).explain(channel, from_us=from_us, to_us=to_us)
    if as_json:
        print_json(vars(found) | {"from": iso_local(found.from_us, tz),
                                  "to": iso_local(found.to_us, tz)})
        return
    out.print(f"{iso_local(found.from_us, tz)} {found.from_value:.6g} {found.unit} -> "
              f"{iso_local(found.to_us, tz)} {found.to_value:.6g} {found.unit}")
    out.print(found.sentence())


@app.command()
def hst(
    file: Annotated[Path, typer.Argument(help="CSV with columns time,value,level[,temps...].")],
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write per-row results to this CSV.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Fit an HST model (HTT when the CSV has temperature columns) to a spreadsheet export.

    No site or database needed. Prints R², σ, the coefficients by term and the readings
    outside the envelope; ``--out`` writes time,value,predicted,hydrostatic,seasonal,
    time_effect,residual,flag per row.
    """
    from shuian.services.hst_file import analyse_csv

    with user_errors():
        result = analyse_csv(file)
        if out_file is not None:
            result.write_csv(out_file)
    found = result.as_json()
    if as_json:
        print_json(found)
        return
    out.print(f"{file}: n {found['n']}, R² {found['r2']:.4f}, σ {found['sigma']:.4g}")
    for term, value in found["coefficients"].items():
        out.print(f"  {term:<8} {value: .6g}")
    out.print(f"{len(found['outliers'])} reading(s) outside the envelope")
    for row in found["outliers"][:20]:
        out.print(f"  {row}")
    if found.get("rejected"):
        out.print(f"{len(found['rejected'])} row(s) rejected, e.g. {found['rejected'][0]}")
