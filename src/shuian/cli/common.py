"""What every ``shuian`` command shares: the app, options, error handling, output.

Every command takes ``--db URL`` (or the environment variable ``SHUIAN_DB``; default
``sqlite:///shuian.db`` in the current folder). User mistakes end with one line on standard
error naming what was wrong, and exit status 1; never a stack trace.

Text that came from outside (rejected rows, names, notes, alarm messages, users, the audit log)
reaches the terminal as it is and harmless: ``out`` and ``err`` read no Rich markup or emoji
codes in what they print (a call that formats with markup says ``markup=True`` and escapes what
it puts in), and show control characters (ESC, CR, NUL, BEL ...) as escapes, in tables too;
``--json`` output is exact JSON in which they are escapes as well.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import re
import sys
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from shuian.errors import ShuianError
from shuian.faults import printable

if TYPE_CHECKING:
    from shuian.store import Store

app = typer.Typer(
    name="shuian",
    help="Shuian (水安): reservoir and dam safety monitoring.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def shown(text: str) -> str:
    r"""``text`` as a terminal may show it: control characters as escapes, line breaks kept.

    >>> shown("a\x1b[2J\rb\nc")
    'a\\x1b[2J\\rb\nc'
    """
    return "\n".join(printable(line) for line in text.split("\n"))


def marked(text: str) -> str:
    """``text`` to put into a string printed with ``markup=True``: its own markup escaped."""
    return escape(shown(text))


class Terminal(Console):
    """A console that prints text as it is: markup only where a call asks, controls escaped."""

    def __init__(self, *, stderr: bool = False) -> None:
        super().__init__(stderr=stderr, markup=False, emoji=False, highlight=False,
                         soft_wrap=True)

    def render_str(self, text: str, **options: Any) -> Text:
        """Make a string renderable (every string printed, every table cell) with controls shown."""
        return super().render_str(shown(text), **options)


err = Terminal(stderr=True)
out = Terminal()

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
        err.print(Text.assemble(("error:", "bold red"), " ", shown(exc.message)))
        raise typer.Exit(1) from None


@contextmanager
def store_for(db: str) -> Iterator[Store]:
    """Open the store at ``db`` for one command, with user errors reported as one line."""
    from shuian.store import open_store

    with user_errors():
        store = open_store(db)
        try:
            yield store
        finally:
            store.close()


def print_json(data: Any) -> None:
    r"""Print one JSON object: non-ASCII kept as is, except characters a terminal acts on.

    JSON escapes the control characters below U+0020 itself; DEL, the C1 controls, bidi and
    other format characters are written as ``\uXXXX`` escapes too (the same JSON value).
    """
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write(_NOT_ASCII.sub(_json_escape, text) + "\n")


_NOT_ASCII = re.compile(r"[^\n -~]")


def _json_escape(match: re.Match[str]) -> str:
    char = match[0]
    if char.isprintable():
        return char
    units = char.encode("utf-16-be")  # a character beyond U+FFFF is two escapes, as JSON says
    return "".join(f"\\u{units[i]:02x}{units[i + 1]:02x}" for i in range(0, len(units), 2))



def iso_local(time_us: int | None, timezone: str) -> str | None:
    """A time (µs since 1970 UTC) as ISO 8601 in the site's zone."""
    from shuian.readings import US_PER_S

    if time_us is None:
        return None
    stamp = dt.datetime.fromtimestamp(time_us / US_PER_S, dt.UTC)
    return stamp.astimezone(zoneinfo.ZoneInfo(timezone)).isoformat()


def cli_actor() -> str:
    """The audit log's name for the command line: ``cli:`` and the operating-system user."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"cli:{user}"


def deliver_queued(store: Store) -> dict[str, int]:
    """Send the notifications that are due (what a command without a server does at its end).

    Returns how many messages were ``sent``, ``failed`` (tried again later, by ``shuian serve``
    or the next command) or ``gave_up``; a dead notifier costs one timeout.
    """
    from shuian.services.outbox import deliver_pending

    counts = {"sent": 0, "failed": 0, "gave_up": 0}
    for delivery in deliver_pending(store):
        if delivery.outcome in counts:
            counts[delivery.outcome] += 1
    return counts

