"""The kinds of source, by name: the one place that says which module runs which setting.

A kind is a key under ``telemetry:`` in the site file (a field of
:class:`~shuian.site.telemetry.TelemetrySettings`) and the module that runs it. That module
defines ``open_sources(settings, context)``: given the kind's settings (the field's value,
never None or empty) and a :class:`~shuian.sources.base.SourceContext`, it answers the running
sources by name (``mqtt``, ``modbus:<logger>``, ``sl651``), not started yet. So a new kind of
source is its module, its settings field, and one line here; the services, the command line
and the API need no change.

A kind's module is imported only when a site configures it: a site with no Modbus logger never
loads pymodbus.

Examples
--------
>>> list(SOURCES)
['mqtt', 'modbus', 'sl651']
>>> nowhere = SourceContext(ingest=print, reject=print, timezone="Asia/Shanghai")
>>> open_sources(TelemetrySettings(), nowhere)
{}
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol, cast

from shuian.site.telemetry import TelemetrySettings
from shuian.sources.base import Source, SourceContext

__all__ = ["SOURCES", "Opener", "open_sources", "opener"]

#: Kind (a field of ``telemetry:`` in the site file) -> the module that runs it.
SOURCES: dict[str, str] = {
    "mqtt": "shuian.sources.mqtt",
    "modbus": "shuian.sources.modbus",
    "sl651": "shuian.sources.sl651",
}


class Opener(Protocol):
    """A kind's ``open_sources``: its settings and the context in, its sources by name out."""

    def __call__(self, settings: Any, context: SourceContext, /) -> dict[str, Source]:
        """The sources the settings describe, by name; none started yet."""


def opener(kind: str) -> Opener:
    """The ``open_sources`` of a kind of source (its module imported on first use).

    Raises
    ------
    KeyError
        ``kind`` is not one of :data:`SOURCES`.
    """
    module = importlib.import_module(SOURCES[kind])
    return cast(Opener, module.open_sources)


def open_sources(settings: TelemetrySettings, context: SourceContext) -> dict[str, Source]:
    """Every source a site's ``telemetry:`` configures, by name, in the order of :data:`SOURCES`.

    A kind that is not configured (its field None or empty) is not imported.
    """
    sources: dict[str, Source] = {}
    for kind in SOURCES:
        configured = getattr(settings, kind)
        if configured:
            sources.update(opener(kind)(configured, context))
    return sources
