"""Sentences for people in English and Chinese: :func:`render`, :class:`Message`, :func:`negotiate`.

Every sentence the server makes for a person has a key in :data:`~shuian.i18n.catalogue.CATALOGUE`
with one text per language and named ``{placeholders}`` (``str.format`` fields, format specs
allowed: ``{value:.6g}``). Code that makes a sentence to be stored and shown later (an alarm's
reason, a flag's detail, a rejected row's reason) returns a :class:`Message` (key and parameters,
JSON-serialisable); whoever shows it renders it in the reader's language. ``str(message)`` is its
English text, the one kept in the text columns, logs and CSV exports.

A parameter is a number, a string, another :class:`Message` (rendered in the same language: a
level's name, a duration) or a list of messages (joined with the language's separator).
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from shuian.i18n.catalogue import CATALOGUE, Lang

__all__ = [
    "DEFAULT_LANG",
    "LANGS",
    "CatalogueError",
    "Lang",
    "Message",
    "is_lang",
    "key_of_text",
    "negotiate",
    "params_json",
    "placeholders",
    "render",
    "render_stored",
]


#: The languages of the catalogue, the default first.
LANGS: tuple[Lang, ...] = ("en", "zh")
#: The language of a reader who asks for none we have, and of the stored text columns.
DEFAULT_LANG: Lang = "en"

#: Most characters of an Accept-Language header looked at, and most language ranges in it.
_MAX_HEADER = 512
_MAX_RANGES = 32
_SEPARATOR = {"en": ", ", "zh": "，"}
_RANGE = re.compile(
    r"^\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([0-9.]{1,6}))?\s*$"
)

class CatalogueError(LookupError):
    """A programming error: an unknown key, or a placeholder without a parameter."""


@dataclass(frozen=True)
class Message:
    """A sentence to show later: a catalogue key and its parameters.

    Parameters
    ----------
    key : str
        A key of the catalogue (``"alarm.no_data"``).
    params : mapping
        One value per placeholder of the key's texts: numbers and strings as they are, a
        :class:`Message` or a list of them rendered in the reader's language.

    Examples
    --------
    >>> m = Message.of("alarm.cleared", channel="PL1.R")
    >>> str(m), m.render("zh")
    ('PL1.R back to normal', 'PL1.R 恢复正常')
    >>> Message.from_json(m.to_json()) == m
    True
    """

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, key: str, **params: Any) -> Message:
        """A message of ``key`` with ``params`` given as keywords."""
        return cls(key, params)

    def render(self, lang: Lang) -> str:
        """The sentence in ``lang``; raises :class:`CatalogueError` on a missing parameter."""
        return render(self.key, lang, **self.params)

    def __str__(self) -> str:
        return self.render(DEFAULT_LANG)

    def to_json(self) -> dict[str, Any]:
        """``{"key": ..., "params": {...}}``; nested messages as the same shape."""
        return {"key": self.key, "params": params_json(self.params)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Message:
        """The message :meth:`to_json` wrote."""
        return cls(str(data["key"]), _params_from_json(data.get("params") or {}))


def params_json(params: Mapping[str, Any]) -> dict[str, Any]:
    """A message's parameters as JSON values (nested messages as ``{"key", "params"}``)."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        if isinstance(value, Message):
            out[name] = value.to_json()
        elif _is_messages(value):
            out[name] = [m.to_json() for m in value]
        else:
            out[name] = value
    return out


def _params_from_json(params: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in params.items():
        if isinstance(value, dict) and "key" in value:
            out[name] = Message.from_json(value)
        elif isinstance(value, list):
            out[name] = [Message.from_json(v) for v in value if isinstance(v, dict)]
        else:
            out[name] = value
    return out


def _is_messages(value: object) -> TypeGuard[Sequence[Message]]:
    return isinstance(value, list | tuple) and all(isinstance(v, Message) for v in value)


def render(key: str, lang: Lang, /, **params: Any) -> str:
    """The text of ``key`` in ``lang`` with its placeholders filled.

    Parameters
    ----------
    key : str
        A catalogue key.
    lang : {"en", "zh"}
        The reader's language.
    **params
        One value per placeholder (extra ones are ignored).

    Returns
    -------
    str
        The sentence.

    Raises
    ------
    CatalogueError
        When the key is unknown or a placeholder has no parameter (a programming error, caught
        by the test over every key).

    Examples
    --------
    >>> render("alarm.no_data.back", "zh", channel="S3")
    'S3 恢复上报'
    """
    texts = CATALOGUE.get(key)
    if texts is None:
        raise CatalogueError(f"no message {key!r} in the catalogue")
    values = {name: _value(value, lang) for name, value in params.items()}
    try:
        return texts[lang].format_map(values)
    except KeyError as exc:
        raise CatalogueError(f"message {key!r} needs the parameter {exc.args[0]!r}") from None
    except (ValueError, TypeError) as exc:
        raise CatalogueError(f"message {key!r}: a parameter does not fit: {exc}") from None


def _value(value: Any, lang: Lang) -> Any:
    if isinstance(value, Message):
        return value.render(lang)
    if _is_messages(value):
        return _SEPARATOR[lang].join(m.render(lang) for m in value)
    return value


def render_stored(
    text: str, key: str | None, params: Mapping[str, Any] | None, lang: Lang
) -> str:
    """A stored sentence in ``lang``: rendered from its key, else the stored text as it is.

    Rows kept before the catalogue (no key), and keys the catalogue no longer has, show the
    stored (English) text.
    """
    if key is None or key not in CATALOGUE:
        return text
    try:
        return Message(key, _params_from_json(params or {})).render(lang)
    except CatalogueError:
        return text


def placeholders(text: str) -> set[str]:
    """The names of the placeholders of a catalogue text (``{value:.6g}`` gives ``value``)."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def key_of_text(prefix: str, english: str) -> str | None:
    """The key under ``prefix`` whose English text is ``english`` (a known label), or None."""
    for key, texts in CATALOGUE.items():
        if key.startswith(prefix) and texts["en"] == english:
            return key
    return None


def is_lang(text: str | None) -> TypeGuard[Lang]:
    """Whether ``text`` is one of the catalogue's languages."""
    return text in LANGS


def negotiate(header: str | None) -> Lang:
    """The language to answer in, from an ``Accept-Language`` header (RFC 9110 q-values).

    Any Chinese (``zh``, ``zh-CN``, ``zh-Hans``, ``zh-TW``) gives ``zh``, any English ``en``;
    the range with the highest q-value we have wins (ties: the first); ``*``, a header without
    either, or none at all give ``en``. Only the first 512 characters and 32 ranges are read.

    Examples
    --------
    >>> negotiate("zh-CN,zh;q=0.9,en;q=0.8"), negotiate("fr, en;q=0.5, zh;q=0.7")
    ('zh', 'zh')
    >>> negotiate(None), negotiate("de"), negotiate("zh;q=0, en")
    ('en', 'en', 'en')
    """
    if not header:
        return DEFAULT_LANG
    best: tuple[float, Lang] | None = None
    for part in header[:_MAX_HEADER].split(",")[:_MAX_RANGES]:
        found = _RANGE.match(part)
        if found is None:
            continue
        primary = found.group(1).split("-")[0].lower()
        try:
            q = 1.0 if found.group(2) is None else float(found.group(2))
        except ValueError:
            continue
        lang: Lang | None = primary if is_lang(primary) else (
            DEFAULT_LANG if primary == "*" else None
        )
        if lang is None or q <= 0:
            continue
        if best is None or q > best[0]:
            best = (q, lang)
    return DEFAULT_LANG if best is None else best[1]
