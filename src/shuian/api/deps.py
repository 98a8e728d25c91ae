"""Typed dependencies of the routes: the store, its site, the ingest service.

The store is opened once, at startup (see :func:`shuian.api.app.create_app`), and kept on
``app.state``; routes receive it through :data:`StoreDep`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from shuian.services.analysis import Analyzer
from shuian.services.ingest import Ingestor
from shuian.store import Store, StoredSite

__all__ = [
    "AnalyzerDep",
    "IngestorDep",
    "SiteDep",
    "StoreDep",
    "get_analyzer",
    "get_ingestor",
    "get_site",
    "get_store",
]


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
