"""The small CSV files a command reads whole (HST exports, routing inflows) fail with the file
and line, never a traceback: not UTF-8 (a GBK export), a NUL byte, too large."""

from __future__ import annotations

from pathlib import Path

import pytest

from shuian.errors import InputFileError
from shuian.services import text_file
from shuian.services.hst_file import analyse_csv
from shuian.services.route_file import read_inflow

HST_HEADER = "time,value,level\n"
INFLOW_HEADER = "time,inflow\n"


def _file(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "export.csv"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("read", "rows"),
    [(analyse_csv, HST_HEADER + "2024-01-01T00:00,1,2\n2024-01-02T00:00,1,测量\n"),
     (read_inflow, INFLOW_HEADER + "2024-01-01T00:00,1\n2024-01-02T00:00,测量\n")],
    ids=["hst", "inflow"],
)
def test_a_gbk_byte_names_its_line(tmp_path: Path, read: object, rows: str) -> None:
    with pytest.raises(InputFileError, match=r"export.csv: line 3: byte 0xB2 is not UTF-8 text"):
        read(_file(tmp_path, rows.encode("gbk")))  # type: ignore[operator]


def test_a_nul_byte_names_its_line(tmp_path: Path) -> None:
    data = (INFLOW_HEADER + "2024-01-01T00:00,1\n2024-01-01T01:00,\x002\n").encode()

    with pytest.raises(InputFileError, match=r"line 3: a NUL byte"):
        read_inflow(_file(tmp_path, data))


def test_a_file_too_large_to_read_whole_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(text_file, "MAX_TEXT_FILE_BYTES", 64)

    with pytest.raises(InputFileError, match="larger than 0 MiB; split the file"):
        read_inflow(_file(tmp_path, (INFLOW_HEADER + "2024-01-01T00:00,1\n" * 10).encode()))


def test_a_byte_order_mark_is_skipped(tmp_path: Path) -> None:
    data = b"\xef\xbb\xbf" + (INFLOW_HEADER + "2024-01-01T00:00,1\n2024-01-01T01:00,2\n").encode()

    inflow, *_ = read_inflow(_file(tmp_path, data))

    assert list(inflow) == [1.0, 2.0]
