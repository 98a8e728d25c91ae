"""The HTTP API (FastAPI): JSON under ``/api``, the dashboard at ``/``, OpenAPI docs at ``/docs``.

Run it with ``shuian serve``, or ``uvicorn --factory --no-proxy-headers shuian.api:create_app``
(the app believes X-Forwarded-For only from ``$SHUIAN_TRUSTED_PROXIES``); the store is
``$SHUIAN_DB`` or ``sqlite:///shuian.db``.
"""

from __future__ import annotations

from shuian.api.app import create_app

__all__ = ["create_app"]
