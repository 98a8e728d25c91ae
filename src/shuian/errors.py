"""Shuian's one exception tree.

Every error a user can cause derives from :class:`ShuianError` and carries a message that says
what was wrong, where (file, line, key path, object) and how to fix it. Driver errors (sqlite3,
psycopg, SQLAlchemy) are translated at the store boundary into :class:`StoreError`.

::

    ShuianError
    ├── SiteError              a site file that cannot be loaded (all problems listed at once)
    ├── ConversionError        a calibration that cannot convert a raw reading
    ├── InputFileError         a data file whose structure cannot be read (TOA5 header, CSV header)
    │   └── Sl651Error         an SL 651 telemetry frame that cannot be read (names the byte)
    ├── NotFoundError          a channel, instrument or site that does not exist   (HTTP 404)
    ├── InvalidRequestError    a request whose parameters are wrong                (HTTP 400)
    │   └── TooLargeError      a request larger than a limit allows: names the limit (HTTP 413)
    ├── NotificationError      a webhook or mail server did not take a message     (HTTP 502)
    ├── MqttError              an MQTT source cannot be set up (password variable missing)
    ├── AuthenticationError    no credentials, or wrong or expired ones            (HTTP 401)
    │   └── TooManyAttemptsError  too many failed logins: wait ``retry_after_s``   (HTTP 429)
    ├── PermissionDeniedError  authenticated, but the role or scope does not allow it (HTTP 403)
    └── StoreError             the database refused an operation or cannot be reached
        ├── StoreUnavailableError  the database is away (connection, lock, disk): retry later
        ├── StoreRefusedError  the database refused the data themselves: retrying cannot help
        └── NoSiteError        the store holds no site yet: run ``shuian init`` or ``shuian demo``

The HTTP status of each class is on the class (``status``); the API turns every ``ShuianError``
into one JSON shape ``{"error": {"type", "message", "status"}}``.

An error whose message is one of the catalogue's sentences is raised with a
:class:`shuian.i18n.Message` (``NotFoundError(Message.of("error.no_alarm", id=7))``): its
``message`` is the English text, its ``sentence`` renders it in the reader's language.
"""

from __future__ import annotations

from typing import Literal, Protocol


class Sentence(Protocol):
    """A sentence of the catalogue (:class:`shuian.i18n.Message`): English by ``str()``."""

    @property
    def key(self) -> str:
        """The catalogue key."""
        ...

    def render(self, lang: Literal["en", "zh"]) -> str:  # pragma: no cover - a protocol
        """The sentence in a language of the catalogue (``"en"``, ``"zh"``)."""
        ...


class ShuianError(Exception):
    """Base of every error Shuian raises on purpose; the message is meant for the user.

    ``message`` is a plain string, or a :class:`Sentence` of the catalogue, kept as
    ``sentence`` (None for a plain string) so that the API answers in the reader's language.
    """

    status: int = 500

    def __init__(self, message: str | Sentence) -> None:
        self.sentence: Sentence | None = None if isinstance(message, str) else message
        text = str(message)
        super().__init__(text)
        self.message = text

    def text(self, lang: Literal["en", "zh"]) -> str:
        """The message in ``lang`` (``"en"``, ``"zh"``); a plain string stays as it is."""
        return self.message if self.sentence is None else self.sentence.render(lang)

    def __str__(self) -> str:
        return self.message


class SiteError(ShuianError):
    """A site file is invalid; ``problems`` lists every problem as ``file: key.path: message``."""

    status = 422

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s) in the site file:\n{lines}")


class ConversionError(ShuianError):
    """A raw reading cannot be converted with the channel's calibration."""

    status = 422


class InputFileError(ShuianError):
    """A data file's structure (header, columns) cannot be read; names the file and line."""

    status = 422


class Sl651Error(InputFileError):
    """A telemetry frame whose structure cannot be read; ``offset`` is the byte of the problem."""

    def __init__(self, offset: int, problem: str) -> None:
        self.offset = offset
        self.problem = problem
        super().__init__(f"SL 651 frame, offset {offset}: {problem}")


class NotFoundError(ShuianError):
    """A named object (channel, instrument, site) does not exist."""

    status = 404


class InvalidRequestError(ShuianError):
    """A request or command-line parameter is wrong."""

    status = 400


class TooLargeError(InvalidRequestError):
    """A request larger than a limit allows (HTTP 413); the message names the limit."""

    status = 413


class NotificationError(ShuianError):
    """A notifier could not deliver a message; names the notifier, the server and the cause."""

    status = 502


class AuthenticationError(ShuianError):
    """No credentials came with a request that needs them, or they are wrong or expired."""

    status = 401


class TooManyAttemptsError(AuthenticationError):
    """Too many failed logins for a user from one address; ``retry_after_s`` says how long."""

    status = 429

    def __init__(self, message: str | Sentence, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class PermissionDeniedError(ShuianError):
    """The user's role (or the API key's scopes) does not allow the operation."""

    status = 403


class MqttError(ShuianError):
    """An MQTT source cannot be set up (e.g. its password variable is not set)."""

    status = 500


class StoreError(ShuianError):
    """The database cannot be reached, or refused an operation."""

    status = 503


class StoreUnavailableError(StoreError):
    """The database cannot be reached or cannot take the work now (connection, lock, disk).

    The one failure that is the system's and not the input's: a source leaves its messages for
    redelivery and does not acknowledge them (see :mod:`shuian.faults`).
    """

    status = 503


class StoreRefusedError(StoreError):
    """The database refused the data themselves (too long, out of range, a NUL character).

    Retrying the same data cannot help: a source keeps them as a rejection and goes on.
    """

    status = 422


class NoSiteError(StoreError):
    """The store holds no site yet."""

    status = 409

    def __init__(self, url: str) -> None:
        super().__init__(
            f"the database {url} holds no site yet: run 'shuian init --site FILE' "
            "or 'shuian demo' first"
        )
