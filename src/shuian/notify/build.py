"""The notifiers a site's ``notifications:`` section describes (:func:`build_notifiers`).

The section itself is :class:`shuian.site.notifications.NotificationSettings`; the password of
the SMTP account is read from the environment here, when the notifiers are built, so a site
file can be shared and committed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from shuian.errors import NotificationError
from shuian.notify.channels import (
    Notifier,
    SmtpNotifier,
    WebhookNotifier,
)
from shuian.site.notifications import NotificationSettings


def build_notifiers(
    settings: NotificationSettings,
    timezone: str,
    *,
    environ: Mapping[str, str] | None = None,
) -> list[Notifier]:
    """The notifiers a site's settings describe, each sending only its levels.

    Parameters
    ----------
    settings : NotificationSettings
        The site file's ``notifications:`` section.
    timezone : str
        IANA zone of the site, for times in e-mails.
    environ : mapping, optional
        Where ``password_env`` is looked up; default ``os.environ``.

    Returns
    -------
    list of Notifier
        The webhooks in file order, then the e-mail notifier.

    Raises
    ------
    NotificationError
        If ``password_env`` names a variable that is not set.
    """
    env = os.environ if environ is None else environ
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
            password = env.get(mail.password_env)
            if password is None:
                raise NotificationError(
                    f"notifications.email.password_env: the environment variable "
                    f"{mail.password_env} is not set; set it to the password of SMTP user "
                    f"{mail.username!r} on {mail.host}:{mail.port} before starting Shuian"
                )
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
