"""Specification: data files in any encoding, never half-read, on SQLite and on PostgreSQL.

A line that cannot be read (not text in the file's encoding, a NUL byte, a CR inside it, longer
than 64 KiB, not CSV) is rejected on its own with its file, line and reason; every other row
goes in, and a re-run adds only duplicates. The encoding is UTF-8 unless given (``utf-8``,
``gbk``, ``gb18030``) or unless the whole file is GB18030 and not UTF-8.

Fixtures in tests/data/encodings, written in GBK as a Chinese station PC writes them:
``notes_gbk.csv`` (long CSV, CRLF: values 120.5 and 121.0 of WL.level, and two values that are
notes, "停电" (power cut) at line 3 and "人工读数：12.5" (manual reading) at line 5) and
``shimenzi_gbk.dat`` (TOA5 of station 石门子坝, table Hourly, units 伏特 and 摄氏度; three rows,
"停电" in AirT_C(42) of line 6).
"""

from __future__ import annotations

import datetime as dt
import tracemalloc
from pathlib import Path

import pytest

from shuian.errors import InputFileError, InvalidRequestError
from shuian.ingest.files import check_encoding, detect_encoding, read_file
from shuian.ingest.rows import KEPT_BYTES, MAX_CHANNEL_TEXT, MAX_LINE_BYTES
from shuian.services.ingest import Ingestor, IngestReport
from shuian.site import parse_site
from shuian.store import Store, StoredRejection, StoredSite

ENCODINGS = Path(__file__).parent / "data" / "encodings"
SITE_FILE = Path(__file__).parent / "data" / "site.yaml"
MB = 1024 * 1024
HEADER = "channel,time,value\n"


@pytest.fixture
def ingestor(store: Store, stored_site: StoredSite) -> Ingestor:
    return Ingestor(store, stored_site)


def ingest(ingestor: Ingestor, path: Path, encoding: str | None = None) -> IngestReport:
    """Ingest a file as ``shuian ingest [--encoding ENC]`` does."""
    blocks = read_file(path, ingestor.stored.site, encoding=encoding)
    return ingestor.ingest_blocks(blocks, report=IngestReport(limit=None))


def kept(store: Store, stored: StoredSite) -> dict[int | None, StoredRejection]:
    return {r.line: r for r in store.rejections(stored.id, limit=1000)}


def level_rows(n: int, start: int = 0) -> bytes:
    """``n`` good rows of WL.level, a minute apart from minute ``start`` of 2024."""
    base = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    return b"".join(
        f"WL.level,{(base + dt.timedelta(minutes=m)):%Y-%m-%dT%H:%M:%SZ},120\n".encode()
        for m in range(start, start + n)
    )


def count(store: Store, stored: StoredSite) -> int:
    return int(store.reading_counts(stored.id)["readings"])


# --- a line that is not text in the encoding -------------------------------------------------


def big_file_with(tmp_path: Path, bad: bytes) -> tuple[Path, int, int]:
    """More than 4 MB of good rows, then ``bad`` (one line), then 1,000 good rows.

    Returns the path, the bad line's number and the number of good rows.
    """
    before = level_rows(4 * MB // 34 + 1000)  # rows of 34 bytes
    after = level_rows(1000, start=before.count(b"\n") + 10)
    path = tmp_path / "big.csv"
    path.write_bytes(HEADER.encode() + before + bad + b"\n" + after)
    return path, before.count(b"\n") + 2, before.count(b"\n") + 1000


def test_a_gbk_line_after_4_mb_of_a_utf8_file_is_rejected_and_every_other_row_is_stored(
    ingestor: Ingestor, store: Store, stored_site: StoredSite, tmp_path: Path
) -> None:
    path, line, good = big_file_with(tmp_path, "WL.level,2024-06-01T00:00:00Z,五十".encode("gbk"))
    assert path.stat().st_size > 4 * MB
    report = ingest(ingestor, path, encoding="utf-8")
    assert (report.accepted, report.rejected) == (good, 1)
    [rejection] = report.rejections
    assert (rejection.source, rejection.line, rejection.channel) == (str(path), line, None)
    assert rejection.reason.startswith("the line is not UTF-8 text: byte(s) CE E5 at byte 31 ")
    assert "--encoding gbk" in rejection.reason
    # 五十 in GBK is CE E5 CA AE; CA AE happens to be UTF-8 (ʮ): kept as read, bad bytes escaped
    assert rejection.raw == "WL.level,2024-06-01T00:00:00Z,\\xce\\xe5ʮ"
    assert count(store, stored_site) == good


def test_a_gbk_file_read_as_utf8_rejects_each_line_on_its_own(
    ingestor: Ingestor, store: Store, stored_site: StoredSite, tmp_path: Path
) -> None:
    lines = [f"WL.level,2024-06-01T{h:02d}:00:00Z,五十" for h in range(24)]
    path = tmp_path / "gbk.csv"
    path.write_bytes((HEADER + "\n".join(lines) + "\n").encode("gbk"))

    report = ingest(ingestor, path, encoding="utf-8")

    assert (report.accepted, report.rejected) == (0, 24)
    assert [r.line for r in report.rejections] == list(range(2, 26))
    assert all("byte(s) CE E5 at byte 31 of the line" in r.reason for r in report.rejections)


def test_a_rerun_of_a_file_with_a_bad_line_adds_only_duplicates(
    ingestor: Ingestor, store: Store, stored_site: StoredSite, tmp_path: Path
) -> None:
    path, line, good = big_file_with(tmp_path, b"WL.level,2024-06-01T00:00:00Z,\xff50")
    ingest(ingestor, path)
    again = ingest(ingestor, path)
    assert (again.accepted, again.duplicates, again.rejected) == (0, good, 1)
    assert count(store, stored_site) == good
    assert list(kept(store, stored_site)) == [line]  # kept once


def test_a_file_that_is_neither_utf8_nor_gb18030_is_read_as_utf8_line_by_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "mixed.csv"
    path.write_bytes(HEADER.encode() + level_rows(1) + b"WL.level,x,\xff\n")
    chosen = detect_encoding(path)
    assert chosen.name == "utf-8"
    assert chosen.note is not None and "not UTF-8 (nor GB18030) throughout" in chosen.note


# --- GBK and GB18030 -----------------------------------------------------------------------------


def test_a_gbk_file_is_detected_as_gb18030_and_its_chinese_notes_are_read(
    ingestor: Ingestor, store: Store, stored_site: StoredSite
) -> None:
    path = ENCODINGS / "notes_gbk.csv"
    chosen = detect_encoding(path)
    assert chosen.name == "gb18030"
    assert chosen.note == "read as GB18030: not UTF-8, GB18030 throughout"
    report = ingest(ingestor, path)
    assert (report.accepted, report.rejected) == (2, 2)
    stored = kept(store, stored_site)
    assert stored[3].reason == "value is not a number: '停电'"
    assert stored[3].raw == "WL.level,2024-01-01T01:00:00Z,停电"
    assert stored[5].reason == "value is not a number: '人工读数：12.5'"


@pytest.mark.parametrize("encoding", ["gbk", "GBK", "gb18030", "cp936", "gb2312"])
def test_encoding_gbk_or_gb18030_reads_the_chinese_notes(
    ingestor: Ingestor, store: Store, stored_site: StoredSite, encoding: str
) -> None:
    report = ingest(ingestor, ENCODINGS / "notes_gbk.csv", encoding=encoding)
    assert (report.accepted, report.rejected) == (2, 2)
    assert kept(store, stored_site)[3].reason == "value is not a number: '停电'"


def test_a_gbk_file_read_as_utf8_rejects_only_its_lines_with_chinese(
    ingestor: Ingestor, store: Store, stored_site: StoredSite
) -> None:
    report = ingest(ingestor, ENCODINGS / "notes_gbk.csv", encoding="utf-8")
    assert (report.accepted, report.rejected) == (2, 2)
    assert all(r.reason.startswith("the line is not UTF-8 text") for r in report.rejections)


def save_site_with_the_shimenzi_logger(store: Store) -> None:
    """The test site, also mapping logger 石门子坝/Hourly's columns to LOG.batt and LOG.airt."""
    text = SITE_FILE.read_text(encoding="utf-8").replace(
        "loggers:\n",
        "loggers:\n  - station: 石门子坝\n    table: Hourly\n"
        "    columns: {BattV: LOG.batt, \"AirT_C(42)\": LOG.airt}\n",
    )
    store.save_site(parse_site(text), text)


@pytest.mark.parametrize("encoding", [None, "gbk"])
def test_a_gbk_logger_file_with_a_chinese_station_name_is_read(
    store: Store, stored_site: StoredSite, encoding: str | None
) -> None:
    save_site_with_the_shimenzi_logger(store)
    report = ingest(Ingestor(store, store.site()), ENCODINGS / "shimenzi_gbk.dat", encoding)
    assert (report.accepted, report.rejected) == (5, 1)
    [rejection] = report.rejections
    assert (rejection.line, rejection.channel) == (6, "LOG.airt")
    assert rejection.reason == "value is not a number: '停电'"


def test_a_gbk_logger_file_read_as_utf8_names_the_header_line_and_the_fix(
    store: Store, stored_site: StoredSite
) -> None:
    save_site_with_the_shimenzi_logger(store)
    path = ENCODINGS / "shimenzi_gbk.dat"
    with pytest.raises(InputFileError) as caught:
        ingest(Ingestor(store, store.site()), path, encoding="utf-8")
    assert str(caught.value).startswith(f"{path}, line 1: the header line is not UTF-8 text")
    assert "--encoding gbk" in str(caught.value)
    assert store.rejection_count(stored_site.id) == 0


def test_a_utf8_byte_order_mark_is_skipped(
    ingestor: Ingestor, store: Store, stored_site: StoredSite, tmp_path: Path
) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + HEADER.encode() + level_rows(2))
    assert detect_encoding(path).name == "utf-8" and detect_encoding(path).note is None
    assert ingest(ingestor, path, encoding="utf-8").accepted == 2


@pytest.mark.parametrize("name", ["latin-1", "utf-16", "nonsense"])
def test_an_encoding_other_than_utf8_gbk_gb18030_is_refused_naming_them(name: str) -> None:
    with pytest.raises(InvalidRequestError, match=f"--encoding '{name}': .*utf-8, gbk, gb18030"):
        check_encoding(name)


# --- lines that are not lines of text ------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (b"WL.level,2024-06-01T00:00:00Z,5\r1",
         "the line holds a carriage return (CR) that does not end it"),
        (b"WL.level,2024-06-01T00:00:00Z,\r\r", "the line holds a carriage return (CR) that"),
        (b"WL.level\x00,2024-06-01T00:00:00Z,5", "the line holds a NUL byte"),
        (b'WL.level,"2024-06-01T00:00:00Z,5', "the line is not CSV: a quoted field is not closed"),
    ],
    ids=["bare CR", "CR CR LF", "NUL", "quote not closed"],
)
def test_a_malformed_line_is_rejected_alone_with_its_reason(
    ingestor: Ingestor, store: Store, stored_site: StoredSite, tmp_path: Path, bad: bytes,
    reason: str,
) -> None:
    path = tmp_path / "malformed.csv"
    path.write_bytes(HEADER.encode() + level_rows(3) + bad + b"\n" + level_rows(3, start=10))
    report = ingest(ingestor, path)
    assert (report.accepted, report.rejected) == (6, 1)
    [rejection] = report.rejections
    assert (rejection.line, rejection.channel) == (5, None)
    assert rejection.reason.startswith(reason)
    assert rejection.raw == bad.decode().removesuffix("\r")
    assert count(store, stored_site) == 6


def test_a_line_of_20_mb_is_rejected_keeping_its_start_and_length(
    ingestor: Ingestor, store: Store, stored_site: StoredSite, tmp_path: Path
) -> None:
    path = tmp_path / "long.csv"
    long = b"C" * (20 * MB) + b",2024-06-01T00:00:00Z,41"
    path.write_bytes(HEADER.encode() + level_rows(1) + long + b"\n" + level_rows(1, start=5))
    report = ingest(ingestor, path)
    assert (report.accepted, report.rejected) == (2, 1)
    [rejection] = kept(store, stored_site).values()
    assert (rejection.line, rejection.channel) == (3, None)
    assert rejection.reason == (f"the line is {len(long):,} bytes long, longer than the 65,536 a "
                                "line may have (its first 1,024 bytes are kept)")
    assert rejection.raw == "C" * KEPT_BYTES


def test_a_long_line_inside_a_block_and_one_that_ends_the_file_are_rejected_too(
    ingestor: Ingestor, tmp_path: Path
) -> None:
    path = tmp_path / "long.csv"
    path.write_bytes(HEADER.encode() + level_rows(1) + b"x" * (MAX_LINE_BYTES + 1) + b"\n"
                     + level_rows(1, start=5) + b"y" * (6 * MB))  # no final line end
    report = ingest(ingestor, path)
    assert (report.accepted, report.rejected) == (2, 2)
    assert [(r.line, len(r.raw)) for r in report.rejections] == [(3, KEPT_BYTES), (5, KEPT_BYTES)]


def test_reading_a_20_mb_line_takes_the_memory_of_blocks_not_of_the_line(
    stored_site: StoredSite, tmp_path: Path
) -> None:
    path = tmp_path / "long.csv"
    path.write_bytes(HEADER.encode() + b"C" * (20 * MB) + b"\n" + level_rows(1))
    tracemalloc.start()
    try:
        rows = [len(block) for block in read_file(path, stored_site.site, encoding="utf-8")]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sum(rows) == 2
    assert peak < 10 * MB  # blocks of 4 MB: about two at a time


def test_a_channel_longer_than_any_code_is_rejected_with_its_first_64_characters(
    ingestor: Ingestor, store: Store, stored_site: StoredSite, tmp_path: Path
) -> None:
    path = tmp_path / "channel.csv"
    channel = "WL.level" + "x" * 92
    path.write_bytes(HEADER.encode() + f"{channel},2024-01-01T00:00:00Z,120\n".encode())
    report = ingest(ingestor, path)
    [rejection] = report.rejections
    assert rejection.reason == "channel is longer than 64 characters (no code is)"
    assert rejection.channel == channel[:MAX_CHANNEL_TEXT]
    assert kept(store, stored_site)[2].channel == channel[:MAX_CHANNEL_TEXT]
    assert rejection.raw == f"{channel},2024-01-01T00:00:00Z,120"


def test_a_header_line_longer_than_the_limit_is_a_file_error(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_bytes(b"c" * (MAX_LINE_BYTES + 10) + b"\n")
    with pytest.raises(InputFileError, match="line 1: the header line is longer than 65,536"):
        list(read_file(path, parse_site(SITE_FILE.read_text(encoding="utf-8"))))
