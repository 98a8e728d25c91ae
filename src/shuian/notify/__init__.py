"""Notifications for alarms: a webhook and e-mail, once per alarm state, retried, logged.

The analysis turns each alarm step into an :class:`AlarmEvent` and keeps one message per event
and :class:`Notifier` that takes its level (:func:`addressed`) in the store's outbox, keyed by
:func:`dedupe_key`; it never sends. A delivery loop (:mod:`shuian.services.outbox`) sends them
(:func:`send_once`), tries failures again as a :class:`RetryPolicy` says, and logs every
attempt. The site file's ``notifications:`` section
(:class:`shuian.site.notifications.NotificationSettings`) says which notifiers exist
(:func:`build_notifiers`).
"""

from shuian.errors import NotificationError
from shuian.notify.build import build_notifiers
from shuian.notify.channels import (
    DEFAULT_LEVELS,
    Notifier,
    SmtpNotifier,
    WebhookNotifier,
)
from shuian.notify.dispatch import (
    Delivery,
    Outcome,
    RetryPolicy,
    addressed,
    distinct_names,
    send_once,
)
from shuian.notify.message import (
    NOTIFIED_STATES,
    AlarmEvent,
    Rule,
    State,
    dedupe_key,
    email_message,
    email_subject,
    webhook_body,
)
from shuian.site.notifications import LEVELS, Level

__all__ = [
    "DEFAULT_LEVELS",
    "LEVELS",
    "NOTIFIED_STATES",
    "AlarmEvent",
    "Delivery",
    "Level",
    "NotificationError",
    "Notifier",
    "Outcome",
    "RetryPolicy",
    "Rule",
    "SmtpNotifier",
    "State",
    "WebhookNotifier",
    "addressed",
    "build_notifiers",
    "dedupe_key",
    "distinct_names",
    "email_message",
    "email_subject",
    "send_once",
    "webhook_body",
]
