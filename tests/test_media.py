"""Specification of the media store (``shuian.media``, ``shuian.services.media``, the API).

Objects are real files under a real folder, their metadata in the real store (SQLite and
PostgreSQL); the API is served by the application itself.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import shuian
from conftest import Api, login_as, serve
from shuian.api import create_app
from shuian.errors import InvalidRequestError, NotFoundError, TooLargeError
from shuian.media import INCOMING, XLSX, ContentFiles, content_type, digest_of
from shuian.services.accounts import AuthSettings
from shuian.services.media import (
    MediaLibrary,
    RetentionPolicy,
    apply_retention,
    default_media_dir,
)
from shuian.store import Store, StoredSite
from shuian.store.media import StoredMedia

JPEG = bytes.fromhex("FFD8FFE000104A464946") + bytes(range(256)) + bytes.fromhex("FFD9")
PNG = b"\x89PNG\r\n\x1a\n" + bytes(32)
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n%%EOF\n"
TAKEN = dt.datetime(2024, 7, 25, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
TAKEN_US = int(TAKEN.timestamp()) * 1_000_000
NOW_US = 1_760_000_000_000_000  # 2025-10-09
DAY_US = 86_400 * 1_000_000


def xlsx() -> bytes:
    """The smallest workbook-shaped ZIP: the parts that make a ZIP an XLSX."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    return out.getvalue()


def plain_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "hello")
    return out.getvalue()


@pytest.fixture
def library(store: Store, stored_site: StoredSite, tmp_path: Path) -> MediaLibrary:
    """A media library over the test site's store, its folder in the test's own folder."""
    return MediaLibrary(store, tmp_path / "media")


def put(
    library: MediaLibrary, data: bytes = JPEG, *, source: str = "camera:crest",
    taken_at: dt.datetime = TAKEN, now_us: int = NOW_US, retention: str = "routine",
    content_type: str | None = None, name: str | None = None,
) -> StoredMedia:
    """Put an object of the test site (kept at ``now_us``)."""
    return library.put(data, site_id=library.store.site().id, source=source, taken_at=taken_at,
                       now_us=now_us, retention=retention, content_type=content_type, name=name)


# --- the folder: content-addressed, atomic ----------------------------------------------------


def test_an_object_is_named_by_the_sha256_of_its_bytes_in_fanned_out_folders(
    tmp_path: Path,
) -> None:
    files = ContentFiles(tmp_path)
    digest = files.put(JPEG)
    assert digest == digest_of(JPEG) and len(digest) == 64
    assert files.path(digest) == tmp_path / digest[:2] / digest[2:4] / digest
    assert files.read(digest) == JPEG and files.size() == len(JPEG)


def test_the_same_bytes_are_written_once(tmp_path: Path) -> None:
    files = ContentFiles(tmp_path)
    first = files.path(files.put(JPEG)).stat()
    again = files.path(files.put(JPEG)).stat()
    assert (again.st_ino, again.st_mtime_ns) == (first.st_ino, first.st_mtime_ns)
    assert files.size() == len(JPEG)


def test_the_temporary_file_is_never_at_the_objects_name(tmp_path: Path) -> None:
    files = ContentFiles(tmp_path)
    files.put(PNG)
    assert list((tmp_path / INCOMING).iterdir()) == []  # renamed away, nothing left over


def test_a_crash_before_the_rename_leaves_no_object(tmp_path: Path) -> None:
    # A real crash: the writing process is killed where it would rename the temporary file.
    code = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from shuian.media import files\n"
        "files.os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)\n"
        "files.ContentFiles(Path(sys.argv[1])).put(b'\\xff\\xd8\\xff' + bytes(1000))\n"
    )
    env = os.environ | {"PYTHONPATH": str(Path(shuian.__file__).parents[1])}
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env, timeout=60,
                          check=False)
    assert done.returncode == -9
    files = ContentFiles(tmp_path)
    digest = digest_of(b"\xff\xd8\xff" + bytes(1000))
    assert not files.exists(digest) and files.size() == 0
    with pytest.raises(NotFoundError, match=f"no object {digest}"):
        files.read(digest)
    [left] = (tmp_path / INCOMING).iterdir()
    assert left.name.endswith(".part")  # never a digest: never read as an object
    assert files.remove_incoming(older_than_s=3600) == 0  # a write may still be going on
    assert files.remove_incoming(older_than_s=0, now_s=left.stat().st_mtime + 1) == 1
    assert list((tmp_path / INCOMING).iterdir()) == []


@pytest.mark.parametrize("name", [
    "../../etc/passwd", "..", "", "a" * 63, "A" * 64, "a" * 64 + "/x", "/" + "a" * 63,
    "a" * 32 + "/../" + "a" * 28,
])
def test_a_name_that_is_not_a_digest_never_becomes_a_path(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidRequestError, match="not an object name"):
        ContentFiles(tmp_path).path(name)


# --- kinds: read from the bytes --------------------------------------------------------------


@pytest.mark.parametrize(("data", "kind"), [
    (JPEG, "image/jpeg"),
    (PNG, "image/png"),
    (b"GIF89a" + bytes(20), "image/gif"),
    (b"RIFF\x1a\x00\x00\x00WEBPVP8 " + bytes(14), "image/webp"),
    (PDF, "application/pdf"),
    (xlsx(), XLSX),
    (plain_zip(), "application/zip"),
    (b"\x00\x00\x00\x18ftypisom" + bytes(12), "video/mp4"),
    ("水位,时间\n120.5,2024-07-25\n".encode(), "text/plain"),
])
def test_the_kind_is_read_from_the_bytes(data: bytes, kind: str) -> None:
    assert content_type(data) == kind
    assert content_type(data, declared=kind) == kind
    assert content_type(data, declared="application/octet-stream") == kind


def test_text_declared_csv_is_csv() -> None:
    assert content_type(b"a,b\r\n1,2\r\n", declared="text/csv; charset=utf-8") == "text/csv"


def test_a_declared_type_that_disagrees_with_the_bytes_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match=r"declared 'image/jpeg' but its bytes are "
                                                  r"'application/pdf'"):
        content_type(PDF, declared="image/jpeg")


@pytest.mark.parametrize("data", [
    b"MZ\x90\x00" + bytes(60),  # a Windows program
    b"\x7fELF" + bytes(60),  # a Linux one
    b"<svg onload=alert(1)>\x00",  # text with a NUL is no text
    b"\xff\xfe" + "text".encode("utf-16-le"),  # not UTF-8
    b"PK\x03\x04 not really a zip",
])
def test_a_kind_not_kept_is_refused(data: bytes) -> None:
    with pytest.raises(InvalidRequestError):
        content_type(data)


# --- the library: put, read, the same bytes twice -------------------------------------------


def test_an_object_is_read_back_byte_equal_with_its_type(library: MediaLibrary) -> None:
    item = put(library, PDF, retention="report", name="月报 2024-07.pdf")
    found, data = library.read(item.id)
    assert data == PDF and found == item
    assert (found.content_type, found.size, found.retention, found.name) == (
        "application/pdf", len(PDF), "report", "月报 2024-07.pdf")
    assert (found.taken_us, found.stored_us, found.source) == (TAKEN_US, NOW_US, "camera:crest")


def test_the_same_object_put_twice_is_one_row_and_one_file(library: MediaLibrary) -> None:
    first, again = put(library), put(library)
    assert again == first
    assert library.usage() == ({"routine": library.store.media_usage()["routine"]}, len(JPEG))
    assert library.store.media_usage()["routine"].count == 1


def test_putting_an_object_again_restores_its_missing_file(library: MediaLibrary) -> None:
    item = put(library)
    library.files.path(item.sha256).unlink()
    with pytest.raises(NotFoundError, match="is missing from the media folder"):
        library.read(item.id)
    assert put(library) == item and library.read(item.id)[1] == JPEG


def test_the_same_bytes_from_another_source_are_another_row_naming_the_same_file(
    library: MediaLibrary,
) -> None:
    a = put(library, source="camera:crest")
    b = put(library, source="camera:spillway")
    assert a.id != b.id and a.sha256 == b.sha256
    assert library.usage()[1] == len(JPEG) and library.files.size() == len(JPEG)


def test_an_object_too_large_is_refused_naming_the_limit(
    store: Store, stored_site: StoredSite, tmp_path: Path,
) -> None:
    library = MediaLibrary(store, tmp_path / "media", max_object_bytes=1024)
    with pytest.raises(TooLargeError, match="more than the 1024 bytes") as refused:
        put(library, JPEG + bytes(1024))
    assert refused.value.status == 413
    assert store.media_count(stored_site.id) == 0 and library.files.size() == 0


def test_a_wrong_type_or_retention_class_is_refused_and_nothing_kept(
    library: MediaLibrary,
) -> None:
    with pytest.raises(InvalidRequestError, match="declared 'image/png'"):
        put(library, JPEG, content_type="image/png")
    with pytest.raises(InvalidRequestError, match=r"retention class 'forever' is not one of "
                                                  r"\['event', 'report', 'routine'\]"):
        put(library, retention="forever")
    with pytest.raises(InvalidRequestError, match="without folders"):
        put(library, name="../../x.jpg")
    with pytest.raises(InvalidRequestError, match="has no zone"):
        put(library, taken_at=dt.datetime(2024, 7, 25, 8))
    assert library.store.media_usage() == {} and library.files.size() == 0


def test_a_site_s_objects_are_listed_by_source_and_time_newest_first(
    library: MediaLibrary,
) -> None:
    hour = dt.timedelta(hours=1)
    for i in range(5):
        put(library, JPEG + bytes([i]), taken_at=TAKEN + i * hour,
            source="camera:crest" if i % 2 else "camera:spillway")
    site_id = library.store.site().id
    crest = library.store.media_items(site_id, source="camera:crest")
    assert [m.taken_us for m in crest] == [TAKEN_US + 3 * 3600_000_000, TAKEN_US + 3600_000_000]
    window = library.store.media_items(site_id, start_us=TAKEN_US + 3600_000_000,
                                       end_us=TAKEN_US + 4 * 3600_000_000, limit=2, offset=1)
    assert [m.taken_us for m in window] == [TAKEN_US + 2 * 3600_000_000, TAKEN_US + 3600_000_000]
    assert library.store.media_count(site_id, start_us=TAKEN_US + 3600_000_000) == 4


def test_default_media_folder_is_beside_an_sqlite_file_else_here(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    monkeypatch.delenv("SHUIAN_MEDIA_DIR", raising=False)
    assert default_media_dir(f"sqlite:///{tmp_path}/data/dam.db") == tmp_path / "data" / "media"
    assert default_media_dir("sqlite:///dam.db") == Path("media")
    assert default_media_dir("postgresql://db.example/shuian") == Path("media")
    monkeypatch.setenv("SHUIAN_MEDIA_DIR", str(tmp_path / "elsewhere"))
    assert default_media_dir("sqlite:///dam.db") == tmp_path / "elsewhere"


# --- retention ------------------------------------------------------------------------------------


def test_objects_past_their_class_s_age_go_with_their_files(library: MediaLibrary) -> None:
    old = put(library, JPEG, now_us=NOW_US - 31 * DAY_US)
    young = put(library, PNG, now_us=NOW_US - 29 * DAY_US)
    event = put(library, PDF, retention="event", now_us=NOW_US - 31 * DAY_US)
    report = library.apply_retention(NOW_US)
    assert report.expired == [old.id] and report.evicted == []
    assert (report.files_removed, report.bytes_freed) == (1, len(JPEG))
    assert not library.files.exists(digest_of(JPEG))
    with pytest.raises(NotFoundError, match=f"no media {old.id}"):
        library.get(old.id)
    for kept in (young, event):
        assert library.read(kept.id)[0] == kept
    assert library.apply_retention(NOW_US).expired == []  # nothing more to do


def test_a_shared_file_stays_until_its_last_object_goes(library: MediaLibrary) -> None:
    put(library, JPEG, source="camera:crest", now_us=NOW_US - 31 * DAY_US)
    kept = put(library, JPEG, source="camera:spillway", retention="event")
    report = library.apply_retention(NOW_US)
    assert len(report.expired) == 1 and report.files_removed == 0
    assert library.read(kept.id)[1] == JPEG


def test_over_the_folder_s_cap_the_oldest_routine_objects_go_first(
    store: Store, stored_site: StoredSite, tmp_path: Path,
) -> None:
    frames = [JPEG + bytes([i]) * 100 for i in range(6)]  # 368 bytes each
    cap = 3 * len(frames[0]) + len(PDF)
    library = MediaLibrary(store, tmp_path / "media",
                           policy=RetentionPolicy(max_total_bytes=cap))
    report_object = put(library, PDF, retention="report", now_us=NOW_US - 10 * DAY_US)
    ids = [put(library, frame, taken_at=TAKEN + dt.timedelta(minutes=i),
               now_us=NOW_US - DAY_US + i).id for i, frame in enumerate(frames)]
    report = library.apply_retention(NOW_US)
    assert report.evicted == ids[:3] and report.expired == []
    assert report.bytes_freed == 3 * len(frames[0]) and report.files_removed == 3
    assert library.usage()[1] == cap == library.files.size()
    assert library.get(report_object.id) == report_object
    assert [library.read(i)[1] for i in ids[3:]] == frames[3:]


def test_the_worker_s_retention_job_is_one_call_with_the_store_and_the_folder(
    library: MediaLibrary,
) -> None:
    old = put(library, JPEG, now_us=NOW_US - 400 * DAY_US)
    report = apply_retention(library.store, library.files.root, now_us=NOW_US)
    assert report.expired == [old.id]
    assert library.files.size() == 0


def test_a_retention_policy_names_its_mistakes() -> None:
    with pytest.raises(InvalidRequestError, match=r"evict_first names \['frames'\]"):
        RetentionPolicy(evict_first=("frames",))
    with pytest.raises(InvalidRequestError, match="must be positive"):
        RetentionPolicy(max_age_s={"routine": 0})


# --- the API --------------------------------------------------------------------------------------


@pytest.fixture
def media_dir(tmp_path: Path) -> Path:
    return tmp_path / "served"


@pytest.fixture
def api(store_url: str, stored_site: StoredSite, media_dir: Path) -> Iterator[Api]:
    with serve(create_app(store_url, media_dir=media_dir)) as client:
        yield client


def test_an_image_is_served_inline_with_its_type_size_and_immutable_caching(
    api: Api, store: Store, stored_site: StoredSite, media_dir: Path,
) -> None:
    item = MediaLibrary(store, media_dir).put(JPEG, site_id=stored_site.id, source="sl651:1",
                                              taken_at=TAKEN)
    response = api.get(f"/api/media/{item.id}")
    assert response.status_code == 200 and response.content == JPEG
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["content-length"] == str(len(JPEG))
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-disposition"] == (
        f"inline; filename=\"media-{item.id}.jpg\"; filename*=UTF-8''media-{item.id}.jpg")
    assert response.headers["cache-control"] == "private, max-age=31536000, immutable"
    assert response.headers["etag"] == f'"{item.sha256}"'
    assert "sandbox" in response.headers["content-security-policy"]


def test_a_document_is_served_as_an_attachment_under_its_name(
    api: Api, store: Store, stored_site: StoredSite, media_dir: Path,
) -> None:
    item = MediaLibrary(store, media_dir).put(
        PDF, site_id=stored_site.id, source="report:monthly", taken_at=TAKEN,
        retention="report", name='月报 "7".pdf')
    response = api.get(f"/api/media/{item.id}")
    assert response.content == PDF and response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"__ _7_.pdf\"; "
        "filename*=UTF-8''%E6%9C%88%E6%8A%A5%20%227%22.pdf")


def test_a_site_s_media_are_listed_with_their_metadata(
    api: Api, store: Store, stored_site: StoredSite, media_dir: Path,
) -> None:
    library = MediaLibrary(store, media_dir)
    for i in range(3):
        library.put(JPEG + bytes([i]), site_id=stored_site.id, source="sl651:0012345678",
                    taken_at=TAKEN + dt.timedelta(hours=i))
    library.put(PNG, site_id=stored_site.id, source="camera:crest", taken_at=TAKEN)
    answer = api.get("/api/media", params={"source": "sl651:0012345678",
                                           "start": "2024-07-25T09:00:00+08:00", "limit": 1})
    assert answer.status_code == 200
    page = answer.json()
    assert page["total"] == 2
    [first] = page["items"]
    assert first["taken_at"] == "2024-07-25T02:00:00Z" and first["content_type"] == "image/jpeg"
    assert (first["source"], first["retention"], first["size"]) == (
        "sl651:0012345678", "routine", len(JPEG) + 1)
    assert api.get(first["url"]).content == JPEG + bytes([2])


def test_a_page_of_media_is_bounded(api: Api) -> None:
    assert api.get("/api/media", params={"limit": 1001}).status_code == 422
    assert api.get("/api/media", params={"source": "x" * 129}).status_code == 422
    answer = api.get("/api/media", params={"start": "2024-07-26", "end": "2024-07-25"})
    assert answer.status_code == 400 and "must be after" in answer.json()["error"]["message"]


@pytest.mark.parametrize("path", [
    "/api/media/..%2F..%2Fetc%2Fpasswd", "/api/media/0", "/api/media/-1",
    "/api/media/99999999999999999999999", "/api/media/" + "a" * 64,
])
def test_an_id_that_is_no_object_s_is_refused(api: Api, path: str) -> None:
    response = api.get(path)
    assert response.status_code in {404, 422}
    assert set(response.json()["error"]) == {"type", "message", "status"}


def test_an_object_whose_file_is_missing_is_not_found_naming_the_file(
    api: Api, store: Store, stored_site: StoredSite, media_dir: Path,
) -> None:
    library = MediaLibrary(store, media_dir)
    item = library.put(JPEG, site_id=stored_site.id, source="sl651:1", taken_at=TAKEN)
    library.files.path(item.sha256).unlink()
    response = api.get(f"/api/media/{item.id}")
    assert response.status_code == 404
    assert f"its file {item.sha256} is missing" in response.json()["error"]["message"]


def test_media_need_a_login_when_reads_do(
    store_url: str, store: Store, stored_site: StoredSite, media_dir: Path,
) -> None:
    item = MediaLibrary(store, media_dir).put(JPEG, site_id=stored_site.id, source="sl651:1",
                                              taken_at=TAKEN)
    settings = AuthSettings(require_login_for_reads=True)
    with serve(create_app(store_url, media_dir=media_dir, auth=settings)) as anonymous:
        for path in (f"/api/media/{item.id}", "/api/media"):
            refused = anonymous.get(path)
            assert refused.status_code == 401 and refused.content != JPEG
        viewer = login_as(anonymous, store_url, "viewer")
        assert viewer.get(f"/api/media/{item.id}").content == JPEG
        assert viewer.get("/api/media").json()["total"] == 1
