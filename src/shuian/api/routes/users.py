"""Users and their roles (admins only).

``GET /api/users``, ``POST /api/users``
    The users; create one (its password generated and answered once when none is given).
``PATCH /api/users/{username}``
    Change a user's role, password, or disable it.
"""

from __future__ import annotations

from fastapi import APIRouter

from shuian.api.auth import AccountsDep, AdminDep
from shuian.api.schemas import UserCreatedPublic, UserIn, UserPublic, UserUpdateIn
from shuian.store.auth import StoredUser

router = APIRouter(tags=["users"])


def user_public(user: StoredUser) -> UserPublic:
    """A user as the API answers it (never its password hash)."""
    return UserPublic.model_validate(
        {"username": user.username, "role": user.role, "disabled": user.disabled,
         "created_at": user.created_at}
    )


@router.get("/users")
def read_users(admin: AdminDep, accounts: AccountsDep) -> list[UserPublic]:
    """Answer every user with its role, by name (admins only)."""
    return [user_public(u) for u in accounts.store.users()]


@router.post("/users", status_code=201)
def create_user(body: UserIn, admin: AdminDep, accounts: AccountsDep) -> UserCreatedPublic:
    """Create a user (admins only); 400 when the name is taken.

    Without a password one is generated and answered this once (it is kept only hashed).
    """
    user, password = accounts.add_user(body.username, role=body.role, password=body.password,
                                       actor=admin.actor)
    return UserCreatedPublic(**user_public(user).model_dump(),
                             password=None if body.password else password)


@router.patch("/users/{username}")
def update_user(
    username: str, body: UserUpdateIn, admin: AdminDep, accounts: AccountsDep
) -> UserPublic:
    """Change a user's role, password or disabled state (admins only).

    A new password, or disabling, ends the user's sessions. The last enabled admin cannot be
    demoted or disabled (400). 404 when the user is unknown.
    """
    user = accounts.update_user(username, actor=admin.actor, role=body.role,
                                disabled=body.disabled, password=body.password)
    return user_public(user)
