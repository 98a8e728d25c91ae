"""The ``shuian`` command line.

Every command takes ``--db URL`` (or the environment variable ``SHUIAN_DB``; default
``sqlite:///shuian.db`` in the current folder). User mistakes end with one line on standard
error naming what was wrong, and exit status 1; never a stack trace.
"""

from shuian.cli import (  # noqa: F401 - registers the commands
    analysis,
    cameras,
    data,
    hydrology,
    telemetry,
    users,
    worker,
)
from shuian.cli.common import app

__all__ = ["app"]
