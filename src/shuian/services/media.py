"""The media library: binary objects kept as files, their metadata in the store, retention.

An object (a camera image, an SL 651 picture, an inspection photo, a generated report) is put
with its site, source, the time it was taken and a retention class. Its type is read from its
bytes (:func:`shuian.media.content_type`); its bytes become a file named by their SHA-256
under the media folder (:class:`shuian.media.ContentFiles`); its row names the file.

The same bytes put again by the same source for the same time are the object kept before (a
station sending a picture twice, a re-run of a report); the same bytes from another source or
for another time are another object sharing the one file. A file is removed only when its last
object goes.

Retention (:class:`RetentionPolicy`) keeps the folder bounded: each class has a greatest age,
counted from when the object was kept (not taken: a backlog loaded today is not removed at
once, and a station clock years off cannot keep its pictures for ever); and the folder has a
greatest size, which removes the oldest objects of the classes named in ``evict_first``
(routine camera frames) until it fits. :func:`apply_retention` is the periodic job.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import sqlalchemy as sa

from shuian.errors import InvalidRequestError, NotFoundError
from shuian.faults import printable
from shuian.media import MAX_OBJECT_BYTES, ContentFiles, check_size
from shuian.media import types as media_types
from shuian.settings import settings
from shuian.store import Store
from shuian.store.media import MAX_MEDIA_IDS, MediaUsage, StoredMedia

__all__ = [
    "DEFAULT_MAX_AGE_S",
    "MediaLibrary",
    "RetentionPolicy",
    "RetentionReport",
    "apply_retention",
    "default_media_dir",
]

_DAY_S = 86_400.0
#: The retention classes and how long each is kept (seconds; None: for ever).
DEFAULT_MAX_AGE_S: Mapping[str, float | None] = {
    "routine": 30 * _DAY_S,  # periodic camera frames, SL 651 pictures
    "event": 5 * 365 * _DAY_S,  # images of an alarm or an inspection's finding
    "report": 10 * 365 * _DAY_S,  # generated PDF and Excel reports
}
#: The media folder's greatest size unless set (bytes; 50 GiB).
DEFAULT_MAX_TOTAL_BYTES = 50 * 2**30
#: Temporary files older than this are left by a crash and removed (seconds).
STALE_INCOMING_S = 3600.0
#: Longest source and name of an object (characters: the columns' sizes).
MAX_SOURCE = 128
MAX_NAME = 255
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def default_media_dir(url: str | None) -> Path:
    """The media folder of a store: ``$SHUIAN_MEDIA_DIR``, else beside an SQLite file.

    Parameters
    ----------
    url : str or None
        The store's URL (None: ``$SHUIAN_DB`` or ``sqlite:///shuian.db``).

    Returns
    -------
    Path
        ``$SHUIAN_MEDIA_DIR`` when set; for ``sqlite:///DIR/x.db`` the folder ``DIR/media``
        (the data stay together); otherwise (PostgreSQL, an in-memory SQLite) ``./media``.
    """
    process = settings()
    if process.media_dir is not None:
        return process.media_dir
    url = url or process.db.get_secret_value()
    if url.startswith("sqlite:"):
        database = sa.engine.make_url(url).database
        if database and database != ":memory:" and not database.startswith("file:"):
            return Path(database).parent / "media"
    return Path("media")


@dataclass(frozen=True)
class RetentionPolicy:
    """How long each retention class is kept, and how large the media folder may grow.

    Attributes
    ----------
    max_age_s : mapping of str to float or None
        The classes objects may be put in, each with its greatest age (seconds since the
        object was kept; None: kept until removed by hand). Default
        :data:`DEFAULT_MAX_AGE_S`: ``routine`` 30 days, ``event`` 5 years, ``report`` 10.
    max_total_bytes : int or None
        The most bytes of files the folder may hold (each file once); None: no cap. Over it,
        the oldest objects of ``evict_first`` are removed until it fits.
    evict_first : tuple of str
        The classes the size cap removes, in this order, oldest first in each; the others are
        never removed for size (default: routine only).
    """

    max_age_s: Mapping[str, float | None] = field(
        default_factory=lambda: dict(DEFAULT_MAX_AGE_S))
    max_total_bytes: int | None = DEFAULT_MAX_TOTAL_BYTES
    evict_first: tuple[str, ...] = ("routine",)

    def __post_init__(self) -> None:
        for name, age in self.max_age_s.items():
            if not name.isidentifier() or len(name) > 32:
                raise InvalidRequestError(
                    f"retention class {name[:40]!r}: a name of letters, digits and _ up to 32")
            if age is not None and age <= 0:
                raise InvalidRequestError(
                    f"retention class {name!r}: its greatest age ({age} s) must be positive")
        unknown = [c for c in self.evict_first if c not in self.max_age_s]
        if unknown:
            raise InvalidRequestError(f"evict_first names {unknown}, which are not retention "
                                      f"classes ({sorted(self.max_age_s)})")
        if self.max_total_bytes is not None and self.max_total_bytes < 0:
            raise InvalidRequestError("max_total_bytes must be 0 or more (None: no cap)")

    def check(self, retention: str) -> str:
        """Give ``retention`` back if it is a class; refuse it naming the classes."""
        if retention not in self.max_age_s:
            raise InvalidRequestError(
                f"retention class {printable(retention)[:40]!r} is not one of "
                f"{sorted(self.max_age_s)}")
        return retention


@dataclass
class RetentionReport:
    """What one pass of retention removed.

    Attributes
    ----------
    expired : list of int
        Ids of the objects removed for their age.
    evicted : list of int
        Ids of the objects removed for the folder's size (oldest of ``evict_first``).
    files_removed : int
        Files removed (each when its last object went).
    bytes_freed : int
        Bytes of those files.
    temporary_removed : int
        Temporary files a crashed write left, removed.
    """

    expired: list[int] = field(default_factory=list)
    evicted: list[int] = field(default_factory=list)
    files_removed: int = 0
    bytes_freed: int = 0
    temporary_removed: int = 0


def _us(moment: dt.datetime) -> int:
    if moment.tzinfo is None:
        raise InvalidRequestError(
            f"the time {moment.isoformat()} has no zone: give the time an object was taken "
            "with its offset (or in UTC)")
    return (moment - _EPOCH) // dt.timedelta(microseconds=1)


def _text(what: str, value: str, limit: int) -> str:
    if not value or len(value) > limit or not value.isprintable():
        raise InvalidRequestError(
            f"the {what} {printable(value)[:80]!r} must be 1 to {limit} printable characters")
    return value


class MediaLibrary:
    """Objects of the store's sites, their files under ``root``, and their retention.

    Parameters
    ----------
    store : Store
        Where the objects' metadata are kept.
    root : Path
        The media folder (made on the first put).
    policy : RetentionPolicy, optional
        Retention classes, ages and the folder's cap; default :class:`RetentionPolicy`.
    max_object_bytes : int, optional
        The largest object put (bytes); default 32 MiB.
    """

    def __init__(
        self, store: Store, root: Path, *, policy: RetentionPolicy | None = None,
        max_object_bytes: int = MAX_OBJECT_BYTES,
    ) -> None:
        self.store = store
        self.files = ContentFiles(root)
        self.policy = policy or RetentionPolicy()
        self.max_object_bytes = max_object_bytes

    # -- putting and reading ----------------------------------------------------------------

    def put(
        self, data: bytes, *, site_id: int, source: str, taken_at: dt.datetime,
        content_type: str | None = None, retention: str = "routine", name: str | None = None,
        now_us: int | None = None,
    ) -> StoredMedia:
        """Keep an object: its file (atomically, once per content) and its row.

        Parameters
        ----------
        data : bytes
            The whole object, at most ``max_object_bytes``.
        site_id : int
            The site it belongs to.
        source : str
            Where it came from (``sl651:0012345678``, ``camera:spillway``, ``user:alice``).
        taken_at : datetime.datetime
            When it was taken (with its zone).
        content_type : str, optional
            The type the sender declares; the bytes decide, and must agree.
        retention : str, optional
            Its retention class (default ``routine``).
        name : str, optional
            A file name for downloads (no folders).
        now_us : int, optional
            When it is kept (µs since 1970 UTC), from which its age counts; default now.

        Returns
        -------
        StoredMedia
            The object kept, or the one kept before for the same site, source, bytes and time.

        Raises
        ------
        TooLargeError
            When ``data`` is larger than ``max_object_bytes`` (HTTP 413).
        InvalidRequestError
            When the bytes are none of the kinds kept, not the kind declared, or the retention
            class, source, name or time is not one that can be kept (HTTP 400).
        StoreUnavailableError
            When the folder or the database cannot take it now.
        """
        check_size(len(data), limit=self.max_object_bytes)
        kind = media_types.content_type(data, declared=content_type)
        self.policy.check(retention)
        _text("source", source, MAX_SOURCE)
        if name is not None and (_text("name", name, MAX_NAME) in {".", ".."}
                                 or any(c in name for c in "/\\")):
            raise InvalidRequestError(f"the name {printable(name)[:80]!r} must be a file's "
                                      "name, without folders")
        taken_us = _us(taken_at)
        # The bytes are written first, outside the row's transaction (which holds the database's
        # write lock on SQLite); inside it, keep_file only makes sure the file is still there.
        digest = self.files.put(data)
        item, _ = self.store.add_media(
            site_id=site_id, source=source, taken_us=taken_us,
            stored_us=time.time_ns() // 1000 if now_us is None else now_us, sha256=digest,
            size=len(data), content_type=kind, retention=retention, name=name,
            keep_file=lambda: self._keep(digest, data),
        )
        return item

    def _keep(self, digest: str, data: bytes) -> None:
        if not self.files.exists(digest):  # a retention pass removed it since it was written
            self.files.put(data)

    def get(self, media_id: int) -> StoredMedia:
        """The object ``media_id`` (:class:`NotFoundError` when there is none)."""
        return self.store.media_item(media_id)

    def _missing(self, item: StoredMedia) -> NotFoundError:
        return NotFoundError(
            f"media {item.id}: its file {item.sha256} is missing from the media folder "
            f"{self.files.root} (removed by hand, or another folder is configured)")

    def path(self, item: StoredMedia) -> Path:
        """The file of an object; :class:`NotFoundError` when it is missing from the folder."""
        path = self.files.path(item.sha256)
        if not path.is_file():
            raise self._missing(item)
        return path

    def open(self, media_id: int) -> tuple[StoredMedia, BinaryIO]:
        """The object ``media_id`` and its bytes, open for reading (the caller closes them).

        An open file stays readable even if retention removes it meanwhile.
        """
        item = self.get(media_id)
        try:
            return item, self.files.path(item.sha256).open("rb")
        except FileNotFoundError as exc:
            raise self._missing(item) from exc

    def read(self, media_id: int) -> tuple[StoredMedia, bytes]:
        """The object ``media_id`` and its bytes."""
        item, source = self.open(media_id)
        with source:
            return item, source.read()

    def usage(self) -> tuple[dict[str, MediaUsage], int]:
        """Objects and bytes per retention class, and the bytes of the folder's files."""
        return self.store.media_usage(), self.store.media_file_bytes()

    # -- retention ------------------------------------------------------------------------------

    def _remove(self, digests: list[str]) -> None:
        for digest in digests:
            self.files.delete(digest)

    def _delete(self, rows: list[StoredMedia], report: RetentionReport) -> list[int]:
        deleted, gone = self.store.delete_media([r.id for r in rows], remove_files=self._remove)
        sizes = {r.sha256: r.size for r in deleted}
        report.files_removed += len(gone)
        report.bytes_freed += sum(sizes[g] for g in gone)
        return [r.id for r in deleted]

    def _evict(self, cap: int, budget: int, report: RetentionReport) -> int:
        """Remove the oldest objects of ``evict_first`` until the files fit in ``cap`` bytes."""
        for retention in self.policy.evict_first:
            after: tuple[int, int] | None = None
            total = self.store.media_file_bytes()
            while total > cap and budget > 0:
                rows = self.store.media_oldest(retention, after=after,
                                               limit=min(budget, MAX_MEDIA_IDS))
                if not rows:
                    break
                chosen = _enough(rows, self.store.media_references([r.sha256 for r in rows]),
                                 total - cap)
                report.evicted += self._delete(chosen, report)
                budget -= len(chosen)
                after = (chosen[-1].stored_us, chosen[-1].id)
                total = self.store.media_file_bytes()
        return budget

    def apply_retention(
        self, now_us: int | None = None, *, max_objects: int = 100_000
    ) -> RetentionReport:
        """Remove what the policy no longer keeps: objects past their age, then over the cap.

        Parameters
        ----------
        now_us : int, optional
            The time of the pass (µs since 1970 UTC); default now.
        max_objects : int, optional
            Most objects one pass removes (the next pass goes on), so that a pass is short.

        Returns
        -------
        RetentionReport
            The objects removed (by age, by size), files and bytes freed.
        """
        now_us = time.time_ns() // 1000 if now_us is None else now_us
        report = RetentionReport()
        budget = max_objects
        for retention, age_s in self.policy.max_age_s.items():
            if age_s is None:
                continue
            cutoff = now_us - int(age_s * 1e6)
            while budget > 0:
                rows = self.store.media_oldest(retention, stored_before_us=cutoff,
                                               limit=min(budget, MAX_MEDIA_IDS))
                if not rows:
                    break
                report.expired += self._delete(rows, report)
                budget -= len(rows)
        cap = self.policy.max_total_bytes
        if cap is not None:
            budget = self._evict(cap, budget, report)
        report.temporary_removed = self.files.remove_incoming(older_than_s=STALE_INCOMING_S)
        return report


def _enough(rows: list[StoredMedia], references: dict[str, int], over: int) -> list[StoredMedia]:
    """The first of ``rows`` whose removal frees ``over`` bytes (a file once its last row goes)."""
    planned: dict[str, int] = {}
    freed = 0
    for i, row in enumerate(rows):
        planned[row.sha256] = planned.get(row.sha256, 0) + 1
        if planned[row.sha256] == references.get(row.sha256, 0):
            freed += row.size
        if freed >= over:
            return rows[:i + 1]
    return rows


def apply_retention(
    store: Store, root: Path, *, now_us: int | None = None, policy: RetentionPolicy | None = None,
) -> RetentionReport:
    """One pass of media retention over a store and its media folder: the worker's job.

    Parameters
    ----------
    store : Store
        The store holding the media's metadata.
    root : Path
        The media folder.
    now_us : int, optional
        The time of the pass (µs since 1970 UTC); default now.
    policy : RetentionPolicy, optional
        Default :class:`RetentionPolicy` (routine 30 days, event 5 years, report 10, 50 GiB).

    Returns
    -------
    RetentionReport
        What was removed.
    """
    return MediaLibrary(store, root, policy=policy).apply_retention(now_us)
