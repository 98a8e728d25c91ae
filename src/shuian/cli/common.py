"""What every ``shuian`` command shares: the app, options, error handling, output.

Every command takes ``--db URL`` (or the environment variable ``SHUIAN_DB``; default
``sqlite:///shuian.db`` in the current folder). User mistakes end with one line on standard
error naming what was wrong, and exit status 1; never a stack trace.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from shuian.errors import ShuianError
from shuian.readings import US_PER_S
from shuian.store import Store, open_store

app = typer.Typer(
    name="shuian",
    help="Shuian (水安): reservoir and dam safety monitoring.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)

DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        envvar="SHUIAN_DB",
        help="Database URL: sqlite:///PATH.db or postgresql://HOST/DB.",
        show_default=True,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
PortOption = Annotated[int, typer.Option("--port", help="HTTP port to serve on.")]


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn Shuian's errors into one line on stderr and exit status 1."""
    try:
        yield
    except ShuianError as exc:
        err.print(Text.assemble(("error:", "bold red"), " ", exc.message), highlight=False)
        raise typer.Exit(1) from None


@contextmanager
def store_for(db: str) -> Iterator[Store]:
    """Open the store at ``db`` for one command, with user errors reported as one line."""
    with user_errors():
        store = open_store(db)
        try:
            yield store
        finally:
            store.close()


def print_json(data: Any) -> None:
    """Print one JSON object (non-ASCII kept as is)."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def iso_local(time_us: int | None, timezone: str) -> str | None:
    """A time (µs since 1970 UTC) as ISO 8601 in the site's zone."""
    if time_us is None:
        return None
    stamp = dt.datetime.fromtimestamp(time_us / US_PER_S, dt.UTC)
    return stamp.astimezone(zoneinfo.ZoneInfo(timezone)).isoformat()


