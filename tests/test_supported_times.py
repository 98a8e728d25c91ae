"""Times have a supported range, and whatever a row holds, its rejection can be kept.

Readings before the site's earliest date (``ingest.earliest``, default 1900-01-01) or beyond
its future allowance are rejected with the reason; PostgreSQL partitions are made for the
supported years only, safely when writers race at a New Year; a batch with bad rows keeps its
good rows, and a rejection with a NUL, a lone surrogate or a 100-character channel is stored.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

import shuian.store as store_module
from conftest import SITE_FILE
from shuian.errors import SiteError, StoreRefusedError
from shuian.readings import ReadingBatch, Rejection
from shuian.services.ingest import Ingestor
from shuian.site import parse_site
from shuian.store import Store, StoredSite, open_store
from shuian.store.base import MAX_CODE


def _record(time: str, value: float = 120.0, channel: str = "WL.level") -> dict[str, Any]:
    return {"channel": channel, "time": time, "value": value}


def _stored_times(store: Store, stored: StoredSite) -> list[str]:
    channel = store.channel(stored.id, "WL.level")
    times, _ = store.readings(channel.id)
    return [str(t) for t in times.astype("datetime64[us]").astype("datetime64[s]")]


@pytest.mark.parametrize(
    ("time", "reason"),
    [
        ("0001-01-01T00:00:00Z", "time is before the site's earliest date 1900-01-01"),
        ("1899-12-31T00:00:00", "time is before the site's earliest date 1900-01-01"),
        ("9999-12-31T23:59:59Z", "time is more than a day in the future"),
        ("2200-01-01T00:00:00Z", "time is more than a day in the future"),
        ("+20240-01-01T00:00:00Z", "time is outside the supported range: '+20240-01-01"),
    ],
)
def test_a_time_outside_the_supported_range_is_rejected_and_the_good_rows_are_kept(
    store: Store, stored_site: StoredSite, time: str, reason: str
) -> None:
    records = [_record("2024-03-01T00:00:00Z"), _record(time), _record("2024-03-01T01:00:00Z")]

    report = Ingestor(store, stored_site).ingest_records(records, source="api")

    assert (report.accepted, report.rejected) == (2, 1)
    assert report.rejections[0].line == 1
    assert reason in report.rejections[0].reason
    assert _stored_times(store, stored_site) == ["2024-03-01T00:00:00", "2024-03-01T01:00:00"]
    assert store.rejection_count(stored_site.id) == 1


def test_the_earliest_date_and_the_future_allowance_are_the_sites_own(store: Store) -> None:
    text = SITE_FILE.read_text(encoding="utf-8")
    text += "\ningest:\n  earliest: 2020-01-01\n  future_allowance_s: 600\n"
    store.save_site(parse_site(text), text)
    stored = store.site()
    ahead = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()

    report = Ingestor(store, stored).ingest_records(
        [_record("2019-12-31T15:59:59Z"), _record(ahead), _record("2020-01-01T00:00:00+08:00")],
        source="api",
    )

    assert (report.accepted, report.rejected) == (1, 2)
    reasons = [r.reason for r in report.rejections]
    assert "before the site's earliest date 2020-01-01" in reasons[0]
    assert "more than 600 s in the future" in reasons[1]


def test_an_earliest_date_before_the_stores_first_year_is_a_site_file_error() -> None:
    text = SITE_FILE.read_text(encoding="utf-8") + "\ningest:\n  earliest: 1700-01-01\n"

    with pytest.raises(SiteError, match=r"ingest\.earliest"):
        parse_site(text, source="site.yaml")


def test_a_rejection_holding_nul_surrogates_and_a_long_channel_is_kept(
    store: Store, stored_site: StoredSite
) -> None:
    long_channel = "X" * 100
    records = [
        _record("2024-03-01T00:00:00Z"),
        _record("2024-03-01T00:00:00Z", channel="WL\x00level"),
        _record("2024-03-01T00:00:00Z", channel=long_channel),
    ]

    report = Ingestor(store, stored_site).ingest_records(records, source="api")
    store.write_rejections(stored_site.id, [Rejection("mqtt:a\x00b", None, "\udcff\x00", "x")])

    assert (report.accepted, report.rejected) == (1, 2)
    kept = {r.channel: r for r in store.rejections(stored_site.id)}
    assert "WL\\x00level" in kept
    assert kept["X" * MAX_CODE].reason.startswith("unknown channel: 'XXXX")
    odd = kept[None]
    assert (odd.source, odd.raw) == ("mqtt:a\\x00b", "\\udcff\\x00")


def test_two_rejections_of_one_line_with_different_channels_are_both_kept(
    store: Store, stored_site: StoredSite
) -> None:
    line = "2024-03-01 00:00,x,y"
    both = [Rejection("f.dat", 5, line, "not a number", channel) for channel in ("A", "B")]

    store.write_rejections(stored_site.id, both)
    store.write_rejections(stored_site.id, both)

    assert sorted(r.channel or "" for r in store.rejections(stored_site.id)) == ["A", "B"]


def _batch(channel_id: int, years: list[int]) -> ReadingBatch:
    times = np.array([np.datetime64(f"{y:04d}-06-01", "us") for y in years]).astype(np.int64)
    n = len(years)
    return ReadingBatch(np.full(n, channel_id, np.int64), times, np.ones(n), np.full(n, np.nan))


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_postgresql_refuses_a_year_outside_its_partitions_before_writing(
    store: Store, stored_site: StoredSite
) -> None:
    channel = store.channel(stored_site.id, "WL.level")

    with pytest.raises(StoreRefusedError, match="year\\(s\\) 1 lie outside the supported years"):
        store.write_readings(_batch(channel.id, [2001, 1]))
    written = store.write_readings(_batch(channel.id, [2001, 2002]))

    assert written == 2


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_writers_racing_at_a_new_year_all_commit(store_url: str, stored_site: StoredSite) -> None:
    stores = [open_store(store_url) for _ in range(6)]
    channel = stores[0].channel(stored_site.id, "WL.level")
    start = threading.Barrier(len(stores))
    outcomes: list[object] = []

    def write(index: int, store: Store) -> None:
        start.wait()
        try:
            outcomes.append(store.write_readings(_batch(channel.id, [2031 + index % 2, 2033])))
        except Exception as exc:  # noqa: BLE001 - the test reports it
            outcomes.append(exc)

    threads = [threading.Thread(target=write, args=(i, s)) for i, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for store in stores:
        store.close()

    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert sum(o for o in outcomes if isinstance(o, int)) == 3  # 2031, 2032 and 2033, once


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_a_partition_misnamed_by_a_year_1_reading_is_repaired_on_upgrade(store_url: str) -> None:
    engine = sa.create_engine(store_url)
    config = Config()
    migrations = Path(store_module.__file__).parent / "migrations"
    config.set_main_option("script_location", str(migrations))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0004")
        # What the partitioning before 0005 made of a year-1 reading: PostgreSQL reads
        # '1-01-01' as 2001-01-01, so this partition took January 2001.
        conn.exec_driver_sql(
            "CREATE TABLE readings_y1 PARTITION OF readings"
            " FOR VALUES FROM ('1-01-01 00:00+00') TO ('2-01-01 00:00+00')"
        )
        conn.exec_driver_sql(
            "INSERT INTO sites VALUES (1, 's', 's', 's', 'UTC', false, '', now());"
            "INSERT INTO instruments (id, site_id, code, type, manual)"
            " VALUES (1, 1, 'i', 'x', false);"
            "INSERT INTO channels VALUES (1, 1, 1, 'c', 'q', 'm', null, null, '{}');"
            "INSERT INTO readings VALUES (1, '2001-01-15 00:00+00', 1.5, null)"
        )
    engine.dispose()

    store = open_store(store_url)  # migrates to the newest version
    written = store.write_readings(_batch(1, [2001, 2002]))
    times, values = store.readings(1)
    store.close()

    assert written == 2
    assert len(times) == 3 and values[0] == 1.5
