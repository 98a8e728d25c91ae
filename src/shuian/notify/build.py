"""The notifiers a site's ``notifications:`` section describes (:func:`build_notifiers`).

The section itself is :class:`shuian.site.notifications.NotificationSettings`; the password of
the SMTP account is read here, when the notifiers are built, so a site file can be shared and
committed: the variable ``SHUIAN_SMTP_PASSWORD`` is the process settings'
(:class:`shuian.settings.Settings`), any other name the site file gives is read as it is.
"""

from __future__ import annotations

from shuian.errors import NotificationError
from shuian.notify.channels import (
    Notifier,
    SmtpNotifier,
    WebhookNotifier,
)
from shuian.settings import Settings
from shuian.settings import settings as process_settings
from shuian.site.notifications import NotificationSettings


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
