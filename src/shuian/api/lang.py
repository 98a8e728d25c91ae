"""The language a request is answered in: the page's choice, else ``Accept-Language``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from shuian.i18n import Lang, is_lang, negotiate

__all__ = ["LANG_COOKIE", "LangDep", "request_lang"]

#: The cookie in which the page keeps the language its reader chose (``en`` or ``zh``).
LANG_COOKIE = "shuian_lang"


def request_lang(request: Request) -> Lang:
    """The language to answer a request in: ``en`` or ``zh``.

    The first of: the ``lang`` query parameter, the ``shuian_lang`` cookie (the page's
    language switch sets it), the ``Accept-Language`` header (:func:`shuian.i18n.negotiate`);
    English when none says.
    """
    for chosen in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if is_lang(chosen):
            return chosen
    return negotiate(request.headers.get("accept-language"))


LangDep = Annotated[Lang, Depends(request_lang)]
