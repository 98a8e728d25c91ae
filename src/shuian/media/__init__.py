"""Binary objects (camera images, SL 651 pictures, inspection photos, reports) as files.

An adapter: a content-addressed folder (:mod:`shuian.media.files`) and the kinds it keeps,
read from the bytes (:mod:`shuian.media.types`). Their metadata live in the store; the use
cases (put, read, retention) are :mod:`shuian.services.media`.
"""

from __future__ import annotations

from shuian.media.files import INCOMING, ContentFiles, check_digest, digest_of
from shuian.media.types import (
    EXTENSIONS,
    IMAGE_TYPES,
    KEPT_TYPES,
    MAX_OBJECT_BYTES,
    XLSX,
    check_size,
    content_type,
    sniff,
)

__all__ = [
    "EXTENSIONS",
    "IMAGE_TYPES",
    "INCOMING",
    "KEPT_TYPES",
    "MAX_OBJECT_BYTES",
    "XLSX",
    "ContentFiles",
    "check_digest",
    "check_size",
    "content_type",
    "digest_of",
    "sniff",
]
