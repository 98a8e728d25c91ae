"""What a module loads when it is imported: the command line stays light, the domain stays pure.

The import contract (``.importlinter``, run by ``make lint``) keeps imports pointing down the
layers. These tests keep what it cannot see: that ``shuian --help`` loads no heavy library (the
CLI imports them inside its commands), and that the examples in the domain modules' docstrings
run without the site package. Each import happens in a fresh interpreter, whose ``sys.modules``
is the evidence; nothing is timed (``bench/startup.py`` times it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import shuian

SRC = Path(shuian.__file__).resolve().parent.parent

#: Libraries that cost a tenth of a second or more to import, and that ``--help`` needs none of
#: (pydantic is not one of them: typer itself loads it to build the commands' parameters).
HEAVY = ("numpy", "pandas", "scipy", "sqlalchemy", "alembic", "psycopg", "paho", "pymodbus",
         "fastapi", "uvicorn", "httpx", "argon2")
#: The I/O adapters the site model and the HST model must not drag in.
ADAPTERS = ("paho", "pymodbus", "shuian.sources")

#: Modules of the pure domain whose docstrings hold examples.
DOMAIN_PACKAGES = ("checks", "models", "alarms", "hydrology", "instruments", "series")


def loaded_after(code: str) -> set[str]:
    """The modules loaded by a fresh interpreter after running ``code`` (this source tree's)."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=120, check=True)
    return set(json.loads(done.stdout.splitlines()[-1]))


def heavy_in(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """The ``names`` (packages or modules) that ``modules`` holds."""
    return [n for n in names if any(m == n or m.startswith(n + ".") for m in modules)]


HELP = """
from shuian.cli import app
try:
    app({args!r})
except SystemExit as done:
    assert done.code == 0, done.code
"""


@pytest.mark.parametrize(
    "args",
    [None, ["--help"], ["ingest", "--help"], ["serve", "--help"], ["fit", "--help"],
     ["user", "add", "--help"], ["route", "--help"], ["sl651", "decode", "--help"]],
    ids=lambda a: "import" if a is None else " ".join(a),
)
def test_the_command_line_and_its_help_load_no_heavy_library(args: list[str] | None) -> None:
    code = "import shuian.cli" if args is None else HELP.format(args=args)
    modules = loaded_after(code)
    assert "shuian.cli" in modules
    assert heavy_in(modules, HEAVY) == []
    assert heavy_in(modules, ("shuian.store.base", "shuian.site", "shuian.services.accounts")) == []


def test_the_hst_model_loads_neither_scipy_nor_an_adapter_nor_the_site() -> None:
    modules = loaded_after("import shuian.models.hst")
    assert heavy_in(modules, ("scipy", "pandas", "pydantic", "shuian.site", *ADAPTERS)) == []


def test_the_site_model_loads_no_adapter() -> None:
    assert heavy_in(loaded_after("import shuian.site"), ADAPTERS) == []


def test_the_domain_examples_run_without_the_site() -> None:
    modules = sorted(
        f"shuian.{package}." + path.stem
        for package in DOMAIN_PACKAGES
        for path in (SRC / "shuian" / package).glob("*.py")
        if path.stem != "__init__" and ">>>" in path.read_text(encoding="utf-8")
    )
    assert "shuian.checks.flags" in modules
    code = (
        "import doctest, importlib\n"
        f"for name in {modules!r}:\n"
        "    found = doctest.testmod(importlib.import_module(name))\n"
        "    assert found.failed == 0, name\n"
        "    assert found.attempted > 0, name\n"
    )
    loaded = loaded_after(code)
    assert heavy_in(loaded, ("shuian.site", "shuian.store", "shuian.services")) == []
