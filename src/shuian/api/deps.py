"""Typed dependencies of the routes: the store, its site, the ingest service.

The store is opened once, at startup (see :func:`shuian.api.app.create_app`), and kept on
``app.state``; routes receive it through :data:`StoreDep`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

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


def get_site(store: StoreDep) -> StoredSite:
    """Give the store's site, read for each request (so a site updated by the CLI is seen).

    Parameters
    ----------
    store : Store
        The application's store.

    Returns
    -------
    StoredSite
        The (first) site of the store.

    Raises
    ------
    NoSiteError
        If the store holds no site yet (HTTP 409).
    """
    return store.site()


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
    ingestor: Ingestor | None = getattr(request.app.state, "ingestor", None)
    if (
        ingestor is None
        or ingestor.stored.id != stored.id
        or ingestor.stored.definition != stored.definition
    ):
        ingestor = Ingestor(store, stored, analyzer=get_analyzer(request, store, stored))
        request.app.state.ingestor = ingestor
    return ingestor


IngestorDep = Annotated[Ingestor, Depends(get_ingestor)]


def get_analyzer(request: Request, store: StoreDep, stored: SiteDep) -> Analyzer:
    """Give the application's analysis service, rebuilt when the site file changes."""
    analyzer: Analyzer | None = getattr(request.app.state, "analyzer", None)
    if (
        analyzer is None
        or analyzer.stored.id != stored.id
        or analyzer.stored.definition != stored.definition
    ):
        analyzer = Analyzer(store, stored)
        request.app.state.analyzer = analyzer
    return analyzer


AnalyzerDep = Annotated[Analyzer, Depends(get_analyzer)]
