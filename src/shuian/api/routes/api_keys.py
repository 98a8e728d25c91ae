"""API keys for devices and scripts (admins only).

``GET /api/api-keys``, ``POST /api/api-keys``
    The keys (their first characters, never the keys); create one (the key answered once).
``DELETE /api/api-keys/{id}``
    Revoke a key for good.
"""

from __future__ import annotations

from fastapi import APIRouter

from shuian.api.auth import AccountsDep, AdminDep
from shuian.api.schemas import ApiKeyCreatedPublic, ApiKeyIn, ApiKeyPublic, RowId
from shuian.store.auth import StoredApiKey

router = APIRouter(tags=["api keys"])


def api_key_public(key: StoredApiKey) -> ApiKeyPublic:
    """An API key as the API lists it."""
    return ApiKeyPublic(id=key.id, name=key.name, prefix=key.prefix, scopes=list(key.scopes),
                        created_by=key.created_by, created_at=key.created_at,
                        revoked=key.revoked)


@router.get("/api-keys")
def read_api_keys(admin: AdminDep, accounts: AccountsDep) -> list[ApiKeyPublic]:
    """Answer every API key, revoked ones too (admins only)."""
    return [api_key_public(k) for k in accounts.store.api_keys()]


@router.post("/api-keys", status_code=201)
def create_api_key(body: ApiKeyIn, admin: AdminDep, accounts: AccountsDep) -> ApiKeyCreatedPublic:
    """Create an API key with scopes (admins only): ``ingest`` posts readings, ``read`` reads.

    The key is in this answer only; the store keeps its SHA-256. Send it as ``X-API-Key``.
    """
    stored, key = accounts.create_api_key(body.name, scopes=body.scopes, actor=admin.actor)
    return ApiKeyCreatedPublic(**api_key_public(stored).model_dump(), key=key)


@router.delete("/api-keys/{key_id}")
def revoke_api_key(key_id: RowId, admin: AdminDep, accounts: AccountsDep) -> ApiKeyPublic:
    """Revoke an API key for good (admins only); it stays listed. 404 when unknown."""
    return api_key_public(accounts.revoke_api_key(key_id, actor=admin.actor))
