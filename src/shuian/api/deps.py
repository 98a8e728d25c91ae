"""Typed dependencies of the routes: the store, its site, the ingest service; plain parameters.

The store is opened once, at startup (see :func:`shuian.api.app.create_app`), and kept on
``app.state``; routes receive it through :data:`StoreDep`.

Every API request's path and query parameters pass :func:`plain_parameters` first (it is on
the API router): a control character in one is a 400 naming it, a row number (a path parameter
named ``*_id``) outside the id columns' range a 404, so that neither reaches the database.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Query, Request

from shuian.api.lang import LangDep as LangDep
from shuian.api.schemas import CONTROL
from shuian.errors import InvalidRequestError, NotFoundError
from shuian.faults import printable
from shuian.services.analysis import Analyzer
from shuian.services.ingest import Ingestor
from shuian.store import Store, StoredSite

__all__ = [
    "MAX_ROW_ID",
    "AnalyzerDep",
    "IngestorDep",
    "SiteDep",
    "StoreDep",
    "get_analyzer",
    "get_ingestor",
    "get_site",
    "get_store",
    "plain_parameters",
]

#: The largest row number: the id columns are signed 64-bit integers.
MAX_ROW_ID = 2**63 - 1
_INTEGER = re.compile(r"[+-]?[0-9]+")


def _refuse_control(where: str, name: str, value: str) -> None:
    found = CONTROL.search(name) or CONTROL.search(value)
    if found is not None:
        raise InvalidRequestError(
            f"the {where} parameter '{printable(name)[:80]}' holds a control character "
            f"({printable(found.group())}): '{printable(value)[:80]}'; codes, names and times "
            "never do"
        )


def plain_parameters(request: Request) -> None:
    """Refuse a path or query parameter no honest client sends.

    Parameters
    ----------
    request : Request
        The current request, routed (its path parameters known).

    Raises
    ------
    InvalidRequestError
        When a path or query parameter (its name or value) holds a control character: NUL,
        a line break, ESC ... (HTTP 400, naming the parameter).
    NotFoundError
        When a path parameter named ``*_id`` is a whole number below 1 or above
        :data:`MAX_ROW_ID`: no row can have it (HTTP 404).
    """
    for name, value in request.path_params.items():
        text = str(value)
        _refuse_control("path", name, text)
        if name.endswith("_id") and _INTEGER.fullmatch(text) is not None and (
            len(text) > 20 or not 1 <= int(text) <= MAX_ROW_ID
        ):
            thing = name.removesuffix("_id").replace("_", " ")
            raise NotFoundError(f"no {thing} {text[:40]}: row numbers run from 1 to {MAX_ROW_ID}")
    for name, value in request.query_params.multi_items():
        _refuse_control("query", name, value)


def get_store(request: Request) -> Store:
    """Give the application's store, opened at startup.

    Parameters
    ----------
    request : Request
        The current request (its app holds the store).

    Returns
    -------
    Store
        The store on ``app.state.store``.
    """
    store: Store = request.app.state.store
    return store


StoreDep = Annotated[Store, Depends(get_store)]


def get_site(
    store: StoreDep,
    site: Annotated[
        str | None,
        Query(description="reservoir (site) code; default: the store's first (or only) one"),
    ] = None,
) -> StoredSite:
    """Give the site a request is about, read afresh for each request.

    A site updated by the CLI is thus seen at once.

    Parameters
    ----------
    store : Store
        The application's store.
    site : str, optional
        The ``site`` query parameter: the reservoir's code (``GET /api/sites`` lists them).

    Returns
    -------
    StoredSite
        That site, or the store's first one.

    Raises
    ------
    NoSiteError
        If the store holds no site yet (HTTP 409).
    NotFoundError
        If no site has that code (HTTP 404).
    """
    return store.site(site)


SiteDep = Annotated[StoredSite, Depends(get_site)]


def get_ingestor(request: Request, store: StoreDep, stored: SiteDep) -> Ingestor:
    """Give the application's one ingest service, built on first use.

    It is rebuilt when missing, or when the site it was built for has changed (another site,
    or an updated site file adding channels or changing calibrations).

    Parameters
    ----------
    request : Request
        The current request (its app holds the ingestor).
    store : Store
        The application's store.
    stored : StoredSite
        The store's site as it is now.

    Returns
    -------
    Ingestor
        The ingest service for ``stored``.
    """
    ingestors: dict[int, Ingestor] = request.app.state.ingestors
    ingestor = ingestors.get(stored.id)
    if ingestor is None or ingestor.stored.definition != stored.definition:
        ingestor = Ingestor(store, stored, analyzer=get_analyzer(request, store, stored))
        ingestors[stored.id] = ingestor
    return ingestor


IngestorDep = Annotated[Ingestor, Depends(get_ingestor)]


def get_analyzer(request: Request, store: StoreDep, stored: SiteDep) -> Analyzer:
    """Give the application's analysis service, rebuilt when the site file changes."""
    analyzers: dict[int, Analyzer] = request.app.state.analyzers
    analyzer = analyzers.get(stored.id)
    if analyzer is None or analyzer.stored.definition != stored.definition:
        analyzer = Analyzer(store, stored)
        analyzers[stored.id] = analyzer
    return analyzer


AnalyzerDep = Annotated[Analyzer, Depends(get_analyzer)]
