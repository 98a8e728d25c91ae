"""The one bilingual message catalogue (English and Chinese) and how a sentence is chosen.

- :data:`CATALOGUE`: key -> ``{"en": ..., "zh": ...}`` with named ``{placeholders}``;
- :func:`render`: a key's text in a language, its placeholders filled (a missing one raises
  :class:`CatalogueError`);
- :class:`Message`: a key and its parameters, JSON-serialisable, returned by code that makes a
  sentence to be stored and shown later; ``str(message)`` is its English text;
- :func:`negotiate`: the language of an ``Accept-Language`` header;
- :func:`render_stored`: a stored row's sentence in a language (its text when it has no key).

At the base of the layers: imports nothing of Shuian.
"""

from shuian.i18n.catalogue import CATALOGUE, Lang
from shuian.i18n.message import (
    DEFAULT_LANG,
    LANGS,
    CatalogueError,
    Message,
    is_lang,
    key_of_text,
    negotiate,
    params_json,
    placeholders,
    render,
    render_stored,
)

__all__ = [
    "CATALOGUE",
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
