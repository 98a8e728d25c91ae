"""Whose fault a failure is: the one rule every source follows (shuian.faults).

Only a store or machine that is away is the system's fault (retry, never acknowledge); every
failure an input causes by itself is the input's (keep it as a rejection, acknowledge, go on).
The store errors here come from the real databases.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from shuian.errors import StoreRefusedError, StoreUnavailableError
from shuian.faults import MAX_REASON, Fault, blame, printable, reason_of
from shuian.store import Store, open_store
from shuian.store.schema import sites


def _refusal(store: Store, **row: object) -> StoreRefusedError:
    values = {"code": "x", "name": "x", "name_zh": "x", "timezone": "UTC", "synthetic": False,
              "definition": "", "updated_at": sa.func.now()} | row
    with pytest.raises(StoreRefusedError) as caught, store._translate(), store.engine.begin() as c:
        c.execute(sa.insert(sites).values(**values))
    return caught.value


@pytest.mark.parametrize(
    "url", ["postgresql://postgres@127.0.0.1:1/test", "sqlite:////nonexistent-folder/x.db"]
)
def test_a_database_that_is_away_is_the_systems_fault(url: str) -> None:
    with pytest.raises(StoreUnavailableError) as caught:
        open_store(url)

    assert blame(caught.value) is Fault.SYSTEM


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize(
    "row", [{"code": "c" * 100}, {"name": "nul\x00byte"}, {"code": None}],
    ids=["too long", "NUL byte", "missing"],
)
def test_data_the_database_refuses_are_the_inputs_fault(
    store: Store, row: dict[str, object]
) -> None:
    refusal = _refusal(store, **row)

    assert blame(refusal) is Fault.INPUT
    assert "refused the data" in refusal.message


def test_a_row_breaking_a_constraint_is_the_inputs_fault_on_both_stores(store: Store) -> None:
    assert blame(_refusal(store, code=None)) is Fault.INPUT


@pytest.mark.parametrize(
    "error",
    [
        RecursionError("maximum recursion depth exceeded while decoding a JSON array"),
        UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
        ValueError("could not convert string to float: 'x'"),
        KeyError("channel"),
    ],
    ids=type,
)
def test_an_error_of_the_inputs_own_making_is_the_inputs_fault(error: Exception) -> None:
    assert blame(error) is Fault.INPUT


@pytest.mark.parametrize(
    "error",
    [ConnectionResetError("peer"), TimeoutError("slow disk"), OSError(28, "No space left"),
     MemoryError()],
    ids=type,
)
def test_the_machine_failing_is_the_systems_fault(error: BaseException) -> None:
    assert blame(error) is Fault.SYSTEM


def test_nested_json_is_blamed_on_the_payload() -> None:
    with pytest.raises(RecursionError) as caught:
        json.loads("[" * 100_000 + "]" * 100_000)

    assert blame(caught.value) is Fault.INPUT


def test_a_reason_is_one_capped_line_with_control_characters_escaped() -> None:
    reason = reason_of(ValueError("bad\x00\x1b[2J\r\n" + "x" * 1000))

    assert reason.startswith("ValueError: bad\\x00\\x1b[2J\\r\\n")
    assert len(reason) == MAX_REASON
    assert printable("水位 ok") == "水位 ok"
