"""Specification: nothing hostile reaches a terminal, on SQLite and on PostgreSQL.

Every command that prints text that came from outside (rejected rows, site names, alarm
messages, flags, usernames, the audit log, a data file's rejected lines) prints it as it is:
Rich markup shown as text, control characters (ESC, CR, BEL, NUL ...) as escapes, in tables too.
``--json`` stays exact JSON: the stored text comes back unchanged, its control characters
escaped as JSON says.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import Result
from rich.table import Table
from typer.testing import CliRunner

from shuian.cli import app
from shuian.cli.common import out
from shuian.readings import Rejection
from shuian.store import open_store

SITE_FILE = Path(__file__).parent / "data" / "site.yaml"
#: Clears the screen, turns red, sets the window title, rings, goes back to the line's start,
#: and holds Rich markup and a stray closing tag.
HOSTILE = "\x1b[2J\x1b[31mred\x1b[0m [bold]bold[/bold] [/nope] \r\x07\x1b]0;title\x07\x00 end"
SHORT = "\x1b[1m[bold]x[/bold]\r"  # fits a 64-character column
#: As stored where NUL is refused (PostgreSQL text; only rejections write it as an escape).
NO_NUL = HOSTILE.replace("\x00", "")


def shuian(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), catch_exceptions=True)


def shown_safely(result: Result) -> str:
    """The output of a command that succeeded, checked to hold no control character."""
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    for stream in (result.stdout, result.stderr):
        controls = sorted({repr(c) for c in stream if not c.isprintable() and c != "\n"})
        assert not controls, f"printed {controls}"
    return result.stdout


@pytest.fixture
def db(store_url: str, tmp_path: Path) -> str:
    """A site named with hostile text, holding a rejection, flag, alarm, user and audit entry."""
    text = SITE_FILE.read_text(encoding="utf-8").replace(
        "name: Test Reservoir", 'name: "\\e[2J [bold]Test[/bold] \\r\\a"'
    )
    site = tmp_path / "hostile.yaml"
    site.write_text(text, encoding="utf-8")
    assert shuian("init", "--site", str(site), "--db", store_url).exit_code == 0
    store = open_store(store_url)
    try:
        stored = store.site()
        store.write_rejections(stored.id, [Rejection(
            source="mqtt:dam/\x1b[5mblink", line=1, raw=HOSTILE, reason=f"unknown {HOSTILE}",
            channel=SHORT)])
        level = store.channel(stored.id, "WL.level").id
        moment = int(dt.datetime(2024, 1, 1, tzinfo=dt.UTC).timestamp() * 1_000_000)
        store.set_flag(channel_id=level, time_us=moment, kind="suspect", actor=SHORT,
                       comment=NO_NUL)
        store.record_alarm_step(channel_id=level, rule="threshold", kind="raised",
                                level="warning", time_us=moment, value=141.0, message=NO_NUL)
        store.add_user(username=SHORT, password_hash="x", role="viewer",
                       now=dt.datetime.now(dt.UTC))
        store.audit(actor=SHORT, action="flag.set", target=NO_NUL)
    finally:
        store.close()
    return store_url


@pytest.mark.parametrize(
    "command",
    [["rejected"], ["status"], ["alarms"], ["flags", "WL.level"], ["user", "list"], ["audit"]],
    ids=" ".join,
)
def test_stored_text_is_printed_with_markup_as_text_and_controls_escaped(
    db: str, command: list[str]
) -> None:
    out = shown_safely(shuian(*command, "--db", db))
    assert "[bold]" in out  # the markup shown, not obeyed
    assert "\\x1b[" in out  # ESC as an escape


def test_rejected_shows_every_part_of_a_hostile_row(db: str) -> None:
    out = shown_safely(shuian("rejected", "--db", db))
    assert "mqtt:dam/\\x1b[5mblink:1: unknown \\x1b[2J\\x1b[31mred\\x1b[0m " in out
    assert "[bold]bold[/bold] [/nope] \\r\\x07\\x1b]0;title\\x07\\x00 end" in out


def test_rejected_json_is_exact_json_of_the_stored_text(db: str) -> None:
    out = shown_safely(shuian("rejected", "--json", "--db", db))
    [item] = json.loads(out)["items"]
    assert item["raw"].replace("\\x00", "") == NO_NUL  # the store keeps no NUL (an escape)
    assert item["channel"] == SHORT


def test_a_table_cell_shows_its_markup_as_text_and_its_controls_escaped() -> None:
    table = Table("code", "unit")
    table.add_row("WL.level", SHORT)
    with out.capture() as captured:
        out.print(table)
    text = captured.get()
    assert not [c for c in text if not c.isprintable() and c != "\n"]
    assert "\\x1b[1m[bold]x[/bold]\\r" in text


def test_ingest_prints_rejected_lines_of_a_file_escaped(db: str, tmp_path: Path) -> None:
    path = tmp_path / "hostile.csv"
    path.write_bytes(b"channel,time,value\nWL.level,2024-01-01T00:00:00Z,[red]x\x1b[2J\x07\n"
                     b"WL.level,2024-01-01T01:00:00Z,1\r2\n")
    out = shown_safely(shuian("ingest", str(path), "--no-analyze", "--db", db))
    assert "value is not a number: '[red]x\\x1b[2J\\x07'" in out
    assert f"{path}:3: the line holds a carriage return (CR)" in out


def test_an_error_message_with_control_characters_is_one_escaped_line(
    db: str, tmp_path: Path
) -> None:
    path = tmp_path / "header.csv"
    path.write_bytes(b"[red]chan\x1bnel\x07,time,value\nWL.level,2024-01-01T00:00:00Z,120\n")
    result = shuian("ingest", str(path), "--db", db)
    assert result.exit_code == 1
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert "[red]chan\\x1bnel\\x07,time,value" in result.stderr
    assert result.stderr.count("\n") == 1
