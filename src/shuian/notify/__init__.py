"""Notifications for alarms: a webhook and e-mail, once per alarm state, retried, logged.

The alarm engine hands :class:`AlarmEvent` objects to a :class:`Dispatcher`, which sends each
through every :class:`Notifier` that takes its level, skips what the :class:`DeliveryLog` says was
sent (:func:`dedupe_key`), retries failures with a back-off and records every attempt. The site
file's ``notifications:`` section (:class:`NotificationSettings`) says which notifiers exist
(:func:`build_notifiers`).
"""

from shuian.errors import NotificationError
from shuian.notify.channels import (
    DEFAULT_LEVELS,
    Notifier,
    SmtpNotifier,
    WebhookNotifier,
)
from shuian.notify.dispatch import (
    Delivery,
    DeliveryAttempt,
    DeliveryLog,
    Dispatcher,
    MemoryDeliveryLog,
    Outcome,
)
from shuian.notify.message import (
    LEVELS,
    NOTIFIED_STATES,
    AlarmEvent,
    Level,
    Rule,
    State,
    dedupe_key,
    email_message,
    email_subject,
    webhook_body,
)
from shuian.notify.settings import (
    EmailSettings,
    NotificationSettings,
    WebhookSettings,
    build_notifiers,
)

__all__ = [
    "DEFAULT_LEVELS",
    "LEVELS",
    "NOTIFIED_STATES",
    "AlarmEvent",
    "Delivery",
    "DeliveryAttempt",
    "DeliveryLog",
    "Dispatcher",
    "EmailSettings",
    "Level",
    "MemoryDeliveryLog",
    "NotificationError",
    "NotificationSettings",
    "Notifier",
    "Outcome",
    "Rule",
    "SmtpNotifier",
    "State",
    "WebhookNotifier",
    "WebhookSettings",
    "build_notifiers",
    "dedupe_key",
    "email_message",
    "email_subject",
    "webhook_body",
]
