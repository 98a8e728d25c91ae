"""The process's settings: one class, read from ``SHUIAN_`` environment variables.

What the site file says belongs to the site (its channels, alarms, notifiers, telemetry); what
a process needs to run (which database, how long sessions last, how big a request may be,
secrets, where media go, whether a worker runs) is here, read once from the environment::

    SHUIAN_DB=postgresql://shuian@db/shuian SHUIAN_SESSION_HOURS=8 shuian serve

Every field is documented in the README's "Settings" table (a test checks it). A variable
with a wrong value stops the process with one message naming the variable, its value and
what it should be (:class:`~shuian.errors.InvalidRequestError`); an empty variable is as
if unset. Secrets (the database URL, which may hold a password; the SMTP and MQTT passwords)
are :class:`~pydantic.SecretStr`: they show as ``**********`` in a repr, a log or a dump.

Use :func:`settings` for the process's settings (read again when a ``SHUIAN_`` variable
changed, so a test may set variables), or pass a :class:`Settings` where a function takes
one (``Settings.from_env({...})`` builds one from a mapping).
"""

from __future__ import annotations

import ipaddress
import os
import re
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shuian.errors import InvalidRequestError

__all__ = [
    "DEFAULT_DB",
    "IPNetwork",
    "Settings",
    "networks",
    "origin_of",
    "settings",
]

#: The default database: an SQLite file in the current folder.
DEFAULT_DB = "sqlite:///shuian.db"
#: An IP network (an address is a network of one).
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
MiB = 1024 * 1024

_DEFAULT_PORTS = {"http": 80, "https": 443}
_SEPARATORS = re.compile(r"[\s,]+")


def networks(entries: Iterable[str], *, source: str = "trusted_proxies") -> tuple[IPNetwork, ...]:
    """IP networks from addresses (``127.0.0.1``, ``::1``) and networks (``10.0.0.0/8``).

    Empty entries are skipped. An address is a network of one address.

    Raises
    ------
    InvalidRequestError
        Naming ``source`` and the first entry that is neither.
    """
    try:
        return tuple(_network(e.strip()) for e in entries if e.strip())
    except ValueError as exc:
        raise InvalidRequestError(f"{source}: {exc}") from None


def _network(entry: str) -> IPNetwork:
    """The network ``entry`` names; ValueError naming it when it names none."""
    try:
        return ipaddress.ip_network(entry, strict=False)
    except ValueError:
        raise ValueError(
            f"{entry[:80]!r} is not an IP address or network (such as 10.0.0.0/8)"
        ) from None


def origin_of(url: str) -> tuple[str, str, int] | None:
    """An origin as (scheme, host, port) with the scheme's default port; None when it is none.

    >>> origin_of("HTTP://Dam.Example:80/page.html")
    ('http', 'dam.example', 80)
    >>> origin_of("null") is None
    True
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def _entries(value: Any) -> Any:
    """A list given as one text, by commas or spaces, as its entries (other values as they are)."""
    if isinstance(value, str):
        return [e for e in _SEPARATORS.split(value.strip()) if e]
    return value


class Settings(BaseSettings):
    """What one Shuian process needs to run; each field is read from ``SHUIAN_<FIELD>``.

    Parameters
    ----------
    db : SecretStr
        Database URL, ``sqlite:///PATH.db`` or ``postgresql://USER:PASSWORD@HOST/DB``
        (``SHUIAN_DB``; default ``sqlite:///shuian.db``). A command's ``--db`` wins.
    session_hours : float
        How long a login session lasts from its login, hours in (0, 744]
        (``SHUIAN_SESSION_HOURS``, default 12; fixed, not sliding).
    require_login_for_reads : bool
        Whether reading (GET) needs a login too (``SHUIAN_REQUIRE_LOGIN_FOR_READS=1``);
        default no, so that a wall display needs none.
    trusted_proxies : tuple of IPv4Network or IPv6Network
        Reverse proxies whose ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed
        (``SHUIAN_TRUSTED_PROXIES``: addresses or networks by commas or spaces); default none.
    allowed_origins : tuple of str
        Origins besides the server's own whose pages may change data
        (``SHUIAN_ALLOWED_ORIGINS``: ``https://dam.example.org``, by commas or spaces).
    max_body_mb : float
        Most MiB of a body on the bulk endpoints (``SHUIAN_MAX_BODY_MB``, default 16).
    max_small_body_kb : float
        Most KiB of a body on every other endpoint (``SHUIAN_MAX_SMALL_BODY_KB``, default 1024).
    max_json_depth : int
        Most levels of nesting in a JSON body (``SHUIAN_MAX_JSON_DEPTH``, default 32).
    max_json_items : int
        Most values in one JSON array or object (``SHUIAN_MAX_JSON_ITEMS``, default 1,000,000).
    max_records : int
        Most readings in one ``POST /api/readings`` (``SHUIAN_MAX_RECORDS``, default 100,000).
    smtp_password : SecretStr, optional
        The SMTP password a site file's ``notifications.email.password_env:
        SHUIAN_SMTP_PASSWORD`` names (``SHUIAN_SMTP_PASSWORD``).
    mqtt_password : SecretStr, optional
        The broker password a site file's ``telemetry.mqtt.password_env: SHUIAN_MQTT_PASSWORD``
        names (``SHUIAN_MQTT_PASSWORD``).
    media_dir : Path
        Folder of the media store's files: images, pictures, photos, reports
        (``SHUIAN_MEDIA_DIR``; None: a ``media`` folder beside the SQLite file, else ``./media``,
        see :func:`shuian.services.media.default_media_dir`).
    worker_enabled : bool
        Whether ``shuian serve`` runs a worker for background jobs beside the API
        (``SHUIAN_WORKER``, default yes; ``0`` when ``shuian worker`` runs on its own).
    worker_lease_s : float
        Seconds a worker holds a claimed job before another may take it over
        (``SHUIAN_WORKER_LEASE_S``, default 60).
    worker_poll_s : float
        Seconds between a worker's looks for due jobs (``SHUIAN_WORKER_POLL_S``, default 1).
    """

    model_config = SettingsConfigDict(
        env_prefix="SHUIAN_",
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
        str_strip_whitespace=True,
        validate_by_name=True,
    )

    db: SecretStr = Field(default=SecretStr(DEFAULT_DB), min_length=1)
    session_hours: float = Field(default=12.0, gt=0, le=24 * 31)
    require_login_for_reads: bool = False
    trusted_proxies: Annotated[tuple[IPNetwork, ...], NoDecode] = ()
    allowed_origins: Annotated[tuple[str, ...], NoDecode] = ()
    max_body_mb: float = Field(default=16.0, ge=1 / 1024, le=2**40)
    max_small_body_kb: float = Field(default=1024.0, ge=1, le=2**50)
    max_json_depth: int = Field(default=32, ge=2, le=10_000)
    max_json_items: int = Field(default=1_000_000, ge=1, le=2**62)
    max_records: int = Field(default=100_000, ge=1, le=2**62)
    smtp_password: SecretStr | None = None
    mqtt_password: SecretStr | None = None
    media_dir: Path | None = None
    worker_enabled: bool = Field(default=True, validation_alias="SHUIAN_WORKER")
    worker_lease_s: float = Field(default=60.0, gt=0, le=7 * 24 * 3600)
    worker_poll_s: float = Field(default=1.0, gt=0, le=3600)

    #: The secrets a site file may name by ``password_env``, by variable.
    SECRETS: ClassVar[Mapping[str, str]] = {
        "SHUIAN_SMTP_PASSWORD": "smtp_password",
        "SHUIAN_MQTT_PASSWORD": "mqtt_password",
    }

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        entries = _entries(value)
        if not isinstance(entries, list | tuple):
            return entries  # pydantic says what it should be
        return [_network(e) if isinstance(e, str) else e for e in entries]

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _origins(cls, value: Any) -> Any:
        entries = _entries(value)
        if not isinstance(entries, list | tuple):
            return entries
        for entry in entries:
            if isinstance(entry, str) and origin_of(entry) is None:
                raise ValueError(f"{entry[:80]!r} is not an origin such as https://dam.example.org")
        return entries

    @classmethod
    def variable(cls, field: str) -> str:
        """The environment variable that sets ``field`` (``SHUIAN_SESSION_HOURS`` for one)."""
        alias = cls.model_fields[field].validation_alias
        return alias if isinstance(alias, str) else f"SHUIAN_{field.upper()}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings ``env`` gives (default the process's environment); defaults else.

        Parameters
        ----------
        env : mapping of str to str, optional
            Variables by name (``{"SHUIAN_SESSION_HOURS": "8"}``); only these are read.

        Raises
        ------
        InvalidRequestError
            Naming each variable whose value is wrong, with its value and what it should be.
        """
        try:
            if env is None:
                return cls()
            given: dict[str, Any] = {
                name: env[cls.variable(name)]
                for name in cls.model_fields
                if env.get(cls.variable(name), "").strip()
            }
            # Every field is given, from ``env`` or its default: the process's own is not read.
            for name, field in cls.model_fields.items():
                given.setdefault(name, field.get_default(call_default_factory=True))
            return cls(**given)
        except ValidationError as exc:
            raise _settings_error(exc, os.environ if env is None else env) from None

    def secret(self, variable: str) -> SecretStr | None:
        """The secret in the environment variable ``variable`` (a site file's ``password_env``).

        The declared secrets (:attr:`SECRETS`: ``SHUIAN_SMTP_PASSWORD``,
        ``SHUIAN_MQTT_PASSWORD``) are these settings' fields; any other variable a site file
        names is read from the process's environment at the call. None when it is not set.
        """
        field = self.SECRETS.get(variable)
        if field is not None:
            value: SecretStr | None = getattr(self, field)
            return value
        found = os.environ.get(variable)
        return None if found is None else SecretStr(found)


def _settings_error(exc: ValidationError, env: Mapping[str, str]) -> InvalidRequestError:
    """One error naming every variable with a wrong value: its value and what was wrong."""
    problems = []
    for problem in exc.errors(include_url=False):
        field = str(problem["loc"][0]) if problem["loc"] else ""
        name = Settings.variable(field) if field in Settings.model_fields else field
        if problem["type"] == "value_error":
            problems.append(f"{name}: {problem['ctx']['error']}")
            continue
        text = env.get(name, "").strip()
        shown = "**********" if field in Settings.SECRETS.values() or field == "db" else text
        message = str(problem["msg"])
        problems.append(f"{name}={shown[:40]!r}: {message[:1].lower()}{message[1:]}")
    return InvalidRequestError("; ".join(problems) + " (see the README's Settings table)")


_lock = threading.Lock()
_cached: tuple[tuple[tuple[str, str], ...], Settings] | None = None


def settings() -> Settings:
    """The process's settings, read from the environment when a ``SHUIAN_`` variable changed.

    The environment is read once and kept; a test that sets a variable (``monkeypatch.setenv``)
    gets settings with it at the next call.

    Raises
    ------
    InvalidRequestError
        Naming each variable whose value is wrong (see :meth:`Settings.from_env`).
    """
    global _cached
    key = tuple(sorted((k, v) for k, v in os.environ.items() if k.upper().startswith("SHUIAN_")))
    with _lock:
        if _cached is None or _cached[0] != key:
            _cached = (key, Settings.from_env())
        return _cached[1]
