"""Notifiers: the ways an alarm reaches a person (a webhook, e-mail over SMTP).

Every notifier derives from :class:`Notifier`: a ``name`` (unique among a site's notifiers; the
delivery log keys on it), the ``levels`` and ``states`` it sends, and ``send(event)``, which
either delivers the message or raises :class:`NotificationError` naming the notifier, the
server and the cause. Transport errors (httpx, smtplib, socket, ssl) are translated here and
never leave this module. Retries and de-duplication are the outbox's job, not a notifier's.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import functools
import logging
import smtplib
import ssl
import urllib.parse
import zoneinfo
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping

import httpx

from shuian.errors import NotificationError
from shuian.notify.message import (
    NOTIFIED_STATES,
    AlarmEvent,
    State,
    email_message,
    webhook_body,
)
from shuian.site.notifications import LEVELS, Level

logger = logging.getLogger(__name__)

DEFAULT_LEVELS: frozenset[Level] = frozenset({"warning", "alarm"})
"""The levels a notifier sends unless told otherwise."""

_USER_AGENT = "shuian-notify/0.1"
_ERROR_TEXT_MAX = 200


class Notifier(ABC):
    """A way to send an alarm event to people.

    Parameters
    ----------
    name : str
        Unique among the notifiers of a site: the delivery log keys on it.
    levels : iterable of str
        The levels this notifier sends; default warning and alarm.
    states : iterable of str
        The states this notifier sends; default raised and escalated.
    """

    def __init__(
        self,
        *,
        name: str,
        levels: Iterable[Level] = DEFAULT_LEVELS,
        states: Iterable[State] = NOTIFIED_STATES,
    ) -> None:
        self.name = name
        self.levels: frozenset[Level] = frozenset(levels)
        self.states: frozenset[State] = frozenset(states)
        unknown = self.levels - set(LEVELS)
        if unknown:
            raise ValueError(f"notifier {name!r}: unknown level(s) {sorted(unknown)}")

    def accepts(self, event: AlarmEvent) -> bool:
        """Whether this notifier sends ``event`` (its level and state are among those chosen)."""
        return event.level in self.levels and event.state in self.states

    @abstractmethod
    def send(self, event: AlarmEvent) -> None:
        """Deliver one message for ``event``.

        Raises
        ------
        NotificationError
            If the message was not accepted; the message names the notifier, server and cause.
        """

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, levels={sorted(self.levels)})"


class WebhookNotifier(Notifier):
    """POST the event as JSON (:func:`~shuian.notify.message.webhook_body`) to a URL.

    Any 2xx answer is a delivery; anything else (another status, a redirect, no answer in
    ``timeout_s``) is a :class:`NotificationError`. Error messages show the URL without its
    query string or password, which often hold the receiver's token.

    Parameters
    ----------
    url : str
        ``http://`` or ``https://`` URL of the receiver.
    timeout_s : float
        Seconds to wait for connect, send and answer, each.
    headers : mapping of str to str, optional
        Extra request headers (an ``Authorization`` token, say).
    name : str
        The notifier's name; default ``webhook``.
    levels, states
        As for :class:`Notifier`.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 5.0,
        headers: Mapping[str, str] | None = None,
        name: str = "webhook",
        levels: Iterable[Level] = DEFAULT_LEVELS,
        states: Iterable[State] = NOTIFIED_STATES,
    ) -> None:
        super().__init__(name=name, levels=levels, states=states)
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook {name!r}: URL {url!r} must start with http:// or https://")
        self.url = url
        self.timeout_s = timeout_s
        self.headers = {"User-Agent": _USER_AGENT, **(headers or {})}

    def send(self, event: AlarmEvent) -> None:
        """POST the event's JSON body; see the class docstring."""
        where = f"webhook {self.name!r} {_redact(self.url)}"
        try:
            response = httpx.post(
                self.url, json=webhook_body(event), headers=self.headers, timeout=self.timeout_s,
                verify=_tls_context(),
            )
        except httpx.HTTPError as exc:
            raise NotificationError(f"{where}: {_cause(exc)}") from exc
        if not response.is_success:
            text = " ".join(response.text.split())[:_ERROR_TEXT_MAX]
            raise NotificationError(
                f"{where} answered HTTP {response.status_code} {response.reason_phrase}"
                + (f": {text}" if text else "")
            )


class SmtpNotifier(Notifier):
    """Send the event as a plain-text e-mail (:func:`~shuian.notify.message.email_message`).

    One SMTP connection per message: EHLO, STARTTLS if asked, LOGIN if a user name is given,
    then the message. A message that some but not all recipients refused counts as delivered
    (a retry would send it again to those who have it); the refused addresses are logged.

    Parameters
    ----------
    host, port : str, int
        The SMTP server (submission on 587 with ``starttls=True``, or a relay on 25).
    sender : str
        The ``From`` and envelope sender address.
    recipients : list of str
        The ``To`` addresses.
    timezone : str
        IANA zone of the site; times in the message are shown in it.
    username, password : str, optional
        Log in with these (after STARTTLS when ``starttls``).
    starttls : bool
        Upgrade the connection with STARTTLS (certificate checked against the system's CAs).
    timeout_s : float
        Seconds to wait on the server at each step.
    local_hostname : str, optional
        Name given in EHLO; default the machine's fully qualified name.
    name : str
        The notifier's name; default ``email``.
    levels, states
        As for :class:`Notifier`.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        recipients: Iterable[str],
        timezone: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout_s: float = 10.0,
        local_hostname: str | None = None,
        name: str = "email",
        levels: Iterable[Level] = DEFAULT_LEVELS,
        states: Iterable[State] = NOTIFIED_STATES,
    ) -> None:
        super().__init__(name=name, levels=levels, states=states)
        self.host = host
        self.port = port
        self.sender = sender
        self.recipients = tuple(recipients)
        if not self.recipients:
            raise ValueError(f"e-mail notifier {name!r}: give at least one recipient")
        if (username is None) != (password is None):
            raise ValueError(f"e-mail notifier {name!r}: give both username and password")
        self.timezone = timezone
        zoneinfo.ZoneInfo(timezone)  # an unknown zone fails now, not at the first alarm
        self.username = username
        self._password = password
        self.starttls = starttls
        self.timeout_s = timeout_s
        self.local_hostname = local_hostname

    def send(self, event: AlarmEvent) -> None:
        """Send the event's e-mail; see the class docstring."""
        message = email_message(
            event, sender=self.sender, recipients=self.recipients, timezone=self.timezone
        )
        message["Date"] = email.utils.format_datetime(dt.datetime.now(dt.UTC))
        where = f"e-mail {self.name!r} via SMTP server {self.host}:{self.port}"
        try:
            with smtplib.SMTP(
                self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout_s
            ) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username is not None and self._password is not None:
                    smtp.login(self.username, self._password)
                refused = smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            raise NotificationError(f"{where}: {_cause(exc)}") from exc
        if refused:
            logger.warning(
                "%s: alarm %s delivered, but the server refused %s",
                where,
                event.alarm_id,
                _refused(refused),
            )

    def __repr__(self) -> str:
        return (
            f"SmtpNotifier(name={self.name!r}, server={self.host}:{self.port}, "
            f"recipients={list(self.recipients)}, levels={sorted(self.levels)})"
        )


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The system's CAs, loaded once: loading them takes about 0.1 s, longer than a send."""
    return ssl.create_default_context()


def _redact(url: str) -> str:
    """The URL without its query, fragment or password: safe to show in a log."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port is not None:
        netloc += f":{parts.port}"
    query = "?…" if parts.query else ""
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", "")) + query


def _smtp_reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {text}"


def _refused(refused: Mapping[str, tuple[int, bytes]]) -> str:
    return ", ".join(f"{address} ({_smtp_reply(*reply)})" for address, reply in refused.items())


def _cause(exc: BaseException) -> str:
    """Say what went wrong in one line: the exception's type and message, or the SMTP reply."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return f"every recipient was refused: {_refused(exc.recipients)}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"the server answered {_smtp_reply(exc.smtp_code, exc.smtp_error)}"
    text = str(exc) or "no detail"
    return f"{type(exc).__name__}: {text}"
