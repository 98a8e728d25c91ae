"""Specification of the registry of sources (``shuian.sources.registry``) and of the layers
around it: every kind of source is one module and one registry line, its settings live with the
site, and loading a site (or the SL 651 codec) loads no source.

The same contract runs over every registered kind: a new kind must bring an example of its
settings here, and passes the same tests.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from shuian.readings import Rejection
from shuian.site.telemetry import TelemetrySettings
from shuian.sources.base import SourceContext
from shuian.sources.registry import SOURCES, open_sources, opener

#: A small valid ``telemetry:`` entry of every kind, as a site file gives it.
EXAMPLES: dict[str, Any] = {
    "mqtt": {"client_id": "shuian-registry", "topics": ["shuian/registry/#"]},
    "modbus": [{"name": "crest", "host": "127.0.0.1", "port": 1502,
                "registers": [{"channel": "WL.level", "address": 0, "type": "float32"}]},
               {"name": "toe", "host": "127.0.0.1", "port": 1503,
                "registers": [{"channel": "LOG.batt", "address": 2, "type": "uint16"}]}],
    "sl651": {"port": 0, "stations": [{"address": "0012345678", "elements": {"39": "WL.level"}}]},
}
#: The names the sources of :data:`EXAMPLES` answer to (the keys of ``GET /api/telemetry``).
NAMES = {"mqtt": ["mqtt"], "modbus": ["modbus:crest", "modbus:toe"], "sl651": ["sl651"]}


def nowhere() -> SourceContext:
    """A context whose ingest and rejections go nowhere: the sources are never started."""

    def ingest(records: list[dict[str, Any]], source: str) -> Any:
        raise AssertionError("a source that was not started ingested something")

    def reject(rejection: Rejection) -> None:
        raise AssertionError("a source that was not started rejected something")

    return SourceContext(ingest=ingest, reject=reject, timezone="Asia/Shanghai")


def imported_after(code: str) -> list[str]:
    """The modules of Shuian, paho and pymodbus loaded by a fresh interpreter running ``code``."""
    probe = (f"{code}\nimport sys\nprint('\\n'.join(sorted(m for m in sys.modules if "
             "m.startswith(('shuian', 'paho', 'pymodbus', 'socket', 'asyncio')))))")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, timeout=60)
    return run.stdout.split()


def test_every_kind_is_one_field_of_the_site_telemetry_settings_and_every_field_a_kind() -> None:
    assert list(SOURCES) == list(TelemetrySettings.model_fields)
    assert set(EXAMPLES) == set(SOURCES), "give the new kind an example above"


@pytest.mark.parametrize("kind", list(SOURCES))
def test_a_kind_opens_its_sources_by_name_not_started(kind: str) -> None:
    settings = TelemetrySettings.model_validate({kind: EXAMPLES[kind]})
    sources = opener(kind)(getattr(settings, kind), nowhere())
    assert list(sources) == NAMES[kind]
    for source in sources.values():
        status = source.status()
        assert status["kind"] == kind
        assert status["connected"] is False
        assert status["messages"] == 0


def test_a_site_opens_the_sources_of_every_kind_it_configures_in_the_registry_order() -> None:
    settings = TelemetrySettings.model_validate(EXAMPLES)
    assert settings.configured
    assert list(open_sources(settings, nowhere())) == [n for kind in SOURCES for n in NAMES[kind]]


def test_a_site_without_telemetry_opens_nothing() -> None:
    assert not TelemetrySettings().configured
    assert open_sources(TelemetrySettings(), nowhere()) == {}


def test_an_unknown_kind_is_refused_by_the_site_file_at_its_key() -> None:
    with pytest.raises(ValueError, match="camera"):
        TelemetrySettings.model_validate({"camera": {}})


def test_loading_a_site_loads_no_source_and_no_client_library() -> None:
    loaded = imported_after("import shuian.site")
    assert not [m for m in loaded if m.startswith(("shuian.sources", "paho", "pymodbus"))]


def test_a_kind_a_site_does_not_configure_is_never_imported() -> None:
    loaded = imported_after(
        "from shuian.site.telemetry import TelemetrySettings\n"
        "from shuian.sources.base import SourceContext\n"
        "from shuian.sources.registry import open_sources\n"
        f"settings = TelemetrySettings.model_validate({{'mqtt': {EXAMPLES['mqtt']!r}}})\n"
        "open_sources(settings, SourceContext(print, print, 'UTC'))"
    )
    assert "shuian.sources.mqtt" in loaded
    assert not [m for m in loaded if m.startswith(("shuian.sources.modbus", "pymodbus",
                                                   "shuian.sources.sl651"))]


def test_the_sl651_codec_is_pure_it_loads_no_source_site_store_or_socket() -> None:
    loaded = imported_after("import shuian.protocols.sl651")
    assert [m for m in loaded if not m.startswith("shuian.protocols")] == ["shuian",
                                                                           "shuian.errors"]
