"""The site file's ``notifications:`` section, and the notifiers it describes.

::

    notifications:
      webhooks:
        - name: duty-room                 # unique; the delivery log keys on it
          url: https://ops.example.org/shuian/alarms
          levels: [warning, alarm]        # default
          headers: {X-Team: dam-safety}
      email:
        host: smtp.example.org
        port: 587
        starttls: true
        sender: shuian@example.org
        recipients: [dam-safety@example.org]
        username: shuian
        password_env: SHUIAN_SMTP_PASSWORD  # the variable's name, never the password
        levels: [alarm]

The password of the SMTP account is read from the environment when the notifiers are built
(:func:`build_notifiers`), so a site file can be shared and committed: the variable
``SHUIAN_SMTP_PASSWORD`` is the process settings' (:class:`shuian.settings.Settings`), any
other name the site file gives is read as it is.
"""

from __future__ import annotations

import re
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shuian.errors import NotificationError
from shuian.notify.channels import (
    Notifier,
    SmtpNotifier,
    WebhookNotifier,
)
from shuian.notify.message import Level
from shuian.settings import Settings
from shuian.settings import settings as process_settings

_NAME = r"^[A-Za-z0-9_.-]+$"
_NAME_MAX = 64  # the outbox and the deliveries log keep the name in 64 characters
_ADDRESS = r"^[^@\s<>,]+@[^@\s<>,]+$"
_DEFAULT_LEVELS: tuple[Level, ...] = ("warning", "alarm")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WebhookSettings(_Strict):
    """One webhook: an HTTP(S) URL that receives each alarm as a JSON POST."""

    name: str = Field(
        pattern=_NAME, max_length=_NAME_MAX, description="unique among the site's notifiers"
    )
    url: str = Field(pattern=r"^https?://\S+$", description="http:// or https:// URL")
    levels: tuple[Level, ...] = Field(default=_DEFAULT_LEVELS, min_length=1)
    headers: dict[str, str] = Field(default_factory=dict, description="extra request headers")
    timeout_s: float = Field(default=5.0, gt=0)


class EmailSettings(_Strict):
    """E-mail over SMTP to a list of recipients."""

    name: str = Field(default="email", pattern=_NAME, max_length=_NAME_MAX)
    host: str = Field(min_length=1)
    port: int = Field(default=25, ge=1, le=65535)
    sender: str = Field(pattern=_ADDRESS)
    recipients: tuple[str, ...] = Field(min_length=1)
    starttls: bool = False
    username: str | None = None
    password_env: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="name of the environment variable holding the SMTP password",
    )
    levels: tuple[Level, ...] = Field(default=_DEFAULT_LEVELS, min_length=1)
    timeout_s: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _check(self) -> Self:
        bad = [r for r in self.recipients if not re.fullmatch(_ADDRESS, r)]
        if bad:
            raise ValueError(f"recipients: not an e-mail address: {', '.join(map(repr, bad))}")
        if (self.username is None) != (self.password_env is None):
            raise ValueError(
                "give username and password_env together (password_env names the environment "
                "variable that holds the password), or neither"
            )
        return self


class NotificationSettings(_Strict):
    """The ``notifications:`` section: any number of webhooks and at most one e-mail list."""

    webhooks: tuple[WebhookSettings, ...] = ()
    email: EmailSettings | None = None

    @model_validator(mode="after")
    def _distinct_names(self) -> Self:
        names = [w.name for w in self.webhooks] + ([self.email.name] if self.email else [])
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"notifier names must be distinct; used more than once: {twice}")
        return self


def build_notifiers(
    settings: NotificationSettings,
    timezone: str,
    *,
    secrets: Settings | None = None,
) -> list[Notifier]:
    """The notifiers a site's settings describe, each sending only its levels.

    Parameters
    ----------
    settings : NotificationSettings
        The site file's ``notifications:`` section.
    timezone : str
        IANA zone of the site, for times in e-mails.
    secrets : Settings, optional
        Where ``password_env`` is looked up (:meth:`Settings.secret`); default the process's
        settings and environment (:func:`shuian.settings.settings`).

    Returns
    -------
    list of Notifier
        The webhooks in file order, then the e-mail notifier.

    Raises
    ------
    NotificationError
        If ``password_env`` names a variable that is not set.
    """
    notifiers: list[Notifier] = [
        WebhookNotifier(
            w.url, timeout_s=w.timeout_s, headers=w.headers, name=w.name, levels=w.levels
        )
        for w in settings.webhooks
    ]
    mail = settings.email
    if mail is not None:
        password = None
        if mail.password_env is not None:
            secret = (process_settings() if secrets is None else secrets).secret(mail.password_env)
            if secret is None:
                raise NotificationError(
                    f"notifications.email.password_env: the environment variable "
                    f"{mail.password_env} is not set; set it to the password of SMTP user "
                    f"{mail.username!r} on {mail.host}:{mail.port} before starting Shuian"
                )
            password = secret.get_secret_value()
        notifiers.append(
            SmtpNotifier(
                mail.host,
                mail.port,
                sender=mail.sender,
                recipients=mail.recipients,
                timezone=timezone,
                username=mail.username,
                password=password,
                starttls=mail.starttls,
                timeout_s=mail.timeout_s,
                name=mail.name,
                levels=mail.levels,
            )
        )
    return notifiers
