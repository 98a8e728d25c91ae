"""Who may do what: the roles of users, lowest first, and the scopes of API keys.

What each role and scope allows is said in :mod:`shuian.services.accounts`, which enforces it.
This module holds only the names, so that the command line can list them in its help without
loading the accounts (their password hasher) or the store.
"""

from __future__ import annotations

from typing import Literal, get_args

Role = Literal["viewer", "operator", "engineer", "admin"]
Scope = Literal["ingest", "read"]
#: The roles, lowest first.
ROLES: tuple[Role, ...] = get_args(Role)
#: The scopes an API key may carry.
SCOPES: tuple[Scope, ...] = get_args(Scope)
