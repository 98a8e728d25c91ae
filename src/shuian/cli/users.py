"""Commands on users, API keys and the audit log.

``user add|list|passwd|set``, ``apikey create|list|revoke``, ``audit``.

The command line works on the database directly, so it acts as the local administrator: it
needs no login, and the audit log names it ``cli:<operating-system user>``. Passwords and keys
it generates are printed once; the store keeps only their hashes.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from shuian.cli.common import DbOption, JsonOption, app, cli_actor, out, print_json, store_for
from shuian.errors import InvalidRequestError
from shuian.services.roles import ROLES, SCOPES
from shuian.store import DEFAULT_URL

user_app = typer.Typer(help="Users and their roles (viewer, operator, engineer, admin).",
                       no_args_is_help=True)
apikey_app = typer.Typer(help="API keys for devices and scripts (scopes: ingest, read).",
                         no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(apikey_app, name="apikey")

PasswordStdinOption = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the password from standard input (one line)."),
]


def _stdin_password() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise InvalidRequestError("no password on standard input")
    return password


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="The user name.")],
    role: Annotated[str, typer.Option("--role", help=f"One of {', '.join(ROLES)}.")],
    password_stdin: PasswordStdinOption = False,
    db: DbOption = DEFAULT_URL,
) -> None:
    """Create a user; without --password-stdin a password is generated and printed once."""
    from shuian.services.accounts import Accounts

    with store_for(db) as store:
        given = _stdin_password() if password_stdin else None
        user, password = Accounts(store).add_user(name, role=role, password=given,
                                                  actor=cli_actor())
        out.print(f"user {user.username} ({user.role}) created")
        if given is None:
            out.print(f"password: {password} (shown once)")


@user_app.command("list")
def user_list(db: DbOption = DEFAULT_URL, as_json: JsonOption = False) -> None:
    """List the users with their roles."""
    with store_for(db) as store:
        users = store.users()
    if as_json:
        print_json([{"username": u.username, "role": u.role, "disabled": u.disabled,
                     "created_at": u.created_at} for u in users])
        return
    for u in users:
        out.print(f"{u.username:<24} {u.role:<9}{' disabled' if u.disabled else ''}")


@user_app.command("passwd")
def user_passwd(
    name: Annotated[str, typer.Argument(help="The user name.")],
    password_stdin: PasswordStdinOption = False,
    db: DbOption = DEFAULT_URL,
) -> None:
    """Set a user's password (generated and printed once without --password-stdin).

    The user's sessions end.
    """
    from shuian.services.accounts import Accounts, new_password

    with store_for(db) as store:
        accounts = Accounts(store)
        password = _stdin_password() if password_stdin else None
        new = password or new_password()
        accounts.update_user(name, actor=cli_actor(), password=new)
        out.print(f"password of {name} changed; its sessions have ended")
        if password is None:
            out.print(f"password: {new} (shown once)")


@user_app.command("set")
def user_set(
    name: Annotated[str, typer.Argument(help="The user name.")],
    role: Annotated[
        str | None, typer.Option("--role", help=f"One of {', '.join(ROLES)}.")
    ] = None,
    disabled: Annotated[
        bool | None, typer.Option("--disable/--enable", help="Disable (or enable) the user.")
    ] = None,
    db: DbOption = DEFAULT_URL,
) -> None:
    """Change a user's role, or disable or enable it (disabling ends its sessions)."""
    from shuian.services.accounts import Accounts

    with store_for(db) as store:
        user = Accounts(store).update_user(name, actor=cli_actor(), role=role, disabled=disabled)
        out.print(f"user {user.username}: {user.role}{', disabled' if user.disabled else ''}")


@apikey_app.command("create")
def apikey_create(
    name: Annotated[str, typer.Argument(help="What the key is for, e.g. logger-crest.")],
    scope: Annotated[
        list[str], typer.Option("--scope", help=f"One of {', '.join(SCOPES)}; repeatable.")
    ],
    db: DbOption = DEFAULT_URL,
) -> None:
    """Create an API key; the key is printed once (send it as 'X-API-Key: KEY')."""
    from shuian.services.accounts import Accounts

    with store_for(db) as store:
        stored, key = Accounts(store).create_api_key(name, scopes=scope, actor=cli_actor())
        out.print(f"API key {stored.id} {stored.name} ({', '.join(stored.scopes)}) created")
        out.print(f"key: {key} (shown once)")


@apikey_app.command("list")
def apikey_list(db: DbOption = DEFAULT_URL, as_json: JsonOption = False) -> None:
    """List the API keys (their first characters, never the keys)."""
    with store_for(db) as store:
        keys = store.api_keys()
    if as_json:
        print_json([vars(k) for k in keys])
        return
    for k in keys:
        state = "revoked" if k.revoked else "active"
        out.print(f"{k.id:>4} {k.name:<24} {k.prefix}… {','.join(k.scopes):<12} {state}")


@apikey_app.command("revoke")
def apikey_revoke(
    key_id: Annotated[int, typer.Argument(help="The key's id ('shuian apikey list').")],
    db: DbOption = DEFAULT_URL,
) -> None:
    """Revoke an API key for good."""
    from shuian.services.accounts import Accounts

    with store_for(db) as store:
        revoked = Accounts(store).revoke_api_key(key_id, actor=cli_actor())
        out.print(f"API key {revoked.id} {revoked.name} revoked")


@app.command()
def audit(
    limit: Annotated[int, typer.Option(help="Newest entries to list.", min=1)] = 50,
    action: Annotated[str | None, typer.Option(help="Only this action, e.g. flag.set.")] = None,
    db: DbOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """List the audit log, newest first: who changed what, when."""
    with store_for(db) as store:
        entries = store.audit_log(limit=limit, action=action)
    if as_json:
        print_json([vars(e) for e in entries])
        return
    for e in entries:
        out.print(f"{e.at:%Y-%m-%d %H:%M:%S}Z {e.actor:<16} {e.action:<18} {e.target}")
