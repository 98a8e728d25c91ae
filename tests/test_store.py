"""Specification of the store, the same contract on SQLite and on PostgreSQL.

Times travel as int64 microseconds since 1970 UTC, values as float64; both come back exactly.
"""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from shuian.errors import (
    InvalidRequestError,
    NoSiteError,
    NotFoundError,
    StoreError,
    StoreUnavailableError,
)
from shuian.readings import ReadingBatch, Rejection
from shuian.site import Site, parse_site
from shuian.store import Store, StoredSite, open_store

SITE_FILE = Path(__file__).parent / "data" / "site.yaml"



def us(text: str) -> int:
    """Microseconds since 1970 of an ISO time with offset."""
    stamp = dt.datetime.fromisoformat(text)
    return (stamp - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)


def batch(
    channel_id: int, times: list[int], values: list[float], raw: list[float] | None = None
) -> ReadingBatch:
    return ReadingBatch(
        channel_id=np.full(len(times), channel_id, dtype=np.int64),
        time_us=np.array(times, dtype=np.int64),
        value=np.array(values, dtype=np.float64),
        raw=np.array(raw if raw is not None else [np.nan] * len(times), dtype=np.float64),
    )


def channel_ids(store: Store, stored: StoredSite) -> dict[str, int]:
    return {c.code: c.id for c in store.channels(stored.id)}


# --- schema and site ----------------------------------------------------------------------------


def test_migrating_twice_is_harmless(store: Store, site: Site) -> None:
    store.migrate()
    store.migrate()
    store.save_site(site, SITE_FILE.read_text(encoding="utf-8"))
    assert store.sites() == ["testres"]


def test_a_saved_site_comes_back_as_the_same_model(stored_site: StoredSite, site: Site) -> None:
    assert stored_site.site == site
    assert stored_site.definition == SITE_FILE.read_text(encoding="utf-8")


def test_a_store_opened_again_finds_the_site(store_url: str, stored_site: StoredSite) -> None:
    again = open_store(store_url)
    try:
        assert again.site().site == stored_site.site
    finally:
        again.close()


def test_channels_are_listed_by_code_with_instrument_type_unit_and_limits(
    store: Store, stored_site: StoredSite
) -> None:
    infos = store.channels(stored_site.id)
    assert [c.code for c in infos] == sorted(c.code for c in stored_site.site.channels())
    head = store.channel(stored_site.id, "P1.head")
    assert (head.instrument, head.type, head.quantity, head.unit) == (
        "P1", "piezometer", "piezometric_head", "m"
    )
    assert (head.limit_min, head.limit_max) == (90.0, 150.0)


def test_saving_the_site_again_keeps_channel_ids_and_updates_what_changed(
    store: Store, stored_site: StoredSite
) -> None:
    before = channel_ids(store, stored_site)
    text = SITE_FILE.read_text(encoding="utf-8").replace("limits: {min: 90, max: 150}}",
                                                         "limits: {min: 80, max: 150}}")
    changed = parse_site(text)
    assert store.save_site(changed, text) == stored_site.id
    assert channel_ids(store, stored_site) == before
    assert store.channel(stored_site.id, "WL.level").limit_min == 80.0
    assert store.site().site == changed


def test_saving_a_site_raises_no_warning(store: Store, site: Site) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        store.save_site(site, SITE_FILE.read_text(encoding="utf-8"))
        store.save_site(site, SITE_FILE.read_text(encoding="utf-8"))


# --- readings -----------------------------------------------------------------------------------


def test_writing_returns_the_new_rows_and_writing_again_adds_nothing(
    store: Store, stored_site: StoredSite
) -> None:
    wl = channel_ids(store, stored_site)["WL.level"]
    readings = batch(wl, [us("2024-01-01T00:00:00+00:00"), us("2024-01-01T01:00:00+00:00")],
                     [120.0, 121.0])
    assert store.write_readings(readings) == 2
    assert store.write_readings(readings) == 0
    assert len(store.readings(wl)[0]) == 2


def test_a_batch_partly_stored_already_writes_only_the_new_rows(
    store: Store, stored_site: StoredSite
) -> None:
    wl = channel_ids(store, stored_site)["WL.level"]
    t0, t1, t2 = (us(f"2024-01-01T0{h}:00:00+00:00") for h in range(3))
    store.write_readings(batch(wl, [t0, t1], [120.0, 121.0]))
    assert store.write_readings(batch(wl, [t1, t2], [999.0, 122.0])) == 1
    times, values = store.readings(wl)
    assert times.tolist() == [t0, t1, t2]
    assert values.tolist() == [120.0, 121.0, 122.0]  # the stored reading is kept as it was


def test_a_reading_repeated_within_one_batch_is_stored_once(
    store: Store, stored_site: StoredSite
) -> None:
    wl = channel_ids(store, stored_site)["WL.level"]
    t = us("2024-01-01T00:00:00+00:00")
    assert store.write_readings(batch(wl, [t, t, t], [120.0, 120.0, 120.0])) == 1
    assert store.readings(wl)[0].tolist() == [t]


def test_an_empty_batch_writes_nothing(store: Store, stored_site: StoredSite) -> None:
    assert store.write_readings(ReadingBatch.empty()) == 0


def test_times_to_the_microsecond_and_values_come_back_exactly(
    store: Store, stored_site: StoredSite
) -> None:
    wl = channel_ids(store, stored_site)["WL.level"]
    times = [us("1999-12-31T23:59:59.999999+00:00"), us("2024-02-29T12:00:00.000001+00:00"),
             us("2024-07-01T00:00:00.123456+00:00")]
    values = [0.1 + 0.2, -1e-300, 123456789.123456789]
    store.write_readings(batch(wl, times[::-1], values[::-1]))
    got_times, got_values = store.readings(wl)
    assert got_times.dtype == np.int64 and got_values.dtype == np.float64
    assert got_times.tolist() == times  # ordered by time
    assert got_values.tolist() == values


def test_readings_respect_start_included_end_excluded(
    store: Store, stored_site: StoredSite
) -> None:
    wl = channel_ids(store, stored_site)["WL.level"]
    times = [us(f"2024-01-01T0{h}:00:00+00:00") for h in range(5)]
    store.write_readings(batch(wl, times, [120.0, 121.0, 122.0, 123.0, 124.0]))
    got, values = store.readings(wl, times[1], times[3])
    assert got.tolist() == times[1:3]
    assert values.tolist() == [121.0, 122.0]
    assert store.readings(wl, start_us=times[3])[0].tolist() == times[3:]
    assert store.readings(wl, end_us=times[1])[0].tolist() == times[:1]
    assert len(store.readings(wl, times[2], times[2])[0]) == 0


def test_readings_of_a_channel_without_readings_are_empty_arrays(
    store: Store, stored_site: StoredSite
) -> None:
    times, values = store.readings(channel_ids(store, stored_site)["T1.temp"])
    assert times.dtype == np.int64 and values.dtype == np.float64
    assert len(times) == len(values) == 0


def test_readings_of_one_channel_do_not_include_another(
    store: Store, stored_site: StoredSite
) -> None:
    ids = channel_ids(store, stored_site)
    t = us("2024-01-01T00:00:00+00:00")
    store.write_readings(batch(ids["WL.level"], [t], [120.0]))
    store.write_readings(batch(ids["LOG.batt"], [t], [12.5]))
    assert store.readings(ids["LOG.batt"])[1].tolist() == [12.5]


def test_a_raw_reading_is_kept_and_a_missing_one_is_null(
    store: Store, stored_site: StoredSite
) -> None:
    head = channel_ids(store, stored_site)["P1.head"]
    times = [us("2024-01-01T00:00:00+00:00"), us("2024-01-01T01:00:00+00:00")]
    store.write_readings(batch(head, times, [105.0, 106.0], raw=[8000.25, np.nan]))
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT value, raw FROM readings WHERE channel_id = :c ORDER BY value"),
            {"c": head},
        ).all()
    assert [tuple(r) for r in rows] == [(105.0, 8000.25), (106.0, None)]


def test_readings_over_several_years_are_stored_in_yearly_partitions_and_read_back(
    store: Store, stored_site: StoredSite
) -> None:
    wl = channel_ids(store, stored_site)["WL.level"]
    times = [us(f"{year}-06-30T12:00:00+00:00") for year in (2009, 2019, 2024, 2031)]
    times.append(us("2024-12-31T23:59:59.999999+00:00"))
    times.append(us("2025-01-01T00:00:00+00:00"))
    times.sort()
    assert store.write_readings(batch(wl, times, [120.0 + i for i in range(len(times))])) == 6
    assert store.readings(wl)[0].tolist() == times
    assert store.readings(wl, us("2025-01-01T00:00:00+00:00"))[0].tolist() == times[-2:]
    if store.engine.dialect.name == "postgresql":  # one partition per year, made on demand
        with store.engine.connect() as conn:
            for year, n in ((2009, 1), (2024, 2), (2025, 1), (2031, 1)):
                assert conn.scalar(sa.text(f"SELECT count(*) FROM readings_y{year}")) == n


def test_latest_gives_the_newest_reading_of_each_channel_with_readings(
    store: Store, stored_site: StoredSite
) -> None:
    ids = channel_ids(store, stored_site)
    t0, t1 = us("2024-01-01T00:00:00+00:00"), us("2024-01-02T00:00:00+00:00")
    store.write_readings(batch(ids["WL.level"], [t1, t0], [121.0, 120.0]))
    store.write_readings(batch(ids["LOG.batt"], [t0], [12.5]))
    assert store.latest(stored_site.id) == [("LOG.batt", t0, 12.5), ("WL.level", t1, 121.0)]


def test_latest_is_empty_before_any_reading(store: Store, stored_site: StoredSite) -> None:
    assert store.latest(stored_site.id) == []


def test_reading_counts_are_per_instrument_type_with_first_and_last(
    store: Store, stored_site: StoredSite
) -> None:
    ids = channel_ids(store, stored_site)
    first, middle, last = (us(f"202{y}-01-01T00:00:00+00:00") for y in (2, 3, 4))
    store.write_readings(batch(ids["WL.level"], [middle, last], [120.0, 121.0]))
    store.write_readings(batch(ids["LOG.batt"], [first], [12.5]))
    store.write_readings(batch(ids["LOG.rh"], [middle], [50.0]))
    assert store.reading_counts(stored_site.id) == {
        "readings": 4,
        "by_type": {"water_level": 2, "air_temperature": 2},
        "first_us": first,
        "last_us": last,
    }


def test_reading_counts_of_an_empty_site_are_zero(store: Store, stored_site: StoredSite) -> None:
    assert store.reading_counts(stored_site.id) == {
        "readings": 0, "by_type": {}, "first_us": None, "last_us": None
    }


# --- rejections ---------------------------------------------------------------------------------


def test_rejections_are_kept_with_source_line_raw_text_and_reason(
    store: Store, stored_site: StoredSite
) -> None:
    store.write_rejections(stored_site.id, [
        Rejection("a.csv", 3, "WL.level,2024-01-01,abc", "value is not a number", "WL.level"),
        Rejection("a.csv", 7, "NOPE,2024-01-01,1", "unknown channel", "NOPE"),
    ])
    kept = store.rejections(stored_site.id)
    assert [(r.source, r.line, r.raw, r.reason, r.channel) for r in kept] == [
        ("a.csv", 7, "NOPE,2024-01-01,1", "unknown channel", "NOPE"),  # newest first
        ("a.csv", 3, "WL.level,2024-01-01,abc", "value is not a number", "WL.level"),
    ]
    assert all(isinstance(r.received_at, dt.datetime) for r in kept)
    assert store.rejection_count(stored_site.id) == 2


def test_the_same_rejection_written_twice_is_kept_once(
    store: Store, stored_site: StoredSite
) -> None:
    rejection = Rejection("a.csv", 3, "WL.level,x,1", "time is not ISO 8601", "WL.level")
    store.write_rejections(stored_site.id, [rejection])
    store.write_rejections(stored_site.id, [rejection])
    assert store.rejection_count(stored_site.id) == 1


def test_the_same_rejection_without_a_line_written_twice_is_kept_once(
    store: Store, stored_site: StoredSite
) -> None:
    rejection = Rejection("mqtt", None, "WL.level,x,1", "time is not ISO 8601", "WL.level")
    store.write_rejections(stored_site.id, [rejection])
    store.write_rejections(stored_site.id, [rejection])
    assert store.rejection_count(stored_site.id) == 1


def test_a_long_rejected_text_is_kept_whole_and_once(
    store: Store, stored_site: StoredSite
) -> None:
    frame_hex = "7E7E" + "A5" * 50_000  # a 50 kB frame, as hex
    rejection = Rejection("sl651:10.0.0.7:4000", None, frame_hex, "CRC mismatch")
    store.write_rejections(stored_site.id, [rejection])
    store.write_rejections(stored_site.id, [rejection])
    [kept] = store.rejections(stored_site.id)
    assert kept.raw == frame_hex


def test_rejections_are_paged_newest_first(store: Store, stored_site: StoredSite) -> None:
    store.write_rejections(
        stored_site.id, [Rejection("a.csv", n, f"row {n}", "bad") for n in range(1, 6)]
    )
    page = store.rejections(stored_site.id, limit=2, offset=1)
    assert [r.line for r in page] == [4, 3]


# --- errors -------------------------------------------------------------------------------------


def test_an_empty_store_has_no_site(store: Store, store_url: str) -> None:
    with pytest.raises(NoSiteError, match="shuian init"):
        store.site()
    assert isinstance(NoSiteError(store_url), StoreError)


def test_an_unknown_channel_is_not_found_and_named(
    store: Store, stored_site: StoredSite
) -> None:
    with pytest.raises(NotFoundError, match="'NOPE'"):
        store.channel(stored_site.id, "NOPE")


def test_an_unknown_site_code_is_not_found_and_named(
    store: Store, stored_site: StoredSite
) -> None:
    with pytest.raises(NotFoundError, match="'other'"):
        store.site("other")


@pytest.mark.parametrize(
    "url",
    ["postgresql://postgres@127.0.0.1:1/test", "sqlite:////nonexistent-folder/sub/shuian.db"],
)
def test_an_unreachable_database_is_unavailable_naming_the_url(url: str) -> None:
    with pytest.raises(StoreUnavailableError) as caught:
        open_store(url)
    assert url in str(caught.value)


def test_an_unsupported_url_scheme_is_an_invalid_request_naming_the_url() -> None:
    with pytest.raises(InvalidRequestError, match="mysql://db/x"):
        open_store("mysql://db/x")
