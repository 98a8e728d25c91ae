"""``shuian cameras``: each camera of a site, its newest frame and its feed's status.

Only typer and rich are imported here; the store is imported inside the command.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.table import Table

from shuian.cli.common import DbOption, JsonOption, app, out, print_json, store_for
from shuian.store import DEFAULT_URL

_US = 1_000_000


@app.command()
def cameras(
    db: DbOption = DEFAULT_URL,
    site: Annotated[str | None, typer.Option(help="The site's code; default the first.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List a site's cameras: what each looks at, its newest frame, connection, frames/s, errors."""
    with store_for(db) as store:
        stored = store.site(site)
        listed = stored.site.cameras
        newest = store.newest_media(stored.id, [f"camera:{c.code}" for c in listed])
        statuses = store.camera_statuses(stored.id)
    now = time.time_ns() // 1000
    rows: list[dict[str, Any]] = []
    for camera in listed:
        item = newest.get(f"camera:{camera.code}")
        status, updated = statuses.get(camera.code, ({}, None))
        rows.append({
            "code": camera.code, "looks_at": camera.looks_at, "source": camera.source.kind,
            "interval_s": camera.interval_s,
            "newest_frame_age_s": None if item is None else round((now - item.taken_us) / _US),
            "watched": updated is not None and now - updated <= 60 * _US,
            **{k: status.get(k) for k in ("connected", "fps", "frames", "dropped", "reconnects",
                                          "last_error")},
        })
    if as_json:
        print_json({"site": stored.site.reservoir.code, "cameras": rows})
        return
    table = Table("camera", "looks at", "source", "every", "newest frame", "watched",
                  "connected", "frames/s", "dropped", "last error")
    for row in rows:
        age = row["newest_frame_age_s"]
        table.add_row(
            row["code"], row["looks_at"], row["source"], f"{row['interval_s']:g} s",
            "none" if age is None else f"{age} s ago", "yes" if row["watched"] else "no",
            {True: "yes", False: "no", None: ""}[row["connected"]],
            "" if row["fps"] is None else f"{row['fps']:.2f}", str(row["dropped"] or 0),
            (row["last_error"] or "")[:100])
    out.print(table if rows else f"site {stored.site.reservoir.code} has no cameras")
