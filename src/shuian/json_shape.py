"""The shape of a JSON text, measured without parsing it: how deep it nests, how wide it is.

A parser recurses once per level and builds every value before anything can refuse it: a
text nested 100,000 deep or holding ten million values costs the parser (and the process)
before a limit is looked at. :func:`scan_json` measures both over the text's bytes, vectorised,
so every way in (the HTTP API's bodies, MQTT payloads) refuses such a text first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["JsonShape", "scan_json"]

_QUOTE, _BACKSLASH, _OPEN, _CLOSE, _COMMA = 1, 2, 3, 4, 5
_KIND = np.zeros(256, np.int8)
_KIND[ord('"')] = _QUOTE
_KIND[ord("\\")] = _BACKSLASH
_KIND[list(b"[{")] = _OPEN
_KIND[list(b"]}")] = _CLOSE
_KIND[ord(",")] = _COMMA


@dataclass(frozen=True)
class JsonShape:
    """How deep a JSON text nests, and the most values one of its arrays or objects holds."""

    depth: int
    items: int


def scan_json(body: bytes, *, max_depth: int | None = None) -> JsonShape:
    """Measure a JSON text's nesting depth and largest array or object, without parsing it.

    Brackets and commas inside strings do not count (a quote after an odd run of backslashes
    is escaped). Vectorised over the text's quotes, backslashes, brackets and commas (no loop
    over its values or levels); a text deeper than ``max_depth`` is answered with ``items`` 0
    without counting. Malformed text gets a shape too: the parser that follows refuses it.

    Parameters
    ----------
    body : bytes
        The JSON text (UTF-8).
    max_depth : int, optional
        Stop at this depth: a deeper text is refused whatever its items.

    Returns
    -------
    JsonShape
        ``depth``: levels of arrays and objects (0 for a scalar); ``items``: values in the
        largest array or object (its commas plus one).

    Examples
    --------
    >>> scan_json(b'{"readings": [{"value": 1}, {"value": "[[[,"}]}')
    JsonShape(depth=3, items=2)
    """
    # Sums in int32 when they fit: half the memory of int64.
    count: type[np.signedinteger[Any]] = np.int32 if len(body) < 2**31 else np.int64
    kinds = _KIND[np.frombuffer(body, np.uint8)]
    where = np.flatnonzero(kinds)
    kind = kinds[where]
    quote = kind == _QUOTE
    slash = kind == _BACKSLASH
    if slash.any() and quote.any():
        # A quote right after a run of backslashes is escaped when the run is odd.
        after_slash = np.zeros(len(kind), bool)
        after_slash[1:] = slash[:-1] & (where[1:] == where[:-1] + 1)
        run_start = np.where(slash & ~after_slash, where, 0)
        np.maximum.accumulate(run_start, out=run_start)
        escaped = np.zeros(len(kind), bool)
        escaped[1:] = quote[1:] & after_slash[1:] & ((where[1:] - run_start[:-1]) % 2 == 1)
        quote &= ~escaped
    # (bool arrays are summed as int8 views: numpy's cumsum of bool is ten times slower)
    outside = np.cumsum(quote.view(np.uint8), dtype=np.uint8) % 2 == 0  # parity survives wrap
    kind = kind[outside & (kind >= _OPEN)]
    step = (kind == _OPEN).view(np.int8) - (kind == _CLOSE).view(np.int8)
    depth = np.cumsum(step, dtype=count)
    deepest = int(depth.max(initial=0))
    if max_depth is not None and deepest > max_depth:
        return JsonShape(depth=deepest, items=0)
    # A comma belongs to the last container opened at its depth before it: with the opens and
    # commas ordered by depth (stably: by position within a depth), that is the last open.
    counted = ((kind == _OPEN) | (kind == _COMMA)) & (depth > 0)
    order = np.argsort(depth[counted].astype(np.int16 if deepest < 2**15 else np.int64),
                       kind="stable")
    opened = (kind[counted] == _OPEN)[order]
    owner = (np.cumsum(opened.view(np.int8), dtype=count) - 1)[~opened]
    commas = np.bincount(owner[owner >= 0]).max(initial=0) if len(owner) else 0
    items = int(commas) + 1 if body.strip() else 0
    return JsonShape(depth=deepest, items=items)
