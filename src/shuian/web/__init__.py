"""The dashboard: hand-written static files (HTML, JavaScript, CSS) served by the API app.

Nothing here is fetched from the network at run time: stations often sit on isolated networks.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["INDEX_HTML", "STATIC_DIR"]

#: Folder of the static files, inside the installed package.
STATIC_DIR = Path(__file__).parent / "static"

#: The first page.
INDEX_HTML = STATIC_DIR / "index.html"
