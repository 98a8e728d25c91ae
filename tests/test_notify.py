"""Alarm notifications: a real SMTP server and a real HTTP receiver, each on 127.0.0.1.

Specification: a raised alarm reaches every notifier once; the same alarm state is never sent
twice; an escalation is a new message; failures are retried with a back-off (the sleep is
injected, so nothing waits) and every attempt is logged; one failing notifier never stops
another; each notifier sends only its levels.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from pydantic import ValidationError

from conftest import Receiver
from shuian.errors import ShuianError
from shuian.notify import (
    AlarmEvent,
    Dispatcher,
    MemoryDeliveryLog,
    NotificationError,
    NotificationSettings,
    Notifier,
    SmtpNotifier,
    WebhookNotifier,
    build_notifiers,
    dedupe_key,
    email_message,
    webhook_body,
)

TZ = "Asia/Shanghai"
T0_US = 1_721_865_600_000_000  # 2024-07-25T00:00:00Z = 08:00 in Shanghai

RAISED = AlarmEvent(
    alarm_id=42,
    site="shimenzi",
    site_name="Shimenzi",
    channel="PL1.R",
    instrument="PL1",
    rule="envelope",
    level="warning",
    state="raised",
    time_us=T0_US,
    value=24.3,
    unit="mm",
    message="PL1.R 24.3 mm is 2.4 sigma above the HST prediction 19.1 mm",
    synthetic=True,
)
ESCALATED = replace(
    RAISED,
    level="alarm",
    state="escalated",
    time_us=T0_US + 3_600_000_000,
    value=25.6,
    message="PL1.R 25.6 mm is 3.4 sigma above the HST prediction 19.1 mm",
)

RAISED_KEY = f"42:raised:warning:{T0_US}"
ESCALATED_KEY = f"42:escalated:alarm:{T0_US + 3_600_000_000}"


# --- a real SMTP server ---------------------------------------------------------------------


class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextmanager
def smtp_server(box: Mailbox, **options: Any) -> Iterator[int]:
    """Run an aiosmtpd server delivering to ``box`` on 127.0.0.1; yield its port."""
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    with smtp_server(box) as port:
        yield box, port


def smtp(port: int, **kwargs: Any) -> SmtpNotifier:
    return SmtpNotifier(
        "127.0.0.1",
        port,
        sender="shuian@shimenzi.example",
        recipients=["dam-safety@shimenzi.example", "duty@shimenzi.example"],
        timezone=TZ,
        local_hostname="localhost",
        **kwargs,
    )


class NoSleep:
    """The injected sleep: remembers the pauses asked for, waits for none."""

    def __init__(self) -> None:
        self.pauses: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.pauses.append(seconds)


def dispatcher(notifiers: list[Notifier], log: MemoryDeliveryLog, sleep: NoSleep) -> Dispatcher:
    return Dispatcher(notifiers, log, attempts=3, backoff_s=(1, 5, 30), sleep=sleep)


# --- delivery -------------------------------------------------------------------------------


def test_a_raised_alarm_is_delivered_once_by_webhook_and_email(
    receiver: Receiver, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    log = MemoryDeliveryLog()
    deliveries = dispatcher([WebhookNotifier(receiver.url), smtp(port)], log, NoSleep()).deliver(
        [RAISED]
    )

    assert [(d.notifier, d.outcome, d.attempts) for d in deliveries] == [
        ("webhook", "sent", 1),
        ("email", "sent", 1),
    ]
    assert [body["key"] for body in receiver.bodies] == [RAISED_KEY]
    assert len(box.messages) == 1
    assert box.envelopes[0].rcpt_tos == ["dam-safety@shimenzi.example", "duty@shimenzi.example"]
    assert [(a.key, a.notifier, a.attempt, a.ok, a.error) for a in log.attempts] == [
        (RAISED_KEY, "webhook", 1, True, None),
        (RAISED_KEY, "email", 1, True, None),
    ]


def test_the_same_alarm_state_is_never_sent_twice(
    receiver: Receiver, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    log = MemoryDeliveryLog()
    notify = dispatcher([WebhookNotifier(receiver.url), smtp(port)], log, NoSleep())
    notify.deliver([RAISED, RAISED])  # twice in one batch
    again = notify.deliver([RAISED])  # and again later

    assert [d.outcome for d in again] == ["already_sent", "already_sent"]
    assert len(receiver.bodies) == 1
    assert len(box.messages) == 1
    assert len(log.attempts) == 2


def test_an_escalation_is_a_new_message(receiver: Receiver, mailbox: tuple[Mailbox, int]) -> None:
    box, port = mailbox
    notify = dispatcher([WebhookNotifier(receiver.url), smtp(port)], MemoryDeliveryLog(), NoSleep())
    notify.deliver([RAISED])
    notify.deliver([RAISED, ESCALATED])

    assert [body["key"] for body in receiver.bodies] == [RAISED_KEY, ESCALATED_KEY]
    assert [m["Subject"] for m in box.messages] == [
        "[Shuian WARNING] [SYNTHETIC DATA] Shimenzi PL1.R: "
        "24.3 mm is 2.4 sigma above the HST prediction 19.1 mm",
        "[Shuian ALARM] [SYNTHETIC DATA] Shimenzi PL1.R escalated: "
        "25.6 mm is 3.4 sigma above the HST prediction 19.1 mm",
    ]
    # one thread per alarm in a mail client, one Message-ID per alarm state
    assert box.messages[0]["References"] == box.messages[1]["References"]
    assert box.messages[0]["Message-ID"] != box.messages[1]["Message-ID"]


def test_a_webhook_failing_twice_is_delivered_at_the_third_attempt(receiver: Receiver) -> None:
    receiver.fail_first = 2
    log = MemoryDeliveryLog()
    sleep = NoSleep()
    [delivery] = dispatcher([WebhookNotifier(receiver.url)], log, sleep).deliver([RAISED])

    assert (delivery.outcome, delivery.attempts, delivery.error) == ("sent", 3, None)
    assert receiver.requests == 3
    assert len(receiver.bodies) == 1
    assert [(a.attempt, a.ok) for a in log.attempts] == [(1, False), (2, False), (3, True)]
    assert sleep.pauses == [1, 5]
    failure = log.attempts[0].error
    assert failure is not None
    assert "HTTP 500" in failure
    assert "127.0.0.1" in failure and "/hooks/alarms" in failure
    assert "s3cret" not in failure  # the receiver's token stays out of the log


def test_a_message_that_exhausts_its_attempts_is_tried_again_at_the_next_delivery(
    receiver: Receiver,
) -> None:
    receiver.fail_first = 3
    log = MemoryDeliveryLog()
    notify = dispatcher([WebhookNotifier(receiver.url)], log, NoSleep())

    [first] = notify.deliver([RAISED])
    assert (first.outcome, first.attempts) == ("failed", 3)
    assert first.error is not None and "HTTP 500" in first.error
    assert not log.delivered(RAISED_KEY, "webhook")

    [second] = notify.deliver([RAISED])
    assert (second.outcome, second.attempts) == ("sent", 1)
    assert len(receiver.bodies) == 1
    assert [(a.attempt, a.ok) for a in log.attempts] == [
        (1, False),
        (2, False),
        (3, False),
        (1, True),
    ]


def test_a_refusing_smtp_server_is_logged_and_the_webhook_still_delivers(
    receiver: Receiver,
) -> None:
    port = free_port()  # nothing listens there: the connection is refused
    log = MemoryDeliveryLog()
    deliveries = dispatcher([smtp(port), WebhookNotifier(receiver.url)], log, NoSleep()).deliver(
        [RAISED]
    )

    outcomes = {d.notifier: d.outcome for d in deliveries}
    assert outcomes == {"email": "failed", "webhook": "sent"}
    assert len(receiver.bodies) == 1
    failures = [a for a in log.attempts if a.notifier == "email"]
    assert [(a.attempt, a.ok) for a in failures] == [(1, False), (2, False), (3, False)]
    for attempt in failures:
        assert attempt.error is not None
        assert f"127.0.0.1:{port}" in attempt.error
        assert "refused" in attempt.error.lower()


def test_each_notifier_sends_only_its_levels(
    receiver: Receiver, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    settings = NotificationSettings.model_validate(
        {
            "webhooks": [{"name": "duty-room", "url": receiver.url}],  # default: warning, alarm
            "email": {
                "host": "127.0.0.1",
                "port": port,
                "sender": "shuian@shimenzi.example",
                "recipients": ["dam-safety@shimenzi.example"],
                "levels": ["alarm"],
            },
        }
    )
    notifiers = build_notifiers(settings, TZ)
    attention = replace(RAISED, alarm_id=41, level="attention")
    log = MemoryDeliveryLog()
    deliveries = dispatcher(notifiers, log, NoSleep()).deliver([attention, RAISED, ESCALATED])

    assert [(d.key, d.notifier, d.outcome) for d in deliveries] == [
        (f"41:raised:attention:{T0_US}", "duty-room", "filtered"),
        (f"41:raised:attention:{T0_US}", "email", "filtered"),
        (RAISED_KEY, "duty-room", "sent"),
        (RAISED_KEY, "email", "filtered"),
        (ESCALATED_KEY, "duty-room", "sent"),
        (ESCALATED_KEY, "email", "sent"),
    ]
    assert [body["level"] for body in receiver.bodies] == ["warning", "alarm"]
    assert [m["X-Shuian-Alarm"] for m in box.messages] == [ESCALATED_KEY]
    assert len(log.attempts) == 3  # a filtered message is not an attempt


def test_acknowledged_and_cleared_states_are_not_sent_by_default(receiver: Receiver) -> None:
    acknowledged = replace(ESCALATED, state="acknowledged")
    cleared = replace(ESCALATED, state="cleared")
    deliveries = dispatcher(
        [WebhookNotifier(receiver.url)], MemoryDeliveryLog(), NoSleep()
    ).deliver([acknowledged, cleared])
    assert [d.outcome for d in deliveries] == ["filtered", "filtered"]
    assert receiver.bodies == []


def test_a_notifier_that_breaks_does_not_stop_the_others(receiver: Receiver) -> None:
    class Broken(Notifier):
        def send(self, event: AlarmEvent) -> None:
            raise RuntimeError("bug")

    log = MemoryDeliveryLog()
    notifiers: list[Notifier] = [Broken(name="broken"), WebhookNotifier(receiver.url)]
    deliveries = Dispatcher(notifiers, log, attempts=1, sleep=NoSleep()).deliver([RAISED])

    assert [d.outcome for d in deliveries] == ["failed", "sent"]
    assert deliveries[0].error == "unexpected RuntimeError in notifier 'broken': bug"


def test_notifier_names_must_be_distinct(receiver: Receiver) -> None:
    with pytest.raises(ValueError, match="distinct.*'webhook'"):
        Dispatcher(
            [WebhookNotifier(receiver.url), WebhookNotifier(receiver.url)], MemoryDeliveryLog()
        )


# --- what the messages say ------------------------------------------------------------------


def test_the_webhook_body_is_this_json(receiver: Receiver) -> None:
    dispatcher(
        [WebhookNotifier(receiver.url, headers={"X-Team": "dam-safety"})],
        MemoryDeliveryLog(),
        NoSleep(),
    ).deliver([RAISED])

    assert receiver.bodies == [
        {
            "type": "shuian.alarm",
            "key": RAISED_KEY,
            "alarm_id": 42,
            "site": "shimenzi",
            "site_name": "Shimenzi",
            "channel": "PL1.R",
            "instrument": "PL1",
            "rule": "envelope",
            "level": "warning",
            "state": "raised",
            "time": "2024-07-25T00:00:00Z",
            "time_us": T0_US,
            "value": 24.3,
            "unit": "mm",
            "message": "PL1.R 24.3 mm is 2.4 sigma above the HST prediction 19.1 mm",
            "synthetic": True,
        }
    ]
    assert receiver.headers[0]["Content-Type"] == "application/json"
    assert receiver.headers[0]["X-Team"] == "dam-safety"


def test_a_no_data_alarm_has_a_null_value() -> None:
    silent = replace(RAISED, rule="no_data", value=None, unit="", synthetic=False)
    body = webhook_body(silent)
    assert (body["value"], body["synthetic"]) == (None, False)
    assert json.loads(json.dumps(body)) == body


def test_the_email_says_synthetic_data_and_shows_the_site_time(
    mailbox: tuple[Mailbox, int],
) -> None:
    box, port = mailbox
    dispatcher([smtp(port)], MemoryDeliveryLog(), NoSleep()).deliver([ESCALATED])
    [message] = box.messages

    assert "SYNTHETIC DATA" in message["Subject"]
    assert message["From"] == "shuian@shimenzi.example"
    assert message["Date"] is not None
    body = message.get_content()
    assert "SYNTHETIC DATA" in body
    assert "合成数据" in body
    assert "2024-07-25 09:00:00 +08:00 (Asia/Shanghai)" in body  # 01:00 UTC in Shanghai
    assert "2024-07-25T01:00:00Z" in body
    assert "PL1.R 25.6 mm is 3.4 sigma above the HST prediction 19.1 mm" in body
    assert "25.6 mm" in body
    assert "报警" in body and "升级" in body  # the Chinese lines: level alarm, state escalated


def test_real_data_say_nothing_about_synthetic_data() -> None:
    real = replace(RAISED, synthetic=False)
    message = email_message(real, sender="a@b.example", recipients=["c@d.example"], timezone=TZ)
    assert message["Subject"] == (
        "[Shuian WARNING] Shimenzi PL1.R: 24.3 mm is 2.4 sigma above the HST prediction 19.1 mm"
    )
    assert "SYNTHETIC" not in message.get_content()
    assert dedupe_key(real) == RAISED_KEY


# --- settings -------------------------------------------------------------------------------


def email_section(**overrides: Any) -> dict[str, Any]:
    return {
        "email": {
            "host": "127.0.0.1",
            "sender": "shuian@shimenzi.example",
            "recipients": ["dam-safety@shimenzi.example"],
            **overrides,
        }
    }


def test_the_smtp_password_comes_from_the_environment_variable_named_in_the_file() -> None:
    box = Mailbox()
    logins: list[tuple[bytes, bytes]] = []

    def authenticate(
        server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=True)

    # LOGIN without TLS is fine on 127.0.0.1; aiosmtpd would refuse it unless told so
    with smtp_server(box, authenticator=authenticate, auth_require_tls=False) as port:
        settings = NotificationSettings.model_validate(
            email_section(port=port, username="shuian", password_env="SHUIAN_SMTP_PASSWORD")
        )
        [notifier] = build_notifiers(settings, TZ, environ={"SHUIAN_SMTP_PASSWORD": "pa55"})
        [delivery] = dispatcher([notifier], MemoryDeliveryLog(), NoSleep()).deliver([RAISED])

    assert delivery.outcome == "sent"
    assert logins == [(b"shuian", b"pa55")]
    assert len(box.messages) == 1
    assert "pa55" not in repr(notifier)


def test_a_missing_password_variable_is_named() -> None:
    settings = NotificationSettings.model_validate(
        email_section(username="shuian", password_env="SHUIAN_SMTP_PASSWORD")
    )
    with pytest.raises(NotificationError, match="SHUIAN_SMTP_PASSWORD is not set") as caught:
        build_notifiers(settings, TZ, environ={})
    assert isinstance(caught.value, ShuianError)


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        (email_section(password="pa55"), "Extra inputs are not permitted"),
        (email_section(username="shuian"), "username and password_env together"),
        (email_section(recipients=["duty room"]), "not an e-mail address: 'duty room'"),
        (email_section(levels=["panic"]), "'attention', 'warning' or 'alarm'"),
        ({"webhooks": [{"name": "a", "url": "ftp://x"}]}, "should match pattern"),
        (
            {"webhooks": [{"name": "email", "url": "http://x"}], **email_section()},
            "distinct; used more than once: ['email']",
        ),
    ],
)
def test_invalid_settings_say_what_is_wrong(section: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        NotificationSettings.model_validate(section)
    assert problem in str(caught.value)


def test_settings_default_to_warning_and_alarm() -> None:
    settings = NotificationSettings.model_validate(
        {"webhooks": [{"name": "duty-room", "url": "https://ops.example/hook"}], **email_section()}
    )
    assert [sorted(n.levels) for n in build_notifiers(settings, TZ)] == [
        ["alarm", "warning"],
        ["alarm", "warning"],
    ]


def test_the_package_exports_every_public_name_of_its_modules() -> None:
    import shuian.notify as notify
    from shuian.notify import channels, dispatch, message, settings

    public = {
        name
        for module in (channels, dispatch, message, settings)
        for name, value in vars(module).items()
        if not name.startswith("_")
        and getattr(value, "__module__", module.__name__) == module.__name__
        and name not in {"annotations", "logger"}
        and not isinstance(value, type(notify))
    }
    assert public <= set(notify.__all__)
    assert all(hasattr(notify, name) for name in notify.__all__)
